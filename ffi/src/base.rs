//! `struct event_base`: a core base (over epoll's own type, or over the hosted enum of every
//! backend), growable tables, and what the C API keeps beside it; the registry of live bases;
//! creation and freeing.

use std::ffi::{c_int, CString};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

use eventop::Growable;
use eventop_core::base::Counts;
use eventop_core::selection::Config;
use eventop_core::sys::hosted::Hosted;
use eventop_core::Backend;

use crate::config::event_config;
use crate::layout::{self, closure, event, evlist};
use crate::log::{guard, log, warn, MSG};
use crate::once::Once;
use crate::time::WallOffset;

pub(crate) use crate::cores::Core;

/// `struct event_base` (opaque to C).
pub struct event_base {
    pub(crate) core: Core,
    /// The backend's name, for `event_base_get_method`.
    method: CString,
    /// The event whose callback runs now (`event_base_get_running_event`).
    pub(crate) running: *mut event,
    pub(crate) got_break: bool,
    pub(crate) got_exit: bool,
    /// A `loopexit` was asked for and has not ended a run yet.
    pub(crate) exit_asked: bool,
    /// `event_base_free` was called while the loop ran: free when the run ends (with finalizers
    /// run, or not).
    pub(crate) free_pending: Option<bool>,
    /// `event_base_once` events not yet run: freed with the base.
    pub(crate) onces: Vec<*mut Once>,
    /// `event_base_init_common_timeout` durations (boxed: C keeps pointers to them, so they
    /// must not move when the vector grows).
    #[allow(clippy::vec_box)]
    pub(crate) common: Vec<Box<libc::timeval>>,
    /// Wall-clock minus monotonic time, to report deadlines as `gettimeofday` times.
    pub(crate) wall: WallOffset,
    /// The most events seen at once, for `event_base_get_max_events`.
    pub(crate) max: Counts,
    /// The lock and wake-up fd of a base shared between threads (see `crate::sync`).
    pub(crate) threads: Option<std::sync::Arc<crate::sync::Threads>>,
}

/// Bases not yet freed. An `ev_base` read from a struct is used only if it is here: a freed base
/// or garbage is refused, never dereferenced.
static LIVE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// The base last found live: the common check is one load.
static LAST: AtomicUsize = AtomicUsize::new(0);
/// The base of the compat API (`event_init`, `event_set`, ...), or NULL.
pub(crate) static CURRENT: AtomicPtr<event_base> = AtomicPtr::new(ptr::null_mut());

fn live() -> std::sync::MutexGuard<'static, Vec<usize>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `b` is a base made here and not freed.
#[inline]
pub(crate) fn is_live(b: *mut event_base) -> bool {
    let p = b as usize;
    if p != 0 && LAST.load(Ordering::Acquire) == p {
        return true;
    }
    is_live_slow(p)
}

#[inline(never)]
fn is_live_slow(p: usize) -> bool {
    if p == 0 {
        return false;
    }
    let found = live().contains(&p);
    if found {
        LAST.store(p, Ordering::Release);
    }
    found
}

/// `b` if it is live, else a warning naming `name` and `None`.
pub(crate) fn checked(name: &str, b: *mut event_base) -> Option<*mut event_base> {
    if b.is_null() {
        warn(&format!("{name}: NULL event_base"));
        None
    } else if !is_live(b) {
        warn(&format!("{name}: not a live event_base (freed?)"));
        None
    } else {
        Some(b)
    }
}

impl event_base {
    fn new(cfg: &event_config) -> Result<Box<event_base>, String> {
        let avoid: Vec<&str> = cfg.avoid.iter().map(String::as_str).collect();
        let config = Config {
            avoid: &avoid,
            require: cfg.require,
            flags: cfg.flags,
        };
        let selected = Hosted::<Growable>::select(&config).map_err(|e| e.to_string())?;
        let name = selected.backend.info().name;
        if selected.show_method {
            log(MSG, &format!("libevent using: {name}"));
        }
        let core = Core::new(selected.backend, selected.flags, |hosted| hosted);
        Ok(Box::new(event_base {
            core,
            method: CString::new(name).unwrap_or_default(),
            running: ptr::null_mut(),
            got_break: false,
            got_exit: false,
            exit_asked: false,
            free_pending: None,
            onces: Vec::new(),
            common: Vec::new(),
            wall: WallOffset::default(),
            max: Counts::default(),
            threads: None,
        }))
    }

    /// The backend's name as a C string.
    pub(crate) fn method(&self) -> *const std::ffi::c_char {
        self.method.as_ptr()
    }
}

/// `event_base_new`.
#[no_mangle]
pub extern "C" fn event_base_new() -> *mut event_base {
    // SAFETY: NULL is a valid config argument.
    unsafe { event_base_new_with_config(ptr::null()) }
}

