//! Where timers wait: the heap, or the sorted list beside it.
//!
//! A timer lives in the heap or, when its deadline is not before any timer already in the list,
//! at the end of the sorted list of timers, linked through the slots in `(deadline, seq)`
//! order. Events re-armed with one timeout (the common case: a persistent event's period, an
//! idle timeout) all land in the list, at O(1) a re-arm instead of a heap's O(log n). Each
//! setting takes a fresh `seq` from the heap's counter either way, and the earliest timer is
//! the earlier of the heap's root and the list's head, so timers fire in exactly the order one
//! heap would give. The list's timers count against the heap's storage, so it is full when it
//! would have been.

use core::time::Duration;

use super::slots::{state, Slot, NIL};
use super::timers::{seq_before, Timer, TimerHeap};
use super::{EventBase, Tables};
use crate::clock::{nanos, Clock};
use crate::{Backend, Error, Resource, Storage, What};

impl<B: Backend, C: Clock, T: Tables> EventBase<B, C, T> {
    /// The deadline of a timeout of `interval` being set now: counted from a fresh reading of the
    /// clock, never from the cached time, which a callback may have outlived by the work it did
    /// before the `add`. So a timeout never expires before the `add` + the timeout.
    #[inline(always)]
    pub(super) fn deadline_after(&mut self, interval: u64) -> u64 {
        self.clock.now().saturating_add(interval)
    }

    /// [`add`](Self::add)'s common case, with no call out: an event whose timeout is pending,
    /// added again with a timeout (a persistent event's callback re-arming it, a timer pushed
    /// back). There is nothing to insert, and a pending timer is re-armed in place, which cannot
    /// fail. Whether it was that case; if not, nothing changed.
    #[inline(always)]
    pub(super) fn retime(&mut self, idx: u32, t: Duration) -> bool {
        self.settle_deferred_for(idx);
        let s = self.slots.get(idx);
        let st = s.state;
        // Active with a timeout: that firing is cancelled (`set_timeout`), which is not this
        // path's business. Not inserted but with something to insert: `add_to`'s.
        if st & state::ACTIVE != 0
            || s.heap == NIL
            || (st & state::INSERTED == 0 && s.events.intersects(What::SIGNAL | What::IO))
        {
            return false;
        }
        let interval = nanos(t);
        let deadline = self.deadline_after(interval);
        if !self.arm_in_list(idx, deadline) {
            // Pending: cannot fail.
            let _ = self.arm_slow(idx, deadline);
        }
        let s = self.slots.get_mut(idx);
        s.interval = interval;
        // Read again: arming may have moved the timer into or out of the list.
        s.state = (s.state | state::PERIODIC) & !state::TIMED_OUT;
        true
    }

