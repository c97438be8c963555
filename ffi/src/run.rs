//! The loop: `event_base_loop` pulls the core step by step and calls each C callback with no
//! Rust reference to the base alive, so callbacks may re-enter (add, del, free their own event,
//! break the loop, free another base); and loop control.

use std::ffi::{c_int, c_short};
use std::ptr;

use eventop::Growable;
use eventop_core::base::{EventBase, Outcome, Ready, Step};
use eventop_core::sys::clock::Monotonic;
use eventop_core::{Backend, Error, LoopFlags, What};

use crate::base::{self, event_base, live_or, Core};
use crate::layout::{self, closure, event, evlist};
use crate::log::{guard, warn};
use crate::sync::Threads;
use crate::time::duration;

/// `event_base_dispatch`: `event_base_loop(base, 0)`.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_dispatch(base: *mut event_base) -> c_int {
    // SAFETY: forwarded promise.
    unsafe { event_base_loop(base, 0) }
}

/// `event_base_loop`: 0 on exit or break (or the end of a `ONCE`/`NONBLOCK` run), 1 when no
/// event is pending or active, -1 on a backend error or when the loop is running already.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_loop(base: *mut event_base, flags: c_int) -> c_int {
    let base = live_or!("event_base_loop", base, -1);
    // SAFETY: live.
    guard("event_base_loop", -1, || unsafe { run(base, flags) })
}

/// The loop.
///
/// # Safety
/// `base` is live.
unsafe fn run(base: *mut event_base, flags: c_int) -> c_int {
    // SAFETY: live.
    let held = unsafe { crate::sync::hold(base) };
    // SAFETY: live.
    let threads = unsafe { crate::sync::threads(base) };
    if let Some(t) = &threads {
        if !t.loop_begin() {
            warn(
                "event_base_loop: reentrant invocation. Only one event_base_loop can run on \
                 each event_base at once.",
            );
            return -1;
        }
    }
    // SAFETY: as above.
    // Two copies of the loop: the one of a base not shared between threads has no trace of
    // the other's locking.
    let r = match threads.as_deref() {
        // SAFETY: as above.
        None => unsafe { run_kind::<false>(base, flags, None) },
        // SAFETY: as above.
        t => unsafe { run_kind::<true>(base, flags, t) },
    };
    if let Some(t) = &threads {
        t.loop_end();
    }
    drop(held);
    r
}

/// The loop compiled for the kind of core the base has (over epoll, or another backend).
///
/// # Safety
/// As [`run_held`].
#[inline(always)]
unsafe fn run_kind<const SHARED: bool>(
    base: *mut event_base,
    flags: c_int,
    threads: Option<&Threads>,
) -> c_int {
    // SAFETY: live; the borrow ends with the match.
    match unsafe { &(*base).core } {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        // SAFETY: forwarded promise.
        Core::Epoll(_) => unsafe { run_held::<SHARED, _>(base, flags, threads, Core::epoll) },
        // SAFETY: forwarded promise.
        _ => unsafe { run_held::<SHARED, _>(base, flags, threads, Core::other) },
    }
}

