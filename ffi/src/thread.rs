//! libevent's threading API (`<event2/thread.h>`): the switch that makes new bases shareable
//! between threads (see `src/sync.rs`). eventop locks with its own mutex; lock, condition and
//! id callbacks given by the program are accepted and not called.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::base::{event_base, live_or};
use crate::log::{guard, warn};
use crate::sync::Threads;

/// Bases made from now on are shareable between threads.
static ON: AtomicBool = AtomicBool::new(false);

/// Whether threading is on for new bases.
pub(crate) fn on() -> bool {
    ON.load(Ordering::Acquire)
}

/// `struct evthread_lock_callbacks`.
#[repr(C)]
pub struct evthread_lock_callbacks {
    /// `EVTHREAD_LOCK_API_VERSION`.
    pub lock_api_version: c_int,
    /// `EVTHREAD_LOCKTYPE_*` bits.
    pub supported_locktypes: u32,
    /// Makes a lock.
    pub alloc: Option<unsafe extern "C" fn(u32) -> *mut c_void>,
    /// Frees a lock.
    pub free: Option<unsafe extern "C" fn(*mut c_void, u32)>,
    /// Locks.
    pub lock: Option<unsafe extern "C" fn(u32, *mut c_void) -> c_int>,
    /// Unlocks.
    pub unlock: Option<unsafe extern "C" fn(u32, *mut c_void) -> c_int>,
}

/// `struct evthread_condition_callbacks`.
#[repr(C)]
pub struct evthread_condition_callbacks {
    /// `EVTHREAD_CONDITION_API_VERSION`.
    pub condition_api_version: c_int,
    /// Makes a condition.
    pub alloc_condition: Option<unsafe extern "C" fn(u32) -> *mut c_void>,
    /// Frees a condition.
    pub free_condition: Option<unsafe extern "C" fn(*mut c_void)>,
    /// Signals.
    pub signal_condition: Option<unsafe extern "C" fn(*mut c_void, c_int) -> c_int>,
    /// Waits.
    pub wait_condition:
        Option<unsafe extern "C" fn(*mut c_void, *mut c_void, *const libc::timeval) -> c_int>,
}

/// `evthread_use_pthreads`: bases made from now on are shareable between threads. 0.
#[no_mangle]
pub extern "C" fn evthread_use_pthreads() -> c_int {
    ON.store(true, Ordering::Release);
    0
}

/// `evthread_set_lock_callbacks`: complete callbacks turn threading on for new bases (eventop
/// locks with its own mutex); NULL turns it off for new bases; incomplete ones are refused.
///
/// # Safety
/// `cbs` is NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn evthread_set_lock_callbacks(cbs: *const evthread_lock_callbacks) -> c_int {
    // SAFETY: the caller's promise.
    match unsafe { cbs.as_ref() } {
        None => {
            ON.store(false, Ordering::Release);
            0
        }
        Some(c)
            if c.alloc.is_some() && c.free.is_some() && c.lock.is_some() && c.unlock.is_some() =>
        {
            ON.store(true, Ordering::Release);
            0
        }
        Some(_) => {
            warn("evthread_set_lock_callbacks: incomplete lock callbacks");
            -1
        }
    }
}

/// `evthread_set_condition_callbacks`: accepted (eventop waits with its own condition).
///
/// # Safety
/// `cbs` is NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn evthread_set_condition_callbacks(
    _cbs: *const evthread_condition_callbacks,
) -> c_int {
    0
}

/// `evthread_set_id_callback`: accepted (eventop knows its threads).
#[no_mangle]
pub extern "C" fn evthread_set_id_callback(_id: Option<unsafe extern "C" fn() -> libc::c_ulong>) {}

/// `evthread_enable_lock_debugging`: accepted; eventop's locks cannot be misused by the program.
#[no_mangle]
pub extern "C" fn evthread_enable_lock_debugging() {}

/// `evthread_enable_lock_debuging`: the old spelling.
#[no_mangle]
pub extern "C" fn evthread_enable_lock_debuging() {}

/// `evthread_make_base_notifiable`: makes a base shareable between threads (a wake-up fd, a
/// lock) even if it was made before threading was turned on. 0, or -1 for a bad base. Call it
/// before other threads use the base.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn evthread_make_base_notifiable(base: *mut event_base) -> c_int {
    let base = live_or!("evthread_make_base_notifiable", base, -1);
    guard("evthread_make_base_notifiable", -1, || {
        // SAFETY: live, used by this thread alone (the caller's promise).
        let b = unsafe { &mut *base };
        if b.threads.is_some() {
            return 0;
        }
        match Threads::attach(b) {
            Ok(()) => 0,
            Err(e) => {
                warn(&e);
                -1
            }
        }
    })
}
