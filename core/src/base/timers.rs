//! The event base's timers: a 4-ary min-heap of deadlines, in storage the caller supplies.
//!
//! Entries are ordered by `(deadline, seq)`, where `seq` is the order in which a deadline was set:
//! timers with equal deadlines fire first-in, first-out. (libevent's heap does not promise that;
//! 40 timers with one timeout fire 0, 39, 38, … there. Ours fire 0, 1, 2, ….)
//!
//! Each entry keeps its deadline next to its slot, so an operation compares entries without
//! looking at the slots; four children a node halve the depth of a binary heap (libev's choice).
//! The owner of each timer (an event slot) must find its entry again to delete or re-arm it, so
//! every operation that moves entries reports each move through a `moved(slot, index)` callback;
//! the owner stores the index and hands it back to [`TimerHeap::remove`] or
//! [`TimerHeap::reschedule`]. The callback may also be told an index that did not change; it is
//! never told about an entry that was just removed.
//!
//! Push, remove, reschedule and pop are O(log n); peek, len and clear are O(1). Full fixed storage
//! is [`Error::Full`]`(`[`Resource::Timers`]`)` with the heap unchanged, never a panic.

use crate::{Error, Resource, Storage};

/// One pending deadline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timer {
    /// When it expires: nanoseconds on the base's monotonic clock.
    pub deadline: u64,
    /// When its deadline was set (push or reschedule), counted per heap, wrapping: among equal
    /// deadlines the earlier `seq` fires first (see [`TimerHeap`]).
    pub seq: u32,
    /// The event slot that owns it.
    pub slot: u32,
}

/// Whether `a` fires before `b`: the deadlines compared first, the `seq`s only when they are
/// equal (rare but for timers armed together with one timeout).
#[inline(always)]
fn before(a: &Timer, b: &Timer) -> bool {
    a.deadline < b.deadline || (a.deadline == b.deadline && seq_before(a.seq, b.seq))
}

/// Whether `a` was taken before `b` from a counter that wraps: the two are taken less than 2^31
/// settings apart.
#[inline(always)]
pub(crate) fn seq_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Children per node.
const ARITY: usize = 4;

/// The parent of the entry at `i > 0`.
#[inline(always)]
fn parent(i: usize) -> usize {
    (i - 1) / ARITY
}

/// Indices are reported as `u32`, so the heap holds at most this many entries (then it is full).
const MAX_LEN: usize = u32::MAX as usize;

/// A 4-ary min-heap of [`Timer`]s ordered by `(deadline, seq)`, over caller-supplied storage.
///
/// `seq` is a `u32` counter bumped once per push or reschedule, compared as a wrapping counter:
/// right for any two timers set less than 2^31 settings apart. Only equal deadlines compare their
/// `seq`s, so a wrong order needs a timer pending over 2^31 settings and another set since for the
/// very same nanosecond; it swaps the two, nothing else.
#[derive(Debug)]
pub struct TimerHeap<S> {
    storage: S,
    len: usize,
    next_seq: u32,
}

impl<S: Storage<Timer>> TimerHeap<S> {
    /// An empty heap over `storage` (whatever it holds now is ignored).
    pub fn new(storage: S) -> Self {
        TimerHeap {
            storage,
            len: 0,
            next_seq: 0,
        }
    }

    /// How many timers are pending.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The earliest timer (smallest `(deadline, seq)`), if any. O(1).
    #[inline]
    pub fn peek(&self) -> Option<Timer> {
        self.as_slice().first().copied()
    }

    /// The earliest timer but the root: the least of the root's children. O(1).
    #[inline]
    pub(crate) fn least_child_of_root(&self) -> Option<Timer> {
        first_child(self.as_slice(), 0).map(|(_, t)| t)
    }

    /// All pending timers, in heap order (index `i` is the entry at index `i`).
    #[inline]
    pub fn as_slice(&self) -> &[Timer] {
        // `len <= storage.capacity()` always holds; the fallback is never taken.
        self.storage.as_slice().get(..self.len).unwrap_or(&[])
    }

