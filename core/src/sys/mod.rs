//! Hosted bindings over `libc`, without std: the real backends, the environment, the clock.
//!
//! Every backend file exports the same shape: a type generic over the [`Storage`](crate::Storage)
//! of its buffer, `new(storage, …) -> Result<Self, Error>`, an `Event` alias for the buffer's
//! element, a `FEATURES` constant, and its [`Backend`](crate::Backend) impl.

use crate::{Change, Errno, Error};

pub mod clock;
pub mod env;
mod fd;
#[cfg(test)]
// Some serve only epoll's tests.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) mod fixtures;
pub mod fork;
pub mod hosted;
pub mod poll;
pub mod select;
pub mod signal;
pub mod split;
mod timeout;

pub use fd::nonblocking_pipe;
pub(crate) use fd::{check_pollable, OwnedFd};

cfg_if::cfg_if! {
    if #[cfg(any(target_os = "linux", target_os = "android"))] {
        pub mod epoll;
    }
}

cfg_if::cfg_if! {
    if #[cfg(target_os = "linux")] {
        pub mod uring;
    }
}

cfg_if::cfg_if! {
    if #[cfg(eventop_kqueue)] {
        pub mod kqueue;
    }
}

/// Where the calling thread's `errno` lives (to read it, or to save and restore it).
pub(crate) fn errno_ptr() -> *mut libc::c_int {
    cfg_if::cfg_if! {
        if #[cfg(any(target_os = "linux", target_os = "android"))] {
            // SAFETY: no preconditions; returns this thread's errno.
            unsafe { libc::__errno_location() }
        } else if #[cfg(any(target_os = "netbsd", target_os = "openbsd"))] {
            // SAFETY: no preconditions; returns this thread's errno.
            unsafe { libc::__errno() }
        } else {
            // SAFETY: no preconditions; returns this thread's errno.
            unsafe { libc::__error() }
        }
    }
}

/// The calling thread's `errno`.
pub(crate) fn errno() -> Errno {
    // SAFETY: `errno_ptr` points to this thread's errno, valid for the thread's life.
    Errno(unsafe { *errno_ptr() })
}

/// Sets the calling thread's `errno` (for adapters that report errors the C way).
pub fn set_errno(e: Errno) {
    // SAFETY: `errno_ptr` points to this thread's errno, valid for the thread's life.
    unsafe { *errno_ptr() = e.0 };
}

/// The error for a failed call of `call`, with the current `errno`.
#[cold]
pub(crate) fn os(call: &'static str) -> Error {
    Error::Os {
        call,
        errno: errno(),
    }
}

/// What a system call that fails with a negative return and `errno` returned: `r` itself, or the
/// error naming `call` (mio's `syscall!`). Wrap the `unsafe` call in it:
/// `syscall("poll", unsafe { libc::poll(…) })`.
#[inline(always)]
pub(crate) fn syscall<T: Copy + PartialOrd + Default>(
    call: &'static str,
    r: T,
) -> Result<T, Error> {
    if r < T::default() {
        Err(os(call))
    } else {
        Ok(r)
    }
}

/// Whether `e` is an interrupted wait (`EINTR`): the contract's `Ok(0)`.
#[inline]
pub(crate) fn is_eintr(e: &Error) -> bool {
    e.errno() == Some(Errno(libc::EINTR))
}

/// Stages each change that is not a no-op with `stage`, all of them even after one fails, and
/// returns the first error (the changelist backends' `apply`).
#[cfg_attr(not(any(target_os = "linux", eventop_kqueue)), allow(dead_code))]
pub(crate) fn stage_each(
    changes: &[Change],
    mut stage: impl FnMut(&Change) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut result = Ok(());
    for c in changes.iter().filter(|c| !c.is_noop()) {
        let r = stage(c);
        if result.is_ok() {
            result = r;
        }
    }
    result
}
