//! The `evutil_*` helpers core programs lean on: socket flags, socketpair, close, time.

use std::ffi::c_int;

use crate::log::warn;

/// `evutil_make_socket_nonblocking`.
#[no_mangle]
pub extern "C" fn evutil_make_socket_nonblocking(fd: c_int) -> c_int {
    set_flag(
        fd,
        libc::F_GETFL,
        libc::F_SETFL,
        libc::O_NONBLOCK,
        "O_NONBLOCK",
    )
}

/// `evutil_make_socket_closeonexec`.
#[no_mangle]
pub extern "C" fn evutil_make_socket_closeonexec(fd: c_int) -> c_int {
    set_flag(
        fd,
        libc::F_GETFD,
        libc::F_SETFD,
        libc::FD_CLOEXEC,
        "FD_CLOEXEC",
    )
}

fn set_flag(fd: c_int, get: c_int, set: c_int, bit: c_int, what: &str) -> c_int {
    // SAFETY: fcntl on any fd number is safe: a bad one fails with EBADF.
    let old = unsafe { libc::fcntl(fd, get) };
    if old < 0 {
        warn(&format!("fcntl({fd}, get) failed while setting {what}"));
        return -1;
    }
    // SAFETY: as above.
    if old & bit == 0 && unsafe { libc::fcntl(fd, set, old | bit) } < 0 {
        warn(&format!("fcntl({fd}, set) failed while setting {what}"));
        return -1;
    }
    0
}

/// `evutil_make_listen_socket_reuseable`: `SO_REUSEADDR`.
#[no_mangle]
pub extern "C" fn evutil_make_listen_socket_reuseable(fd: c_int) -> c_int {
    let one: c_int = 1;
    // SAFETY: `one` is a readable int of the size given.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const c_int).cast(),
            std::mem::size_of::<c_int>() as libc::socklen_t,
        )
    }
}

/// `evutil_socketpair`.
///
/// # Safety
/// `sv` points to two writable ints.
#[no_mangle]
pub unsafe extern "C" fn evutil_socketpair(
    family: c_int,
    ty: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    if sv.is_null() {
        return -1;
    }
    // SAFETY: the caller's promise: room for two fds.
    unsafe { libc::socketpair(family, ty, protocol, sv) }
}

/// `evutil_closesocket`.
#[no_mangle]
pub extern "C" fn evutil_closesocket(fd: c_int) -> c_int {
    // SAFETY: closing a number the caller names; a bad one fails with EBADF.
    unsafe { libc::close(fd) }
}

/// `evutil_gettimeofday`: `gettimeofday` itself, as libevent's headers make it where the system
/// has one (so a NULL `tv` is 0 here too).
///
/// # Safety
/// `tv` and `tz` each NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn evutil_gettimeofday(
    tv: *mut libc::timeval,
    tz: *mut libc::c_void,
) -> c_int {
    // SAFETY: the caller's promise; the C library takes NULL for either.
    unsafe { libc::gettimeofday(tv, tz.cast()) }
}

fn set_int_opt(fd: c_int, level: c_int, name: c_int) -> c_int {
    let one: c_int = 1;
    // SAFETY: `one` is a readable int of the size given.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&one as *const c_int).cast(),
            std::mem::size_of::<c_int>() as libc::socklen_t,
        )
    }
}

/// `evutil_make_listen_socket_reuseable_port`: `SO_REUSEPORT`.
#[no_mangle]
pub extern "C" fn evutil_make_listen_socket_reuseable_port(fd: c_int) -> c_int {
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT)
}

/// `evutil_make_listen_socket_ipv6only`: `IPV6_V6ONLY`.
#[no_mangle]
pub extern "C" fn evutil_make_listen_socket_ipv6only(fd: c_int) -> c_int {
    set_int_opt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY)
}

/// `evutil_make_tcp_listen_socket_deferred`: `TCP_DEFER_ACCEPT` where there is one.
#[no_mangle]
pub extern "C" fn evutil_make_tcp_listen_socket_deferred(fd: c_int) -> c_int {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = fd;
        0
    }
}

/// `evutil_strtoll`.
///
/// # Safety
/// `s` a C string; `endptr` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn evutil_strtoll(
    s: *const std::ffi::c_char,
    endptr: *mut *mut std::ffi::c_char,
    base: c_int,
) -> i64 {
    // SAFETY: the caller's promise.
    unsafe { libc::strtoll(s, endptr, base) }
}

/// `evutil_inet_ntop`.
///
/// # Safety
/// As `inet_ntop(3)`.
#[no_mangle]
pub unsafe extern "C" fn evutil_inet_ntop(
    af: c_int,
    src: *const libc::c_void,
    dst: *mut std::ffi::c_char,
    len: usize,
) -> *const std::ffi::c_char {
    extern "C" {
        fn inet_ntop(
            af: c_int,
            src: *const libc::c_void,
            dst: *mut std::ffi::c_char,
            size: libc::socklen_t,
        ) -> *const std::ffi::c_char;
    }
    let len = libc::socklen_t::try_from(len).unwrap_or(libc::socklen_t::MAX);
    // SAFETY: the caller's promise.
    unsafe { inet_ntop(af, src, dst, len) }
}