    #[inline(always)]
    pub(super) fn set_timeout(&mut self, idx: u32, t: Duration) -> Result<(), Error> {
        let interval = nanos(t);
        let deadline = self.deadline_after(interval);
        self.arm(idx, deadline)?;
        let s = self.slots.get_mut(idx);
        s.interval = interval;
        let st = s.state;
        s.state = (st | state::PERIODIC) & !state::TIMED_OUT;
        // Rescheduling a timeout that already fired, before its callback ran, cancels that firing
        // (libevent's rule) but keeps any I/O result (where libevent loses it).
        if st & state::ACTIVE != 0 && s.res.contains(What::TIMEOUT) {
            self.cancel_timeout_firing(idx);
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    pub(super) fn cancel_timeout_firing(&mut self, idx: u32) {
        let s = self.slots.get_mut(idx);
        s.res.remove(What::TIMEOUT);
        if s.res.is_empty() {
            self.queues.remove(self.slots.as_mut_slice(), idx);
            self.slots.get_mut(idx).state &= !state::ACTIVE;
        }
    }

    /// The earliest timer: its deadline and slot.
    #[inline]
    pub(super) fn first_timer(&self) -> Option<(u64, u32)> {
        let head = self.timer_list.head;
        let root = self.timers.peek();
        if head == NIL {
            return root.map(|t| (t.deadline, t.slot));
        }
        let s = self.slots.get(head);
        match root {
            Some(t)
                if t.deadline < s.deadline
                    || (t.deadline == s.deadline && seq_before(t.seq, s.heap)) =>
            {
                Some((t.deadline, t.slot))
            }
            _ => Some((s.deadline, head)),
        }
    }

    /// [`first_timer`](Self::first_timer) once the re-arm put off, if there is one, is done
    /// (there is none without a pending timer, so a loop with no timers tests nothing more).
    #[inline(always)]
    pub(super) fn first_timer_settled(&mut self) -> Option<(u64, u32)> {
        let first = self.first_timer();
        if first.is_some() && self.deferred.idx != NIL {
            self.apply_deferred(NIL);
            return self.first_timer();
        }
        first
    }

    /// The earliest deadline, a re-arm put off counted at its new deadline (for a caller that
    /// may not do it).
    pub(super) fn first_deadline(&self) -> Option<u64> {
        let Deferred { idx, at } = self.deferred;
        if idx == NIL {
            return self.first_timer().map(|(deadline, _)| deadline);
        }
        // Its timer waits at its old deadline, the first or not: the earliest of the others is
        // the heap's root or, if that is it, the least of the root's children; the list's head
        // or, if that is it, the next.
        let mut first = at;
        let root = self.timers.peek();
        let heap = match root {
            Some(t) if t.slot == idx => self.timers.least_child_of_root(),
            _ => root,
        };
        if let Some(t) = heap {
            first = first.min(t.deadline);
        }
        let mut head = self.timer_list.head;
        if head == idx {
            head = self.slots.get(head).tnext;
        }
        if head != NIL {
            first = first.min(self.slots.get(head).deadline);
        }
        Some(first)
    }

    /// Sets the timer of slot `idx` (pending or not) to `deadline`, behind every timer set before
    /// for that deadline. Fails only for a timer not pending, when the storage is full.
    #[inline(always)]
    pub(super) fn arm(&mut self, idx: u32, deadline: u64) -> Result<(), Error> {
        self.settle_deferred(idx);
        if self.arm_in_list(idx, deadline) {
            return Ok(());
        }
        self.arm_slow(idx, deadline)
    }

    /// [`arm`](Self::arm)'s common case, O(1): a timer already in the list, or the list's last,
    /// re-armed to a deadline not before the list's last goes (or stays) last. Whether it was
    /// that case; if not, nothing changed.
    #[inline(always)]
    pub(super) fn arm_in_list(&mut self, idx: u32, deadline: u64) -> bool {
        let tail = self.timer_list.tail;
        let slots = self.slots.as_mut_slice();
        if tail == NIL || slots[tail as usize].deadline > deadline {
            return false;
        }
        if tail == idx {
            // Last in the list already, and a deadline not earlier keeps it last.
            let s = &mut slots[idx as usize];
            s.deadline = deadline;
            s.heap = list_seq(&mut self.timers);
            return true;
        }
        if slots[idx as usize].state & state::LISTED == 0 {
            return false;
        }
        let seq = list_seq(&mut self.timers);
        self.timer_list.move_to_tail(slots, idx, deadline, seq);
        true
    }

    /// [`arm`](Self::arm) when the list does not take the timer as it is: into the heap, or
    /// through [`arm_via_list`](Self::arm_via_list) for a timer in the list or one that goes to
    /// its end.
    #[inline(never)]
    fn arm_slow(&mut self, idx: u32, deadline: u64) -> Result<(), Error> {
        let s = self.slots.get(idx);
        let (at, listed) = (s.heap, s.state & state::LISTED != 0);
        let tail = self.timer_list.tail;
        if listed || tail == NIL || self.slots.get(tail).deadline <= deadline {
            return self.arm_via_list(idx, deadline);
        }
        let slots = &mut self.slots;
        let moved = &mut |i, h| slots.get_mut(i).heap = h;
        if at == NIL {
            self.timers.push(deadline, idx, moved)?;
        } else {
            self.timers.reschedule(at, deadline, moved);
        }
        self.slots.get_mut(idx).deadline = deadline;
        Ok(())
    }

    /// [`arm_slow`](Self::arm_slow) for a timer in the list (it leaves it, to its end or into
    /// the heap) or one that goes to the list's end.
    #[inline(never)]
    fn arm_via_list(&mut self, idx: u32, deadline: u64) -> Result<(), Error> {
        let mut at = self.slots.get(idx).heap;
        if self.slots.get(idx).state & state::LISTED != 0 {
            // Out of the list, to its end or into the heap below; its room in the storage, which
            // the list's timers hold, is what the heap takes, so the push cannot fail.
            self.unlist(idx);
            at = NIL;
        }
        let tail = self.timer_list.tail;
        if tail == NIL || self.slots.get(tail).deadline <= deadline {
            if at == NIL {
                let n = self.timers.len() + self.timer_list.len as usize;
                if !self.timers.reserve(n + 1) {
                    return Err(Error::Full(Resource::Timers));
                }
            } else {
                let slots = &mut self.slots;
                self.timers
                    .remove(at, &mut |i, h| slots.get_mut(i).heap = h);
            }
            self.list_append(idx, deadline);
            return Ok(());
        }
        let slots = &mut self.slots;
        let moved = &mut |i, h| slots.get_mut(i).heap = h;
        if at == NIL {
            self.timers.push(deadline, idx, moved)?;
        } else {
            self.timers.reschedule(at, deadline, moved);
        }
        self.slots.get_mut(idx).deadline = deadline;
        Ok(())
    }

    /// Stops the timer of slot `idx`, if it has one.
    #[inline]
    pub(super) fn disarm(&mut self, idx: u32) {
        if self.slots.get(idx).heap != NIL {
            self.disarm_timer(idx);
        }
    }

    /// [`disarm`](Self::disarm) of a timer that is pending.
    #[inline(never)]
    fn disarm_timer(&mut self, idx: u32) {
        let s = self.slots.get(idx);
        let (at, listed) = (s.heap, s.state & state::LISTED != 0);
        // Its re-arm, if put off, is dropped; another's can wait: stopping a timer takes no seq.
        if self.deferred.idx == idx {
            self.deferred.idx = NIL;
        }
        if listed {
            self.unlist(idx);
        } else {
            let slots = &mut self.slots;
            self.timers
                .remove(at, &mut |i, h| slots.get_mut(i).heap = h);
        }
        self.slots.get_mut(idx).heap = NIL;
    }

    /// Re-arms the pending timer of slot `idx` to `at`, put off (see [`Deferred`]).
    #[inline(always)]
    pub(super) fn defer_rearm(&mut self, idx: u32, at: u64) {
        self.settle_deferred(NIL);
        self.deferred = Deferred { idx, at };
    }

    /// Does the re-arm put off, if there is one, before a change to the timers: unless it is
    /// slot `idx`'s, whose timer the change sets or stops anyway ([`NIL`]: whichever it is).
    #[inline(always)]
    pub(super) fn settle_deferred(&mut self, idx: u32) {
        if self.deferred.idx != NIL {
            self.apply_deferred(idx);
        }
    }

    /// [`settle_deferred`](Self::settle_deferred) inline, for a persistent event's callback
    /// re-arming its own timer (the common case: the re-arm put off is dropped).
    #[inline(always)]
    fn settle_deferred_for(&mut self, idx: u32) {
        if self.deferred.idx == idx {
            self.deferred.idx = NIL;
        } else {
            self.settle_deferred(idx);
        }
    }

    #[inline(never)]
    fn apply_deferred(&mut self, except: u32) {
        let Deferred { idx, at } = core::mem::take(&mut self.deferred);
        if idx != except {
            // A pending timer is re-armed in place: this cannot fail.
            let _ = self.arm(idx, at);
        }
    }

    /// The deadline of slot `idx`'s pending timer, a re-arm put off included.
    #[inline]
    pub(super) fn deadline_of(&self, idx: u32) -> u64 {
        if self.deferred.idx == idx {
            self.deferred.at
        } else {
            self.slots.get(idx).deadline
        }
    }

    /// Appends slot `idx` to the list with `deadline` (not before the list's last) and a fresh seq.
    #[inline]
    fn list_append(&mut self, idx: u32, deadline: u64) {
        let seq = list_seq(&mut self.timers);
        let tail = self.timer_list.tail;
        let s = self.slots.get_mut(idx);
        s.state |= state::LISTED;
        s.heap = seq;
        s.deadline = deadline;
        s.tnext = NIL;
        s.tprev = tail;
        if tail == NIL {
            self.timer_list.head = idx;
        } else {
            self.slots.get_mut(tail).tnext = idx;
        }
        self.timer_list.tail = idx;
        self.timer_list.len += 1;
    }

    /// Takes slot `idx` out of the list: it has no timer then.
    #[inline]
    fn unlist(&mut self, idx: u32) {
        let (next, prev) = {
            let s = self.slots.get(idx);
            (s.tnext, s.tprev)
        };
        if prev == NIL {
            self.timer_list.head = next;
        } else {
            self.slots.get_mut(prev).tnext = next;
        }
        if next == NIL {
            self.timer_list.tail = prev;
        } else {
            self.slots.get_mut(next).tprev = prev;
        }
        self.timer_list.len -= 1;
        let s = self.slots.get_mut(idx);
        s.state &= !state::LISTED;
        s.heap = NIL;
    }
}

/// A seq for a timer joining the list, from the heap's counter (so that the list and the heap
/// order alike); never [`NIL`], which in [`Slot::heap`] would read as "no timer".
#[inline(always)]
fn list_seq<S: Storage<Timer>>(timers: &mut TimerHeap<S>) -> u32 {
    let seq = timers.take_seq();
    if seq == NIL {
        timers.take_seq()
    } else {
        seq
    }
}

/// A persistent event's timeout re-armed when it runs, put off until the next change to the
/// timers or the next wait: its callback, adding the event again with a timeout of its own
/// (libevent's benchmark does, and many programs), replaces it, so the timer moves once instead
/// of twice. The timers are changed in the same order as without it, and what the base reports
/// (`pending`, `events`, `next_deadline`) counts it at its new deadline.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deferred {
    /// The slot, or [`NIL`]: none.
    idx: u32,
    /// Its new deadline.
    at: u64,
}

impl Default for Deferred {
    fn default() -> Self {
        Deferred { idx: NIL, at: 0 }
    }
}

/// The ends and length of the sorted list of timers.
#[derive(Debug)]
pub(super) struct TimerList {
    pub(super) head: u32,
    pub(super) tail: u32,
    pub(super) len: u32,
}

impl TimerList {
    /// Moves slot `idx`, in the list but not its last, behind the last with `deadline` (not
    /// before the last's) and `seq`.
    #[inline(always)]
    fn move_to_tail(&mut self, slots: &mut [Slot], idx: u32, deadline: u64, seq: u32) {
        let tail = self.tail;
        let s = &mut slots[idx as usize];
        let (next, prev) = (s.tnext, s.tprev);
        s.deadline = deadline;
        s.heap = seq;
        s.tnext = NIL;
        s.tprev = tail;
        if prev == NIL {
            self.head = next;
        } else {
            slots[prev as usize].tnext = next;
        }
        // Not the last, so `next` is a slot (`tail` itself, perhaps).
        slots[next as usize].tprev = prev;
        slots[tail as usize].tnext = idx;
        self.tail = idx;
    }
}

impl Default for TimerList {
    fn default() -> Self {
        TimerList {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}
