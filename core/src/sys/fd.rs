//! File descriptors: one a backend owns (closed on drop), and whether a backend can watch one.

use core::mem::MaybeUninit;

use super::syscall;
use crate::{Error, RawFd};

/// An fd this crate opened and closes when dropped (std's `OwnedFd`, without std). `-1` is none.
#[derive(Debug)]
pub(crate) struct OwnedFd(pub(crate) RawFd);

impl OwnedFd {
    /// The fd number (`-1` if none).
    #[inline(always)]
    pub(crate) fn raw(&self) -> RawFd {
        self.0
    }

    /// Closes the fd now, leaving none.
    pub(crate) fn close(&mut self) {
        let fd = core::mem::replace(&mut self.0, -1);
        if fd >= 0 {
            // SAFETY: `fd` is ours and closed exactly once (the field no longer names it). A
            // close error leaves nothing to do: the number is released either way.
            unsafe { libc::close(fd) };
        }
    }

    /// Forgets the fd without closing it: in a forked child, where the number is not ours, or
    /// when it is handed to a caller.
    #[cfg_attr(not(eventop_kqueue), allow(dead_code))]
    pub(crate) fn forget(&mut self) {
        self.0 = -1;
    }
}

impl Drop for OwnedFd {
    fn drop(&mut self) {
        self.close();
    }
}

/// A new pipe, both ends non-blocking and close-on-exec: `[read, write]`, the caller's to close.
/// One `pipe2`; on Apple systems, which lack it, `pipe` then `fcntl` (the ends are briefly
/// inheritable by a concurrent fork+exec in another thread there).
pub fn nonblocking_pipe() -> Result<[RawFd; 2], Error> {
    let mut fds: [libc::c_int; 2] = [-1; 2];
    cfg_if::cfg_if! {
        if #[cfg(any(target_os = "macos", target_os = "ios"))] {
            // SAFETY: `fds` has room for the two fds pipe writes.
            syscall("pipe", unsafe { libc::pipe(fds.as_mut_ptr()) })?;
            // Owned until both are set up: an error closes them.
            let owned = fds.map(OwnedFd);
            for fd in &owned {
                // SAFETY: `fd` is an open fd we own; F_SETFD takes an int argument.
                syscall("fcntl", unsafe { libc::fcntl(fd.raw(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
                // SAFETY: as above; F_SETFL takes an int argument.
                syscall("fcntl", unsafe { libc::fcntl(fd.raw(), libc::F_SETFL, libc::O_NONBLOCK) })?;
            }
            Ok(owned.map(|mut fd| {
                let raw = fd.raw();
                fd.forget();
                raw
            }))
        } else {
            // SAFETY: `fds` has room for the two fds pipe2 writes.
            syscall("pipe2", unsafe {
                libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC)
            })?;
            Ok(fds)
        }
    }
}

/// Refuses what every backend would report ready forever (a regular file or a directory: epoll
/// refuses them, poll, select and kqueue accept them), as [`Error::Unpollable`], so the rule is
/// the same on every backend; and a closed fd, with `fstat`'s `EBADF`.
pub(crate) fn check_pollable(fd: RawFd) -> Result<(), Error> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` has room for a `struct stat`.
    syscall("fstat", unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded and filled `st`.
    let mode = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
    if mode == libc::S_IFREG || mode == libc::S_IFDIR {
        Err(Error::Unpollable(fd))
    } else {
        Ok(())
    }
}
