//! Timeout conversions shared by the backends: never round a wait down.
//!
//! The contract lets a backend wait longer than asked where its clock is coarser, never shorter,
//! so every conversion rounds up. A wait longer than a call can express is clamped: the call then
//! returns early with nothing ready and the base, which recomputes the timeout after every
//! dispatch, simply waits again (as it does after `EINTR`).

use core::time::Duration;

/// epoll's longest wait in milliseconds: 35 minutes, libevent's `MAX_EPOLL_TIMEOUT_MSEC` (older
/// kernels misbehaved with larger values).
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
pub(crate) const EPOLL_MAX_MS: libc::c_int = 35 * 60 * 1000;

/// poll's longest wait in milliseconds.
pub(crate) const POLL_MAX_MS: libc::c_int = libc::c_int::MAX;

/// The longest wait in seconds handed to `timespec`/`timeval` calls: 2^31 - 1 seconds (68 years)
/// is within every `time_t` and below the BSDs' range checks, and indistinguishable from forever.
const MAX_SECS: u64 = i32::MAX as u64;

/// `timeout` in whole milliseconds for `epoll_wait(2)` and `poll(2)`: `None` is -1 (wait
/// indefinitely), a fraction of a millisecond counts as a whole one, and the result is at most
/// `max`.
#[inline]
pub(crate) fn millis(timeout: Option<Duration>, max: libc::c_int) -> libc::c_int {
    let Some(d) = timeout else {
        return -1;
    };
    // `max` is positive. Past `max / 1000` seconds the answer is `max`; below, the sum cannot
    // overflow.
    let max = max as u64;
    let secs = d.as_secs();
    if secs > max / 1000 {
        return max as libc::c_int;
    }
    // Rounded up by adding first (`subsec_nanos() + 999_999` stays below 2^32): one multiply and
    // shift, where `div_ceil` adds a remainder test.
    #[allow(clippy::manual_div_ceil)]
    let ms = secs * 1000 + u64::from((d.subsec_nanos() + 999_999) / 1_000_000);
    ms.min(max) as libc::c_int
}

/// `d` as a `timespec` (exact to the nanosecond; clamped to 2^31 - 1 seconds).
#[inline]
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
pub(crate) fn timespec(d: Duration) -> libc::timespec {
    let (secs, nanos) = clamp(d);
    libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: nanos as _,
    }
}

/// `d` as a `timeval` for `select(2)`, rounded up to the microsecond (clamped to 2^31 - 1 seconds).
#[inline]
pub(crate) fn timeval(d: Duration) -> libc::timeval {
    let (mut secs, nanos) = clamp(d);
    let mut micros = nanos.div_ceil(1000);
    if micros == 1_000_000 {
        secs += 1;
        micros = 0;
    }
    libc::timeval {
        tv_sec: secs as libc::time_t,
        tv_usec: micros as libc::suseconds_t,
    }
}

/// Seconds (at most [`MAX_SECS`]) and nanoseconds of `d`.
#[inline]
fn clamp(d: Duration) -> (u64, u32) {
    if d.as_secs() >= MAX_SECS {
        (MAX_SECS, 0)
    } else {
        (d.as_secs(), d.subsec_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_rounds_up_and_clamps() {
        assert_eq!(millis(None, EPOLL_MAX_MS), -1);
        assert_eq!(millis(Some(Duration::ZERO), EPOLL_MAX_MS), 0);
        assert_eq!(millis(Some(Duration::from_nanos(1)), EPOLL_MAX_MS), 1);
        assert_eq!(millis(Some(Duration::from_micros(1000)), EPOLL_MAX_MS), 1);
        assert_eq!(millis(Some(Duration::from_micros(1001)), EPOLL_MAX_MS), 2);
        assert_eq!(
            millis(Some(Duration::new(2, 999_999_999)), POLL_MAX_MS),
            3000
        );
        assert_eq!(
            millis(Some(Duration::from_secs(3600)), EPOLL_MAX_MS),
            2_100_000
        );
        assert_eq!(millis(Some(Duration::MAX), EPOLL_MAX_MS), 2_100_000);
        assert_eq!(millis(Some(Duration::MAX), POLL_MAX_MS), libc::c_int::MAX);
        assert_eq!(
            millis(Some(Duration::from_secs(86_400)), POLL_MAX_MS),
            86_400_000
        );
        // Around `max / 1000` seconds: exact below, clamped above.
        let top = POLL_MAX_MS as u64 / 1000;
        assert_eq!(
            millis(Some(Duration::from_secs(top)), POLL_MAX_MS),
            (top * 1000) as libc::c_int
        );
        assert_eq!(
            millis(Some(Duration::new(top, 647_000_001)), POLL_MAX_MS),
            POLL_MAX_MS
        );
        assert_eq!(
            millis(Some(Duration::new(top, 646_999_999)), POLL_MAX_MS),
            POLL_MAX_MS
        );
        assert_eq!(
            millis(Some(Duration::new(top, 645_000_001)), POLL_MAX_MS),
            POLL_MAX_MS - 1
        );
        assert_eq!(
            millis(Some(Duration::from_secs(top + 1)), POLL_MAX_MS),
            POLL_MAX_MS
        );
        assert_eq!(
            millis(Some(Duration::new(2099, 999_999_999)), EPOLL_MAX_MS),
            EPOLL_MAX_MS
        );
    }

    #[test]
    fn timespec_is_exact_and_clamped() {
        let t = timespec(Duration::new(5, 123_456_789));
        assert_eq!((t.tv_sec, t.tv_nsec), (5, 123_456_789));
        let t = timespec(Duration::MAX);
        assert_eq!((t.tv_sec as u64, t.tv_nsec), (MAX_SECS, 0));
    }

    #[test]
    fn timeval_rounds_up_to_the_microsecond() {
        let t = timeval(Duration::from_nanos(1));
        assert_eq!((t.tv_sec, t.tv_usec), (0, 1));
        let t = timeval(Duration::new(1, 2_000));
        assert_eq!((t.tv_sec, t.tv_usec), (1, 2));
        let t = timeval(Duration::new(1, 999_999_001));
        assert_eq!((t.tv_sec, t.tv_usec), (2, 0));
        let t = timeval(Duration::ZERO);
        assert_eq!((t.tv_sec, t.tv_usec), (0, 0));
        let t = timeval(Duration::MAX);
        assert_eq!((t.tv_sec as u64, t.tv_usec), (MAX_SECS, 0));
    }
}
