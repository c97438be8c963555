//! The event base driven by a random sequence of operations over a scripted backend and a manual
//! clock (pure logic: no kernel). Callbacks delete, add and activate events, their own included,
//! and old handles are used again. Checked against a model of which events the base holds:
//! deleting reports `StaleHandle` exactly when the model holds nothing; only held events run;
//! one-shot timers run never early, in deadline order (first in, first out on ties) and none is
//! lost: once the clock passes every deadline, each pending one has run. In the end, deleting
//! every event leaves the counts at zero.

#![no_main]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use arbitrary::Arbitrary;
use eventop_core::base::{EventBase, Fixed, Handle, Parts, Spec, Step};
use eventop_core::clock::Clock;
use eventop_core::{
    Backend, BaseFlags, Change, Error, FdInfo, Features, Info, LoopFlags, Resource, Sink, What,
};
use libfuzzer_sys::fuzz_target;

/// Events 0..4 watch fds 0..4; 4..7 are one-shot timers; 7 is a persistent timer.
const EVENTS: usize = 8;
const FDS: usize = 4;
const MS: u64 = 1_000_000;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Act {
    Add { e: u8, ms: Option<u8> },
    Del { e: u8 },
    Activate { e: u8 },
}

#[derive(Arbitrary, Debug)]
enum Op {
    Act(Act),
    /// Reuse the event's handle from before its last delete or run.
    Stale {
        e: u8,
    },
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
    /// What each event's callback does, by token.
    callbacks: [Option<Act>; EVENTS],
    ops: Vec<Op>,
}

/// A scripted kernel: interest per fd, readiness queued by the input. A wait with nothing ready
/// moves the clock by the timeout.
struct Script {
    changelist: bool,
    interest: [What; FDS],
    ready: Rc<RefCell<Vec<(i32, What)>>>,
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
        let mut n = 0;
        for (fd, what) in self.ready.borrow_mut().drain(..) {
            let what = what & self.interest[fd as usize];
            if !what.is_empty() {
                sink.ready(fd, what);
                n += 1;
            }
        }
        if n == 0 {
            let wait = timeout.unwrap_or(Duration::from_secs(3600));
            self.now
                .set(self.now.get().saturating_add(wait.as_nanos() as u64));
        }
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

fn spec(e: usize) -> Spec {
    let (fd, events, priority) = match e {
        0 => (0, What::READ, 1),
        1 => (1, What::READ | What::PERSIST, 1),
        2 => (2, What::WRITE | What::PERSIST, 1),
        3 => (3, What::READ | What::WRITE, 1),
        7 => (-1, What::PERSIST, 0),
        _ => (-1, What::empty(), 0),
    };
    Spec {
        fd,
        events,
        priority,
        token: e,
    }
}

fn one_shot_timer(e: usize) -> bool {
    (4..7).contains(&e)
}

/// What the base must hold, per event.
#[derive(Default, Clone, Copy)]
struct Ev {
    handle: Option<Handle>,
    /// The handle before the latest delete or run, for stale use.
    old: Option<Handle>,
    /// Inserted (I/O events, the persistent timer while armed).
    live: bool,
    /// Activated through the API and not run yet.
    active: bool,
    /// A one-shot timer's pending deadline.
    deadline: Option<u64>,
}

impl Ev {
    fn held(&self) -> bool {
        self.live || self.active || self.deadline.is_some()
    }
}

struct World {
    b: Base,
    now: Rc<Cell<u64>>,
    ready: Rc<RefCell<Vec<(i32, What)>>>,
    ev: [Ev; EVENTS],
    /// The (deadline, order of setting) of the last one-shot timer that fired by timeout alone.
    last_fired: (u64, u64),
    /// Counts settings of one-shot deadlines: ties fire in this order.
    setting: u64,
    set_at: [u64; EVENTS],
}

impl World {
    fn act(&mut self, a: Act) {
        match a {
            Act::Add { e, ms } => {
                let e = usize::from(e) % EVENTS;
                let t = ms.map(|ms| Duration::from_millis(u64::from(ms)));
                match self.b.add(self.ev[e].handle, &spec(e), t) {
                    Ok(h) => {
                        let ev = &mut self.ev[e];
                        ev.handle = Some(h);
                        if one_shot_timer(e) {
                            if let Some(t) = t {
                                ev.deadline = Some(self.now.get() + t.as_nanos() as u64);
                                self.setting += 1;
                                self.set_at[e] = self.setting;
                            }
                        } else if e != 7 || t.is_some() || ev.live {
                            ev.live = true;
                        }
                    }
                    Err(Error::Full(Resource::Slots | Resource::Timers)) => {}
                    Err(err) => panic!("add {e}: {err:?}"),
                }
            }
            Act::Del { e } => {
                let e = usize::from(e) % EVENTS;
                let Some(h) = self.ev[e].handle else { return };
                let r = self.b.del(h, e);
                let ev = &mut self.ev[e];
                if ev.held() {
                    assert_eq!(r, Ok(()), "del {e}");
                } else {
                    assert_eq!(r, Err(Error::StaleHandle), "del {e} of nothing held");
                }
                ev.old = ev.handle;
                *ev = Ev {
                    old: ev.old,
                    handle: ev.handle,
                    ..Ev::default()
                };
            }
            Act::Activate { e } => {
                let e = usize::from(e) % EVENTS;
                match self.b.activate(self.ev[e].handle, &spec(e), What::WRITE, 0) {
                    Ok(h) => {
                        self.ev[e].handle = Some(h);
                        self.ev[e].active = true;
                    }
                    Err(Error::Full(Resource::Slots)) => {}
                    Err(err) => panic!("activate {e}: {err:?}"),
                }
            }
        }
    }