    /// Drops every pending timer. O(1). The `seq` counter keeps counting.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Takes a fresh `seq` without setting a deadline in the heap: for a timer its owner keeps
    /// elsewhere in the same order (behind every deadline set before it).
    #[inline]
    pub(crate) fn take_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }

    /// Sets the `seq` counter: for tests of its wrap.
    #[cfg(test)]
    pub(crate) fn set_next_seq(&mut self, seq: u32) {
        self.next_seq = seq;
    }

    /// Makes the storage hold at least `n` entries, growing it if it can; whether it does. The
    /// owner counts timers it keeps elsewhere against the same storage, so capacity means the same
    /// wherever a timer lives.
    #[inline]
    pub(crate) fn reserve(&mut self, n: usize) -> bool {
        n <= MAX_LEN
            && (n <= self.storage.capacity()
                || (self.storage.grow(n, Timer::default()) && self.storage.capacity() >= n))
    }

    /// Adds a timer for `slot` expiring at `deadline`. `moved(slot, index)` is called for every
    /// entry whose index changes, the new one included (always, even if it stays at the end).
    /// When the storage is full and cannot grow, returns
    /// [`Error::Full`]`(`[`Resource::Timers`]`)`, calls `moved` for nothing and changes nothing.
    /// O(log n).
    #[inline]
    pub fn push(
        &mut self,
        deadline: u64,
        slot: u32,
        moved: &mut impl FnMut(u32, u32),
    ) -> Result<(), Error> {
        let hole = self.len;
        // `len` grows by one at a time, so `==` is the cap (and `>=` trips a lint on 32-bit).
        if hole == MAX_LEN
            || (hole >= self.storage.capacity() && !self.storage.grow(hole + 1, Timer::default()))
        {
            return Err(Error::Full(Resource::Timers));
        }
        // `grow` said yes; a storage that lied still gets an error, not a panic.
        let heap = self
            .storage
            .as_mut_slice()
            .get_mut(..=hole)
            .ok_or(Error::Full(Resource::Timers))?;
        let timer = Timer {
            deadline,
            seq: self.next_seq,
            slot,
        };
        sift_up(heap, hole, timer, moved);
        self.len = hole + 1;
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(())
    }

    /// Removes the entry at `index` (as last reported through `moved`) and returns it; `None` if
    /// `index` is out of range. The entry that takes its place is reported through `moved`.
    /// O(log n).
    #[inline]
    pub fn remove(&mut self, index: u32, moved: &mut impl FnMut(u32, u32)) -> Option<Timer> {
        let index = index as usize;
        let last = self.len.checked_sub(1)?;
        let heap = self.storage.as_mut_slice().get_mut(..=last)?;
        let removed = *heap.get(index)?;
        let tail = *heap.get(last)?;
        self.len = last;
        if index < last {
            // The old last entry fills the hole, within the shortened heap: the hole first sinks
            // to a leaf along the earlier children, then the entry rises from there as far as it
            // must (it came from the bottom, so mostly not far: fewer comparisons than sifting it
            // down from the top).
            if let Some(heap) = heap.get_mut(..last) {
                let hole = sink(heap, index, moved);
                sift_up(heap, hole, tail, moved);
            }
        }
        Some(removed)
    }

    /// Gives the entry at `index` a new `deadline` and a fresh `seq`, so it queues behind the
    /// timers already set for that deadline, as a new timer would. Moves are reported through
    /// `moved`. Returns `false` (and changes nothing) if `index` is out of range. O(log n).
    #[inline]
    pub fn reschedule(
        &mut self,
        index: u32,
        deadline: u64,
        moved: &mut impl FnMut(u32, u32),
    ) -> bool {
        let index = index as usize;
        let Some(heap) = self.storage.as_mut_slice().get_mut(..self.len) else {
            return false;
        };
        let Some(&old) = heap.get(index) else {
            return false;
        };
        let timer = Timer {
            deadline,
            seq: self.next_seq,
            slot: old.slot,
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        restore(heap, index, timer, moved);
        true
    }

    /// Removes and returns the earliest timer if its deadline is at or before `now`.
    /// O(log n) when it pops, O(1) when nothing is due.
    #[inline]
    pub fn pop_due(&mut self, now: u64, moved: &mut impl FnMut(u32, u32)) -> Option<Timer> {
        match self.peek() {
            Some(t) if t.deadline <= now => self.remove(0, moved),
            _ => None,
        }
    }
}

