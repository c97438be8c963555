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
//!   backend, make the change at once (after submitting anything staged, to keep the order), for
//!   runtimes that drive the backend directly. Their errors are returned, not reported as
//!   readiness: a failed add (the `fstat` check's, or `EINVAL` as [`Error::Unpollable`]) leaves
//!   no filter behind.
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

use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr;
use core::time::Duration;

use libc::c_int;

use super::{check_pollable, is_eintr, syscall, timeout, OwnedFd};
use crate::backend::{Backend, FdInfo, Info, Sink};
use crate::backend::{Change, ChangeOp};
use crate::storage::Storage;
use crate::{Errno, Error, Features, Operation, RawFd, Resource, What};

cfg_if::cfg_if! {
    if #[cfg(any(
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "macos",
        target_os = "ios",
    ))] {
        /// The system's `struct kevent`.
        pub type RawEvent = libc::kevent;

        use libc::{kevent, EVFILT_READ, EVFILT_WRITE, EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF,
            EV_ERROR, EV_RECEIPT};

        /// How many kevents one call may take or return.
        const MAX_EVENTS: usize = c_int::MAX as usize;
        /// Whether a call that reports a failed change returns without waiting.
        const ERRORS_SKIP_WAIT: bool = true;
    } else {
        /// libkqueue's `struct kevent` (its `sys/event.h`).
        pub type RawEvent = Kevent;

        /// libkqueue's `struct kevent`.
        #[repr(C)]
        #[derive(Clone, Copy, Debug)]
        pub struct Kevent {
            /// What the event is about: here an fd.
            pub ident: usize,
            /// The filter (`EVFILT_READ`, `EVFILT_WRITE`, …).
            pub filter: i16,
            /// Actions in, `EV_EOF`/`EV_ERROR` out.
            pub flags: u16,
            /// Filter-specific flags.
            pub fflags: u32,
            /// Filter-specific data; the errno of a failed change.
            pub data: isize,
            /// Handed back untouched.
            pub udata: *mut libc::c_void,
        }

        const EVFILT_READ: i16 = -1;
        const EVFILT_WRITE: i16 = -2;
        const EV_ADD: u16 = 0x0001;
        const EV_DELETE: u16 = 0x0002;
        const EV_CLEAR: u16 = 0x0020;
        const EV_RECEIPT: u16 = 0x0040;
        const EV_ERROR: u16 = 0x4000;
        const EV_EOF: u16 = 0x8000;

        #[link(name = "kqueue")]
        extern "C" {
            fn kqueue() -> c_int;
            fn kevent(
                kq: c_int,
                changelist: *const Kevent,
                nchanges: c_int,
                eventlist: *mut Kevent,
                nevents: c_int,
                timeout: *const libc::timespec,
            ) -> c_int;
        }

        /// How many kevents one call may take or return: libkqueue's `MAX_KEVENT`.
        const MAX_EVENTS: usize = 512;
        /// Whether a call that reports a failed change returns without waiting: libkqueue waits.
        const ERRORS_SKIP_WAIT: bool = false;
    }
}

/// One kevent, change or result: the `struct kevent` of the system (or of libkqueue), as one
/// element of the backend's buffer. Unlike the bare struct it is `Send` and `Sync`, so a base
/// holding a kqueue can move to another thread.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct Event(RawEvent);

// SAFETY: a kevent is integers plus `udata`, a raw pointer that is a plain integer here: `kev`
// stores a change's flags in it as an address without provenance, the kernel (or libkqueue) hands
// it back untouched, and it is only ever read back as an integer, never dereferenced. No memory is
// reached through a kevent, so moving one to another thread moves only integers.
unsafe impl Send for Event {}
// SAFETY: as for `Send`: through `&Event` a thread can only read those integers.
unsafe impl Sync for Event {}

impl Deref for Event {
    type Target = RawEvent;
    fn deref(&self) -> &RawEvent {
        &self.0
    }
}

