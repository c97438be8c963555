//! [`Base`]: the event loop, its events and their callbacks.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use eventop_core::base::{self as core_base, Outcome, Ready, Step};
use eventop_core::clock::Clock;
use eventop_core::sys::clock::Monotonic;
use eventop_core::sys::hosted::Hosted;
use eventop_core::{Backend, BaseFlags, Features, LoopFlags, What};

use crate::error::to_io;
use crate::event::{Callback, Event, Records};
use crate::tables::Growable;
use crate::waker::{Waker, WakerShared};

pub(crate) type Core = core_base::EventBase<Hosted<Growable>, Monotonic, Growable>;

/// How a run of the loop ended.
pub type Exit = Outcome;

/// An event loop: I/O, timers, signals and events activated by hand, each with a closure to call.
///
/// Callbacks get `&mut Base`, so they can add, delete, activate and free any event, their own
/// included, and ask the loop to stop. An [`Event`] is a small `Copy` handle; using one whose event
/// was freed is an error (`NotFound`), never another event. The base is `Send`: build it on one
/// thread and run it on another; to reach it from other threads while it runs, use a [`Waker`].
pub struct Base {
    pub(crate) core: Core,
    pub(crate) records: Records,
    pub(crate) waker: Option<(std::sync::Arc<WakerShared>, Event)>,
}

impl Base {
    /// A base with the default configuration: the best backend this machine has, one priority.
    pub fn new() -> io::Result<Base> {
        crate::Builder::new().build()
    }

    pub(crate) fn from_core(core: Core) -> Base {
        Base {
            core,
            records: Records::new(),
            waker: None,
        }
    }

