//! The kevent interface: the system's `struct kevent` and calls, or libkqueue's, declared here.

use core::ops::{Deref, DerefMut};

use libc::c_int;

use crate::sys::{syscall, OwnedFd};
use crate::Error;

cfg_if::cfg_if! {
    if #[cfg(eventop_native_kqueue)] {
        /// The system's `struct kevent`.
        pub type RawEvent = libc::kevent;

        use libc::kevent;
        pub(super) use libc::{EVFILT_READ, EVFILT_WRITE, EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF,
            EV_ERROR, EV_RECEIPT};

        /// How many kevents one call may take or return.
        pub(super) const MAX_EVENTS: usize = c_int::MAX as usize;
        /// Whether a call that reports a failed change returns without waiting.
        pub(super) const ERRORS_SKIP_WAIT: bool = true;
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

        pub(super) const EVFILT_READ: i16 = -1;
        pub(super) const EVFILT_WRITE: i16 = -2;
        pub(super) const EV_ADD: u16 = 0x0001;
        pub(super) const EV_DELETE: u16 = 0x0002;
        pub(super) const EV_CLEAR: u16 = 0x0020;
        pub(super) const EV_RECEIPT: u16 = 0x0040;
        pub(super) const EV_ERROR: u16 = 0x4000;
        pub(super) const EV_EOF: u16 = 0x8000;

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
        pub(super) const MAX_EVENTS: usize = 512;
        /// Whether a call that reports a failed change returns without waiting: libkqueue waits.
        pub(super) const ERRORS_SKIP_WAIT: bool = false;
    }
}

/// One kevent, change or result: the `struct kevent` of the system (or of libkqueue), as one
/// element of the backend's buffer. Unlike the bare struct it is `Send` and `Sync`, so a base
/// holding a kqueue can move to another thread.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct Event(pub(super) RawEvent);

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

/// Opens a close-on-exec kqueue.
pub(super) fn open() -> Result<OwnedFd, Error> {
    cfg_if::cfg_if! {
        if #[cfg(target_os = "netbsd")] {
            // SAFETY: kqueue1 takes flags and touches no memory of ours.
            syscall("kqueue1", unsafe { libc::kqueue1(libc::O_CLOEXEC) }).map(OwnedFd)
        } else if #[cfg(eventop_native_kqueue)] {
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
pub(super) unsafe fn sys_kevent(
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
pub(super) fn blank() -> Event {
    // SAFETY: a kevent is integers and a raw pointer, for which all zeroes is a valid value.
    Event(unsafe { core::mem::zeroed() })
}