/// Puts `timer` into the hole at `hole` (whose old value is dropped) and sifts it whichever way
/// the heap order needs.
#[inline]
fn restore(heap: &mut [Timer], hole: usize, timer: Timer, moved: &mut impl FnMut(u32, u32)) {
    let up = hole
        .checked_sub(1)
        .and_then(|i| heap.get(i / ARITY))
        .is_some_and(|parent| before(&timer, parent));
    if up {
        sift_up(heap, hole, timer, moved);
    } else {
        sift_down(heap, hole, timer, moved);
    }
}

/// Moves the hole at `hole` up past every parent that fires after `timer`, then fills it with
/// `timer`. Reports every entry it moves, and `timer`'s final index.
#[inline]
fn sift_up(heap: &mut [Timer], mut hole: usize, timer: Timer, moved: &mut impl FnMut(u32, u32)) {
    while hole > 0 {
        let up = parent(hole);
        let Some(&p) = heap.get(up) else { break };
        if !before(&timer, &p) {
            break;
        }
        put(heap, hole, p, moved);
        hole = up;
    }
    put(heap, hole, timer, moved);
}

/// Moves the hole at `hole` down past every child that fires before `timer`, then fills it with
/// `timer`. Reports every entry it moves, and `timer`'s final index.
#[inline]
fn sift_down(heap: &mut [Timer], mut hole: usize, timer: Timer, moved: &mut impl FnMut(u32, u32)) {
    while let Some((down, child)) = first_child(heap, hole) {
        if !before(&child, &timer) {
            break;
        }
        put(heap, hole, child, moved);
        hole = down;
    }
    put(heap, hole, timer, moved);
}

/// Moves the hole at `hole` down to a leaf, each time filling it with its earliest child; returns
/// where it ends. Reports every entry it moves.
#[inline]
fn sink(heap: &mut [Timer], mut hole: usize, moved: &mut impl FnMut(u32, u32)) -> usize {
    let full = full_parents(heap);
    while hole < full {
        let first = ARITY * hole + 1;
        // SAFETY: `hole < full`, so `first + 3 = ARITY * hole + ARITY < heap.len()`.
        let four = unsafe { &*heap.as_ptr().add(first).cast::<[Timer; ARITY]>() };
        let (down, &child) = least_of_four(first, four);
        put(heap, hole, child, moved);
        hole = down;
    }
    // At the last parent, which may have fewer children, or a leaf.
    if let Some((down, child)) = first_child(heap, hole) {
        put(heap, hole, child, moved);
        hole = down;
    }
    hole
}

/// How many entries, from the root on, have all four children: those at `i` with
/// `ARITY * i + ARITY < heap.len()`.
#[inline(always)]
fn full_parents(heap: &[Timer]) -> usize {
    heap.len().saturating_sub(1) / ARITY
}

/// The earliest of the four children `kids` of an entry, the first of them at index `first`, and
/// its index: a tournament.
#[inline(always)]
fn least_of_four(first: usize, kids: &[Timer; ARITY]) -> (usize, &Timer) {
    let [a, b, c, d] = kids;
    let x = if before(b, a) {
        (first + 1, b)
    } else {
        (first, a)
    };
    let y = if before(d, c) {
        (first + 3, d)
    } else {
        (first + 2, c)
    };
    if before(y.1, x.1) {
        y
    } else {
        x
    }
}

