//! eventop-core: libevent's event-loop core with no `std` and no allocator.
//!
//! The pieces, bottom up:
//!
//! - [`Backend`]: the vtable an I/O multiplexer implements (libevent's `eventop`), with its
//!   contract in the [`backend`] module docs; [`sys`] has epoll, kqueue, poll and select over `libc`
//!   (feature `hosted`).
//! - [`selection`]: an ordered table of backends and libevent's rules for picking one.
//! - [`Changelist`]: interest changes coalesced per fd between dispatches.
//! - [`Storage`]: every table lives in a buffer the caller supplies; full fixed storage is an error
//!   (or, for the changelist, a flush), never a panic and never a silent loss.
//!
//! - [`base::EventBase`]: libevent's event loop over a backend, a [`clock::Clock`] and four
//!   tables of caller storage, driven step by step so callbacks run with no borrow of it held.
//!
//! Errors are small `Copy` values: [`Error`], and [`selection::NoBackend`].
//!
//! ```
//! # #[cfg(target_os = "linux")] {
//! use core::time::Duration;
//! use eventop_core::base::{EventBase, Fixed, Parts, Spec, Step};
//! use eventop_core::sys::{clock::Monotonic, hosted::{FixedBuffers, Hosted}};
//! use eventop_core::{selection::Config, LoopFlags, What};
//!
//! let backend = Hosted::<FixedBuffers<64>>::select(&Config::default()).unwrap().backend;
//! let mut base = EventBase::new(backend, Monotonic, Parts::<Fixed<64>>::default(), Default::default());
//! let tick = Spec { fd: -1, events: What::PERSIST, priority: 0, token: 1 };
//! base.add(None, &tick, Some(Duration::from_millis(1))).unwrap();
//! base.start(LoopFlags::empty()).unwrap();
//! let mut n = 0;
//! while let Ok(Step::Run(ev)) = base.step() {
//!     assert_eq!(ev.token, 1);
//!     n += 1;
//!     if n == 3 {
//!         base.loopbreak(); // what a callback does: call into the base
//!     }
//! }
//! assert_eq!(n, 3);
//! # }
//! ```
#![no_std]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[macro_use]
mod log;

pub mod backend;
pub mod base;
pub mod changelist;
pub mod clock;
mod error;
mod flags;
pub mod fork;
pub mod selection;
mod storage;
#[cfg(feature = "hosted")]
pub mod sys;
#[cfg(test)]
mod testing;

#[cfg(test)]
extern crate std;

pub use backend::{Backend, Change, ChangeOp, FdInfo, Info, Signals, Sink};
pub use changelist::Changelist;
pub use error::{Errno, Error, Operation, Resource};
pub use flags::{BaseFlags, Features, LoopFlags, What};
pub use storage::Storage;

/// A file descriptor (or, for a signal event, the signal number).
pub type RawFd = i32;

/// With the feature `defmt`, the values a program logs are `defmt::Format` (as the README says):
/// checked when the crate builds.
#[cfg(feature = "defmt")]
const _: fn() = || {
    fn format<T: defmt::Format>() {}
    format::<(What, BaseFlags, LoopFlags, Features, Error, Resource, Errno)>();
    format::<(
        base::Handle,
        base::Spec,
        base::Ready,
        base::Step,
        base::Outcome,
    )>();
    format::<(base::Counts, base::EventInfo, selection::Config<'static>)>();
    format::<(
        Change,
        ChangeOp,
        FdInfo,
        Info,
        base::timers::Timer,
        clock::ManualClock,
    )>();
};
