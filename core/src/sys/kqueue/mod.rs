//! kqueue(2) backend: interest changes and the wait go to the kernel in one `kevent()` call.
//!
//! kqueue is always a changelist backend (libevent's `kqueue.c`): [`apply`](Backend::apply) turns
//! each coalesced [`Change`] into kevents staged in the backend's own buffer, and
//! [`dispatch`](Backend::dispatch) submits them and waits in a single `kevent()` call, the same
//! array serving as changelist and eventlist (kevent(2) allows it; the kernel reads every change
//! before it writes a result).
//!
//! - `READ` becomes `EVFILT_READ` and `WRITE` becomes `EVFILT_WRITE`. kqueue has no early-close
//!   filter here, so `CLOSED` is watched as `EVFILT_READ` (the end of the stream makes the fd
//!   readable, and a read then sees it). An add is `EV_ADD`, plus `EV_CLEAR` when edge-triggered;
//!   a delete is `EV_DELETE`. Two cases send more (see `plan`): an add that replaces a delete in
//!   the same batch (the fd may have been closed and its number reused) deletes the filter first,
//!   and a delete of one filter of an edge-triggered fd deletes and re-adds the other with
//!   `EV_CLEAR`, both because libkqueue would otherwise miss the new file or lose the
//!   edge-triggering.
//! - The first add of an fd (`old` empty) is checked with one `fstat` when it is staged: a
//!   regular file or a directory is refused with [`Error::Unpollable`] (kqueue would accept them
//!   and report them always ready; the project refuses them on every backend), and a closed fd
//!   fails with `fstat`'s `EBADF`. These errors thus come from [`apply`](Backend::apply), before
//!   the wait; the change is dropped and the rest of the batch staged. (An event base makes the
//!   same check earlier, through [`check`](Backend::check), so that its `add` reports them.)
//! - A result is `READ` for `EVFILT_READ` and `WRITE` for `EVFILT_WRITE`; an fd with both ready
//!   is reported twice and the base merges the reports. `EV_EOF` on the read filter is the end of
//!   the stream (`READ`), unless `fflags` carries the socket's error (a reset): that is an error
//!   on the fd, reported `READ | WRITE`. `EV_EOF` on the write filter is reported `READ | WRITE`.
//! - Failed changes come back as `EV_ERROR` results, handled as libevent does: `ENOENT`, `EINVAL`
//!   and `EBADF` (and FreeBSD's `ENOTCAPABLE`) are ignored, as they are what a delete of a closed
//!   or reopened fd gets; `EPERM` and `EPIPE` on an add (a pipe whose other end is closed) are
//!   reported as `READ` (`READ | WRITE` for a write filter, so a write-only event hears of it too),
//!   so the fd's owner finds out with a read; any other error fails the dispatch, after the rest
//!   of the results have been reported. To know whether a failed change was an add, every change
//!   carries its `flags` in `udata` (the kernel hands `udata` back untouched).
//! - When the buffer is full and the storage cannot grow, the staged changes are flushed with
//!   `EV_RECEIPT` set on each: the kernel then returns one receipt per change and never drains a
//!   pending event (which an edge-triggered filter would lose). An add that failed with `EPERM`
//!   or `EPIPE` there is staged again, so the next dispatch reports it.
//! - Signal changes ([`ChangeOp::SIGNAL`], `EVFILT_SIGNAL`) are not supported: the base watches
//!   signals through its self-pipe on every backend. Such a change fails with [`Error::Unsupported`].
//! - [`add`](Backend::add) and [`del`](Backend::del), which the base does not call on a changelist
//!   backend, fail with [`Error::Unsupported`]: changes go through [`apply`](Backend::apply) only.
//!
//! **Fork.** A kqueue is not inherited by a child on the BSDs and macOS, and libkqueue closes its
//! kqueues in a forked child by default (`NOTE_FORK_CLEANUP`). Either way, in the child the kqueue's
//! fd number is not ours: it is closed, or reused by whatever the child opened since.
//! [`reinit`](Backend::reinit) therefore creates a new kqueue and closes the old one only in the
//! process that created it (libevent keeps the creator's pid for the same reason); so does `Drop`.
//!
//! **Linux, with libkqueue.** kqueue is compiled on the BSDs and Apple targets, and on any other
//! target with `--cfg eventop_libkqueue`, which links a system-installed
//! [libkqueue](https://github.com/mheily/libkqueue) (`-lkqueue`) and declares its `struct kevent`
//! and constants here. With libkqueue installed under `/usr/local` (and `ldconfig` run):
//!
//! ```text
//! RUSTFLAGS="--cfg eventop_libkqueue" cargo test -p eventop-core
//! ```
//!
//! The build script hands the linker libkqueue's directory, from `pkg-config` (or
//! `$LIBKQUEUE_LIB_DIR`), as Rust's default linker on x86_64 Linux (`rust-lld`) does not search
//! `/usr/local/lib`; a library the loader cannot find also needs `LD_LIBRARY_PATH` at run time.
//! libkqueue differs from the kernels in details this file allows for: it caps one call at 512
//! results; it waits even after a change failed (the kernels return the errors at once); it keeps a
//! knote past the close of its fd and shares one epoll registration between an fd's two filters
//! (hence the extra kevents above). One it cannot be helped with: to put a socket's error in
//! `fflags` it calls `getsockopt(SO_ERROR)`, which on Linux clears the error, so after a reset is
//! reported a read sees the end of the stream rather than `ECONNRESET` (the kernels leave the error
//! in place).

