//! The event functions: assign, new, free, add, del, active, pending, accessors, priority.
//!
//! The event is the caller's `struct event`; the core holds a slot for it only while it is
//! pending or active, found through the handle kept in the struct and checked against the
//! struct's address (the slot's token).

use std::ffi::{c_int, c_short, c_void};
use std::ptr::{self, addr_of_mut};
use std::sync::atomic::Ordering;

use eventop_core::base::Spec;
use eventop_core::{Error, What};

use crate::base::{event_base, is_live, CURRENT};
use crate::layout::{self, closure, event, evlist, Callback};
use crate::log::{guard, warn};
use crate::time::{duration, timeval_of};

/// Logs `e` for `name`, sets `errno` if the OS gave one, and returns -1.
pub(crate) fn fail(name: &str, e: Error) -> c_int {
    if let Some(errno) = e.errno() {
        eventop_core::sys::set_errno(errno);
    }
    warn(&format!("{name}: {e}"));
    -1
}

/// The core's view of `ev`'s definition.
///
/// # Safety
/// `ev` points to a readable `struct event`.
#[inline]
pub(crate) unsafe fn spec_of(ev: *const event) -> Spec {
    // SAFETY: the caller's promise.
    let (fd, events, pri) = unsafe { ((*ev).ev_fd, (*ev).ev_events, (*ev).ev_evcallback.evcb_pri) };
    Spec {
        fd,
        events: What::from_bits_truncate(events as u16)
            & (What::IO | What::SIGNAL | What::PERSIST | What::ET),
        priority: pri,
        token: ev as usize,
    }
}

/// Whether the core inserts an event of `spec` for I/O or a signal (fd -1 too, as libevent).
#[inline]
fn wants_insert(spec: &Spec) -> bool {
    spec.events.intersects(What::SIGNAL | What::IO)
}

/// Warns `name: what` (out of line: the callers' fast paths keep no trace of it).
#[cold]
#[inline(never)]
pub(crate) fn complain(name: &str, what: &str) {
    warn(&format!("{name}: {what}"));
}

/// The live base of an initialized event; `None` (after a warning when `loud`) otherwise.
///
/// # Safety
/// `ev` is NULL or points to a readable `struct event`.
#[inline(always)]
pub(crate) unsafe fn target(name: &str, ev: *mut event, loud: bool) -> Option<*mut event_base> {
    if ev.is_null() {
        if loud {
            complain(name, "NULL event");
        }
        return None;
    }
    if crate::misc::use_after_free(name, ev.cast()) {
        return None;
    }
    // SAFETY: the caller's promise.
    let (f, b) = unsafe { (layout::flags(ev), layout::base_of(ev)) };
    if f & evlist::INIT == 0 {
        if loud {
            complain(name, "event is not initialized");
        }
        return None;
    }
    if b.is_null() {
        if loud {
            complain(name, "event has no event_base set.");
        }
        return None;
    }
    if !is_live(b) {
        if loud {
            complain(name, "the event's base was freed");
        }
        return None;
    }
    Some(b)
}

/// The address programs pass as `arg` to mean "the event itself".
static SELF_CBARG: u8 = 0;

/// `event_self_cbarg`.
#[no_mangle]
pub extern "C" fn event_self_cbarg() -> *mut c_void {
    ptr::addr_of!(SELF_CBARG) as *mut c_void
}

/// `event_get_struct_event_size`.
#[no_mangle]
pub extern "C" fn event_get_struct_event_size() -> usize {
    std::mem::size_of::<event>()
}

/// `event_assign`: defines the event in the caller's memory. An event still pending is deleted
/// first (libevent would corrupt its lists).
///
/// # Safety
/// `ev` is NULL or points to writable memory of `event_get_struct_event_size()` bytes.
#[no_mangle]
pub unsafe extern "C" fn event_assign(
    ev: *mut event,
    base: *mut event_base,
    fd: c_int,
    events: c_short,
    cb: Option<Callback>,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: forwarded promise.
    guard("event_assign", -1, || unsafe {
        assign(ev, base, fd, events, cb, arg)
    })
}

