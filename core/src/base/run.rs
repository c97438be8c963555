//! One run of the loop, pulled by the adapter step by step (libevent's `event_base_loop`).
//!
//! Each iteration: stop if a break or a due exit was asked for; stop if nothing is left (unless
//! `NO_EXIT_ON_EMPTY`); wait on the backend, for no time if events are active or the run is
//! `NONBLOCK`, else until the earliest timer; expire timers; then run the highest-priority
//! non-empty queue, one event per [`Step::Run`], until it is empty, a break, a `loopcontinue`, or
//! an activation of a higher priority ends the iteration. `ONCE` stops after an iteration that ran
//! callbacks and left none active; `NONBLOCK` stops after an iteration that found none active.

use core::time::Duration;

use super::queues::Queues;
use super::slots::{state, Handle, Slot, NIL};
use super::{EventBase, Tables};
use crate::clock::Clock;
use crate::storage::Storage;
use crate::{Backend, Error, LoopFlags, RawFd, What};

/// An event to run now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ready {
    /// Its handle. Stale already if the event was not persistent (it was deleted so that its
    /// callback can add it again).
    pub handle: Handle,
    /// The adapter's token.
    pub token: usize,
    /// Its fd or signal number.
    pub fd: RawFd,
    /// What happened: a non-empty subset of its interest, or `TIMEOUT`, or what `activate` gave.
    pub res: What,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// Exit, break, or the end of a `ONCE` or `NONBLOCK` run (libevent returns 0).
    Exited,
    /// No event was pending or active (libevent returns 1).
    Empty,
}

/// What [`EventBase::step`] asks the adapter to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Step {
    /// Run this event's callback, then call `step` again.
    Run(Ready),
    /// The run is over.
    Done(Outcome),
}

/// The rare conditions of a run and where it is, as bits of [`LoopState::slow`]. The common
/// iteration checks that one word; each bit is set and cleared where its condition changes.
/// With no bit set, a run is under way, past its first wait, with nothing unusual asked for.
mod slow {
    /// The run is `ONCE` (the bit of [`LoopFlags::ONCE`](crate::LoopFlags::ONCE)).
    pub const ONCE: u8 = 0x01;
    /// The run is `NONBLOCK` (the bit of [`LoopFlags::NONBLOCK`](crate::LoopFlags::NONBLOCK)).
    pub const NONBLOCK: u8 = 0x02;
    /// A `loopbreak` was asked for.
    pub const BREAK: u8 = 0x04;
    /// A `loopcontinue`, or an activation of a higher priority than the queue being run.
    pub const CONTINUE: u8 = 0x08;
    /// An exit is asked for: `LoopState::exit_at` is set.
    pub const EXIT: u8 = 0x10;
    /// The run has started and not yet waited: the next step begins an iteration.
    pub const TOP: u8 = 0x20;
    /// No run is in progress.
    pub const IDLE: u8 = 0x40;
}

const _: () =
    assert!(LoopFlags::ONCE.bits() == slow::ONCE && LoopFlags::NONBLOCK.bits() == slow::NONBLOCK);

/// The state of the current run.
#[derive(Debug)]
pub(crate) struct LoopState {
    flags: LoopFlags,
    /// Bits of [`slow`]: zero in the common iteration.
    slow: u8,
    /// When the loop should exit, on the base's clock. Set only through
    /// [`set_exit`](Self::set_exit), which keeps [`slow::EXIT`] in step.
    exit_at: Option<u64>,
    /// The priority of the queue being run this iteration; `None` between iterations.
    running: Option<u8>,
    /// Callbacks run this iteration.
    pub(super) ran: u32,
}

impl Default for LoopState {
    fn default() -> Self {
        LoopState {
            flags: LoopFlags::empty(),
            slow: slow::IDLE,
            exit_at: None,
            running: None,
            ran: 0,
        }
    }
}

impl LoopState {
    fn set_exit(&mut self, at: Option<u64>) {
        self.exit_at = at;
        if at.is_some() {
            self.slow |= slow::EXIT;
        } else {
            self.slow &= !slow::EXIT;
        }
    }
}

