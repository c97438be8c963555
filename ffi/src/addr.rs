//! The `evutil` address helpers: `evutil_getaddrinfo` (the system's), `evutil_parse_sockaddr_port`,
//! `evutil_sockaddr_cmp`.

use std::ffi::{c_char, c_int, CStr};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// `evutil_getaddrinfo`: the system's `getaddrinfo` (`struct evutil_addrinfo` is `struct
/// addrinfo`, and the `EVUTIL_EAI_*` codes are the system's).
///
/// # Safety
/// As `getaddrinfo(3)`.
#[no_mangle]
pub unsafe extern "C" fn evutil_getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe { libc::getaddrinfo(node, service, hints, res) }
}

/// `evutil_freeaddrinfo`.
///
/// # Safety
/// `ai` from `evutil_getaddrinfo`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn evutil_freeaddrinfo(ai: *mut libc::addrinfo) {
    if !ai.is_null() {
        // SAFETY: the caller's promise.
        unsafe { libc::freeaddrinfo(ai) }
    }
}

/// `evutil_gai_strerror`.
#[no_mangle]
pub extern "C" fn evutil_gai_strerror(err: c_int) -> *const c_char {
    // SAFETY: gai_strerror accepts any code and returns a static string.
    unsafe { libc::gai_strerror(err) }
}

/// `ip`, `[ip6]`, `ip:port` or `[ip6]:port`.
fn parse(text: &str) -> Option<SocketAddr> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some(sa);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    Some(SocketAddr::new(
        IpAddr::V6(inner.parse::<Ipv6Addr>().ok()?),
        0,
    ))
}

/// `evutil_parse_sockaddr_port`: an address with an optional port into `out`, whose room is
/// `*outlen` bytes (set to the size used). 0, or -1 if it does not parse or fit.
///
/// # Safety
/// `s` a C string; `out` has `*outlen` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn evutil_parse_sockaddr_port(
    s: *const c_char,
    out: *mut libc::sockaddr,
    outlen: *mut c_int,
) -> c_int {
    if s.is_null() || out.is_null() || outlen.is_null() {
        return -1;
    }
    // SAFETY: the caller's promise.
    let (text, room) = unsafe { (CStr::from_ptr(s), *outlen) };
    let Some(sa) = text.to_str().ok().and_then(parse) else {
        return -1;
    };
    let room = usize::try_from(room).unwrap_or(0);
    // SAFETY: the caller's promise: `room` writable bytes.
    unsafe { std::ptr::write_bytes(out.cast::<u8>(), 0, room) };
    match sa {
        SocketAddr::V4(a) => {
            let size = std::mem::size_of::<libc::sockaddr_in>();
            if size > room {
                return -1;
            }
            // SAFETY: all-zero bytes are a valid sockaddr_in (plain integers).
            let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            // SAFETY: room for a sockaddr_in, checked above; unaligned write.
            unsafe {
                out.cast::<libc::sockaddr_in>().write_unaligned(sin);
                *outlen = size as c_int;
            }
        }
        SocketAddr::V6(a) => {
            let size = std::mem::size_of::<libc::sockaddr_in6>();
            if size > room {
                return -1;
            }
            // SAFETY: all-zero bytes are a valid sockaddr_in6 (plain integers).
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            // SAFETY: room for a sockaddr_in6, checked above; unaligned write.
            unsafe {
                out.cast::<libc::sockaddr_in6>().write_unaligned(sin6);
                *outlen = size as c_int;
            }
        }
    }
    0
}

/// `evutil_sockaddr_cmp`: orders by family, then address, then (if `include_port`) port;
/// families other than IPv4 and IPv6 compare as 1.
///
/// # Safety
/// Both point to socket addresses of the size their family implies.
#[no_mangle]
pub unsafe extern "C" fn evutil_sockaddr_cmp(
    a: *const libc::sockaddr,
    b: *const libc::sockaddr,
    include_port: c_int,
) -> c_int {
    // SAFETY: the caller's promise.
    let (fa, fb) = unsafe { ((*a).sa_family, (*b).sa_family) };
    if fa != fb {
        return c_int::from(fa) - c_int::from(fb);
    }
    let order = |o: std::cmp::Ordering| o as c_int;
    match c_int::from(fa) {
        libc::AF_INET => {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let (x, y) = unsafe {
                (
                    a.cast::<libc::sockaddr_in>().read_unaligned(),
                    b.cast::<libc::sockaddr_in>().read_unaligned(),
                )
            };
            let c = x.sin_addr.s_addr.cmp(&y.sin_addr.s_addr);
            if c.is_ne() || include_port == 0 {
                return order(c);
            }
            order(x.sin_port.cmp(&y.sin_port))
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 address is a sockaddr_in6.
            let (x, y) = unsafe {
                (
                    a.cast::<libc::sockaddr_in6>().read_unaligned(),
                    b.cast::<libc::sockaddr_in6>().read_unaligned(),
                )
            };
            let c = x.sin6_addr.s6_addr.cmp(&y.sin6_addr.s6_addr);
            if c.is_ne() || include_port == 0 {
                return order(c);
            }
            order(x.sin6_port.cmp(&y.sin6_port))
        }
        _ => 1,
    }
}
