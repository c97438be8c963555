//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventop::{Base, Builder};

/// A list callbacks append to, shared with the test.
pub type Log<T> = Arc<Mutex<Vec<T>>>;

pub fn log<T>() -> Log<T> {
    Arc::new(Mutex::new(Vec::new()))
}

pub fn push<T>(log: &Log<T>, item: T) {
    log.lock().unwrap_or_else(|p| p.into_inner()).push(item);
}

pub fn entries<T: Clone>(log: &Log<T>) -> Vec<T> {
    log.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// A bound on runs that would hang if the crate were broken: long enough for a loaded 2-core
/// machine, short enough for a failing test to finish.
pub const GUARD: Duration = Duration::from_secs(20);

/// A timeout that must not pass during a test.
pub const FAR: Duration = Duration::from_secs(30);

/// A base with the environment ignored, avoiding the backends named.
pub fn base_avoiding(avoid: &[&str]) -> eventop::Result<Base> {
    let mut b = Builder::new().env(|_| false);
    for name in avoid {
        b = b.avoid(*name);
    }
    b.build()
}

/// The backends this machine offers, as `avoid` lists that select each of them.
pub const BACKENDS: &[(&str, &[&str])] = &[
    ("epoll", &[]),
    ("poll", &["epoll"]),
    ("select", &["epoll", "poll"]),
    // Last on Linux, over libkqueue: there to be tested, not preferred.
    #[cfg(eventop_libkqueue)]
    ("kqueue", &["epoll", "poll", "select"]),
];

mod compat;
#[allow(unused_imports)]
pub use compat::*;
