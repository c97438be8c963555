//! Active queues, one per priority, with a bitmap of the non-empty ones so the highest is found
//! without scanning. Events are linked through their slots (intrusive, no storage of its own).

use super::slots::{Slot, NIL};

/// The most priorities a base can have (libevent's `EVENT_MAX_PRIORITIES` is 256, exclusive).
pub const MAX_PRIORITIES: usize = 255;

#[derive(Clone, Copy, Debug)]
struct Queue {
    head: u32,
    tail: u32,
}

/// The active queues.
#[derive(Debug)]
pub(crate) struct Queues {
    /// One per `u8`, one more than [`MAX_PRIORITIES`], so that indexing by a priority needs no
    /// bounds check (the last is never used).
    queues: [Queue; 256],
    /// A bit per non-empty queue but the first: priority 0, the only one of a base with one,
    /// spares its pushes and pops the upkeep, and [`highest`](Self::highest) looks at its head.
    nonempty: [u64; 4],
    pub(crate) len: u32,
}

impl Queues {
    pub(crate) fn new() -> Self {
        Queues {
            queues: [Queue {
                head: NIL,
                tail: NIL,
            }; 256],
            nonempty: [0; 4],
            len: 0,
        }
    }

    /// The highest non-empty priority (the smallest number).
    #[inline]
    pub(crate) fn highest(&self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        // Priority 0, the only one of a base with one (the common case), is not in the bitmap.
        if self.queues[0].head != NIL {
            return Some(0);
        }
        for (w, &bits) in self.nonempty.iter().enumerate() {
            if bits != 0 {
                return Some((w * 64) as u8 + bits.trailing_zeros() as u8);
            }
        }
        None
    }

    /// The first event of queue `pri`.
    #[inline]
    pub(crate) fn front(&self, pri: u8) -> u32 {
        self.queues[pri as usize].head
    }

    /// Appends slot `idx` to the queue of its priority. `slots` is the slot table.
    #[inline]
    pub(crate) fn push_back(&mut self, slots: &mut [Slot], idx: u32) {
        let s = &mut slots[idx as usize];
        let pri = s.pri;
        let q = &mut self.queues[pri as usize];
        let tail = q.tail;
        s.anext = NIL;
        s.aprev = tail;
        if tail == NIL {
            q.head = idx;
            if pri != 0 {
                self.nonempty[pri as usize / 64] |= 1 << (pri % 64);
            }
        } else {
            slots[tail as usize].anext = idx;
        }
        q.tail = idx;
        self.len += 1;
    }

    /// Puts slot `idx` first in the queue of its priority.
    #[inline]
    pub(crate) fn push_front(&mut self, slots: &mut [Slot], idx: u32) {
        let s = &mut slots[idx as usize];
        let pri = s.pri;
        let q = &mut self.queues[pri as usize];
        let head = q.head;
        s.aprev = NIL;
        s.anext = head;
        if head == NIL {
            q.tail = idx;
            if pri != 0 {
                self.nonempty[pri as usize / 64] |= 1 << (pri % 64);
            }
        } else {
            slots[head as usize].aprev = idx;
        }
        q.head = idx;
        self.len += 1;
    }

    /// Removes the first event of queue `pri`, `idx` (as [`front`](Self::front) gave it).
    #[inline]
    pub(crate) fn pop_front(&mut self, slots: &mut [Slot], pri: u8, idx: u32) {
        let next = slots[idx as usize].anext;
        let q = &mut self.queues[pri as usize];
        q.head = next;
        if next == NIL {
            q.tail = NIL;
            if pri != 0 {
                self.nonempty[pri as usize / 64] &= !(1 << (pri % 64));
            }
        } else {
            slots[next as usize].aprev = NIL;
        }
        self.len -= 1;
    }

