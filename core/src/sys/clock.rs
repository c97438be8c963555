//! The hosted [`Clock`]: `clock_gettime(CLOCK_MONOTONIC)`.

use crate::clock::Clock;

/// The system's monotonic clock, `clock_gettime(CLOCK_MONOTONIC)`, in nanoseconds.
///
/// On Linux the read is a vDSO call (no system call). The precise clock, not
/// `CLOCK_MONOTONIC_COARSE`: libevent's coarse default has a 4 ms resolution here, which makes 1 ms
/// timers fire after 4 ms.
///
/// It never panics: `clock_gettime` fails only for an unknown clock id (`EINVAL`) or a bad pointer
/// (`EFAULT`), and `CLOCK_MONOTONIC` is supported everywhere this builds while the pointer is a
/// local. Were it to fail anyway, the reading would be 0 rather than a panic.
#[derive(Clone, Copy, Debug, Default)]
pub struct Monotonic;

impl Clock for Monotonic {
    #[inline]
    fn now(&mut self) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is a valid clock id.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        // Both fields are non-negative for CLOCK_MONOTONIC; u64 nanoseconds last 584 years.
        (ts.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ts.tv_nsec as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_advances() {
        let mut c = Monotonic;
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let d = c.now();
        assert!(d >= b + 2_000_000, "advanced only {} ns", d - b);
        // And not absurdly far (a unit mistake would show as ×1000).
        assert!(d - b < 2_000_000_000, "advanced {} ns", d - b);
    }
}
