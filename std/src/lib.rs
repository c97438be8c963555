//! eventop: libevent's event loop for Rust programs.
//!
//! A [`Base`] waits for I/O, timeouts, signals and events activated by hand, and calls a
//! closure for each. Callbacks get the base itself, so they can add, delete, activate and free
//! events (their own included) and stop the loop, and `&mut D`, the data lent to
//! [`run`](Base::run), which every callback shares.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//! use eventop::{Base, Interest, Mode, Readiness, TimeoutAction};
//!
//! #[derive(Default)]
//! struct Seen { bytes: Vec<u8>, ticks: u32 }
//!
//! let mut base = Base::<Seen>::new()?;
//! let (mut a, b) = UnixStream::pair()?;
//! // The base owns `b` and lends it to the callback.
//! let reader = base.new_io(b, Interest::READ, Mode::Level, |base, seen, ev, ready, b| {
//!     assert_eq!(ready, Readiness::READ);
//!     let mut buf = [0; 16];
//!     let n = b.read(&mut buf).unwrap();
//!     seen.bytes.extend_from_slice(&buf[..n]);
//!     base.del(ev).unwrap(); // a callback may delete (or free) its own event
//! })?;
//! base.new_timer(Duration::from_millis(1), |_, seen, _| {
//!     seen.ticks += 1;
//!     if seen.ticks < 3 {
//!         TimeoutAction::ToDuration(Duration::from_millis(1))
//!     } else {
//!         TimeoutAction::Drop
//!     }
//! })?;
//! a.write_all(b"hello")?;
//! let mut seen = Seen::default();
//! base.run(&mut seen)?; // returns once nothing is pending
//! assert_eq!((&seen.bytes[..], seen.ticks), (&b"hello"[..], 3));
//! let b = base.take_source(reader)?; // the stream, back from the base
//! # drop(b);
//! # Ok::<(), eventop::Error>(())
//! ```
//!
//! Beyond libevent: [`Waker`] wakes a loop or hands it work from another thread, with no global
//! threading switch, and the base is `Send`. A base nests in another loop through its fd
//! ([`Base::into_pollable`], [`Base::next_timeout`]: tokio's `AsyncFd` in
//! `examples/nested_tokio.rs`), and with the feature `block-on` it drives a future
//! (`Base::block_on`). Storage grows as needed (see [`storage`]); the no-allocator core
//! underneath is `eventop-core`.
//!
//! # Errors
//!
//! Every call returns this crate's [`Error`], whose variants are the reasons (the core's, and
//! a few of this crate's), each with its own [`io::ErrorKind`](std::io::ErrorKind): the table
//! is at [`Error`]. `?` turns it into an `io::Error` of that kind with the `Error` inside:
//!
//! ```
//! use std::io;
//! use eventop::{Error, Resource};
//!
//! /// The table that was full, if `e` says a limit was reached.
//! fn full(e: &io::Error) -> Option<Resource> {
//!     match e.get_ref()?.downcast_ref::<Error>()? {
//!         Error::Full(what) => Some(*what),
//!         _ => None,
//!     }
//! }
//! let e: io::Error = Error::Full(Resource::Slots).into();
//! assert_eq!((e.kind(), full(&e)), (io::ErrorKind::QuotaExceeded, Some(Resource::Slots)));
//! ```
#![deny(missing_docs)]

mod backend;
mod base;
#[cfg(feature = "block-on")]
mod block_on;
mod builder;
mod closures;
mod cores;
mod error;
mod event;
mod flags;
mod guard;
mod nest;
pub mod storage;
mod tables;
mod timer;
mod waker;

pub use base::{Base, Exit};
pub use builder::{supported_backends, Builder};
pub use error::{Error, Result};
pub use event::{EventId, Io};
pub use eventop_core::base::Counts;
pub use eventop_core::{Error as CoreError, Features, LoopFlags, Resource};
pub use flags::{Interest, Mode, Readiness};
pub use guard::Guard;
pub use nest::Pollable;
pub use tables::Growable;
pub use timer::{Deadline, TimeoutAction};
pub use waker::Waker;

// The base is `Send` on every target, as documented, whatever its data: a type-check of any
// target fails if not.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Base>();
    send::<Base<std::rc::Rc<()>>>();
    send::<Waker<std::rc::Rc<()>>>();
};