/// Queues slot `idx` with `res`, or ORs `res` into its pending activation. Returns the event's
/// priority if it was queued now.
#[inline]
fn queue_activation(
    slots: &mut [Slot],
    queues: &mut Queues,
    idx: u32,
    res: What,
    ncalls: u16,
) -> Option<u8> {
    let s = &mut slots[idx as usize];
    if s.state & state::ACTIVE != 0 {
        s.res |= res;
        s.ncalls = s.ncalls.saturating_add(ncalls);
        return None;
    }
    s.state |= state::ACTIVE;
    s.res = res;
    s.ncalls = ncalls;
    let pri = s.pri;
    queues.push_back(slots, idx);
    Some(pri)
}

/// Queues `idx` with `res`, or ORs `res` into its pending activation; an event queued above the
/// priority being run ends the iteration, so that it runs next.
#[inline]
pub(crate) fn activate(
    slots: &mut [Slot],
    queues: &mut Queues,
    run: &mut LoopState,
    idx: u32,
    res: What,
    ncalls: u16,
) {
    if let Some(pri) = queue_activation(slots, queues, idx, res, ncalls) {
        if run.running.is_some_and(|r| pri < r) {
            run.slow |= slow::CONTINUE;
        }
    }
}

impl<B: Backend, C: Clock, T: Tables> EventBase<B, C, T> {
    /// Begins a run. A run already in progress (a callback calling back in) is
    /// [`Error::Reentrant`]. A break asked for before the run is forgotten, as in libevent; an
    /// exit asked for before it is not.
    pub fn start(&mut self, flags: LoopFlags) -> Result<(), Error> {
        if self.run.slow & slow::IDLE == 0 {
            return Err(Error::Reentrant);
        }
        self.check_fork()?;
        self.cached_now = None;
        self.run.flags = flags;
        // `running` is `None` between runs.
        self.run.slow = (self.run.slow & slow::EXIT)
            | slow::TOP
            | (flags.bits() & (slow::ONCE | slow::NONBLOCK));
        Ok(())
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.run.slow & slow::IDLE == 0
    }

    /// Ends the run after the current callback (libevent's `event_base_loopbreak`).
    pub fn loopbreak(&mut self) {
        self.run.slow |= slow::BREAK;
    }

    /// Ends the current iteration after the current callback; the run goes on
    /// (libevent's `event_base_loopcontinue`).
    pub fn loopcontinue(&mut self) {
        self.run.slow |= slow::CONTINUE;
    }

    /// Ends the run once `after` has passed, at the end of the iteration that sees it pass
    /// (`None`: at the end of this iteration). Kept until a run ends by it, even when asked for
    /// with no run in progress. An earlier request stands if it is due sooner. `after` counts
    /// from this call, as a timeout given to [`add`](Self::add) does.
    pub fn loopexit(&mut self, after: Option<Duration>) {
        let at = match after {
            None => self.now(),
            Some(d) => self.deadline_after(crate::clock::nanos(d)),
        };
        let at = self.run.exit_at.map_or(at, |e| e.min(at));
        self.run.set_exit(Some(at));
    }

    /// The earliest time the loop waits for, on the base's clock: its first timer or a timed
    /// exit; `None` if there is neither. For a loop nested in another, which must wake it then.
    pub fn next_deadline(&self) -> Option<u64> {
        let first = self.first_deadline();
        match (first, self.run.exit_at) {
            (Some(t), Some(e)) => Some(t.min(e)),
            (t, e) => t.or(e),
        }
    }

    /// Whether an exit asked for with [`loopexit`](Self::loopexit) has yet to end a run (the run
    /// it ends consumes it).
    pub fn exit_pending(&self) -> bool {
        self.run.exit_at.is_some()
    }