    /// One callback: checks it may run, updates the model, runs its action.
    fn ran(&mut self, e: usize, res: What, h: Handle, cb: Option<Act>) {
        let now = self.now.get();
        let ev = self.ev[e];
        assert!(ev.held(), "event {e} ran, held by nothing");
        if one_shot_timer(e) {
            if res.contains(What::TIMEOUT) {
                let d = ev.deadline.expect("timed out with no deadline");
                assert!(d <= now, "timer {e} early: deadline {d}, now {now}");
                if res == What::TIMEOUT {
                    let key = (d, self.set_at[e]);
                    assert!(key >= self.last_fired, "timer {e} out of order");
                    self.last_fired = key;
                }
            } else {
                assert!(ev.active, "timer {e} ran with {res:?}, not activated");
            }
        }
        let persist = spec(e).events.contains(What::PERSIST);
        let ev = &mut self.ev[e];
        ev.active = false;
        if !persist {
            ev.old = Some(h);
            ev.live = false;
            ev.deadline = None;
        }
        if let Some(a) = cb {
            self.act(a);
        }
    }

    fn run(&mut self, flags: LoopFlags, callbacks: &[Option<Act>; EVENTS]) {
        self.b.start(flags).unwrap();
        for _ in 0..500 {
            match self.b.step().unwrap() {
                Step::Run(r) => self.ran(r.token, r.res, r.handle, callbacks[r.token]),
                Step::Done(_) => return,
            }
        }
        // Every callback here may re-activate another: end it by force.
        self.b.loopbreak();
        loop {
            match self.b.step().unwrap() {
                Step::Run(r) => self.ran(r.token, r.res, r.handle, None),
                Step::Done(_) => return,
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let now = Rc::new(Cell::new(1_000 * MS));
    let ready = Rc::new(RefCell::new(Vec::new()));
    let script = Script {
        changelist: input.changelist,
        interest: [What::empty(); FDS],
        ready: ready.clone(),
        now: now.clone(),
    };
    let flags = if input.changelist {
        BaseFlags::EPOLL_USE_CHANGELIST
    } else {
        BaseFlags::empty()
    };
    let mut b = EventBase::new(script, Manual(now.clone()), Parts::default(), flags);
    b.set_priorities(2).unwrap();
    let mut w = World {
        b,
        now,
        ready,
        ev: [Ev::default(); EVENTS],
        last_fired: (0, 0),
        setting: 0,
        set_at: [0; EVENTS],
    };
    for op in input.ops.into_iter().take(256) {
        match op {
            Op::Act(a) => w.act(a),
            Op::Stale { e } => {
                let e = usize::from(e) % EVENTS;
                if let Some(old) = w.ev[e].old {
                    if Some(old) != w.ev[e].handle {
                        assert_eq!(w.b.del(old, e), Err(Error::StaleHandle));
                        assert_eq!(w.b.pending(old, e, What::all()), (What::empty(), None));
                    }
                }
            }
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
                    LoopFlags::ONCE
                } else {
                    LoopFlags::NONBLOCK
                };
                w.run(flags, &input.callbacks);
            }
        }
    }
    // Nothing lost: past every deadline, every pending one-shot timer runs.
    w.now.set(w.now.get() + 3_600_000 * MS);
    // (A few runs: an exit scheduled for an earlier run may end the first at once.)
    for _ in 0..3 {
        w.run(LoopFlags::NONBLOCK, &[None; EVENTS]);
    }
    for e in 4..7 {
        assert_eq!(w.ev[e].deadline, None, "timer {e} never ran");
    }
    for e in 0..EVENTS {
        if let Some(h) = w.ev[e].handle {
            let _ = w.b.del(h, e);
        }
    }
    assert_eq!(w.b.counts(), Default::default());
});
