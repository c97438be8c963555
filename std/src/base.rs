//! [`Base`]: the event loop, its events and their callbacks.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use eventop_core::base::{self as core_base, Handle, Outcome, Ready, Spec, Step};
use eventop_core::clock::Clock;
use eventop_core::sys::clock::Monotonic;
use eventop_core::{Backend, BaseFlags, Features, LoopFlags, What};

use crate::cores::Core;
use crate::error::{Error, Result};
use crate::event::{EventId, Handler, Held, Io, OnceFn, Plain, Record, Records, Source};
use crate::tables::Growable;
use crate::timer::{Deadline, TimeoutAction, TimerFn};
use crate::waker::{Waker, WakerShared};
use crate::{Interest, Mode, Readiness};

/// How a run of the loop ended.
pub type Exit = Outcome;

/// An event loop: I/O, timers, signals and events activated by hand, each with a closure to call.
///
/// Every callback gets `&mut Base<D>`, so it can add, delete, activate and free any event, its
/// own included, and stop the loop; and `&mut D`, the data the caller lends to
/// [`run`](Self::run): state that callbacks share, with no `Arc` or `Mutex`. The base keeps no
/// `D` (a run borrows it), so `D` need not be `Send` (an `Rc`, a `RefCell` are fine) and the base
/// is always `Send`: callbacks must be `Send + 'static`, and whatever is not goes in `D`.
///
/// An [`EventId`] is a small `Copy` handle; using one whose event was freed is [`Error::Stale`],
/// never another event. To reach the base from other threads while it runs, use a [`Waker`].
///
/// `Base::new()` infers `D` from the first run; write `Base::<MyData>::new()` (or annotate the
/// binding) where a callback uses the data before that.
pub struct Base<D = ()> {
    pub(crate) core: Core,
    pub(crate) records: Records<D>,
    pub(crate) waker: Option<(std::sync::Arc<WakerShared<D>>, EventId)>,
    /// An error from a timer's [`TimeoutAction`], for [`take_deferred_error`](Self::take_deferred_error).
    deferred: Option<Error>,
    /// The core's default priority, for new events (kept here: one load, whichever core).
    priority: u8,
    /// The last [`now`](Self::now): the core's reading and the `Instant` it gave.
    now_memo: Option<(u64, Instant)>,
}

impl<D> Base<D> {
    /// A base with the default configuration: the best backend this machine has, one priority.
    pub fn new() -> Result<Base<D>> {
        crate::Builder::new().build()
    }

    pub(crate) fn from_core(core: Core) -> Base<D> {
        Base {
            priority: core.default_priority(),
            core,
            records: Records::new(),
            waker: None,
            deferred: None,
            now_memo: None,
        }
    }