    /// The next thing to do in this run.
    ///
    /// Each iteration: stop if a break or a due exit was asked for; stop if nothing is left
    /// (unless `NO_EXIT_ON_EMPTY`); wait on the backend, for no time if events are active or the
    /// run is `NONBLOCK`, else until the earliest timer; expire timers; then run the
    /// highest-priority non-empty queue, one event per [`Step::Run`], until it is empty, a break,
    /// a `loopcontinue`, or an activation of a higher priority ends the iteration. `ONCE` stops
    /// after an iteration that ran callbacks and left none active; `NONBLOCK` stops after an
    /// iteration that found none active.
    ///
    /// The common iteration (no break, continue, exit, `ONCE` or `NONBLOCK`) tests one word of
    /// rare conditions at each of its three decision points; the conditions it stands for are
    /// checked in the same order as libevent's loop, in the cold functions it leads to.
    ///
    /// The common step is inline: with nothing queued and nothing rare asked for, the next
    /// iteration begins at once (waits, expires timers) and, if it activated one event, runs it.
    /// Everything else is a call.
    #[inline(always)]
    pub fn step(&mut self) -> Result<Step, Error> {
        if self.queues.len == 0 {
            let w = self.run.slow;
            if (w == 0 || w & !(slow::ONCE | slow::NONBLOCK) == slow::TOP)
                && self.slots.used > self.slots.internal
            {
                // The bottom of the iteration (none active, no break, continue or exit asked
                // for; a `ONCE` or `NONBLOCK` run is at its first top) and the top of the next,
                // with events left (the test of `has_events` that needs no call).
                self.run.running = None;
                let lone = match self.turn() {
                    Ok(lone) => lone,
                    Err(e) => {
                        self.finish(Outcome::Exited);
                        return Err(e);
                    }
                };
                self.run.ran = 0;
                self.run.slow &= !slow::TOP;
                if lone != NIL {
                    if let Some(ready) = self.hand_off(lone) {
                        return Ok(Step::Run(ready));
                    }
                }
            } else if w == slow::ONCE | slow::NONBLOCK {
                // The end of a `ONCE|NONBLOCK` pass (libevent's benchmark's loop) whose callbacks
                // are all run: a step past the first of a run follows a callback, so one ran,
                // and none is active.
                return Ok(self.finish(Outcome::Exited));
            }
        }
        self.step_on()
    }

    /// [`step`](Self::step) for everything but its common step.
    #[inline(never)]
    fn step_on(&mut self) -> Result<Step, Error> {
        if self.run.slow & slow::IDLE != 0 {
            return Err(Error::NotStarted);
        }
        let mut at_top = self.run.slow & slow::TOP != 0;
        loop {
            if at_top {
                // Top: the start of an iteration. End the run if asked to or if nothing is
                // left; else wait, and run the queues.
                if self.run.slow & (slow::BREAK | slow::EXIT) != 0 && self.stop_asked() {
                    return Ok(self.finish(Outcome::Exited));
                }
                if !self.has_events() && !self.run.flags.contains(LoopFlags::NO_EXIT_ON_EMPTY) {
                    return Ok(self.finish(Outcome::Empty));
                }
                let lone = match self.turn() {
                    Ok(lone) => lone,
                    Err(e) => {
                        self.finish(Outcome::Exited);
                        return Err(e);
                    }
                };
                self.run.ran = 0;
                self.run.slow &= !slow::TOP;
                // No break or continue can be pending here: the top just checked for a break,
                // a continue ends at the bottom, and no callback ran since.
                if lone != NIL {
                    if let Some(ready) = self.hand_off(lone) {
                        return Ok(Step::Run(ready));
                    }
                }
            }
            at_top = true;
            // Process: the next event of the queue being run, unless a break or a continue ends
            // the iteration (or the run) first.
            if self.run.slow & (slow::BREAK | slow::CONTINUE) == 0 {
                if let Some(pri) = self.queues.highest() {
                    if self.run.running.is_none_or(|r| r == pri) {
                        self.run.running = Some(pri);
                        self.run.ran += 1;
                        let idx = self.queues.front(pri);
                        if let Some(ready) = self.pop(pri, idx) {
                            return Ok(Step::Run(ready));
                        }
                        return Ok(Step::Run(self.pop_other(pri, idx)));
                    }
                }
            } else if self.run.slow & slow::BREAK != 0 {
                return Ok(self.finish(Outcome::Exited));
            }
            // Bottom: the end of the iteration.
            self.run.running = None;
            if self.run.slow != 0 && self.iteration_ends_run() {
                return Ok(self.finish(Outcome::Exited));
            }
        }
    }

