//! The event base: events, fd and signal maps, timers, priorities and loop control, over storage
//! the caller supplies.
//!
//! # Storage
//!
//! A base keeps four tables, each in a [`Storage`] the caller hands in through [`Parts`]: event
//! slots ([`Slot`], one per pending or active event), the fd map ([`FdEntry`], indexed by fd), the
//! timer heap ([`Timer`], one per event with a timeout) and the changelist ([`Change`], one per fd
//! changed since the last dispatch). The [`Tables`] trait names their types; [`Fixed<N>`] is
//! `heapless::Vec` of `N` each, and the std adapter has growable ones. A table that is full and
//! cannot grow makes the operation fail with [`Error::Full`] naming it, and the base is left
//! exactly as it was. The active queues and the signal map are small and live inline.
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
mod io;
mod queues;
mod run;
mod slots;
#[cfg(test)]
mod tests;
pub mod timers;

use core::marker::PhantomData;
use core::time::Duration;

pub use fdmap::{FdEntry, MAX_SIGNAL};
pub use queues::MAX_PRIORITIES;
pub use run::{Outcome, Ready, Step};
pub use slots::{Handle, Slot};
pub use timers::Timer;

use self::deadlines::TimerRun;
use self::fdmap::{FdMap, SigMap};
use self::io::Io;
use self::queues::Queues;
use self::slots::{state, Slots, NIL};
use self::timers::TimerHeap;
use crate::clock::{nanos, Clock};
use crate::storage::Storage;
use crate::{Backend, BaseFlags, Change, ChangeOp, Error, FdInfo, RawFd, What};

/// The storage types of a base's tables.
pub trait Tables {
    /// Event slots.
    type Slots: Storage<Slot>;
    /// The fd map.
    type Fds: Storage<FdEntry>;
    /// The timer heap.
    type Timers: Storage<Timer>;
    /// The changelist.
    type Changes: Storage<Change>;
}

/// The tables themselves, handed to [`EventBase::new`].
pub struct Parts<T: Tables> {
    /// Event slots: one per pending or active event.
    pub slots: T::Slots,
    /// The fd map: one entry per fd number up to the highest in use.
    pub fds: T::Fds,
    /// The timer heap: one entry per event with a timeout.
    pub timers: T::Timers,
    /// The changelist: one entry per fd changed between dispatches.
    pub changes: T::Changes,
}

/// `heapless::Vec` of `N` for every table.
#[derive(Debug)]
pub struct Fixed<const N: usize>;

impl<const N: usize> Tables for Fixed<N> {
    type Slots = heapless::Vec<Slot, N>;
    type Fds = heapless::Vec<FdEntry, N>;
    type Timers = heapless::Vec<Timer, N>;
    type Changes = heapless::Vec<Change, N>;
}

/// Slices the caller owns, for every table.
#[derive(Debug)]
pub struct Borrowed<'a>(PhantomData<&'a mut ()>);

impl<'a> Tables for Borrowed<'a> {
    type Slots = &'a mut [Slot];
    type Fds = &'a mut [FdEntry];
    type Timers = &'a mut [Timer];
    type Changes = &'a mut [Change];
}

impl<T: Tables> Default for Parts<T>
where
    T::Slots: Default,
    T::Fds: Default,
    T::Timers: Default,
    T::Changes: Default,
{
    fn default() -> Self {
        Parts {
            slots: Default::default(),
            fds: Default::default(),
            timers: Default::default(),
            changes: Default::default(),
        }
    }
}

/// What defines an event, as its adapter keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
pub struct Counts {
    /// Events inserted (waiting for I/O or a signal) plus events waiting for a timeout: an event
    /// that does both counts twice, as libevent counts it.
    pub added: u32,
    /// Events in an active queue.
    pub active: u32,
    /// Virtual events (held by an adapter to keep the loop running).
    pub virtual_: u32,
}

