//! Loop semantics over a scripted backend and a manual clock.
//!
//! The subject here is the base's own logic (queues, timers, loop control, capacity), so the
//! backend is a script, not a kernel: it records the interest it is told and reports the
//! readiness a test puts in front of it. Real kernels are exercised in `tests/tests/base_*.rs`.

extern crate std;

use core::cell::Cell;
use core::time::Duration;
use std::vec::Vec;

use super::*;
use crate::clock::Clock;
use crate::{Change, Features, Info, LoopFlags, Resource, Signals, Sink};

#[derive(Default)]
struct Script {
    interest: [What; 16],
    ready: Vec<(RawFd, What)>,
    waits: Vec<Option<Duration>>,
    calls: usize,
    /// How many times the base asked `check`.
    checks: Cell<usize>,
    signals: ScriptSignals,
    /// Whether it takes its changes in batches (a changelist backend).
    changelist: bool,
    /// Each change of the batches applied: the waits before it, the fd, its new interest.
    applied: Vec<(usize, RawFd, What)>,
    /// How many times it was started afresh (its registrations forgotten).
    reinits: usize,
    /// Whether it reports a peer's close on its own ([`Features::EARLY_CLOSE`]).
    early_close: bool,
}

/// The script's signal catcher: its fd is 15, and it has caught what a test puts in `pending`.
#[derive(Default)]
struct ScriptSignals {
    caught: u128,
    pending: Vec<(i32, u32)>,
}

impl Signals for ScriptSignals {
    fn open(&mut self) -> Result<RawFd, Error> {
        Ok(15)
    }
    fn watch(&mut self, sig: i32) -> Result<(), Error> {
        self.caught |= 1 << sig;
        Ok(())
    }
    fn unwatch(&mut self, sig: i32) {
        self.caught &= !(1 << sig);
    }
    fn drain(&mut self, f: &mut dyn FnMut(i32, u32)) {
        let caught = self.caught;
        for (sig, n) in self.pending.drain(..) {
            if caught & (1 << sig) != 0 {
                f(sig, n);
            }
        }
    }
    fn reinit(&mut self) -> Result<RawFd, Error> {
        Ok(15)
    }
}

impl Backend for Script {
    fn info(&self) -> Info {
        Info {
            name: "script",
            features: if self.early_close {
                Features::ET | Features::EARLY_CLOSE
            } else {
                Features::ET
            },
            need_reinit: false,
            fdinfo_len: 0,
            changelist: self.changelist,
        }
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        for c in changes {
            self.interest[c.fd as usize] = c.new_interest();
            self.applied
                .push((self.waits.len(), c.fd, c.new_interest()));
        }
        Ok(())
    }
    fn add(&mut self, fd: RawFd, old: What, added: What, _: &mut FdInfo) -> Result<(), Error> {
        if fd == 13 {
            return Err(Error::Os {
                call: "script_add",
                errno: crate::Errno(9),
            });
        }
        assert_eq!(self.interest[fd as usize] & What::IO, old & What::IO);
        self.interest[fd as usize] = old | added;
        self.calls += 1;
        Ok(())
    }
    /// The script's "kernel" has fds below 16 only.
    fn check(&self, fd: RawFd) -> Result<(), Error> {
        self.checks.set(self.checks.get() + 1);
        if fd < 16 {
            Ok(())
        } else {
            Err(Error::BadFd(fd))
        }
    }
    fn del(&mut self, fd: RawFd, old: What, removed: What, _: &mut FdInfo) -> Result<(), Error> {
        assert_eq!(self.interest[fd as usize] & What::IO, old & What::IO);
        self.interest[fd as usize] = (old - removed) | (removed & What::ET);
        self.calls += 1;
        Ok(())
    }
    fn signals(&mut self) -> Option<&mut dyn Signals> {
        Some(&mut self.signals)
    }
    fn reinit(&mut self) -> Result<(), Error> {
        self.interest = Default::default();
        self.reinits += 1;
        Ok(())
    }
    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error> {
        // A base that waits without end fails here instead of hanging its test.
        assert!(self.waits.len() < MAX_WAITS, "the loop never ends");
        self.waits.push(timeout);
        if self.ready.is_empty() {
            let wait = timeout.unwrap_or(Duration::from_secs(3600));
            set_now(now() + wait.as_nanos() as u64);
        }
        let n = self.ready.len();
        for (fd, what) in self.ready.drain(..) {
            sink.ready(fd, what);
        }
        Ok(n)
    }
}

/// More waits than any test asks for (each base's script counts its own).
const MAX_WAITS: usize = 100_000;

/// More steps than any one run of a test takes.
const MAX_STEPS: usize = 100_000;

std::thread_local!(static NOW: Cell<u64> = const { Cell::new(0) });

fn now() -> u64 {
    NOW.with(Cell::get)
}

fn set_now(t: u64) {
    NOW.with(|c| c.set(t));
}

/// This test thread's clock; the script's dispatch moves it by the time it was asked to wait.
struct TestClock;

impl Clock for TestClock {
    fn now(&mut self) -> u64 {
        now()
    }
}

type Base = EventBase<Script, TestClock, Fixed<32>>;

fn base() -> Base {
    EventBase::new(
        Script::default(),
        TestClock,
        Parts::default(),
        BaseFlags::empty(),
    )
}

fn spec(fd: RawFd, events: What, token: usize) -> Spec {
    Spec {
        fd,
        events,
        priority: 0,
        token,
    }
}

const MS: u64 = 1_000_000;

/// Runs the loop, handing each ready event to `f` with the base, as an adapter does.
fn run(
    b: &mut Base,
    flags: LoopFlags,
    mut f: impl FnMut(&mut Base, Ready),
) -> Result<Outcome, Error> {
    b.start(flags)?;
    for _ in 0..MAX_STEPS {
        match b.step()? {
            Step::Run(r) => f(b, r),
            Step::Done(o) => return Ok(o),
        }
    }
    panic!("a run of more than {MAX_STEPS} steps");
}

/// The events the rest of a started run runs, with callbacks that do nothing.
fn rest_of_run(b: &mut Base) -> Vec<Ready> {
    let mut ran = Vec::new();
    for _ in 0..MAX_STEPS {
        match b.step().unwrap() {
            Step::Run(r) => ran.push(r),
            Step::Done(_) => return ran,
        }
    }
    panic!("a run of more than {MAX_STEPS} steps");
}

#[test]
fn empty_base_returns_empty() {
    let mut b = base();
    assert_eq!(
        run(&mut b, LoopFlags::empty(), |_, _| {}),
        Ok(Outcome::Empty)
    );
}

#[test]
fn due_timers_fire_exactly_when_the_clock_says() {
    let mut b = base();
    for (token, ms) in [(1, 500u64), (2, 1000), (3, 1500)] {
        b.add(
            None,
            &spec(-1, What::empty(), token),
            Some(Duration::from_millis(ms)),
        )
        .unwrap();
    }
    set_now(1000 * MS);
    b.update_cache_time();
    let mut fired = Vec::new();
    run(&mut b, LoopFlags::NONBLOCK, |_, r| {
        fired.push((r.token, r.res))
    })
    .unwrap();
    assert_eq!(fired, [(1, What::TIMEOUT), (2, What::TIMEOUT)]);
    assert_eq!(b.counts().added, 1);
    // The wait asked of the backend is exactly the time to the earliest deadline.
    run(&mut b, LoopFlags::ONCE, |_, _| {}).ok();
    assert_eq!(
        b.backend().waits.last(),
        Some(&Some(Duration::from_millis(500)))
    );
}

#[test]
fn equal_deadlines_fire_in_the_order_added() {
    let mut b = base();
    for token in 0..20 {
        b.add(
            None,
            &spec(-1, What::empty(), token),
            Some(Duration::from_millis(5)),
        )
        .unwrap();
    }
    set_now(5 * MS);
    let mut fired = Vec::new();
    run(&mut b, LoopFlags::empty(), |_, r| fired.push(r.token)).unwrap();
    assert_eq!(fired, (0..20).collect::<Vec<_>>());
}

#[test]
fn equal_deadlines_keep_their_order_across_the_seq_wrap_in_the_list_and_the_heap() {
    let mut b = base();
    // The next seqs: MAX - 1, then MAX, which a listed timer skips (it reads as "no timer"), 0, 1.
    b.timers.set_next_seq(u32::MAX - 1);
    let timer = |b: &mut Base, token, ms| {
        b.add(
            None,
            &spec(-1, What::empty(), token),
            Some(Duration::from_millis(ms)),
        )
        .unwrap()
    };
    timer(&mut b, 0, 5); // the list's head, seq MAX - 1
    timer(&mut b, 1, 10); // the list's tail, seq 0 (MAX skipped)
    timer(&mut b, 2, 5); // before the tail: the heap, seq 1, due with 0
    assert_eq!(b.counts().added, 3, "each holds its timer");
    set_now(10 * MS);
    let mut fired = Vec::new();
    run(&mut b, LoopFlags::empty(), |_, r| fired.push(r.token)).unwrap();
    assert_eq!(fired, [0, 2, 1]);
}

#[test]
fn several_events_on_one_fd_run_newest_first_with_their_own_res() {
    let mut b = base();
    b.add(None, &spec(3, What::READ, 1), None).unwrap();
    b.add(None, &spec(3, What::WRITE, 2), None).unwrap();
    b.add(None, &spec(3, What::READ | What::WRITE, 3), None)
        .unwrap();
    assert_eq!(
        b.backend().calls,
        2,
        "the backend hears of 0 -> 1 transitions only"
    );
    b.io.backend.ready.push((3, What::READ | What::WRITE));
    let mut seen = Vec::new();
    run(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res))).unwrap();
    assert_eq!(
        seen,
        [
            (3, What::READ | What::WRITE),
            (2, What::WRITE),
            (1, What::READ)
        ]
    );
    assert_eq!(
        b.counts(),
        Counts::default(),
        "non-persistent events are gone"
    );
    assert_eq!(b.backend().interest[3] & What::IO, What::empty());
}

#[test]
fn callbacks_add_delete_activate_and_free_events_including_themselves() {
    let mut b = base();
    let me = b
        .add(None, &spec(4, What::READ | What::PERSIST, 10), None)
        .unwrap();
    let other = b
        .add(None, &spec(5, What::READ | What::PERSIST, 20), None)
        .unwrap();
    b.io.backend.ready.push((4, What::READ));
    b.io.backend.ready.push((5, What::READ));
    let mut log = Vec::new();
    let mut readded = None;
    run(&mut b, LoopFlags::ONCE, |b, r| {
        log.push(r.token);
        match r.token {
            10 => {
                // Delete a sibling that is already active (it must not run), then ourselves.
                b.del(other, 20).unwrap();
                b.del(r.handle, 10).unwrap();
                assert_eq!(b.del(r.handle, 10), Err(Error::StaleHandle));
                // Activate a new event and add ourselves again with a timeout.
                b.activate(None, &spec(-1, What::empty(), 30), What::TIMEOUT, 0)
                    .unwrap();
                readded = Some(
                    b.add(None, &spec(4, What::READ, 10), Some(Duration::from_secs(1)))
                        .unwrap(),
                );
                // A callback cannot start another run.
                assert_eq!(b.start(LoopFlags::empty()), Err(Error::Reentrant));
            }
            30 => {}
            t => panic!("unexpected {t}"),
        }
    })
    .unwrap();
    assert_eq!(log, [10, 30]);
    assert!(b.is_held(readded.unwrap(), 10));
    assert!(!b.is_held(me, 10));
    assert_eq!(b.counts().added, 2, "fd 4 inserted plus its timeout");
}