    #[inline]
    fn finish(&mut self, how: Outcome) -> Step {
        self.cached_now = None;
        self.run.running = None;
        // A pending exit outlives the run; the rest is set again by the next `start`.
        self.run.slow = (self.run.slow & slow::EXIT) | slow::IDLE;
        Step::Done(how)
    }

    /// At the top of an iteration, with a break or an exit asked for: whether to stop.
    #[cold]
    #[inline(never)]
    fn stop_asked(&mut self) -> bool {
        self.run.slow & slow::BREAK != 0 || self.exit_due()
    }

    /// At the bottom of an iteration with a slow bit set: forgets a `loopcontinue`, and says
    /// whether the run ends here (`ONCE`, `NONBLOCK`, or a due exit). A break cannot be pending:
    /// it was checked just before, and nothing since could set it.
    #[cold]
    #[inline(never)]
    fn iteration_ends_run(&mut self) -> bool {
        self.run.slow &= !slow::CONTINUE;
        let bits = self.run.slow;
        if bits & (slow::ONCE | slow::NONBLOCK) != 0 {
            let done = if self.run.ran > 0 {
                bits & slow::ONCE != 0 && self.queues.len == 0
            } else {
                bits & slow::NONBLOCK != 0
            };
            if done {
                return true;
            }
        }
        self.exit_due()
    }

    /// Whether a requested exit is due; consumes it if so.
    fn exit_due(&mut self) -> bool {
        let Some(at) = self.run.exit_at else {
            return false;
        };
        if at > self.now() {
            return false;
        }
        self.run.set_exit(None);
        true
    }

    #[inline]
    fn has_events(&self) -> bool {
        self.slots.used > self.slots.internal || self.has_other_events()
    }

    #[inline(never)]
    fn has_other_events(&self) -> bool {
        self.nvirtual > 0 || self.run.exit_at.is_some()
    }

    /// How long the backend may wait: not at all with events active or in a `NONBLOCK` run,
    /// else until `first` (the earliest timer) or the exit, else indefinitely.
    #[inline]
    fn wait_time(&mut self, first: Option<u64>) -> Option<Duration> {
        if self.queues.len > 0 || self.run.slow & slow::NONBLOCK != 0 {
            return Some(Duration::ZERO);
        }
        // `exit_at` is set exactly when the EXIT bit is, which the common wait tests instead.
        let deadline = if self.run.slow & slow::EXIT == 0 {
            first?
        } else {
            match (first, self.run.exit_at) {
                (Some(t), Some(e)) => t.min(e),
                (t, e) => t.or(e)?,
            }
        };
        let now = if self.run.ran > 0 {
            // Callbacks ran since the time was read: a wait computed from it would be late by
            // their duration. One more clock read, only when a deadline depends on it.
            self.read_clock_in_run()
        } else {
            self.now()
        };
        Some(Duration::from_nanos(deadline.saturating_sub(now)))
    }

    /// One wait on the backend, then the activations it brings and the timers that expire.
    /// Returns the lone activation the dispatch kept out of the queues (see [`Activator`]), or
    /// `NIL`.
    #[inline(always)]
    fn turn(&mut self) -> Result<u32, Error> {
        // The earliest timer, found once: nothing from here to the expiry below changes the
        // timers (dispatch, signals and a rebuild only queue events).
        let first = self.first_timer_settled().map(|(deadline, _)| deadline);
        let timeout = self.wait_time(first);
        // A child forked in a callback of this run starts afresh before it waits: the kernel
        // object it would wait on is the parent's, which the parent goes on changing. Changes
        // recorded before the fork are the parent's too; the rebuild records the child's own.
        if crate::fork::generation() != self.fork_gen {
            self.after_fork_deferred();
        }
        // Tested here, so the call (out of line) stays off the common path. Only a changelist
        // backend's changes are recorded.
        if !self.io.changes.is_empty() {
            self.io.flush();
        }
        self.cached_now = None;
        let mut sink = Activator {
            fds: self.fds.storage.as_slice(),
            slots: self.slots.as_mut_slice(),
            queues: &mut self.queues,
            sigfd: self.sigfd,
            mode: if self.closed_as_read {
                What::CLOSED.bits()
            } else {
                0
            },
            lone: NIL,
        };
        // The count of reports is not needed.
        let r = self.io.backend.dispatch(timeout, &mut sink).map(drop);
        let odd = sink.mode & (odd::SIGNALLED | odd::UNWATCHED);
        let mut lone = sink.lone;
        if odd != 0 || r.is_err() {
            self.odd_dispatch(r, odd, lone)?;
            lone = NIL;
        }
        if let Some(deadline) = first {
            if deadline <= self.read_clock_in_run() {
                self.expire_timers();
            }
        }
        Ok(lone)
    }

