//! Process-wide functions: versions, the backends compiled in, memory functions, debug mode,
//! global shutdown.

use std::collections::HashSet;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use eventop::Growable;
use eventop_core::sys::hosted::Hosted;

/// `event_get_version`: libevent's version this library stands in for.
#[no_mangle]
pub extern "C" fn event_get_version() -> *const c_char {
    c"2.1.12-stable".as_ptr()
}

/// `event_get_version_number`: 2.1.12 as `0x02010c00`.
#[no_mangle]
pub extern "C" fn event_get_version_number() -> u32 {
    0x0201_0c00
}

/// `event_get_supported_methods`: the backends compiled in, in order of preference, ignoring the
/// environment; a NULL-terminated array the library owns.
#[no_mangle]
pub extern "C" fn event_get_supported_methods() -> *mut *const c_char {
    static NAMES: OnceLock<(Vec<CString>, Vec<usize>)> = OnceLock::new();
    let (_, ptrs) = NAMES.get_or_init(|| {
        let names: Vec<CString> = Hosted::<Growable>::TABLE
            .iter()
            .filter_map(|d| CString::new(d.name).ok())
            .collect();
        let mut ptrs: Vec<usize> = names.iter().map(|n| n.as_ptr() as usize).collect();
        ptrs.push(0);
        (names, ptrs)
    });
    ptrs.as_ptr() as *mut *const c_char
}

static DEBUG_MODE: AtomicBool = AtomicBool::new(false);

/// `event_enable_debug_mode`: warns about the misuse eventop can see (an event assigned again
/// while pending). eventop refuses uninitialized events and mixed edge/level triggering on an fd
/// in any mode.
#[no_mangle]
pub extern "C" fn event_enable_debug_mode() {
    DEBUG_MODE.store(true, Ordering::Relaxed);
}

/// `event_disable_debug_mode`.
#[no_mangle]
pub extern "C" fn event_disable_debug_mode() {
    DEBUG_MODE.store(false, Ordering::Relaxed);
    freed().clear();
}

/// Whether debug mode is on.
#[inline]
pub(crate) fn debug_mode() -> bool {
    DEBUG_MODE.load(Ordering::Relaxed)
}

/// Events `event_free` freed while debug mode was on, and not allocated again since.
fn freed() -> std::sync::MutexGuard<'static, HashSet<usize>> {
    static FREED: OnceLock<Mutex<HashSet<usize>>> = OnceLock::new();
    FREED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// In debug mode, remembers that `ev` was freed.
pub(crate) fn note_freed(ev: *const c_void) {
    if debug_mode() {
        freed().insert(ev as usize);
    }
}

/// In debug mode, forgets a freed `ev` (its memory is an event again).
#[inline(always)]
pub(crate) fn note_assigned(ev: *const c_void) {
    if debug_mode() {
        forget_freed(ev);
    }
}

#[cold]
#[inline(never)]
fn forget_freed(ev: *const c_void) {
    freed().remove(&(ev as usize));
}

/// In debug mode, whether `ev` was freed (and says so for `name`).
#[inline(always)]
pub(crate) fn use_after_free(name: &str, ev: *const c_void) -> bool {
    debug_mode() && was_freed(name, ev)
}

#[cold]
#[inline(never)]
fn was_freed(name: &str, ev: *const c_void) -> bool {
    if !freed().contains(&(ev as usize)) {
        return false;
    }
    crate::log::warn(&format!("{name}: {ev:p} is an event freed by event_free"));
    true
}

/// `libevent_global_shutdown`: nothing global to free.
#[no_mangle]
pub extern "C" fn libevent_global_shutdown() {}

type Malloc = unsafe extern "C" fn(usize) -> *mut c_void;
type Realloc = unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;
type Free = unsafe extern "C" fn(*mut c_void);

static MALLOC: AtomicUsize = AtomicUsize::new(0);
static FREE: AtomicUsize = AtomicUsize::new(0);

/// `event_set_mem_functions`: the allocator for `event_new`/`event_free` (the rest of the library
/// uses Rust's allocator). NULL functions restore libc's.
#[no_mangle]
pub extern "C" fn event_set_mem_functions(
    malloc_fn: Option<Malloc>,
    _realloc_fn: Option<Realloc>,
    free_fn: Option<Free>,
) {
    let (m, f) = match (malloc_fn, free_fn) {
        (Some(m), Some(f)) => (m as usize, f as usize),
        _ => (0, 0),
    };
    MALLOC.store(m, Ordering::Release);
    FREE.store(f, Ordering::Release);
}

/// `size` bytes from the program's allocator, or libc's.
pub(crate) fn alloc(size: usize) -> *mut c_void {
    let m = MALLOC.load(Ordering::Acquire);
    if m == 0 {
        // SAFETY: libc's malloc with a size; NULL on failure is handled by the caller.
        return unsafe { libc::malloc(size) };
    }
    // SAFETY: only `event_set_mem_functions` stores here, and only a `Malloc`.
    unsafe { std::mem::transmute::<usize, Malloc>(m)(size) }
}

/// Frees memory from [`alloc`].
///
/// # Safety
/// `p` is NULL or from [`alloc`] under the same memory functions, not freed before.
pub(crate) unsafe fn free(p: *mut c_void) {
    let f = FREE.load(Ordering::Acquire);
    if f == 0 {
        // SAFETY: the caller's promise.
        unsafe { libc::free(p) };
        return;
    }
    // SAFETY: only `event_set_mem_functions` stores here, and only a `Free`; the caller's
    // promise for `p`.
    unsafe { std::mem::transmute::<usize, Free>(f)(p) }
}
