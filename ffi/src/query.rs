//! What a base tells and offers besides the loop: its backend, priorities, counts, cached time,
//! its events (foreach, dump, running), activation by fd or signal, common timeouts.
// `time_t` and `suseconds_t` are `i64` here but narrower on some targets: the conversions stay.
#![allow(clippy::useless_conversion)]

use std::ffi::{c_char, c_int, c_short, c_void};
use std::fmt::Write;
use std::ptr;

use eventop_core::base::EventInfo;
use eventop_core::clock::Clock;
use eventop_core::sys::clock::Monotonic;
use eventop_core::What;

use crate::base::{event_base, live_or};
use crate::events::{fail, spec_of};
use crate::layout::{self, event};
use crate::log::{guard, warn};
use crate::time::{timeval_of, COMMON_MAGIC, COMMON_MASK, USEC_MASK};

/// `event_base_get_method`: the backend's name (`"epoll"`, `"poll"`, `"select"`, ...).
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_get_method(base: *const event_base) -> *const c_char {
    let base = live_or!("event_base_get_method", base.cast_mut(), ptr::null());
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live.
    unsafe { &*base }.method()
}

/// `event_base_get_features`: `EV_FEATURE_*` bits of the backend.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_get_features(base: *const event_base) -> c_int {
    let base = live_or!("event_base_get_features", base.cast_mut(), -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live.
    c_int::from(unsafe { &*base }.core.info().features.bits())
}

/// `event_base_priority_init`: `n` priorities, `1 <= n < 256`; refused while events are active.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_priority_init(base: *mut event_base, n: c_int) -> c_int {
    let base = live_or!("event_base_priority_init", base, -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    if !(1..256).contains(&n) {
        warn("event_base_priority_init: the number of priorities must be 1 to 255");
        return -1;
    }
    // SAFETY: live; no other Rust reference is alive.
    match unsafe { &mut *base }.core.set_priorities(n as u8) {
        Ok(()) => 0,
        Err(e) => fail("event_base_priority_init", e),
    }
}

/// `event_base_get_npriorities`.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_get_npriorities(base: *mut event_base) -> c_int {
    let base = live_or!("event_base_get_npriorities", base, -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live.
    c_int::from(unsafe { &*base }.core.priorities())
}

fn sum(c: eventop_core::base::Counts, what: u32) -> c_int {
    let mut n = 0u32;
    if what & 1 != 0 {
        n += c.active;
    }
    if what & 2 != 0 {
        n += c.virtual_;
    }
    if what & 4 != 0 {
        n += c.added;
    }
    n.min(c_int::MAX as u32) as c_int
}

/// Now's counts as libevent keeps them, folded into the base's maxima. libevent counts an event
/// as added once for each of its lists it is on: its fd's or signal's, the timers, and the active
/// queues too. An event activated by its timeout is on the active queue alone there (libevent
/// takes it off the others first; eventop keeps a persistent one pending meanwhile).
fn counts(b: &mut event_base) -> eventop_core::base::Counts {
    let mut c = b.core.counts();
    c.added = c.added.saturating_add(c.active);
    if c.active > 0 {
        b.core.each_event(|e| {
            if e.active.contains(What::TIMEOUT) {
                let elsewhere = u32::from(e.inserted) + u32::from(e.deadline.is_some());
                c.added = c.added.saturating_sub(elsewhere);
            }
        });
    }
    b.max.active = b.max.active.max(c.active);
    b.max.virtual_ = b.max.virtual_.max(c.virtual_);
    b.max.added = b.max.added.max(c.added);
    c
}