/// [`event_assign`]'s body.
///
/// # Safety
/// As [`event_assign`].
#[inline]
pub(crate) unsafe fn assign(
    ev: *mut event,
    base: *mut event_base,
    fd: c_int,
    events: c_short,
    cb: Option<Callback>,
    arg: *mut c_void,
) -> c_int {
    if ev.is_null() {
        warn("event_assign: NULL event");
        return -1;
    }
    let base = if base.is_null() {
        CURRENT.load(Ordering::Acquire)
    } else {
        base
    };
    if !base.is_null() && !is_live(base) {
        warn("event_assign: not a live event_base");
        return -1;
    }
    let ev_bits = What::from_bits_truncate(events as u16);
    if ev_bits.contains(What::SIGNAL) && ev_bits.intersects(What::IO) {
        warn("event_assign: EV_SIGNAL is not compatible with EV_READ, EV_WRITE or EV_CLOSED");
        return -1;
    }
    crate::misc::note_assigned(ev.cast());
    // SAFETY: the caller's promise.
    let (f, b) = unsafe { (layout::flags(ev), layout::base_of(ev)) };
    if f & evlist::INIT != 0 && is_live(b) {
        // SAFETY: the caller's promise; `forget` only trusts what the core confirms.
        unsafe { forget(ev, b) };
    }
    let arg = if arg == event_self_cbarg() {
        ev.cast()
    } else {
        arg
    };
    let pri = if base.is_null() {
        0
    } else {
        // SAFETY: live, checked above.
        unsafe { &*base }.core.default_priority()
    };
    let closure = if ev_bits.contains(What::SIGNAL) {
        closure::SIGNAL
    } else if ev_bits.contains(What::PERSIST) {
        closure::PERSIST
    } else {
        closure::EVENT
    };
    // SAFETY: the caller's promise: writable memory of the struct's size; all-zero bytes are a
    // valid `event` (null pointers, `None` callback, zero numbers).
    unsafe {
        ptr::write_bytes(ev, 0, 1);
        let cb_part = addr_of_mut!((*ev).ev_evcallback);
        (*cb_part).evcb_flags = evlist::INIT;
        (*cb_part).evcb_pri = pri;
        (*cb_part).evcb_closure = closure;
        (*cb_part).evcb_cb_union = cb;
        (*cb_part).evcb_arg = arg;
        (*ev).ev_fd = fd;
        (*ev).ev_base = base;
        (*ev).ev_events = events;
    }
    0
}

/// If the struct is an event its live base `b` holds (it was pending and is assigned again, or
/// memory of one that went away unfreed), deletes it from that base.
///
/// # Safety
/// `ev` points to a readable `struct event` with `EVLIST_INIT`, of live base `b`.
#[inline(never)]
unsafe fn forget(ev: *mut event, b: *mut event_base) {
    // SAFETY: the caller's promise.
    let h = unsafe { layout::handle(ev) };
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(b) };
    // SAFETY: live and held.
    unsafe { crate::sync::deleted(b, ev) };
    // SAFETY: live; no other Rust reference to it is alive.
    let core = &mut unsafe { &mut *b }.core;
    if core.del(h, ev as usize).is_ok() && crate::misc::debug_mode() {
        warn("event_assign: the event was pending; deleted first");
    }
}

/// `event_new`: an event allocated with the library's allocator, NULL on a bad argument.
///
/// # Safety
/// `base` is NULL or a live base.
#[no_mangle]
pub unsafe extern "C" fn event_new(
    base: *mut event_base,
    fd: c_int,
    events: c_short,
    cb: Option<Callback>,
    arg: *mut c_void,
) -> *mut event {
    guard("event_new", ptr::null_mut(), || {
        let ev = crate::misc::alloc(std::mem::size_of::<event>()).cast::<event>();
        if ev.is_null() {
            warn("event_new: out of memory");
            return ptr::null_mut();
        }
        // SAFETY: fresh memory of the struct's size, zeroed first so `forget` finds no INIT.
        unsafe {
            ptr::write_bytes(ev, 0, 1);
            if assign(ev, base, fd, events, cb, arg) < 0 {
                crate::misc::free(ev.cast());
                return ptr::null_mut();
            }
        }
        ev
    })
}