#[test]
fn only_the_highest_priority_queue_runs_and_higher_activations_preempt() {
    let mut b = base();
    b.set_priorities(3).unwrap();
    let ev = |t, p| Spec {
        fd: -1,
        events: What::empty(),
        priority: p,
        token: t,
    };
    b.activate(None, &ev(1, 1), What::TIMEOUT, 0).unwrap();
    b.activate(None, &ev(2, 1), What::TIMEOUT, 0).unwrap();
    b.activate(None, &ev(3, 2), What::TIMEOUT, 0).unwrap();
    let mut order = Vec::new();
    run(&mut b, LoopFlags::NONBLOCK, |b, r| {
        order.push(r.token);
        if r.token == 1 {
            b.activate(None, &ev(9, 0), What::TIMEOUT, 0).unwrap();
        }
    })
    .unwrap();
    // 1 runs, activates 9 at priority 0, which preempts 2; then 2, then 3.
    assert_eq!(order, [1, 9, 2, 3]);
    assert_eq!(b.set_priorities(0), Err(Error::NoPriorities));
    b.activate(None, &ev(1, 1), What::TIMEOUT, 0).unwrap();
    assert_eq!(
        b.set_priorities(5),
        Err(Error::PrioritiesInUse),
        "refused while active"
    );
    assert_eq!(
        b.activate(None, &ev(1, 7), What::TIMEOUT, 0),
        Err(Error::BadPriority(7))
    );
}

#[test]
fn activate_ors_res_and_timeout_keeps_io_result() {
    let mut b = base();
    let h = b
        .add(
            None,
            &spec(6, What::READ, 1),
            Some(Duration::from_millis(10)),
        )
        .unwrap();
    b.activate(Some(h), &spec(6, What::READ, 1), What::WRITE, 0)
        .unwrap();
    b.io.backend.ready.push((6, What::READ));
    set_now(10 * MS);
    let mut res = What::empty();
    run(&mut b, LoopFlags::ONCE, |_, r| res = r.res).unwrap();
    assert_eq!(res, What::READ | What::WRITE | What::TIMEOUT);
}

#[test]
fn persistent_timer_rearms_from_its_deadline_and_from_now_when_activated_by_hand() {
    let mut b = base();
    let s = spec(-1, What::PERSIST, 1);
    let h = b.add(None, &s, Some(Duration::from_millis(100))).unwrap();
    set_now(130 * MS); // 30 ms late
    run(&mut b, LoopFlags::ONCE, |_, _| {}).unwrap();
    assert_eq!(b.pending(h, 1, What::TIMEOUT).1, Some(200 * MS), "no drift");
    // Activated by hand at 150 ms: next firing one period later, not two (libevent: 300 ms).
    set_now(150 * MS);
    b.update_cache_time();
    b.activate(Some(h), &s, What::TIMEOUT, 0).unwrap();
    run(&mut b, LoopFlags::ONCE, |_, _| {}).unwrap();
    assert_eq!(b.pending(h, 1, What::TIMEOUT).1, Some(250 * MS));
}

#[test]
fn et_survives_deleting_a_sibling_and_mixing_is_refused() {
    let mut b = base();
    let a = b
        .add(None, &spec(7, What::READ | What::ET, 1), None)
        .unwrap();
    b.add(None, &spec(7, What::WRITE | What::ET, 2), None)
        .unwrap();
    assert_eq!(
        b.add(None, &spec(7, What::READ, 3), None),
        Err(Error::MixedTriggers(7))
    );
    b.del(a, 1).unwrap();
    assert_eq!(b.backend().interest[7], What::WRITE | What::ET);
    b.io.backend.ready.push((7, What::WRITE));
    let mut res = What::empty();
    run(&mut b, LoopFlags::ONCE, |_, r| res = r.res).unwrap();
    assert_eq!(res, What::WRITE | What::ET, "never ET alone, and ET kept");
}

#[test]
fn events_leave_their_lists_from_any_place() {
    // Each list runs newest first: delete from the middle, the end and the front, and only the
    // events left wake, on an fd and on a signal.
    let mut b = base();
    let io = What::READ | What::PERSIST;
    let sig = What::SIGNAL | What::PERSIST;
    let mut h = Vec::new();
    for t in 0..4 {
        h.push(b.add(None, &spec(7, io, t), None).unwrap());
    }
    for t in 4..7 {
        h.push(b.add(None, &spec(10, sig, t), None).unwrap());
    }
    let woken = |b: &mut Base| {
        b.io.backend.ready.push((7, What::READ));
        b.signal_delivered(10, 1).unwrap();
        let mut ran = Vec::new();
        run(b, LoopFlags::ONCE | LoopFlags::NONBLOCK, |_, r| {
            ran.push(r.token)
        })
        .unwrap();
        ran.sort();
        ran
    };
    assert_eq!(woken(&mut b), [0, 1, 2, 3, 4, 5, 6]);
    for (t, _) in [
        (2, "middle"),
        (0, "end"),
        (3, "front"),
        (5, "middle"),
        (4, "end"),
    ] {
        b.del(h[t], t).unwrap();
    }
    assert_eq!(woken(&mut b), [1, 6]);
    b.del(h[1], 1).unwrap();
    b.del(h[6], 6).unwrap();
    assert_eq!(b.backend().interest[7], What::empty());
    assert_eq!(b.counts().added, 0);
    // Empty lists take events again.
    b.add(None, &spec(7, io, 8), None).unwrap();
    b.add(None, &spec(10, sig, 9), None).unwrap();
    assert_eq!(woken(&mut b), [8, 9]);
}

#[test]
fn an_fd_holds_as_many_events_as_there_are_slots() {
    // No count per fd to overflow (libevent's stop at 0xffff of a kind): the slots are the limit.
    let n = 0x10001;
    let mut slots = std::vec![Slot::default(); n + 1];
    let mut fds = [FdEntry::default(); 8];
    let parts = Parts::<Borrowed<'_>> {
        slots: &mut slots[..],
        fds: &mut fds[..],
        timers: &mut [][..],
        changes: &mut [][..],
    };
    let mut b = EventBase::new(Script::default(), TestClock, parts, BaseFlags::empty());
    let mut h: Vec<Handle> = (0..n)
        .map(|t| b.add(None, &spec(7, What::READ, t), None).unwrap())
        .collect();
    h.push(b.add(None, &spec(7, What::WRITE, n), None).unwrap());
    let before = (b.counts(), b.backend().calls);
    assert_eq!(
        b.add(None, &spec(7, What::READ, n + 1), None),
        Err(Error::Full(Resource::Slots))
    );
    assert_eq!((b.counts(), b.backend().calls), before, "nothing changed");
    assert_eq!(b.backend().interest[7], What::READ | What::WRITE);
    // Newest first: the WRITE takes its interest with it, the last READ the rest.
    for (t, &h) in h.iter().enumerate().rev() {
        b.del(h, t).unwrap();
        if t == n {
            assert_eq!(b.backend().interest[7], What::READ);
        }
    }
    assert_eq!(b.backend().interest[7], What::empty());
    assert_eq!(b.backend().calls, 4);
}

#[test]
fn full_tables_fail_and_leave_the_base_as_it_was() {
    let mut slots = [Slot::default(); 2];
    let mut fds = [FdEntry::default(); 14];
    let mut timers = [Timer::default(); 1];
    let mut changes = [Change::default(); 1];
    let parts = Parts::<Borrowed<'_>> {
        slots: &mut slots[..],
        fds: &mut fds[..],
        timers: &mut timers[..],
        changes: &mut changes[..],
    };
    let mut b = EventBase::new(Script::default(), TestClock, parts, BaseFlags::empty());
    b.add(None, &spec(1, What::READ, 1), Some(Duration::from_secs(1)))
        .unwrap();
    let before = (b.counts(), b.backend().calls);
    // Timer heap full: the I/O insert that preceded it is undone.
    assert_eq!(
        b.add(None, &spec(2, What::READ, 2), Some(Duration::from_secs(1))),
        Err(Error::Full(Resource::Timers))
    );
    assert_eq!(b.counts(), before.0);
    assert_eq!(b.backend().interest[2], What::empty());
    // fd map full, bad fd, backend refusal: nothing held.
    assert_eq!(
        b.add(None, &spec(14, What::READ, 3), None),
        Err(Error::Full(Resource::FdMap))
    );
    assert_eq!(
        b.add(None, &spec(13, What::READ, 3), None)
            .unwrap_err()
            .errno(),
        Some(crate::Errno(9))
    );
    b.add(None, &spec(2, What::READ, 2), None).unwrap();
    assert_eq!(
        b.add(None, &spec(3, What::READ, 4), None),
        Err(Error::Full(Resource::Slots))
    );
    assert_eq!(
        b.add(None, &spec(1, What::SIGNAL | What::READ, 5), None)
            .unwrap_err(),
        Error::SignalWithIo
    );
    assert_eq!(b.counts().added, 3);
    assert_eq!(b.events().count(), 2);
}

/// A base with one persistent 1 ms timer (token 1).
fn ticking() -> Base {
    let mut b = base();
    let tick = spec(-1, What::PERSIST, 1);
    b.add(None, &tick, Some(Duration::from_millis(1))).unwrap();
    b
}