/// The loop, with the base held by this thread, over the core `kind` gives.
///
/// # Safety
/// `base` is live.
/// `SHARED`: `threads` is `Some`.
unsafe fn run_held<const SHARED: bool, B: Backend>(
    base: *mut event_base,
    flags: c_int,
    threads: Option<&Threads>,
    kind: fn(&mut Core) -> Option<&mut EventBase<B, Monotonic, Growable>>,
) -> c_int {
    {
        // SAFETY: live; this reference ends before any callback runs.
        let b = unsafe { &mut *base };
        if b.core
            .start(LoopFlags::from_bits_truncate(flags as u8))
            .is_err()
        {
            warn(
                "event_base_loop: reentrant invocation. Only one event_base_loop can run on \
                 each event_base at once.",
            );
            return -1;
        }
        b.got_break = false;
        b.got_exit = false;
    }
    let mut failure = None;
    let r = loop {
        // SAFETY: the base stays allocated until this run ends (`event_base_free` from a
        // callback defers to below); the temporary borrow ends with the call.
        let step = match threads {
            Some(t) if SHARED => {
                if t.forked() {
                    // A child that did not call event_reinit: the core renews itself; the
                    // wake-up fd it shares with the parent is renewed here.
                    // SAFETY: held by this thread; the borrow ends with the call.
                    if let Err(why) = t.renew(unsafe { &mut *base }) {
                        warn(&why);
                    }
                }
                t.step_begin();
                // SAFETY: as above.
                let step = unsafe { step_on(base, kind) };
                let token = match &step {
                    Ok(Step::Run(ready)) => ready.token,
                    _ => 0,
                };
                if !t.step_end(token) && token != 0 {
                    continue;
                }
                step
            }
            // SAFETY: as above.
            _ => unsafe { step_on(base, kind) },
        };
        match step {
            // SAFETY: as above.
            Ok(Step::Run(ready)) => unsafe {
                if kind(&mut (*base).core).is_some_and(|c| c.queued_behind_first()) {
                    mark_queued(base);
                }
                run_one::<SHARED>(base, ready, threads)
            },
            Ok(Step::Done(Outcome::Empty)) => break 1,
            Ok(Step::Done(Outcome::Exited)) => break 0,
            Err(e) => {
                failure = Some(e);
                break -1;
            }
        }
    };
    let (deferred, free_pending) = {
        // SAFETY: as above; no callback runs any more.
        let b = unsafe { &mut *base };
        b.running = ptr::null_mut();
        if b.exit_asked && !b.core.exit_pending() {
            b.got_exit = true;
            b.exit_asked = false;
        }
        (b.core.take_deferred_error(), b.free_pending)
    };
    if let Some(finalize) = free_pending {
        // SAFETY: freed by a callback: unregistered already, and its run is over.
        unsafe { base::destroy(base, finalize) };
    }
    // Messages last: the log callback may call back into the library, even free the base.
    if let Some(e) = failure {
        crate::events::fail("event_base_loop", e);
    }
    if let Some(e) = deferred {
        warn(&format!(
            "event_base_loop: a deferred interest change failed: {e}"
        ));
    }
    r
}

/// The next step of the core `kind` gives (a base's kind never changes).
///
/// # Safety
/// `base` is allocated; no other reference to its core is alive.
#[inline(always)]
unsafe fn step_on<B: Backend>(
    base: *mut event_base,
    kind: fn(&mut Core) -> Option<&mut EventBase<B, Monotonic, Growable>>,
) -> Result<Step, Error> {
    // SAFETY: the caller's promise; the borrow ends with the call.
    match kind(unsafe { &mut (*base).core }) {
        Some(c) => c.step(),
        None => Err(Error::NotStarted),
    }
}

/// At the first event of an iteration: the events the iteration activated and left queued
/// show `EVLIST_ACTIVE` and their `ev_res` until their callbacks run, as libevent sets them when
/// it activates them.
///
/// # Safety
/// `base` is allocated; every queued token is a `struct event` the program keeps valid.
#[cold]
#[inline(never)]
unsafe fn mark_queued(base: *mut event_base) {
    // SAFETY: the caller's promise; the borrow ends with the loop.
    unsafe { &*base }.core.each_queued(|e| {
        let ev = e.token as *mut event;
        let mut f = evlist::ACTIVE;
        if e.inserted {
            f |= evlist::INSERTED;
        }
        if e.deadline.is_some() {
            f |= evlist::TIMEOUT;
        }
        // SAFETY: the caller's promise.
        unsafe {
            layout::set_flags(ev, (layout::flags(ev) & !evlist::QUEUED) | f);
            (*ev).ev_res = e.active.bits() as c_short;
        }
    });
}