/// `event_base_new_with_config`: NULL if no backend fits (with a warning saying why).
///
/// # Safety
/// `cfg` is NULL or from `event_config_new`.
#[no_mangle]
pub unsafe extern "C" fn event_base_new_with_config(cfg: *const event_config) -> *mut event_base {
    guard("event_base_new_with_config", ptr::null_mut(), || {
        let default = event_config::default();
        // SAFETY: the caller's promise.
        let cfg = unsafe { cfg.as_ref() }.unwrap_or(&default);
        match event_base::new(cfg) {
            Ok(mut b) => {
                if crate::thread::on() && !cfg.flags.contains(eventop_core::BaseFlags::NOLOCK) {
                    if let Err(why) = crate::sync::Threads::attach(&mut b) {
                        warn(&why);
                        return ptr::null_mut();
                    }
                }
                let p = Box::into_raw(b);
                live().push(p as usize);
                p
            }
            Err(why) => {
                warn(&why);
                ptr::null_mut()
            }
        }
    })
}

/// `event_base_free`: pending events are deleted without running and stay valid memory; signal
/// handlers are restored; user fds are not closed. Pending finalizers run. Called from one of its
/// own callbacks, the base is freed when its loop returns.
///
/// # Safety
/// `base` is NULL (the compat base) or from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_free(base: *mut event_base) {
    // SAFETY: forwarded promise.
    guard("event_base_free", (), || unsafe { free_base(base, true) })
}

/// `event_base_free_nofinalize`: `event_base_free` without running pending finalizers.
///
/// # Safety
/// As `event_base_free`.
#[no_mangle]
pub unsafe extern "C" fn event_base_free_nofinalize(base: *mut event_base) {
    // SAFETY: forwarded promise.
    guard("event_base_free_nofinalize", (), || unsafe {
        free_base(base, false)
    })
}

unsafe fn free_base(base: *mut event_base, finalize: bool) {
    let base = if base.is_null() {
        CURRENT.load(Ordering::Acquire)
    } else {
        base
    };
    if base.is_null() {
        warn("event_base_free: no base to free");
        return;
    }
    if !is_live(base) {
        warn("event_base_free: not a live event_base (freed twice?)");
        return;
    }
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    live().retain(|&p| p != base as usize);
    let _ = LAST.compare_exchange(base as usize, 0, Ordering::AcqRel, Ordering::Acquire);
    let _ = CURRENT.compare_exchange(base, ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire);
    // SAFETY: `base` was live, so it is a valid base; no other Rust reference is alive.
    let b = unsafe { &mut *base };
    if b.core.is_running() {
        b.free_pending = Some(finalize);
        b.core.loopbreak();
        return;
    }
    // SAFETY: live until now and not running: nothing else uses it.
    unsafe { destroy(base, finalize) }
}

/// Frees a base that is no longer live or running.
///
/// # Safety
/// `base` is a valid base, unregistered, whose loop is not running.
pub(crate) unsafe fn destroy(base: *mut event_base, finalize: bool) {
    let mut tokens = Vec::new();
    // SAFETY: the caller's promise.
    unsafe { &*base }.core.each_event(|e| tokens.push(e.token));
    let mut finalizers = Vec::new();
    for &t in &tokens {
        let ev = t as *mut event;
        // SAFETY: a held event's token is its struct, which must stay valid while it is
        // pending or active (libevent's rule too).
        unsafe {
            layout::set_flags(ev, layout::flags(ev) & !evlist::QUEUED);
            let c = (*ev).ev_evcallback.evcb_closure;
            if c == closure::FINALIZE || c == closure::FINALIZE_FREE {
                finalizers.push(ev);
            }
        }
    }
    // SAFETY: the caller's promise.
    let onces = std::mem::take(&mut unsafe { &mut *base }.onces);
    // SAFETY: the caller's promise; nothing refers to the base any more.
    drop(unsafe { Box::from_raw(base) });
    for o in onces {
        // SAFETY: each was made by `Box::into_raw` in `event_base_once` and not freed: a once
        // event leaves the list before it is freed.
        drop(unsafe { Box::from_raw(o) });
    }
    if finalize {
        for ev in finalizers {
            // SAFETY: as above: the event is valid memory.
            unsafe { crate::finalize::run(ev) };
        }
    }
}

/// Requires a live base for an `int`-returning function: `-1` and a warning otherwise.
macro_rules! live_or {
    ($name:expr, $base:expr) => {
        match $crate::base::checked($name, $base) {
            Some(b) => b,
            None => return,
        }
    };
    ($name:expr, $base:expr, $fail:expr) => {
        match $crate::base::checked($name, $base) {
            Some(b) => b,
            None => return $fail,
        }
    };
}
pub(crate) use live_or;

/// `event_reinit`: a new kernel object and signal pipe, every event registered again (call it
/// in a child after `fork`).
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_reinit(base: *mut event_base) -> c_int {
    let base = live_or!("event_reinit", base, -1);
    guard("event_reinit", -1, || {
        // SAFETY: live.
        let _held = unsafe { crate::sync::hold(base) };
        // SAFETY: live; no other Rust reference is alive.
        let b = unsafe { &mut *base };
        if let Err(e) = b.core.reinit() {
            return crate::events::fail("event_reinit", e);
        }
        match b.threads.clone() {
            Some(t) => match t.renew(b) {
                Ok(()) => 0,
                Err(why) => {
                    warn(&why);
                    -1
                }
            },
            None => 0,
        }
    })
}
