//! Event slots: the base's record of each pending or active event, found by generation-checked
//! handles.
//!
//! A slot is held only while its event is pending (inserted or waiting for its timeout) or active.
//! It carries an opaque token chosen by the adapter; a handle is trusted only if its index is in
//! range, its generation matches and the slot carries the token the caller presents, so a stale
//! handle, one from another base, or garbage read from a C caller's memory is an error, never UB.

use crate::storage::Storage;
use crate::{Error, RawFd, Resource, What};

/// No index: the end of a list, or "no timer".
pub(crate) const NIL: u32 = u32::MAX;

/// A reference to a pending or active event: an index and the generation it was issued at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Handle {
    index: u32,
    gen: u32,
}

impl Handle {
    #[inline]
    pub(crate) fn new(index: u32, gen: u32) -> Handle {
        Handle { index, gen }
    }
    /// The handle as one number, for an adapter that stores it in foreign memory.
    pub fn to_bits(self) -> u64 {
        (u64::from(self.gen) << 32) | u64::from(self.index)
    }
    /// A handle from [`to_bits`](Self::to_bits). Any value is safe: a wrong one is merely stale.
    pub fn from_bits(bits: u64) -> Handle {
        Handle {
            index: bits as u32,
            gen: (bits >> 32) as u32,
        }
    }
}

/// Where a slot's event is queued (bits of [`Slot::state`]).
pub(crate) mod state {
    /// In its fd's or signal's list.
    pub const INSERTED: u8 = 0x01;
    /// Its timer is in the base's sorted list of timers, not in the heap.
    pub const LISTED: u8 = 0x02;
    /// In an active queue.
    pub const ACTIVE: u8 = 0x04;
    /// Its timeout fired in the current activation (persistent re-arm counts from the deadline).
    pub const TIMED_OUT: u8 = 0x08;
    /// It was added with a timeout: a persistent event re-arms it after each run.
    pub const PERIODIC: u8 = 0x10;
    /// The adapter's own machinery: does not keep the loop running, not counted.
    pub const INTERNAL: u8 = 0x20;
    /// The slot is taken.
    pub const USED: u8 = 0x80;
}

/// One event as the base tracks it. Opaque outside the base; public so callers can size storage.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub(crate) gen: u32,
    pub(crate) state: u8,
    pub(crate) pri: u8,
    pub(crate) events: What,
    pub(crate) res: What,
    pub(crate) ncalls: u16,
    pub(crate) fd: RawFd,
    pub(crate) token: usize,
    /// Next in the fd's or signal's list (newest first, singly linked); also links the free
    /// list.
    pub(crate) next: u32,
    /// Next and previous in the active queue.
    pub(crate) anext: u32,
    pub(crate) aprev: u32,
    /// The timer: [`NIL`] if none; else its index in the heap or, in the sorted list
    /// ([`state::LISTED`]), its place among equal deadlines (a seq, never `NIL`). The two
    /// share a field, so a slot is 64 bytes, not 72.
    pub(crate) heap: u32,
    /// Next and previous in the sorted list of timers.
    pub(crate) tnext: u32,
    pub(crate) tprev: u32,
    pub(crate) deadline: u64,
    /// The timeout last given to `add` in ns (0: none), for persistent re-arming.
    pub(crate) interval: u64,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            gen: 0,
            state: 0,
            pri: 0,
            events: What::empty(),
            res: What::empty(),
            ncalls: 0,
            fd: -1,
            token: 0,
            next: NIL,
            anext: NIL,
            aprev: NIL,
            heap: NIL,
            tnext: NIL,
            tprev: NIL,
            deadline: 0,
            interval: 0,
        }
    }
}

/// The slab of slots with a free list.
#[derive(Debug)]
pub(crate) struct Slots<S> {
    storage: S,
    /// Slots below this index have been used at least once.
    high: u32,
    free: u32,
    pub(crate) used: u32,
    /// How many of the used slots are internal.
    pub(crate) internal: u32,
}

impl<S: Storage<Slot>> Slots<S> {
    pub(crate) fn new(storage: S) -> Self {
        Slots {
            storage,
            high: 0,
            free: NIL,
            used: 0,
            internal: 0,
        }
    }

