//! Time, handed in: the base reads a [`Clock`] and never assumes one.

use core::time::Duration;

/// A monotonic clock in nanoseconds (any epoch; only differences matter).
///
/// The base caches one reading per loop iteration (unless
/// [`BaseFlags::NO_CACHE_TIME`](crate::BaseFlags::NO_CACHE_TIME)), and reads it not at all while
/// no timer is pending; setting a timeout reads it afresh, so that the timeout counts from the
/// call. A test can hand in a clock it advances by hand.
pub trait Clock {
    /// Now. Never less than an earlier reading.
    fn now(&mut self) -> u64;
}

/// A clock the caller moves: for tests and for runtimes that keep their own time.
#[derive(Clone, Copy, Debug, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ManualClock(pub u64);

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&mut self, by: Duration) {
        self.0 = self.0.saturating_add(nanos(by));
    }
}

impl Clock for ManualClock {
    fn now(&mut self) -> u64 {
        self.0
    }
}

/// [`ManualClock`] behind a shared reference, for a test that moves time while a base holds it.
impl Clock for &core::cell::Cell<u64> {
    fn now(&mut self) -> u64 {
        self.get()
    }
}

/// `t` in nanoseconds, capped at `u64::MAX / 2` (so a deadline computed from it cannot wrap).
#[inline]
pub(crate) fn nanos(t: Duration) -> u64 {
    let secs = t.as_secs();
    if secs >> 32 == 0 {
        // Below 2^32 s: at most about 2^62 ns, under the cap, with no overflow.
        return secs * 1_000_000_000 + u64::from(t.subsec_nanos());
    }
    nanos_capped(t)
}

#[cold]
fn nanos_capped(t: Duration) -> u64 {
    t.as_nanos().min(u128::from(u64::MAX / 2)) as u64
}