    /// The backend's name (`"epoll"`, `"poll"`, …).
    pub fn backend_name(&self) -> &'static str {
        self.core.backend().info().name
    }

    /// What the backend can do. Without [`Features::ET`] (poll, select), an event with
    /// [`What::ET`] is level-triggered: it fires while its fd stays ready, not once per change.
    pub fn features(&self) -> Features {
        self.core.backend().info().features
    }

    /// The base's flags, with the environment's applied.
    pub fn flags(&self) -> BaseFlags {
        self.core.flags()
    }

    /// Sets the number of priorities, 1 to 255 (refused while events are active). New events
    /// get the middle one.
    pub fn set_priorities(&mut self, n: u8) -> io::Result<()> {
        self.core.set_priorities(n).map_err(to_io)
    }

    /// An event for I/O on `fd`: `what` is `READ`, `WRITE` and/or `CLOSED`, with `PERSIST` to stay
    /// pending after it fires and `ET` for edge-triggering. Not pending until [`add`](Self::add).
    /// `fd` is anything `AsRawFd`, usually `stream.as_raw_fd()` (so the stream itself can move
    /// into the callback); it must stay open while the event is pending.
    ///
    /// An fd closed while its event is pending is not watched again when a new fd (a socket just
    /// accepted, say) reuses its number, on epoll and kqueue: the close dropped the kernel's
    /// registration and the base does not make it again (as in libevent). The safe way: the
    /// callback owns the stream, and [`free`](Self::free) closes it with the event; or
    /// [`del`](Self::del) the event before closing the fd.
    pub fn new_io<F, C>(&mut self, fd: F, what: What, callback: C) -> io::Result<Event>
    where
        F: AsRawFd,
        C: FnMut(&mut Base, Event, What) + Send + 'static,
    {
        self.new_raw(fd.as_raw_fd(), what, Callback::Many(Box::new(callback)))
    }

    /// A timer: its callback runs when the timeout given to [`add`](Self::add) passes;
    /// `persistent` makes it periodic.
    pub fn new_timer<C>(&mut self, persistent: bool, callback: C) -> io::Result<Event>
    where
        C: FnMut(&mut Base, Event, What) + Send + 'static,
    {
        let what = if persistent {
            What::PERSIST
        } else {
            What::empty()
        };
        self.new_raw(-1, what, Callback::Many(Box::new(callback)))
    }

    /// An event for signal `signal` (persistent): its callback runs once per delivery. Every
    /// base watching a signal receives it.
    pub fn new_signal<C>(&mut self, signal: i32, callback: C) -> io::Result<Event>
    where
        C: FnMut(&mut Base, Event, What) + Send + 'static,
    {
        self.new_raw(
            signal,
            What::SIGNAL | What::PERSIST,
            Callback::Many(Box::new(callback)),
        )
    }

    /// An event with nothing to wait for: it runs when [`activate`](Self::activate)d.
    pub fn new_user<C>(&mut self, callback: C) -> io::Result<Event>
    where
        C: FnMut(&mut Base, Event, What) + Send + 'static,
    {
        self.new_raw(-1, What::empty(), Callback::Many(Box::new(callback)))
    }

    fn new_raw(&mut self, fd: RawFd, what: What, cb: Callback) -> io::Result<Event> {
        if what.contains(What::SIGNAL) && what.intersects(What::IO) {
            return Err(invalid("a signal event cannot also wait for I/O"));
        }
        if what.intersects(What::IO) && fd < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        let priority = self.core.default_priority();
        Ok(self.records.insert(fd, what, priority, cb))
    }

    /// Runs `callback` once, after `timeout`, or when `fd` is ready for `what` (`READ`/`WRITE`),
    /// whichever comes first (libevent's `event_base_once`). It gets what happened. `None` for
    /// both means: at the next iteration.
    pub fn once<C>(
        &mut self,
        fd: Option<RawFd>,
        what: What,
        timeout: Option<Duration>,
        callback: C,
    ) -> io::Result<()>
    where
        C: FnOnce(&mut Base, What) + Send + 'static,
    {
        if what.intersects(What::SIGNAL | What::PERSIST) {
            return Err(invalid("a once-event cannot be a signal or persistent"));
        }
        let fd = fd.unwrap_or(-1);
        let io = what & What::IO;
        if fd < 0 && !io.is_empty() {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        let ev = self.new_raw(fd, io, Callback::Once(Box::new(callback)))?;
        let r = if io.is_empty() && timeout.is_none() {
            self.activate(ev, What::TIMEOUT)
        } else {
            self.add(ev, timeout)
        };
        if r.is_err() {
            let _ = self.free(ev);
        }
        r
    }

    /// Makes the event pending: waiting for its I/O or signal, and for `timeout` if given (a new
    /// timeout replaces the old one; `None` keeps it).
    ///
    /// The timeout counts from this call, on `CLOCK_MONOTONIC`: the event never times out before
    /// `add` + `timeout`, even when a callback adds it after working for a while (libevent
    /// counts from the iteration's cached time, so such a timer fires early by the work done).
    pub fn add(&mut self, ev: Event, timeout: Option<Duration>) -> io::Result<()> {
        let rec = self.records.get_mut(ev)?;
        let (spec, current) = (rec.spec(ev), rec.handle);
        let h = self.core.add(current, &spec, timeout).map_err(to_io)?;
        self.records.get_mut(ev)?.handle = Some(h);
        Ok(())
    }

    /// Makes the event not pending and not active. Deleting an event that is not pending is
    /// not an error.
    pub fn del(&mut self, ev: Event) -> io::Result<()> {
        let rec = self.records.get_mut(ev)?;
        let token = rec.token(ev);
        match rec.handle.take() {
            Some(h) => match self.core.del(h, token) {
                Ok(()) | Err(eventop_core::Error::StaleHandle) => Ok(()),
                Err(e) => Err(to_io(e)),
            },
            None => Ok(()),
        }
    }

    /// Removes the event's timeout, keeping it pending for its I/O or signal.
    pub fn del_timeout(&mut self, ev: Event) -> io::Result<()> {
        let rec = self.records.get_mut(ev)?;
        let token = rec.token(ev);
        match rec.handle {
            Some(h) if self.core.is_held(h, token) => self.core.del_timer(h, token).map_err(to_io),
            _ => Ok(()),
        }
    }

    /// Makes the event run with `what`, pending or not (ORed into an earlier activation).
    pub fn activate(&mut self, ev: Event, what: What) -> io::Result<()> {
        let rec = self.records.get_mut(ev)?;
        let (spec, current) = (rec.spec(ev), rec.handle);
        let h = self.core.activate(current, &spec, what, 1).map_err(to_io)?;
        self.records.get_mut(ev)?.handle = Some(h);
        Ok(())
    }

    /// Deletes the event and forgets it: its handle goes stale. A callback may free its own event.
    pub fn free(&mut self, ev: Event) -> io::Result<()> {
        self.del(ev)?;
        self.records.remove(ev);
        Ok(())
    }

    /// Sets the event's priority (0 runs first); refused while it is pending or active.
    pub fn set_priority(&mut self, ev: Event, priority: u8) -> io::Result<()> {
        if priority >= self.core.priorities() {
            return Err(invalid("priority out of range"));
        }
        let rec = self.records.get(ev)?;
        if rec
            .handle
            .is_some_and(|h| self.core.is_held(h, rec.token(ev)))
        {
            return Err(invalid(
                "the priority of a pending or active event cannot change",
            ));
        }
        self.records.get_mut(ev)?.priority = priority;
        Ok(())
    }

    /// Which of `what` the event is pending or active for: its I/O or signal bits, `TIMEOUT` if
    /// its timeout is pending, and what it is active with.
    pub fn pending(&self, ev: Event, what: What) -> io::Result<What> {
        let rec = self.records.get(ev)?;
        Ok(match rec.handle {
            Some(h) => self.core.pending(h, rec.token(ev), what).0,
            None => What::empty(),
        })
    }

    /// How long until the event's timeout, if it has one pending.
    pub fn remaining(&mut self, ev: Event) -> io::Result<Option<Duration>> {
        let rec = self.records.get(ev)?;
        let Some(h) = rec.handle else { return Ok(None) };
        let (_, deadline) = self.core.pending(h, rec.token(ev), What::TIMEOUT);
        let now = self.core.now();
        Ok(deadline.map(|d| Duration::from_nanos(d.saturating_sub(now))))
    }

    /// Takes the error of an interest change that the backend applied later than the `add` or
    /// `del` that asked for it (with a changelist, as `EPOLL_USE_CHANGELIST` or kqueue, changes
    /// go to the kernel in one batch before each wait). libevent drops such errors; eventop
    /// keeps the latest here.
    pub fn take_deferred_error(&mut self) -> Option<io::Error> {
        self.core.take_deferred_error().map(to_io)
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
        for e in self.core.events() {
            out += &format!(
                "  fd {:>4} events {:?} priority {} inserted {} active {:?} deadline {:?}\n",
                e.fd, e.events, e.priority, e.inserted, e.active, e.deadline
            );
        }
        out
    }

    /// Runs until no event is pending or active, or an exit or break.
    pub fn run(&mut self) -> io::Result<Exit> {
        self.run_with(LoopFlags::empty())
    }

    /// Waits for events, runs one batch of callbacks, and returns.
    pub fn run_once(&mut self) -> io::Result<Exit> {
        self.run_with(LoopFlags::ONCE)
    }

    /// Runs what is ready now, without waiting, and returns.
    pub fn run_nonblocking(&mut self) -> io::Result<Exit> {
        self.run_with(LoopFlags::NONBLOCK)
    }

    /// Runs the loop with libevent's loop flags. A callback cannot start a run (`WouldBlock`).
    /// If a callback panics, the run ends, the base stays usable (the event keeps its callback),
    /// and the panic carries on out of this call.
    pub fn run_with(&mut self, flags: LoopFlags) -> io::Result<Exit> {
        self.core.start(flags).map_err(to_io)?;
        loop {
            match self.core.step().map_err(to_io)? {
                Step::Run(ready) => self.run_callback(ready),
                Step::Done(how) => return Ok(how),
            }
        }
    }

    fn run_callback(&mut self, ready: Ready) {
        let Some((ev, cb)) = self.records.take_callback(ready.token) else {
            return;
        };
        let res = ready.res;
        let outcome = match cb {
            Callback::Many(mut f) => {
                // `f` stays ours through a panic, so the event keeps its callback.
                let r = panic::catch_unwind(AssertUnwindSafe(|| f(self, ev, res)));
                self.records.put_callback(ev, Callback::Many(f));
                r
            }
            Callback::Once(f) => {
                let r = panic::catch_unwind(AssertUnwindSafe(|| f(self, res)));
                let _ = self.free(ev);
                r
            }
        };
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
    /// iteration and cached (unless [`BaseFlags::NO_CACHE_TIME`]); outside a run, read afresh
    /// (libevent's `event_base_gettimeofday_cached`). The clock is `CLOCK_MONOTONIC`, the clock
    /// of [`Instant`] on Linux.
    pub fn now(&mut self) -> Instant {
        let cached = self.core.now();
        let fresh = eventop_core::sys::clock::Monotonic.now();
        let instant = Instant::now();
        // The cached reading's age, taken off an `Instant` read after it: right whichever clock
        // `Instant` uses, never before `cached` nor after `instant`.
        let age = Duration::from_nanos(fresh.saturating_sub(cached));
        instant.checked_sub(age).unwrap_or(instant)
    }

    /// Forgets the cached time: the next [`now`](Self::now) reads the clock afresh (libevent's
    /// `event_base_update_cache_time`).
    pub fn update_cache_time(&mut self) {
        self.core.update_cache_time();
    }

    /// A handle other threads use to wake this loop or hand it work. One per base; each call
    /// returns a clone. Like libevent's notification fd, it does not by itself keep
    /// [`run`](Self::run) from returning when no other event is pending: to wait only for work
    /// from other threads, run with [`LoopFlags::NO_EXIT_ON_EMPTY`].
    pub fn waker(&mut self) -> io::Result<Waker> {
        if let Some((shared, _)) = &self.waker {
            return Ok(Waker::from_shared(shared.clone()));
        }
        let shared = std::sync::Arc::new(WakerShared::new()?);
        let reader = shared.clone();
        let fd = shared.read_fd();
        let ev = self.new_raw(
            fd,
            What::READ | What::PERSIST,
            Callback::Many(Box::new(move |base: &mut Base, _, _| {
                reader.drain();
                let mut jobs = reader.take_jobs().into_iter();
                while let Some(job) = jobs.next() {
                    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| job(base))) {
                        // The jobs after it run next time; the panic goes on to `run`'s caller.
                        reader.requeue(jobs);
                        panic::resume_unwind(payload);
                    }
                }
            })),
        )?;
        self.add(ev, None)?;
        // libevent's notify fd is internal too: a waker alone does not keep `run` going.
        let rec = self.records.get(ev)?;
        if let Some(h) = rec.handle {
            self.core.set_internal(h, rec.token(ev)).map_err(to_io)?;
        }
        self.waker = Some((shared.clone(), ev));
        Ok(Waker::from_shared(shared))
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
    pub fn reinit(&mut self) -> io::Result<()> {
        self.core.reinit().map_err(to_io)
    }
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Base")
            .field("backend", &self.backend_name())
            .field("events", &self.len())
            .field("counts", &self.core.counts())
            .finish()
    }
}

impl Drop for Base {
    /// Drops the jobs queued for the waker; its `schedule` and `wake` fail from now on.
    fn drop(&mut self) {
        if let Some((shared, _)) = &self.waker {
            shared.close();
        }
    }
}

pub(crate) fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}
