//! The event base: events, fd and signal maps, timers, priorities and loop control, over storage
//! the caller supplies.
//!
//! # Storage
//!
//! A base keeps four tables, each in a [`Storage`](crate::Storage) the caller hands in through
//! [`Parts`]: event slots ([`Slot`], one per pending or active event), the fd map ([`FdEntry`],
//! indexed by fd), the timer heap ([`Timer`], one per event with a timeout) and the changelist
//! ([`Change`](crate::Change), one per fd changed since the last dispatch). The [`Tables`] trait
//! names their types; [`Fixed<N>`] is `heapless::Vec` of `N` each, and the std adapter has
//! growable ones. A table that is full and cannot grow makes the operation fail with
//! [`Error::Full`] naming it, and the base is left exactly as it was. The active queues and the
//! signal map are small and live inline.
//!
//! # Events and handles
//!
//! What defines an event (fd, interest, priority and the adapter's token, in a [`Spec`]) belongs to
//! the adapter. The base takes a slot when the event becomes pending or active and gives it back
//! when it is deleted or, if not persistent, when it runs. The [`Handle`] it returns is checked on
//! every use together with the token, so a stale handle is an [`Error::StaleHandle`], never a
//! wrong event.
//!
//! # The loop, pulled
//!
//! The base never calls user code. [`EventBase::start`] begins a run; [`EventBase::step`] does the
//! work (waits on the backend, expires timers, queues active events) and returns the next event to
//! run as [`Step::Run`]; the adapter runs its callback with no borrow of the base held, so the
//! callback may add, delete, activate or free any event, and calls `step` again, until
//! [`Step::Done`]. [`EventBase::step`] describes the iteration, which follows libevent's
//! `event_base_loop`.

mod deadlines;
mod fdmap;
mod fork;
mod io;
mod link;
mod queues;
mod run;
mod slots;
mod tables;
#[cfg(test)]
mod tests;
pub mod timers;

use core::time::Duration;

pub use fdmap::{FdEntry, MAX_SIGNAL};
pub use queues::MAX_PRIORITIES;
pub use run::{Outcome, Ready, Step};
pub use slots::{Handle, Slot};
pub use tables::{Borrowed, Fixed, Parts, Tables};
pub use timers::Timer;

use self::deadlines::{Deferred, TimerList};
use self::fdmap::{FdMap, SigMap};
use self::io::Io;
use self::queues::Queues;
use self::slots::{state, Slots, NIL};
use self::timers::TimerHeap;
use crate::clock::Clock;
use crate::{Backend, BaseFlags, Error, FdInfo, RawFd, What};

/// What defines an event, as its adapter keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Spec {
    /// The fd, or the signal number for a [`What::SIGNAL`] event, or -1 for none.
    pub fd: RawFd,
    /// The interest: I/O bits or `SIGNAL`, with `PERSIST` and `ET`.
    pub events: What,
    /// The priority: 0 runs first; below [`EventBase::priorities`].
    pub priority: u8,
    /// The adapter's token, returned in [`Ready`] and checked with every handle.
    pub token: usize,
}

/// How many events the base holds, by where they are (libevent's `event_base_get_num_events`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counts {
    /// Events inserted (waiting for I/O or a signal) plus events waiting for a timeout: an event
    /// that does both counts twice. (libevent's `EVENT_BASE_COUNT_ADDED` counts the active events
    /// too; the C library adds them.)
    pub added: u32,
    /// Events in an active queue.
    pub active: u32,
    /// Virtual events (held by an adapter to keep the loop running).
    pub virtual_: u32,
}

/// What the base knows of one event, for iteration and dumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EventInfo {
    /// Its handle.
    pub handle: Handle,
    /// The adapter's token.
    pub token: usize,
    /// Its fd or signal number.
    pub fd: RawFd,
    /// Its interest.
    pub events: What,
    /// Its priority.
    pub priority: u8,
    /// Waiting for I/O or a signal.
    pub inserted: bool,
    /// Active, with this result (empty if not active).
    pub active: What,
    /// Its timeout's deadline on the base's clock, if it has one pending.
    pub deadline: Option<u64>,
}