impl DerefMut for Event {
    fn deref_mut(&mut self) -> &mut RawEvent {
        &mut self.0
    }
}

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
    fn capacity(&self) -> usize {
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
        if self.staged >= self.capacity() && !self.grow() {
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
        let mut result = Ok(());
        let mut kept = 0;
        let mut kept_errno = 0;
        for i in 0..got {
            let Some(&ev) = staged.get(i) else { break };
            match outcome(&ev) {
                Outcome::AddFailed(_, code) => {
                    if let Some(slot) = staged.get_mut(kept) {
                        *slot = restage(ev);
                        kept += 1;
                        kept_errno = code;
                    }
                }
                Outcome::Failed(e) => {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
                // A receipt of success, or an ignored error. (With a receipt for every change,
                // the kernel reports no readiness here.)
                Outcome::Ready(_) | Outcome::Skip => {}
            }
        }
        if kept == n {
            // Every change failed that way and nothing could make room: no retry, but an error.
            kept = 0;
            if result.is_ok() {
                result = Err(Error::Os {
                    call: "kevent",
                    errno: Errno(kept_errno),
                });
            }
        }
        self.staged = kept;
        result
    }

    /// Makes `kevs` at once, in order, each with a receipt; returns each one's errno (0: done, or
    /// not sent), at the index of its kevent.
    fn submit_now(&mut self, kevs: [Option<Event>; 4]) -> Result<[c_int; 4], Error> {
        let mut buf = [blank(); 4];
        let mut at = [0; 4];
        let mut n = 0;
        for (i, ev) in kevs.into_iter().enumerate() {
            if let (Some(ev), Some(slot), Some(idx)) = (ev, buf.get_mut(n), at.get_mut(n)) {
                *slot = ev;
                slot.flags |= EV_RECEIPT;
                *idx = i;
                n += 1;
            }
        }
        let mut codes = [0; 4];
        if n == 0 {
            return Ok(codes);
        }
        let zero = timeout::timespec(Duration::ZERO);
        let p = buf.as_mut_ptr();
        // SAFETY: `p` points to `n` (at most 4) initialised kevents in `buf`, read as changes and
        // overwritten with as many receipts; `buf` and `zero` outlive the call.
        let r = syscall("kevent", unsafe {
            sys_kevent(self.kq.raw(), p, n, p, n, &zero)
        })?;
        let got = (r as usize).min(n);
        // Every change gets a receipt, in the order of the changes.
        for (ev, i) in buf.iter().take(got).zip(at) {
            if let (true, Some(code)) = (ev.flags & EV_ERROR != 0, codes.get_mut(i)) {
                *code = c_int::try_from(ev.data).unwrap_or(libc::EINVAL);
            }
        }
        Ok(codes)
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

    fn add(&mut self, fd: RawFd, old: What, added: What, _: &mut FdInfo) -> Result<(), Error> {
        if added.contains(What::SIGNAL) {
            return Err(Error::Unsupported(Operation::Signals));
        }
        let ident = usize::try_from(fd).map_err(|_| Error::BadFd(fd))?;
        if (old & What::IO).is_empty() {
            check_pollable(fd)?;
        }
        self.flush()?;
        let steps = plan(&Change::add(fd, old, added));
        let codes = self.submit_now(steps.map(|s| s.map(|(f, a)| kev(ident, f, a))))?;
        // A delete that precedes a re-add may find nothing to delete.
        let failed = steps.iter().zip(codes).find(|&(step, c)| {
            c != 0 && !(matches!(step, Some((_, Action::Delete))) && forgotten(c))
        });
        let Some((_, code)) = failed else {
            return Ok(());
        };
        // Take back the filters this call added, so the fd's interest stays `old`.
        let mut undo = [None; 4];
        for ((slot, step), c) in undo.iter_mut().zip(steps).zip(codes) {
            if let Some((filter, Action::Add { .. })) = step {
                if c == 0 && !filter.watched(old) {
                    *slot = Some(kev(ident, filter, Action::Delete));
                }
            }
        }
        let _ = self.submit_now(undo);
        Err(if code == libc::EINVAL {
            Error::Unpollable(fd)
        } else {
            Error::Os {
                call: "kevent",
                errno: Errno(code),
            }
        })
    }

    fn del(&mut self, fd: RawFd, old: What, removed: What, _: &mut FdInfo) -> Result<(), Error> {
        let ident = usize::try_from(fd).map_err(|_| Error::BadFd(fd))?;
        self.flush()?;
        // `ET`: the remaining interest is edge-triggered, and `plan` sends it again.
        let change = Change::del(fd, old, removed);
        let codes = self.submit_now(plan(&change).map(|s| s.map(|(f, a)| kev(ident, f, a))))?;
        match codes.into_iter().find(|&c| c != 0 && !forgotten(c)) {
            None => Ok(()),
            Some(code) => Err(Error::Os {
                call: "kevent",
                errno: Errno(code),
            }),
        }
    }

    fn check(&self, fd: RawFd) -> Result<(), Error> {
        check_pollable(fd)
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        let mut result = Ok(());
        for c in changes.iter().filter(|c| !c.is_noop()) {
            let r = self.stage_change(c);
            if result.is_ok() {
                result = r;
            }
        }
        result
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
            let len = self.capacity();
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
            let mut reports = 0;
            let mut errors = 0;
            let mut result = Ok(());
            for ev in self.events.as_slice().iter().take(got) {
                let Ok(fd) = RawFd::try_from(ev.ident) else {
                    continue;
                };
                match outcome(ev) {
                    Outcome::Ready(what) | Outcome::AddFailed(what, _) => {
                        sink.ready(fd, what);
                        reports += 1;
                    }
                    Outcome::Failed(e) => {
                        if result.is_ok() {
                            result = Err(e);
                        }
                    }
                    Outcome::Skip => {}
                }
                if ev.flags & EV_ERROR != 0 {
                    errors += 1;
                }
            }
            if got == len {
                // Full: more may be ready than fit. Fixed storage stays as it is.
                self.grow();
            }
            result?;
            // A kernel that reports a failed change returns before it waits; when all it
            // returned was ignored errors, wait now, for as long as asked.
            if ERRORS_SKIP_WAIT && reports == 0 && got > 0 && errors == got {
                continue;
            }
            return Ok(reports);
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

/// Opens a close-on-exec kqueue.
fn open() -> Result<OwnedFd, Error> {
    cfg_if::cfg_if! {
        if #[cfg(target_os = "netbsd")] {
            // SAFETY: kqueue1 takes flags and touches no memory of ours.
            syscall("kqueue1", unsafe { libc::kqueue1(libc::O_CLOEXEC) }).map(OwnedFd)
        } else if #[cfg(any(
            target_os = "freebsd",
            target_os = "openbsd",
            target_os = "dragonfly",
            target_os = "macos",
            target_os = "ios",
        ))] {
            // SAFETY: kqueue takes no arguments and touches no memory of ours.
            let kq = OwnedFd(syscall("kqueue", unsafe { libc::kqueue() })?);
            // SAFETY: `kq` is an fd we own; F_SETFD takes an int flag and touches no memory.
            syscall("fcntl", unsafe { libc::fcntl(kq.raw(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
            Ok(kq)
        } else {
            // libkqueue: its fd is a pipe end it opened close-on-exec already.
            // SAFETY: kqueue takes no arguments and touches no memory of ours.
            syscall("kqueue", unsafe { kqueue() }).map(OwnedFd)
        }
    }
}

/// kevent(2) with counts as `usize` (at most [`MAX_EVENTS`]).
///
/// # Safety
///
/// `changes` must point to `nchanges` readable kevents and `events` to `nevents` writable ones
/// (they may be the same array); `timeout` must be null or point to a `timespec`.
unsafe fn sys_kevent(
    kq: c_int,
    changes: *const Event,
    nchanges: usize,
    events: *mut Event,
    nevents: usize,
    timeout: *const libc::timespec,
) -> c_int {
    cfg_if::cfg_if! {
        if #[cfg(target_os = "netbsd")] {
            let (nchanges, nevents) = (nchanges.min(MAX_EVENTS), nevents.min(MAX_EVENTS));
        } else {
            let nchanges = c_int::try_from(nchanges).unwrap_or(c_int::MAX);
            let nevents = c_int::try_from(nevents).unwrap_or(c_int::MAX);
        }
    }
    // SAFETY: the caller's promises are kevent's requirements; `Event` is a transparent `RawEvent`.
    unsafe {
        kevent(
            kq,
            changes.cast(),
            nchanges,
            events.cast(),
            nevents,
            timeout,
        )
    }
}

/// An all-zero kevent.
fn blank() -> Event {
    // SAFETY: a kevent is integers and a raw pointer, for which all zeroes is a valid value.
    Event(unsafe { core::mem::zeroed() })
}

/// The two filters an fd's interest maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    /// `EVFILT_READ`: `READ` and `CLOSED`.
    Read,
    /// `EVFILT_WRITE`: `WRITE`.
    Write,
}

impl Filter {
    /// The interest bits this filter watches.
    fn bits(self) -> What {
        match self {
            Filter::Read => What::READ.union(What::CLOSED),
            Filter::Write => What::WRITE,
        }
    }

    /// Whether an fd with `interest` has this filter registered.
    fn watched(self, interest: What) -> bool {
        interest.intersects(self.bits())
    }
}

/// What a kevent does to its filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// `EV_ADD`, with `EV_CLEAR` when edge-triggered.
    Add {
        /// Edge-triggered.
        clear: bool,
    },
    /// `EV_DELETE`.
    Delete,
}

/// The kevents of one change, in the order they are submitted (at most four: two per filter).
type Plan = [Option<(Filter, Action)>; 4];

/// The kevents that make `c` take effect, in this order:
///
/// 1. `EV_DELETE` for each filter no bit of which remains.
/// 2. `EV_ADD` (with `EV_CLEAR` when edge-triggered) for each filter with an added bit, even when
///    the filter is registered already: `EV_ADD` on a live filter only modifies it. When the add
///    re-adds a bit that was in `old` (the batch deleted it and added it again: the fd may have
///    been closed and its number reused since), an `EV_DELETE` goes first: libkqueue keeps the
///    knote of the old file and turns a lone `EV_ADD` into a modify of it, which never reaches the
///    new file (a kernel that kept the knote past the close would do the same), so the new file
///    would never be reported. The delete's `ENOENT` (the kernels drop knotes at the close) is
///    ignored, as every `ENOENT` is.
/// 3. When step 1 deleted a filter and the change carries `ET`, the remaining filter again, as
///    `EV_DELETE` then `EV_ADD | EV_CLEAR`: libkqueue keeps one epoll registration per fd for both
///    filters and drops `EPOLLET` from it when one filter is deleted, so the remaining one would
///    turn level-triggered. A lone `EV_ADD` would only modify the knote (leaving epoll as it is),
///    and this must come after the delete of step 1. The kernels keep the filters apart and need
///    none of it; there the new knote reports a pending edge once more, which the contract allows
///    after a change of interest.
///
/// The batch is coalesced, so all this costs kevents only when a batch deletes and re-adds, or
/// deletes part of an edge-triggered fd's interest; the dispatch loop is untouched.
fn plan(c: &Change) -> Plan {
    let new = c.new_interest();
    let filters = [
        (
            Filter::Read,
            [(c.read, What::READ), (c.closed, What::CLOSED)],
        ),
        (
            Filter::Write,
            [(c.write, What::WRITE), (ChangeOp::empty(), What::empty())],
        ),
    ];
    let mut out: Plan = [None; 4];
    let mut n = 0;
    let mut push = |step: (Filter, Action)| {
        if let Some(slot) = out.get_mut(n) {
            *slot = Some(step);
            n += 1;
        }
    };
    let mut removed = false;
    let mut sent = [false; 2];
    for (filter, ops) in filters {
        if !ops.iter().any(|(op, _)| op.contains(ChangeOp::ADD))
            && ops.iter().any(|(op, _)| op.contains(ChangeOp::DEL))
            && filter.watched(c.old)
            && !filter.watched(new)
        {
            push((filter, Action::Delete));
            removed = true;
        }
    }
    for ((filter, ops), sent) in filters.into_iter().zip(&mut sent) {
        let mut clear = false;
        let mut readd = false;
        for &(op, bit) in ops.iter().filter(|(op, _)| op.contains(ChangeOp::ADD)) {
            *sent = true;
            clear |= op.contains(ChangeOp::ET);
            readd |= c.old.contains(bit);
        }
        if readd {
            push((filter, Action::Delete));
        }
        if *sent {
            push((filter, Action::Add { clear }));
        }
    }
    if removed && c.edge_triggered() {
        for ((filter, _), sent) in filters.into_iter().zip(sent) {
            if !sent && filter.watched(new) {
                push((filter, Action::Delete));
                push((filter, Action::Add { clear: true }));
            }
        }
    }
    out
}

/// The kevent for one step on `ident`, its flags copied into `udata` to tell an add's failure
/// from a delete's.
fn kev(ident: usize, filter: Filter, action: Action) -> Event {
    let mut ev = blank();
    ev.ident = ident;
    ev.filter = match filter {
        Filter::Read => EVFILT_READ,
        Filter::Write => EVFILT_WRITE,
    };
    ev.flags = match action {
        Action::Add { clear: false } => EV_ADD,
        Action::Add { clear: true } => EV_ADD | EV_CLEAR,
        Action::Delete => EV_DELETE,
    };
    ev.udata = ptr::without_provenance_mut(ev.flags as usize);
    ev
}

/// A change that came back as an error, as it was first staged.
fn restage(ev: Event) -> Event {
    let mut out = blank();
    out.ident = ev.ident;
    out.filter = ev.filter;
    out.flags = ev.udata.addr() as _;
    out.udata = ev.udata;
    out
}

/// Whether a change's error means the kernel had already forgotten the fd (a delete after close).
fn forgotten(code: c_int) -> bool {
    match code {
        libc::ENOENT | libc::EINVAL | libc::EBADF => true,
        #[cfg(target_os = "freebsd")]
        libc::ENOTCAPABLE => true,
        _ => false,
    }
}

/// What one result means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The fd is ready.
    Ready(What),
    /// An add failed with this errno in a way its owner should hear of through readiness.
    AddFailed(What, c_int),
    /// A change failed in a way that stops the loop.
    Failed(Error),
    /// Nothing to report: another filter, a receipt, or an error that means nothing.
    Skip,
}

