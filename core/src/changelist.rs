//! The changelist: interest changes coalesced per fd until the next dispatch (libevent's evmap.c).
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

use bitflags::bitflags;

use crate::backend::{Backend, FdInfo};
use crate::storage::Storage;
use crate::{Error, RawFd, Resource, What};

bitflags! {
    /// What a changelist entry does to one kind of interest (libevent's `EV_CHANGE_*` plus the
    /// event bits that travel with an add).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct ChangeOp: u8 {
        /// Start watching.
        const ADD = 0x01;
        /// Stop watching.
        const DEL = 0x02;
        /// The interest is a signal's (kqueue's `EVFILT_SIGNAL`).
        const SIGNAL = 0x08;
        /// The event is persistent.
        const PERSIST = 0x10;
        /// Edge-triggered.
        const ET = 0x20;
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ChangeOp {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "ChangeOp({=u8:#x})", self.bits());
    }
}

/// One fd's coalesced change (libevent's `struct event_change`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Change {
    /// The fd.
    pub fd: RawFd,
    /// The interest the backend had for the fd when the batch began.
    pub old: What,
    /// The change to `READ` interest.
    pub read: ChangeOp,
    /// The change to `WRITE` interest.
    pub write: ChangeOp,
    /// The change to `CLOSED` interest.
    pub closed: ChangeOp,
}

impl Change {
    fn ops(&self) -> [(ChangeOp, What); 3] {
        [
            (self.read, What::READ),
            (self.write, What::WRITE),
            (self.closed, What::CLOSED),
        ]
    }

    /// The interest once the change is applied (within [`What::IO`]).
    pub fn new_interest(&self) -> What {
        self.ops()
            .iter()
            .fold(self.old & What::IO, |w, &(op, bit)| {
                if op.contains(ChangeOp::ADD) {
                    w | bit
                } else if op.contains(ChangeOp::DEL) {
                    w - bit
                } else {
                    w
                }
            })
    }

    /// Whether applying it must do nothing.
    pub fn is_noop(&self) -> bool {
        self.ops()
            .iter()
            .all(|(op, _)| !op.intersects(ChangeOp::ADD | ChangeOp::DEL))
    }

    /// Whether any part of it asks for edge-triggering.
    pub fn edge_triggered(&self) -> bool {
        self.ops().iter().any(|(op, _)| op.contains(ChangeOp::ET))
    }
}

/// Which way a [`Request`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Op {
    /// Start watching `events`.
    Add,
    /// Stop watching `events`.
    Del,
}

