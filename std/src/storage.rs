//! Growable storage for the core's tables: the std adapter's growth policy.
//!
//! The policy: a table starts empty, takes what is first asked of it, and afterwards grows by at
//! least a quarter (and 4), so n insertions cost O(n) copies in all, and at most a fifth of a
//! table is room never used (libevent doubles: up to half, for a memory per event that depends
//! on luck). It never shrinks. It is bounded by
//! [`MAX_LEN`] elements (and by memory): past that, or if memory runs out, the core sees a full
//! table and reports [`Error::Full`](eventop_core::Error::Full), which this crate turns into
//! `io::ErrorKind::QuotaExceeded` (see the crate docs, "Errors"). A std user therefore never
//! sees a capacity error that memory could have avoided.

use eventop_core::Storage;

/// The most elements one table may hold: 2³⁰ (libevent stops fds at `INT_MAX / 2` too).
pub const MAX_LEN: usize = 1 << 30;

/// A `Vec` that grows by a quarter when the core asks for more room.
#[derive(Debug)]
pub struct Grow<T>(Vec<T>);

impl<T> Grow<T> {
    /// Empty storage: it takes memory when the core first asks.
    pub const fn new() -> Self {
        Grow(Vec::new())
    }
}

impl<T> Default for Grow<T> {
    fn default() -> Self {
        Grow::new()
    }
}

impl<T: Clone> Storage<T> for Grow<T> {
    #[inline]
    fn as_slice(&self) -> &[T] {
        &self.0
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.0
    }
    fn grow(&mut self, min_len: usize, fill: T) -> bool {
        let len = self.0.len();
        if min_len <= len {
            return true;
        }
        if min_len > MAX_LEN {
            return false;
        }
        let step = if len == 0 { 0 } else { len / 4 + 4 };
        let target = min_len.max(len.saturating_add(step)).min(MAX_LEN);
        if self.0.try_reserve_exact(target - len).is_err() {
            return false;
        }
        self.0.resize(target, fill);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_by_a_quarter_and_is_bounded() {
        let mut g = Grow::<u8>::default();
        assert!(g.grow(3, 0));
        assert_eq!(g.capacity(), 3);
        assert!(g.grow(4, 0));
        assert_eq!(g.capacity(), 7);
        assert!(g.grow(20, 0));
        assert_eq!(g.capacity(), 20);
        assert!(!g.grow(MAX_LEN + 1, 0));
        assert_eq!(g.capacity(), 20);
    }
}