mod ffi;
mod plan;
mod results;
#[cfg(test)]
mod tests;

use core::fmt;
use core::ptr;
use core::time::Duration;

use self::ffi::{blank, open, sys_kevent, ERRORS_SKIP_WAIT, EV_RECEIPT, MAX_EVENTS};
use self::plan::{kev, plan};
use super::{check_pollable, is_eintr, syscall, timeout, OwnedFd};
use crate::backend::{Backend, Change, ChangeOp, FdInfo, Info, Sink};
use crate::storage::Storage;
use crate::{Errno, Error, Features, Operation, RawFd, Resource, What};

pub use self::ffi::{Event, RawEvent};

/// What kqueue can do: edge-triggering, O(1) changes, any fd.
pub const FEATURES: Features = Features::ET.union(Features::O1).union(Features::FDS);

/// The buffer's length asked for when the storage comes empty (libevent starts at 64).
const INITIAL_EVENTS: usize = 64;

/// A kqueue and its buffer of kevents: staged changes first, results after a dispatch.
pub struct Kqueue<S: Storage<Event>> {
    kq: OwnedFd,
    /// The process that created `kq` (only it may close it).
    pid: libc::pid_t,
    events: S,
    /// How many changes wait at the start of `events`.
    staged: usize,
}

impl<S: Storage<Event>> Kqueue<S> {
    /// A new kqueue, with `events` as its buffer of changes and results. An empty storage is
    /// asked to grow to 64 (or at least 1); it fails with [`Error::Full`] if it cannot.
    pub fn new(mut events: S) -> Result<Self, Error> {
        if events.is_empty() && !events.grow(INITIAL_EVENTS, blank()) && !events.grow(1, blank()) {
            return Err(Error::Full(Resource::BackendEvents));
        }
        let kq = open()?;
        Ok(Kqueue {
            kq,
            // SAFETY: getpid cannot fail and touches no memory.
            pid: unsafe { libc::getpid() },
            events,
            staged: 0,
        })
    }

    /// How much of the buffer one call may use.
    fn room(&self) -> usize {
        self.events.capacity().min(MAX_EVENTS)
    }

    /// Asks the storage for more room: double, else at least one more.
    fn grow(&mut self) -> bool {
        let len = self.events.capacity();
        len < MAX_EVENTS
            && (self.events.grow(len.saturating_mul(2).max(1), blank())
                || self.events.grow(len + 1, blank()))
    }

    /// Stages one change, making room first: by growing, else by flushing what is staged. The
    /// change is staged even when the flush reports an error for other changes.
    fn stage(&mut self, ev: Event) -> Result<(), Error> {
        let mut result = Ok(());
        if self.staged >= self.room() && !self.grow() {
            result = self.flush();
        }
        let at = self.staged;
        match self.events.as_mut_slice().get_mut(at) {
            Some(slot) if at < MAX_EVENTS => {
                *slot = ev;
                self.staged += 1;
                result
            }
            _ => result.and(Err(Error::Full(Resource::BackendEvents))),
        }
    }

    /// Stages the kevents of one change.
    fn stage_change(&mut self, c: &Change) -> Result<(), Error> {
        if (c.read | c.write | c.closed).contains(ChangeOp::SIGNAL) {
            return Err(Error::Unsupported(Operation::Signals));
        }
        let ident = usize::try_from(c.fd).map_err(|_| Error::BadFd(c.fd))?;
        if c.old.is_empty() && (c.read | c.write | c.closed).contains(ChangeOp::ADD) {
            // A new fd: refuse what cannot be polled, and a closed fd, here rather than as an
            // ignored `EV_ERROR` in the dispatch (one fstat per new fd, never in the loop).
            check_pollable(c.fd)?;
        }
        let mut result = Ok(());
        for (filter, action) in plan(c).into_iter().flatten() {
            let r = self.stage(kev(ident, filter, action));
            if result.is_ok() {
                result = r;
            }
        }
        result
    }

