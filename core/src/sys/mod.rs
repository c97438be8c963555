//! Hosted bindings over `libc`, without std: the real backends, the environment, the clock.
//!
//! Each backend file exports a type of the same shape (`new`, [`Backend`](crate::Backend)).

pub mod env;