    /// Takes slot `idx` out of its queue, wherever it is in it.
    #[inline]
    pub(crate) fn remove(&mut self, slots: &mut [Slot], idx: u32) {
        let s = &slots[idx as usize];
        let (pri, next, prev) = (s.pri, s.anext, s.aprev);
        let q = &mut self.queues[pri as usize];
        if prev == NIL {
            q.head = next;
        } else {
            slots[prev as usize].anext = next;
        }
        if next == NIL {
            q.tail = prev;
        } else {
            slots[next as usize].aprev = prev;
        }
        if q.head == NIL && pri != 0 {
            self.nonempty[pri as usize / 64] &= !(1 << (pri % 64));
        }
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::slots::Slots;
    use super::*;
    use crate::Storage;

    /// Takes a slot of priority `pri` and queues it.
    fn enqueue<S: Storage<Slot>>(slots: &mut Slots<S>, q: &mut Queues, pri: u8) -> u32 {
        let i = slots.take(0).unwrap();
        slots.get_mut(i).pri = pri;
        q.push_back(slots.as_mut_slice(), i);
        i
    }

    #[test]
    fn highest_priority_first_fifo_within() {
        let mut slots = Slots::new(heapless::Vec::<Slot, 8>::new());
        let mut q = Queues::new();
        let mut add = |slots: &mut Slots<_>, pri: u8| enqueue(slots, &mut q, pri);
        let a = add(&mut slots, 200);
        let b = add(&mut slots, 70);
        let c = add(&mut slots, 70);
        assert_eq!(q.highest(), Some(70));
        assert_eq!(q.front(70), b);
        q.remove(slots.as_mut_slice(), b);
        assert_eq!(q.front(70), c);
        q.remove(slots.as_mut_slice(), c);
        assert_eq!(q.highest(), Some(200));
        assert_eq!(q.front(200), a);
        q.remove(slots.as_mut_slice(), a);
        assert_eq!(q.highest(), None);
        assert_eq!(q.len, 0);
    }

    #[test]
    fn priority_zero_outside_the_bitmap_still_comes_first() {
        let mut slots = Slots::new(heapless::Vec::<Slot, 8>::new());
        let mut q = Queues::new();
        let mut add = |slots: &mut Slots<_>, pri: u8| enqueue(slots, &mut q, pri);
        let a = add(&mut slots, 1);
        let b = add(&mut slots, 0);
        let c = add(&mut slots, 0);
        let d = add(&mut slots, 64);
        assert_eq!(q.highest(), Some(0));
        assert_eq!(q.front(0), b);
        q.pop_front(slots.as_mut_slice(), 0, b);
        assert_eq!((q.highest(), q.front(0)), (Some(0), c));
        q.remove(slots.as_mut_slice(), c);
        assert_eq!((q.highest(), q.front(1)), (Some(1), a));
        q.pop_front(slots.as_mut_slice(), 1, a);
        assert_eq!((q.highest(), q.front(64)), (Some(64), d));
        q.remove(slots.as_mut_slice(), d);
        assert_eq!((q.highest(), q.len), (None, 0));
    }

    #[test]
    fn push_front_goes_ahead_of_the_queue() {
        let mut slots = Slots::new(heapless::Vec::<Slot, 8>::new());
        let mut q = Queues::new();
        let a = enqueue(&mut slots, &mut q, 70);
        let b = slots.take(0).unwrap();
        slots.get_mut(b).pri = 70;
        q.push_front(slots.as_mut_slice(), b);
        let c = slots.take(0).unwrap();
        slots.get_mut(c).pri = 3;
        q.push_front(slots.as_mut_slice(), c);
        assert_eq!((q.highest(), q.front(3), q.len), (Some(3), c, 3));
        q.pop_front(slots.as_mut_slice(), 3, c);
        assert_eq!((q.highest(), q.front(70)), (Some(70), b));
        q.pop_front(slots.as_mut_slice(), 70, b);
        assert_eq!(q.front(70), a);
        q.remove(slots.as_mut_slice(), a);
        assert_eq!((q.highest(), q.len), (None, 0));
    }

    #[test]
    fn removing_one_of_several_keeps_the_priority_nonempty() {
        for victim in 0..3 {
            let mut slots = Slots::new(heapless::Vec::<Slot, 8>::new());
            let mut q = Queues::new();
            let idx: [u32; 3] = core::array::from_fn(|_| enqueue(&mut slots, &mut q, 70));
            let low = enqueue(&mut slots, &mut q, 200);
            q.remove(slots.as_mut_slice(), idx[victim]);
            assert_eq!(q.highest(), Some(70), "removed {victim}");
            let rest: [u32; 2] = core::array::from_fn(|i| idx[if i < victim { i } else { i + 1 }]);
            assert_eq!(q.front(70), rest[0]);
            q.pop_front(slots.as_mut_slice(), 70, rest[0]);
            assert_eq!((q.highest(), q.front(70)), (Some(70), rest[1]));
            q.remove(slots.as_mut_slice(), rest[1]);
            assert_eq!((q.highest(), q.front(200)), (Some(200), low));
            q.pop_front(slots.as_mut_slice(), 200, low);
            assert_eq!((q.highest(), q.len), (None, 0));
        }
    }
}
