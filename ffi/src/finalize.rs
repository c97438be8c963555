//! `event_finalize` and `event_free_finalize`: delete an event now and run a finalizer for it from
//! the loop (or when its base is freed), as libevent does, with the event itself as the carrier.

use std::ffi::{c_int, c_uint, c_void};

use eventop_core::What;

use crate::events::{del_as, fail, spec_of, target, Block};
use crate::layout::{self, closure, event, evlist, Callback};
use crate::log::guard;

/// `event_finalize_callback_fn`.
pub type FinalizeCb = unsafe extern "C" fn(*mut event, *mut c_void);

/// `event_finalize`: deletes `ev`; `cb(ev, arg)` runs later from the loop.
///
/// # Safety
/// `ev` is NULL or a valid `struct event` that stays valid until the finalizer has run.
#[no_mangle]
pub unsafe extern "C" fn event_finalize(
    _flags: c_uint,
    ev: *mut event,
    cb: Option<FinalizeCb>,
) -> c_int {
    // SAFETY: forwarded promise.
    guard("event_finalize", -1, || unsafe {
        finalize("event_finalize", ev, cb, closure::FINALIZE)
    })
}

/// `event_free_finalize`: as `event_finalize`, and the event is freed after its finalizer.
///
/// # Safety
/// `ev` is NULL or from `event_new`.
#[no_mangle]
pub unsafe extern "C" fn event_free_finalize(
    _flags: c_uint,
    ev: *mut event,
    cb: Option<FinalizeCb>,
) -> c_int {
    // SAFETY: forwarded promise.
    guard("event_free_finalize", -1, || unsafe {
        finalize("event_free_finalize", ev, cb, closure::FINALIZE_FREE)
    })
}

unsafe fn finalize(name: &str, ev: *mut event, cb: Option<FinalizeCb>, how: u8) -> c_int {
    // SAFETY: the caller's promise.
    let Some(base) = (unsafe { target(name, ev, true) }) else {
        return -1;
    };
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: the caller's promise.
    unsafe {
        del_as(ev, name, Block::No);
        (*ev).ev_evcallback.evcb_closure = how;
        // The callback slot is a union in C: it holds the finalizer now.
        (*ev).ev_evcallback.evcb_cb_union =
            std::mem::transmute::<Option<FinalizeCb>, Option<Callback>>(cb);
    }
    if !crate::base::is_live(base) {
        return -1; // freed by the log callback during the delete
    }
    // SAFETY: the caller's promise.
    let spec = unsafe { spec_of(ev) };
    // SAFETY: live (checked by `target`); no other Rust reference is alive.
    match unsafe { &mut *base }
        .core
        .activate(None, &spec, What::FINALIZE, 1)
    {
        // SAFETY: the caller's promise.
        Ok(h) => unsafe {
            layout::set_handle(ev, h);
            let f = layout::flags(ev) | evlist::FINALIZING | evlist::ACTIVE;
            layout::set_flags(ev, f);
            0
        },
        Err(e) => fail(name, e),
    }
}

/// Runs the finalizer of `ev` (and frees it if it was `event_free_finalize`d).
///
/// # Safety
/// `ev` is a valid `struct event` whose closure is a finalize one.
pub(crate) unsafe fn run(ev: *mut event) {
    // SAFETY: the caller's promise.
    let (cb, arg, how) = unsafe {
        let c = &(*ev).ev_evcallback;
        (
            std::mem::transmute::<Option<Callback>, Option<FinalizeCb>>(c.evcb_cb_union),
            c.evcb_arg,
            c.evcb_closure,
        )
    };
    // SAFETY: the caller's promise.
    unsafe {
        layout::set_flags(
            ev,
            layout::flags(ev) & !(evlist::FINALIZING | evlist::QUEUED),
        )
    };
    if let Some(cb) = cb {
        // SAFETY: the program's finalizer with its event and argument.
        unsafe { cb(ev, arg) };
    }
    if how == closure::FINALIZE_FREE {
        // SAFETY: `event_free_finalize` promised memory from `event_new`.
        unsafe { crate::misc::free(ev.cast()) };
    }
}
