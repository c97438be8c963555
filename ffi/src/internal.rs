//! Functions libevent exports though its headers keep them internal (their names end in `_`),
//! which libevent's own test programs (`test/test-time.c`, `test/test-dumpevents.c`) call: a
//! weak random number generator and the internal pipe. Provided so those programs run on
//! eventop unrebuilt; no public header declares them.

use std::ffi::c_int;

/// `struct evutil_weakrand_state`.
#[repr(C)]
pub struct evutil_weakrand_state {
    /// The generator's state.
    pub seed: u32,
}

/// The largest value `evutil_weakrand_` returns.
const WEAKRAND_MAX: i32 = 0x7fff_ffff;

/// `evutil_weakrand_seed_`: seeds `state` with `seed`, or, for 0, with the time and the pid;
/// returns the seed used.
///
/// # Safety
/// `state` is writable.
#[no_mangle]
pub unsafe extern "C" fn evutil_weakrand_seed_(
    state: *mut evutil_weakrand_state,
    seed: u32,
) -> u32 {
    let seed = if seed == 0 {
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        // SAFETY: a local timeval; no timezone.
        unsafe { libc::gettimeofday(&mut tv, std::ptr::null_mut()) };
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as u32;
        (tv.tv_sec as u32)
            .wrapping_add(tv.tv_usec as u32)
            .wrapping_add(pid)
    } else {
        seed
    };
    // SAFETY: the caller's promise.
    if let Some(s) = unsafe { state.as_mut() } {
        s.seed = seed;
    }
    seed
}

/// `evutil_weakrand_`: the next value of a linear congruential generator, `0..=0x7fffffff`.
///
/// # Safety
/// `state` is readable and writable.
#[no_mangle]
pub unsafe extern "C" fn evutil_weakrand_(state: *mut evutil_weakrand_state) -> i32 {
    // SAFETY: the caller's promise.
    let Some(s) = (unsafe { state.as_mut() }) else {
        return 0;
    };
    s.seed = s.seed.wrapping_mul(1_103_515_245).wrapping_add(12_345) & WEAKRAND_MAX as u32;
    s.seed as i32
}

/// `evutil_weakrand_range_`: a value in `0..top` (`top` > 0), evenly spread.
///
/// # Safety
/// `state` is readable and writable.
#[no_mangle]
pub unsafe extern "C" fn evutil_weakrand_range_(
    state: *mut evutil_weakrand_state,
    top: i32,
) -> i32 {
    if top <= 0 {
        return 0;
    }
    let divisor = (WEAKRAND_MAX / top).max(1);
    loop {
        // SAFETY: forwarded promise.
        let r = unsafe { evutil_weakrand_(state) } / divisor;
        if r < top {
            return r;
        }
    }
}

/// `evutil_make_internal_pipe_`: a non-blocking, close-on-exec pipe in `fds` (a socketpair if
/// pipes fail); 0, or -1.
///
/// # Safety
/// `fds` has room for two fds.
#[no_mangle]
pub unsafe extern "C" fn evutil_make_internal_pipe_(fds: *mut c_int) -> c_int {
    if fds.is_null() {
        return -1;
    }
    if let Ok(pair) = eventop_core::sys::nonblocking_pipe() {
        // SAFETY: the caller's promise.
        unsafe { std::ptr::copy_nonoverlapping(pair.as_ptr(), fds, 2) };
        return 0;
    }
    let mut pair = [-1; 2];
    // SAFETY: room for two fds.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, pair.as_mut_ptr()) } != 0 {
        return -1;
    }
    for fd in pair {
        // SAFETY: fds just made; integer arguments.
        unsafe {
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            );
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    // SAFETY: the caller's promise.
    unsafe { std::ptr::copy_nonoverlapping(pair.as_ptr(), fds, 2) };
    0
}
