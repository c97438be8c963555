//! `struct timeval` to and from the core's nanoseconds, common timeouts included.
// `time_t` and `suseconds_t` are `i64` here but narrower on some targets: the conversions stay.
#![allow(clippy::useless_conversion)]

use std::time::Duration;

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
}
