//! The core's tables and backend buffers, all growable ([`Grow`]).

use eventide_core::base::{FdEntry, Slot, Tables, Timer};
use eventide_core::sys::hosted::Buffers;
use eventide_core::sys::{poll, select};
use eventide_core::Change;

use crate::storage::Grow;

/// Every table and backend buffer in a [`Grow`].
#[derive(Debug)]
pub struct Growable;

impl Tables for Growable {
    type Slots = Grow<Slot>;
    type Fds = Grow<FdEntry>;
    type Timers = Grow<Timer>;
    type Changes = Grow<Change>;
}

impl Buffers for Growable {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    type Epoll = Grow<eventide_core::sys::epoll::Event>;
    #[cfg(any(
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "macos",
        target_os = "ios",
        eventide_libkqueue,
    ))]
    type Kqueue = Grow<eventide_core::sys::kqueue::Event>;
    type Poll = Grow<poll::Event>;
    type Select = Grow<select::Word>;
}
