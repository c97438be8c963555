//! The process environment, for [`selection::select`](crate::selection::select).

/// Whether the environment variable `name` is set. Like libevent, a setuid or setgid process
/// (real and effective ids differ) sees no environment at all; a name too long or containing NUL
/// is never set.
pub fn is_set(name: &str) -> bool {
    let mut buf = [0u8; 64];
    let Some(dst) = buf.get_mut(..name.len()) else {
        return false;
    };
    if name.as_bytes().contains(&0) {
        return false;
    }
    dst.copy_from_slice(name.as_bytes());
    // SAFETY: the id getters cannot fail and touch no memory of ours.
    let secure = unsafe { libc::getuid() != libc::geteuid() || libc::getgid() != libc::getegid() };
    // SAFETY: `buf` is NUL-terminated (it is longer than `name` and zeroed), and the returned
    // pointer is only compared with null, never read.
    !secure && unsafe { !libc::getenv(buf.as_ptr().cast()).is_null() }
}

#[cfg(test)]
mod tests {
    use super::is_set;

    #[test]
    fn reads_the_real_environment() {
        // PATH is set in any test run; this name is not.
        assert!(is_set("PATH"));
        assert!(!is_set("EVENTOP_SURELY_UNSET_VARIABLE"));
        assert!(!is_set("PA\0TH"));
        assert!(!is_set(core::str::from_utf8(&[b'X'; 64]).unwrap()));
    }
}
