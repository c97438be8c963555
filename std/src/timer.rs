//! Timers: when they fire ([`Deadline`]) and what their callback says next ([`TimeoutAction`]).

use std::any::Any;
use std::time::{Duration, Instant};

use crate::event::{EventId, Handler};
use crate::{Base, Error, Readiness};

/// When a timeout passes: a [`Duration`] after the call that sets it (never before), or at an
/// [`Instant`]. Both convert into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// This long from now.
    After(Duration),
    /// At this instant (at once, if it has passed).
    At(Instant),
}

impl Deadline {
    /// How long from now until it passes.
    #[inline]
    pub(crate) fn remaining(self) -> Duration {
        match self {
            Deadline::After(d) => d,
            // The core counts from a fresh reading of `CLOCK_MONOTONIC`, `Instant`'s clock.
            Deadline::At(at) => at.saturating_duration_since(Instant::now()),
        }
    }
}

impl From<Duration> for Deadline {
    fn from(d: Duration) -> Deadline {
        Deadline::After(d)
    }
}

impl From<Instant> for Deadline {
    fn from(at: Instant) -> Deadline {
        Deadline::At(at)
    }
}

/// What a timer's callback wants next (as calloop's `TimeoutAction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutAction {
    /// Free the timer: its id goes stale.
    Drop,
    /// Fire again this long from now.
    ToDuration(Duration),
    /// Fire again at this instant.
    ToInstant(Instant),
}

/// A timer's closure: runs it and does what it returns.
pub(crate) struct TimerFn<F>(pub(crate) F);

impl<D, F> Handler<D> for TimerFn<F>
where
    F: FnMut(&mut Base<D>, &mut D, EventId) -> TimeoutAction + Send,
{
    #[inline]
    fn call(&mut self, base: &mut Base<D>, data: &mut D, ev: EventId, _: Readiness) -> bool {
        let r = match (self.0)(base, data, ev) {
            // Freed by the caller, which then drops this closure.
            TimeoutAction::Drop => return true,
            TimeoutAction::ToDuration(d) => base.add_timeout(ev, d),
            TimeoutAction::ToInstant(at) => base.add_timeout(ev, at),
        };
        match r {
            // Freed by its own callback already: nothing to set again.
            Ok(()) | Err(Error::Stale) => {}
            Err(e) => base.defer(e),
        }
        false
    }
    fn into_source(self) -> Box<dyn Any> {
        Box::new(())
    }
}
