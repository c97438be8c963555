//! Hosted bindings over `libc`, without std: the real backends, the environment, the clock.
//!
//! Every backend file exports the same shape: a type generic over the [`Storage`](crate::Storage)
//! of its buffer, `new(storage, …) -> Result<Self, Error>`, an `Event` alias for the buffer's
//! element, a `FEATURES` constant, and its [`Backend`](crate::Backend) impl.

use crate::{Errno, Error};

pub mod clock;
pub mod env;
pub mod hosted;
pub mod poll;
pub mod select;
pub mod signal;
mod timeout;

cfg_if::cfg_if! {
    if #[cfg(any(target_os = "linux", target_os = "android"))] {
        pub mod epoll;
    }
}

cfg_if::cfg_if! {
    if #[cfg(eventide_kqueue)] {
        pub mod kqueue;
    }
}

/// The calling thread's `errno`.
pub(crate) fn errno() -> Errno {
    cfg_if::cfg_if! {
        if #[cfg(any(target_os = "linux", target_os = "android"))] {
            // SAFETY: returns a valid pointer to this thread's errno.
            Errno(unsafe { *libc::__errno_location() })
        } else if #[cfg(any(target_os = "netbsd", target_os = "openbsd"))] {
            // SAFETY: returns a valid pointer to this thread's errno.
            Errno(unsafe { *libc::__errno() })
        } else {
            // SAFETY: returns a valid pointer to this thread's errno.
            Errno(unsafe { *libc::__error() })
        }
    }
}

/// The error for a failed call of `call`, with the current `errno`.
pub(crate) fn os(call: &'static str) -> Error {
    Error::Os {
        call,
        errno: errno(),
    }
}
