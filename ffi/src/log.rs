//! Messages to the program: libevent's log callback (stderr by default), the fatal callback, and
//! the guard that keeps a Rust panic from crossing into C.

use std::ffi::{c_char, c_int, CString};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `event_log_cb`.
pub type LogCb = unsafe extern "C" fn(c_int, *const c_char);
/// `event_fatal_cb`.
pub type FatalCb = unsafe extern "C" fn(c_int);

/// `EVENT_LOG_DEBUG`.
pub const DEBUG: c_int = 0;
/// `EVENT_LOG_MSG`.
pub const MSG: c_int = 1;
/// `EVENT_LOG_WARN`.
pub const WARN: c_int = 2;
/// `EVENT_LOG_ERR`.
pub const ERR: c_int = 3;

static LOG_CB: AtomicUsize = AtomicUsize::new(0);
static FATAL_CB: AtomicUsize = AtomicUsize::new(0);

/// Sends `msg` to the log callback, or to stderr as `[warn] msg` when there is none.
pub fn log(severity: c_int, msg: &str) {
    let text = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    let cb = LOG_CB.load(Ordering::Acquire);
    if cb != 0 {
        // SAFETY: only `event_set_log_callback` stores here, and only a non-null `LogCb`.
        let f: LogCb = unsafe { std::mem::transmute::<usize, LogCb>(cb) };
        // SAFETY: the program's callback, given a NUL-terminated string that outlives the call.
        unsafe { f(severity, text.as_ptr()) };
        return;
    }
    let tag = match severity {
        DEBUG => "debug",
        MSG => "msg",
        WARN => "warn",
        _ => "err",
    };
    let line = format!("[{tag}] {msg}\n");
    // SAFETY: writes `line`'s bytes to fd 2; a failed write is ignored, as libevent's fprintf.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

/// A warning.
pub fn warn(msg: &str) {
    log(WARN, msg);
}

/// Runs `f`; if it panics (a bug in eventop), logs it and returns `fail` instead of unwinding
/// into C.
#[inline]
pub fn guard<R>(name: &str, fail: R, f: impl FnOnce() -> R) -> R {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            internal_error(name);
            fail
        }
    }
}

/// [`guard`]'s message, out of line: the guarded call's fast path keeps no trace of it.
#[cold]
#[inline(never)]
fn internal_error(name: &str) {
    log(ERR, &format!("{name}: internal error (a bug in eventop)"));
}

/// `event_set_log_callback`: `NULL` restores the default (stderr).
#[no_mangle]
pub extern "C" fn event_set_log_callback(cb: Option<LogCb>) {
    LOG_CB.store(cb.map_or(0, |f| f as usize), Ordering::Release);
}

/// `event_set_fatal_callback`: kept; eventop reports errors instead of dying, so it is not
/// called.
#[no_mangle]
pub extern "C" fn event_set_fatal_callback(cb: Option<FatalCb>) {
    FATAL_CB.store(cb.map_or(0, |f| f as usize), Ordering::Release);
}

/// `event_enable_debug_logging`: accepted; eventop has no debug messages to enable.
#[no_mangle]
pub extern "C" fn event_enable_debug_logging(_which: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_error_value() {
        let prev = panic::take_hook();
        panic::set_hook(Box::new(|_| {}));
        let r = guard("test", -1, || -> c_int { panic!("a bug") });
        panic::set_hook(prev);
        assert_eq!(r, -1);
        assert_eq!(guard("test", -1, || 5), 5);
    }
}
