//! The event base driven by a random sequence of operations over a scripted backend and a manual
//! clock (pure logic: no kernel). Callbacks add, delete, free, activate events (their own
//! included), continue and break the loop; old, foreign-token and garbage handles are used too.
//!
//! Checked against a model that knows, for every event whose timing it can predict exactly (all
//! but persistent events with a timeout, which it only knows to be held), whether it is held,
//! inserted, timed (and when), and where it stands in its priority's active queue:
//! - deleting reports `StaleHandle` exactly when nothing is held; a stale, foreign-token or
//!   garbage handle deletes nothing and is pending for nothing; `pending` and `is_held` agree;
//! - a callback runs only for an event that was activated (by hand, by a readiness report of its
//!   fd, by its timeout), with exactly the bits it was activated with, the highest priority
//!   first and first in, first out within one (the reports of one dispatch in any order, then
//!   the timers it expired in deadline order, ties in the order they were set);
//! - one-shot timers never fire early; a run ending by `ONCE` or `NONBLOCK` leaves nothing
//!   active; a run that says it had nothing to do had nothing held;
//! - nothing is lost: once the clock passes every deadline, each has fired; in the end, deleting
//!   every event leaves the counts at zero. No table is ever full (each event holds one slot).

#![no_main]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use arbitrary::Arbitrary;
use eventop_core::base::{EventBase, Fixed, Handle, Outcome, Parts, Spec, Step};
use eventop_core::clock::Clock;
use eventop_core::{
    Backend, BaseFlags, Change, Error, FdInfo, Features, Info, LoopFlags, Sink, What,
};
use libfuzzer_sys::fuzz_target;