    /// Submits the staged changes now, without waiting and without draining an event: each
    /// carries `EV_RECEIPT`, so the kernel answers every change with a receipt and skips the
    /// scan. An add that failed with `EPERM` or `EPIPE` stays staged, for the next dispatch to
    /// report; other failures are returned (the first one).
    fn flush(&mut self) -> Result<(), Error> {
        let n = self.staged;
        if n == 0 {
            return Ok(());
        }
        self.staged = 0;
        let Some(staged) = self.events.as_mut_slice().get_mut(..n) else {
            return Ok(());
        };
        for ev in staged.iter_mut() {
            ev.flags |= EV_RECEIPT;
        }
        let zero = timeout::timespec(Duration::ZERO);
        let p = staged.as_mut_ptr();
        // SAFETY: `p` points to `n` initialised kevents that the kernel may read as changes and
        // overwrite with as many receipts; `zero` outlives the call.
        let r = syscall("kevent", unsafe {
            sys_kevent(self.kq.raw(), p, n, p, n, &zero)
        })?;
        let got = (r as usize).min(n);
        // Receipts only, so nothing is ready; a failed add that must be heard of is kept.
        let read = results::read(staged.get_mut(..got).unwrap_or_default(), &mut |_, _| {});
        let (mut result, mut kept) = (read.result, read.kept);
        if kept == n {
            // Every change failed that way and nothing could make room: no retry, but an error.
            kept = 0;
            if result.is_ok() {
                result = Err(Error::Os {
                    call: "kevent",
                    errno: Errno(read.kept_errno),
                });
            }
        }
        self.staged = kept;
        result
    }
}

impl<S: Storage<Event>> Backend for Kqueue<S> {
    fn info(&self) -> Info {
        Info {
            name: "kqueue",
            features: FEATURES,
            need_reinit: true,
            fdinfo_len: 4,
            changelist: true,
        }
    }

    fn add(&mut self, _: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
        Err(Error::Unsupported(Operation::DirectChange))
    }

    fn del(&mut self, _: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
        Err(Error::Unsupported(Operation::DirectChange))
    }

    fn check(&self, fd: RawFd) -> Result<(), Error> {
        check_pollable(fd)
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        super::stage_each(changes, |c| self.stage_change(c))
    }

    fn dispatch<K: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut K,
    ) -> Result<usize, Error> {
        let ts = timeout.map(timeout::timespec);
        let tsp = ts
            .as_ref()
            .map_or(ptr::null(), |t| t as *const libc::timespec);
        loop {
            let nchanges = self.staged;
            let len = self.room();
            self.staged = 0;
            let p = self.events.as_mut_slice().as_mut_ptr();
            // SAFETY: the buffer holds `len` initialised kevents (the storage's length, at least
            // 1 since `new`); the first `nchanges <= len` are the staged changes, which the kernel
            // reads before it writes any result, and at most `len` results are written. `ts`
            // outlives the call.
            let r = unsafe { sys_kevent(self.kq.raw(), p, nchanges, p, len, tsp) };
            let r = match syscall("kevent", r) {
                Ok(r) => r,
                Err(e) if is_eintr(&e) => return Ok(0),
                Err(e) => return Err(e),
            };
            let got = (r as usize).min(len);
            let results = self.events.as_mut_slice().get_mut(..got);
            let read = results::read(results.unwrap_or_default(), sink);
            if got == len {
                // Full: more may be ready than fit. Fixed storage stays as it is.
                self.grow();
            }
            read.result?;
            // A kernel that reports a failed change returns before it waits; when all it
            // returned was ignored errors, wait now, for as long as asked.
            if ERRORS_SKIP_WAIT && read.reports == 0 && got > 0 && read.errors == got {
                continue;
            }
            return Ok(read.reports);
        }
    }

    fn reinit(&mut self) -> Result<(), Error> {
        self.close_if_ours();
        self.staged = 0;
        self.kq = open()?;
        // SAFETY: getpid cannot fail and touches no memory.
        self.pid = unsafe { libc::getpid() };
        Ok(())
    }

    fn fd(&self) -> Option<RawFd> {
        let fd = self.kq.raw();
        (fd >= 0).then_some(fd)
    }
}

impl<S: Storage<Event>> Kqueue<S> {
    /// Closes the kqueue if this process created it (in a forked child its fd number is not
    /// ours), and forgets it either way.
    fn close_if_ours(&mut self) {
        // SAFETY: getpid cannot fail and touches no memory.
        if self.pid == unsafe { libc::getpid() } {
            self.kq.close();
        } else {
            self.kq.forget();
        }
    }
}

impl<S: Storage<Event>> Drop for Kqueue<S> {
    fn drop(&mut self) {
        self.close_if_ours();
    }
}

impl<S: Storage<Event>> fmt::Debug for Kqueue<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kqueue")
            .field("kq", &self.kq.raw())
            .field("staged", &self.staged)
            .field("capacity", &self.events.capacity())
            .finish()
    }
}
