//! The backend vtable: what the base asks of an I/O multiplexer (libevent's `struct eventop`).
//!
//! # The contract
//!
//! A backend watches file descriptors for readiness on behalf of one event base. The base keeps a
//! count per fd and per kind of interest (`READ`, `WRITE`, `CLOSED`) and talks to the backend only
//! when a kind of interest for an fd starts (0 → 1 events want it) or stops (1 → 0). Everything the
//! base knows about events, callbacks and timers stays above this line.
//!
//! **Interest.** The interest in an fd is a subset of [`What::IO`], plus [`What::ET`] when it is
//! edge-triggered. [`add`](Backend::add) and [`del`](Backend::del) receive the interest the fd had
//! before (`old`) and the bits that change; the backend computes the new interest as `old | added`
//! or `old & !removed`. The base never passes an fd below zero, never adds a bit already in `old`
//! and never removes one not in it. `ET` may accompany either call and means the fd's remaining
//! interest is edge-triggered. A backend without [`Features::ET`] ignores it; one without
//! [`Features::EARLY_CLOSE`] treats `CLOSED` as `READ` (a read then sees the end of the stream).
//!
//! **Per-fd word.** Each fd the base knows has one [`FdInfo`] word, zero when the fd is first seen,
//! kept by the base between calls and handed to `add` and `del`. A backend that reports a nonzero
//! [`Info::fdinfo_len`] may keep anything there (poll keeps its pollfd index plus one, for O(1)
//! deletion); others leave it alone. When [`Info::changelist`] is set, the word belongs to the
//! changelist instead.
//!
//! **Changelist backends.** When [`Info::changelist`] is set, the base does not call `add` and `del`;
//! it records changes in a [`Changelist`](crate::Changelist) and, before each dispatch (or when the
//! changelist's storage is full), hands the batch to [`apply`](Backend::apply): at most one
//! [`Change`] per fd, each with the interest the fd had before the batch and what to add or delete.
//! A change may be a no-op (an add that a delete cancelled); the backend skips it. `apply` may submit
//! the changes at once (epoll) or stage them for the next `dispatch` (kqueue submits changes and the
//! wait in one call); either way they must take effect before that dispatch waits.
//!
//! **Checks.** [`check`](Backend::check) tells the base, before it commits to an fd, whether the
//! backend can watch it: an fd that is not open fails with `EBADF` (the OS's, or
//! [`Error::BadFd`]), one it can never watch with [`Error::Unpollable`]. The base asks only off the
//! hot path: before its fd map grows to reach an fd (so a bad number costs no memory), and, on a
//! changelist backend, when an fd's interest starts (nothing → something), since `apply` comes too
//! late for the `add` that asked. A backend that cannot tell returns `Ok` (the default); its `add`
//! or `apply` then reports what it finds. The hosted backends make one `fstat`.
//!
//! **Errors.** An `add` that fails leaves the fd's interest as `old`; the base then undoes its count
//! and reports the error to the caller. A backend reports an fd it cannot watch at all (a regular
//! file under epoll) as [`Error::Unpollable`], never by failing silently. A `del` for an fd that the
//! kernel or the backend has already forgotten (closed, `ENOENT`, `EBADF`; see below) succeeds.
//! `apply` tries every change even when one fails and returns the first error.
//!
//! **Dispatch.** [`dispatch`](Backend::dispatch) waits until an fd is ready, the timeout passes
//! (`None` waits indefinitely, `Some(Duration::ZERO)` only polls) or a signal interrupts the wait,
//! then calls [`Sink::ready`] for each ready fd with a non-empty subset of [`What::IO`] and returns
//! how many reports it made. An interrupted wait (`EINTR`) returns `Ok(0)`: the base recomputes the
//! timeout and comes back. A backend must not return before the timeout with nothing to report for
//! any other reason, and rounds the timeout up, never down, where its clock is coarser. It may report
//! an fd more than once in one dispatch (kqueue reports reads and writes apart); the base merges the
//! reports. Errors on the fd itself (`EPOLLERR`, `POLLHUP`, `POLLNVAL`) are reported as
//! `READ | WRITE` so the fd's owner finds out with a read or write. `Err` from dispatch means the
//! backend can no longer wait; the loop stops with that error. `dispatch` never calls back into the
//! base: it only calls the sink, which only records.
//!
//! **Closed fds.** A watched fd closed without a `del` must neither stop the loop nor make it spin.
//! The backend reports it at most once, as `READ | WRITE` where the kernel says so (poll's
//! `POLLNVAL`, select's `EBADF`) or not at all where the kernel drops the registration at the close
//! (kqueue; epoll unless a dup keeps the file open, which the base recovers from), and then forgets
//! it: it stops watching the fd on its own, although the base still counts interest in it. A later
//! `del` of a forgotten fd succeeds and disturbs nothing else; once the base's interest in the fd
//! has gone to nothing, the next `add` watches the number afresh (it may be a new file's by then).
//! Until then the number is not watched, so an event left on a closed fd is its owner's to delete
//! (poll and select also watch `old | added` again on any `add`; epoll too, by retrying a failed
//! `MOD` as an `ADD`).
//!
//! **Buffers.** A backend that needs memory takes a [`Storage`](crate::Storage) when it is
//! constructed. When a dispatch fills its buffer of ready events, it asks the storage to grow;
//! fixed storage simply stays as it is, and the remaining ready fds are reported next time.
//!
//! **Fork.** After `fork()` a backend whose [`Info::need_reinit`] is set is unusable in the child
//! (an epoll set is shared with the parent; a kqueue is not inherited). The base then calls
//! [`reinit`](Backend::reinit), which must drop every registration and kernel object and leave the
//! backend as it was when constructed, without touching the parent's objects; the base re-adds every
//! fd afterwards, with each fd's word reset to zero.
//!
//! **Signals.** A backend may catch signals itself, as the hosted ones do with a self-pipe: its
//! [`signals`](Backend::signals) then hands the base a [`Signals`], whose fd the base watches
//! with the backend like any other (no event waits on it) and drains when it is readable. The
//! base asks it to catch a signal when the first event for that signal is added, and to stop when
//! the last is deleted. The backend itself never reports signals.
//!
//! **Teardown** is `Drop`: close the kernel objects; never close a watched fd, which is not the
//! backend's.