    /// After a dispatch that failed or reported the signal fd or an fd nothing watches: queues
    /// the lone activation `lone` (if not `NIL`) where it belongs, first, then returns the
    /// dispatch's error or deals with the reports (bits of [`odd`]).
    #[cold]
    #[inline(never)]
    fn odd_dispatch(&mut self, r: Result<(), Error>, odd: u16, lone: u32) -> Result<(), Error> {
        if lone != NIL {
            self.queues.push_front(self.slots.as_mut_slice(), lone);
        }
        r?;
        if odd != 0 {
            self.odd_reports(odd)?;
        }
        Ok(())
    }

    /// After a dispatch that reported the signal fd or an fd nothing watches (bits of
    /// [`odd`]): drains the pipe, rebuilds the backend's registrations.
    #[cold]
    #[inline(never)]
    fn odd_reports(&mut self, bits: u16) -> Result<(), Error> {
        if crate::fork::generation() != self.fork_gen {
            // A callback of this run forked: the reports come from the parent's kernel objects,
            // its signal fd among them. Start afresh rather than drain the parent's.
            return self.after_fork();
        }
        if bits & odd::SIGNALLED != 0 {
            self.drain_signals();
        }
        if bits & odd::UNWATCHED != 0 {
            self.rebuild(false)?;
        }
        Ok(())
    }

    fn drain_signals(&mut self) {
        let mut counts = [0u32; super::MAX_SIGNAL];
        if let Some(signals) = self.io.backend.signals() {
            signals.drain(&mut |sig, n| {
                if let Some(c) = counts.get_mut(sig as usize) {
                    *c = c.saturating_add(n);
                }
            });
        }
        for (sig, &n) in counts.iter().enumerate() {
            if n > 0 {
                let _ = self.signal_delivered(sig as i32, n.min(u32::from(u16::MAX)) as u16);
            }
        }
    }

    #[inline(never)]
    fn expire_timers(&mut self) {
        let now = self.now();
        while let Some((deadline, idx)) = self.first_timer() {
            if deadline > now {
                break;
            }
            let (events, interval) = {
                let s = self.slots.get(idx);
                (s.events, s.interval)
            };
            if events.contains(What::PERSIST) {
                // Re-armed now, from the deadline it had, so the period does not drift; from now
                // if that is already past. A zero period fires once per iteration.
                let mut at = deadline.saturating_add(interval);
                if at <= now {
                    at = now.saturating_add(interval.max(1));
                }
                // A pending timer is re-armed in place: this cannot fail.
                let _ = self.arm(idx, at);
            } else {
                self.disarm(idx);
            }
            self.slots.get_mut(idx).state |= state::TIMED_OUT;
            self.activate_idx(idx, What::TIMEOUT, 0);
        }
    }

    /// Takes the first event of queue `pri`, `idx`, to run it, in the common case: an inserted
    /// persistent event that did not time out. It stays inserted, and its timeout, if it has
    /// one, counts again from now. Returns it to run; `None` (having changed nothing) for any
    /// other event, which [`pop_other`](Self::pop_other) takes.
    #[inline]
    fn pop(&mut self, pri: u8, idx: u32) -> Option<Ready> {
        let (ready, _) = self.take_plain(idx)?;
        self.queues.pop_front(self.slots.as_mut_slice(), pri, idx);
        Some(ready)
    }

