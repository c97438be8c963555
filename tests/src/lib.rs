//! Helpers shared by the cross-crate tests in `tests/tests/`.

/// Growable storage: the std adapter's own.
pub use eventide::storage::Grow;

pub mod driver;
pub mod fds;
