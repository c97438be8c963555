//! Helpers shared by the cross-crate tests in `tests/tests/`.

use eventide_core::Storage;

/// Growable test storage: doubles, like the std adapter will.
#[derive(Debug, Default)]
pub struct Grow<T>(pub Vec<T>);

impl<T> Grow<T> {
    /// Empty storage (needs no `T: Default`, unlike `Grow::default()`).
    pub fn new() -> Self {
        Grow(Vec::new())
    }
}

impl<T: Clone> Storage<T> for Grow<T> {
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

pub mod driver;
pub mod fds;
