//! The changelist: interest changes coalesced per fd until the next dispatch (libevent's evmap.c),
//! a container the caller empties into [`Backend::apply`] (or has [`Changelist::flush`] do it).
//!
//! Between two dispatches a program may add and delete the same interest several times; a
//! changelist backend (kqueue always, epoll on request) then makes one kernel call per fd instead of
//! one per change. The rules, libevent's:
//!
//! - the first change to an fd in a batch creates its entry and records the interest the backend
//!   has for it then (`old`); later changes in the batch reuse the entry and keep that `old`;
//! - an add replaces a pending delete, and is not a no-op even when the bit was in `old`: the fd may
//!   have been closed and reopened since, and the backend must be told again;
//! - a delete of a bit that was not in `old` cancels the pending add (the change becomes empty);
//!   otherwise it becomes a delete;
//! - the entry is found in O(1) through the fd's [`FdInfo`] word, which holds its index plus one.
//!
//! Clearing after a dispatch is O(1): an index is trusted only if it is below the current length
//! and the entry there is for the same fd, so stale indices need no reset. The caller keeps each
//! fd's word for as long as the fd may have an entry (the base keeps it in its fd map).

use crate::backend::{Backend, Change, ChangeOp, FdInfo};
use crate::storage::Storage;
use crate::{Error, What};

/// Interest changes waiting for the next dispatch, in storage the caller supplies.
#[derive(Debug)]
pub struct Changelist<S> {
    storage: S,
    len: usize,
}

impl<S: Storage<Change>> Changelist<S> {
    /// An empty changelist over `storage`.
    pub fn new(storage: S) -> Self {
        Changelist { storage, len: 0 }
    }

    /// The pending changes, at most one per fd.
    pub fn changes(&self) -> &[Change] {
        &self.storage.as_slice()[..self.len]
    }

    /// Whether nothing is pending. O(1).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every pending change. O(1).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Hands the pending changes to `backend` ([`Backend::apply`]) and clears them, as a base does
    /// before each dispatch; does nothing, in a compare, when none is pending. The changes are
    /// cleared whatever `apply` returns (it tries them all), and its first error comes back.
    #[inline]
    pub fn flush<B: Backend>(&mut self, backend: &mut B) -> Result<(), Error> {
        if self.len == 0 {
            return Ok(());
        }
        self.flush_pending(backend)
    }

    /// [`flush`](Self::flush) with something pending: out of line, so the empty check inlines
    /// without the cost of saving what the apply needs.
    #[cold]
    #[inline(never)]
    fn flush_pending<B: Backend>(&mut self, backend: &mut B) -> Result<(), Error> {
        let r = backend.apply(self.changes());
        self.len = 0;
        r
    }

    /// Records `change`, one fd's, coalescing it with the fd's pending change by the rules above.
    /// When the fd has no entry yet and the storage cannot grow, nothing changes and `change`
    /// comes back: apply the batch and clear it, then record it again.
    #[inline]
    pub fn record(&mut self, change: Change, fdinfo: &mut FdInfo) -> Result<(), Change> {
        let (len, idx) = (self.len, (fdinfo.0 as usize).wrapping_sub(1));
        let entries = self.storage.as_mut_slice();
        if len >= entries.len() {
            return self.record_full(change, fdinfo);
        }
        match entries[..len].get_mut(idx) {
            Some(entry) if entry.fd == change.fd => merge(entry, &change),
            _ => {
                entries[len] = fresh(&change);
                self.len = len + 1;
                fdinfo.0 = (len + 1) as u32;
            }
        }
        Ok(())
    }

    /// [`record`](Self::record) when every entry of the storage is in use: out of line, since
    /// it may ask the storage to grow.
    #[cold]
    #[inline(never)]
    fn record_full(&mut self, change: Change, fdinfo: &mut FdInfo) -> Result<(), Change> {
        let (len, idx) = (self.len, (fdinfo.0 as usize).wrapping_sub(1));
        let entries = self.storage.as_mut_slice();
        let live = len.min(entries.len());
        if let Some(entry) = entries[..live].get_mut(idx).filter(|e| e.fd == change.fd) {
            merge(entry, &change);
            return Ok(());
        }
        if !self.storage.grow(len + 1, Change::default()) {
            return Err(change);
        }
        let Some(entry) = self.storage.as_mut_slice().get_mut(len) else {
            return Err(change);
        };
        *entry = fresh(&change);
        self.len = len + 1;
        fdinfo.0 = (len + 1) as u32;
        Ok(())
    }
}