/// `evutil_inet_pton`.
///
/// # Safety
/// As `inet_pton(3)`.
#[no_mangle]
pub unsafe extern "C" fn evutil_inet_pton(
    af: c_int,
    src: *const std::ffi::c_char,
    dst: *mut libc::c_void,
) -> c_int {
    extern "C" {
        fn inet_pton(af: c_int, src: *const std::ffi::c_char, dst: *mut libc::c_void) -> c_int;
    }
    // SAFETY: the caller's promise.
    unsafe { inet_pton(af, src, dst) }
}

/// `evutil_ascii_strcasecmp`: compares ignoring ASCII case, whatever the locale.
///
/// # Safety
/// Both are C strings.
#[no_mangle]
pub unsafe extern "C" fn evutil_ascii_strcasecmp(
    a: *const std::ffi::c_char,
    b: *const std::ffi::c_char,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe { evutil_ascii_strncasecmp(a, b, usize::MAX) }
}

/// `evutil_ascii_strncasecmp`: at most `n` bytes.
///
/// # Safety
/// Both are C strings (or at least `n` readable bytes).
#[no_mangle]
pub unsafe extern "C" fn evutil_ascii_strncasecmp(
    a: *const std::ffi::c_char,
    b: *const std::ffi::c_char,
    n: usize,
) -> c_int {
    for i in 0..n {
        // SAFETY: the caller's promise: readable up to the NUL or `n`.
        let (x, y) = unsafe { (*a.add(i) as u8, *b.add(i) as u8) };
        let (x, y) = (x.to_ascii_lowercase(), y.to_ascii_lowercase());
        if x != y {
            return if x < y { -1 } else { 1 };
        }
        if x == 0 {
            break;
        }
    }
    0
}

/// `evutil_secure_rng_init`: the kernel's generator needs no seeding.
#[no_mangle]
pub extern "C" fn evutil_secure_rng_init() -> c_int {
    0
}

/// `evutil_secure_rng_set_urandom_device_file`: accepted; `getrandom(2)` is used.
#[no_mangle]
pub extern "C" fn evutil_secure_rng_set_urandom_device_file(
    _fname: *mut std::ffi::c_char,
) -> c_int {
    0
}

/// `evutil_secure_rng_add_bytes`: accepted; the kernel's generator needs no help.
#[no_mangle]
pub extern "C" fn evutil_secure_rng_add_bytes(_dat: *const std::ffi::c_char, _len: usize) {}

/// `evutil_secure_rng_get_bytes`: `n` random bytes from `arc4random_buf(3)`.
///
/// # Safety
/// `buf` has `n` writable bytes.
#[cfg(target_vendor = "apple")]
#[no_mangle]
pub unsafe extern "C" fn evutil_secure_rng_get_bytes(buf: *mut libc::c_void, n: usize) {
    // SAFETY: the caller's promise: `buf[..n]` is writable.
    unsafe { libc::arc4random_buf(buf, n) };
}

/// `evutil_secure_rng_get_bytes`: `n` random bytes from `getrandom(2)`.
///
/// # Safety
/// `buf` has `n` writable bytes.
#[cfg(not(target_vendor = "apple"))]
#[no_mangle]
pub unsafe extern "C" fn evutil_secure_rng_get_bytes(buf: *mut libc::c_void, n: usize) {
    let mut done = 0;
    while done < n {
        // SAFETY: the caller's promise: `buf[done..n]` is writable.
        let r = unsafe { libc::getrandom(buf.cast::<u8>().add(done).cast(), n - done, 0) };
        if r > 0 {
            done += r as usize;
        } else if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
        {
            warn("evutil_secure_rng_get_bytes: getrandom failed");
            return;
        }
    }
}

/// `struct evutil_monotonic_timer` (opaque to C).
pub struct evutil_monotonic_timer {
    _private: u8,
}

/// `evutil_monotonic_timer_new`.
#[no_mangle]
pub extern "C" fn evutil_monotonic_timer_new() -> *mut evutil_monotonic_timer {
    Box::into_raw(Box::new(evutil_monotonic_timer { _private: 0 }))
}

/// `evutil_monotonic_timer_free`.
///
/// # Safety
/// `t` NULL or from `evutil_monotonic_timer_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn evutil_monotonic_timer_free(t: *mut evutil_monotonic_timer) {
    if !t.is_null() {
        // SAFETY: the caller's promise.
        drop(unsafe { Box::from_raw(t) });
    }
}

/// `evutil_configure_monotonic_time`: `CLOCK_MONOTONIC` whatever the flags.
#[no_mangle]
pub extern "C" fn evutil_configure_monotonic_time(
    t: *mut evutil_monotonic_timer,
    _flags: c_int,
) -> c_int {
    if t.is_null() {
        -1
    } else {
        0
    }
}