/// One interest change as the base asks for it; handed back when the storage is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Request {
    /// Add or delete.
    pub op: Op,
    /// The fd.
    pub fd: RawFd,
    /// The interest the fd has now, as its caller sees it.
    pub old: What,
    /// The bits to add or delete (`READ`, `WRITE`, `CLOSED`, with `ET`, `PERSIST`, `SIGNAL`).
    pub events: What,
}

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

    /// Records an add. See [`record`](Self::record).
    pub fn add(
        &mut self,
        fd: RawFd,
        old: What,
        events: What,
        fdinfo: &mut FdInfo,
    ) -> Result<(), Request> {
        self.record(
            Request {
                op: Op::Add,
                fd,
                old,
                events,
            },
            fdinfo,
        )
    }

    /// Records a delete. See [`record`](Self::record).
    pub fn del(
        &mut self,
        fd: RawFd,
        old: What,
        events: What,
        fdinfo: &mut FdInfo,
    ) -> Result<(), Request> {
        self.record(
            Request {
                op: Op::Del,
                fd,
                old,
                events,
            },
            fdinfo,
        )
    }

    /// Records `req`, coalescing it with the fd's pending change. When the fd has no entry yet and
    /// the storage cannot grow, nothing changes and `req` comes back: apply and clear the batch,
    /// then record it again (or use [`submit`](Self::submit), which does that).
    pub fn record(&mut self, req: Request, fdinfo: &mut FdInfo) -> Result<(), Request> {
        let Some(change) = self.entry(req.fd, req.old, fdinfo) else {
            return Err(req);
        };
        let events = req.events;
        let old = change.old;
        let carried = ChangeOp::from_bits_truncate(
            (events & (What::ET | What::PERSIST | What::SIGNAL)).bits() as u8,
        );
        for (slot, bit) in [
            (&mut change.read, What::READ | What::SIGNAL),
            (&mut change.write, What::WRITE),
            (&mut change.closed, What::CLOSED),
        ] {
            if !events.intersects(bit) {
                continue;
            }
            *slot = match req.op {
                Op::Add => ChangeOp::ADD | carried,
                Op::Del if old.intersects(bit) => ChangeOp::DEL | (carried & ChangeOp::ET),
                Op::Del => ChangeOp::empty(),
            };
        }
        Ok(())
    }

    /// Records `req`; if the storage is full, first hands the batch to `backend` and clears it.
    /// Fails only if the backend's `apply` fails (the batch is cleared all the same, as libevent
    /// does) or if the storage has no room even when empty.
    pub fn submit<B: Backend>(
        &mut self,
        req: Request,
        fdinfo: &mut FdInfo,
        backend: &mut B,
    ) -> Result<(), Error> {
        let Err(req) = self.record(req, fdinfo) else {
            return Ok(());
        };
        let applied = self.flush(backend);
        self.record(req, fdinfo)
            .map_err(|_| Error::Full(Resource::Changelist))?;
        applied
    }

    /// Hands every pending change to `backend` and clears the batch, even when `apply` fails.
    pub fn flush<B: Backend>(&mut self, backend: &mut B) -> Result<(), Error> {
        if self.is_empty() {
            return Ok(());
        }
        let result = backend.apply(self.changes());
        self.clear();
        result
    }

    fn entry(&mut self, fd: RawFd, old: What, fdinfo: &mut FdInfo) -> Option<&mut Change> {
        let idx = (fdinfo.0 as usize).wrapping_sub(1);
        if idx < self.len && self.storage.as_slice()[idx].fd == fd {
            return self.storage.as_mut_slice().get_mut(idx);
        }
        if self.len == self.storage.capacity()
            && !self.storage.grow(self.len + 1, Change::default())
        {
            return None;
        }
        let idx = self.len;
        let change = self.storage.as_mut_slice().get_mut(idx)?;
        *change = Change {
            fd,
            old: old & What::IO,
            ..Change::default()
        };
        self.len += 1;
        fdinfo.0 = self.len as u32;
        Some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fixed = heapless::Vec<Change, 4>;

    fn list() -> Changelist<Fixed> {
        Changelist::new(Fixed::new())
    }

    #[test]
    fn two_adds_make_one_entry() {
        let mut cl = list();
        let mut info = FdInfo::default();
        cl.add(5, What::empty(), What::READ, &mut info).unwrap();
        cl.add(5, What::READ, What::WRITE, &mut info).unwrap();
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
        cl.add(3, What::empty(), What::READ | What::ET, &mut info)
            .unwrap();
        cl.del(3, What::READ, What::READ, &mut info).unwrap();
        assert!(cl.changes()[0].is_noop());
    }

    #[test]
    fn add_replaces_a_pending_delete_and_is_not_a_noop() {
        let mut cl = list();
        let mut info = FdInfo::default();
        cl.del(3, What::READ, What::READ, &mut info).unwrap();
        assert_eq!(cl.changes()[0].read, ChangeOp::DEL);
        cl.add(3, What::empty(), What::READ, &mut info).unwrap();
        let c = cl.changes()[0];
        assert_eq!(c.read, ChangeOp::ADD);
        assert!(!c.is_noop());
        assert_eq!(c.new_interest(), What::READ);
    }

    #[test]
    fn old_is_kept_from_the_first_change() {
        let mut cl = list();
        let mut info = FdInfo::default();
        cl.add(3, What::WRITE, What::READ, &mut info).unwrap();
        cl.del(3, What::READ | What::WRITE, What::WRITE, &mut info)
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
        cl.add(1, What::empty(), What::READ, &mut a).unwrap();
        cl.clear();
        cl.add(2, What::empty(), What::WRITE, &mut b).unwrap();
        // fd 1's word still says index 0, which now holds fd 2.
        cl.add(1, What::READ, What::WRITE, &mut a).unwrap();
        assert_eq!(cl.changes().len(), 2);
        assert_eq!(cl.changes()[0].new_interest(), What::WRITE);
        assert_eq!(cl.changes()[1].old, What::READ);
    }

    #[test]
    fn full_storage_hands_the_request_back_unchanged() {
        let mut buf = [Change::default(); 1];
        let mut cl = Changelist::new(&mut buf[..]);
        let (mut a, mut b) = (FdInfo::default(), FdInfo::default());
        cl.add(1, What::empty(), What::READ, &mut a).unwrap();
        let req = Request {
            op: Op::Add,
            fd: 2,
            old: What::empty(),
            events: What::READ,
        };
        assert_eq!(cl.record(req, &mut b), Err(req));
        assert_eq!(b, FdInfo(0));
        assert_eq!(cl.changes().len(), 1);
        // The fd that has an entry still coalesces.
        cl.add(1, What::READ, What::WRITE, &mut a).unwrap();
        assert_eq!(cl.changes()[0].new_interest(), What::READ | What::WRITE);
    }

    #[test]
    fn zero_capacity_is_an_error_not_a_loss() {
        struct Nop;
        impl Backend for Nop {
            fn info(&self) -> crate::Info {
                crate::Info {
                    name: "nop",
                    features: crate::Features::empty(),
                    need_reinit: false,
                    fdinfo_len: 4,
                    changelist: true,
                }
            }
            fn add(&mut self, _: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
                Ok(())
            }
            fn del(&mut self, _: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
                Ok(())
            }
            fn dispatch<K: crate::Sink>(
                &mut self,
                _: Option<core::time::Duration>,
                _: &mut K,
            ) -> Result<usize, Error> {
                Ok(0)
            }
        }
        let mut cl = Changelist::new(&mut [][..]);
        let req = Request {
            op: Op::Add,
            fd: 1,
            old: What::empty(),
            events: What::READ,
        };
        let r = cl.submit(req, &mut FdInfo::default(), &mut Nop);
        assert_eq!(r, Err(Error::Full(Resource::Changelist)));
    }

    #[test]
    fn signal_and_et_travel_with_an_add() {
        let mut cl = list();
        let mut info = FdInfo::default();
        cl.add(2, What::empty(), What::SIGNAL | What::PERSIST, &mut info)
            .unwrap();
        assert_eq!(
            cl.changes()[0].read,
            ChangeOp::ADD | ChangeOp::SIGNAL | ChangeOp::PERSIST
        );
        let mut info = FdInfo::default();
        cl.add(4, What::empty(), What::CLOSED | What::ET, &mut info)
            .unwrap();
        assert!(cl.changes()[1].edge_triggered());
        assert_eq!(cl.changes()[1].new_interest(), What::CLOSED);
    }
}