/// The earliest child of the entry at `i`, and its index; `None` for a leaf.
#[inline(always)]
fn first_child(heap: &[Timer], i: usize) -> Option<(usize, Timer)> {
    // No overflow: `i < heap.len() <= isize::MAX / size_of::<Timer>()`.
    let first = ARITY * i + 1;
    let kids = heap.get(first..)?;
    if let Some(four) = kids.first_chunk::<ARITY>() {
        let (at, &t) = least_of_four(first, four);
        return Some((at, t));
    }
    // The last parent may have fewer.
    let mut min = (0, kids.first()?);
    for (j, kid) in kids.iter().enumerate().skip(1) {
        if before(kid, min.1) {
            min = (j, kid);
        }
    }
    Some((first + min.0, *min.1))
}

/// Stores `timer` at `index` and reports it. `index` is always in range: the callers pass the
/// hole they were given (an index checked against the heap by `push`, `remove` or `reschedule`),
/// a parent of it they have just read, or a child `first_child` found in the heap.
#[inline(always)]
fn put(heap: &mut [Timer], index: usize, timer: Timer, moved: &mut impl FnMut(u32, u32)) {
    debug_assert!(index < heap.len());
    // SAFETY: `index < heap.len()`, as every caller ensures (see above); unchecked, the sift
    // loops do no bounds check of their own per level.
    *unsafe { heap.get_unchecked_mut(index) } = timer;
    // `index < len <= MAX_LEN`, so it fits.
    moved(timer.slot, index as u32);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::vec::Vec;

    type Fixed = heapless::Vec<Timer, 8>;

    /// Growable storage, as the std adapter would supply.
    type Grow = crate::testing::GrowVec<Timer>;

    /// Storage whose `grow` says yes and does nothing.
    struct Liar;

    impl Storage<Timer> for Liar {
        fn as_slice(&self) -> &[Timer] {
            &[]
        }
        fn as_mut_slice(&mut self) -> &mut [Timer] {
            &mut []
        }
        fn grow(&mut self, _: usize, _: Timer) -> bool {
            true
        }
    }

    /// Tracks each slot's index as `moved` reports it.
    #[derive(Default)]
    struct Index(HashMap<u32, u32>);

    impl Index {
        fn f(&mut self) -> impl FnMut(u32, u32) + '_ {
            |slot, index| {
                self.0.insert(slot, index);
            }
        }
        fn of(&self, slot: u32) -> u32 {
            self.0[&slot]
        }
    }

    fn check<S: Storage<Timer>>(heap: &TimerHeap<S>, idx: &Index) {
        let s = heap.as_slice();
        assert_eq!(s.len(), heap.len());
        for (i, t) in s.iter().enumerate().skip(1) {
            assert!(!before(t, &s[parent(i)]), "heap order broken at {i}");
        }
        for t in s {
            assert_eq!(s[idx.of(t.slot) as usize].slot, t.slot);
        }
    }

    /// Pops one due timer and forgets its index.
    fn pop<S: Storage<Timer>>(heap: &mut TimerHeap<S>, now: u64, idx: &mut Index) -> Option<Timer> {
        let t = heap.pop_due(now, &mut idx.f())?;
        idx.0.remove(&t.slot);
        Some(t)
    }

    fn drain<S: Storage<Timer>>(heap: &mut TimerHeap<S>, now: u64, idx: &mut Index) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some(t) = pop(heap, now, idx) {
            check(heap, idx);
            out.push(t.slot);
        }
        out
    }

    #[test]
    fn empty_heap() {
        let mut h = TimerHeap::new(Fixed::new());
        let mut idx = Index::default();
        assert!(h.is_empty());
        assert_eq!(h.peek(), None);
        assert_eq!(h.pop_due(u64::MAX, &mut idx.f()), None);
        assert_eq!(h.remove(0, &mut idx.f()), None);
        assert!(!h.reschedule(0, 5, &mut idx.f()));
        assert!(h.as_slice().is_empty());
        assert!(idx.0.is_empty());
    }

    #[test]
    fn equal_deadlines_stay_first_in_first_out_across_the_seq_wrap() {
        let mut h = TimerHeap::new(Grow::default());
        h.next_seq = u32::MAX - 2;
        let mut idx = Index::default();
        for slot in 0..6 {
            h.push(7, slot, &mut idx.f()).unwrap();
            check(&h, &idx);
        }
        assert_eq!(h.peek().map(|t| t.seq), Some(u32::MAX - 2));
        assert_eq!(drain(&mut h, 7, &mut idx), [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn pops_in_deadline_order() {
        let mut h = TimerHeap::new(Grow::default());
        let mut idx = Index::default();
        for (slot, d) in [50u64, 10, 40, 20, 30, 0, 60].into_iter().enumerate() {
            h.push(d, slot as u32, &mut idx.f()).unwrap();
            check(&h, &idx);
        }
        assert_eq!(h.peek().map(|t| t.slot), Some(5));
        assert!(!h.is_empty());
        assert_eq!(drain(&mut h, 25, &mut idx), [5, 1, 3]);
        assert_eq!(h.peek().map(|t| t.deadline), Some(30));
        assert_eq!(drain(&mut h, u64::MAX, &mut idx), [4, 2, 0, 6]);
        assert!(h.is_empty());
    }

    #[test]
    fn pop_due_is_inclusive_of_now() {
        let mut h = TimerHeap::new(Fixed::new());
        let mut idx = Index::default();
        h.push(100, 1, &mut idx.f()).unwrap();
        assert_eq!(h.pop_due(99, &mut idx.f()), None);
        assert_eq!(h.len(), 1);
        let t = h.pop_due(100, &mut idx.f()).unwrap();
        assert_eq!((t.deadline, t.slot), (100, 1));
    }

    #[test]
    fn equal_deadlines_fire_fifo() {
        // libevent fires these 0, 39, 38, …; we fire them in the order they were added.
        let mut h = TimerHeap::new(Grow::default());
        let mut idx = Index::default();
        for slot in 0..40 {
            h.push(7, slot, &mut idx.f()).unwrap();
        }
        check(&h, &idx);
        assert_eq!(drain(&mut h, 7, &mut idx), (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn push_reports_the_new_entry_even_at_the_end() {
        let mut h = TimerHeap::new(Fixed::new());
        let mut idx = Index::default();
        h.push(1, 10, &mut idx.f()).unwrap();
        h.push(2, 11, &mut idx.f()).unwrap();
        assert_eq!(idx.of(10), 0);
        assert_eq!(idx.of(11), 1);
        // An earlier one swaps with the root; both are reported.
        h.push(0, 12, &mut idx.f()).unwrap();
        assert_eq!((idx.of(12), idx.of(10), idx.of(11)), (0, 2, 1));
        check(&h, &idx);
    }

    #[test]
    fn reschedule_queues_behind_existing_ties() {
        let mut h = TimerHeap::new(Fixed::new());
        let mut idx = Index::default();
        for slot in 0..4 {
            h.push(10, slot, &mut idx.f()).unwrap();
        }
        // Re-arming slot 0 for the same deadline sends it to the back of the queue.
        assert!(h.reschedule(idx.of(0), 10, &mut idx.f()));
        check(&h, &idx);
        // Moving slot 3 earlier puts it first.
        assert!(h.reschedule(idx.of(3), 5, &mut idx.f()));
        check(&h, &idx);
        // Moving slot 1 later puts it last.
        assert!(h.reschedule(idx.of(1), 20, &mut idx.f()));
        check(&h, &idx);
        assert_eq!(drain(&mut h, 100, &mut idx), [3, 2, 0, 1]);
        assert!(!h.reschedule(0, 1, &mut idx.f()));
    }

    #[test]
    fn remove_from_the_middle() {
        let mut h = TimerHeap::new(Grow::default());
        let mut idx = Index::default();
        for slot in 0..20u32 {
            h.push(u64::from((slot * 7) % 20), slot, &mut idx.f())
                .unwrap();
        }
        for slot in [3u32, 11, 0, 19] {
            let t = h.remove(idx.of(slot), &mut idx.f()).unwrap();
            assert_eq!(t.slot, slot);
            idx.0.remove(&slot);
            check(&h, &idx);
        }
        assert_eq!(h.remove(h.len() as u32, &mut idx.f()), None);
        assert_eq!(h.len(), 16);
        let order = drain(&mut h, u64::MAX, &mut idx);
        let mut want: Vec<u32> = (0..20).filter(|s| ![3, 11, 0, 19].contains(s)).collect();
        want.sort_by_key(|&s| (s * 7) % 20);
        assert_eq!(order, want);
    }

    #[test]
    fn removing_the_last_entry_reports_nothing() {
        let mut h = TimerHeap::new(Fixed::new());
        let mut idx = Index::default();
        h.push(1, 1, &mut idx.f()).unwrap();
        h.push(2, 2, &mut idx.f()).unwrap();
        let mut calls = 0;
        assert_eq!(h.remove(1, &mut |_, _| calls += 1).map(|t| t.slot), Some(2));
        assert_eq!(calls, 0);
        assert_eq!(h.as_slice().len(), 1);
    }

    #[test]
    fn fixed_storage_is_full_at_capacity_and_unchanged() {
        let mut h = TimerHeap::new(Fixed::new());
        let mut idx = Index::default();
        for slot in 0..8 {
            h.push(100 - u64::from(slot), slot, &mut idx.f()).unwrap();
        }
        let before: Vec<Timer> = h.as_slice().to_vec();
        let mut calls = 0;
        assert_eq!(
            h.push(0, 99, &mut |_, _| calls += 1),
            Err(Error::Full(Resource::Timers))
        );
        assert_eq!(calls, 0);
        assert_eq!(h.as_slice(), &before[..]);
        // Room again once one is gone.
        let t = h.pop_due(u64::MAX, &mut idx.f()).unwrap();
        idx.0.remove(&t.slot);
        h.push(0, 99, &mut idx.f()).unwrap();
        check(&h, &idx);
        assert_eq!(h.peek().map(|t| t.slot), Some(99));
    }

    #[test]
    fn zero_and_lying_storage_are_errors_not_panics() {
        let mut h = TimerHeap::new(&mut [][..]);
        assert_eq!(
            h.push(1, 1, &mut |_, _| ()),
            Err(Error::Full(Resource::Timers))
        );
        assert!(h.is_empty());
        let mut h = TimerHeap::new(Liar);
        assert_eq!(
            h.push(1, 1, &mut |_, _| ()),
            Err(Error::Full(Resource::Timers))
        );
        assert!(h.is_empty());
        assert!(
            !h.reserve(1),
            "a storage that says yes without growing has no room"
        );
        assert!(h.reserve(0));
    }

    #[test]
    fn slice_storage_and_clear() {
        let mut buf = [Timer::default(); 3];
        let mut h = TimerHeap::new(&mut buf[..]);
        let mut idx = Index::default();
        for slot in 0..3 {
            h.push(5, slot, &mut idx.f()).unwrap();
        }
        assert!(h.push(5, 3, &mut idx.f()).is_err());
        h.clear();
        assert!(h.is_empty());
        assert_eq!(h.peek(), None);
        h.push(9, 4, &mut idx.f()).unwrap();
        assert_eq!(h.as_slice().len(), 1);
        // seq kept counting across the clear (the refused push used none): the new entry is
        // behind everything set before.
        assert_eq!(h.peek().map(|t| t.seq), Some(3));
    }

    // ---- model-based property test ----

    #[derive(Clone, Debug)]
    enum Op {
        /// Push with `deadline = now + delta`.
        Push(u64),
        /// Remove the live entry the index picks.
        Remove(prop::sample::Index),
        /// Reschedule the live entry the index picks to `now + delta`.
        Reschedule(prop::sample::Index, u64),
        /// Advance `now` by the amount, then pop everything due.
        PopDue(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Small deltas make ties common.
        prop_oneof![
            4 => (0u64..8).prop_map(Op::Push),
            2 => any::<prop::sample::Index>().prop_map(Op::Remove),
            2 => (any::<prop::sample::Index>(), 0u64..8).prop_map(|(i, d)| Op::Reschedule(i, d)),
            2 => (0u64..6).prop_map(Op::PopDue),
        ]
    }

    /// The live timers sorted by `(deadline, seq)`: the order they must pop in.
    #[derive(Default)]
    struct Model {
        live: Vec<Timer>,
        next_seq: u32,
    }

    impl Model {
        fn insert(&mut self, t: Timer) {
            let at = self.live.partition_point(|x| before(x, &t));
            self.live.insert(at, t);
        }
    }

    fn run<S: Storage<Timer>>(storage: S, cap: Option<usize>, ops: &[Op]) {
        let mut h = TimerHeap::new(storage);
        let mut idx = Index::default();
        let mut m = Model::default();
        let mut now = 0u64;
        let mut next_slot = 0u32;
        for op in ops {
            match *op {
                Op::Push(delta) => {
                    let t = Timer {
                        deadline: now + delta,
                        seq: m.next_seq,
                        slot: next_slot,
                    };
                    next_slot += 1;
                    if cap == Some(m.live.len()) {
                        let before: Vec<Timer> = h.as_slice().to_vec();
                        let mut calls = 0;
                        let r = h.push(t.deadline, t.slot, &mut |_, _| calls += 1);
                        assert_eq!(r, Err(Error::Full(Resource::Timers)));
                        assert_eq!(calls, 0);
                        assert_eq!(h.as_slice(), &before[..]);
                    } else {
                        h.push(t.deadline, t.slot, &mut idx.f()).unwrap();
                        m.next_seq += 1;
                        m.insert(t);
                    }
                }
                Op::Remove(pick) => {
                    if m.live.is_empty() {
                        assert_eq!(h.remove(0, &mut idx.f()), None);
                        continue;
                    }
                    let want = m.live.remove(pick.index(m.live.len()));
                    let at = idx.0.remove(&want.slot).unwrap();
                    let mut moved = Vec::new();
                    let got = h.remove(at, &mut |s, i| moved.push((s, i)));
                    assert_eq!(got, Some(want));
                    for (s, i) in moved {
                        assert_ne!(s, want.slot, "moved reported a removed entry");
                        idx.0.insert(s, i);
                    }
                }
                Op::Reschedule(pick, delta) => {
                    if m.live.is_empty() {
                        assert!(!h.reschedule(0, now, &mut idx.f()));
                        continue;
                    }
                    let mut t = m.live.remove(pick.index(m.live.len()));
                    t.deadline = now + delta;
                    t.seq = m.next_seq;
                    m.next_seq += 1;
                    assert!(h.reschedule(idx.of(t.slot), t.deadline, &mut idx.f()));
                    m.insert(t);
                }
                Op::PopDue(step) => {
                    now += step;
                    let due = m.live.partition_point(|t| t.deadline <= now);
                    let want: Vec<Timer> = m.live.drain(..due).collect();
                    let mut got = Vec::new();
                    while let Some(t) = pop(&mut h, now, &mut idx) {
                        check(&h, &idx);
                        got.push(t);
                    }
                    assert_eq!(got, want);
                }
            }
            assert_eq!(h.len(), m.live.len());
            assert_eq!(h.peek(), m.live.first().copied());
            assert_eq!(idx.0.len(), m.live.len());
            check(&h, &idx);
        }
        // Whatever is left pops in model order, ties first-in first-out.
        let mut rest = Vec::new();
        while let Some(t) = h.pop_due(u64::MAX, &mut idx.f()) {
            rest.push(t);
        }
        assert_eq!(rest, m.live);
        for w in rest.windows(2) {
            assert!(w[0].deadline < w[1].deadline || w[0].seq < w[1].seq);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn matches_model_with_growable_storage(ops in prop::collection::vec(op(), 0..200)) {
            run(Grow::default(), None, &ops);
        }

        #[test]
        fn matches_model_with_fixed_storage(ops in prop::collection::vec(op(), 0..200)) {
            run(Fixed::new(), Some(8), &ops);
        }
    }
}
