//! Nesting a [`Base`] in another loop (tokio, calloop, another base): its fd and its next
//! timeout.

use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use eventop_core::clock::Clock;
use eventop_core::sys::clock::Monotonic;

use crate::Base;

impl<D> Base<D> {
    /// The backend's own fd (epoll's, kqueue's), readable while a watched fd is ready: what an
    /// outer loop watches to nest this one. `None` on poll and select, which have no fd of
    /// their own, and on io_uring, whose requests reach its ring only when the loop waits
    /// (build with `Builder::new().avoid("poll").avoid("select")`, and without `EVENT_IO_URING`,
    /// to be sure of one).
    /// [`reinit`](Self::reinit) replaces it.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        let fd = self.core.fd()?;
        // SAFETY: the backend owns `fd` and keeps it open while it lives; the borrow of `self`
        // keeps the backend alive (and not reinitialised, which needs `&mut`).
        Some(unsafe { BorrowedFd::borrow_raw(fd) })
    }

    /// How long an outer loop may wait before it must run this one, besides for its
    /// [`fd`](Self::fd): zero if events are active, the time to the first timer (or timed exit)
    /// if one is pending, `None` if only the fd matters.
    pub fn next_timeout(&self) -> Option<Duration> {
        if self.core.counts().active > 0 {
            return Some(Duration::ZERO);
        }
        let deadline = self.core.next_deadline()?;
        Some(Duration::from_nanos(
            deadline.saturating_sub(Monotonic.now()),
        ))
    }

    /// This base as a [`Pollable`], which is `AsFd` (to hand to tokio's `AsyncFd`, say); the
    /// base back as the error if its backend has no fd (poll, select), or the fd could not be
    /// duplicated.
    // Big, but moved once: the base comes back as it was.
    #[allow(clippy::result_large_err)]
    pub fn into_pollable(self) -> Result<Pollable<D>, Base<D>> {
        match self.fd().map(|fd| fd.try_clone_to_owned()) {
            Some(Ok(fd)) => Ok(Pollable { base: self, fd }),
            _ => Err(self),
        }
    }
}

/// A [`Base`] whose backend has an fd ([`Base::into_pollable`]): `AsFd` and `AsRawFd`, readable
/// while the base has I/O to run. An outer loop waits for it, and for
/// [`next_timeout`](Base::next_timeout), then calls
/// [`run_nonblocking`](Base::run_nonblocking). It derefs to the base. Its fd is a duplicate of
/// the backend's, taken when it was made: after a [`reinit`](Base::reinit) (in a forked child),
/// make a new one.
#[derive(Debug)]
pub struct Pollable<D = ()> {
    base: Base<D>,
    fd: OwnedFd,
}

impl<D> Pollable<D> {
    /// The base.
    pub fn into_inner(self) -> Base<D> {
        self.base
    }
}

impl<D> AsFd for Pollable<D> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl<D> AsRawFd for Pollable<D> {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl<D> Deref for Pollable<D> {
    type Target = Base<D>;
    fn deref(&self) -> &Base<D> {
        &self.base
    }
}

impl<D> DerefMut for Pollable<D> {
    fn deref_mut(&mut self) -> &mut Base<D> {
        &mut self.base
    }
}