/// Runs one event's callback.
///
/// # Safety
/// `base` is allocated; `ready.token` is a `struct event` the core held, which the program
/// keeps valid while it is pending or active.
#[inline(always)]
unsafe fn run_one<const SHARED: bool>(
    base: *mut event_base,
    ready: Ready,
    threads: Option<&Threads>,
) {
    let ev = ready.token as *mut event;
    let (cb, arg, fin) = {
        // SAFETY: the caller's promise; this reference ends before the callback.
        let b = unsafe { &mut *base };
        // SAFETY: the caller's promise for `ev`.
        unsafe {
            let mut f = layout::flags(ev) & !(evlist::ACTIVE | evlist::ACTIVE_LATER);
            // A persistent event inserted for I/O or a signal keeps its slot, its insertion and
            // its timeout when it runs: nothing to ask the core (the common case).
            let kept =
                (*ev).ev_events & What::PERSIST.bits() as c_short != 0 && f & evlist::INSERTED != 0;
            if !kept {
                if !b.core.is_held(ready.handle, ready.token) {
                    f &= !(evlist::INSERTED | evlist::TIMEOUT);
                } else if f & evlist::TIMEOUT != 0
                    && !b
                        .core
                        .pending(ready.handle, ready.token, What::TIMEOUT)
                        .0
                        .contains(What::TIMEOUT)
                {
                    f &= !evlist::TIMEOUT;
                }
            }
            layout::set_flags(ev, f);
            (*ev).ev_res = ready.res.bits() as c_short;
            b.running = ev;
            let c = (*ev).ev_evcallback.evcb_closure;
            (
                (*ev).ev_evcallback.evcb_cb_union,
                (*ev).ev_evcallback.evcb_arg,
                c == closure::FINALIZE || c == closure::FINALIZE_FREE,
            )
        }
    };
    if let (true, Some(t)) = (SHARED, threads) {
        t.callback_begin(ev as usize);
    }
    if fin {
        // SAFETY: the event is valid memory (it was active); its finalizer may free it.
        unsafe { crate::finalize::run(ev) };
    } else if let Some(cb) = cb {
        // SAFETY: the program's callback with its own arguments; no Rust reference to the base
        // or the event is alive, so it may call back into the library.
        unsafe { cb(ready.fd, ready.res.bits() as c_short, arg) };
    }
    if let (true, Some(t)) = (SHARED, threads) {
        t.callback_end();
    }
    // SAFETY: still allocated (a free from the callback is deferred to the end of the run).
    unsafe { (*base).running = ptr::null_mut() };
}

/// `event_base_loopexit`: end the loop after `tv` (NULL: after this iteration). Remembered when
/// no loop runs.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`; `tv` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn event_base_loopexit(
    base: *mut event_base,
    tv: *const libc::timeval,
) -> c_int {
    let base = live_or!("event_base_loopexit", base, -1);
    guard("event_base_loopexit", -1, || {
        // SAFETY: the caller's promise.
        let after = unsafe { tv.as_ref() }.map(duration);
        // SAFETY: live.
        let _held = unsafe { crate::sync::hold(base) };
        // SAFETY: live; no other Rust reference is alive.
        let b = unsafe { &mut *base };
        b.core.loopexit(after.filter(|d| !d.is_zero()));
        b.exit_asked = true;
        0
    })
}

/// `event_base_loopbreak`: end the loop after the running callback. Forgotten if no loop runs.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_loopbreak(base: *mut event_base) -> c_int {
    let base = live_or!("event_base_loopbreak", base, -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live; no other Rust reference is alive.
    let b = unsafe { &mut *base };
    b.core.loopbreak();
    b.got_break = true;
    0
}

/// `event_base_loopcontinue`: end the current iteration after the running callback.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_loopcontinue(base: *mut event_base) -> c_int {
    let base = live_or!("event_base_loopcontinue", base, -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live; no other Rust reference is alive.
    unsafe { &mut *base }.core.loopcontinue();
    0
}

/// `event_base_got_exit`: whether the last loop ended by `event_base_loopexit`.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_got_exit(base: *mut event_base) -> c_int {
    let base = live_or!("event_base_got_exit", base, -1);
    // SAFETY: live.
    c_int::from(unsafe { &*base }.got_exit)
}

/// `event_base_got_break`: whether the last loop ended by `event_base_loopbreak`.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_got_break(base: *mut event_base) -> c_int {
    let base = live_or!("event_base_got_break", base, -1);
    // SAFETY: live.
    c_int::from(unsafe { &*base }.got_break)
}