    /// The backend's name (`"epoll"`, `"poll"`, …).
    pub fn backend_name(&self) -> &'static str {
        self.core.info().name
    }

    /// What the backend can do. Without [`Features::ET`] (poll, select), [`Mode::Edge`] is
    /// level-triggered: the event fires while its fd stays ready, not once per change.
    pub fn features(&self) -> Features {
        self.core.info().features
    }

    /// Whether interest changes are batched until the loop next waits (epoll with
    /// [`Builder::epoll_changelist`](crate::Builder::epoll_changelist), kqueue): then an error
    /// they meet comes later, from [`take_deferred_error`](Self::take_deferred_error).
    pub fn changelist(&self) -> bool {
        self.core.info().changelist
    }

    /// Whether a run reads the clock once per iteration and caches it (the default), rather
    /// than at every use ([`Builder::no_cache_time`](crate::Builder::no_cache_time)).
    pub fn caches_time(&self) -> bool {
        !self.core.flags().contains(BaseFlags::NO_CACHE_TIME)
    }

    /// Sets the number of priorities, 1 to 255 (refused while events are active). New events
    /// get the middle one.
    pub fn set_priorities(&mut self, n: u8) -> Result<()> {
        self.core.set_priorities(n)?;
        self.priority = self.core.default_priority();
        Ok(())
    }

    /// An I/O event, pending at once: `callback` runs when `source` is ready for `interest`,
    /// as `mode` says, and is lent `&mut source` each time. The base owns `source` until the
    /// event is freed: [`free`](Self::free) drops it (closing a socket), and
    /// [`take_source`](Self::take_source) gives it back. On error, `source` is dropped.
    pub fn new_io<T, F>(
        &mut self,
        source: T,
        interest: Interest,
        mode: Mode,
        callback: F,
    ) -> Result<Io<T>>
    where
        T: AsFd + Send + 'static,
        F: FnMut(&mut Base<D>, &mut D, EventId, Readiness, &mut T) + Send + 'static,
    {
        let fd = source.as_fd().as_raw_fd();
        no_empty_interest(interest)?;
        let handler = Source {
            source,
            f: callback,
        };
        let ev = self.new_event(fd, interest.what() | mode.what(), handler);
        self.add_new(ev).map(|()| Io::new(ev))
    }

    /// An I/O event on a raw fd, pending at once; the base does not own `fd`.
    ///
    /// # Safety
    ///
    /// `fd` must stay open, and be the same open file, until the event is deleted or freed:
    /// closing it first leaves the kernel's registration behind (epoll, kqueue), so a new file
    /// that gets the number is not watched, or the event fires for a file it never knew.
    /// [`new_io`](Self::new_io), which owns its source, is the safe way.
    pub unsafe fn new_raw_io<F>(
        &mut self,
        fd: RawFd,
        interest: Interest,
        mode: Mode,
        callback: F,
    ) -> Result<EventId>
    where
        F: FnMut(&mut Base<D>, &mut D, EventId, Readiness) + Send + 'static,
    {
        if fd < 0 {
            return Err(Error::Os(io::Error::from_raw_os_error(libc::EBADF)));
        }
        no_empty_interest(interest)?;
        let handler = Plain(callback);
        let ev = self.new_event(fd, interest.what() | mode.what(), handler);
        self.add_new(ev).map(|()| ev)
    }

    /// A timer, pending at once: `callback` runs when `when` (a [`Duration`] from now, or an
    /// [`Instant`]) comes, and says what next: [`TimeoutAction::Drop`] frees the timer,
    /// [`ToDuration`](TimeoutAction::ToDuration) and [`ToInstant`](TimeoutAction::ToInstant)
    /// set it again.
    #[inline]
    pub fn new_timer<F>(&mut self, when: impl Into<Deadline>, callback: F) -> Result<EventId>
    where
        F: FnMut(&mut Base<D>, &mut D, EventId) -> TimeoutAction + Send + 'static,
    {
        let timeout = when.into().remaining();
        let priority = self.priority;
        // The core first, with the token the record will have: nothing to undo if it refuses.
        let spec = Spec {
            fd: -1,
            events: What::empty(),
            priority,
            token: self.records.next_index() as usize,
        };
        let h = self.core.add(None, &spec, Some(timeout))?;
        let handler = TimerFn(callback);
        Ok(self
            .records
            .insert_held(-1, What::empty(), priority, handler, Held::some(h)))
    }

    /// An event for signal `signal`, pending at once: `callback` runs once per delivery. Every
    /// base watching a signal receives it.
    pub fn new_signal<F>(&mut self, signal: i32, callback: F) -> Result<EventId>
    where
        F: FnMut(&mut Base<D>, &mut D, EventId, Readiness) + Send + 'static,
    {
        let handler = Plain(callback);
        let ev = self.new_event(signal, What::SIGNAL | What::PERSIST, handler);
        self.add_new(ev).map(|()| ev)
    }

    /// An event with nothing to wait for: it runs when [`activate`](Self::activate)d, with
    /// what `activate` gave, or when a timeout set by [`add_timeout`](Self::add_timeout) passes.
    pub fn new_user<F>(&mut self, callback: F) -> Result<EventId>
    where
        F: FnMut(&mut Base<D>, &mut D, EventId, Readiness) + Send + 'static,
    {
        Ok(self.new_event(-1, What::empty(), Plain(callback)))
    }

    fn new_event(&mut self, fd: RawFd, what: What, cb: impl Handler<D>) -> EventId {
        let priority = self.priority;
        self.records.insert(fd, what, priority, cb)
    }

    /// Adds a new event; on error forgets it.
    fn add_new(&mut self, ev: EventId) -> Result<()> {
        let r = self.add(ev);
        if r.is_err() {
            self.records.remove(ev);
        }
        r
    }

    /// Runs `callback` once, after `timeout`, or at the next iteration if `None`; the event is
    /// gone after it ran.
    pub fn once<F>(&mut self, timeout: Option<Duration>, callback: F) -> Result<()>
    where
        F: FnOnce(&mut Base<D>, &mut D, Readiness) + Send + 'static,
    {
        let ev = self.new_event(-1, What::empty(), OnceFn(Some(callback)));
        let r = match timeout {
            Some(t) => self.add_timeout(ev, t),
            None => self.activate(ev, Readiness::TIMEOUT),
        };
        if r.is_err() {
            self.records.remove(ev);
        }
        r
    }

    /// Runs `callback` once, when `source` is ready for `interest` or after `timeout`, whichever
    /// comes first (libevent's `event_base_once`); the callback gets what happened and the
    /// source back. On error, `source` is dropped.
    pub fn once_io<T, F>(
        &mut self,
        source: T,
        interest: Interest,
        timeout: Option<Duration>,
        callback: F,
    ) -> Result<()>
    where
        T: AsFd + Send + 'static,
        F: FnOnce(&mut Base<D>, &mut D, Readiness, T) + Send + 'static,
    {
        let fd = source.as_fd().as_raw_fd();
        no_empty_interest(interest)?;
        let f = move |base: &mut Base<D>, data: &mut D, ready| callback(base, data, ready, source);
        let ev = self.new_event(fd, interest.what(), OnceFn(Some(f)));
        let r = match timeout {
            Some(t) => self.add_timeout(ev, t),
            None => self.add(ev),
        };
        if r.is_err() {
            self.records.remove(ev);
        }
        r
    }

    /// Makes the event pending for its I/O or signal again (after [`del`](Self::del), or after
    /// a [`Mode::OneShot`] event fired), keeping a timeout it has. An event with nothing but a
    /// timeout to wait for (a timer, a user event) needs [`add_timeout`](Self::add_timeout):
    /// here it is [`Error::Invalid`].
    #[inline]
    pub fn add(&mut self, ev: EventId) -> Result<()> {
        let rec = self.records.get_mut(ev)?;
        if rec.is_timer() {
            return Err(Error::Invalid(
                "a timer or user event waits for a timeout: use add_timeout",
            ));
        }
        rec.handle = Held::some(self.core.add(rec.handle.get(), &rec.spec(ev), None)?);
        Ok(())
    }

    /// Makes the event pending with a timeout (replacing one it had): `when` is a [`Duration`]
    /// from now or an [`Instant`]. A persistent I/O or signal event sets the same timeout again
    /// each time it runs.
    ///
    /// A `Duration` counts from this call, on `CLOCK_MONOTONIC`: the event never times out before
    /// `add_timeout` + `when`, even when a callback adds it after working for a while (libevent
    /// counts from the iteration's cached time, so such a timer fires early by the work done).
    #[inline(always)]
    pub fn add_timeout(&mut self, ev: EventId, when: impl Into<Deadline>) -> Result<()> {
        let timeout = when.into().remaining();
        let rec = self.records.get_mut(ev)?;
        let spec = rec.spec(ev);
        // Apart, so that the common case (a handle held, its timer set again) knows it has one.
        let h = match rec.handle.get() {
            Some(h) => self.core.add(Some(h), &spec, Some(timeout)),
            None => self.core.add(None, &spec, Some(timeout)),
        }?;
        rec.handle = Held::some(h);
        Ok(())
    }

    /// Makes the event not pending and not active. Deleting an event that is not pending is
    /// not an error.
    #[inline]
    pub fn del(&mut self, ev: EventId) -> Result<()> {
        let rec = self.records.get_mut(ev)?;
        match rec.handle.take() {
            Some(h) => self.del_handle(h, ev),
            None => Ok(()),
        }
    }

    /// Deletes `ev`'s core handle `h` (taken from its record); a stale one is gone already.
    #[inline]
    fn del_handle(&mut self, h: Handle, ev: EventId) -> Result<()> {
        match self.core.del(h, Record::<D>::token(ev)) {
            Ok(()) | Err(eventop_core::Error::StaleHandle) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the event's timeout, keeping it pending for its I/O or signal.
    pub fn del_timeout(&mut self, ev: EventId) -> Result<()> {
        let rec = self.records.get_mut(ev)?;
        let token = Record::<D>::token(ev);
        match rec.handle.get() {
            Some(h) if self.core.is_held(h, token) => Ok(self.core.del_timer(h, token)?),
            _ => Ok(()),
        }
    }

    /// Changes what an I/O event waits for, in place: its id, callback, source, mode and
    /// timeout stay. A pending event is registered again for the new interest; an activation
    /// not yet run is dropped (a level-triggered event fires again if its fd is still ready).
    pub fn set_interest(&mut self, ev: EventId, interest: Interest) -> Result<()> {
        let rec = self.records.get(ev)?;
        if !rec.events.intersects(What::IO) {
            return Err(Error::Invalid("only an I/O event has an interest"));
        }
        no_empty_interest(interest)?;
        let token = Record::<D>::token(ev);
        let (pending, deadline) = match rec.handle.get() {
            Some(h) => self.core.pending(h, token, What::all()),
            None => (What::empty(), None),
        };
        let was = rec.events;
        let remaining = deadline.map(|d| Duration::from_nanos(d.saturating_sub(Monotonic.now())));
        self.del(ev)?;
        let rec = self.records.get_mut(ev)?;
        rec.events = (was & !What::IO) | interest.what();
        if !pending.intersects(What::IO | What::TIMEOUT) {
            return Ok(());
        }
        let (spec, current) = (rec.spec(ev), rec.handle.get());
        let r = self.core.add(current, &spec, remaining);
        let rec = self.records.get_mut(ev)?;
        match r {
            Ok(h) => {
                rec.handle = Held::some(h);
                Ok(())
            }
            Err(e) => {
                // Refused: the old interest comes back, pending again with what was left of
                // its timeout, as before the call.
                rec.events = was;
                let spec = rec.spec(ev);
                if let Ok(h) = self.core.add(None, &spec, remaining) {
                    rec.handle = Held::some(h);
                }
                Err(e.into())
            }
        }
    }

    /// Makes the event run with `ready`, pending or not (ORed into an earlier activation).
    pub fn activate(&mut self, ev: EventId, ready: Readiness) -> Result<()> {
        let rec = self.records.get_mut(ev)?;
        rec.handle =
            Held::some(
                self.core
                    .activate(rec.handle.get(), &rec.spec(ev), ready.what(), 1)?,
            );
        Ok(())
    }

    /// Deletes the event and forgets it: its id goes stale, and what its callback owns (an I/O
    /// event's source) is dropped, after the callback returns if it is running. A callback may
    /// free its own event.
    pub fn free(&mut self, ev: EventId) -> Result<()> {
        let Some((handle, closure)) = self.records.release(ev) else {
            return Err(Error::Stale);
        };
        let r = match handle {
            Some(h) => self.del_handle(h, ev),
            None => Ok(()),
        };
        drop(closure);
        r
    }

    /// Frees `ev` for its callback, which just returned asking for it (a timer that said
    /// [`TimeoutAction::Drop`]): an error goes to [`defer`](Self::defer). Returns whether the
    /// caller drops the closure (the record let go of it without dropping it).
    #[inline(always)]
    pub(crate) fn free_running(&mut self, ev: EventId) -> bool {
        match self.records.release_running(ev) {
            Some(None) => true,
            Some(Some(h)) => {
                self.del_or_defer(h, ev);
                true
            }
            // Not the running record: freed by its callback already (`Stale`), or not on this
            // base; the general path.
            None => {
                self.free_or_defer(ev);
                false
            }
        }
    }

    /// [`del_handle`](Self::del_handle), an error deferred.
    #[inline(never)]
    fn del_or_defer(&mut self, h: Handle, ev: EventId) {
        if let Err(e) = self.del_handle(h, ev) {
            self.defer(e);
        }
    }

    /// [`free`](Self::free), an error other than `Stale` deferred.
    #[inline(never)]
    fn free_or_defer(&mut self, ev: EventId) {
        match self.free(ev) {
            Ok(()) | Err(Error::Stale) => {}
            Err(e) => self.defer(e),
        }
    }

    /// Deletes the I/O event, forgets it, and gives its source back. From the event's own
    /// callback, which holds the source, this is [`Error::Reentrant`] and nothing changes.
    pub fn take_source<T: 'static>(&mut self, io: Io<T>) -> Result<T> {
        let ev = io.id();
        if self.records.get(ev).map(|_| self.records.is_running(ev))? {
            return Err(Error::Reentrant);
        }
        let r = self.del(ev);
        let Some(handler) = self.records.remove(ev) else {
            return Err(Error::Stale);
        };
        r?;
        match handler.into_source().downcast::<T>() {
            Ok(source) => Ok(*source),
            Err(_) => Err(Error::Stale),
        }
    }

    /// A guard that frees the event when it drops; it derefs to the base.
    pub fn guard(&mut self, ev: EventId) -> crate::Guard<'_, D> {
        crate::Guard::new(self, ev)
    }

    /// Sets the event's priority (0 runs first), pending or not: a pending event keeps its
    /// interest and its timeout's deadline (libevent's `event_priority_set`). Refused while it
    /// is active.
    pub fn set_priority(&mut self, ev: EventId, priority: u8) -> Result<()> {
        if priority >= self.core.priorities() {
            return Err(Error::Invalid("priority out of range"));
        }
        let token = Record::<D>::token(ev);
        if let Some(h) = self.records.get(ev)?.handle.get() {
            if self.core.is_held(h, token) {
                match self.core.set_priority(h, token, priority) {
                    Ok(()) => {}
                    Err(eventop_core::Error::Active) => {
                        return Err(Error::Invalid(
                            "the priority of an active event cannot change",
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.records.get_mut(ev)?.priority = priority;
        Ok(())
    }

    /// What the event is pending or active for: its I/O or signal if it waits for them,
    /// `TIMEOUT` if its timeout is pending, and what it is active with.
    pub fn pending(&self, ev: EventId) -> Result<Readiness> {
        let rec = self.records.get(ev)?;
        Ok(match rec.handle.get() {
            Some(h) => {
                Readiness::from_what(self.core.pending(h, Record::<D>::token(ev), What::all()).0)
            }
            None => Readiness::empty(),
        })
    }

    /// How long until the event's timeout, if it has one pending.
    pub fn remaining(&self, ev: EventId) -> Result<Option<Duration>> {
        let rec = self.records.get(ev)?;
        let Some(h) = rec.handle.get() else {
            return Ok(None);
        };
        let (_, deadline) = self.core.pending(h, Record::<D>::token(ev), What::TIMEOUT);
        let now = Monotonic.now();
        Ok(deadline.map(|d| Duration::from_nanos(d.saturating_sub(now))))
    }

    /// Takes an error that could not be returned when it happened: an interest change that the
    /// backend applied after the `add` or `del` that asked for it (with a changelist: see
    /// [`changelist`](Self::changelist)), or a timer's [`TimeoutAction`] that could not set it
    /// again. libevent drops such errors; eventop keeps the latest here.
    pub fn take_deferred_error(&mut self) -> Option<Error> {
        self.deferred
            .take()
            .or_else(|| self.core.take_deferred_error().map(Error::from))
    }

    pub(crate) fn defer(&mut self, e: Error) {
        self.deferred = Some(e);
    }

    /// How many events exist (pending or not).
    pub fn len(&self) -> usize {
        self.records.len() - usize::from(self.waker.is_some())
    }

    /// Whether no event exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts of pending, active and virtual events, as libevent's `event_base_get_num_events`.
    pub fn counts(&self) -> core_base::Counts {
        self.core.counts()
    }

    /// The pending and active events, as the core sees them, for debugging.
    pub fn dump(&self) -> String {
        let mut out = format!("base using {}:\n", self.backend_name());
        self.core.each_event(|e| {
            out += &format!(
                "  fd {:>4} events {:?} priority {} inserted {} active {:?} deadline {:?}\n",
                e.fd, e.events, e.priority, e.inserted, e.active, e.deadline
            );
        });
        out
    }

    /// Runs until no event is pending or active, or an exit or break, lending `data` to every
    /// callback.
    pub fn run(&mut self, data: &mut D) -> Result<Exit> {
        self.run_long(LoopFlags::empty(), data)
    }

    /// Waits for events, runs their callbacks, and returns after an iteration that ran some and
    /// left none active (libevent's `EVLOOP_ONCE`): an event that its own callback activates
    /// again keeps the run going, until a break.
    pub fn run_once(&mut self, data: &mut D) -> Result<Exit> {
        self.run_with(LoopFlags::ONCE, data)
    }

    /// Runs what is ready now without waiting, and returns once an iteration finds nothing ready
    /// (libevent's `EVLOOP_NONBLOCK`): a level-triggered fd that stays ready (its callback does
    /// not drain it), or an event its callback activates again, keeps the run going, until a
    /// break.
    pub fn run_nonblocking(&mut self, data: &mut D) -> Result<Exit> {
        self.run_with(LoopFlags::NONBLOCK, data)
    }

    /// Runs the loop with libevent's loop flags. A callback cannot start a run
    /// ([`Error::Reentrant`]). If a callback panics, the run ends, the base stays usable (the
    /// event keeps its callback), and the panic carries on out of this call.
    #[inline]
    pub fn run_with(&mut self, flags: LoopFlags, data: &mut D) -> Result<Exit> {
        match self.core {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Core::Epoll(_) => self.run_on(flags, data, Core::epoll),
            _ => self.run_other(flags, data),
        }
    }

    /// [`run_with`](Self::run_with) out of line, for a run that lasts: the call costs nothing
    /// there, and the loop compiled for any flags runs a little leaner than one inlined into the
    /// caller. (Inlined, a run of one pass per call costs a tenth less.)
    #[inline(never)]
    fn run_long(&mut self, flags: LoopFlags, data: &mut D) -> Result<Exit> {
        self.run_with(flags, data)
    }

    /// [`run_with`](Self::run_with) over a backend other than epoll, out of its way.
    #[inline(never)]
    fn run_other(&mut self, flags: LoopFlags, data: &mut D) -> Result<Exit> {
        self.run_on(flags, data, Core::other)
    }

    /// [`run_with`](Self::run_with), compiled for the core `kind` gives (each step checks
    /// that it is still that one: a callback may swap the base out of its `&mut Base`).
    #[inline(always)]
    fn run_on<B: Backend>(
        &mut self,
        flags: LoopFlags,
        data: &mut D,
        kind: impl Fn(&mut Core) -> Option<&mut core_base::EventBase<B, Monotonic, Growable>>,
    ) -> Result<Exit> {
        self.core.start(flags)?;
        loop {
            // Another kind: a callback swapped this base for one that is not running.
            let Some(core) = kind(&mut self.core) else {
                return Err(eventop_core::Error::NotStarted.into());
            };
            match core.step()? {
                Step::Run(ready) => self.run_callback(ready, data),
                Step::Done(how) => return Ok(how),
            }
        }
    }

    #[inline(always)]
    pub(crate) fn run_callback(&mut self, ready: Ready, data: &mut D) {
        let Some((ev, f)) = self.records.start_callback(&ready) else {
            return;
        };
        let res = Readiness::from_what(ready.res);
        let (call, cell) = f;
        // SAFETY: the cell holds the closure `call` is for, which stays where it is and which
        // nothing else borrows until `end_callback`: its record is marked running, so a free
        // leaves it to this run, and a running event's callback is not started again (a run
        // cannot start in a callback).
        let (base, data) = ((self as *mut Base<D>).cast(), (data as *mut D).cast());
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: see above; `base` and `data` are this call's, unused until it returns.
            unsafe { call(cell, base, data, ev, res) }
        }));
        // Through a panic too: the event keeps its callback.
        self.records.end_callback(ev);
        if let Err(payload) = outcome {
            // End the run cleanly before the panic goes on, so the base can run again.
            self.core.loopbreak();
            let _ = self.core.step();
            panic::resume_unwind(payload);
        }
    }

    /// Ends the run after the current callback (libevent's `event_base_loopbreak`). A break asked
    /// for while no run is in progress is forgotten, as in libevent; [`exit`](Self::exit) is not.
    pub fn break_loop(&mut self) {
        self.core.loopbreak();
    }

    /// Ends the current iteration after the current callback; the run goes on.
    pub fn continue_loop(&mut self) {
        self.core.loopcontinue();
    }

    /// Ends the run at the end of the current iteration (or the next run's first, if none is in
    /// progress).
    pub fn exit(&mut self) {
        self.core.loopexit(None);
    }

    /// Ends the run once `after` has passed, counted from this call.
    pub fn exit_after(&mut self, after: Duration) {
        self.core.loopexit(Some(after));
    }

    /// The loop's time, the time timeouts count from: while a run is in progress, read once per
    /// iteration and cached (unless [`caches_time`](Self::caches_time) is false); outside a run,
    /// read afresh (libevent's `event_base_gettimeofday_cached`). The clock is
    /// `CLOCK_MONOTONIC`, the clock of [`Instant`] on Linux.
    pub fn now(&mut self) -> Instant {
        let cached = self.core.now();
        let last = self.now_memo;
        if let Some((reading, instant)) = last {
            // The same cached reading: the same `Instant`, as often as it is asked for.
            if reading == cached {
                return instant;
            }
        }
        let fresh = Monotonic.now();
        let instant = Instant::now();
        // The reading's age, taken off an `Instant` read after it: right whichever clock
        // `Instant` uses. The two reads jitter, so the answer is kept from going backwards.
        let age = Duration::from_nanos(fresh.saturating_sub(cached));
        let mut now = instant.checked_sub(age).unwrap_or(instant);
        if let Some((_, before)) = last {
            now = now.max(before);
        }
        self.now_memo = Some((cached, now));
        now
    }

    /// Forgets the cached time: the next [`now`](Self::now) reads the clock afresh (libevent's
    /// `event_base_update_cache_time`).
    pub fn update_cache_time(&mut self) {
        self.core.update_cache_time();
    }

    /// Starts the backend afresh: a new kernel object, a new signal pipe, every pending event
    /// registered again. The parent's registrations are not touched.
    ///
    /// Not required after `fork()`: a base notices that it is in a new process and does this
    /// itself before it next touches its backend (an `add` or `del`, a run), so a child that
    /// uses, frees or drops the base never changes the parent's registrations, and signals the
    /// child takes in the meantime wait for its own pipe. Still useful in the child to do the
    /// work at a time of your choosing and see its errors at once: when the base does it later,
    /// an fd that cannot be registered again (closed in the child) is reported by
    /// [`take_deferred_error`](Self::take_deferred_error) instead. Only `fork()` is noticed (a
    /// `pthread_atfork` handler); a child made another way that does not `exec` calls this.
    pub fn reinit(&mut self) -> Result<()> {
        Ok(self.core.reinit()?)
    }
}

impl<D: 'static> Base<D> {
    /// A handle other threads use to wake this loop or hand it work. One per base; each call
    /// returns a clone. Like libevent's notification fd, it does not by itself keep
    /// [`run`](Self::run) from returning when no other event is pending: to wait only for work
    /// from other threads, run with [`LoopFlags::NO_EXIT_ON_EMPTY`].
    pub fn waker(&mut self) -> Result<Waker<D>> {
        if let Some((shared, _)) = &self.waker {
            return Ok(Waker::from_shared(shared.clone()));
        }
        let shared = std::sync::Arc::new(WakerShared::new()?);
        let reader = shared.clone();
        let fd = shared.read_fd();
        let drain = move |base: &mut Base<D>, data: &mut D, _: EventId, _: Readiness| {
            reader.drain();
            let mut jobs = reader.take_jobs().into_iter();
            while let Some(job) = jobs.next() {
                if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| job(base, data))) {
                    // The jobs after it run next time; the panic goes on to `run`'s caller.
                    reader.requeue(jobs);
                    panic::resume_unwind(payload);
                }
            }
        };
        let ev = self.new_event(fd, What::READ | What::PERSIST, Plain(drain));
        self.add_new(ev)?;
        // libevent's notify fd is internal too: a waker alone does not keep `run` going.
        let rec = self.records.get(ev)?;
        if let Some(h) = rec.handle.get() {
            self.core.set_internal(h, Record::<D>::token(ev))?;
        }
        self.waker = Some((shared.clone(), ev));
        Ok(Waker::from_shared(shared))
    }
}

impl<D> std::fmt::Debug for Base<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Base")
            .field("backend", &self.backend_name())
            .field("events", &self.len())
            .field("counts", &self.core.counts())
            .finish()
    }
}

impl<D> Drop for Base<D> {
    /// Drops the jobs queued for the waker; its `schedule` and `wake` fail from now on.
    fn drop(&mut self) {
        if let Some((shared, _)) = &self.waker {
            shared.close();
        }
    }
}

/// `Invalid` for an interest with nothing to wait for (empty, or `EXCLUSIVE` alone).
fn no_empty_interest(interest: Interest) -> Result<()> {
    if interest.what().intersects(What::IO) {
        Ok(())
    } else {
        Err(Error::Invalid("an interest needs READ, WRITE or CLOSED"))
    }
}