/// `evutil_gettime_monotonic`.
///
/// # Safety
/// `tv` writable.
#[no_mangle]
pub unsafe extern "C" fn evutil_gettime_monotonic(
    t: *mut evutil_monotonic_timer,
    tv: *mut libc::timeval,
) -> c_int {
    if t.is_null() || tv.is_null() {
        return -1;
    }
    let ns = eventop_core::clock::Clock::now(&mut eventop_core::sys::clock::Monotonic);
    // SAFETY: the caller's promise.
    unsafe { *tv = crate::time::timeval_of(i128::from(ns)) };
    0
}

// `evutil_snprintf` and `evutil_vsnprintf` are the C library's: glibc's `snprintf` and
// `vsnprintf` already NUL-terminate whatever fits. A variadic function cannot be written in stable
// Rust, so these are jumps to libc's, which leave the caller's arguments as they are.

/// `evutil_snprintf(buf, buflen, format, ...)`: `snprintf`.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[unsafe(naked)]
#[no_mangle]
pub extern "C" fn evutil_snprintf() {
    #[cfg(target_arch = "x86_64")]
    std::arch::naked_asm!("jmp {}", sym libc::snprintf);
    #[cfg(target_arch = "aarch64")]
    std::arch::naked_asm!("b {}", sym libc::snprintf);
}

/// `evutil_vsnprintf(buf, buflen, format, ap)`: `vsnprintf`.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[unsafe(naked)]
#[no_mangle]
pub extern "C" fn evutil_vsnprintf() {
    extern "C" {
        fn vsnprintf(buf: *mut u8, len: usize, fmt: *const u8, ap: *mut libc::c_void) -> c_int;
    }
    #[cfg(target_arch = "x86_64")]
    std::arch::naked_asm!("jmp {}", sym vsnprintf);
    #[cfg(target_arch = "aarch64")]
    std::arch::naked_asm!("b {}", sym vsnprintf);
}

/// `evutil_inet_pton_scope`: `evutil_inet_pton`, and for IPv6 a `%scope` suffix (an interface
/// name or number) stored in `*indexp`.
///
/// # Safety
/// `src` a C string; `dst` room for the address; `indexp` writable when a scope is given.
#[no_mangle]
pub unsafe extern "C" fn evutil_inet_pton_scope(
    af: c_int,
    src: *const std::ffi::c_char,
    dst: *mut libc::c_void,
    indexp: *mut std::ffi::c_uint,
) -> c_int {
    if src.is_null() {
        return -1;
    }
    // SAFETY: the caller's promise.
    let text = unsafe { std::ffi::CStr::from_ptr(src) }.to_bytes();
    let split = text.iter().position(|&b| b == b'%');
    let (Some(at), libc::AF_INET6) = (split, af) else {
        // SAFETY: the caller's promise.
        return unsafe { evutil_inet_pton(af, src, dst) };
    };
    let (addr, scope) = (&text[..at], &text[at + 1..]);
    let Ok(scope_c) = std::ffi::CString::new(scope) else {
        return 0;
    };
    // SAFETY: a NUL-terminated name.
    let mut index = unsafe { libc::if_nametoindex(scope_c.as_ptr()) };
    if index == 0 {
        match std::str::from_utf8(scope).ok().and_then(|s| s.parse().ok()) {
            Some(n) => index = n,
            None => return 0,
        }
    }
    if indexp.is_null() {
        return -1;
    }
    // SAFETY: the caller's promise.
    unsafe { *indexp = index };
    let Ok(addr) = std::ffi::CString::new(addr) else {
        return 0;
    };
    // SAFETY: the caller's promise for `dst`; `addr` is NUL-terminated.
    unsafe { evutil_inet_pton(af, addr.as_ptr(), dst) }
}

/// `evutil_date_rfc1123`: `tm` (or now, if NULL) as an HTTP date, "Sun, 06 Nov 1994 08:49:37
/// GMT", into `date`; returns the length it has (as `snprintf`).
///
/// # Safety
/// `date` has `len` writable bytes; `tm` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn evutil_date_rfc1123(
    date: *mut std::ffi::c_char,
    len: usize,
    tm: *const libc::tm,
) -> c_int {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: zeroed `tm` is valid; `gmtime_r` fills it from a local time_t.
    let mut now: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: the caller's promise.
    let t = match unsafe { tm.as_ref() } {
        Some(t) => t,
        None => {
            // SAFETY: NULL asks time(2) only to return the time.
            let secs = unsafe { libc::time(std::ptr::null_mut()) };
            // SAFETY: both pointers are to locals.
            unsafe { libc::gmtime_r(&secs, &mut now) };
            &now
        }
    };
    let text = format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS.get(t.tm_wday as usize).unwrap_or(&"???"),
        t.tm_mday,
        MONTHS.get(t.tm_mon as usize).unwrap_or(&"???"),
        1900 + t.tm_year,
        t.tm_hour,
        t.tm_min,
        t.tm_sec
    );
    if !date.is_null() && len > 0 {
        let n = text.len().min(len - 1);
        // SAFETY: the caller's promise: `len` writable bytes; `n + 1 <= len`.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), date.cast::<u8>(), n);
            *date.add(n) = 0;
        }
    }
    text.len() as c_int
}