    /// The lone activation of a dispatch, `idx`: active but in no queue (see [`Activator`]).
    /// With nothing else queued since (no timer expired, no signal came) it is the one event of
    /// the iteration and runs now, as the queue would hand it out next: taken by
    /// [`take_plain`](Self::take_plain) if it can, else queued and taken by
    /// [`pop_other`](Self::pop_other). Else it goes first in its queue, where it would be had it
    /// been queued when it was reported, and `None`.
    #[inline(always)]
    fn hand_off(&mut self, idx: u32) -> Option<Ready> {
        if self.queues.len == 0 {
            if let Some((ready, pri)) = self.take_plain(idx) {
                self.run.running = Some(pri);
                self.run.ran = 1;
                return Some(ready);
            }
            return Some(self.hand_off_other(idx));
        }
        self.queues.push_front(self.slots.as_mut_slice(), idx);
        None
    }

    /// [`hand_off`](Self::hand_off) of an event [`take_plain`](Self::take_plain) does not take,
    /// with nothing else queued: what the queue's turn would do with it as its one event.
    #[inline(never)]
    fn hand_off_other(&mut self, idx: u32) -> Ready {
        self.queues.push_front(self.slots.as_mut_slice(), idx);
        let pri = self.slots.get(idx).pri;
        self.run.running = Some(pri);
        self.run.ran = 1;
        self.pop_other(pri, idx)
    }

    /// [`pop`](Self::pop) but for the queue: takes active slot `idx` to run it if it is an
    /// inserted persistent event that did not time out; with its priority. Its result and count
    /// are left as they are: they mean something only while the slot is active.
    #[inline(always)]
    fn take_plain(&mut self, idx: u32) -> Option<(Ready, u8)> {
        let s = &mut self.slots.as_mut_slice()[idx as usize];
        let st = s.state;
        if s.events & (What::PERSIST | What::SIGNAL) != What::PERSIST
            || st & (state::INSERTED | state::TIMED_OUT) != state::INSERTED
        {
            return None;
        }
        let ready = Ready {
            handle: Handle::new(idx, s.gen),
            token: s.token,
            fd: s.fd,
            res: s.res,
        };
        let pri = s.pri;
        s.state = st & !state::ACTIVE;
        if st & state::PERIODIC != 0 {
            let (heap, interval) = (s.heap, s.interval);
            self.rearm(idx, heap, interval);
        }
        Some((ready, pri))
    }

    /// [`pop`](Self::pop) for the rest: signal events, non-persistent events, timeouts, events
    /// activated by hand while not inserted.
    #[inline(never)]
    fn pop_other(&mut self, pri: u8, idx: u32) -> Ready {
        let s = self.slots.get(idx);
        let ready = Ready {
            handle: Handle::new(idx, s.gen),
            token: s.token,
            fd: s.fd,
            res: s.res,
        };
        let (ncalls, events) = (s.ncalls, s.events);
        // A persistent signal event runs once per delivery: it stays first in its queue until
        // its count runs out (a delete stops the repeats).
        if ncalls > 1 && events.contains(What::PERSIST | What::SIGNAL) {
            self.slots.get_mut(idx).ncalls -= 1;
            return ready;
        }
        self.queues.pop_front(self.slots.as_mut_slice(), pri, idx);
        let s = self.slots.get_mut(idx);
        s.state &= !state::ACTIVE;
        s.res = What::empty();
        s.ncalls = 0;
        if !events.contains(What::PERSIST) {
            // Deleted before its callback, so the callback can add it again.
            if s.state & state::INSERTED == 0 && s.heap == NIL {
                // Neither inserted nor timed (a timer that fired, an event activated by hand),
                // and no longer active: nothing to unlink. The fork check stays (see
                // `pop_oneshot`).
                if let Err(e) = self.check_fork() {
                    self.io.deferred = Some(e);
                }
                self.slots.release(idx);
            } else {
                self.pop_oneshot(idx);
            }
            return ready;
        }
        let (st, heap, interval) = (s.state, s.heap, s.interval);
        s.state = st & !state::TIMED_OUT;
        if st & state::PERIODIC != 0 && st & state::TIMED_OUT == 0 {
            // Activated by I/O or by hand: the timeout counts again from now. (libevent counts
            // from the old deadline here, so a timer activated by hand waits two periods.)
            self.rearm(idx, heap, interval);
        }
        if st & state::INSERTED == 0 && heap == NIL {
            self.slots.release(idx);
        }
        ready
    }