    /// Takes a free slot for `token`; it comes back reset, with a new generation.
    pub(crate) fn take(&mut self, token: usize) -> Result<u32, Error> {
        let idx = if self.free != NIL {
            self.free
        } else {
            let idx = self.high;
            if idx == NIL - 1 {
                return Err(Error::Full(Resource::Slots));
            }
            if idx as usize >= self.storage.capacity()
                && !self.storage.grow(idx as usize + 1, Slot::default())
            {
                return Err(Error::Full(Resource::Slots));
            }
            self.high += 1;
            idx
        };
        let slot = self.get_mut(idx);
        let next_free = slot.next;
        *slot = Slot {
            gen: slot.gen,
            state: state::USED,
            token,
            ..Slot::default()
        };
        if idx == self.free {
            self.free = next_free;
        }
        self.used += 1;
        Ok(idx)
    }

    /// Gives a slot back; every handle to it goes stale.
    pub(crate) fn release(&mut self, idx: u32) {
        let free = self.free;
        let slot = self.get_mut(idx);
        slot.gen = slot.gen.wrapping_add(1);
        let internal = slot.state & state::INTERNAL != 0;
        slot.state = 0;
        slot.next = free;
        self.free = idx;
        self.used -= 1;
        self.internal -= u32::from(internal);
    }

    /// The slot `h` names, if it is taken, of the same generation, and carries `token`.
    pub(crate) fn resolve(&self, h: Handle, token: usize) -> Result<u32, Error> {
        match self.storage.as_slice().get(h.index as usize) {
            Some(s)
                if h.index < self.high
                    && s.gen == h.gen
                    && s.state & state::USED != 0
                    && s.token == token =>
            {
                Ok(h.index)
            }
            _ => Err(Error::StaleHandle),
        }
    }

    pub(crate) fn handle(&self, idx: u32) -> Handle {
        Handle {
            index: idx,
            gen: self.get(idx).gen,
        }
    }

    /// Indices of the slots in use, in index order.
    pub(crate) fn iter_used(&self) -> impl Iterator<Item = u32> + '_ {
        let used = &self.storage.as_slice()[..self.high as usize];
        (0..self.high).filter(move |&i| used[i as usize].state & state::USED != 0)
    }

    /// The whole table.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[Slot] {
        self.storage.as_slice()
    }

    /// The whole table, for a hot path that touches several slots: one borrow, so the
    /// storage's pointer and length stay in registers across the accesses.
    #[inline]
    pub(crate) fn as_mut_slice(&mut self) -> &mut [Slot] {
        self.storage.as_mut_slice()
    }

    // Internal indices come from `take`, the lists and the heap, which only hold indices below
    // `high`; a bad one is a bug in the base, so these index directly.
    #[inline]
    pub(crate) fn get(&self, idx: u32) -> &Slot {
        &self.storage.as_slice()[idx as usize]
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, idx: u32) -> &mut Slot {
        &mut self.storage.as_mut_slice()[idx as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes the memory budget counts on (64-bit targets): a slot per event, a heap entry per
    /// timer in the heap.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn slot_and_heap_entry_sizes() {
        assert_eq!(core::mem::size_of::<Slot>(), 64);
        assert_eq!(core::mem::size_of::<crate::base::Timer>(), 16);
    }

    #[test]
    fn stale_and_foreign_handles_are_refused() {
        let mut slots = Slots::new(heapless::Vec::<Slot, 2>::new());
        let a = slots.take(7).unwrap();
        let h = slots.handle(a);
        assert_eq!(slots.resolve(h, 7), Ok(a));
        assert_eq!(slots.resolve(h, 8), Err(Error::StaleHandle));
        slots.release(a);
        assert_eq!(slots.resolve(h, 7), Err(Error::StaleHandle));
        let b = slots.take(7).unwrap();
        assert_eq!(b, a, "the freed slot is reused");
        assert_eq!(
            slots.resolve(h, 7),
            Err(Error::StaleHandle),
            "old generation"
        );
        assert_eq!(
            slots.resolve(Handle::from_bits(u64::MAX), 7),
            Err(Error::StaleHandle)
        );
        let _ = slots.take(1).unwrap();
        assert_eq!(slots.take(2), Err(Error::Full(Resource::Slots)));
        assert_eq!(slots.used, 2);
        assert_eq!(
            Handle::from_bits(slots.handle(b).to_bits()),
            slots.handle(b)
        );
    }

    #[test]
    fn a_free_slot_is_never_resolved() {
        let mut slots = Slots::new(heapless::Vec::<Slot, 2>::new());
        let a = slots.take(7).unwrap();
        slots.release(a);
        // A handle forged with the free slot's current generation and its last token.
        assert_eq!(slots.resolve(slots.handle(a), 7), Err(Error::StaleHandle));
        // Nor one past the slots ever taken, though the storage has room there.
        assert_eq!(slots.resolve(Handle::new(1, 0), 0), Err(Error::StaleHandle));
    }
}
