//! `event_base_once`: a callback run once, on a timeout or an fd's readiness, with an event the
//! library allocates and frees.

use std::ffi::{c_int, c_short, c_void};

use eventop_core::What;

use crate::base::{event_base, live_or};
use crate::events::{assign, event_active, event_add};
use crate::layout::{event, Callback};
use crate::log::{guard, warn};

/// A once-event: the event first, so its address is the `Once`'s.
#[repr(C)]
pub struct Once {
    ev: event,
    base: *mut event_base,
    /// Its place in the base's list of once-events.
    index: usize,
    cb: Option<Callback>,
    arg: *mut c_void,
}

/// The once-event's own callback: forget it, free it, then call the program's.
unsafe extern "C" fn once_cb(fd: c_int, what: c_short, arg: *mut c_void) {
    let once = arg.cast::<Once>();
    // SAFETY: `arg` is the `Once` this event was assigned with, still in its base's list (the
    // list is emptied only when the base is freed, which is deferred while its loop runs).
    let (base, i, cb, cb_arg) = unsafe { ((*once).base, (*once).index, (*once).cb, (*once).arg) };
    // SAFETY: the base is allocated while its loop runs this callback; no other reference.
    let onces = &mut unsafe { &mut *base }.onces;
    if onces.get(i) == Some(&once) {
        onces.swap_remove(i);
        if let Some(&moved) = onces.get(i) {
            // SAFETY: every entry of the list is a live `Once`.
            unsafe { (*moved).index = i };
        }
        // SAFETY: made by `Box::into_raw` below and just taken off the list: freed once.
        drop(unsafe { Box::from_raw(once) });
    }
    if let Some(cb) = cb {
        // SAFETY: the program's callback with its argument; no Rust reference is alive.
        unsafe { cb(fd, what, cb_arg) };
    }
}

/// `event_base_once`: runs `cb` once when `fd` is ready for `events` (`EV_READ`, `EV_WRITE`,
/// `EV_CLOSED`) or after `tv`; `EV_TIMEOUT` alone with no `tv` runs at the next iteration.
/// Signal and persistent events are refused.
///
/// # Safety
/// `base` a pointer from `event_base_new*`; `tv` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn event_base_once(
    base: *mut event_base,
    fd: c_int,
    events: c_short,
    cb: Option<Callback>,
    arg: *mut c_void,
    tv: *const libc::timeval,
) -> c_int {
    let base = live_or!("event_base_once", base, -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live; the caller's promise for `tv`.
    guard("event_base_once", -1, || unsafe {
        once(base, fd, events, cb, arg, tv)
    })
}

unsafe fn once(
    base: *mut event_base,
    fd: c_int,
    events: c_short,
    cb: Option<Callback>,
    arg: *mut c_void,
    tv: *const libc::timeval,
) -> c_int {
    let what = What::from_bits_truncate(events as u16);
    if what.intersects(What::SIGNAL | What::PERSIST) {
        warn("event_base_once: signal and persistent events cannot be once-events");
        return -1;
    }
    let (fd, interest, activate) = if what & (What::TIMEOUT | What::IO) == What::TIMEOUT {
        // SAFETY: the caller's promise.
        let zero = unsafe { tv.as_ref() }.is_none_or(|t| t.tv_sec == 0 && t.tv_usec == 0);
        (-1, What::empty(), zero)
    } else if what.intersects(What::IO) {
        (fd, what & What::IO, false)
    } else {
        warn("event_base_once: no event to wait for");
        return -1;
    };
    let once = Box::into_raw(Box::new(Once {
        // SAFETY: all-zero bytes are a valid `event` (null pointers, `None`, zero numbers).
        ev: unsafe { std::mem::zeroed() },
        base,
        index: 0,
        cb,
        arg,
    }));
    let ev = once.cast::<event>();
    // SAFETY: `ev` is the first field of a fresh `Once`; `base` is live.
    let r = unsafe {
        if assign(
            ev,
            base,
            fd,
            interest.bits() as c_short,
            Some(once_cb),
            once.cast(),
        ) < 0
        {
            -1
        } else if activate {
            event_active(ev, What::TIMEOUT.bits() as c_int, 1);
            0
        } else {
            event_add(ev, tv)
        }
    };
    if r < 0 {
        // SAFETY: never handed out; the core holds nothing for it after a failed add.
        drop(unsafe { Box::from_raw(once) });
        return -1;
    }
    // SAFETY: live; no other Rust reference is alive. `once` is ours until it runs.
    unsafe {
        let onces = &mut (*base).onces;
        (*once).index = onces.len();
        onces.push(once);
    }
    0
}
