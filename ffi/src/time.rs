//! `struct timeval` to and from the core's nanoseconds, common timeouts included.
// `time_t` and `suseconds_t` are `i64` here but narrower on some targets: the conversions stay.
#![allow(clippy::useless_conversion)]

use std::cell::Cell;
use std::time::Duration;

use eventop_core::clock::Clock;
use eventop_core::sys::clock::Monotonic;

/// libevent's common-timeout marks in `tv_usec`: `MAGIC | index << 20 | microseconds`.
pub(crate) const COMMON_MASK: i64 = 0xf000_0000;
pub(crate) const COMMON_MAGIC: i64 = 0x5000_0000;
pub(crate) const USEC_MASK: i64 = 0x000f_ffff;

/// The timeout `tv` stands for; a common timeout's marks are dropped, a negative one is zero.
#[inline]
pub(crate) fn duration(tv: &libc::timeval) -> Duration {
    let mut usec = i64::from(tv.tv_usec);
    if usec & COMMON_MASK == COMMON_MAGIC {
        usec &= USEC_MASK;
    }
    let sec = i64::from(tv.tv_sec);
    if (0..1_000_000).contains(&usec) && sec >= 0 {
        return Duration::new(sec as u64, usec as u32 * 1000);
    }
    let ns = i128::from(sec) * 1_000_000_000 + i128::from(usec) * 1000;
    Duration::from_nanos(ns.clamp(0, i128::from(u64::MAX)) as u64)
}

/// `ns` nanoseconds as a `timeval` (rounded down to microseconds).
pub(crate) fn timeval_of(ns: i128) -> libc::timeval {
    let us = ns.div_euclid(1000);
    libc::timeval {
        tv_sec: us.div_euclid(1_000_000) as libc::time_t,
        tv_usec: us.rem_euclid(1_000_000) as libc::suseconds_t,
    }
}

/// Wall-clock minus monotonic time (ns), to report the core's monotonic times as `gettimeofday`
/// times. Read when first asked for and again once it is 5 s old, as libevent re-reads it: so a
/// loop pays nothing for it, however briefly it runs, and a long run still follows clock steps.
#[derive(Debug, Default)]
pub(crate) struct WallOffset(Cell<Option<(u64, i128)>>);

/// How long one reading of the offset is used, in monotonic ns.
const WALL_OFFSET_TTL: u64 = 5_000_000_000;

impl WallOffset {
    /// The offset, at most 5 s old.
    pub(crate) fn get(&self) -> i128 {
        let mono = Monotonic.now();
        match self.0.get() {
            Some((at, diff)) if mono.saturating_sub(at) < WALL_OFFSET_TTL => diff,
            _ => {
                let mut wall = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: a valid clock id and a local timespec.
                unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut wall) };
                let diff = i128::from(wall.tv_sec) * 1_000_000_000 + i128::from(wall.tv_nsec)
                    - i128::from(mono);
                self.0.set(Some((mono, diff)));
                diff
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tv(sec: i64, usec: i64) -> libc::timeval {
        libc::timeval {
            tv_sec: sec as libc::time_t,
            tv_usec: usec as libc::suseconds_t,
        }
    }

    #[test]
    fn conversions() {
        assert_eq!(duration(&tv(1, 500)), Duration::from_micros(1_000_500));
        assert_eq!(duration(&tv(-1, 0)), Duration::ZERO);
        assert_eq!(duration(&tv(0, 2_000_000)), Duration::from_secs(2));
        let common = COMMON_MAGIC | (3 << 20) | 250;
        assert_eq!(duration(&tv(2, common)), Duration::from_micros(2_000_250));
        let t = timeval_of(1_500_000_999);
        assert_eq!((t.tv_sec, t.tv_usec), (1, 500_000));
        let t = timeval_of(-1);
        assert_eq!((t.tv_sec, t.tv_usec), (-1, 999_999));
    }

    /// Wall-clock time in ns, read the way the C library's users read it.
    fn wall_ns() -> i128 {
        let mut tv = tv(0, 0);
        // SAFETY: a local timeval, no timezone.
        unsafe { libc::gettimeofday(&mut tv, std::ptr::null_mut()) };
        i128::from(tv.tv_sec) * 1_000_000_000 + i128::from(tv.tv_usec) * 1000
    }

    #[test]
    fn wall_offset_is_read_once_then_reused_until_it_is_stale() {
        let o = WallOffset::default();
        let diff = o.get();
        let mono = i128::from(Monotonic.now());
        assert!(
            (mono + diff - wall_ns()).abs() < 100_000_000,
            "off by over 0.1 s"
        );
        // Within its 5 s, a reading stands, whatever it was.
        let (at, _) = o.0.get().unwrap();
        o.0.set(Some((at, 42)));
        assert_eq!(o.get(), 42);
        // Stale, it is read again.
        o.0.set(Some((at.saturating_sub(WALL_OFFSET_TTL), 42)));
        assert!((o.get() - diff).abs() < 100_000_000);
    }
}