/// `event_base_get_num_events`: events counted by `EVENT_BASE_COUNT_ACTIVE` (1), `_VIRTUAL`
/// (2), `_ADDED` (4; as in libevent, an event counts once for each of its fd or signal, its
/// timeout and its activation; one activated by its timeout, once).
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_get_num_events(base: *mut event_base, what: u32) -> c_int {
    let base = live_or!("event_base_get_num_events", base, -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live; no other Rust reference is alive.
    sum(counts(unsafe { &mut *base }), what)
}

/// `event_base_get_max_events`: the most events counted at once. eventop samples the counts
/// when they are asked for (here and in `event_base_get_num_events`), not at every add.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_get_max_events(
    base: *mut event_base,
    what: u32,
    clear: c_int,
) -> c_int {
    let base = live_or!("event_base_get_max_events", base, -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live; no other Rust reference is alive.
    let b = unsafe { &mut *base };
    let now = counts(b);
    let r = sum(b.max, what);
    if clear != 0 {
        b.max = now;
    }
    r
}

/// `event_base_gettimeofday_cached`: the loop's cached time as a `gettimeofday` time while
/// callbacks run, else `gettimeofday`.
///
/// # Safety
/// `base` NULL (the compat base) or live; `tv` writable.
#[no_mangle]
pub unsafe extern "C" fn event_base_gettimeofday_cached(
    base: *mut event_base,
    tv: *mut libc::timeval,
) -> c_int {
    if tv.is_null() {
        return -1;
    }
    let base = if base.is_null() {
        crate::base::CURRENT.load(std::sync::atomic::Ordering::Acquire)
    } else {
        base
    };
    if !base.is_null() && crate::base::is_live(base) {
        // SAFETY: live; no other Rust reference is alive.
        let b = unsafe { &mut *base };
        if b.core.is_running() {
            let now = b.core.now();
            // SAFETY: writable by the caller's promise.
            unsafe { *tv = timeval_of(i128::from(now) + b.wall.get()) };
            return 0;
        }
    }
    // SAFETY: writable by the caller's promise.
    unsafe { libc::gettimeofday(tv, ptr::null_mut()) }
}

/// `event_base_update_cache_time`: the next cached read takes the clock afresh.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_update_cache_time(base: *mut event_base) -> c_int {
    let base = live_or!("event_base_update_cache_time", base, -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live; no other Rust reference is alive.
    unsafe { &mut *base }.core.update_cache_time();
    0
}

/// `event_gettime_monotonic`: the monotonic clock the base's timers use.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`; `tv` writable.
#[no_mangle]
pub unsafe extern "C" fn event_gettime_monotonic(
    base: *mut event_base,
    tv: *mut libc::timeval,
) -> c_int {
    let _ = live_or!("event_gettime_monotonic", base, -1);
    if tv.is_null() {
        return -1;
    }
    // SAFETY: writable by the caller's promise.
    unsafe { *tv = timeval_of(i128::from(Monotonic.now())) };
    0
}

/// `event_base_foreach_event_cb`.
pub type ForeachCb = unsafe extern "C" fn(*const event_base, *const event, *mut c_void) -> c_int;

/// The events the base holds, taken before any callback runs.
fn snapshot(b: &event_base) -> Vec<EventInfo> {
    let internal = b.threads.as_ref().map_or(0, |t| t.token());
    let mut events = Vec::new();
    b.core.each_event(|e| {
        if e.token != internal {
            events.push(e);
        }
    });
    events
}

/// `event_base_foreach_event`: `f(base, ev, arg)` for each pending or active event until one
/// returns non-zero, which is returned.
///
/// # Safety
/// `base` live; `f` a callback that does not free events it has not been given yet.
#[no_mangle]
pub unsafe extern "C" fn event_base_foreach_event(
    base: *mut event_base,
    f: Option<ForeachCb>,
    arg: *mut c_void,
) -> c_int {
    let base = live_or!("event_base_foreach_event", base, -1);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    let Some(f) = f else { return -1 };
    guard("event_base_foreach_event", -1, || {
        // SAFETY: live.
        for info in snapshot(unsafe { &*base }) {
            // SAFETY: a held event's token is its struct; no Rust reference is alive.
            let r = unsafe { f(base, info.token as *const event, arg) };
            if r != 0 {
                return r;
            }
        }
        0
    })
}

/// `event_base_dump_events`: the inserted and the active events, in libevent's format.
///
/// # Safety
/// `base` live; `out` a `FILE *` open for writing.
#[no_mangle]
pub unsafe extern "C" fn event_base_dump_events(base: *mut event_base, out: *mut libc::FILE) {
    let base = live_or!("event_base_dump_events", base);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    if out.is_null() {
        return;
    }
    guard("event_base_dump_events", (), || {
        // SAFETY: live; no other Rust reference is alive.
        let b = unsafe { &mut *base };
        let events = snapshot(b);
        // libevent's format, which its own test-dumpevents checks: the wall-clock deadline,
        // the interest of inserted events, the result of active ones.
        let mut s = String::from("Inserted events:\n");
        for e in events.iter().filter(|e| e.inserted || e.deadline.is_some()) {
            let _ = write!(s, "  {:p} [{} {}]", e.token as *const event, kind(e), e.fd);
            for (bit, name) in [
                (What::READ, " Read"),
                (What::WRITE, " Write"),
                (What::CLOSED, " EOF"),
                (What::SIGNAL, " Signal"),
                (What::PERSIST, " Persist"),
                (What::ET, " ET"),
            ] {
                if e.events.contains(bit) {
                    s += name;
                }
            }
            if let Some(d) = e.deadline {
                let tv = timeval_of(i128::from(d) + b.wall.get());
                let _ = write!(s, " Timeout={}.{:06}", tv.tv_sec, tv.tv_usec);
            }
            s += "\n";
        }
        s += "Active events:\n";
        for e in events.iter().filter(|e| !e.active.is_empty()) {
            let _ = write!(
                s,
                "  {:p} [{} {}, priority={}]",
                e.token as *const event,
                kind(e),
                e.fd,
                e.priority,
            );
            for (bit, name) in [
                (What::READ, " Read"),
                (What::WRITE, " Write"),
                (What::CLOSED, " EOF"),
                (What::SIGNAL, " Signal"),
                (What::TIMEOUT, " Timeout"),
            ] {
                if e.active.contains(bit) {
                    s += name;
                }
            }
            s += " active\n";
        }
        let text = std::ffi::CString::new(s).unwrap_or_default();
        // SAFETY: `out` is an open FILE by the caller's promise; `text` is NUL-terminated.
        unsafe { libc::fputs(text.as_ptr(), out) };
    })
}

/// libevent's gloss: `"sig"`, or `"fd "` (so an fd prints as `[fd  3]`).
fn kind(e: &EventInfo) -> &'static str {
    if e.events.contains(What::SIGNAL) {
        "sig"
    } else {
        "fd "
    }
}