/// `event_free`: deletes the event and frees its memory (from `event_new`). A callback may free
/// its own event.
///
/// # Safety
/// `ev` is NULL or from `event_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn event_free(ev: *mut event) {
    if ev.is_null() || crate::misc::use_after_free("event_free", ev.cast()) {
        return;
    }
    guard("event_free", (), || {
        // SAFETY: the caller's promise.
        unsafe {
            del(ev, "event_free");
            crate::misc::free(ev.cast());
        }
        crate::misc::note_freed(ev.cast());
    })
}

/// `event_add`: pending for its I/O or signal, and for `tv` if given (a new `tv` replaces the
/// timeout; NULL keeps it).
///
/// # Safety
/// `ev` is NULL or a valid `struct event`; `tv` NULL or a valid `timeval`.
#[no_mangle]
pub unsafe extern "C" fn event_add(ev: *mut event, tv: *const libc::timeval) -> c_int {
    // SAFETY: forwarded promise.
    guard("event_add", -1, || unsafe { add(ev, tv) })
}

#[inline]
unsafe fn add(ev: *mut event, tv: *const libc::timeval) -> c_int {
    // SAFETY: the caller's promise.
    let Some(base) = (unsafe { target("event_add", ev, true) }) else {
        return -1;
    };
    // SAFETY: live.
    if unsafe { crate::sync::shared(base) } {
        // SAFETY: forwarded promise.
        return unsafe { add_shared(ev, tv, base) };
    }
    // SAFETY: forwarded promise.
    unsafe { add_to(ev, tv, base) }
}

/// [`add`] on a base shared between threads: with the base held.
#[cold]
#[inline(never)]
unsafe fn add_shared(ev: *mut event, tv: *const libc::timeval, base: *mut event_base) -> c_int {
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: forwarded promise.
    unsafe { add_to(ev, tv, base) }
}

/// [`add`]'s work, on `ev`'s live base.
#[inline(always)]
unsafe fn add_to(ev: *mut event, tv: *const libc::timeval, base: *mut event_base) -> c_int {
    // SAFETY: the caller's promise.
    let (spec, current, tv) = unsafe { (spec_of(ev), layout::handle(ev), tv.as_ref()) };
    let timeout = tv.map(duration);
    // SAFETY: live; no other Rust reference is alive.
    let b = unsafe { &mut *base };
    match b.core.add(Some(current), &spec, timeout) {
        Ok(h) => {
            let mut f = evlist::INIT;
            if wants_insert(&spec) {
                f |= evlist::INSERTED;
            }
            if timeout.is_some() {
                f |= evlist::TIMEOUT;
            }
            // SAFETY: the caller's promise.
            unsafe {
                layout::set_handle(ev, h);
                layout::set_flags(ev, layout::flags(ev) | f);
            }
            0
        }
        Err(e) => fail("event_add", e),
    }
}

/// `event_del`: not pending and not active. Deleting an event that is not pending is not an
/// error; an event whose base was freed is inert (0).
///
/// # Safety
/// `ev` is NULL or a valid `struct event`.
#[no_mangle]
pub unsafe extern "C" fn event_del(ev: *mut event) -> c_int {
    // SAFETY: forwarded promise.
    guard("event_del", -1, || unsafe { del(ev, "event_del") })
}

/// [`event_del`]'s body.
///
/// # Safety
/// As [`event_del`].
#[inline(always)]
pub(crate) unsafe fn del(ev: *mut event, name: &str) -> c_int {
    // SAFETY: forwarded promise.
    unsafe { del_as(ev, name, Block::Auto) }
}

/// Whether `event_del` from another thread than the loop's waits for the event's running
/// callback to return.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Block {
    /// Unless the event is `EV_FINALIZE` (libevent's rule).
    Auto,
    /// Always (`event_del_block`).
    Yes,
    /// Never (`event_del_noblock`).
    No,
}