use core::time::Duration;

use bitflags::bitflags;

use crate::{Error, Features, Operation, RawFd, What};

/// What a backend is (libevent's `eventop` constants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Info {
    /// The name selection and `EVENT_NO<NAME>` match (`"epoll"`, `"poll"`, …).
    pub name: &'static str,
    /// What it can do.
    pub features: Features,
    /// Whether it must be re-initialised in a forked child.
    pub need_reinit: bool,
    /// How many bytes of the per-fd word it uses: 0 or 4.
    pub fdinfo_len: u8,
    /// Whether interest changes go through [`Backend::apply`] instead of `add`/`del`.
    pub changelist: bool,
}

/// The per-fd word a backend may keep (see the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FdInfo(pub u32);

bitflags! {
    /// What a changelist entry does to one kind of interest (libevent's `EV_CHANGE_*` plus the
    /// event bits that travel with an add).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct ChangeOp: u8 {
        /// Start watching.
        const ADD = 0x01;
        /// Stop watching.
        const DEL = 0x02;
        /// The interest is a signal's (kqueue's `EVFILT_SIGNAL`).
        const SIGNAL = 0x08;
        /// The event is persistent.
        const PERSIST = 0x10;
        /// Edge-triggered.
        const ET = 0x20;
        /// Exclusive wake ([`What::EXCLUSIVE`]).
        const EXCLUSIVE = 0x40;
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ChangeOp {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "ChangeOp({=u8:#x})", self.bits());
    }
}

/// One fd's coalesced change (libevent's `struct event_change`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Change {
    /// The fd.
    pub fd: RawFd,
    /// The interest the backend had for the fd when the batch began.
    pub old: What,
    /// The change to `READ` interest.
    pub read: ChangeOp,
    /// The change to `WRITE` interest.
    pub write: ChangeOp,
    /// The change to `CLOSED` interest.
    pub closed: ChangeOp,
}

impl Change {
    /// Adds `events` (`READ`, `WRITE`, `CLOSED`; `ET`, `EXCLUSIVE`, `PERSIST` and `SIGNAL` travel
    /// with them) to `fd`, which the backend watches for `old`.
    #[inline]
    pub fn add(fd: RawFd, old: What, events: What) -> Change {
        // `ET`, `PERSIST` and `SIGNAL` have the same bits in both sets; `EXCLUSIVE` moves down.
        let e = events.bits();
        let carried = (e & (What::ET | What::PERSIST | What::SIGNAL).bits()) as u8
            | ((e & What::EXCLUSIVE.bits()) >> 2) as u8;
        Change::of(fd, old, events, ChangeOp::ADD.bits() | carried)
    }

    /// Deletes `events` (`READ`, `WRITE`, `CLOSED`; `ET`, `EXCLUSIVE`: the remaining interest is
    /// edge-triggered, exclusive) from `fd`, which the backend watches for `old`.
    #[inline]
    pub fn del(fd: RawFd, old: What, events: What) -> Change {
        let e = events.bits();
        let carried = ((e & What::ET.bits()) | ((e & What::EXCLUSIVE.bits()) >> 2)) as u8;
        Change::of(fd, old, events, ChangeOp::DEL.bits() | carried)
    }

    /// `op` for each kind of interest in `events` (a signal's goes with `READ`).
    #[inline]
    fn of(fd: RawFd, old: What, events: What, op: u8) -> Change {
        let pick =
            |bits: What| ChangeOp::from_bits_retain(if events.intersects(bits) { op } else { 0 });
        Change {
            fd,
            old: old & What::IO,
            read: pick(What::READ | What::SIGNAL),
            write: pick(What::WRITE),
            closed: pick(What::CLOSED),
        }
    }

