//! Storage the caller supplies: a buffer of `T` that may or may not grow.
//!
//! The core never allocates. Each table it keeps (changelist, backend buffers, event slots, fd map,
//! timer heap) lives in a [`Storage`] the caller hands in, and its length is the table's capacity:
//! the core tracks how much of it is in use. When it needs more room it asks [`Storage::grow`], and
//! the storage decides. A `&mut [T]` never grows, a `heapless::Vec<T, N>` grows up to `N`, and the
//! std adapter's growable storage doubles (its growth policy lives there, not here).

/// A buffer of `T` whose length is the room available to the core.
pub trait Storage<T> {
    /// The whole buffer.
    fn as_slice(&self) -> &[T];
    /// The whole buffer, mutably.
    fn as_mut_slice(&mut self) -> &mut [T];
    /// Makes the buffer at least `min_len` long, filling new elements with `fill`; it may grow
    /// further (the storage's policy). Never shrinks and never moves existing elements' values.
    /// Returns whether the buffer is now at least `min_len` long.
    fn grow(&mut self, min_len: usize, fill: T) -> bool;

    /// The room in the buffer: its length, of which the core tracks how much is in use (not
    /// `Vec::len`'s "elements in use").
    fn capacity(&self) -> usize {
        self.as_slice().len()
    }
    /// Whether the buffer has no room at all.
    fn is_empty(&self) -> bool {
        self.capacity() == 0
    }
}

impl<T> Storage<T> for &mut [T] {
    fn as_slice(&self) -> &[T] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
    fn grow(&mut self, min_len: usize, _fill: T) -> bool {
        <[T]>::len(self) >= min_len
    }
}

/// Grows to `N` at once: the memory is reserved already, so there is nothing to save by waiting.
impl<T: Clone, const N: usize> Storage<T> for heapless::Vec<T, N> {
    fn as_slice(&self) -> &[T] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
    fn grow(&mut self, min_len: usize, fill: T) -> bool {
        if min_len > N {
            return false;
        }
        if self.len() < min_len {
            // Cannot fail: N >= min_len > len.
            let _ = self.resize(N, fill);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_never_grows() {
        let mut buf = [0u8; 4];
        let mut s: &mut [u8] = &mut buf;
        assert!(s.grow(4, 0));
        assert!(!s.grow(5, 0));
        assert_eq!(Storage::capacity(&s), 4);
    }

    #[test]
    fn heapless_grows_to_capacity_and_keeps_values() {
        let mut v: heapless::Vec<u8, 8> = heapless::Vec::new();
        assert!(v.is_empty());
        assert!(v.grow(2, 7));
        assert_eq!(Storage::capacity(&v), 8);
        v.as_mut_slice()[0] = 1;
        assert!(v.grow(8, 9));
        assert_eq!(v.as_slice()[..2], [1, 7]);
        assert!(!v.grow(9, 0));
        assert_eq!(Storage::capacity(&v), 8);
    }
}