/// [`del`], waiting for a running callback as `block` says.
///
/// # Safety
/// As [`event_del`].
#[inline(always)]
pub(crate) unsafe fn del_as(ev: *mut event, name: &str, block: Block) -> c_int {
    if ev.is_null() {
        complain(name, "NULL event");
        return -1;
    }
    if crate::misc::use_after_free(name, ev.cast()) {
        return -1;
    }
    // SAFETY: the caller's promise.
    let (f, b) = unsafe { (layout::flags(ev), layout::base_of(ev)) };
    if b.is_null() {
        complain(name, "event has no event_base set.");
        return -1;
    }
    if f & evlist::INIT == 0 {
        return -1;
    }
    if !is_live(b) {
        // SAFETY: the caller's promise.
        unsafe { layout::set_flags(ev, f & !evlist::QUEUED) };
        return 0;
    }
    // SAFETY: live.
    if unsafe { crate::sync::shared(b) } {
        // SAFETY: forwarded promise; live.
        return unsafe { del_shared(ev, name, block, b) };
    }
    // A base no other thread uses: nothing to hold, to tell or to wait for.
    // SAFETY: the caller's promise.
    let h = unsafe {
        layout::set_flags(ev, f & !evlist::QUEUED);
        layout::handle(ev)
    };
    // SAFETY: live; no other Rust reference is alive.
    match unsafe { &mut *b }.core.del(h, ev as usize) {
        Ok(()) | Err(Error::StaleHandle) => 0,
        Err(e) => fail(name, e),
    }
}

/// [`del_as`] on a base shared between threads: with the base held, then waiting for a running
/// callback as `block` says.
///
/// # Safety
/// As [`event_del`]; `b` is `ev`'s live base.
#[cold]
#[inline(never)]
unsafe fn del_shared(ev: *mut event, name: &str, block: Block, b: *mut event_base) -> c_int {
    let r = {
        // SAFETY: live.
        let _held = unsafe { crate::sync::hold(b) };
        // SAFETY: the caller's promise; live and held.
        unsafe {
            layout::set_flags(ev, layout::flags(ev) & !evlist::QUEUED);
            crate::sync::deleted(b, ev);
        }
        // SAFETY: the caller's promise for `ev`.
        let h = unsafe { layout::handle(ev) };
        // SAFETY: live; no other Rust reference is alive.
        unsafe { &mut *b }.core.del(h, ev as usize)
    };
    // SAFETY: the caller's promise.
    let finalize = unsafe { (*ev).ev_events } & What::FINALIZE.bits() as c_short != 0;
    if block == Block::Yes || (block == Block::Auto && !finalize) {
        // SAFETY: live; not held any more.
        unsafe { crate::sync::wait_not_running(b, ev) };
    }
    match r {
        Ok(()) | Err(Error::StaleHandle) => 0,
        Err(e) => fail(name, e),
    }
}

/// `event_del_block`: `event_del`, and from another thread than the loop's, returns once the
/// event's running callback returned (even for an `EV_FINALIZE` event).
///
/// # Safety
/// As `event_del`.
#[no_mangle]
pub unsafe extern "C" fn event_del_block(ev: *mut event) -> c_int {
    // SAFETY: forwarded promise.
    guard("event_del_block", -1, || unsafe {
        del_as(ev, "event_del_block", Block::Yes)
    })
}

/// `event_del_noblock`: `event_del` without waiting for a running callback.
///
/// # Safety
/// As `event_del`.
#[no_mangle]
pub unsafe extern "C" fn event_del_noblock(ev: *mut event) -> c_int {
    // SAFETY: forwarded promise.
    guard("event_del_noblock", -1, || unsafe {
        del_as(ev, "event_del_noblock", Block::No)
    })
}

/// `event_remove_timer`: drops the timeout, keeps the event inserted.
///
/// # Safety
/// `ev` is NULL or a valid `struct event`.
#[no_mangle]
pub unsafe extern "C" fn event_remove_timer(ev: *mut event) -> c_int {
    guard("event_remove_timer", -1, || {
        // SAFETY: the caller's promise.
        let Some(base) = (unsafe { target("event_remove_timer", ev, true) }) else {
            return -1;
        };
        // SAFETY: live.
        let _held = unsafe { crate::sync::hold(base) };
        // SAFETY: the caller's promise for `ev`.
        let h = unsafe { layout::handle(ev) };
        // SAFETY: live; no other Rust reference is alive.
        let r = unsafe { &mut *base }.core.del_timer(h, ev as usize);
        // SAFETY: the caller's promise.
        unsafe { layout::set_flags(ev, layout::flags(ev) & !evlist::TIMEOUT) };
        match r {
            Ok(()) | Err(Error::StaleHandle) => 0,
            Err(e) => fail("event_remove_timer", e),
        }
    })
}