/// `event_base_get_running_event`: the event whose callback runs now, or NULL.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_get_running_event(base: *mut event_base) -> *mut event {
    let base = live_or!("event_base_get_running_event", base, ptr::null_mut());
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: live.
    unsafe { &*base }.running
}

/// Activates each held event for which `pick` gives a result.
///
/// # Safety
/// `base` is live.
unsafe fn activate_where(
    name: &str,
    base: *mut event_base,
    pick: impl Fn(&EventInfo) -> Option<What>,
) {
    // SAFETY: live by the caller's promise; the reference ends with the statement.
    let events = snapshot(unsafe { &*base });
    for info in events {
        if !crate::base::is_live(base) {
            return; // freed by the log callback
        }
        let Some(res) = pick(&info) else { continue };
        let ev = info.token as *mut event;
        // SAFETY: a held event's struct is valid memory.
        let spec = unsafe { spec_of(ev) };
        // SAFETY: live; the borrow ends with the call, before any message goes to the log
        // callback (which may call back into the library).
        let r = unsafe { (*base).core.activate(Some(info.handle), &spec, res, 1) };
        match r {
            // SAFETY: as above.
            Ok(h) => unsafe {
                layout::set_handle(ev, h);
                layout::set_flags(ev, layout::flags(ev) | layout::evlist::ACTIVE);
            },
            Err(e) => {
                fail(name, e);
            }
        }
    }
}

/// `event_base_active_by_fd`: activates the I/O events on `fd` whose interest meets `events`.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_active_by_fd(
    base: *mut event_base,
    fd: c_int,
    events: c_short,
) {
    let base = live_or!("event_base_active_by_fd", base);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    let want = What::from_bits_truncate(events as u16) & (What::IO | What::ET);
    guard("event_base_active_by_fd", (), || {
        // SAFETY: live.
        unsafe {
            activate_where("event_base_active_by_fd", base, |e| {
                let res = e.events & want;
                (e.inserted
                    && e.fd == fd
                    && !e.events.contains(What::SIGNAL)
                    && res.intersects(What::IO))
                .then_some(res)
            })
        }
    })
}

/// `event_base_active_by_signal`: activates the events for signal `sig`, as one delivery.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`.
#[no_mangle]
pub unsafe extern "C" fn event_base_active_by_signal(base: *mut event_base, sig: c_int) {
    let base = live_or!("event_base_active_by_signal", base);
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    guard("event_base_active_by_signal", (), || {
        // SAFETY: live.
        unsafe {
            activate_where("event_base_active_by_signal", base, |e| {
                (e.inserted && e.fd == sig && e.events.contains(What::SIGNAL))
                    .then_some(What::SIGNAL)
            })
        }
    })
}

/// `event_base_init_common_timeout`: a `timeval` standing for `duration` that `event_add`
/// accepts (libevent's marked form); up to 256 per base. Timers here are O(log n) whatever the
/// duration, so it is a convenience, not a speed-up.
///
/// # Safety
/// `base` is NULL or a pointer from `event_base_new*`; `duration` readable.
#[no_mangle]
pub unsafe extern "C" fn event_base_init_common_timeout(
    base: *mut event_base,
    duration: *const libc::timeval,
) -> *const libc::timeval {
    let base = live_or!("event_base_init_common_timeout", base, ptr::null());
    // SAFETY: live.
    let _held = unsafe { crate::sync::hold(base) };
    // SAFETY: the caller's promise.
    let Some(d) = (unsafe { duration.as_ref() }) else {
        return ptr::null();
    };
    let mut usec = i64::from(d.tv_usec);
    if usec & COMMON_MASK == COMMON_MAGIC {
        usec &= USEC_MASK;
    }
    let sec = i64::from(d.tv_sec) + usec.div_euclid(1_000_000);
    let usec = usec.rem_euclid(1_000_000);
    // SAFETY: live; no other Rust reference is alive.
    let b = unsafe { &mut *base };
    if let Some(t) = b
        .common
        .iter()
        .find(|t| i64::from(t.tv_sec) == sec && (i64::from(t.tv_usec) & USEC_MASK) == usec)
    {
        return &**t;
    }
    if b.common.len() >= 256 {
        warn("event_base_init_common_timeout: too many common timeouts (256)");
        return ptr::null();
    }
    let idx = b.common.len() as i64;
    b.common.push(Box::new(libc::timeval {
        tv_sec: sec as libc::time_t,
        tv_usec: (COMMON_MAGIC | idx << 20 | usec) as libc::suseconds_t,
    }));
    b.common.last().map_or(ptr::null(), |t| &**t)
}
