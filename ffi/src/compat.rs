//! libevent 1.x's API over one current base: `event_init`, `event_dispatch`, ...

use std::ffi::{c_char, c_int, c_short, c_void};
use std::ptr;
use std::sync::atomic::Ordering;

use crate::base::{event_base, event_base_new, CURRENT};
use crate::layout::Callback;

fn current() -> *mut event_base {
    CURRENT.load(Ordering::Acquire)
}

/// `event_init`: a new base, which becomes the current one.
#[no_mangle]
pub extern "C" fn event_init() -> *mut event_base {
    let b = event_base_new();
    if !b.is_null() {
        CURRENT.store(b, Ordering::Release);
    }
    b
}

/// `event_dispatch`: `event_base_dispatch` on the current base.
#[no_mangle]
pub extern "C" fn event_dispatch() -> c_int {
    // SAFETY: NULL or a base from `event_init`; a freed one is refused.
    unsafe { crate::run::event_base_dispatch(current()) }
}

/// `event_loop`: `event_base_loop` on the current base.
#[no_mangle]
pub extern "C" fn event_loop(flags: c_int) -> c_int {
    // SAFETY: as in `event_dispatch`.
    unsafe { crate::run::event_base_loop(current(), flags) }
}

/// `event_loopexit`: `event_base_loopexit` on the current base.
///
/// # Safety
/// `tv` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn event_loopexit(tv: *const libc::timeval) -> c_int {
    // SAFETY: as in `event_dispatch`; the caller's promise for `tv`.
    unsafe { crate::run::event_base_loopexit(current(), tv) }
}

/// `event_loopbreak`: `event_base_loopbreak` on the current base.
#[no_mangle]
pub extern "C" fn event_loopbreak() -> c_int {
    // SAFETY: as in `event_dispatch`.
    unsafe { crate::run::event_base_loopbreak(current()) }
}

/// `event_once`: `event_base_once` on the current base.
///
/// # Safety
/// `tv` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn event_once(
    fd: c_int,
    events: c_short,
    cb: Option<Callback>,
    arg: *mut c_void,
    tv: *const libc::timeval,
) -> c_int {
    // SAFETY: as in `event_dispatch`; the caller's promise for `tv`.
    unsafe { crate::once::event_base_once(current(), fd, events, cb, arg, tv) }
}

/// `event_get_method`: the current base's backend name.
#[no_mangle]
pub extern "C" fn event_get_method() -> *const c_char {
    let b = current();
    if b.is_null() {
        return ptr::null();
    }
    // SAFETY: as in `event_dispatch`.
    unsafe { crate::query::event_base_get_method(b) }
}

/// `event_priority_init`: `event_base_priority_init` on the current base.
#[no_mangle]
pub extern "C" fn event_priority_init(n: c_int) -> c_int {
    // SAFETY: as in `event_dispatch`.
    unsafe { crate::query::event_base_priority_init(current(), n) }
}