/// `event_active`: runs the event with `res` (ORed into an earlier activation), pending or not.
/// A signal event's callback runs `ncalls` times.
///
/// # Safety
/// `ev` is NULL or a valid `struct event`.
#[no_mangle]
pub unsafe extern "C" fn event_active(ev: *mut event, res: c_int, ncalls: c_short) {
    guard("event_active", (), || {
        // SAFETY: the caller's promise.
        let Some(base) = (unsafe { target("event_active", ev, true) }) else {
            return;
        };
        // SAFETY: live.
        let _held = unsafe { crate::sync::hold(base) };
        // SAFETY: the caller's promise.
        let (spec, current) = unsafe { (spec_of(ev), layout::handle(ev)) };
        let ncalls = if spec.events.contains(What::SIGNAL) {
            ncalls.max(0) as u16
        } else {
            1
        };
        let res = What::from_bits_truncate(res as u16);
        // SAFETY: live; no other Rust reference is alive.
        match unsafe { &mut *base }
            .core
            .activate(Some(current), &spec, res, ncalls)
        {
            // SAFETY: the caller's promise.
            Ok(h) => unsafe {
                layout::set_handle(ev, h);
                layout::set_flags(ev, layout::flags(ev) | evlist::ACTIVE);
            },
            Err(e) => {
                fail("event_active", e);
            }
        }
    })
}

/// `event_pending`: which of `what` the event is pending or active for; with `EV_TIMEOUT` in
/// both and `tv` non-NULL, its deadline as a `gettimeofday` time.
///
/// # Safety
/// `ev` is NULL or a valid `struct event`; `tv` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn event_pending(
    ev: *const event,
    what: c_short,
    tv: *mut libc::timeval,
) -> c_int {
    guard("event_pending", 0, || {
        let ev = ev.cast_mut();
        // SAFETY: the caller's promise.
        let Some(base) = (unsafe { target("event_pending", ev, false) }) else {
            return 0;
        };
        // SAFETY: live.
        let _held = unsafe { crate::sync::hold(base) };
        // SAFETY: live.
        let b = unsafe { &*base };
        let what = What::from_bits_truncate(what as u16);
        // SAFETY: the caller's promise.
        let h = unsafe { layout::handle(ev) };
        let (bits, deadline) = b.core.pending(h, ev as usize, what);
        if let (false, true, Some(d)) = (tv.is_null(), bits.contains(What::TIMEOUT), deadline) {
            // SAFETY: non-null and writable by the caller's promise.
            unsafe { *tv = timeval_of(i128::from(d) + b.wall.get()) };
        }
        c_int::from(bits.bits())
    })
}

/// `event_initialized`.
///
/// # Safety
/// `ev` is NULL or a readable `struct event`.
#[no_mangle]
pub unsafe extern "C" fn event_initialized(ev: *const event) -> c_int {
    // SAFETY: the caller's promise.
    c_int::from(!ev.is_null() && unsafe { layout::flags(ev) } & evlist::INIT != 0)
}

/// Reads a field of a non-NULL event, or returns `none`.
macro_rules! getter {
    ($(#[$doc:meta])* $name:ident -> $t:ty, $none:expr, |$ev:ident| $e:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `ev` is NULL or a readable `struct event`.
        #[no_mangle]
        pub unsafe extern "C" fn $name($ev: *const event) -> $t {
            if $ev.is_null() {
                return $none;
            }
            // SAFETY: non-null and readable by the caller's promise.
            unsafe { $e }
        }
    };
}

getter!(
    /// `event_get_fd`.
    event_get_fd -> c_int, -1, |ev| (*ev).ev_fd
);
getter!(
    /// `event_get_base`.
    event_get_base -> *mut event_base, ptr::null_mut(), |ev| (*ev).ev_base
);
getter!(
    /// `event_get_events`.
    event_get_events -> c_short, 0, |ev| (*ev).ev_events
);
getter!(
    /// `event_get_callback`.
    event_get_callback -> Option<Callback>, None, |ev| (*ev).ev_evcallback.evcb_cb_union
);
getter!(
    /// `event_get_callback_arg`.
    event_get_callback_arg -> *mut c_void, ptr::null_mut(), |ev| (*ev).ev_evcallback.evcb_arg
);
getter!(
    /// `event_get_priority`.
    event_get_priority -> c_int, -1, |ev| c_int::from((*ev).ev_evcallback.evcb_pri)
);

/// `event_get_assignment`: copies out what `event_assign` was given (NULL outputs are skipped).
///
/// # Safety
/// `ev` a readable `struct event`; each output NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn event_get_assignment(
    ev: *const event,
    base_out: *mut *mut event_base,
    fd_out: *mut c_int,
    events_out: *mut c_short,
    callback_out: *mut Option<Callback>,
    arg_out: *mut *mut c_void,
) {
    if ev.is_null() {
        warn("event_get_assignment: NULL event");
        return;
    }
    // SAFETY: the caller's promise for every pointer; each is checked for NULL.
    unsafe {
        if !base_out.is_null() {
            *base_out = (*ev).ev_base;
        }
        if !fd_out.is_null() {
            *fd_out = (*ev).ev_fd;
        }
        if !events_out.is_null() {
            *events_out = (*ev).ev_events;
        }
        if !callback_out.is_null() {
            *callback_out = (*ev).ev_evcallback.evcb_cb_union;
        }
        if !arg_out.is_null() {
            *arg_out = (*ev).ev_evcallback.evcb_arg;
        }
    }
}

