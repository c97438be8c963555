//! libevent's C API (eventop-ffi, called from Rust) driven by a random sequence of calls over
//! real socketpairs, a pipe and SIGUSR1, on two bases of one backend (epoll, epoll with the
//! changelist, poll or select), with misuse the library promises to survive: NULL events and
//! bases, events of another base and of a freed base, uninitialized memory, double adds and
//! deletes, deleting and freeing (an event, the other base) from inside callbacks, a reentrant
//! loop, bad priorities, bad timeouts, signal events with I/O, persistent once-events.
//!
//! Checked against a model of each event (assigned to which base, added, with which timeout,
//! activated with what) and of the fds (which have bytes to read):
//! - every call returns what libevent's contract says (0, -1, 1, NULL) for the model's state;
//! - a callback runs only inside a loop of its event's base, for an event added or activated
//!   there, with its fd, and with bits it can have: READ or WRITE only for that interest (or an
//!   activation with them), TIMEOUT only for a due (zero) timeout or an activation, never for a
//!   timeout of an hour; no event activated by hand waits at a higher priority meanwhile;
//! - after a `ONCE|NONBLOCK` loop that no break or exit ended, every event that was due when it
//!   began has run (activated, a zero timeout, READ on an fd with bytes, WRITE on a writable
//!   fd) unless a callback changed it first, and so has every due once-event;
//! - `event_pending` agrees with the model;
//! - no panic reaches the log (every entry point catches its own and logs "internal error"),
//!   and nothing leaks (AddressSanitizer's leak check after each input).

#![no_main]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_short, c_void, CStr};
use std::ptr;
use std::sync::Once;

use arbitrary::Arbitrary;
use eventop_ffi::base::{event_base, event_base_free, event_base_new_with_config};
use eventop_ffi::config::{
    event_config_avoid_method, event_config_free, event_config_new, event_config_set_flag,
};
use eventop_ffi::events::{
    event_active, event_add, event_assign, event_base_set, event_del, event_free, event_new,
    event_pending, event_priority_set,
};
use eventop_ffi::layout::{event, evlist};
use eventop_ffi::log::event_set_log_callback;
use eventop_ffi::once::event_base_once;
use eventop_ffi::query::{event_base_get_npriorities, event_base_priority_init};
use eventop_ffi::run::{
    event_base_got_exit, event_base_loop, event_base_loopbreak, event_base_loopcontinue,
    event_base_loopexit,
};
use libfuzzer_sys::fuzz_target;

const EV_TIMEOUT: c_short = 0x01;
const EV_READ: c_short = 0x02;
const EV_WRITE: c_short = 0x04;
const EV_SIGNAL: c_short = 0x08;
const EV_PERSIST: c_short = 0x10;
const EVLOOP_ONCE: c_int = 1;
const EVLOOP_NONBLOCK: c_int = 2;
const EPOLL_USE_CHANGELIST: c_int = 0x10;

/// Events 0..4 come from `event_new` (and go with `event_free`); 4..6 live in memory of ours
/// (`event_assign`), which starts as garbage.
const EVENTS: usize = 6;
const NEW: usize = 4;
const BASES: usize = 2;
/// socketpair (0, 1), socketpair (2, 3), pipe (4 read, 5 write).
const FDS: usize = 6;
const ONCE_ARG: usize = 1000;
/// Callbacks run by one loop before a callback breaks it (callbacks may activate each other).
const MAX_RUNS: u32 = 200;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Tmo {
    Null,
    Zero,
    /// `{-5, 0}`: a negative timeout is zero.
    Negative,
    /// `{0, -7}`.
    NegativeUsec,
    /// An hour.
    Hour,
    /// `{3600, 5_000_000}`: microseconds out of range, over an hour.
    HourBadUsec,
    Huge,
}