/// What the base knows of one event, for iteration and dumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    run_of_timers: TimerRun,
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
    /// The [fork generation](crate::fork) the backend and signal pipe were made in.
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
            run_of_timers: TimerRun::default(),
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

    /// The deadline of a timeout of `interval` being set now: counted from a fresh reading of the
    /// clock, never from the cached time, which a callback may have outlived by the work it did
    /// before the `add`. So a timeout never expires before the `add` + the timeout.
    #[inline(always)]
    fn deadline_after(&mut self, interval: u64) -> u64 {
        self.clock.now().saturating_add(interval)
    }

    /// Re-initialises the base (as [`reinit`](Self::reinit)) if the process forked since the
    /// backend was made (see [`crate::fork`]); called where the base is about to touch it.
    #[inline(always)]
    fn check_fork(&mut self) -> Result<(), Error> {
        if crate::fork::generation() == self.fork_gen {
            return Ok(());
        }
        self.after_fork()
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
                if self.retime_in_run(idx, t) {
                    return Ok(h);
                }
            }
        }
        self.add_other(current, spec, timeout)
    }

    /// [`add`](Self::add)'s common case, with no call out: a persistent event's callback adding
    /// it again with its timeout, which moves (or keeps) its timer at the end of the run (see
    /// [`arm_in_run`](Self::arm_in_run)). Whether it was that case; if not, nothing changed.
    #[inline(always)]
    fn retime_in_run(&mut self, idx: u32, t: Duration) -> bool {
        let st = self.slots.get(idx).state;
        // Inserted: nothing else to do but the timeout. Active with a timeout: that firing is
        // cancelled (`set_timeout`), which is not this path's business.
        if st & state::INSERTED == 0 || st & state::ACTIVE != 0 {
            return false;
        }
        let interval = nanos(t);
        let deadline = self.deadline_after(interval);
        if !self.arm_in_run(idx, deadline) {
            return false;
        }
        let s = self.slots.get_mut(idx);
        s.interval = interval;
        s.state = (st | state::PERIODIC) & !state::TIMED_OUT;
        true
    }

    /// [`add`](Self::add) for the rest.
    #[inline(never)]
    fn add_other(
        &mut self,
        current: Option<Handle>,
        spec: &Spec,
        timeout: Option<Duration>,
    ) -> Result<Handle, Error> {
        self.check_fork()?;
        if let Some(h) = current {
            if let Ok(idx) = self.slots.resolve(h, spec.token) {
                // Held already: pending or active, and nothing below lets go of it.
                self.add_held(idx, timeout)?;
                return Ok(h);
            }
        }
        self.add_fresh(spec, timeout)
    }

    /// `add` with a new slot.
    #[inline(never)]
    fn add_fresh(&mut self, spec: &Spec, timeout: Option<Duration>) -> Result<Handle, Error> {
        let (idx, _) = self.hold(None, spec)?;
        self.add_to(idx, true, timeout)?;
        let h = self.slots.handle(idx);
        self.drop_if_unheld(idx, true);
        Ok(h)
    }

    /// `add` for a slot held already. The common case, an event inserted already (a persistent
    /// event's callback adding it again with its timeout), only re-arms the timer: on error that
    /// changed nothing, and the slot stays held, as [`add_to`](Self::add_to) would leave it.
    #[inline]
    fn add_held(&mut self, idx: u32, timeout: Option<Duration>) -> Result<(), Error> {
        if self.slots.get(idx).state & state::INSERTED == 0 {
            return self.add_to(idx, false, timeout);
        }
        match timeout {
            Some(t) => self.set_timeout(idx, t),
            None => Ok(()),
        }
    }

    /// Inserts slot `idx` if it is not yet and sets its timeout if one is given; on error, undoes
    /// what it did and gives the slot back if `fresh` and nothing holds it.
    #[inline(never)]
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
            Some(s.deadline)
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
        self.slots.iter_used().map(move |i| {
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
                    Some(s.deadline)
                } else {
                    None
                },
            }
        })
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
        s.events.contains(What::SIGNAL) || (s.fd >= 0 && s.events.intersects(What::IO))
    }

    /// Gives the slot back if nothing holds it (`fresh`: it was taken by this call).
    fn drop_if_unheld(&mut self, idx: u32, fresh: bool) {
        let s = self.slots.get(idx);
        let held = s.state & (state::INSERTED | state::ACTIVE) != 0 || s.heap != NIL;
        if fresh && !held {
            self.slots.release(idx);
        }
    }

    #[inline(always)]
    fn set_timeout(&mut self, idx: u32, t: Duration) -> Result<(), Error> {
        let interval = nanos(t);
        let deadline = self.deadline_after(interval);
        self.arm(idx, deadline)?;
        let s = self.slots.get_mut(idx);
        s.interval = interval;
        let st = s.state;
        s.state = (st | state::PERIODIC) & !state::TIMED_OUT;
        // Rescheduling a timeout that already fired, before its callback ran, cancels that firing
        // (libevent's rule) but keeps any I/O result (where libevent loses it).
        if st & state::ACTIVE != 0 && s.res.contains(What::TIMEOUT) {
            self.cancel_timeout_firing(idx);
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn cancel_timeout_firing(&mut self, idx: u32) {
        let s = self.slots.get_mut(idx);
        s.res.remove(What::TIMEOUT);
        if s.res.is_empty() {
            self.queues.remove(self.slots.as_mut_slice(), idx);
            self.slots.get_mut(idx).state &= !state::ACTIVE;
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

    /// Inserts the event in its fd's or signal's list, telling the backend of new interest.
    #[inline(never)]
    fn link(&mut self, idx: u32) -> Result<(), Error> {
        let (fd, events) = {
            let s = self.slots.get(idx);
            (s.fd, s.events)
        };
        if events.contains(What::SIGNAL) {
            return self.link_signal(idx, fd);
        }
        if fd == self.sigfd {
            // The base's own signal fd: no event waits on it, so the dispatch path can tell
            // its reports apart by the fd's events alone (see `run::Activator`).
            return Err(Error::BadFd(fd));
        }
        // Checked before the map grows for it: a number far beyond any open fd must cost nothing.
        let beyond = self.fds.beyond(fd);
        if beyond {
            self.io.backend.check(fd)?;
        }
        let entry = self.fds.entry(fd)?;
        let et = events.contains(What::ET);
        if entry.nevents > 0 && entry.et != et {
            return Err(Error::MixedTriggers(fd));
        }
        if entry.nevents == u16::MAX {
            return Err(Error::TooManyEvents(fd));
        }
        let old = entry.interest();
        let mut after = *entry;
        after.et = et;
        after.count(events, true);
        let added = (after.interest() - old) & What::IO;
        if !added.is_empty() {
            if self.io.changelist && !beyond && (old & What::IO).is_empty() {
                // The changelist reaches the backend only at the next dispatch, too late for
                // this add to report an fd it cannot watch: check when the fd's interest starts.
                self.io.backend.check(fd)?;
            }
            let bits = added | (after.interest() & What::ET);
            self.io
                .change(ChangeOp::ADD, fd, old, bits, &mut entry.info)?;
        }
        let head = entry.head;
        entry.count(events, true);
        entry.et = et;
        entry.head = idx;
        if head != NIL {
            self.slots.get_mut(head).prev = idx;
        }
        let s = self.slots.get_mut(idx);
        s.next = head;
        s.prev = NIL;
        s.state |= state::INSERTED;
        Ok(())
    }

    /// Takes the event out of its fd's or signal's list; tells the backend of interest lost.
    fn unlink_insert(&mut self, idx: u32) -> Result<(), Error> {
        let (fd, events, next, prev, st) = {
            let s = self.slots.get(idx);
            (s.fd, s.events, s.next, s.prev, s.state)
        };
        if st & state::INSERTED == 0 {
            return Ok(());
        }
        self.slots.get_mut(idx).state &= !state::INSERTED;
        if next != NIL {
            self.slots.get_mut(next).prev = prev;
        }
        if prev != NIL {
            self.slots.get_mut(prev).next = next;
        }
        if events.contains(What::SIGNAL) {
            return self.unlink_signal(fd, prev, next);
        }
        let entry = self.fds.entry(fd)?;
        if prev == NIL {
            entry.head = next;
        }
        let old = entry.interest();
        entry.count(events, false);
        if entry.nevents == 0 {
            entry.et = false;
        }
        let removed = (old - entry.interest()) & What::IO;
        if removed.is_empty() {
            return Ok(());
        }
        // ET travels with the delete when the remaining interest is edge-triggered, so a backend
        // that rewrites the fd's registration keeps it (libevent loses it here).
        let bits = removed | (entry.interest() & What::ET);
        self.io
            .change(ChangeOp::DEL, fd, old, bits, &mut entry.info)
    }

    fn link_signal(&mut self, idx: u32, sig: RawFd) -> Result<(), Error> {
        let first = self.sigs.entry(sig)?.count == 0;
        if first {
            self.watch_signal(sig)?;
        }
        let entry = self.sigs.entry(sig)?;
        let head = entry.head;
        entry.head = idx;
        entry.count += 1;
        if head != NIL {
            self.slots.get_mut(head).prev = idx;
        }
        let s = self.slots.get_mut(idx);
        s.next = head;
        s.prev = NIL;
        s.state |= state::INSERTED;
        Ok(())
    }

    fn unlink_signal(&mut self, sig: RawFd, prev: u32, next: u32) -> Result<(), Error> {
        let entry = self.sigs.entry(sig)?;
        if prev == NIL {
            entry.head = next;
        }
        entry.count -= 1;
        if entry.count == 0 {
            self.unwatch_signal(sig);
        }
        Ok(())
    }

    /// Has the backend's [`Signals`](crate::Signals), if it has one, catch `sig`, its fd
    /// watched first; without one there is nothing to do here.
    fn watch_signal(&mut self, sig: i32) -> Result<(), Error> {
        let fd = match self.io.backend.signals() {
            Some(signals) => signals.open()?,
            None => return Ok(()),
        };
        if self.sigfd < 0 {
            self.check_sigfd(fd)?;
            let mut info = FdInfo::default();
            self.io
                .change(ChangeOp::ADD, fd, What::empty(), What::READ, &mut info)?;
            (self.sigfd, self.siginfo) = (fd, info);
        }
        self.io.backend.signals().map_or(Ok(()), |s| s.watch(sig))
    }

    /// Refuses `fd` for the signal fd if events wait on that number: they were left on an fd
    /// since closed (the caller's bug), and the dispatch path would take the signal fd's reports
    /// for theirs. Keeps `link`'s rule that no event waits on the signal fd.
    fn check_sigfd(&self, fd: RawFd) -> Result<(), Error> {
        let entry = usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.storage.as_slice().get(i));
        if entry.is_some_and(|e| e.nevents > 0) {
            return Err(Error::SignalFdTaken(fd));
        }
        Ok(())
    }

    fn unwatch_signal(&mut self, sig: i32) {
        if let Some(signals) = self.io.backend.signals() {
            signals.unwatch(sig);
        }
    }
}