fn outcome(ev: &Event) -> Outcome {
    let filter = if ev.filter == EVFILT_READ {
        Filter::Read
    } else if ev.filter == EVFILT_WRITE {
        Filter::Write
    } else {
        return Outcome::Skip;
    };
    if ev.flags & EV_ERROR == 0 {
        // `EV_EOF` with the socket's error in `fflags` (a reset) is an error on the fd, reported
        // as `READ | WRITE` by the contract; without one it is the end of the stream (`READ`),
        // or, on the write filter, a hangup that a write-only event must hear of too.
        let eof = ev.flags & EV_EOF != 0;
        return Outcome::Ready(match filter {
            Filter::Read if eof && ev.fflags != 0 => What::READ | What::WRITE,
            Filter::Read => What::READ,
            Filter::Write if eof => What::READ | What::WRITE,
            Filter::Write => What::WRITE,
        });
    }
    let code = c_int::try_from(ev.data).unwrap_or(libc::EINVAL);
    let was_add = ev.udata.addr() & EV_ADD as usize != 0;
    match code {
        0 => Outcome::Skip,
        c if forgotten(c) => Outcome::Skip,
        libc::EPERM | libc::EPIPE if was_add => Outcome::AddFailed(
            match filter {
                Filter::Read => What::READ,
                Filter::Write => What::READ | What::WRITE,
            },
            code,
        ),
        libc::EPERM | libc::EPIPE => Outcome::Skip,
        _ => Outcome::Failed(Error::Os {
            call: "kevent",
            errno: Errno(code),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fixtures::{
        closed_fd, directory, pipe, read_all, regular_file, socketpair, write, GrowVec,
    };
    use std::time::Instant;
    use std::vec::Vec;

    type Fixed<const N: usize> = heapless::Vec<Event, N>;

    fn change(fd: RawFd, old: What, read: ChangeOp, write: ChangeOp) -> Change {
        Change {
            fd,
            old,
            read,
            write,
            closed: ChangeOp::empty(),
        }
    }

    fn add_read(fd: RawFd) -> Change {
        change(fd, What::empty(), ChangeOp::ADD, ChangeOp::empty())
    }

    /// Dispatches once, returning the reports.
    fn wait<S: Storage<Event>>(kq: &mut Kqueue<S>, timeout: Duration) -> Vec<(RawFd, What)> {
        let mut got = Vec::new();
        let n = kq
            .dispatch(Some(timeout), &mut |fd, what| got.push((fd, what)))
            .unwrap();
        assert_eq!(n, got.len());
        assert!(got
            .iter()
            .all(|&(_, w)| !w.is_empty() && What::IO.contains(w)));
        got
    }

    const SHORT: Duration = Duration::from_millis(200);

    /// The kevents of `plan(c)`, in order.
    fn steps(c: &Change) -> Vec<(Filter, Action)> {
        plan(c).into_iter().flatten().collect()
    }

    const ADD: Action = Action::Add { clear: false };
    const ADD_ET: Action = Action::Add { clear: true };
    const DEL: Action = Action::Delete;

    #[test]
    fn plan_maps_interest_to_filters() {
        let add = ChangeOp::ADD;
        let c = change(3, What::empty(), add | ChangeOp::ET, add);
        assert_eq!(steps(&c), [(Filter::Read, ADD_ET), (Filter::Write, ADD)]);
        // Deleting READ while CLOSED stays keeps the read filter.
        let c = Change {
            fd: 3,
            old: What::READ | What::CLOSED,
            read: ChangeOp::DEL,
            write: ChangeOp::empty(),
            closed: ChangeOp::empty(),
        };
        assert_eq!(steps(&c), []);
        // CLOSED alone is watched with the read filter, and deleted with it.
        let c = Change {
            closed: ChangeOp::ADD,
            ..change(3, What::empty(), ChangeOp::empty(), ChangeOp::empty())
        };
        assert_eq!(steps(&c), [(Filter::Read, ADD)]);
        let c = Change {
            closed: ChangeOp::DEL,
            ..change(3, What::CLOSED, ChangeOp::empty(), ChangeOp::DEL)
        };
        assert_eq!(steps(&c), [(Filter::Read, DEL)]);
        // A new bit on a registered filter is a plain add (a modify): nothing was deleted.
        let c = Change {
            read: ChangeOp::ADD,
            ..change(3, What::CLOSED, ChangeOp::empty(), ChangeOp::empty())
        };
        assert_eq!(steps(&c), [(Filter::Read, ADD)]);
    }

    #[test]
    fn plan_deletes_before_a_re_add() {
        // An add replacing a delete (the bit was in `old`) deletes the filter first.
        let c = change(3, What::WRITE, ChangeOp::empty(), ChangeOp::ADD);
        assert_eq!(steps(&c), [(Filter::Write, DEL), (Filter::Write, ADD)]);
        let c = change(
            3,
            What::READ,
            ChangeOp::ADD | ChangeOp::ET,
            ChangeOp::empty(),
        );
        assert_eq!(steps(&c), [(Filter::Read, DEL), (Filter::Read, ADD_ET)]);
        // Both filters: still at most four kevents, each filter deleted before it is added.
        let c = change(3, What::READ | What::WRITE, ChangeOp::ADD, ChangeOp::ADD);
        assert_eq!(
            steps(&c),
            [
                (Filter::Read, DEL),
                (Filter::Read, ADD),
                (Filter::Write, DEL),
                (Filter::Write, ADD)
            ]
        );
    }

    #[test]
    fn plan_re_arms_what_an_edge_triggered_partial_delete_leaves() {
        let io = What::READ | What::WRITE;
        let et_del = ChangeOp::DEL | ChangeOp::ET;
        // WRITE deleted, READ left: the delete first, then READ deleted and added with EV_CLEAR.
        let c = change(3, io, ChangeOp::empty(), et_del);
        assert_eq!(
            steps(&c),
            [
                (Filter::Write, DEL),
                (Filter::Read, DEL),
                (Filter::Read, ADD_ET)
            ]
        );
        let c = change(3, io, et_del, ChangeOp::empty());
        assert_eq!(
            steps(&c),
            [
                (Filter::Read, DEL),
                (Filter::Write, DEL),
                (Filter::Write, ADD_ET)
            ]
        );
        // Level-triggered: nothing to re-arm.
        let c = change(3, io, ChangeOp::empty(), ChangeOp::DEL);
        assert_eq!(steps(&c), [(Filter::Write, DEL)]);
        // Everything deleted: nothing left to re-arm.
        let c = change(3, io, et_del, et_del);
        assert_eq!(steps(&c), [(Filter::Read, DEL), (Filter::Write, DEL)]);
        // A delete of READ that CLOSED keeps on the read filter deletes no filter.
        let c = change(
            3,
            What::READ | What::CLOSED | What::WRITE,
            et_del,
            ChangeOp::empty(),
        );
        assert_eq!(steps(&c), []);
        // The remaining filter re-added in the same batch is not sent twice; the delete of the
        // other filter still goes first.
        let c = change(3, io, ChangeOp::ADD | ChangeOp::ET, et_del);
        assert_eq!(
            steps(&c),
            [
                (Filter::Write, DEL),
                (Filter::Read, DEL),
                (Filter::Read, ADD_ET)
            ]
        );
    }

    #[test]
    fn results_map_as_libevent_does() {
        let mut ev = kev(4, Filter::Read, Action::Add { clear: false });
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ));
        ev.flags |= EV_ERROR;
        ev.data = libc::EPIPE as _;
        assert_eq!(outcome(&ev), Outcome::AddFailed(What::READ, libc::EPIPE));
        for code in [libc::ENOENT, libc::EINVAL, libc::EBADF, 0] {
            ev.data = code as _;
            assert_eq!(outcome(&ev), Outcome::Skip);
        }
        ev.data = libc::ENOMEM as _;
        assert!(matches!(outcome(&ev), Outcome::Failed(Error::Os { .. })));
        let mut del = kev(4, Filter::Write, Action::Delete);
        del.flags = EV_ERROR;
        del.data = libc::EPERM as _;
        assert_eq!(outcome(&del), Outcome::Skip);
        let mut add = kev(4, Filter::Write, Action::Add { clear: true });
        let re = restage(add);
        assert_eq!(re.flags, EV_ADD | EV_CLEAR);
        add.flags = EV_ERROR;
        add.data = libc::EPERM as _;
        assert_eq!(
            outcome(&add),
            Outcome::AddFailed(What::READ | What::WRITE, libc::EPERM)
        );
        assert_eq!(restage(add).flags, EV_ADD | EV_CLEAR);
    }

    #[test]
    fn eof_with_a_socket_error_is_read_and_write() {
        let mut ev = kev(4, Filter::Read, Action::Add { clear: false });
        ev.flags = EV_EOF;
        // The end of the stream: READ.
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ));
        // With the socket's error (a reset): an error on the fd.
        ev.fflags = libc::ECONNRESET as _;
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ | What::WRITE));
        // On the write filter, EV_EOF is a hangup either way.
        let mut ev = kev(4, Filter::Write, Action::Add { clear: false });
        assert_eq!(outcome(&ev), Outcome::Ready(What::WRITE));
        ev.flags = EV_EOF;
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ | What::WRITE));
        ev.fflags = libc::ECONNRESET as _;
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ | What::WRITE));
    }

    #[test]
    fn info_is_libevents() {
        let kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let info = kq.info();
        assert_eq!(info.name, "kqueue");
        assert_eq!(info.features.bits(), 0x7);
        assert!(info.need_reinit && info.changelist);
        assert_eq!(info.fdinfo_len, 4);
    }

    #[test]
    fn empty_fixed_storage_is_refused() {
        let mut none: [Event; 0] = [];
        let r = Kqueue::new(&mut none[..]);
        assert_eq!(r.err(), Some(Error::Full(Resource::BackendEvents)));
        // Growable storage that comes empty gets libevent's 64.
        let kq = Kqueue::new(GrowVec::default()).unwrap();
        assert_eq!(kq.events.capacity(), INITIAL_EVENTS);
    }

    #[test]
    fn read_write_and_timeout() {
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let (rf, wf) = pipe();
        let (r, w) = (rf.0, wf.0);
        kq.apply(&[
            add_read(r),
            change(w, What::empty(), ChangeOp::empty(), ChangeOp::ADD),
        ])
        .unwrap();
        assert_eq!(wait(&mut kq, SHORT), [(w, What::WRITE)]);
        write(&wf);
        let mut got = wait(&mut kq, SHORT);
        got.sort_by_key(|&(fd, w)| (fd, w.bits()));
        assert_eq!(got, [(r, What::READ), (w, What::WRITE)]);
        // Level-triggered: still readable until read.
        assert!(wait(&mut kq, Duration::ZERO).contains(&(r, What::READ)));
        read_all(r);
        kq.apply(&[change(w, What::WRITE, ChangeOp::empty(), ChangeOp::DEL)])
            .unwrap();
        let t = Instant::now();
        assert_eq!(wait(&mut kq, Duration::from_millis(50)), []);
        assert!(t.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn edge_triggered_reports_once() {
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let (rf, w) = pipe();
        let r = rf.0;
        kq.apply(&[change(
            r,
            What::empty(),
            ChangeOp::ADD | ChangeOp::ET,
            ChangeOp::empty(),
        )])
        .unwrap();
        write(&w);
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        write(&w);
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
    }

    #[test]
    fn end_of_stream_is_readable() {
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let (rf, w) = pipe();
        let r = rf.0;
        let closed = Change {
            closed: ChangeOp::ADD,
            ..change(r, What::empty(), ChangeOp::empty(), ChangeOp::empty())
        };
        kq.apply(&[closed]).unwrap();
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        drop(w);
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
    }

    #[test]
    fn delete_after_close_is_ignored() {
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let (rf, _w) = pipe();
        let r = rf.0;
        kq.apply(&[add_read(r)]).unwrap();
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        drop(rf);
        kq.apply(&[change(r, What::READ, ChangeOp::DEL, ChangeOp::empty())])
            .unwrap();
        // Only ignored errors come back: the wait still lasts as long as asked.
        let t = Instant::now();
        assert_eq!(wait(&mut kq, Duration::from_millis(50)), []);
        assert!(t.elapsed() >= Duration::from_millis(50));
    }

    /// `fstat`'s EBADF, as `check_pollable` reports it.
    fn ebadf() -> Error {
        Error::Os {
            call: "fstat",
            errno: Errno(libc::EBADF),
        }
    }

    #[test]
    fn add_of_a_closed_fd_fails_at_apply_and_the_rest_is_applied() {
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let (rf, w) = pipe();
        let r = rf.0;
        // A closed number that nothing reopens meanwhile (see `closed_fd`).
        let gone = closed_fd();
        // Unlike libevent, which ignores the EBADF: the add fails, at apply, before the wait.
        assert_eq!(kq.apply(&[add_read(gone), add_read(r)]), Err(ebadf()));
        assert_eq!(kq.staged, 1);
        write(&w);
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
        let mut info = FdInfo::default();
        assert_eq!(
            kq.add(gone, What::empty(), What::READ, &mut info),
            Err(ebadf())
        );
    }

    #[test]
    fn regular_files_and_directories_are_unpollable() {
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let (file, dir) = (regular_file(), directory());
        let (rf, w) = pipe();
        let r = rf.0;
        for fd in [file.0, dir.0] {
            // At apply, and the rest of the batch still applied.
            assert_eq!(
                kq.apply(&[add_read(fd), add_read(r)]),
                Err(Error::Unpollable(fd))
            );
            let mut info = FdInfo::default();
            assert_eq!(
                kq.add(fd, What::empty(), What::READ | What::WRITE, &mut info),
                Err(Error::Unpollable(fd))
            );
        }
        // Nothing of the file or the directory was registered.
        write(&w);
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
    }

    #[test]
    fn a_reused_fd_number_is_watched_again() {
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let (rf, w) = pipe();
        let r = rf.0;
        kq.apply(&[add_read(r)]).unwrap();
        write(&w);
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
        // The number `r` now names a new, empty pipe (dup2 closes the old one).
        let (r2, w2) = pipe();
        // SAFETY: both fds are the test's own.
        assert_eq!(unsafe { libc::dup2(r2.0, r) }, r);
        drop(r2);
        // A delete and an add in one batch: the add replaces the delete, `old` keeps READ.
        kq.apply(&[change(r, What::READ, ChangeOp::ADD, ChangeOp::empty())])
            .unwrap();
        assert_eq!(wait(&mut kq, Duration::from_millis(20)), []);
        write(&w2);
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
    }

    /// READ|WRITE edge-triggered on `a`, WRITE deleted by `del`; READ must stay edge-triggered.
    fn check_et_survives(del: impl FnOnce(&mut Kqueue<Fixed<8>>, RawFd)) {
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let (af, b) = socketpair();
        let a = af.0;
        let et_add = ChangeOp::ADD | ChangeOp::ET;
        kq.apply(&[change(a, What::empty(), et_add, et_add)])
            .unwrap();
        write(&b);
        let mut got = wait(&mut kq, SHORT);
        got.sort_by_key(|&(fd, w)| (fd, w.bits()));
        assert_eq!(got, [(a, What::READ), (a, What::WRITE)]);
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        del(&mut kq, a);
        // The change may re-arm the edge once...
        let _ = wait(&mut kq, Duration::from_millis(20));
        // ...but READ is still edge-triggered: no report until new data.
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        write(&b);
        assert_eq!(wait(&mut kq, SHORT), [(a, What::READ)]);
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
    }

    #[test]
    fn edge_triggering_survives_a_partial_delete() {
        check_et_survives(|kq, a| {
            let io = What::READ | What::WRITE;
            let del = change(a, io, ChangeOp::empty(), ChangeOp::DEL | ChangeOp::ET);
            kq.apply(&[del]).unwrap();
        });
        check_et_survives(|kq, a| {
            let (io, mut info) = (What::READ | What::WRITE, FdInfo::default());
            kq.del(a, io, What::WRITE | What::ET, &mut info).unwrap();
        });
    }

    #[test]
    fn a_reset_connection_is_read_and_write() {
        use std::net::{TcpListener, TcpStream};
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.set_nonblocking(true).unwrap();
        let fd = client.as_raw_fd();
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        kq.apply(&[add_read(fd)]).unwrap();
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: `l` is a valid `linger` that outlives the call, and its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                server.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&l as *const libc::linger).cast(),
                core::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(server);
        assert_eq!(wait(&mut kq, SHORT), [(fd, What::READ | What::WRITE)]);
    }

    #[test]
    fn no_op_and_signal_changes() {
        let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
        let noop = change(5, What::empty(), ChangeOp::empty(), ChangeOp::empty());
        kq.apply(&[noop]).unwrap();
        assert_eq!(kq.staged, 0);
        let sig = change(
            2,
            What::empty(),
            ChangeOp::ADD | ChangeOp::SIGNAL,
            ChangeOp::empty(),
        );
        let (rf, w) = pipe();
        let r = rf.0;
        // The signal change fails; the others are applied all the same.
        assert!(matches!(
            kq.apply(&[sig, add_read(r)]),
            Err(Error::Unsupported(Operation::Signals))
        ));
        write(&w);
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
        assert_eq!(kq.apply(&[add_read(-1)]), Err(Error::BadFd(-1)));
    }

    #[test]
    fn full_fixed_buffer_flushes_without_losing_an_edge() {
        // Two slots, five pipes: staging flushes twice, and results come two at a time.
        let mut kq = Kqueue::new(Fixed::<2>::new()).unwrap();
        let pipes: Vec<_> = (0..5).map(|_| pipe()).collect();
        // An edge already pending before the flushes must survive them.
        kq.apply(&[change(
            pipes[0].0 .0,
            What::empty(),
            ChangeOp::ADD | ChangeOp::ET,
            ChangeOp::empty(),
        )])
        .unwrap();
        write(&pipes[0].1);
        let rest: Vec<_> = pipes[1..].iter().map(|(r, _)| add_read(r.0)).collect();
        kq.apply(&rest).unwrap();
        assert!(kq.staged <= 2);
        for (_, w) in &pipes[1..] {
            write(w);
        }
        let mut seen = Vec::new();
        for _ in 0..10 {
            for (fd, what) in wait(&mut kq, SHORT) {
                assert_eq!(what, What::READ);
                read_all(fd);
                seen.push(fd);
            }
            if seen.len() == 5 {
                break;
            }
        }
        seen.sort();
        let mut want: Vec<_> = pipes.iter().map(|(r, _)| r.0).collect();
        want.sort();
        assert_eq!(seen, want);
        assert_eq!(kq.events.capacity(), 2);
    }

    #[test]
    fn a_full_dispatch_grows_the_buffer() {
        let mut kq = Kqueue::new(GrowVec::default()).unwrap();
        kq.events.0.truncate(2);
        let pipes: Vec<_> = (0..4).map(|_| pipe()).collect();
        let adds: Vec<_> = pipes.iter().map(|(r, _)| add_read(r.0)).collect();
        kq.apply(&adds).unwrap();
        assert_eq!(kq.staged, 4);
        assert!(kq.events.capacity() >= 4);
        kq.events.0.truncate(4);
        for (_, w) in &pipes {
            write(w);
        }
        assert_eq!(wait(&mut kq, SHORT).len(), 4);
        assert_eq!(kq.events.capacity(), 8);
    }

    #[test]
    fn direct_add_and_del() {
        let mut kq = Kqueue::new(Fixed::<4>::new()).unwrap();
        let (rf, wf) = pipe();
        let (r, w) = (rf.0, wf.0);
        let mut info = FdInfo::default();
        kq.add(r, What::empty(), What::READ, &mut info).unwrap();
        kq.add(w, What::empty(), What::WRITE | What::ET, &mut info)
            .unwrap();
        write(&wf);
        let mut got = wait(&mut kq, SHORT);
        got.sort_by_key(|&(fd, w)| (fd, w.bits()));
        assert_eq!(got, [(r, What::READ), (w, What::WRITE)]);
        kq.del(r, What::READ, What::READ, &mut info).unwrap();
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        // Deleting what the kernel forgot succeeds; adding a closed fd fails and leaves nothing.
        drop(rf);
        kq.del(r, What::READ, What::READ, &mut info).unwrap();
        assert_eq!(
            kq.add(r, What::empty(), What::READ, &mut info),
            Err(ebadf())
        );
        assert_eq!(
            kq.add(-3, What::empty(), What::READ, &mut info),
            Err(Error::BadFd(-3))
        );
    }

    #[test]
    fn write_to_a_pipe_without_reader_is_never_silent() {
        let mut kq = Kqueue::new(Fixed::<4>::new()).unwrap();
        let (r, wf) = pipe();
        let w = wf.0;
        drop(r);
        kq.apply(&[change(w, What::empty(), ChangeOp::empty(), ChangeOp::ADD)])
            .unwrap();
        // The BSDs fail the add with EPIPE (reported as READ | WRITE); others report EOF.
        let got = wait(&mut kq, SHORT);
        assert!(!got.is_empty());
        assert!(got
            .iter()
            .all(|&(fd, what)| fd == w && what.contains(What::WRITE)));
    }

    #[test]
    fn reinit_starts_afresh() {
        let mut kq = Kqueue::new(Fixed::<4>::new()).unwrap();
        let (rf, wf) = pipe();
        let (r, w) = (rf.0, wf.0);
        kq.apply(&[add_read(r)]).unwrap();
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        let old = kq.kq.raw();
        kq.apply(&[add_read(w)]).unwrap();
        kq.reinit().unwrap();
        assert_eq!(kq.staged, 0);
        write(&wf);
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        // The old kqueue was ours (same process), so it was closed; its number may be reused.
        let _ = old;
        kq.apply(&[add_read(r)]).unwrap();
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
    }

    #[test]
    fn reinit_in_a_forked_child() {
        let mut kq = Kqueue::new(Fixed::<4>::new()).unwrap();
        let (rf, w) = pipe();
        let r = rf.0;
        kq.apply(&[add_read(r)]).unwrap();
        assert_eq!(wait(&mut kq, Duration::ZERO), []);
        // SAFETY: the child only makes system calls (and libkqueue's) before `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = kq.reinit().is_ok() && kq.apply(&[add_read(r)]).is_ok() && {
                write(&w);
                let mut n = 0;
                kq.dispatch(Some(SHORT), &mut |fd: RawFd, what: What| {
                    if fd == r && what == What::READ {
                        n += 1;
                    }
                })
                .is_ok()
                    && n == 1
            };
            core::mem::forget(kq);
            // SAFETY: ends the child without running the parent's destructors or atexit hooks.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child, writing into a live int.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        // The parent's kqueue still works: the child's byte is there to read.
        assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
    }
}