/// Events 0..4 watch fds 0..4; 4..7 are one-shot timers; 7 is a persistent timer.
const EVENTS: usize = 8;
const FDS: usize = 4;
const MS: u64 = 1_000_000;
const PRIORITIES: u8 = 3;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Act {
    Add {
        e: u8,
        ms: Option<u8>,
    },
    Del {
        e: u8,
    },
    /// Delete and forget the handle, as an adapter's free does.
    Free {
        e: u8,
    },
    Activate {
        e: u8,
    },
    Continue,
    Break,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Act(Act),
    /// Reuse the event's handle from before its last delete, free or run.
    Stale {
        e: u8,
    },
    /// Use event `e`'s handles with event `f`'s token.
    Foreign {
        e: u8,
        f: u8,
    },
    /// A handle made of any bits.
    Garbage {
        bits: u64,
        e: u8,
    },
    /// Compare `is_held` and `pending` with the model for every event.
    Check,
    Ready {
        fd: u8,
        bits: u8,
    },
    Advance {
        ms: u8,
    },
    Loop {
        once: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    changelist: bool,
    /// Each event's priority (modulo [`PRIORITIES`]).
    priority: [u8; EVENTS],
    /// What each event's callback does, by token.
    callbacks: [[Option<Act>; 2]; EVENTS],
    ops: Vec<Op>,
}

/// One dispatch: the reports it made, and the clock after it.
struct Dispatch {
    reports: Vec<(i32, What)>,
    now: u64,
}

/// A scripted kernel: interest per fd, readiness queued by the input. A wait with nothing ready
/// moves the clock by the timeout. Each dispatch is logged for the model.
struct Script {
    changelist: bool,
    interest: [What; FDS],
    ready: Rc<RefCell<Vec<(i32, What)>>>,
    log: Rc<RefCell<Vec<Dispatch>>>,
    now: Rc<Cell<u64>>,
}

impl Backend for Script {
    fn info(&self) -> Info {
        Info {
            name: "script",
            features: Features::empty(),
            need_reinit: false,
            fdinfo_len: 0,
            changelist: self.changelist,
        }
    }
    fn add(&mut self, fd: i32, old: What, added: What, _: &mut FdInfo) -> Result<(), Error> {
        let i = fd as usize;
        assert_eq!(self.interest[i], old & What::IO, "add: old of fd {fd}");
        assert!(
            (added & What::IO & old).is_empty(),
            "add of a bit already there"
        );
        self.interest[i] = (old | added) & What::IO;
        Ok(())
    }
    fn del(&mut self, fd: i32, old: What, removed: What, _: &mut FdInfo) -> Result<(), Error> {
        let i = fd as usize;
        assert_eq!(self.interest[i], old & What::IO, "del: old of fd {fd}");
        assert_eq!(
            removed & What::IO & old,
            removed & What::IO,
            "del of a bit not there"
        );
        self.interest[i] = (old - removed) & What::IO;
        Ok(())
    }
    fn check(&self, fd: i32) -> Result<(), Error> {
        if (0..FDS as i32).contains(&fd) {
            Ok(())
        } else {
            Err(Error::BadFd(fd))
        }
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        assert!(self.changelist);
        for c in changes {
            let i = c.fd as usize;
            assert_eq!(
                self.interest[i],
                c.old & What::IO,
                "apply: old of fd {}",
                c.fd
            );
            self.interest[i] = c.new_interest();
        }
        Ok(())
    }
    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error> {
        let mut reports = Vec::new();
        for (fd, what) in self.ready.borrow_mut().drain(..) {
            let what = what & self.interest[fd as usize];
            if !what.is_empty() {
                sink.ready(fd, what);
                reports.push((fd, what));
            }
        }
        if reports.is_empty() {
            let wait = timeout.unwrap_or(Duration::from_secs(3600));
            self.now
                .set(self.now.get().saturating_add(wait.as_nanos() as u64));
        }
        let n = reports.len();
        self.log.borrow_mut().push(Dispatch {
            reports,
            now: self.now.get(),
        });
        Ok(n)
    }
}

struct Manual(Rc<Cell<u64>>);

impl Clock for Manual {
    fn now(&mut self) -> u64 {
        self.0.get()
    }
}

type Base = EventBase<Script, Manual, Fixed<16>>;

fn events(e: usize) -> (i32, What) {
    match e {
        0 => (0, What::READ),
        1 => (1, What::READ | What::PERSIST),
        2 => (2, What::WRITE | What::PERSIST),
        3 => (3, What::READ | What::WRITE),
        7 => (-1, What::PERSIST),
        _ => (-1, What::empty()),
    }
}

fn persistent(e: usize) -> bool {
    events(e).1.contains(What::PERSIST)
}

/// What the base must hold, per event.
#[derive(Default, Clone, Copy)]
struct Ev {
    handle: Option<Handle>,
    /// The handle before the latest delete, free or run, for stale use.
    old: Option<Handle>,
    /// A persistent event with a timeout: held until deleted, its timing not modelled.
    fuzzy: bool,
    /// Inserted for I/O.
    live: bool,
    /// Active: its place in the queue (equal places in any order) and its result.
    active: Option<(u64, What)>,
    /// Its pending deadline.
    deadline: Option<u64>,
    /// The order of setting that deadline: ties fire in this order.
    set_at: u64,
}

impl Ev {
    fn held(&self) -> bool {
        self.fuzzy || self.live || self.active.is_some() || self.deadline.is_some()
    }
}

struct World {
    b: Base,
    now: Rc<Cell<u64>>,
    ready: Rc<RefCell<Vec<(i32, What)>>>,
    log: Rc<RefCell<Vec<Dispatch>>>,
    ev: [Ev; EVENTS],
    priority: [u8; EVENTS],
    /// Places in the active queues, counting up.
    place: u64,
    /// Settings of deadlines, counting up.
    setting: u64,
    /// A loopexit was asked for and not yet seen to end a run.
    exit_asked: bool,
    /// A callback broke the current run.
    broke: bool,
    /// `FUZZ_TRACE` is set: print each dispatch and step.
    trace: bool,
}

impl World {
    fn spec(&self, e: usize) -> Spec {
        let (fd, events) = events(e);
        Spec {
            fd,
            events,
            priority: self.priority[e],
            token: e,
        }
    }

    fn forget(&mut self, e: usize) {
        let ev = &mut self.ev[e];
        *ev = Ev {
            old: ev.handle.or(ev.old),
            handle: ev.handle,
            ..Ev::default()
        };
    }

    fn act(&mut self, a: Act) {
        match a {
            Act::Add { e, ms } => {
                let e = usize::from(e) % EVENTS;
                let t = ms.map(|ms| Duration::from_millis(u64::from(ms)));
                let spec = self.spec(e);
                let h = match self.b.add(self.ev[e].handle, &spec, t) {
                    Ok(h) => h,
                    Err(err) => panic!("add {e}: {err:?}"),
                };
                let ev = &mut self.ev[e];
                if ev.handle.is_some_and(|old| old != h) {
                    assert!(!ev.held(), "add {e}: a new handle for a held event");
                    ev.old = ev.handle;
                }
                ev.handle = Some(h);
                if e < FDS {
                    ev.live = true;
                }
                if let Some(t) = t {
                    if persistent(e) {
                        ev.fuzzy = true;
                    } else {
                        // A timeout that fired and has not run yet is cancelled.
                        if let Some((_, r)) = &mut ev.active {
                            r.remove(What::TIMEOUT);
                            if r.is_empty() {
                                ev.active = None;
                            }
                        }
                        ev.deadline = Some(self.now.get() + t.as_nanos() as u64);
                        self.setting += 1;
                        ev.set_at = self.setting;
                    }
                }
                let held = self.b.is_held(h, e);
                assert_eq!(held, self.ev[e].held(), "add {e}: held");
            }
            Act::Del { e } => self.del(usize::from(e) % EVENTS, false),
            Act::Free { e } => self.del(usize::from(e) % EVENTS, true),
            Act::Activate { e } => {
                let e = usize::from(e) % EVENTS;
                let spec = self.spec(e);
                match self.b.activate(self.ev[e].handle, &spec, What::WRITE, 0) {
                    Ok(h) => {
                        let ev = &mut self.ev[e];
                        if ev.handle.is_some_and(|old| old != h) {
                            assert!(!ev.held(), "activate {e}: a new handle for a held event");
                            ev.old = ev.handle;
                        }
                        ev.handle = Some(h);
                        self.activated(e, What::WRITE, None);
                    }
                    Err(err) => panic!("activate {e}: {err:?}"),
                }
            }
            Act::Continue => self.b.loopcontinue(),
            Act::Break => {
                self.b.loopbreak();
                self.broke = true;
            }
        }
    }

    fn del(&mut self, e: usize, free: bool) {
        if let Some(h) = self.ev[e].handle {
            let r = self.b.del(h, e);
            if self.ev[e].held() {
                assert_eq!(r, Ok(()), "del {e}");
            } else {
                assert_eq!(r, Err(Error::StaleHandle), "del {e} of nothing held");
            }
            assert!(!self.b.is_held(h, e), "held after del {e}");
        }
        self.forget(e);
        if free {
            self.ev[e].handle = None;
        }
    }

    /// Event `e` activated with `res`: queued at a new place (or `place`), or its bits ORed in.
    fn activated(&mut self, e: usize, res: What, place: Option<u64>) {
        let ev = &mut self.ev[e];
        if ev.fuzzy {
            return;
        }
        match &mut ev.active {
            Some((_, r)) => *r |= res,
            None => {
                let p = place.unwrap_or_else(|| {
                    self.place += 1;
                    self.place
                });
                ev.active = Some((p, res));
            }
        }
    }

    /// What the dispatches since the last step activated: first the reports of each, all in one
    /// place, then its expired timers, each in a place of its own.
    fn dispatched(&mut self) {
        let log: Vec<Dispatch> = self.log.borrow_mut().drain(..).collect();
        for d in log {
            self.place += 1;
            let place = self.place;
            for (fd, what) in d.reports {
                let e = fd as usize;
                if self.ev[e].live {
                    let bits = what & events(e).1 & What::IO;
                    if !bits.is_empty() {
                        self.activated(e, bits, Some(place));
                    }
                }
            }
            let mut due: Vec<(u64, u64, usize)> = (0..EVENTS)
                .filter_map(|e| {
                    let ev = &self.ev[e];
                    match ev.deadline {
                        Some(t) if !ev.fuzzy && t <= d.now => Some((t, ev.set_at, e)),
                        _ => None,
                    }
                })
                .collect();
            due.sort();
            for (_, _, e) in due {
                self.ev[e].deadline = None;
                self.activated(e, What::TIMEOUT, None);
            }
        }
    }

    /// One callback: checks it may run now, updates the model, runs its actions.
    fn ran(&mut self, e: usize, res: What, h: Handle, cb: &[Option<Act>; 2]) {
        let ev = self.ev[e];
        assert!(ev.held(), "event {e} ran, held by nothing");
        assert_eq!(Some(h), ev.handle, "event {e} ran with another handle");
        if !ev.fuzzy {
            let Some((place, bits)) = ev.active else {
                panic!("event {e} ran with {res:?}, not activated");
            };
            assert_eq!(res, bits, "event {e}: result");
            let pri = self.priority[e];
            for f in 0..EVENTS {
                if let (Some((p, _)), false) = (self.ev[f].active, self.ev[f].fuzzy) {
                    let fp = self.priority[f];
                    assert!(
                        fp > pri || (fp == pri && p >= place),
                        "event {e} (priority {pri}, place {place}) ran before {f} ({fp}, {p})"
                    );
                }
            }
        }
        let ev = &mut self.ev[e];
        ev.active = None;
        if !persistent(e) {
            ev.old = Some(h);
            ev.live = false;
            ev.deadline = None;
        }
        for a in cb.iter().flatten() {
            self.act(*a);
        }
    }

    fn step(&mut self) -> Step {
        let s = self.b.step().unwrap();
        if self.trace {
            for d in self.log.borrow().iter() {
                eprintln!("dispatch {:?} now {}", d.reports, d.now);
            }
            eprintln!("{s:?}");
        }
        self.dispatched();
        s
    }

    fn run(&mut self, flags: LoopFlags, callbacks: &[[Option<Act>; 2]; EVENTS]) {
        self.b.start(flags).unwrap();
        self.broke = false;
        let mut forced = false;
        let mut steps = 0;
        let how = loop {
            match self.step() {
                Step::Run(r) => {
                    steps += 1;
                    if steps < 500 {
                        self.ran(r.token, r.res, r.handle, &callbacks[r.token]);
                    } else {
                        // Every callback here may re-activate another: end it by force.
                        if !forced {
                            self.b.loopbreak();
                            forced = true;
                        }
                        self.ran(r.token, r.res, r.handle, &[None; 2]);
                    }
                }
                Step::Done(how) => break how,
            }
        };
        let by_exit = self.exit_asked && !self.b.exit_pending();
        if by_exit {
            self.exit_asked = false;
        }
        if how == Outcome::Empty {
            for e in 0..EVENTS {
                assert!(!self.ev[e].held(), "run found nothing to do; {e} is held");
            }
        } else if !forced && !self.broke && !by_exit {
            for e in 0..EVENTS {
                assert!(
                    self.ev[e].active.is_none(),
                    "{flags:?} run ended, {e} still active"
                );
            }
        }
    }

    fn check(&self) {
        for e in 0..EVENTS {
            let ev = &self.ev[e];
            let Some(h) = ev.handle else { continue };
            assert_eq!(self.b.is_held(h, e), ev.held(), "is_held {e}");
            if ev.fuzzy || ev.active.is_some() {
                continue;
            }
            let mut want = What::empty();
            if ev.live {
                want |= events(e).1 & What::IO;
            }
            if ev.deadline.is_some() {
                want |= What::TIMEOUT;
            }
            assert_eq!(
                self.b.pending(h, e, What::all()),
                (want, ev.deadline),
                "pending {e}"
            );
        }
    }

    /// A handle that is not `e`'s: deletes nothing, pending for nothing.
    fn not_its(&mut self, h: Handle, e: usize) {
        if self.ev[e].handle == Some(h) {
            return;
        }
        assert!(!self.b.is_held(h, e));
        assert_eq!(self.b.pending(h, e, What::all()), (What::empty(), None));
        assert_eq!(self.b.del(h, e), Err(Error::StaleHandle));
    }
}

fuzz_target!(|input: Input| {
    let now = Rc::new(Cell::new(1_000 * MS));
    let ready = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::new(RefCell::new(Vec::new()));
    let script = Script {
        changelist: input.changelist,
        interest: [What::empty(); FDS],
        ready: ready.clone(),
        log: log.clone(),
        now: now.clone(),
    };
    let flags = if input.changelist {
        BaseFlags::EPOLL_USE_CHANGELIST
    } else {
        BaseFlags::empty()
    };
    let mut b = EventBase::new(script, Manual(now.clone()), Parts::default(), flags);
    b.set_priorities(PRIORITIES).unwrap();
    let mut w = World {
        b,
        now,
        ready,
        log,
        ev: [Ev::default(); EVENTS],
        priority: input.priority.map(|p| p % PRIORITIES),
        place: 0,
        setting: 0,
        exit_asked: false,
        broke: false,
        trace: std::env::var_os("FUZZ_TRACE").is_some(),
    };
    for op in input.ops.into_iter().take(256) {
        match op {
            Op::Act(a) => w.act(a),
            Op::Stale { e } => {
                let e = usize::from(e) % EVENTS;
                if let Some(old) = w.ev[e].old {
                    w.not_its(old, e);
                }
            }
            Op::Foreign { e, f } => {
                let (e, f) = (usize::from(e) % EVENTS, usize::from(f) % EVENTS);
                for h in [w.ev[e].handle, w.ev[e].old].into_iter().flatten() {
                    if e != f {
                        w.not_its(h, f);
                    }
                }
            }
            Op::Garbage { bits, e } => w.not_its(Handle::from_bits(bits), usize::from(e) % EVENTS),
            Op::Check => w.check(),
            Op::Ready { fd, bits } => {
                let fd = i32::from(fd) % FDS as i32;
                let bits = What::from_bits_truncate(u16::from(bits)) & (What::READ | What::WRITE);
                // Reported at the next dispatch, for the interest the fd has then.
                w.ready.borrow_mut().push((fd, bits));
            }
            Op::Advance { ms } => w.now.set(w.now.get() + u64::from(ms) * MS),
            Op::Loop { once } => {
                let flags = if once {
                    // A blocking run with nothing to come would wait forever: bound it.
                    w.b.loopexit(Some(Duration::from_secs(1)));
                    w.exit_asked = true;
                    LoopFlags::ONCE
                } else {
                    LoopFlags::NONBLOCK
                };
                w.run(flags, &input.callbacks);
            }
        }
    }
    w.check();
    // Nothing lost: past every deadline, every timer fires.
    w.now.set(w.now.get() + 3_600_000 * MS);
    // (A few runs: an exit asked for earlier may end the first at once.)
    for _ in 0..3 {
        w.run(LoopFlags::NONBLOCK, &[[None; 2]; EVENTS]);
    }
    for e in 0..EVENTS {
        let ev = &w.ev[e];
        assert!(ev.deadline.is_none(), "timer {e} never fired");
        assert!(ev.active.is_none(), "{e} never ran");
    }
    w.check();
    for e in 0..EVENTS {
        if let Some(h) = w.ev[e].handle {
            let _ = w.b.del(h, e);
        }
    }
    assert_eq!(w.b.counts(), Default::default());
});
