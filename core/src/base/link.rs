//! Events in their fd's or signal's list, and the backend told of interest that starts or stops.

use super::fdmap::{interest, MODES};
use super::slots::{state, Slot, Slots, NIL};
use super::{EventBase, Tables};
use crate::clock::Clock;
use crate::storage::Storage;
use crate::{Backend, ChangeOp, Error, FdInfo, RawFd, What};

impl<B: Backend, C: Clock, T: Tables> EventBase<B, C, T> {
    /// Inserts the event in its fd's or signal's list, telling the backend of new interest.
    #[inline(never)]
    pub(super) fn link(&mut self, idx: u32) -> Result<(), Error> {
        let (fd, events) = {
            let s = self.slots.get(idx);
            (s.fd, s.events)
        };
        if events.contains(What::SIGNAL) {
            return self.link_signal(idx, fd);
        }
        if fd < 0 {
            // libevent's rule: inserted (counted, and keeping the loop running), never reported.
            let mut none = NIL;
            push_front(&mut self.slots, &mut none, idx);
            return Ok(());
        }
        if fd == self.sigfd {
            // The base's own signal fd: no event waits on it, so the dispatch path can tell
            // its reports apart by the fd's events alone (see `run::Activator`).
            return Err(Error::BadFd(fd));
        }
        // Checked before the map grows for it: a number far beyond any open fd must cost nothing.
        let beyond = self.fds.beyond(fd);
        if beyond {
            self.io.backend.check(fd)?;
        }
        let entry = self.fds.entry(fd)?;
        let want = events & What::IO;
        // All of the fd's interest if this event adds to it; else enough to know it does not.
        let old = interest(self.slots.as_slice(), entry.head, want);
        if entry.is_watched() {
            // The modes the fd has, against the event's.
            let differ = old ^ events;
            if differ.contains(What::ET) {
                return Err(Error::MixedTriggers(fd));
            }
            if differ.contains(What::EXCLUSIVE) {
                return Err(Error::MixedExclusive(fd));
            }
        }
        let added = want - old;
        if !added.is_empty() {
            if self.io.changelist && !beyond && (old & What::IO).is_empty() {
                // The changelist reaches the backend only at the next dispatch, too late for
                // this add to report an fd it cannot watch: check when the fd's interest starts.
                self.io.backend.check(fd)?;
            }
            let bits = added | (events & MODES);
            self.io
                .change(ChangeOp::ADD, fd, old, bits, &mut entry.info)?;
        }
        push_front(&mut self.slots, &mut entry.head, idx);
        Ok(())
    }

    /// Takes the event out of its fd's or signal's list; tells the backend of interest lost.
    pub(super) fn unlink_insert(&mut self, idx: u32) -> Result<(), Error> {
        let (fd, events, next, st) = {
            let s = self.slots.get(idx);
            (s.fd, s.events, s.next, s.state)
        };
        if st & state::INSERTED == 0 {
            return Ok(());
        }
        self.slots.get_mut(idx).state &= !state::INSERTED;
        if events.contains(What::SIGNAL) {
            return self.unlink_signal(idx, fd, next);
        }
        if fd < 0 {
            return Ok(());
        }
        let entry = self.fds.entry(fd)?;
        remove(&mut self.slots, &mut entry.head, idx, next);
        let lost = events & What::IO;
        // All of what is left if the event takes interest with it; else enough to know it does not.
        let new = interest(self.slots.as_slice(), entry.head, lost);
        let removed = lost - new;
        if removed.is_empty() {
            return Ok(());
        }
        let old = new | (events & (What::IO | MODES));
        // ET travels with the delete when the remaining interest is edge-triggered, so a backend
        // that rewrites the fd's registration keeps it (libevent loses it here).
        let bits = removed | (new & MODES);
        self.io
            .change(ChangeOp::DEL, fd, old, bits, &mut entry.info)
    }

    pub(super) fn link_signal(&mut self, idx: u32, sig: RawFd) -> Result<(), Error> {
        let first = self.sigs.entry(sig)?.count == 0;
        if first {
            self.watch_signal(sig)?;
        }
        let entry = self.sigs.entry(sig)?;
        entry.count += 1;
        push_front(&mut self.slots, &mut entry.head, idx);
        Ok(())
    }

    pub(super) fn unlink_signal(&mut self, idx: u32, sig: RawFd, next: u32) -> Result<(), Error> {
        let entry = self.sigs.entry(sig)?;
        remove(&mut self.slots, &mut entry.head, idx, next);
        entry.count -= 1;
        if entry.count == 0 {
            self.unwatch_signal(sig);
        }
        Ok(())
    }

    /// Has the backend's [`Signals`](crate::Signals), if it has one, catch `sig`, its fd
    /// watched first; without one there is nothing to do here.
    pub(super) fn watch_signal(&mut self, sig: i32) -> Result<(), Error> {
        let fd = match self.io.backend.signals() {
            Some(signals) => signals.open()?,
            None => return Ok(()),
        };
        if self.sigfd < 0 {
            self.check_sigfd(fd)?;
            let mut info = FdInfo::default();
            self.io
                .change(ChangeOp::ADD, fd, What::empty(), What::READ, &mut info)?;
            (self.sigfd, self.siginfo) = (fd, info);
        }
        self.io.backend.signals().map_or(Ok(()), |s| s.watch(sig))
    }

    /// Refuses `fd` for the signal fd if events wait on that number: they were left on an fd
    /// since closed (the caller's bug), and the dispatch path would take the signal fd's reports
    /// for theirs. Keeps `link`'s rule that no event waits on the signal fd.
    pub(super) fn check_sigfd(&self, fd: RawFd) -> Result<(), Error> {
        let entry = usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.storage.as_slice().get(i));
        if entry.is_some_and(|e| e.is_watched()) {
            return Err(Error::SignalFdTaken(fd));
        }
        Ok(())
    }

    pub(super) fn unwatch_signal(&mut self, sig: i32) {
        if let Some(signals) = self.io.backend.signals() {
            signals.unwatch(sig);
        }
    }
}

/// Puts slot `idx` at the front of the list that starts at `head`, and marks it inserted.
#[inline]
fn push_front<S: Storage<Slot>>(slots: &mut Slots<S>, head: &mut u32, idx: u32) {
    let next = core::mem::replace(head, idx);
    let s = slots.get_mut(idx);
    s.next = next;
    s.state |= state::INSERTED;
}

/// Takes slot `idx`, followed by `next`, out of the list that starts at `head`.
///
/// The lists are singly linked, as libev's: a link back would cost every slot 8 bytes (4 and
/// the padding they break), to save a walk past the fd's newer events, of which there are
/// none or one, most often.
#[inline]
fn remove<S: Storage<Slot>>(slots: &mut Slots<S>, head: &mut u32, idx: u32, next: u32) {
    if *head == idx {
        *head = next;
        return;
    }
    let slots = slots.as_mut_slice();
    let mut at = *head;
    // The list holds `idx`: the walk finds it before the end of the list (NIL, out of range).
    while let Some(s) = slots.get_mut(at as usize) {
        if s.next == idx {
            s.next = next;
            return;
        }
        at = s.next;
    }
}