    /// A non-persistent event about to run: deleted, its slot given back.
    #[inline(never)]
    fn pop_oneshot(&mut self, idx: u32) {
        // A callback of this iteration may have forked: the delete must not reach the parent's
        // backend.
        let forked = self.check_fork();
        if let Err(e) = forked.and(self.unlink(idx)) {
            self.io.deferred = Some(e);
        }
        self.slots.release(idx);
    }

    /// Re-arms a persistent event's timeout (at heap index `heap`) `interval` from now.
    #[inline(always)]
    fn rearm(&mut self, idx: u32, heap: u32, interval: u64) {
        if heap != NIL {
            let at = self.now().saturating_add(interval);
            self.defer_rearm(idx, at);
        }
    }
}

/// The reports of a dispatch that [`Activator`] leaves to the base, as bits of
/// [`Activator::mode`] above the [`What`] bits.
mod odd {
    /// The signal fd was reported: signals wait to be drained.
    pub const SIGNALLED: u16 = 0x4000;
    /// An fd nothing watches was reported: its registration outlived a close.
    pub const UNWATCHED: u16 = 0x8000;

    /// The bit for a report of `fd`, which no event waits on.
    #[cold]
    #[inline(never)]
    pub fn of(fd: crate::RawFd, sigfd: crate::RawFd) -> u16 {
        if fd == sigfd {
            SIGNALLED
        } else {
            UNWATCHED
        }
    }
}

/// The sink a dispatch reports into: maps `(fd, what)` to the fd's events and queues them.
///
/// It runs between iterations, when no queue is being run, so an activation here never ends an
/// iteration (see [`activate`]).
///
/// The first event it activates while the queues are empty is marked active but kept out of
/// them, in [`lone`](Self::lone), until a second one comes (then it is queued first): an
/// iteration that activates one event, the common one, hands it to the adapter without queueing
/// it (see [`EventBase::hand_off`]). Until then only the base's own code runs (timers, signals),
/// which finds it active and adds to its result, and removes nothing from a queue.
struct Activator<'a> {
    fds: &'a [super::FdEntry],
    slots: &'a mut [Slot],
    queues: &'a mut Queues,
    sigfd: RawFd,
    /// One word, so the common report keeps it in a register: [`What::CLOSED`] if the backend
    /// has no early-close report (a READ may be a peer's close, so it wakes CLOSED interest too:
    /// the contract's "treats CLOSED as READ"), plus the bits of [`odd`] the reports set.
    mode: u16,
    /// The lone activation, or `NIL`.
    lone: u32,
}

impl Activator<'_> {
    /// Activates slot `idx` with `res`: keeps it as the [lone](Self::lone) activation if the
    /// queues are empty and there is none yet, else queues it (the lone one first).
    #[inline(always)]
    fn activate(&mut self, idx: u32, res: What) {
        let s = &mut self.slots[idx as usize];
        if s.state & state::ACTIVE != 0 {
            s.res |= res;
            return;
        }
        s.state |= state::ACTIVE;
        s.res = res;
        s.ncalls = 0;
        if self.queues.len == 0 {
            if self.lone == NIL {
                self.lone = idx;
                return;
            }
            self.queues.push_back(self.slots, self.lone);
            self.lone = NIL;
        }
        self.queues.push_back(self.slots, idx);
    }
}

impl crate::Sink for Activator<'_> {
    #[inline(always)]
    fn ready(&mut self, fd: RawFd, what: What) {
        // A negative fd becomes an index past any table. The signal fd has no events
        // (`link` refuses it, and `check_sigfd` a pipe on an fd with events), so it is among
        // the fds without any (an empty list), which the common report need not compare with it.
        let head = self.fds.get(fd as u32 as usize).map_or(NIL, |e| e.head);
        if head == NIL {
            self.mode |= odd::of(fd, self.sigfd);
            return;
        }
        // An event wakes with the I/O it waits for and happened, and its ET bit if it has one.
        let mut wake = (what & What::IO) | What::ET;
        if what.contains(What::READ) {
            wake |= What::from_bits_retain(self.mode & What::CLOSED.bits());
        }
        let mut idx = head;
        while idx != NIL {
            let s = &self.slots[idx as usize];
            let next = s.next;
            let res = s.events & wake;
            if res.intersects(What::IO) {
                self.activate(idx, res);
            }
            idx = next;
        }
    }
}
