//! eventop: libevent's event loop for Rust programs.
//!
//! A [`Base`] waits for I/O on file descriptors, timeouts, signals and events activated by hand,
//! and calls a closure for each. Callbacks get the base itself, so they can add, delete, activate
//! and free events (their own included) and stop the loop. Everything the OS reports is an
//! `io::Error`; a stale [`Event`] handle is an error, never another event.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::fd::AsRawFd;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//! use eventop::{Base, What};
//!
//! let mut base = Base::new()?;
//! let (mut a, b) = UnixStream::pair()?;
//! let reader = base.new_io(b.as_raw_fd(), What::READ | What::PERSIST, move |base, ev, what| {
//!     let mut buf = [0; 16];
//!     let n = (&b).read(&mut buf).unwrap();
//!     println!("{what:?}: read {:?}", &buf[..n]);
//!     base.free(ev).unwrap(); // a callback may free its own event
//! })?;
//! base.add(reader, None)?;
//! let timer = base.new_timer(false, |_, _, what| assert_eq!(what, What::TIMEOUT))?;
//! base.add(timer, Some(Duration::from_millis(5)))?;
//! a.write_all(b"hello")?;
//! base.run()?; // returns once nothing is pending
//! assert!(base.add(reader, None).is_err(), "freed: the handle is stale");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Beyond libevent: [`Waker`] wakes a loop or hands it work from another thread, with no global
//! threading switch, and the base is `Send`. Storage grows as needed (see [`storage`]); the
//! no-allocator core underneath is `eventop-core`.
//!
//! # Errors
//!
//! Every call returns `io::Error`. An error from a system call, or a bad fd (`EBADF`), is the
//! OS's own ([`raw_os_error`](std::io::Error::raw_os_error) gives the errno). Any other carries the
//! core's [`CoreError`], which [`get_ref`](std::io::Error::get_ref) and `downcast_ref` give back,
//! with a kind that says what went wrong:
//!
//! | kind | core error | when |
//! |---|---|---|
//! | `QuotaExceeded` | `Full(`[`Resource`]`)` | a limit was reached: more than 32 bases (`MAX_BASES`) watch one signal, or a table cannot grow (2³⁰ entries, [`storage::MAX_LEN`], or no memory) |
//! | `NotFound` | `StaleHandle` | the [`Event`] was freed |
//! | `Unsupported` | `Unpollable` | the backend cannot watch that kind of fd (a regular file under epoll) |
//! | `WouldBlock` | `Reentrant` | a callback started a run |
//! | `InvalidInput` | `Invalid`, `BadSignal` | an argument outside its domain |
//!
//! A [`Waker`] whose base is gone returns `BrokenPipe`.
//!
//! ```
//! use std::io;
//! use eventop::{CoreError, Resource};
//!
//! /// The table that was full, if `e` says a limit was reached.
//! fn full(e: &io::Error) -> Option<Resource> {
//!     match e.get_ref()?.downcast_ref::<CoreError>()? {
//!         CoreError::Full(what) => Some(*what),
//!         _ => None,
//!     }
//! }
//! # assert_eq!(full(&io::Error::other("x")), None);
//! ```
#![deny(missing_docs)]

mod base;
mod builder;
mod error;
mod event;
pub mod storage;
mod tables;
mod waker;

pub use base::{Base, Exit};
pub use builder::{supported_backends, Builder};
pub use event::Event;
pub use eventop_core::base::Counts;
pub use eventop_core::{BaseFlags, Error as CoreError, Features, LoopFlags, Resource, What};
pub use tables::Growable;
pub use waker::Waker;

// The base is `Send` on every target, as documented: a type-check of any target fails if not.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Base>();
};