#[test]
fn loop_control() {
    // loopexit while idle is kept for the next run.
    let mut b = ticking();
    b.loopexit(None);
    assert_eq!(
        run(&mut b, LoopFlags::empty(), |_, _| panic!("exit first")),
        Ok(Outcome::Exited)
    );
    // loopbreak while idle is forgotten, as libevent forgets it.
    b.loopbreak();
    let mut n = 0;
    let r = run(&mut b, LoopFlags::empty(), |b, _| {
        n += 1;
        set_now(now() + MS);
        if n == 3 {
            b.loopbreak();
        }
    });
    assert_eq!((r, n), (Ok(Outcome::Exited), 3));
    // loopexit after a delay: ends the run once the clock passes it, with NO_EXIT_ON_EMPTY.
    let mut b = base();
    b.loopexit(Some(Duration::from_millis(5)));
    assert_eq!(b.backend().waits.len(), 0);
    set_now(now() + 5 * MS);
    assert_eq!(
        run(&mut b, LoopFlags::NO_EXIT_ON_EMPTY, |_, _| {}),
        Ok(Outcome::Exited)
    );
    // loopcontinue ends the iteration: the rest of the queue runs in the next one.
    b.activate(None, &spec(-1, What::empty(), 1), What::TIMEOUT, 0)
        .unwrap();
    b.activate(None, &spec(-1, What::empty(), 2), What::TIMEOUT, 0)
        .unwrap();
    let waits = b.backend().waits.len();
    run(&mut b, LoopFlags::empty(), |b, r| {
        if r.token == 1 {
            b.loopcontinue()
        }
    })
    .unwrap();
    assert_eq!(b.backend().waits.len(), waits + 2, "two iterations");
    assert_eq!(b.step(), Err(Error::NotStarted));
}

#[test]
fn a_once_nonblock_pass_ends_only_when_nothing_is_left_to_run() {
    // The pass's end is found at the top of `step`; each way the iteration goes on must still
    // lead there: an activation in a callback runs in the same pass, a continue takes one more
    // iteration, a break ends the pass at once.
    let pass = LoopFlags::ONCE | LoopFlags::NONBLOCK;
    let (a, c) = (spec(-1, What::empty(), 1), spec(-1, What::empty(), 2));
    let mut b = ticking();
    let waits = b.backend().waits.len();
    b.activate(None, &a, What::TIMEOUT, 0).unwrap();
    let mut seen = Vec::new();
    let r = run(&mut b, pass, |b, r| {
        seen.push(r.token);
        if r.token == 1 {
            b.activate(None, &c, What::TIMEOUT, 0).unwrap();
        }
    });
    assert_eq!((r, &seen[..]), (Ok(Outcome::Exited), &[1, 2][..]));
    assert_eq!(b.backend().waits.len(), waits + 1, "one iteration");
    b.activate(None, &a, What::TIMEOUT, 0).unwrap();
    b.activate(None, &c, What::TIMEOUT, 0).unwrap();
    seen.clear();
    run(&mut b, pass, |b, r| {
        seen.push(r.token);
        b.loopcontinue();
    })
    .unwrap();
    assert_eq!(seen, [1, 2]);
    assert_eq!(b.backend().waits.len(), waits + 3, "two iterations");
    b.activate(None, &a, What::TIMEOUT, 0).unwrap();
    b.activate(None, &c, What::TIMEOUT, 0).unwrap();
    seen.clear();
    run(&mut b, pass, |b, r| {
        seen.push(r.token);
        b.loopbreak();
    })
    .unwrap();
    assert_eq!(seen, [1]);
    // A pass with nothing active ends after its one wait; the event left over runs in the next.
    seen.clear();
    run(&mut b, pass, |_, r| seen.push(r.token)).unwrap();
    assert_eq!(seen, [2]);
    assert!(!b.is_running());
    // A pass that starts with nothing active (after one that ran callbacks) waits, and runs
    // what its wait reports.
    b.add(None, &spec(3, What::READ, 3), None).unwrap();
    b.io.backend.ready.push((3, What::READ));
    seen.clear();
    run(&mut b, pass, |_, r| seen.push(r.token)).unwrap();
    assert_eq!(seen, [3]);
}

#[test]
fn signals_run_once_per_delivery_and_del_stops_the_repeats() {
    let mut b = base();
    let s = spec(10, What::SIGNAL | What::PERSIST, 1);
    let h = b.add(None, &s, None).unwrap();
    b.signal_delivered(10, 3).unwrap();
    let mut n = 0;
    run(&mut b, LoopFlags::ONCE, |_, r| {
        assert_eq!(r.res, What::SIGNAL);
        n += 1;
    })
    .unwrap();
    assert_eq!(n, 3);
    b.signal_delivered(10, 3).unwrap();
    n = 0;
    run(&mut b, LoopFlags::ONCE, |b, _| {
        n += 1;
        b.del(h, 1).unwrap();
    })
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(b.signal_delivered(99, 1), Err(Error::BadSignal(99)));
}

#[test]
fn the_signal_pipe_fd_is_refused_for_io_events() {
    let mut b = base();
    b.add(None, &spec(10, What::SIGNAL | What::PERSIST, 1), None)
        .unwrap();
    let fd = b.sigfd;
    assert!(fd >= 0);
    assert_eq!(
        b.add(None, &spec(fd, What::READ, 2), None),
        Err(Error::BadFd(fd))
    );
    // Its reports go to the signal pipe, not to the other fds' events.
    let other = if fd == 5 { 6 } else { 5 };
    b.add(None, &spec(other, What::READ | What::PERSIST, 3), None)
        .unwrap();
    b.io.backend.ready.push((fd, What::READ));
    let mut tokens = Vec::new();
    run(&mut b, LoopFlags::NONBLOCK, |_, r| tokens.push(r.token)).unwrap();
    assert!(!tokens.contains(&3), "{tokens:?}");
}

#[test]
fn caught_signals_are_drained_when_the_signal_fd_is_ready() {
    let mut b = base();
    b.add(None, &spec(10, What::SIGNAL | What::PERSIST, 1), None)
        .unwrap();
    // Watched but not delivered: it must not run.
    b.add(None, &spec(12, What::SIGNAL | What::PERSIST, 2), None)
        .unwrap();
    assert_eq!(b.io.backend.interest[15], What::READ);
    b.io.backend.signals.pending.extend([(10, 2), (11, 1)]);
    b.io.backend.ready.push((15, What::READ));
    let mut n = 0;
    run(&mut b, LoopFlags::NONBLOCK, |_, r| {
        assert_eq!((r.token, r.res), (1, What::SIGNAL));
        n += 1;
    })
    .unwrap();
    assert_eq!(n, 2, "signal 10 twice; 11, not caught, not at all");
}

/// The base asks the backend about an fd before its map grows to reach it, and (without a
/// changelist) at no other add; a refusal there is returned and nothing else happens.
#[test]
fn fds_are_checked_before_the_map_grows() {
    let mut b = base();
    // Fixed<32>: the map's first growth takes it to 32 entries.
    b.add(None, &spec(3, What::READ | What::PERSIST, 1), None)
        .unwrap();
    b.add(None, &spec(3, What::WRITE, 2), None).unwrap();
    b.add(None, &spec(5, What::READ, 3), None).unwrap();
    assert_eq!(b.io.backend.checks.get(), 1);
    assert_eq!(b.fds.storage.len(), 32);
    // Beyond the map, and beyond what the backend has: its error, not "fd map is full".
    assert_eq!(
        b.add(None, &spec(40, What::READ, 4), Some(Duration::from_secs(1))),
        Err(Error::BadFd(40))
    );
    assert_eq!(b.io.backend.checks.get(), 2);
    assert_eq!((b.counts().added, b.io.backend.calls), (3, 3));
    assert_eq!(b.events().count(), 3);
}

#[test]
fn pending_reports_what_and_when() {
    let mut b = base();
    let s = spec(2, What::READ | What::PERSIST, 1);
    let h = b.add(None, &s, Some(Duration::from_millis(3))).unwrap();
    assert_eq!(
        b.pending(h, 1, What::all()),
        (What::READ | What::TIMEOUT, Some(3 * MS))
    );
    assert_eq!(b.pending(h, 1, What::WRITE), (What::empty(), Some(3 * MS)));
    assert_eq!(
        b.pending(h, 2, What::all()),
        (What::empty(), None),
        "foreign token"
    );
    b.del_timer(h, 1).unwrap();
    assert_eq!(b.pending(h, 1, What::all()), (What::READ, None));
    // A pure timer added without a timeout is not pending, and holds no slot.
    let t = b.add(None, &spec(-1, What::empty(), 5), None).unwrap();
    assert!(!b.is_held(t, 5));
    assert_eq!(b.events().count(), 1);
}