/// The entry for an fd's first change in a batch: `change` with the interest it had (`old`),
/// merged into nothing.
#[inline(always)]
fn fresh(change: &Change) -> Change {
    let mut entry = Change {
        fd: change.fd,
        old: change.old & What::IO,
        ..Change::default()
    };
    merge(&mut entry, change);
    entry
}

/// Coalesces `change` into the fd's `entry` by the rules above.
#[inline(always)]
fn merge(entry: &mut Change, change: &Change) {
    let old = entry.old.bits();
    for (slot, op, bit) in [
        (&mut entry.read, change.read, What::READ),
        (&mut entry.write, change.write, What::WRITE),
        (&mut entry.closed, change.closed, What::CLOSED),
    ] {
        if op.contains(ChangeOp::ADD) {
            *slot = op;
        } else if op.contains(ChangeOp::DEL) {
            *slot = if old & bit.bits() != 0 {
                op
            } else {
                ChangeOp::empty()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Info, RawFd, Resource, Sink};
    use core::time::Duration;
    use std::vec::Vec;

    type Fixed = heapless::Vec<Change, 4>;

    fn list() -> Changelist<Fixed> {
        Changelist::new(Fixed::new())
    }

    /// Keeps the batches `apply` is given and fails each with `fail` (pure logic: no kernel).
    struct Batches {
        got: Vec<Vec<Change>>,
        fail: Option<Error>,
    }

    impl Backend for Batches {
        fn info(&self) -> Info {
            Info {
                name: "batches",
                features: crate::Features::empty(),
                need_reinit: false,
                fdinfo_len: 4,
                changelist: true,
            }
        }
        fn add(&mut self, _: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
            unreachable!("a changelist backend gets batches")
        }
        fn del(&mut self, _: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
            unreachable!("a changelist backend gets batches")
        }
        fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
            self.got.push(changes.to_vec());
            self.fail.map_or(Ok(()), Err)
        }
        fn dispatch<S: Sink>(&mut self, _: Option<Duration>, _: &mut S) -> Result<usize, Error> {
            Ok(0)
        }
    }

    #[test]
    fn flush_hands_over_the_batch_once_and_its_error() {
        let mut cl = list();
        let mut be = Batches {
            got: Vec::new(),
            fail: None,
        };
        cl.flush(&mut be).unwrap();
        assert!(be.got.is_empty(), "nothing pending: apply is not called");

        let (mut a, mut b) = (FdInfo::default(), FdInfo::default());
        cl.record(Change::add(3, What::empty(), What::READ), &mut a)
            .unwrap();
        cl.record(Change::add(4, What::empty(), What::WRITE), &mut b)
            .unwrap();
        cl.flush(&mut be).unwrap();
        assert_eq!(be.got.len(), 1);
        assert_eq!(be.got[0].len(), 2);
        assert!(cl.is_empty());
        cl.flush(&mut be).unwrap();
        assert_eq!(be.got.len(), 1, "a batch is applied once");

        let full = Error::Full(Resource::Changelist);
        be.fail = Some(full);
        cl.record(Change::del(3, What::READ, What::READ), &mut a)
            .unwrap();
        assert_eq!(cl.flush(&mut be), Err(full));
        assert_eq!(be.got.len(), 2);
        assert!(cl.is_empty(), "cleared whatever apply returns");
    }

    #[test]
    fn two_adds_make_one_entry() {
        let mut cl = list();
        let mut info = FdInfo::default();
        cl.record(Change::add(5, What::empty(), What::READ), &mut info)
            .unwrap();
        cl.record(Change::add(5, What::READ, What::WRITE), &mut info)
            .unwrap();
        assert_eq!(cl.changes().len(), 1);
        let c = cl.changes()[0];
        assert_eq!(c.old, What::empty());
        assert_eq!(c.new_interest(), What::READ | What::WRITE);
        assert_eq!(info, FdInfo(1));
    }

    #[test]
    fn delete_cancels_an_unapplied_add() {
        let mut cl = list();
        let mut info = FdInfo::default();
        cl.record(
            Change::add(3, What::empty(), What::READ | What::ET),
            &mut info,
        )
        .unwrap();
        cl.record(Change::del(3, What::READ, What::READ), &mut info)
            .unwrap();
        assert!(cl.changes()[0].is_noop());
    }

    #[test]
    fn add_replaces_a_pending_delete_and_is_not_a_noop() {
        let mut cl = list();
        let mut info = FdInfo::default();
        cl.record(Change::del(3, What::READ, What::READ), &mut info)
            .unwrap();
        assert_eq!(cl.changes()[0].read, ChangeOp::DEL);
        cl.record(Change::add(3, What::empty(), What::READ), &mut info)
            .unwrap();
        let c = cl.changes()[0];
        assert_eq!(c.read, ChangeOp::ADD);
        assert!(!c.is_noop());
        assert_eq!(c.new_interest(), What::READ);
    }

    #[test]
    fn old_is_kept_from_the_first_change() {
        let mut cl = list();
        let mut info = FdInfo::default();
        cl.record(Change::add(3, What::WRITE, What::READ), &mut info)
            .unwrap();
        cl.record(
            Change::del(3, What::READ | What::WRITE, What::WRITE),
            &mut info,
        )
        .unwrap();
        let c = cl.changes()[0];
        assert_eq!(c.old, What::WRITE);
        assert_eq!(c.write, ChangeOp::DEL);
        assert_eq!(c.new_interest(), What::READ);
    }

    #[test]
    fn stale_index_after_clear_is_not_trusted() {
        let mut cl = list();
        let (mut a, mut b) = (FdInfo::default(), FdInfo::default());
        cl.record(Change::add(1, What::empty(), What::READ), &mut a)
            .unwrap();
        cl.clear();
        cl.record(Change::add(2, What::empty(), What::WRITE), &mut b)
            .unwrap();
        // fd 1's word still says index 0, which now holds fd 2.
        cl.record(Change::add(1, What::READ, What::WRITE), &mut a)
            .unwrap();
        assert_eq!(cl.changes().len(), 2);
        assert_eq!(cl.changes()[0].new_interest(), What::WRITE);
        assert_eq!(cl.changes()[1].old, What::READ);
    }

    #[test]
    fn full_storage_hands_the_request_back_unchanged() {
        let mut buf = [Change::default(); 1];
        let mut cl = Changelist::new(&mut buf[..]);
        let (mut a, mut b) = (FdInfo::default(), FdInfo::default());
        cl.record(Change::add(1, What::empty(), What::READ), &mut a)
            .unwrap();
        let c = Change::add(2, What::empty(), What::READ);
        assert_eq!(cl.record(c, &mut b), Err(c));
        assert_eq!(b, FdInfo(0));
        assert_eq!(cl.changes().len(), 1);
        // The fd that has an entry still coalesces.
        cl.record(Change::add(1, What::READ, What::WRITE), &mut a)
            .unwrap();
        assert_eq!(cl.changes()[0].new_interest(), What::READ | What::WRITE);
    }

    #[test]
    fn zero_capacity_is_an_error_not_a_loss() {
        let mut cl = Changelist::new(&mut [][..]);
        let mut info = FdInfo::default();
        let c = Change::add(1, What::empty(), What::READ);
        assert_eq!(cl.record(c, &mut info), Err(c));
        assert_eq!((cl.changes().len(), info), (0, FdInfo(0)));
    }

    #[test]
    fn signal_and_et_travel_with_an_add() {
        let mut cl = list();
        let mut info = FdInfo::default();
        cl.record(
            Change::add(2, What::empty(), What::SIGNAL | What::PERSIST),
            &mut info,
        )
        .unwrap();
        assert_eq!(
            cl.changes()[0].read,
            ChangeOp::ADD | ChangeOp::SIGNAL | ChangeOp::PERSIST
        );
        let mut info = FdInfo::default();
        cl.record(
            Change::add(4, What::empty(), What::CLOSED | What::ET),
            &mut info,
        )
        .unwrap();
        assert!(cl.changes()[1].edge_triggered());
        assert_eq!(cl.changes()[1].new_interest(), What::CLOSED);
    }
}
