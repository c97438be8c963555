//! `struct event_config`: what `event_base_new_with_config` is asked for.

use std::ffi::{c_char, c_int, CStr};

use eventop_core::{BaseFlags, Features};

use crate::log::{guard, warn};

/// `struct event_config` (opaque to C).
#[derive(Default)]
pub struct event_config {
    pub(crate) avoid: Vec<String>,
    pub(crate) require: Features,
    pub(crate) flags: BaseFlags,
}

/// `event_config_new`.
#[no_mangle]
pub extern "C" fn event_config_new() -> *mut event_config {
    guard("event_config_new", std::ptr::null_mut(), || {
        Box::into_raw(Box::<event_config>::default())
    })
}

/// `event_config_free`.
///
/// # Safety
/// `cfg` is NULL or from `event_config_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn event_config_free(cfg: *mut event_config) {
    if !cfg.is_null() {
        // SAFETY: the caller's promise: it came from `Box::into_raw` and is freed once.
        drop(unsafe { Box::from_raw(cfg) });
    }
}

/// Runs `f` on the config, or logs and returns -1 for NULL.
unsafe fn with(
    name: &str,
    cfg: *mut event_config,
    f: impl FnOnce(&mut event_config) -> c_int,
) -> c_int {
    if cfg.is_null() {
        warn(&format!("{name}: NULL config"));
        return -1;
    }
    // SAFETY: non-null and, by the caller's promise, from `event_config_new`.
    guard(name, -1, || f(unsafe { &mut *cfg }))
}

/// `event_config_avoid_method`.
///
/// # Safety
/// `cfg` as for `event_config_free`; `method` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn event_config_avoid_method(
    cfg: *mut event_config,
    method: *const c_char,
) -> c_int {
    if method.is_null() {
        warn("event_config_avoid_method: NULL method");
        return -1;
    }
    // SAFETY: non-null C string by the caller's promise.
    let name = unsafe { CStr::from_ptr(method) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: forwarded promise.
    unsafe {
        with("event_config_avoid_method", cfg, |c| {
            c.avoid.push(name);
            0
        })
    }
}

/// `event_config_require_features`.
///
/// # Safety
/// `cfg` as for `event_config_free`.
#[no_mangle]
pub unsafe extern "C" fn event_config_require_features(
    cfg: *mut event_config,
    features: c_int,
) -> c_int {
    // SAFETY: forwarded promise.
    unsafe {
        with("event_config_require_features", cfg, |c| {
            c.require = Features::from_bits_retain(features as u8);
            0
        })
    }
}

/// `event_config_set_flag`.
///
/// # Safety
/// `cfg` as for `event_config_free`.
#[no_mangle]
pub unsafe extern "C" fn event_config_set_flag(cfg: *mut event_config, flag: c_int) -> c_int {
    // SAFETY: forwarded promise.
    unsafe {
        with("event_config_set_flag", cfg, |c| {
            c.flags |= BaseFlags::from_bits_truncate(flag as u8);
            0
        })
    }
}

/// `event_config_set_num_cpus_hint`: accepted (IOCP only in libevent).
///
/// # Safety
/// `cfg` as for `event_config_free`.
#[no_mangle]
pub unsafe extern "C" fn event_config_set_num_cpus_hint(
    cfg: *mut event_config,
    _n: c_int,
) -> c_int {
    // SAFETY: forwarded promise.
    unsafe { with("event_config_set_num_cpus_hint", cfg, |_| 0) }
}

/// `event_config_set_max_dispatch_interval`: accepted and ignored (eventop runs each
/// iteration's queue to its end, as libevent does without this setting).
///
/// # Safety
/// `cfg` as for `event_config_free`.
#[no_mangle]
pub unsafe extern "C" fn event_config_set_max_dispatch_interval(
    cfg: *mut event_config,
    _max_interval: *const libc::timeval,
    _max_callbacks: c_int,
    _min_priority: c_int,
) -> c_int {
    // SAFETY: forwarded promise.
    unsafe { with("event_config_set_max_dispatch_interval", cfg, |_| 0) }
}
