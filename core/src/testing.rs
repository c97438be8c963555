//! Storage that doubles, as the std adapter's does: for tests and the chain example.
//!
//! The core has no allocator, so this lives outside it: the crate's tests and
//! `examples/chain.rs` (through `#[path]`) include this one file.

use std::vec::Vec;

use super::Storage;

/// A `Vec` that at least doubles when asked to grow.
pub struct GrowVec<T>(pub Vec<T>);

impl<T> Default for GrowVec<T> {
    fn default() -> Self {
        GrowVec(Vec::new())
    }
}

impl<T: Clone> Storage<T> for GrowVec<T> {
    fn as_slice(&self) -> &[T] {
        &self.0
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.0
    }
    fn grow(&mut self, min_len: usize, fill: T) -> bool {
        if self.0.len() < min_len {
            let len = min_len.max(self.0.len() * 2);
            self.0.resize(len, fill);
        }
        true
    }
}
