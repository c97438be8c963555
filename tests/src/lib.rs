//! Helpers shared by the cross-crate tests in `tests/tests/`.

/// Growable storage: the std adapter's own.
pub use eventop::storage::Grow;

pub mod bounded;
pub mod clib;
pub mod driver;
pub mod fds;
pub mod kinds;

/// The top-level README's code, compiled and run as doctests so it stays true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