    /// The kinds of interest it adds and those it deletes (an add wins over a delete), as
    /// [`What`] bits: `ADD` (1) and `DEL` (2) shifted onto `READ` (2), `WRITE` (4), `CLOSED` (0x80).
    #[inline]
    fn masks(&self) -> (u16, u16) {
        let (r, w, c) = (
            u16::from(self.read.bits()),
            u16::from(self.write.bits()),
            u16::from(self.closed.bits()),
        );
        let add = ((r & 1) << 1) | ((w & 1) << 2) | ((c & 1) << 7);
        let del = (r & 2) | ((w & 2) << 1) | ((c & 2) << 6);
        (add, del & !add)
    }

    /// The union of its three operations.
    #[inline]
    fn any(&self) -> ChangeOp {
        self.read | self.write | self.closed
    }

    /// The interest once the change is applied (within [`What::IO`]).
    #[inline]
    pub fn new_interest(&self) -> What {
        let (add, del) = self.masks();
        What::from_bits_retain(((self.old.bits() & What::IO.bits()) & !del) | add)
    }

    /// Whether applying it must do nothing.
    #[inline]
    pub fn is_noop(&self) -> bool {
        !self.any().intersects(ChangeOp::ADD | ChangeOp::DEL)
    }

    /// Whether any part of it asks for edge-triggering.
    #[inline]
    pub fn edge_triggered(&self) -> bool {
        self.any().contains(ChangeOp::ET)
    }

    /// Whether any part of it asks for exclusive wake.
    #[inline]
    pub fn exclusive(&self) -> bool {
        self.any().contains(ChangeOp::EXCLUSIVE)
    }
}

/// Where a backend reports readiness.
pub trait Sink {
    /// `fd` is ready for `what`, a non-empty subset of [`What::IO`].
    fn ready(&mut self, fd: RawFd, what: What);
}

impl<F: FnMut(RawFd, What)> Sink for F {
    #[inline]
    fn ready(&mut self, fd: RawFd, what: What) {
        self(fd, what)
    }
}

/// A backend's signal catcher (the hosted backends' signal pipe): signals become readiness of
/// one fd, which the base watches and drains (see the [module docs](self)).
pub trait Signals {
    /// The fd the base watches for `READ`, opened on the first call; later calls return it.
    fn open(&mut self) -> Result<RawFd, Error>;
    /// Starts catching `sig` (after [`open`](Self::open)).
    fn watch(&mut self, sig: i32) -> Result<(), Error>;
    /// Stops catching `sig`.
    fn unwatch(&mut self, sig: i32);
    /// Takes what was caught: `f(sig, count)` for each signal delivered `count > 0` times.
    fn drain(&mut self, f: &mut dyn FnMut(i32, u32));
    /// After `fork()`, in the child: a new fd in place of the one shared with the parent, the
    /// signals caught kept. Returns it (-1 if none was open); on error nothing changed.
    fn reinit(&mut self) -> Result<RawFd, Error>;
}

/// An I/O multiplexer driven by an event base. The [module docs](self) are its contract.
pub trait Backend {
    /// Name, features and needs.
    fn info(&self) -> Info;

    /// Starts watching `added` on `fd`, which was watched for `old` (empty if not watched).
    fn add(&mut self, fd: RawFd, old: What, added: What, fdinfo: &mut FdInfo) -> Result<(), Error>;

    /// Stops watching `removed` on `fd`, which was watched for `old`.
    fn del(
        &mut self,
        fd: RawFd,
        old: What,
        removed: What,
        fdinfo: &mut FdInfo,
    ) -> Result<(), Error>;

    /// Whether `fd` can be watched: `EBADF` if it is not open, [`Error::Unpollable`] if it can
    /// never be; `Ok` if the backend cannot tell (the default).
    fn check(&self, fd: RawFd) -> Result<(), Error> {
        let _ = fd;
        Ok(())
    }

    /// Applies a batch of coalesced changes (changelist backends only; others never see a call).
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        let _ = changes;
        Err(Error::Unsupported(Operation::Changelist))
    }

    /// Waits for readiness and reports it into `sink`; returns the number of reports.
    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error>;

    /// Starts afresh after `fork()`: every registration dropped, the parent's objects untouched.
    fn reinit(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Its signal catcher, if it has one; without one (the default), whoever owns the base
    /// delivers signals through [`signal_delivered`](crate::base::EventBase::signal_delivered).
    fn signals(&mut self) -> Option<&mut dyn Signals> {
        None
    }

    /// The backend's own kernel object, if it is an fd that is readable while a watched fd is
    /// ready (epoll, kqueue), so the loop can nest in another; `None` (the default) otherwise.
    fn fd(&self) -> Option<RawFd> {
        None
    }
}