/// libevent's event loop over a backend `B`, a clock `C` and tables `T`.
pub struct EventBase<B, C, T: Tables> {
    io: Io<B, T::Changes>,
    clock: C,
    flags: BaseFlags,
    closed_as_read: bool,
    slots: Slots<T::Slots>,
    fds: FdMap<T::Fds>,
    timers: TimerHeap<T::Timers>,
    /// Timers whose deadlines came in order, outside the heap (see [`EventBase::arm`]).
    timer_list: TimerList,
    /// A persistent event's re-arm, put off (see [`Deferred`]).
    deferred: Deferred,
    sigs: SigMap,
    queues: Queues,
    npriorities: u8,
    nvirtual: u32,
    /// The iteration's time, read at most once (see [`EventBase::now`]).
    cached_now: Option<u64>,
    /// The fd of the backend's [`Signals`](crate::Signals), or -1 while it catches none: the
    /// base's one internal fd, watched with no event on it.
    sigfd: RawFd,
    /// Its per-fd word.
    siginfo: FdInfo,
    /// The [fork generation](crate::fork) the backend and signal fd were made in.
    fork_gen: u32,
    run: run::LoopState,
}

impl<B: Backend, C: Clock, T: Tables> EventBase<B, C, T> {
    /// A base over `backend`, reading time from `clock`, with its tables in `parts`. One priority
    /// to start with, as libevent.
    pub fn new(backend: B, clock: C, parts: Parts<T>, flags: BaseFlags) -> Self {
        let info = backend.info();
        EventBase {
            io: Io::new(backend, parts.changes),
            clock,
            flags,
            closed_as_read: !info.features.contains(crate::Features::EARLY_CLOSE),
            slots: Slots::new(parts.slots),
            fds: FdMap { storage: parts.fds },
            timers: TimerHeap::new(parts.timers),
            timer_list: TimerList::default(),
            deferred: Deferred::default(),
            sigs: SigMap::new(),
            queues: Queues::new(),
            npriorities: 1,
            nvirtual: 0,
            cached_now: None,
            sigfd: -1,
            siginfo: FdInfo::default(),
            fork_gen: crate::fork::generation(),
            run: run::LoopState::default(),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.io.backend
    }

    /// The base's flags.
    pub fn flags(&self) -> BaseFlags {
        self.flags
    }

    /// The number of priorities.
    pub fn priorities(&self) -> u8 {
        self.npriorities
    }

    /// Sets the number of priorities, `1..=255` (libevent's `event_base_priority_init`). Refused
    /// while events are active.
    pub fn set_priorities(&mut self, n: u8) -> Result<(), Error> {
        if n == 0 {
            return Err(Error::NoPriorities);
        }
        if self.queues.len > 0 {
            return Err(Error::PrioritiesInUse);
        }
        self.npriorities = n;
        Ok(())
    }

    /// The default priority of a new event: the middle one, as libevent.
    pub fn default_priority(&self) -> u8 {
        self.npriorities / 2
    }

    /// The iteration's time: while a run is in progress, read from the clock once per iteration
    /// and cached (unless [`BaseFlags::NO_CACHE_TIME`]); outside a run, read afresh.
    #[inline]
    pub fn now(&mut self) -> u64 {
        // Set only by `read_clock`, during a run with caching on, and cleared when a run ends.
        match self.cached_now {
            Some(t) => t,
            None => self.read_clock(),
        }
    }

    /// Reads the clock, caching the time if a run is in progress and caching is on.
    #[inline]
    fn read_clock(&mut self) -> u64 {
        let t = self.clock.now();
        if !self.flags.contains(BaseFlags::NO_CACHE_TIME) && self.is_running() {
            self.cached_now = Some(t);
        }
        t
    }

    /// [`read_clock`](Self::read_clock) where a run is known to be in progress.
    #[inline]
    fn read_clock_in_run(&mut self) -> u64 {
        let t = self.clock.now();
        if !self.flags.contains(BaseFlags::NO_CACHE_TIME) {
            self.cached_now = Some(t);
        }
        t
    }

    /// Forgets the cached time, so the next [`now`](Self::now) reads the clock.
    pub fn update_cache_time(&mut self) {
        self.cached_now = None;
    }

    /// Counts of events by where they are.
    pub fn counts(&self) -> Counts {
        let (mut added, mut active) = (0, 0);
        for i in self.slots.iter_used() {
            let s = self.slots.get(i);
            if s.state & state::INTERNAL == 0 {
                added += u32::from(s.state & state::INSERTED != 0) + u32::from(s.heap != NIL);
                active += u32::from(s.state & state::ACTIVE != 0);
            }
        }
        Counts {
            added,
            active,
            virtual_: self.nvirtual,
        }
    }

    /// Adds a virtual event: it keeps the loop from exiting for lack of events.
    pub fn add_virtual(&mut self) {
        self.nvirtual += 1;
    }

    /// Removes a virtual event.
    pub fn del_virtual(&mut self) {
        self.nvirtual = self.nvirtual.saturating_sub(1);
    }

    /// Takes the error of a changelist batch that failed at dispatch, if any. Such an error cannot
    /// be returned by the `add` that caused it (the change was applied later); it is kept here
    /// instead of being dropped. An fd that is not open or cannot be watched at all is refused by
    /// `add` itself (see [`Backend::check`]): what comes here is what the kernel said later.
    pub fn take_deferred_error(&mut self) -> Option<Error> {
        self.io.deferred.take()
    }

    /// Makes the event pending: inserts it for its I/O or signal if it is not yet, and sets its
    /// timeout if `timeout` is given (replacing an earlier one; `None` keeps an earlier one).
    ///
    /// The timeout counts from this call: its deadline is the clock read now (not the cached
    /// time of [`now`](Self::now), which a callback may have outlived) plus `timeout`, so the
    /// event never times out before `add` + `timeout` on the base's clock.
    ///
    /// `current` is the handle from an earlier call, if the adapter has one; if it is stale (the
    /// event ran or was deleted since) a new slot is taken. Returns the handle to keep. If the
    /// event ends up neither inserted nor timed (a pure timer added with no timeout), nothing is
    /// held and the handle returned is already stale, as libevent leaves such an event not pending.
    /// On error the base is exactly as it was.
    // Always inlined: the common case below is a few loads and stores, and a call of its own
    // costs more than it (callee-saved registers); everything else is behind `add_other`.
    #[inline(always)]
    pub fn add(
        &mut self,
        current: Option<Handle>,
        spec: &Spec,
        timeout: Option<Duration>,
    ) -> Result<Handle, Error> {
        if let (Some(h), Some(t)) = (current, timeout) {
            if let Ok(idx) = self.slots.resolve(h, spec.token) {
                if self.retime(idx, t) {
                    return Ok(h);
                }
            }
        }
        self.add_other(current, spec, timeout)
    }

    /// [`add`](Self::add) for the rest, the cold path: a new slot, an event to insert, or a
    /// timeout not pending before. On error the base is as it was.
    #[cold]
    #[inline(never)]
    fn add_other(
        &mut self,
        current: Option<Handle>,
        spec: &Spec,
        timeout: Option<Duration>,
    ) -> Result<Handle, Error> {
        self.check_fork()?;
        let (idx, fresh) = self.hold(current, spec)?;
        if !fresh && self.slots.get(idx).state & state::INSERTED != 0 {
            // Inserted already (a persistent event's callback adding it again with its
            // timeout): only the timer changes; on error nothing did, and the slot stays held.
            if let Some(t) = timeout {
                self.set_timeout(idx, t)?;
            }
        } else {
            self.add_to(idx, fresh, timeout)?;
        }
        let h = self.slots.handle(idx);
        // A pure timer added with no timeout holds nothing: its new slot goes back.
        self.drop_if_unheld(idx, fresh);
        Ok(h)
    }

    /// Inserts slot `idx` if it is not yet and sets its timeout if one is given; on error, undoes
    /// what it did and gives the slot back if `fresh` and nothing holds it.
    #[inline]
    fn add_to(&mut self, idx: u32, fresh: bool, timeout: Option<Duration>) -> Result<(), Error> {
        let st = self.slots.get(idx).state;
        let inserted_now = st & state::INSERTED == 0 && self.wants_insert(idx);
        if inserted_now {
            if let Err(e) = self.link(idx) {
                self.drop_if_unheld(idx, fresh);
                return Err(e);
            }
        }
        if let Some(t) = timeout {
            if let Err(e) = self.set_timeout(idx, t) {
                if inserted_now {
                    let _ = self.unlink_insert(idx);
                }
                self.drop_if_unheld(idx, fresh);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Deletes a pending or active event: it will not run. A stale handle is
    /// [`Error::StaleHandle`] (for libevent's `event_del`, "not pending", which is not an error).
    /// The event is deleted even if the backend reports an error, which is then returned.
    pub fn del(&mut self, h: Handle, token: usize) -> Result<(), Error> {
        let idx = self.slots.resolve(h, token)?;
        // Failed, the base still has a backend of its own (a new one, or none): deleting from it
        // cannot reach the parent's.
        let forked = self.check_fork();
        let r = self.unlink(idx);
        self.slots.release(idx);
        forked.and(r)
    }

    /// Removes the event's timeout but keeps it inserted (libevent's `event_remove_timer`).
    pub fn del_timer(&mut self, h: Handle, token: usize) -> Result<(), Error> {
        let idx = self.slots.resolve(h, token)?;
        self.disarm(idx);
        let s = self.slots.get_mut(idx);
        s.state &= !(state::PERIODIC | state::TIMED_OUT);
        self.drop_if_unheld(idx, true);
        Ok(())
    }

    /// Sets the priority of a pending event that is not active (libevent's `event_priority_set`):
    /// nothing else changes, its timeout keeps its deadline and its period. An active event is
    /// [`Error::Active`], a priority out of range [`Error::BadPriority`]; neither changes anything.
    pub fn set_priority(&mut self, h: Handle, token: usize, priority: u8) -> Result<(), Error> {
        let idx = self.slots.resolve(h, token)?;
        if priority >= self.npriorities {
            return Err(Error::BadPriority(priority));
        }
        let s = self.slots.get_mut(idx);
        if s.state & state::ACTIVE != 0 {
            return Err(Error::Active);
        }
        s.pri = priority;
        Ok(())
    }

    /// Activates the event with `res` (ORed into an earlier activation), whether it is pending or
    /// not; a signal event's callback runs `ncalls` more times. Returns the handle to keep.
    pub fn activate(
        &mut self,
        current: Option<Handle>,
        spec: &Spec,
        res: What,
        ncalls: u16,
    ) -> Result<Handle, Error> {
        let (idx, _) = self.hold(current, spec)?;
        self.activate_idx(idx, res, ncalls);
        Ok(self.slots.handle(idx))
    }

    /// What the event is waiting for among `what` (libevent's `event_pending`): the I/O or signal
    /// bits if inserted, `TIMEOUT` if its timeout is pending, and the bits it is active with; and
    /// the deadline if it has one. A stale handle is pending for nothing.
    pub fn pending(&self, h: Handle, token: usize, what: What) -> (What, Option<u64>) {
        let Ok(idx) = self.slots.resolve(h, token) else {
            return (What::empty(), None);
        };
        let s = self.slots.get(idx);
        let mut flags = What::empty();
        if s.state & state::INSERTED != 0 {
            flags |= s.events & (What::IO | What::SIGNAL);
        }
        if s.heap != NIL {
            flags |= What::TIMEOUT;
        }
        if s.state & state::ACTIVE != 0 {
            flags |= s.res;
        }
        let deadline = if s.heap != NIL {
            Some(self.deadline_of(idx))
        } else {
            None
        };
        (
            flags & what & (What::TIMEOUT | What::IO | What::SIGNAL),
            deadline,
        )
    }

    /// Marks the event as the adapter's own machinery (a wake-up fd, say), as libevent marks its
    /// internal events: it does not keep [`step`](Self::step) from ending a run for lack of
    /// events and is not in [`counts`](Self::counts). The mark lasts as long as the slot: until
    /// the event is deleted or, if not persistent, runs.
    pub fn set_internal(&mut self, h: Handle, token: usize) -> Result<(), Error> {
        let idx = self.slots.resolve(h, token)?;
        let s = self.slots.get_mut(idx);
        if s.state & state::INTERNAL == 0 {
            s.state |= state::INTERNAL;
            self.slots.internal += 1;
        }
        Ok(())
    }

    /// Whether the handle names a pending or active event carrying `token`.
    pub fn is_held(&self, h: Handle, token: usize) -> bool {
        self.slots.resolve(h, token).is_ok()
    }

    /// Every event the base holds, in slot order.
    pub fn events(&self) -> impl Iterator<Item = EventInfo> + '_ {
        self.slots.iter_used().map(move |i| self.info(i))
    }

    /// Whether [`step`](Self::step) just handed out the first event of an iteration and left
    /// others queued behind it: then an adapter can mark what the iteration activated (libevent's
    /// `EVLIST_ACTIVE`) once, from [`queued`](Self::queued). One load when nothing is queued.
    #[inline(always)]
    pub fn queued_behind_first(&self) -> bool {
        self.queues.len > 0 && self.run.ran == 1
    }

    /// The events waiting in the active queues, highest priority first.
    pub fn queued(&self) -> impl Iterator<Item = EventInfo> + '_ {
        let mut pri = if self.queues.len > 0 { 0 } else { 256 };
        let mut idx = NIL;
        core::iter::from_fn(move || loop {
            if idx != NIL {
                let i = idx;
                idx = self.slots.get(i).anext;
                return Some(self.info(i));
            }
            if pri >= 256 {
                return None;
            }
            idx = self.queues.front(pri as u8);
            pri += 1;
        })
    }

    fn info(&self, i: u32) -> EventInfo {
        let s = self.slots.get(i);
        EventInfo {
            handle: self.slots.handle(i),
            token: s.token,
            fd: s.fd,
            events: s.events,
            priority: s.pri,
            inserted: s.state & state::INSERTED != 0,
            active: if s.state & state::ACTIVE != 0 {
                s.res
            } else {
                What::empty()
            },
            deadline: if s.heap != NIL {
                Some(self.deadline_of(i))
            } else {
                None
            },
        }
    }

    /// A signal was delivered `count` times: activates its events. The base does this itself for
    /// a backend with [`Signals`](crate::Signals) (the hosted ones); for another, whoever catches
    /// the signal calls it.
    pub fn signal_delivered(&mut self, sig: i32, count: u16) -> Result<(), Error> {
        let mut idx = self.sigs.entry(sig)?.head;
        while idx != NIL {
            let next = self.slots.get(idx).next;
            self.activate_idx(idx, What::SIGNAL, count);
            idx = next;
        }
        Ok(())
    }

    // ---- internals -------------------------------------------------------------------------

    /// The slot for `spec`: the one `current` names, or a new one.
    fn hold(&mut self, current: Option<Handle>, spec: &Spec) -> Result<(u32, bool), Error> {
        if let Some(idx) = current.and_then(|h| self.slots.resolve(h, spec.token).ok()) {
            return Ok((idx, false));
        }
        let io = spec.events.intersects(What::IO);
        if spec.events.contains(What::SIGNAL) && io {
            return Err(Error::SignalWithIo);
        }
        if spec.priority >= self.npriorities {
            return Err(Error::BadPriority(spec.priority));
        }
        let idx = self.slots.take(spec.token)?;
        let s = self.slots.get_mut(idx);
        s.fd = spec.fd;
        s.events = spec.events;
        s.pri = spec.priority;
        Ok((idx, true))
    }

    fn wants_insert(&self, idx: u32) -> bool {
        let s = self.slots.get(idx);
        s.events.intersects(What::SIGNAL | What::IO)
    }

    /// Gives the slot back if nothing holds it (`fresh`: it was taken by this call).
    fn drop_if_unheld(&mut self, idx: u32, fresh: bool) {
        let s = self.slots.get(idx);
        let held = s.state & (state::INSERTED | state::ACTIVE) != 0 || s.heap != NIL;
        if fresh && !held {
            self.slots.release(idx);
        }
    }

    /// Removes the event from everything: its fd or signal, the heap, the active queue.
    fn unlink(&mut self, idx: u32) -> Result<(), Error> {
        let r = self.unlink_insert(idx);
        self.disarm(idx);
        if self.slots.get(idx).state & state::ACTIVE != 0 {
            self.queues.remove(self.slots.as_mut_slice(), idx);
        }
        self.slots.get_mut(idx).state &= !(state::ACTIVE | state::INSERTED);
        r
    }

    #[inline]
    fn activate_idx(&mut self, idx: u32, res: What, ncalls: u16) {
        run::activate(
            self.slots.as_mut_slice(),
            &mut self.queues,
            &mut self.run,
            idx,
            res,
            ncalls,
        );
    }
}