/// `event_priority_set`: 0 runs first; refused (-1) while the event is active or out of range.
/// A pending event stays pending as it was: its timeout keeps its deadline and its period.
///
/// # Safety
/// `ev` is NULL or a valid `struct event`.
#[no_mangle]
pub unsafe extern "C" fn event_priority_set(ev: *mut event, pri: c_int) -> c_int {
    guard("event_priority_set", -1, || {
        // SAFETY: the caller's promise.
        let Some(base) = (unsafe { target("event_priority_set", ev, true) }) else {
            return -1;
        };
        // SAFETY: live.
        let _held = unsafe { crate::sync::hold(base) };
        // SAFETY: live; no other Rust reference is alive.
        let core = &mut unsafe { &mut *base }.core;
        if pri < 0 || pri >= c_int::from(core.priorities()) {
            return -1;
        }
        // SAFETY: the caller's promise.
        let h = unsafe { layout::handle(ev) };
        let token = ev as usize;
        // Pending or active: the core's slot takes the new priority, and its timeout keeps its
        // deadline and period; refused if active (queued, whatever its result: `event_active`
        // with no bits leaves it empty).
        if core.is_held(h, token) {
            match core.set_priority(h, token, pri as u8) {
                Ok(()) => {}
                Err(Error::Active) => return -1,
                Err(e) => return fail("event_priority_set", e),
            }
        }
        // SAFETY: the caller's promise.
        unsafe { (*ev).ev_evcallback.evcb_pri = pri as u8 };
        0
    })
}

/// `event_base_set`: moves an assigned, not pending event to `base`.
///
/// # Safety
/// `base` a live base; `ev` NULL or a valid `struct event`.
#[no_mangle]
pub unsafe extern "C" fn event_base_set(base: *mut event_base, ev: *mut event) -> c_int {
    let base = crate::base::live_or!("event_base_set", base, -1);
    if ev.is_null() {
        warn("event_base_set: NULL event");
        return -1;
    }
    // SAFETY: the caller's promise.
    unsafe {
        if layout::flags(ev) != evlist::INIT {
            return -1;
        }
        (*ev).ev_base = base;
        (*ev).ev_evcallback.evcb_pri = (*base).core.default_priority();
    }
    0
}

/// `event_set` (compat): `event_assign` on the compat base.
///
/// # Safety
/// As `event_assign`.
#[no_mangle]
pub unsafe extern "C" fn event_set(
    ev: *mut event,
    fd: c_int,
    events: c_short,
    cb: Option<Callback>,
    arg: *mut c_void,
) {
    // SAFETY: forwarded promise.
    unsafe { event_assign(ev, ptr::null_mut(), fd, events, cb, arg) };
}

/// `event_debug_unassign`: marks an event that is not pending as not initialized.
///
/// # Safety
/// `ev` is NULL or a valid `struct event`.
#[no_mangle]
pub unsafe extern "C" fn event_debug_unassign(ev: *mut event) {
    if ev.is_null() {
        return;
    }
    // SAFETY: the caller's promise.
    unsafe {
        let f = layout::flags(ev);
        if f & evlist::QUEUED == 0 {
            layout::set_flags(ev, f & !evlist::INIT);
        }
    }
}
