//! Time, handed in: the base reads a [`Clock`] and never assumes one.

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
pub struct ManualClock(pub u64);

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&mut self, by: core::time::Duration) {
        self.0 = self
            .0
            .saturating_add(by.as_nanos().min(u64::MAX as u128) as u64);
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