impl Tmo {
    fn tv(self) -> Option<libc::timeval> {
        let (s, u) = match self {
            Tmo::Null => return None,
            Tmo::Zero => (0, 0),
            Tmo::Negative => (-5, 0),
            Tmo::NegativeUsec => (0, -7),
            Tmo::Hour => (3600, 0),
            Tmo::HourBadUsec => (3600, 5_000_000),
            Tmo::Huge => (libc::time_t::MAX, 999_999),
        };
        Some(libc::timeval {
            tv_sec: s,
            tv_usec: u,
        })
    }
    /// What the model knows of it.
    fn kind(self) -> Timeout {
        match self {
            Tmo::Null => Timeout::None,
            Tmo::Zero | Tmo::Negative | Tmo::NegativeUsec => Timeout::Zero,
            _ => Timeout::Long,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timeout {
    None,
    Zero,
    Long,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    /// The timer: no fd, no interest.
    Timer {
        persist: bool,
    },
    Io {
        fd: u8,
        read: bool,
        write: bool,
        persist: bool,
    },
    Signal {
        persist: bool,
    },
    /// `EV_SIGNAL | EV_READ`: refused.
    SignalWithIo,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Act {
    /// `event_new` into an empty slot, `event_assign` into a full one; base `None`: NULL.
    Assign {
        e: u8,
        base: Option<u8>,
        kind: Kind,
    },
    Add {
        e: u8,
        tmo: Tmo,
    },
    Del {
        e: u8,
    },
    /// `event_free` (for memory of ours: `event_del`).
    Free {
        e: u8,
    },
    Active {
        e: u8,
        res: u8,
    },
    Pending {
        e: u8,
        what: u8,
        tv: bool,
    },
    PrioritySet {
        e: u8,
        pri: i8,
    },
    PriorityInit {
        base: u8,
        n: i16,
    },
    BaseSet {
        base: u8,
        e: u8,
    },
    Once {
        base: u8,
        fd: u8,
        events: u8,
        tmo: Tmo,
    },
    Write {
        fd: u8,
    },
    Drain {
        fd: u8,
    },
    Raise,
    LoopExit {
        base: u8,
        tmo: Tmo,
    },
    LoopBreak {
        base: u8,
    },
    LoopContinue {
        base: u8,
    },
    /// `event_base_loop(ONCE|NONBLOCK)`; inside a callback of the same base: reentrant, -1.
    Loop {
        base: u8,
    },
    /// Not the base whose loop runs.
    FreeBase {
        base: u8,
    },
    /// Calls with NULL.
    Null {
        which: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// 0 epoll, 1 epoll with the changelist, 2 poll, 3 select.
    backend: u8,
    /// The first bytes of our events' memory.
    garbage: [u8; 16],
    callbacks: [[Option<Act>; 2]; EVENTS],
    ops: Vec<Act>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Exit {
    #[default]
    None,
    Now,
    Long,
}

#[derive(Clone, Copy)]
struct BaseM {
    ptr: *mut event_base,
    npri: u8,
    exit: Exit,
    /// Left by a loop that a break or an exit ended: what it left queued is not modelled.
    fuzzy: bool,
}

#[derive(Clone, Copy)]
struct EvM {
    ptr: *mut event,
    /// Initialized by `event_new`/`event_assign`.
    assigned: bool,
    base: Option<usize>,
    fd: c_int,
    events: c_short,
    pri: u8,
    /// Pending: inserted for I/O or the signal, or waiting for its timeout.
    added: bool,
    timeout: Timeout,
    /// Bits given to `event_active` and not run yet.
    active: c_short,
    /// Given to `event_active` with no bits, and not run yet.
    poked: bool,
    /// Runs to come after the next, for a persistent signal event activated more than once
    /// (each activation counts, where libevent's later ones are lost).
    repeats: u32,
    /// A persistent signal event's activation bits, which its further runs (by hand or by
    /// deliveries while it waits) show too, until it is deleted.
    sticky: c_short,
    ran: bool,
    /// Changed by a callback of the current loop.
    touched: bool,
}

impl EvM {
    fn empty(ptr: *mut event) -> EvM {
        EvM {
            ptr,
            assigned: false,
            base: None,
            fd: -1,
            events: 0,
            pri: 0,
            added: false,
            timeout: Timeout::None,
            active: 0,
            poked: false,
            repeats: 0,
            sticky: 0,
            ran: false,
            touched: false,
        }
    }
    fn persist(&self) -> bool {
        self.events & EV_PERSIST != 0
    }
    fn io(&self) -> bool {
        self.events & (EV_READ | EV_WRITE | EV_SIGNAL) != 0
    }
}

struct OnceM {
    base: usize,
    due: bool,
    /// A timer with no timeout or `{0, 0}`: activated at once (not added).
    active: bool,
    done: bool,
}

struct Model {
    bases: [BaseM; BASES],
    ev: [EvM; EVENTS],
    onces: Vec<OnceM>,
    data: [bool; FDS],
    /// The base whose loop runs, and how many callbacks it ran.
    looping: Option<usize>,
    runs: u32,
    /// A callback broke the loop or asked it to exit now.
    interrupted: bool,
    callbacks: [[Option<Act>; 2]; EVENTS],
}

thread_local! {
    static M: RefCell<Option<Model>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut Model) -> R) -> R {
    M.with(|m| f(m.borrow_mut().as_mut().expect("no model")))
}

/// The fds, made once per process; `FD[5]` and the others are non-blocking.
static mut FD: [c_int; FDS] = [-1; FDS];
static INIT: Once = Once::new();

fn fd(i: usize) -> c_int {
    // SAFETY: written once, in `INIT`, before any read.
    unsafe { (*ptr::addr_of!(FD))[i] }
}

fn writable(i: usize) -> bool {
    i != 4
}

/// Where a byte written to fd `i` can be read.
fn peer(i: usize) -> usize {
    [1, 0, 3, 2, 4, 4][i]
}

unsafe extern "C" fn log_cb(_severity: c_int, msg: *const c_char) {
    // SAFETY: the library passes a C string.
    let msg = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
    assert!(!msg.contains("internal error"), "eventop: {msg}");
}

fn setup() {
    INIT.call_once(|| {
        let mut fds = [-1; FDS];
        // SAFETY: arrays of two ints, as the calls want.
        unsafe {
            assert_eq!(
                libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()),
                0
            );
            assert_eq!(
                libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds[2..].as_mut_ptr()),
                0
            );
            assert_eq!(libc::pipe2(fds[4..].as_mut_ptr(), libc::O_NONBLOCK), 0);
            for &f in &fds {
                libc::fcntl(f, libc::F_SETFL, libc::O_NONBLOCK);
            }
            *ptr::addr_of_mut!(FD) = fds;
            event_set_log_callback(Some(log_cb));
        }
    });
    for i in 0..FDS {
        drain(i);
    }
}

fn drain(i: usize) {
    let mut buf = [0u8; 256];
    // SAFETY: a buffer of that length.
    while unsafe { libc::read(fd(i), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

unsafe extern "C" fn cb(f: c_int, what: c_short, arg: *mut c_void) {
    let id = arg as usize;
    if trace() {
        eprintln!("callback {id} fd {f} what {what:#x}");
    }
    let acts = with(|m| m.ran(id, f, what));
    for a in acts.into_iter().flatten() {
        act(a, true);
    }
    with(|m| {
        m.runs += 1;
        if m.runs == MAX_RUNS {
            let b = m.looping.unwrap();
            // SAFETY: the running base is live.
            assert_eq!(unsafe { event_base_loopbreak(m.bases[b].ptr) }, 0);
            m.interrupted = true;
        }
    });
}

impl Model {
    /// A callback: checks it may run, updates the model, returns its actions.
    fn ran(&mut self, id: usize, f: c_int, what: c_short) -> [Option<Act>; 2] {
        let Some(l) = self.looping else {
            panic!("callback {id} outside a loop")
        };
        if id >= ONCE_ARG {
            let o = &mut self.onces[id - ONCE_ARG];
            assert_eq!(o.base, l, "once-event {id} run by another base");
            assert!(!o.done, "once-event {id} ran twice");
            o.done = true;
            return [None; 2];
        }
        let ev = self.ev[id];
        assert!(ev.assigned, "event {id} ran, not assigned");
        assert_eq!(ev.base, Some(l), "event {id} ran in another base's loop");
        assert!(
            ev.added || ev.active != 0 || ev.poked,
            "event {id} ran, neither added nor active"
        );
        assert_eq!(f, ev.fd, "event {id}: fd");
        let allowed = ev.active
            | ev.sticky
            | (ev.events & (EV_READ | EV_WRITE | EV_SIGNAL))
            | if ev.timeout == Timeout::Zero {
                EV_TIMEOUT
            } else {
                0
            };
        {
            assert_eq!(what & !allowed, 0, "event {id} ran with {what:#x}");
            assert_eq!(
                what & ev.active,
                ev.active,
                "event {id}: activated with {:#x}",
                ev.active
            );
            if what & EV_WRITE != 0 && (ev.active | ev.sticky) & EV_WRITE == 0 {
                let i = (0..FDS).find(|&i| fd(i) == ev.fd);
                assert!(i.is_some_and(writable), "event {id}: WRITE on fd {}", ev.fd);
            }
            for (g, other) in self.ev.iter().enumerate() {
                if other.active != 0 && other.base == Some(l) && other.assigned {
                    assert!(
                        other.pri >= ev.pri,
                        "event {id} (priority {}) ran before {g} ({}), activated",
                        ev.pri,
                        other.pri
                    );
                }
            }
        }
        let ev = &mut self.ev[id];
        ev.ran = true;
        if ev.repeats > 0 {
            ev.repeats -= 1;
            return self.callbacks[id];
        }
        ev.active = 0;
        ev.poked = false;
        if !ev.persist() {
            ev.added = false;
            ev.timeout = Timeout::None;
        }
        self.callbacks[id]
    }

    /// Whether the base holds anything (`event_base_loop` returns 1 otherwise).
    fn holds(&self, b: usize) -> bool {
        self.ev
            .iter()
            .any(|e| e.assigned && e.base == Some(b) && (e.added || e.active != 0 || e.poked))
            || self.onces.iter().any(|o| o.base == b && !o.done)
    }

    /// Whether event `e` must run in a loop that starts now.
    fn due(&self, e: usize, b: usize) -> bool {
        let ev = &self.ev[e];
        if !ev.assigned || ev.base != Some(b) {
            return false;
        }
        if ev.active != 0 || ev.poked {
            return true;
        }
        if !ev.added {
            return false;
        }
        if ev.timeout == Timeout::Zero {
            return true;
        }
        let Some(i) = (0..FDS).find(|&i| fd(i) == ev.fd) else {
            return false;
        };
        (ev.events & EV_READ != 0 && self.data[i]) || (ev.events & EV_WRITE != 0 && writable(i))
    }

    /// Base `b` of event `e`, if live.
    fn live_base(&self, e: usize) -> Option<usize> {
        let ev = &self.ev[e];
        ev.base
            .filter(|&b| ev.assigned && !self.bases[b].ptr.is_null())
    }
}

fn tv_ptr(tv: &Option<libc::timeval>) -> *const libc::timeval {
    tv.as_ref().map_or(ptr::null(), |t| t as *const _)
}

/// `FUZZ_TRACE` is set: print each call and callback.
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

fn act(a: Act, in_cb: bool) {
    if trace() {
        eprintln!("{}{a:?}", if in_cb { "  " } else { "" });
    }
    match a {
        Act::Assign { e, base, kind } => assign(usize::from(e) % EVENTS, base, kind, in_cb),
        Act::Add { e, tmo } => {
            let e = usize::from(e) % EVENTS;
            let (p, live, held, pri_ok) = with(|m| {
                let live = m.live_base(e);
                let ev = &m.ev[e];
                let pri_ok = live.is_some_and(|b| ev.pri < m.bases[b].npri);
                (ev.ptr, live, ev.added || ev.active != 0 || ev.poked, pri_ok)
            });
            let tv = tmo.tv();
            // SAFETY: our event memory (or NULL), a timeval or NULL.
            let r = unsafe { event_add(p, tv_ptr(&tv)) };
            let ok = live.is_some() && (held || pri_ok);
            assert_eq!(r, if ok { 0 } else { -1 }, "event_add {e}");
            if ok {
                with(|m| {
                    let ev = &mut m.ev[e];
                    ev.touched |= in_cb;
                    if ev.io() {
                        ev.added = true;
                    }
                    if tmo.kind() != Timeout::None {
                        ev.added = true;
                        ev.timeout = tmo.kind();
                        // A new timeout cancels a firing of the old one that has not run.
                        ev.active &= !EV_TIMEOUT;
                    }
                });
            }
        }
        Act::Del { e } => del(usize::from(e) % EVENTS, in_cb),
        Act::Free { e } => {
            let e = usize::from(e) % EVENTS;
            if e >= NEW {
                return del(e, in_cb);
            }
            let p = with(|m| m.ev[e].ptr);
            if p.is_null() {
                return;
            }
            // SAFETY: from event_new, not freed yet.
            unsafe { event_free(p) };
            with(|m| {
                m.ev[e] = EvM::empty(ptr::null_mut());
                m.ev[e].touched = in_cb;
            });
        }
        Act::Active { e, res } => {
            let e = usize::from(e) % EVENTS;
            let res = c_short::from(res) & (EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL);
            let (p, live, ok) = with(|m| {
                let live = m.live_base(e);
                let ev = &m.ev[e];
                let held = ev.added || ev.active != 0 || ev.poked;
                let ok = live.is_some_and(|b| held || ev.pri < m.bases[b].npri);
                (ev.ptr, live, ok)
            });
            // SAFETY: our event memory or NULL.
            unsafe { event_active(p, c_int::from(res), 1) };
            if ok && live.is_some() {
                with(|m| {
                    let ev = &mut m.ev[e];
                    if !ev.ptr.is_null() {
                        let signal = ev.events & (EV_SIGNAL | EV_PERSIST) == EV_SIGNAL | EV_PERSIST;
                        if signal {
                            if ev.active != 0 || ev.poked {
                                ev.repeats += 1;
                            }
                            ev.sticky |= res;
                        }
                        ev.active |= res;
                        if ev.active == 0 {
                            // Activated with no bits: queued all the same, which `event_pending`
                            // and `event_priority_set` do not see.
                            ev.poked = true;
                            m.bases[live.unwrap()].fuzzy = true;
                        }
                    }
                });
            }
        }
        Act::Pending { e, what, tv } => {
            let e = usize::from(e) % EVENTS;
            let what = c_short::from(what) & 0xff;
            let (p, want, fuzzy, timer) = with(|m| {
                let ev = &m.ev[e];
                let Some(b) = m.live_base(e) else {
                    return (ev.ptr, 0, false, Timeout::None);
                };
                let timer = if ev.added { ev.timeout } else { Timeout::None };
                let mut want = ev.active;
                if ev.added {
                    want |= ev.events & (EV_READ | EV_WRITE | EV_SIGNAL);
                    if ev.timeout != Timeout::None {
                        want |= EV_TIMEOUT;
                    }
                }
                (
                    ev.ptr,
                    want,
                    m.bases[b].fuzzy || m.looping == Some(b),
                    timer,
                )
            });
            let mut t = libc::timeval {
                tv_sec: -1,
                tv_usec: -1,
            };
            let tp = if tv {
                &mut t as *mut _
            } else {
                ptr::null_mut()
            };
            // SAFETY: our event memory or NULL; a timeval or NULL.
            let r = unsafe { event_pending(p, what, tp) };
            let mask = what & (EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL | 0x80);
            if !fuzzy {
                assert_eq!(c_int::from(want & mask), r, "event_pending {e} {what:#x}");
            }
            if tv && what & EV_TIMEOUT != 0 && timer != Timeout::None && !fuzzy {
                // The deadline, on the wall clock: an hour's is at least 50 minutes away.
                assert!((0..1_000_000).contains(&t.tv_usec), "event_pending {e}: tv");
                if timer == Timeout::Long {
                    // SAFETY: NULL asks for the time only.
                    let now = unsafe { libc::time(ptr::null_mut()) };
                    assert!(
                        t.tv_sec > now + 3000,
                        "event_pending {e}: deadline {}",
                        t.tv_sec
                    );
                }
            }
        }
        Act::PrioritySet { e, pri } => {
            let e = usize::from(e) % EVENTS;
            let (p, live, active, fuzzy) = with(|m| {
                let live = m.live_base(e);
                let ev = &m.ev[e];
                let fuzzy = live.is_some_and(|b| m.bases[b].fuzzy || m.looping == Some(b));
                (ev.ptr, live, ev.active != 0, fuzzy)
            });
            // SAFETY: our event memory or NULL.
            let r = unsafe { event_priority_set(p, c_int::from(pri)) };
            let ok = live
                .is_some_and(|b| !active && pri >= 0 && (pri as u8) < with(|m| m.bases[b].npri));
            if fuzzy {
                assert!(r == 0 || r == -1);
                if r == 0 {
                    with(|m| {
                        m.ev[e].pri = pri as u8;
                        m.ev[e].touched |= in_cb;
                    });
                }
                return;
            }
            assert_eq!(r, if ok { 0 } else { -1 }, "event_priority_set {e} {pri}");
            if ok {
                with(|m| {
                    m.ev[e].pri = pri as u8;
                    m.ev[e].touched |= in_cb;
                });
            }
        }
        Act::PriorityInit { base, n } => {
            let b = usize::from(base) % BASES;
            let (p, active, fuzzy) = with(|m| {
                let active =
                    m.ev.iter()
                        .any(|e| e.assigned && e.base == Some(b) && e.active != 0)
                        || m.onces.iter().any(|o| o.base == b && o.active && !o.done);
                (
                    m.bases[b].ptr,
                    active,
                    m.bases[b].fuzzy || m.looping == Some(b),
                )
            });
            // SAFETY: a live base or NULL.
            let r = unsafe { event_base_priority_init(p, c_int::from(n)) };
            if p.is_null() {
                assert_eq!(r, -1);
                return;
            }
            let ok = (1..256).contains(&n) && !active;
            if fuzzy {
                assert!(r == 0 || r == -1);
            } else {
                assert_eq!(r, if ok { 0 } else { -1 }, "event_base_priority_init {n}");
            }
            // SAFETY: live.
            let npri = unsafe { event_base_get_npriorities(p) };
            if r == 0 {
                assert_eq!(npri, c_int::from(n));
            }
            with(|m| m.bases[b].npri = npri as u8);
        }
        Act::BaseSet { base, e } => {
            let (b, e) = (usize::from(base) % BASES, usize::from(e) % EVENTS);
            let (bp, p, state, fuzzy) = with(|m| {
                let ev = &m.ev[e];
                let orphan = ev.assigned && ev.base.is_some_and(|o| m.bases[o].ptr.is_null());
                let fuzzy = ev
                    .base
                    .is_some_and(|o| m.bases[o].fuzzy || m.looping == Some(o));
                (
                    m.bases[b].ptr,
                    ev.ptr,
                    (ev.assigned, orphan, ev.added || ev.active != 0 || ev.poked),
                    fuzzy,
                )
            });
            let (assigned, orphan, held) = state;
            if orphan || fuzzy || p.is_null() {
                return;
            }
            // SAFETY: a live base or NULL; our event memory.
            let r = unsafe { event_base_set(bp, p) };
            let ok = !bp.is_null() && assigned && !held;
            assert_eq!(r, if ok { 0 } else { -1 }, "event_base_set {e}");
            if ok {
                with(|m| {
                    let npri = m.bases[b].npri;
                    let ev = &mut m.ev[e];
                    ev.base = Some(b);
                    ev.pri = npri / 2;
                    ev.touched |= in_cb;
                });
            }
        }
        Act::Once {
            base,
            fd: i,
            events,
            tmo,
        } => {
            let b = usize::from(base) % BASES;
            let i = usize::from(i) % (FDS + 1);
            let f = if i == FDS { -1 } else { fd(i) };
            let events =
                c_short::from(events) & (EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL | EV_PERSIST);
            let (bp, id, data) = with(|m| {
                (
                    m.bases[b].ptr,
                    ONCE_ARG + m.onces.len(),
                    i < FDS && m.data[i],
                )
            });
            let tv = tmo.tv();
            // SAFETY: a live base or NULL; a timeval or NULL.
            let r =
                unsafe { event_base_once(bp, f, events, Some(cb), id as *mut c_void, tv_ptr(&tv)) };
            let io = events & (EV_READ | EV_WRITE) != 0;
            let ok = !bp.is_null()
                && events & (EV_SIGNAL | EV_PERSIST) == 0
                && (io || events & EV_TIMEOUT != 0);
            assert_eq!(r, if ok { 0 } else { -1 }, "event_base_once {events:#x}");
            if ok {
                let zero = if io {
                    tmo.kind() == Timeout::Zero
                } else {
                    tmo.kind() != Timeout::Long
                };
                let ready = io
                    && i < FDS
                    && ((events & EV_READ != 0 && data) || (events & EV_WRITE != 0 && writable(i)));
                with(|m| {
                    m.onces.push(OnceM {
                        base: b,
                        due: zero || ready,
                        active: !io && matches!(tmo, Tmo::Null | Tmo::Zero),
                        done: false,
                    })
                });
            }
        }
        Act::Write { fd: i } => {
            let i = usize::from(i) % FDS;
            if writable(i) {
                // SAFETY: one byte.
                let n = unsafe { libc::write(fd(i), b"x".as_ptr().cast(), 1) };
                if n == 1 {
                    with(|m| m.data[peer(i)] = true);
                }
            }
        }
        Act::Drain { fd: i } => {
            let i = usize::from(i) % FDS;
            drain(i);
            with(|m| m.data[i] = false);
        }
        Act::Raise => {
            // Only while some live base catches it (else the default action ends the process).
            let caught = with(|m| {
                (0..EVENTS).any(|e| {
                    let ev = &m.ev[e];
                    m.live_base(e).is_some() && ev.added && ev.events & EV_SIGNAL != 0
                })
            });
            if caught {
                // SAFETY: a signal some base handles.
                unsafe { libc::raise(libc::SIGUSR1) };
            }
        }
        Act::LoopExit { base, tmo } => {
            let b = usize::from(base) % BASES;
            let p = with(|m| m.bases[b].ptr);
            let tv = tmo.tv();
            // SAFETY: a live base or NULL; a timeval or NULL.
            let r = unsafe { event_base_loopexit(p, tv_ptr(&tv)) };
            assert_eq!(r, if p.is_null() { -1 } else { 0 }, "event_base_loopexit");
            if !p.is_null() {
                with(|m| {
                    let now = tmo.kind() != Timeout::Long;
                    let bm = &mut m.bases[b];
                    if now {
                        bm.exit = Exit::Now;
                        if m.looping == Some(b) {
                            m.interrupted = true;
                        }
                    } else if bm.exit == Exit::None {
                        bm.exit = Exit::Long;
                    }
                });
            }
        }
        Act::LoopBreak { base } => {
            let b = usize::from(base) % BASES;
            let p = with(|m| m.bases[b].ptr);
            // SAFETY: a live base or NULL.
            let r = unsafe { event_base_loopbreak(p) };
            assert_eq!(r, if p.is_null() { -1 } else { 0 }, "event_base_loopbreak");
            with(|m| {
                if m.looping == Some(b) {
                    m.interrupted = true;
                }
            });
        }
        Act::LoopContinue { base } => {
            let b = usize::from(base) % BASES;
            let p = with(|m| m.bases[b].ptr);
            // SAFETY: a live base or NULL.
            let r = unsafe { event_base_loopcontinue(p) };
            assert_eq!(
                r,
                if p.is_null() { -1 } else { 0 },
                "event_base_loopcontinue"
            );
        }
        Act::Loop { base } => {
            let b = usize::from(base) % BASES;
            if in_cb {
                let (p, same) = with(|m| (m.bases[b].ptr, m.looping == Some(b)));
                if same {
                    // SAFETY: live: its loop runs.
                    let r = unsafe { event_base_loop(p, EVLOOP_ONCE | EVLOOP_NONBLOCK) };
                    assert_eq!(r, -1, "reentrant event_base_loop");
                }
                return;
            }
            run(b);
        }
        Act::FreeBase { base } => {
            let b = usize::from(base) % BASES;
            let p = with(|m| {
                if m.looping == Some(b) {
                    ptr::null_mut()
                } else {
                    m.bases[b].ptr
                }
            });
            if p.is_null() {
                return;
            }
            // SAFETY: live, not looping.
            unsafe { event_base_free(p) };
            with(|m| {
                m.bases[b].ptr = ptr::null_mut();
                for o in m.onces.iter_mut().filter(|o| o.base == b) {
                    o.done = true;
                }
                for ev in m.ev.iter_mut().filter(|ev| ev.base == Some(b)) {
                    ev.added = false;
                    ev.active = 0;
                    ev.poked = false;
                    ev.repeats = 0;
                    ev.sticky = 0;
                    ev.timeout = Timeout::None;
                }
            });
        }
        Act::Null { which } => {
            let n = ptr::null_mut();
            // SAFETY: NULL everywhere the library promises to refuse it.
            unsafe {
                match which % 10 {
                    0 => assert_eq!(event_add(n, ptr::null()), -1),
                    1 => assert_eq!(event_del(n), -1),
                    2 => event_active(n, c_int::from(EV_READ), 1),
                    3 => assert_eq!(event_pending(n, 0xff, ptr::null_mut()), 0),
                    4 => assert_eq!(event_priority_set(n, 0), -1),
                    5 => event_free(n),
                    6 => assert_eq!(event_base_loop(ptr::null_mut(), EVLOOP_NONBLOCK), -1),
                    7 => assert_eq!(event_base_priority_init(ptr::null_mut(), 1), -1),
                    8 => assert_eq!(
                        event_assign(n, ptr::null_mut(), -1, 0, Some(cb), ptr::null_mut()),
                        -1
                    ),
                    _ => assert_eq!(event_base_loopexit(ptr::null_mut(), ptr::null()), -1),
                }
            }
        }
    }
}

fn del(e: usize, in_cb: bool) {
    let (p, assigned, has_base) = with(|m| {
        let ev = &m.ev[e];
        (ev.ptr, ev.assigned, ev.base.is_some())
    });
    if p.is_null() {
        return;
    }
    // SAFETY: our event memory.
    let r = unsafe { event_del(p) };
    assert_eq!(
        r,
        if assigned && has_base { 0 } else { -1 },
        "event_del {e}"
    );
    with(|m| {
        let ev = &mut m.ev[e];
        ev.added = false;
        ev.active = 0;
        ev.poked = false;
        ev.repeats = 0;
        ev.sticky = 0;
        ev.timeout = Timeout::None;
        ev.touched |= in_cb;
    });
}

fn assign(e: usize, base: Option<u8>, kind: Kind, in_cb: bool) {
    let b = base.map(|b| usize::from(b) % BASES);
    let (f, events) = match kind {
        Kind::Timer { persist } => (-1, if persist { EV_PERSIST } else { 0 }),
        Kind::Io {
            fd: i,
            read,
            write,
            persist,
        } => {
            let i = usize::from(i) % (FDS + 1);
            let mut ev = 0;
            if read {
                ev |= EV_READ;
            }
            if write {
                ev |= EV_WRITE;
            }
            if persist {
                ev |= EV_PERSIST;
            }
            (if i == FDS { -1 } else { fd(i) }, ev)
        }
        Kind::Signal { persist } => (
            libc::SIGUSR1,
            EV_SIGNAL | if persist { EV_PERSIST } else { 0 },
        ),
        Kind::SignalWithIo => (libc::SIGUSR1, EV_SIGNAL | EV_READ),
    };
    let (p, bp, npri, orphan_base) = with(|m| {
        let bp = b.map_or(ptr::null_mut(), |b| m.bases[b].ptr);
        let npri = b.map_or(0, |b| m.bases[b].npri);
        (m.ev[e].ptr, bp, npri, b.is_some() && bp.is_null())
    });
    if orphan_base {
        // A freed base is not passed again.
        return;
    }
    let ok = events & EV_SIGNAL == 0 || events & EV_READ == 0;
    let b = if bp.is_null() { None } else { b };
    let arg = e as *mut c_void;
    let p = if e < NEW && p.is_null() {
        // SAFETY: a live base or NULL.
        let p = unsafe { event_new(bp, f, events, Some(cb), arg) };
        assert_eq!(p.is_null(), !ok, "event_new");
        if p.is_null() {
            return;
        }
        p
    } else {
        // SAFETY: our event memory (or from event_new), which may be pending: eventop deletes it
        // first.
        let r = unsafe { event_assign(p, bp, f, events, Some(cb), arg) };
        assert_eq!(r, if ok { 0 } else { -1 }, "event_assign");
        if r != 0 {
            return;
        }
        p
    };
    with(|m| {
        m.ev[e] = EvM {
            ptr: p,
            assigned: true,
            base: b,
            fd: f,
            events,
            pri: npri / 2,
            added: false,
            timeout: Timeout::None,
            active: 0,
            poked: false,
            repeats: 0,
            sticky: 0,
            ran: false,
            touched: in_cb,
        };
    });
}

fn run(b: usize) {
    let (p, due, onces, exit_now) = with(|m| {
        let due: Vec<usize> = (0..EVENTS).filter(|&e| m.due(e, b)).collect();
        // Once-events made by this loop's callbacks are due in the next one.
        let onces = m.onces.len();
        for ev in m.ev.iter_mut() {
            ev.ran = false;
            ev.touched = false;
        }
        m.looping = Some(b);
        m.runs = 0;
        m.interrupted = false;
        (m.bases[b].ptr, due, onces, m.bases[b].exit == Exit::Now)
    });
    if p.is_null() {
        with(|m| m.looping = None);
        // SAFETY: NULL.
        assert_eq!(
            unsafe { event_base_loop(p, EVLOOP_ONCE | EVLOOP_NONBLOCK) },
            -1
        );
        return;
    }
    let holds = with(|m| m.holds(b) || m.bases[b].exit != Exit::None);
    // SAFETY: live.
    let r = unsafe { event_base_loop(p, EVLOOP_ONCE | EVLOOP_NONBLOCK) };
    with(|m| {
        m.looping = None;
        let bm = &mut m.bases[b];
        if exit_now {
            assert_eq!(r, 0, "a loop with an exit due");
            for e in 0..EVENTS {
                assert!(!m.ev[e].ran, "{e} ran in a loop with an exit due");
            }
            bm.exit = Exit::None;
            return;
        }
        assert_eq!(r, if holds { 0 } else { 1 }, "event_base_loop");
        if m.interrupted {
            bm.fuzzy = true;
            // SAFETY: live.
            if bm.exit == Exit::Now && unsafe { event_base_got_exit(p) } == 1 {
                bm.exit = Exit::None;
            }
            return;
        }
        bm.fuzzy = false;
        for e in due {
            let ev = &m.ev[e];
            assert!(ev.ran || ev.touched, "event {e} was due and did not run");
        }
        for (k, o) in m.onces.iter().enumerate().take(onces) {
            if o.base == b && o.due {
                assert!(o.done, "once-event {k} was due and did not run");
            }
        }
        // Nothing is left active by a loop that ended by itself.
        for (e, ev) in m.ev.iter().enumerate() {
            if ev.base == Some(b) && ev.assigned {
                assert!(
                    ev.active == 0 && !ev.poked,
                    "event {e} still active after the loop"
                );
            }
        }
    });
}

fuzz_target!(|input: Input| {
    setup();
    let mut bases = [BaseM {
        ptr: ptr::null_mut(),
        npri: 1,
        exit: Exit::None,
        fuzzy: false,
    }; BASES];
    for bm in bases.iter_mut() {
        // SAFETY: a fresh config, freed after use; C strings.
        unsafe {
            let cfg = event_config_new();
            match input.backend % 4 {
                1 => assert_eq!(event_config_set_flag(cfg, EPOLL_USE_CHANGELIST), 0),
                2 => {
                    event_config_avoid_method(cfg, c"epoll".as_ptr());
                }
                3 => {
                    event_config_avoid_method(cfg, c"epoll".as_ptr());
                    event_config_avoid_method(cfg, c"poll".as_ptr());
                }
                _ => {}
            }
            bm.ptr = event_base_new_with_config(cfg);
            event_config_free(cfg);
            assert!(!bm.ptr.is_null());
            bm.npri = event_base_get_npriorities(bm.ptr) as u8;
        }
    }
    // Our events' memory: garbage whose flags say "not initialized", as fresh memory would.
    let size = std::mem::size_of::<event>();
    let mut mem: Vec<Box<event>> = Vec::new();
    let mut ev = [EvM::empty(ptr::null_mut()); EVENTS];
    for slot in ev.iter_mut().skip(NEW) {
        let mut bytes = vec![0u8; size];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = input.garbage[i % input.garbage.len()];
        }
        // SAFETY: any bytes are a valid `event` (integers and raw pointers, an `Option` of a
        // function pointer, which the next line clears).
        let mut boxed: Box<event> = unsafe { Box::new(ptr::read(bytes.as_ptr().cast())) };
        boxed.ev_evcallback.evcb_cb_union = None;
        boxed.ev_evcallback.evcb_flags &= !evlist::INIT;
        slot.ptr = &mut *boxed;
        mem.push(boxed);
    }
    M.with(|m| {
        *m.borrow_mut() = Some(Model {
            bases,
            ev,
            onces: Vec::new(),
            data: [false; FDS],
            looping: None,
            runs: 0,
            interrupted: false,
            callbacks: input.callbacks,
        })
    });
    for a in input.ops.iter().take(128) {
        act(*a, false);
    }
    // Everything goes: events first, then bases (nothing may leak), then our memory.
    for e in 0..NEW {
        act(Act::Free { e: e as u8 }, false);
    }
    for b in 0..BASES {
        act(Act::FreeBase { base: b as u8 }, false);
    }
    M.with(|m| *m.borrow_mut() = None);
    drop(mem);
});