mod timer_order {
    //! The base's timers against a model: whatever mix of periods, re-arms and deletes, due
    //! timers fire in `(deadline, order set)` order, and only due ones.
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    #[derive(Clone, Debug)]
    enum Op {
        Arm { event: usize, ms: u64 },
        Del { event: usize },
        Advance { ms: u64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..12usize, prop::sample::select(vec![0u64, 1, 5, 5, 5, 10, 10, 30]))
                .prop_map(|(event, ms)| Op::Arm { event, ms }),
            1 => (0..12usize).prop_map(|event| Op::Del { event }),
            2 => (0..15u64).prop_map(|ms| Op::Advance { ms }),
        ]
    }

    proptest! {
        #[test]
        fn due_timers_fire_in_deadline_then_arming_order(ops in prop::collection::vec(op(), 1..120)) {
            set_now(0);
            let mut b = base();
            let mut handles: [Option<Handle>; 12] = [None; 12];
            // The model: (deadline, order armed) per pending event.
            let mut model: [Option<(u64, u64)>; 12] = [None; 12];
            let mut order = 0u64;
            for op in ops {
                match op {
                    Op::Arm { event, ms } => {
                        let s = spec(-1, What::empty(), event);
                        let h = b.add(handles[event], &s, Some(Duration::from_millis(ms))).unwrap();
                        handles[event] = Some(h);
                        order += 1;
                        model[event] = Some((now() + ms * MS, order));
                    }
                    Op::Del { event } => {
                        if let Some(h) = handles[event].take() {
                            let _ = b.del(h, event);
                        }
                        model[event] = None;
                    }
                    Op::Advance { ms } => {
                        set_now(now() + ms * MS);
                        let mut due: Vec<_> = (0..12)
                            .filter_map(|e| model[e].filter(|&(d, _)| d <= now()).map(|k| (k, e)))
                            .collect();
                        due.sort();
                        let want: Vec<usize> = due.iter().map(|&(_, e)| e).collect();
                        let mut fired = Vec::new();
                        run(&mut b, LoopFlags::NONBLOCK, |_, r| fired.push(r.token)).unwrap();
                        prop_assert_eq!(&fired, &want);
                        for e in want {
                            model[e] = None;
                            handles[e] = None;
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn internal_events_do_not_keep_the_loop_running() {
    let mut b = base();
    let s = spec(3, What::READ | What::PERSIST, 1);
    let h = b.add(None, &s, None).unwrap();
    assert_eq!(b.set_internal(h, 2), Err(Error::StaleHandle));
    b.set_internal(h, 1).unwrap();
    b.set_internal(h, 1).unwrap();
    assert_eq!(b.counts(), Counts::default());
    assert_eq!(
        run(&mut b, LoopFlags::empty(), |_, _| {}),
        Ok(Outcome::Empty)
    );
    // With a user event too, the internal one still runs when ready.
    b.add(
        None,
        &spec(-1, What::empty(), 2),
        Some(Duration::from_millis(5)),
    )
    .unwrap();
    b.io.backend.ready.push((3, What::READ));
    let mut seen = Vec::new();
    run(&mut b, LoopFlags::empty(), |_, r| seen.push(r.token)).unwrap();
    assert_eq!(seen, [1, 2]);
    b.del(h, 1).unwrap();
    assert_eq!(b.slots.internal, 0);
    assert_eq!(b.slots.used, 0);
}

/// Two persistent READ events with 100 ms timeouts armed at 0, `a` (fd 2, token 1, returned with
/// its handle) and `c` (fd 3, token 2); the clock then at 40 ms and `a`'s fd ready.
fn two_timed_readers() -> (Base, Spec, Handle, Handle) {
    let mut b = base();
    set_now(0);
    let a = spec(2, What::READ | What::PERSIST, 1);
    let c = spec(3, What::READ | What::PERSIST, 2);
    let ha = b.add(None, &a, Some(Duration::from_millis(100))).unwrap();
    let hc = b.add(None, &c, Some(Duration::from_millis(100))).unwrap();
    set_now(40 * MS);
    b.io.backend.ready.push((2, What::READ));
    (b, a, ha, hc)
}

/// The re-arm of a persistent event's timeout, put off until the next change to the timers or
/// the next wait, is not seen from outside: after the run that ran it, the deadlines reported
/// and the next deadline are the re-armed ones, whichever timer came first before.
#[test]
fn a_rearm_put_off_past_the_end_of_the_run_is_not_seen() {
    // `c` (100 ms) is left first: the next deadline is it.
    let (mut b, _, ha, hc) = two_timed_readers();
    run(&mut b, LoopFlags::ONCE, |_, _| {}).unwrap();
    assert_eq!(b.pending(ha, 1, What::TIMEOUT).1, Some(140 * MS));
    assert_eq!(b.pending(hc, 2, What::TIMEOUT).1, Some(100 * MS));
    assert_eq!(b.next_deadline(), Some(100 * MS));
    // Alone, `a` was the first timer before its run: the next deadline is its new one, in the
    // heap (a 100 ms timeout, then a shorter one) and in the list (one timeout).
    for first in [50, 100] {
        let mut b = base();
        set_now(0);
        let a = spec(2, What::READ | What::PERSIST, 1);
        let ha = b.add(None, &a, Some(Duration::from_millis(100))).unwrap();
        b.add(Some(ha), &a, Some(Duration::from_millis(first)))
            .unwrap();
        let c = spec(-1, What::empty(), 2);
        let hc = b.add(None, &c, Some(Duration::from_millis(200))).unwrap();
        set_now(40 * MS);
        b.io.backend.ready.push((2, What::READ));
        run(&mut b, LoopFlags::ONCE, |_, _| {}).unwrap();
        let at = (40 + first) * MS;
        assert_eq!(b.pending(ha, 1, What::TIMEOUT).1, Some(at), "{first} ms");
        assert_eq!(b.next_deadline(), Some(at), "{first} ms");
        let deadlines: Vec<_> = b.events().map(|e| (e.token, e.deadline)).collect();
        assert_eq!(deadlines, [(1, Some(at)), (2, Some(200 * MS))]);
        // And it fires then, not at its old deadline.
        set_now(at - 1);
        b.update_cache_time();
        let mut ran = Vec::new();
        run(&mut b, LoopFlags::NONBLOCK, |_, r| ran.push(r.token)).unwrap();
        assert!(ran.is_empty(), "{first} ms: early");
        assert!(b.is_held(hc, 2));
        set_now(at);
        b.update_cache_time();
        run(&mut b, LoopFlags::NONBLOCK, |_, r| ran.push(r.token)).unwrap();
        assert_eq!(ran, [1], "{first} ms");
    }
}

/// While a persistent event runs, its timer's re-arm is put off: if that timer is the heap's
/// root, the next deadline is the earlier of its new deadline and the root's least child.
#[test]
fn the_next_deadline_skips_a_root_whose_rearm_is_put_off() {
    let mut b = base();
    set_now(0);
    // `later` goes to the list; `a` and `c`, earlier than the list's last, to the heap: `a` its
    // root, `c` its child.
    let later = spec(-1, What::empty(), 3);
    b.add(None, &later, Some(Duration::from_millis(50)))
        .unwrap();
    let a = spec(2, What::READ | What::PERSIST, 1);
    let ha = b.add(None, &a, Some(Duration::from_millis(10))).unwrap();
    let c = spec(-1, What::empty(), 2);
    b.add(None, &c, Some(Duration::from_millis(15))).unwrap();
    set_now(8 * MS);
    b.io.backend.ready.push((2, What::READ));
    let mut seen = None;
    run(&mut b, LoopFlags::ONCE, |b, r| {
        assert_eq!(r.token, 1);
        seen = Some((b.next_deadline(), b.pending(ha, 1, What::TIMEOUT).1));
    })
    .unwrap();
    assert_eq!(
        seen,
        Some((Some(15 * MS), Some(18 * MS))),
        "`c`, then `a` re-armed"
    );
}

#[test]
fn io_rearms_a_persistent_timeout_from_now_behind_timers_set_before() {
    // `a` reads at 40 ms: its timeout counts again from then, behind `c`'s.
    let (mut b, a, ha, hc) = two_timed_readers();
    let mut ran = std::vec::Vec::new();
    run(&mut b, LoopFlags::ONCE, |_, r| ran.push((r.token, r.res))).unwrap();
    assert_eq!(ran, [(1, What::READ)]);
    assert_eq!(
        b.pending(ha, 1, What::all()),
        (What::READ | What::TIMEOUT, Some(140 * MS))
    );
    assert_eq!(b.pending(hc, 2, What::TIMEOUT).1, Some(100 * MS));
    // Its callback re-adding it with the same timeout at the same time keeps that deadline.
    b.start(LoopFlags::ONCE).unwrap();
    assert_eq!(
        b.add(Some(ha), &a, Some(Duration::from_millis(100))),
        Ok(ha)
    );
    assert_eq!(b.pending(ha, 1, What::TIMEOUT).1, Some(140 * MS));
    let mut ran: Vec<_> = rest_of_run(&mut b)
        .iter()
        .map(|r| (r.token, r.res))
        .collect();
    assert_eq!(ran, [(2, What::TIMEOUT)]);
    assert_eq!(now(), 100 * MS);
    run(&mut b, LoopFlags::ONCE, |_, r| ran.push((r.token, r.res))).unwrap();
    assert_eq!(ran[1..], [(1, What::TIMEOUT)]);
    assert_eq!(now(), 140 * MS);
    // The longest timeout is capped, not wrapped.
    let h = b.add(Some(ha), &a, Some(Duration::MAX)).unwrap();
    assert_eq!(
        b.pending(h, 1, What::TIMEOUT).1,
        Some(140 * MS + u64::MAX / 2)
    );
    let h = b
        .add(
            Some(h),
            &a,
            Some(Duration::new(u64::from(u32::MAX), 999_999_999)),
        )
        .unwrap();
    let ns = u64::from(u32::MAX) * 1_000_000_000 + 999_999_999;
    assert_eq!(b.pending(h, 1, What::TIMEOUT).1, Some(140 * MS + ns));
}

#[test]
fn loop_conditions_do_not_outlive_their_run() {
    // The loop keeps break, continue, exit, ONCE and NONBLOCK in one word; each must end with
    // the run (or, for an exit, with the run it ends) and no later.
    let mut b = ticking();
    let mut n = 0;
    assert_eq!(
        run(&mut b, LoopFlags::ONCE, |_, _| n += 1),
        Ok(Outcome::Exited)
    );
    assert_eq!(n, 1, "ONCE: one iteration");
    // Not ONCE any more, and a continue asked for while idle is forgotten: the run goes on
    // until its break.
    b.loopcontinue();
    let mut n = 0;
    let r = run(&mut b, LoopFlags::empty(), |b, _| {
        n += 1;
        if n == 3 {
            b.loopbreak();
        }
    });
    assert_eq!((r, n), (Ok(Outcome::Exited), 3));
    // An exit ends the run it is due in, and only that one.
    b.loopexit(None);
    assert_eq!(
        run(&mut b, LoopFlags::empty(), |_, _| panic!("exit first")),
        Ok(Outcome::Exited)
    );
    set_now(now() + 2 * MS);
    let mut n = 0;
    assert_eq!(
        run(&mut b, LoopFlags::NONBLOCK, |_, _| n += 1),
        Ok(Outcome::Exited)
    );
    assert_eq!(n, 1, "the due timer ran, then NONBLOCK ended the run");
    // An exit asked for inside a NONBLOCK run's callback ends that run at the iteration's end.
    set_now(now() + 2 * MS);
    let mut n = 0;
    assert_eq!(
        run(
            &mut b,
            LoopFlags::NONBLOCK | LoopFlags::NO_EXIT_ON_EMPTY,
            |b, _| {
                n += 1;
                b.loopexit(None);
            }
        ),
        Ok(Outcome::Exited)
    );
    assert_eq!(n, 1);
    assert!(!b.exit_pending(), "consumed by the run it ended");
}

#[test]
fn adding_again_with_a_timeout_queues_behind_equal_deadlines_and_cancels_a_firing() {
    let mut b = base();
    set_now(0);
    let s: Vec<Spec> = (1..=3)
        .map(|t| spec(t as RawFd + 1, What::READ | What::PERSIST, t))
        .collect();
    let t100 = Some(Duration::from_millis(100));
    let mut h: Vec<Handle> = s.iter().map(|s| b.add(None, s, t100).unwrap()).collect();
    // Same deadline as before: `1` goes behind `2` and `3`, as a new timer would.
    assert_eq!(b.add(Some(h[0]), &s[0], t100), Ok(h[0]));
    // Again, last already: it stays last.
    assert_eq!(b.add(Some(h[0]), &s[0], t100), Ok(h[0]));
    // An earlier deadline leaves the run for the heap; a later one comes back to it.
    h[2] = b
        .add(Some(h[2]), &s[2], Some(Duration::from_millis(50)))
        .unwrap();
    assert_eq!(b.pending(h[2], 3, What::TIMEOUT).1, Some(50 * MS));
    let mut ran = Vec::new();
    run(&mut b, LoopFlags::ONCE, |_, r| ran.push((r.token, now()))).unwrap();
    assert_eq!(ran, [(3, 50 * MS)]);
    // `3` re-armed from its deadline, behind the others' 100 ms.
    run(&mut b, LoopFlags::ONCE, |_, r| ran.push((r.token, now()))).unwrap();
    assert_eq!(ran[1..], [(2, 100 * MS), (1, 100 * MS), (3, 100 * MS)]);
    // A timeout that fired and has not run yet is cancelled by adding the event again.
    set_now(300 * MS);
    b.start(LoopFlags::ONCE).unwrap();
    let Step::Run(first) = b.step().unwrap() else {
        panic!("nothing ran");
    };
    // `3` every 50 ms is due since 150 ms, `2` and `1` since 200 ms.
    assert_eq!((first.token, first.res), (3, What::TIMEOUT));
    assert_eq!(b.add(Some(h[0]), &s[0], t100), Ok(h[0]));
    assert_eq!(
        b.pending(h[0], 1, What::all()).0,
        What::READ | What::TIMEOUT
    );
    assert_eq!(b.pending(h[0], 1, What::TIMEOUT).1, Some(400 * MS));
    let rest: Vec<_> = rest_of_run(&mut b).iter().map(|r| r.token).collect();
    assert_eq!(rest, [2], "1's firing was cancelled");
}

/// Two persistent READ events with 100 ms timeouts, armed at 0; `a` (token 1) reads at 40 ms and
/// its callback does `act`. Returns the base, the handles of `a` and `c` (token 2), and every
/// event run after that (timeouts, unless `act` activates one), with the time it ran, up to
/// 300 ms.
fn after_io_rearm(act: impl FnOnce(&mut Base, Ready)) -> (Base, Handle, Handle, Vec<(usize, u64)>) {
    let (mut b, _, ha, hc) = two_timed_readers();
    let mut act = Some(act);
    let mut ran = Vec::new();
    run(&mut b, LoopFlags::ONCE, |b, r| match act.take() {
        Some(act) => {
            assert_eq!((r.token, r.res), (1, What::READ));
            act(b, r);
        }
        None => ran.push((r.token, now())),
    })
    .unwrap();
    for _ in 0..1000 {
        if now() >= 300 * MS {
            break;
        }
        run(&mut b, LoopFlags::ONCE, |_, r| {
            assert_eq!(r.res, What::TIMEOUT);
            ran.push((r.token, now()));
        })
        .unwrap();
    }
    assert!(now() >= 300 * MS, "the runs stopped waiting");
    (b, ha, hc, ran)
}

#[test]
fn the_io_rearm_is_seen_inside_the_callback() {
    let (b, ha, hc, ran) = after_io_rearm(|b, r| {
        // Re-armed from 40 ms before the callback runs, whatever the callback does next.
        assert_eq!(
            b.pending(r.handle, 1, What::all()),
            (What::READ | What::TIMEOUT, Some(140 * MS))
        );
        let deadlines: Vec<_> = b.events().map(|e| (e.token, e.deadline)).collect();
        assert_eq!(deadlines, [(1, Some(140 * MS)), (2, Some(100 * MS))]);
        assert_eq!(b.counts().added, 4);
        // Moving the clock inside the callback does not move that deadline.
        set_now(45 * MS);
        b.update_cache_time();
        assert_eq!(b.pending(r.handle, 1, What::TIMEOUT).1, Some(140 * MS));
    });
    assert_eq!(b.pending(ha, 1, What::TIMEOUT).1, Some(340 * MS));
    assert_eq!(b.pending(hc, 2, What::TIMEOUT).1, Some(400 * MS));
    assert_eq!(
        ran,
        [
            (2, 100 * MS),
            (1, 140 * MS),
            (2, 200 * MS),
            (1, 240 * MS),
            (2, 300 * MS)
        ]
    );
}

#[test]
fn a_callback_changes_its_timer_after_the_io_rearm() {
    let t = |ms| Some(Duration::from_millis(ms));
    let a = spec(2, What::READ | What::PERSIST, 1);
    // Deletes itself: only `c` is left.
    let (b, ha, _, ran) = after_io_rearm(|b, r| b.del(r.handle, 1).unwrap());
    assert!(!b.is_held(ha, 1));
    assert_eq!(ran, [(2, 100 * MS), (2, 200 * MS), (2, 300 * MS)]);
    assert_eq!(b.counts().added, 2);
    // Deletes itself and adds a new timer, which takes its slot: the timer is the new one's.
    let (_, _, _, ran) = after_io_rearm(|b, r| {
        b.del(r.handle, 1).unwrap();
        let h = b.add(None, &spec(-1, What::PERSIST, 3), t(10)).unwrap();
        assert_eq!(b.pending(h, 3, What::TIMEOUT).1, Some(50 * MS));
        b.add(None, &spec(-1, What::empty(), 4), t(5)).unwrap();
        assert_eq!(b.pending(h, 3, What::TIMEOUT).1, Some(50 * MS));
    });
    assert_eq!(ran[..3], [(4, 45 * MS), (3, 50 * MS), (3, 60 * MS)]);
    // Removes its timer: still inserted, never times out.
    let (b, ha, _, ran) = after_io_rearm(|b, r| {
        b.del_timer(r.handle, 1).unwrap();
        assert_eq!(b.pending(r.handle, 1, What::all()), (What::READ, None));
        assert_eq!(b.counts().added, 3);
    });
    assert_eq!(b.pending(ha, 1, What::all()), (What::READ, None));
    assert_eq!(ran, [(2, 100 * MS), (2, 200 * MS), (2, 300 * MS)]);
    // Adds itself again without a timeout: the re-arm from 40 ms stands.
    let (_, _, _, ran) = after_io_rearm(|b, r| {
        assert_eq!(b.add(Some(r.handle), &a, None), Ok(r.handle));
        assert_eq!(b.pending(r.handle, 1, What::TIMEOUT).1, Some(140 * MS));
    });
    assert_eq!(ran[..2], [(2, 100 * MS), (1, 140 * MS)]);
    // Adds itself again with a shorter timeout (into the heap), or a longer one.
    let (_, _, _, ran) = after_io_rearm(|b, r| {
        assert_eq!(b.add(Some(r.handle), &a, t(30)), Ok(r.handle));
        assert_eq!(b.pending(r.handle, 1, What::TIMEOUT).1, Some(70 * MS));
    });
    assert_eq!(ran[..3], [(1, 70 * MS), (2, 100 * MS), (1, 100 * MS)]);
    let (_, _, _, ran) = after_io_rearm(|b, r| {
        assert_eq!(b.add(Some(r.handle), &a, t(200)), Ok(r.handle));
        assert_eq!(b.pending(r.handle, 1, What::TIMEOUT).1, Some(240 * MS));
    });
    assert_eq!(
        ran,
        [(2, 100 * MS), (2, 200 * MS), (1, 240 * MS), (2, 300 * MS)]
    );
    // Adds another timer due with the re-arm: the re-arm came first (though it is put off until
    // the callback returns), so it fires first.
    let (_, _, _, ran) = after_io_rearm(|b, _| {
        b.add(None, &spec(-1, What::empty(), 5), t(100)).unwrap();
    });
    assert_eq!(ran[..3], [(2, 100 * MS), (1, 140 * MS), (5, 140 * MS)]);
    // Twice with a timeout: the second counts, from the same time.
    let (_, _, _, ran) = after_io_rearm(|b, r| {
        b.add(Some(r.handle), &a, t(200)).unwrap();
        b.add(Some(r.handle), &a, t(100)).unwrap();
        assert_eq!(b.pending(r.handle, 1, What::TIMEOUT).1, Some(140 * MS));
    });
    assert_eq!(ran[..2], [(2, 100 * MS), (1, 140 * MS)]);
}

#[test]
fn timers_armed_in_the_callback_after_the_io_rearm_go_behind_it() {
    let t = |ms| Some(Duration::from_millis(ms));
    let c = spec(3, What::READ | What::PERSIST, 2);
    // A new timer due at the same time as the re-armed event fires after it; an earlier one
    // before it.
    let (_, _, _, ran) = after_io_rearm(|b, _| {
        b.add(None, &spec(-1, What::empty(), 3), t(100)).unwrap();
        b.add(None, &spec(-1, What::empty(), 4), t(80)).unwrap();
    });
    assert_eq!(
        ran[..4],
        [(2, 100 * MS), (4, 120 * MS), (1, 140 * MS), (3, 140 * MS)]
    );
    // So does another event's timer set again to that time, and then the event that ran,
    // set again to that time as well, goes behind it.
    let (_, _, _, ran) = after_io_rearm(|b, r| {
        let hc = b.handle_of(2);
        b.add(Some(hc), &c, t(100)).unwrap();
        assert_eq!(b.pending(r.handle, 1, What::TIMEOUT).1, Some(140 * MS));
        assert_eq!(b.pending(hc, 2, What::TIMEOUT).1, Some(140 * MS));
    });
    assert_eq!(ran[..2], [(1, 140 * MS), (2, 140 * MS)]);
    let a = spec(2, What::READ | What::PERSIST, 1);
    let (_, _, _, ran) = after_io_rearm(|b, r| {
        let hc = b.handle_of(2);
        b.add(Some(hc), &c, t(100)).unwrap();
        b.add(Some(r.handle), &a, t(100)).unwrap();
    });
    assert_eq!(ran[..2], [(2, 140 * MS), (1, 140 * MS)]);
    // Activating itself changes no deadline; that activation re-arms it again when it runs.
    let (_, _, _, ran) = after_io_rearm(|b, r| {
        b.activate(Some(r.handle), &a, What::WRITE, 0).unwrap();
        assert_eq!(b.pending(r.handle, 1, What::TIMEOUT).1, Some(140 * MS));
    });
    assert_eq!(ran[..3], [(1, 40 * MS), (2, 100 * MS), (1, 140 * MS)]);
}

impl Base {
    /// The handle of the event carrying `token`.
    fn handle_of(&self, token: usize) -> Handle {
        self.events().find(|e| e.token == token).unwrap().handle
    }
}

mod persistent_order {
    //! Persistent I/O events with timeouts against a model of the loop: whatever the callbacks
    //! do after their event's I/O re-arm (add it again with or without a timeout, delete it,
    //! remove its timer, arm, delete or activate another), the events run in the same order with
    //! the same results, and every deadline `pending` and `events` report, inside callbacks and
    //! between runs, is the model's.
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;
    use std::vec;

    const N: usize = 6;

    #[derive(Clone, Copy, Debug)]
    enum Act {
        Nothing,
        Again(u64),
        AgainNone,
        DelSelf,
        DelTimerSelf,
        Arm(usize, u64),
        Del(usize),
        Activate(usize),
    }

    #[derive(Clone, Debug)]
    enum Op {
        Arm(usize, u64),
        Ready(usize),
        Del(usize),
        DelTimer(usize),
        Activate(usize),
        /// Moves the clock, then runs `NONBLOCK`; the k-th callback does `acts[k]`, if any.
        Run(u64, Vec<Vec<Act>>),
    }

    fn ms() -> impl Strategy<Value = u64> {
        prop::sample::select(vec![0u64, 1, 5, 5, 10, 10, 20])
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            1 => Just(Act::Nothing),
            4 => ms().prop_map(Act::Again),
            1 => Just(Act::AgainNone),
            1 => Just(Act::DelSelf),
            1 => Just(Act::DelTimerSelf),
            2 => (0..N, ms()).prop_map(|(e, ms)| Act::Arm(e, ms)),
            1 => (0..N).prop_map(Act::Del),
            1 => (0..N).prop_map(Act::Activate),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..N, ms()).prop_map(|(e, ms)| Op::Arm(e, ms)),
            3 => (0..N).prop_map(Op::Ready),
            1 => (0..N).prop_map(Op::Del),
            1 => (0..N).prop_map(Op::DelTimer),
            1 => (0..N).prop_map(Op::Activate),
            3 => (0..12u64, prop::collection::vec(prop::collection::vec(act(), 1..3), 0..8))
                .prop_map(|(ms, a)| Op::Run(ms, a)),
        ]
    }

    fn sp(e: usize) -> Spec {
        spec(e as RawFd + 2, What::READ | What::PERSIST, e)
    }

    /// One event of the model: held (always inserted, as every event here has an fd), its
    /// timer as (deadline, order armed), and its activation.
    #[derive(Clone, Copy, Debug, Default)]
    struct Ev {
        held: bool,
        timer: Option<(u64, u64)>,
        interval: u64,
        periodic: bool,
        timed_out: bool,
        active: bool,
        res: What,
    }

    #[derive(Default)]
    struct Model {
        ev: [Ev; N],
        order: u64,
        queue: VecDeque<usize>,
        ready: Vec<usize>,
    }

    type Seen = [Option<u64>; N];

    impl Model {
        fn arm(&mut self, e: usize, deadline: u64) {
            self.order += 1;
            self.ev[e].timer = Some((deadline, self.order));
        }
        fn add(&mut self, e: usize, ms: u64) {
            self.ev[e].held = true;
            self.arm(e, now() + ms * MS);
            let v = &mut self.ev[e];
            v.interval = ms * MS;
            v.periodic = true;
            v.timed_out = false;
            if v.active && v.res.contains(What::TIMEOUT) {
                v.res.remove(What::TIMEOUT);
                if v.res.is_empty() {
                    v.active = false;
                    self.queue.retain(|&x| x != e);
                }
            }
        }
        fn del(&mut self, e: usize) {
            self.ev[e] = Ev::default();
            self.queue.retain(|&x| x != e);
            self.ready.retain(|&x| x != e);
        }
        fn del_timer(&mut self, e: usize) {
            let v = &mut self.ev[e];
            v.timer = None;
            v.periodic = false;
            v.timed_out = false;
        }
        fn activate(&mut self, e: usize, res: What) {
            let v = &mut self.ev[e];
            if v.active {
                v.res |= res;
            } else {
                v.active = true;
                v.res = res;
                self.queue.push_back(e);
            }
        }
        fn seen(&self) -> Seen {
            core::array::from_fn(|e| self.ev[e].timer.map(|(d, _)| d))
        }
        fn added(&self) -> u32 {
            self.ev
                .iter()
                .map(|v| u32::from(v.held) + u32::from(v.timer.is_some()))
                .sum()
        }
        /// A `NONBLOCK` run: what ran, and what was seen before and after each callback's act.
        fn run(&mut self, acts: &[Vec<Act>]) -> (Vec<(usize, What)>, Vec<Seen>) {
            let (mut ran, mut seen) = (Vec::new(), Vec::new());
            let now = now();
            loop {
                if !self.ev.iter().any(|v| v.held) {
                    break;
                }
                for e in core::mem::take(&mut self.ready) {
                    self.activate(e, What::READ);
                }
                while let Some((d, _, e)) = (0..N)
                    .filter_map(|e| self.ev[e].timer.map(|(d, o)| (d, o, e)))
                    .min()
                    .filter(|&(d, _, _)| d <= now)
                {
                    let v = self.ev[e];
                    let mut at = d + v.interval;
                    if at <= now {
                        at = now + v.interval.max(1);
                    }
                    self.arm(e, at);
                    self.ev[e].timed_out = true;
                    self.activate(e, What::TIMEOUT);
                }
                let before = ran.len();
                while let Some(e) = self.queue.pop_front() {
                    let v = &mut self.ev[e];
                    let res = core::mem::take(&mut v.res);
                    v.active = false;
                    if v.timed_out {
                        v.timed_out = false;
                    } else if v.periodic && v.timer.is_some() {
                        let interval = v.interval;
                        self.arm(e, now + interval);
                    }
                    seen.push(self.seen());
                    for &act in acts.get(ran.len()).map_or(&[][..], |a| &a[..]) {
                        match act {
                            Act::Nothing => {}
                            Act::AgainNone => {
                                // A deleted event added again without a timeout is only
                                // inserted.
                                self.ev[e].held = true;
                            }
                            Act::Again(ms) => self.add(e, ms),
                            Act::DelSelf => self.del(e),
                            Act::DelTimerSelf => self.del_timer(e),
                            Act::Arm(x, ms) => self.add(x, ms),
                            Act::Del(x) => self.del(x),
                            Act::Activate(x) => {
                                if self.ev[x].held {
                                    self.activate(x, What::WRITE);
                                }
                            }
                        }
                        seen.push(self.seen());
                    }
                    ran.push((e, res));
                }
                if ran.len() == before {
                    break;
                }
            }
            (ran, seen)
        }
    }

    /// What the base reports, through `pending` and through `events`, which must agree.
    fn seen(b: &Base, handles: &[Option<Handle>; N]) -> Seen {
        let by_pending: Seen =
            core::array::from_fn(|e| handles[e].and_then(|h| b.pending(h, e, What::TIMEOUT).1));
        let mut by_events: Seen = [None; N];
        for info in b.events() {
            by_events[info.token] = info.deadline;
        }
        assert_eq!(by_pending, by_events);
        by_pending
    }

    proptest! {
        #[test]
        fn io_rearms_and_callbacks_keep_the_model_order(ops in prop::collection::vec(op(), 1..60)) {
            set_now(0);
            let mut b = base();
            let mut handles: [Option<Handle>; N] = [None; N];
            let mut m = Model::default();
            let t = |ms: u64| Some(Duration::from_millis(ms));
            for op in ops {
                match op {
                    Op::Arm(e, ms) => {
                        handles[e] = Some(b.add(handles[e], &sp(e), t(ms)).unwrap());
                        m.add(e, ms);
                    }
                    Op::Ready(e) => {
                        if m.ev[e].held {
                            b.io.backend.ready.push((e as RawFd + 2, What::READ));
                            m.ready.push(e);
                        }
                    }
                    Op::Del(e) => {
                        if let Some(h) = handles[e].take() {
                            b.del(h, e).unwrap();
                            b.io.backend.ready.retain(|&(fd, _)| fd != e as RawFd + 2);
                        }
                        m.del(e);
                    }
                    Op::DelTimer(e) => {
                        if let Some(h) = handles[e] {
                            b.del_timer(h, e).unwrap();
                        }
                        m.del_timer(e);
                    }
                    Op::Activate(e) => {
                        if let Some(h) = handles[e] {
                            b.activate(Some(h), &sp(e), What::WRITE, 0).unwrap();
                            m.activate(e, What::WRITE);
                        }
                    }
                    Op::Run(ms, acts) => {
                        set_now(now() + ms * MS);
                        let want = m.run(&acts);
                        let (mut ran, mut saw) = (Vec::new(), Vec::new());
                        run(&mut b, LoopFlags::NONBLOCK, |b, r| {
                            let e = r.token;
                            assert!(ran.len() < 1000, "runaway run");
                            saw.push(seen(b, &handles));
                            for &act in acts.get(ran.len()).map_or(&[][..], |a| &a[..]) {
                                // The event's own handle, while it has one: it may have been
                                // deleted and added again by an earlier act.
                                let me = handles[e];
                                match act {
                                    Act::Nothing => {}
                                    Act::Again(ms) => {
                                        handles[e] = Some(b.add(me, &sp(e), t(ms)).unwrap());
                                    }
                                    Act::AgainNone => {
                                        handles[e] = Some(b.add(me, &sp(e), None).unwrap());
                                    }
                                    Act::DelSelf | Act::Del(_) => {
                                        let x = if let Act::Del(x) = act { x } else { e };
                                        if let Some(h) = handles[x].take() {
                                            b.del(h, x).unwrap();
                                        }
                                    }
                                    Act::DelTimerSelf => {
                                        if let Some(h) = me {
                                            b.del_timer(h, e).unwrap();
                                        }
                                    }
                                    Act::Arm(x, ms) => {
                                        handles[x] = Some(b.add(handles[x], &sp(x), t(ms)).unwrap());
                                    }
                                    Act::Activate(x) => {
                                        if let Some(h) = handles[x] {
                                            b.activate(Some(h), &sp(x), What::WRITE, 0).unwrap();
                                        }
                                    }
                                }
                                saw.push(seen(b, &handles));
                            }
                            ran.push((e, r.res));
                        })
                        .unwrap();
                        prop_assert_eq!(&ran, &want.0);
                        prop_assert_eq!(&saw, &want.1);
                    }
                }
                prop_assert_eq!(seen(&b, &handles), m.seen());
                prop_assert_eq!(b.counts().added, m.added());
            }
        }
    }
}

/// Deleting one active event of a priority above 0 (the first, a middle one, the last) leaves
/// the others queued there to run, in order; a priority-0 queue behaves the same.
#[test]
fn deleting_one_active_event_keeps_the_rest_of_its_priority_queued() {
    for pri in [1u8, 2, 0] {
        for victim in 0..3 {
            let mut b = base();
            b.set_priorities(3).unwrap();
            let ev = |t| Spec {
                fd: -1,
                events: What::empty(),
                priority: pri,
                token: t,
            };
            let hs: Vec<Handle> = (0..3)
                .map(|t| b.activate(None, &ev(t), What::TIMEOUT, 0).unwrap())
                .collect();
            b.del(hs[victim], victim).unwrap();
            assert_eq!(b.counts().active, 2);
            let mut order = Vec::new();
            run(&mut b, LoopFlags::NONBLOCK, |_, r| order.push(r.token)).unwrap();
            let want: Vec<usize> = (0..3).filter(|&t| t != victim).collect();
            assert_eq!(order, want, "priority {pri}, deleted {victim}");
            assert_eq!(b.counts(), Counts::default());
        }
    }
}

/// Timer storage whose `grow` says yes and does nothing.
#[derive(Default)]
struct LyingTimers;

impl crate::Storage<Timer> for LyingTimers {
    fn as_slice(&self) -> &[Timer] {
        &[]
    }
    fn as_mut_slice(&mut self) -> &mut [Timer] {
        &mut []
    }
    fn grow(&mut self, _: usize, _: Timer) -> bool {
        true
    }
}

/// Fixed tables but the timers, which lie about growing.
struct Lying;

impl Tables for Lying {
    type Slots = heapless::Vec<Slot, 8>;
    type Fds = heapless::Vec<FdEntry, 8>;
    type Timers = LyingTimers;
    type Changes = heapless::Vec<Change, 8>;
}

/// A timer storage that says it grew and did not is full: every timed add is
/// `Full(Timers)` and leaves the base as it was, whether the timer would go to the heap or the
/// run of timers; untimed events are unaffected.
#[test]
fn lying_timer_storage_is_full_not_a_panic() {
    let mut b: EventBase<Script, TestClock, Lying> = EventBase::new(
        Script::default(),
        TestClock,
        Parts::default(),
        BaseFlags::empty(),
    );
    for (t, ms) in [(1, 5), (2, 1), (3, 9)] {
        let e = spec(-1, What::empty(), t);
        assert_eq!(
            b.add(None, &e, Some(Duration::from_millis(ms))),
            Err(Error::Full(Resource::Timers))
        );
        let io = spec(4, What::READ, t + 10);
        assert_eq!(
            b.add(None, &io, Some(Duration::from_millis(ms))),
            Err(Error::Full(Resource::Timers))
        );
        assert_eq!(b.counts(), Counts::default());
    }
    let h = b.add(None, &spec(4, What::READ, 20), None).unwrap();
    assert_eq!(
        b.add(
            Some(h),
            &spec(4, What::READ, 20),
            Some(Duration::from_millis(1))
        ),
        Err(Error::Full(Resource::Timers))
    );
    assert_eq!(b.pending(h, 20, What::all()).0, What::READ);
    assert_eq!(b.counts().added, 1);
}

/// A timeout that fired is cancelled when the event is given a new timeout before its callback
/// runs (libevent's rule), whether the event is inserted (I/O) or a pure timer; an event
/// activated through the API keeps its activation when it gets a timeout.
#[test]
fn a_new_timeout_cancels_a_firing_not_an_activation() {
    for fd in [4, -1] {
        let mut b = base();
        let first = spec(-1, What::empty(), 1);
        let ev = spec(
            fd,
            if fd < 0 {
                What::empty()
            } else {
                What::READ | What::PERSIST
            },
            2,
        );
        let ms = |n| Some(Duration::from_millis(n));
        b.add(None, &first, ms(10)).unwrap();
        let mut h = Some(b.add(None, &ev, ms(10)).unwrap());
        let mut ran = Vec::new();
        run(&mut b, LoopFlags::ONCE, |b, r| {
            ran.push(r.token);
            if r.token == 1 {
                h = Some(b.add(h, &ev, ms(10)).unwrap());
            }
        })
        .unwrap();
        assert_eq!(ran, [1], "fd {fd}: the firing of 2 was cancelled");
        assert_eq!(b.pending(h.unwrap(), 2, What::TIMEOUT).0, What::TIMEOUT);

        // Activated (with nothing) and then given a timeout: it still runs, once.
        let h2 = b.activate(h, &ev, What::empty(), 0).unwrap();
        b.add(Some(h2), &ev, ms(50)).unwrap();
        let mut ran = Vec::new();
        run(&mut b, LoopFlags::NONBLOCK, |_, r| {
            ran.push((r.token, r.res))
        })
        .unwrap();
        assert_eq!(ran, [(2, What::empty())], "fd {fd}");
    }
}

/// An activation above the priority being run ends the iteration even if that event is deleted
/// before it runs (libevent's `event_continue`): the rest of the queue waits for the next
/// dispatch, and what that dispatch reports at a higher priority runs first. An activation below
/// the running priority ends nothing.
#[test]
fn only_an_activation_above_the_running_priority_ends_the_iteration() {
    let ev = |fd, events, priority, token| Spec {
        fd,
        events,
        priority,
        token,
    };
    for (above, want) in [(true, &[1, 9, 2][..]), (false, &[1, 2, 9, 7][..])] {
        let mut b = base();
        b.set_priorities(3).unwrap();
        // A reader at priority 0, whose fd the first callback makes ready.
        b.add(None, &ev(3, What::READ, 0, 9), None).unwrap();
        for t in [1, 2] {
            b.activate(None, &ev(-1, What::empty(), 1, t), What::TIMEOUT, 0)
                .unwrap();
        }
        let mut order = Vec::new();
        run(&mut b, LoopFlags::empty(), |b, r| {
            order.push(r.token);
            if r.token != 1 {
                return;
            }
            b.io.backend.ready.push((3, What::READ));
            let other = ev(-1, What::empty(), if above { 0 } else { 2 }, 7);
            let h = b.activate(None, &other, What::TIMEOUT, 0).unwrap();
            if above {
                b.del(h, 7).unwrap();
            }
        })
        .unwrap();
        assert_eq!(order, want, "activated above: {above}");
    }
}

/// What a loop nested in another asks: whether a run is in progress (so, inside callbacks), and
/// the earliest time to wake it for, its first timer or a timed exit.
#[test]
fn running_and_the_next_deadline() {
    set_now(0);
    let mut b = base();
    assert_eq!(b.next_deadline(), None);
    let t = spec(-1, What::empty(), 1);
    let h = b.add(None, &t, Some(Duration::from_millis(50))).unwrap();
    assert_eq!(b.next_deadline(), Some(50 * MS), "the timer");
    assert!(!b.exit_pending());
    b.loopexit(Some(Duration::from_millis(80)));
    assert!(b.exit_pending());
    assert_eq!(
        b.next_deadline(),
        Some(50 * MS),
        "the timer, before the exit"
    );
    b.del(h, 1).unwrap();
    assert_eq!(b.next_deadline(), Some(80 * MS), "the exit");
    b.add(None, &t, Some(Duration::from_millis(90))).unwrap();
    assert_eq!(
        b.next_deadline(),
        Some(80 * MS),
        "the exit, before the timer"
    );
    assert!(!b.is_running());
    let mut ran = 0;
    let done = run(&mut b, LoopFlags::empty(), |b, _| {
        assert!(b.is_running());
        ran += 1;
    });
    assert_eq!((done, ran), (Ok(Outcome::Exited), 0), "the exit came first");
    assert!(!b.is_running() && !b.exit_pending());
    assert_eq!(b.next_deadline(), Some(90 * MS));
    run(&mut b, LoopFlags::empty(), |b, r| {
        assert!(b.is_running());
        ran += r.token;
    })
    .unwrap();
    assert_eq!((ran, b.is_running()), (1, false));
}

/// A due exit, or a break asked for between `start` and the first step, ends the run at the top
/// of its first iteration: before its wait and before any callback, with events active (and
/// with another exit pending, not due yet).
#[test]
fn a_due_exit_or_an_early_break_stops_the_run_before_its_first_wait() {
    let mut b = base();
    b.activate(None, &spec(-1, What::empty(), 1), What::TIMEOUT, 0)
        .unwrap();
    b.loopexit(None);
    assert_eq!(
        run(&mut b, LoopFlags::empty(), |_, _| panic!("exit first")),
        Ok(Outcome::Exited)
    );
    b.loopexit(Some(Duration::from_secs(60)));
    b.start(LoopFlags::empty()).unwrap();
    b.loopbreak();
    assert_eq!(b.step(), Ok(Step::Done(Outcome::Exited)));
    assert_eq!(b.backend().waits.len(), 0);
    assert_eq!(b.counts().active, 1);
    assert!(b.exit_pending());
    // The exit outlives the run the break ended, and ends the next one when due.
    set_now(now() + 60_000 * MS);
    assert_eq!(
        run(&mut b, LoopFlags::empty(), |_, _| panic!("exit first")),
        Ok(Outcome::Exited)
    );
    assert!(!b.exit_pending());
}

/// A `NONBLOCK` run goes on while its iterations run callbacks: what a callback makes ready runs
/// in the same run, after one more wait (for no time).
#[test]
fn a_nonblock_run_goes_on_while_callbacks_run() {
    let mut b = base();
    b.add(None, &spec(3, What::READ, 1), None).unwrap();
    b.add(None, &spec(4, What::READ | What::PERSIST, 2), None)
        .unwrap();
    b.io.backend.ready.push((3, What::READ));
    let mut ran = Vec::new();
    let done = run(&mut b, LoopFlags::NONBLOCK, |b, r| {
        ran.push(r.token);
        if r.token == 1 {
            b.io.backend.ready.push((4, What::READ));
        }
    });
    assert_eq!((done, &ran[..]), (Ok(Outcome::Exited), &[1, 2][..]));
    assert_eq!(b.backend().waits, [Some(Duration::ZERO); 3]);
}

/// A `ONCE` run waits again after a wait that made nothing active (here a report of readiness
/// no event on the fd asked for), and ends after the iteration that runs its timer.
#[test]
fn a_once_run_goes_on_until_a_callback_runs() {
    let mut b = base();
    b.add(None, &spec(3, What::READ, 1), None).unwrap();
    b.add(
        None,
        &spec(-1, What::empty(), 2),
        Some(Duration::from_millis(10)),
    )
    .unwrap();
    b.io.backend.ready.push((3, What::WRITE));
    let mut ran = Vec::new();
    let done = run(&mut b, LoopFlags::ONCE, |_, r| ran.push(r.token));
    assert_eq!((done, &ran[..]), (Ok(Outcome::Exited), &[2][..]));
    assert_eq!(b.backend().waits.len(), 2);
}

/// A timed exit ends the run at the end of the iteration that sees it pass, not before.
#[test]
fn a_timed_exit_waits_for_its_time() {
    set_now(0);
    let mut b = ticking();
    b.loopexit(Some(Duration::from_micros(10_500)));
    let mut ticks = 0;
    let done = run(&mut b, LoopFlags::empty(), |_, _| ticks += 1);
    assert_eq!((done, ticks, now()), (Ok(Outcome::Exited), 10, 10_500_000));
}

/// A virtual event (one the adapter counts but the base does not hold) keeps a run from ending
/// empty, and so does a pending exit, which ends it when due.
#[test]
fn virtual_events_and_a_pending_exit_keep_the_run_going() {
    set_now(0);
    let mut b = base();
    b.add_virtual();
    let nothing = |_: &mut Base, _| panic!("nothing to run");
    assert_eq!(
        run(&mut b, LoopFlags::NONBLOCK, nothing),
        Ok(Outcome::Exited)
    );
    b.del_virtual();
    assert_eq!(
        run(&mut b, LoopFlags::NONBLOCK, nothing),
        Ok(Outcome::Empty)
    );
    b.loopexit(Some(Duration::from_millis(5)));
    assert_eq!(
        run(&mut b, LoopFlags::empty(), nothing),
        Ok(Outcome::Exited)
    );
    assert_eq!((now(), b.backend().waits.len()), (5 * MS, 2));
}

/// The wait after callbacks ran counts from when they ended, not from the time read before them
/// (a slow callback here takes 4 ms).
#[test]
fn the_wait_after_callbacks_counts_from_when_they_ended() {
    set_now(0);
    let mut b = base();
    let timer = spec(-1, What::empty(), 1);
    b.add(None, &timer, Some(Duration::from_millis(10)))
        .unwrap();
    b.activate(None, &spec(-1, What::empty(), 2), What::TIMEOUT, 0)
        .unwrap();
    let mut ran = Vec::new();
    run(&mut b, LoopFlags::empty(), |_, r| {
        ran.push((r.token, now()));
        if r.token == 2 {
            set_now(now() + 4 * MS);
        }
    })
    .unwrap();
    assert_eq!(ran, [(2, 0), (1, 10 * MS)]);
    let waits = [Some(Duration::ZERO), Some(Duration::from_millis(6))];
    assert_eq!(b.backend().waits, waits);
}

/// Over a changelist backend, what the caller or a callback recorded is applied in one batch
/// before the next wait, one change per fd, and nothing else: the batch is not started afresh.
#[test]
fn a_changelist_backend_gets_each_batch_before_the_wait() {
    let script = Script {
        changelist: true,
        ..Script::default()
    };
    let mut b: Base = EventBase::new(script, TestClock, Parts::default(), BaseFlags::empty());
    b.add(None, &spec(3, What::READ | What::PERSIST, 1), None)
        .unwrap();
    let w = b.add(None, &spec(3, What::WRITE, 2), None).unwrap();
    b.del(w, 2).unwrap();
    assert!(b.backend().applied.is_empty(), "recorded, not applied yet");
    b.io.backend.ready.push((3, What::READ));
    run(&mut b, LoopFlags::ONCE, |b, _| {
        b.add(None, &spec(4, What::WRITE, 3), None).unwrap();
    })
    .unwrap();
    assert_eq!(b.backend().applied, [(0, 3, What::READ)]);
    run(&mut b, LoopFlags::NONBLOCK, |_, _| {}).unwrap();
    assert_eq!(
        b.backend().applied,
        [(0, 3, What::READ), (1, 4, What::WRITE)]
    );
}

/// A signal event that is not persistent runs once, however many deliveries it had, and is
/// deleted, as any other event.
#[test]
fn a_one_shot_signal_event_runs_once_and_is_deleted() {
    let mut b = base();
    let h = b.add(None, &spec(10, What::SIGNAL, 1), None).unwrap();
    b.signal_delivered(10, 3).unwrap();
    let mut ran = Vec::new();
    run(&mut b, LoopFlags::NONBLOCK, |_, r| {
        ran.push((r.token, r.res))
    })
    .unwrap();
    assert_eq!(ran, [(1, What::SIGNAL)]);
    assert!(!b.is_held(h, 1));
    assert_eq!(b.counts(), Counts::default());
    b.signal_delivered(10, 1).unwrap();
    let done = run(&mut b, LoopFlags::NONBLOCK, |_, _| panic!("deleted"));
    assert_eq!(done, Ok(Outcome::Empty));
}

/// A timer activated by hand before its time runs once: like any event that is not persistent,
/// it is deleted before its callback, its timeout with it.
#[test]
fn a_timer_activated_by_hand_runs_once_and_its_timeout_goes() {
    set_now(0);
    let mut b = base();
    let t = spec(-1, What::empty(), 1);
    let h = b.add(None, &t, Some(Duration::from_millis(100))).unwrap();
    b.activate(Some(h), &t, What::READ, 0).unwrap();
    let mut ran = Vec::new();
    run(&mut b, LoopFlags::NONBLOCK, |_, r| {
        ran.push((r.token, r.res))
    })
    .unwrap();
    assert_eq!(ran, [(1, What::READ)]);
    assert_eq!(b.counts(), Counts::default());
    assert_eq!(b.next_deadline(), None);
    set_now(200 * MS);
    let done = run(&mut b, LoopFlags::NONBLOCK, |_, _| panic!("deleted"));
    assert_eq!(done, Ok(Outcome::Empty));
}

/// A report of an fd no event waits on (its registration outlived a close, through a dup) starts
/// the backend afresh, with the registrations of the fds watched now.
#[test]
fn a_report_of_an_unwatched_fd_starts_the_backend_afresh() {
    let mut b = base();
    let h = b.add(None, &spec(3, What::READ, 1), None).unwrap();
    b.add(None, &spec(4, What::WRITE | What::PERSIST, 2), None)
        .unwrap();
    b.del(h, 1).unwrap();
    // fd 3 keeps its place in the fd map, with no event.
    b.io.backend.ready.push((3, What::READ));
    let done = run(&mut b, LoopFlags::NONBLOCK, |_, _| panic!("nothing to run"));
    assert_eq!(done, Ok(Outcome::Exited));
    assert_eq!(b.backend().reinits, 1);
    assert_eq!(b.backend().interest[3] & What::IO, What::empty());
    assert_eq!(b.backend().interest[4] & What::IO, What::WRITE);
}

/// A persistent event activated by hand while neither inserted nor timed holds nothing once its
/// callback runs: its slot goes back, and the loop has nothing left to wait for.
#[test]
fn a_persistent_event_activated_by_hand_is_let_go_after_its_run() {
    let mut b = base();
    let e = spec(-1, What::PERSIST, 1);
    let h = b.activate(None, &e, What::TIMEOUT, 0).unwrap();
    let mut n = 0;
    let done = run(&mut b, LoopFlags::empty(), |_, _| n += 1);
    assert_eq!((done, n), (Ok(Outcome::Empty), 1));
    assert!(!b.is_held(h, 1));
}

/// A report wakes each event on the fd with what happened among what it waits for: a READ wakes
/// READ interest, not WRITE; and CLOSED interest too on a backend without early-close reports
/// (the read may be the peer's close), but not on one with them.
#[test]
fn a_report_wakes_only_the_interest_it_is_for() {
    for early_close in [false, true] {
        let script = Script {
            early_close,
            ..Script::default()
        };
        let mut b: Base = EventBase::new(script, TestClock, Parts::default(), BaseFlags::empty());
        for (events, token) in [(What::READ, 1), (What::WRITE, 2), (What::CLOSED, 3)] {
            b.add(None, &spec(3, events, token), None).unwrap();
        }
        b.io.backend.ready.push((3, What::READ));
        let mut ran = Vec::new();
        run(&mut b, LoopFlags::NONBLOCK, |_, r| {
            ran.push((r.token, r.res))
        })
        .unwrap();
        let want: &[_] = if early_close {
            &[(1, What::READ)]
        } else {
            &[(3, What::CLOSED), (1, What::READ)]
        };
        assert_eq!(ran, want, "early close: {early_close}");
    }
}

#[test]
fn set_priority_moves_a_pending_event_and_keeps_its_timeout() {
    let mut b = base();
    b.set_priorities(3).unwrap();
    let s = Spec {
        priority: 1,
        ..spec(-1, What::PERSIST, 1)
    };
    let h = b.add(None, &s, Some(Duration::from_millis(100))).unwrap();
    let other = Spec {
        priority: 1,
        ..spec(-1, What::empty(), 2)
    };
    set_now(100 * MS);
    let mut ran = Vec::new();
    run(&mut b, LoopFlags::ONCE, |b, r| {
        ran.push(r.token);
        if r.token == 1 {
            // In its callback, its timeout re-armed from the cached time (100 ms): some time
            // passes, then the priority changes and nothing else does.
            set_now(130 * MS);
            b.set_priority(h, 1, 2).unwrap();
            b.set_priority(h, 1, 2).unwrap();
            assert_eq!(b.pending(h, 1, What::TIMEOUT).1, Some(200 * MS));
        }
    })
    .unwrap();
    assert_eq!(ran, [1]);
    // Due at 200 ms, with the other event: it now runs after it, in a later iteration.
    set_now(200 * MS);
    b.update_cache_time();
    let o = b.activate(None, &other, What::TIMEOUT, 0).unwrap();
    ran.clear();
    run(&mut b, LoopFlags::NONBLOCK, |_, r| ran.push(r.token)).unwrap();
    assert_eq!(ran, [2, 1]);
    assert!(!b.is_held(o, 2));
    // Its period is still 100 ms.
    assert_eq!(b.pending(h, 1, What::TIMEOUT).1, Some(300 * MS));
    // Out of range, a stale handle, an active event: refused, nothing changed.
    assert_eq!(b.set_priority(h, 1, 3), Err(Error::BadPriority(3)));
    assert_eq!(b.set_priority(o, 2, 0), Err(Error::StaleHandle));
    b.activate(Some(h), &s, What::TIMEOUT, 0).unwrap();
    assert_eq!(b.set_priority(h, 1, 0), Err(Error::Active));
    assert_eq!(b.queued().next().map(|e| e.priority), Some(2));
}

/// The one event a dispatch activates runs as if it had been queued when it was reported: its
/// own timeout firing in that iteration adds to its result; a timer of a higher priority that
/// fires then runs first, one of its priority after it; a signal caught in the same dispatch
/// runs after it.
#[test]
fn the_one_event_a_dispatch_activates_keeps_its_place() {
    let persist = What::READ | What::PERSIST;
    // Its own timeout: one run, with both results.
    let mut b = base();
    let ms10 = Some(Duration::from_millis(10));
    b.add(None, &spec(6, persist, 1), ms10).unwrap();
    b.io.backend.ready.push((6, What::READ));
    set_now(now() + 10 * MS);
    let mut ran = Vec::new();
    run(&mut b, LoopFlags::ONCE, |_, r| ran.push((r.token, r.res))).unwrap();
    assert_eq!(ran, [(1, What::READ | What::TIMEOUT)]);
    // A timer of a higher priority, then one of its own.
    for (timer_pri, want) in [(0, [2, 1]), (1, [1, 2])] {
        let mut b = base();
        b.set_priorities(2).unwrap();
        b.add(
            None,
            &Spec {
                priority: 1,
                ..spec(5, persist, 1)
            },
            None,
        )
        .unwrap();
        let timer = Spec {
            priority: timer_pri,
            ..spec(-1, What::empty(), 2)
        };
        b.add(None, &timer, ms10).unwrap();
        b.io.backend.ready.push((5, What::READ));
        set_now(now() + 10 * MS);
        let mut ran = Vec::new();
        run(&mut b, LoopFlags::ONCE, |_, r| ran.push(r.token)).unwrap();
        assert_eq!(ran, want, "timer priority {timer_pri}");
    }
    // A signal caught in the same dispatch.
    let mut b = base();
    b.add(None, &spec(5, persist, 1), None).unwrap();
    b.add(None, &spec(10, What::SIGNAL | What::PERSIST, 2), None)
        .unwrap();
    b.io.backend.signals.pending.push((10, 1));
    b.io.backend
        .ready
        .extend([(5, What::READ), (15, What::READ)]);
    let mut ran = Vec::new();
    run(&mut b, LoopFlags::ONCE, |_, r| ran.push((r.token, r.res))).unwrap();
    assert_eq!(ran, [(1, What::READ), (2, What::SIGNAL)]);
}
