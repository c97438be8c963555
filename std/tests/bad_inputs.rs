//! Bad inputs to the public entry points of `eventop`, on every backend (epoll, epoll with the
//! changelist, poll, select; io_uring where the kernel allows it; kqueue under libkqueue): each
//! gets its `Error` (and `io::ErrorKind`), nothing is grown or held for it, and the events the
//! base held before it still run. docs/robustness.md is the table; its std rows name these tests.
//! Real syscalls throughout.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventop::storage::{Grow, MAX_LEN};
use eventop::{
    Base, Builder, CoreError, Counts, Error, EventId, Exit, Features, Interest, Io, Mode,
    Readiness, TimeoutAction,
};
use eventop_core::Storage;

/// What the callbacks of a run saw, in order.
type Seen = Vec<&'static str>;
type B = Base<Seen>;

/// A bound against hangs only: the held events are due at once or within a millisecond.
const GUARD: Duration = Duration::from_secs(20);

/// A timeout far beyond any run: `u32::MAX` × 1000 seconds (136,000 years).
const HUGE: Duration = Duration::from_secs(u32::MAX as u64 * 1000);

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Epoll,
    EpollChangelist,
    Poll,
    Select,
    /// Where the kernel allows it; elsewhere selection falls back to epoll (then tested again).
    Uring,
    #[cfg(eventop_libkqueue)]
    Kqueue,
}

fn base(kind: Kind) -> B {
    let b = Builder::new().env(|_| false);
    let (b, name) = match kind {
        Kind::Epoll => (b, "epoll"),
        Kind::EpollChangelist => (b.epoll_changelist(), "epoll (with changelist)"),
        Kind::Poll => (b.avoid("epoll"), "poll"),
        Kind::Select => (b.avoid("epoll").avoid("poll"), "select"),
        Kind::Uring => (Builder::new().env(|v| v == "EVENT_IO_URING"), "io_uring"),
        #[cfg(eventop_libkqueue)]
        Kind::Kqueue => (b.avoid("epoll").avoid("poll").avoid("select"), "kqueue"),
    };
    let base = b.build().expect("a base");
    if kind != Kind::Uring {
        assert_eq!(base.backend_name(), name);
    }
    base
}

/// One `#[test]` per backend for each scenario `fn name(kind: Kind)`.
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod epoll { $(#[test] fn $name() { super::$name(super::Kind::Epoll) })* }
        mod epoll_changelist { $(#[test] fn $name() { super::$name(super::Kind::EpollChangelist) })* }
        mod poll { $(#[test] fn $name() { super::$name(super::Kind::Poll) })* }
        mod select { $(#[test] fn $name() { super::$name(super::Kind::Select) })* }
        mod io_uring { $(#[test] fn $name() { super::$name(super::Kind::Uring) })* }
        #[cfg(eventop_libkqueue)]
        mod kqueue { $(#[test] fn $name() { super::$name(super::Kind::Kqueue) })* }
    };
}

per_backend!(
    unwatchable_fds_are_refused,
    mixed_modes_on_one_fd_are_refused,
    bad_signals_are_refused,
    zero_huge_and_max_timeouts,
    out_of_range_priorities,
    stale_and_foreign_handles,
    double_calls,
    calls_that_do_not_fit_the_event,
    refused_set_interest_keeps_the_event,
    loop_control_misuse,
    panicking_callbacks,
    nesting_without_an_fd,
    waker_misuse,
);

// ---- what the base holds while bad inputs hit it ----------------------------------------------

/// Three events the base holds: a socket with a byte to read, a 1 ms timer and an activated
/// user event. Each frees itself when it runs; the last to run breaks the loop.
struct Held {
    _peer: UnixStream,
}

fn done(base: &mut B, seen: &mut Seen, what: &'static str) {
    seen.push(what);
    if ["io", "timer", "user"].iter().all(|w| seen.contains(w)) {
        base.break_loop();
    }
}

fn hold(base: &mut B) -> Held {
    let (mut peer, ours) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    base.new_io(ours, Interest::READ, Mode::Level, |base, seen, ev, _, s| {
        let mut buf = [0; 8];
        assert_eq!(s.read(&mut buf).unwrap(), 1);
        base.free(ev).unwrap();
        done(base, seen, "io");
    })
    .unwrap();
    base.new_timer(Duration::from_millis(1), |base, seen, _| {
        done(base, seen, "timer");
        TimeoutAction::Drop
    })
    .unwrap();
    let user = base
        .new_user(|base, seen, ev, _| {
            base.free(ev).unwrap();
            done(base, seen, "user");
        })
        .unwrap();
    base.activate(user, Readiness::TIMEOUT).unwrap();
    peer.write_all(b"x").unwrap();
    Held { _peer: peer }
}

/// Nothing lost: the held events all run (those in `seen` ran already), each once.
fn assert_held_run(base: &mut B, kind: Kind, mut seen: Seen) {
    if !["io", "timer", "user"].iter().all(|w| seen.contains(w)) {
        let guard = base
            .new_timer(GUARD, |base, seen, _| {
                seen.push("guard");
                base.break_loop();
                TimeoutAction::Drop
            })
            .unwrap();
        base.run(&mut seen).unwrap();
        let _ = base.free(guard);
    }
    seen.sort_unstable();
    assert_eq!(seen, ["io", "timer", "user"], "{kind:?}: held events lost");
}

/// What a refused call must leave as it was.
fn snapshot(base: &B) -> (usize, Counts) {
    (base.len(), base.counts())
}

fn assert_unchanged(base: &mut B, before: (usize, Counts), what: &str) {
    assert_eq!(snapshot(base), before, "{what}: the base changed");
    assert!(base.take_deferred_error().is_none(), "{what}");
}

// ---- fds ---------------------------------------------------------------------------------------

/// The soft limit on open fds: the first number no fd can have.
fn fd_limit() -> RawFd {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the local `lim`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    RawFd::try_from(lim.rlim_cur).unwrap_or(RawFd::MAX)
}

/// An fd number that was open and is closed now: far above the usual numbers, so that the
/// files other tests open meanwhile do not take it.
fn closed_fd() -> RawFd {
    let (a, _b) = UnixStream::pair().unwrap();
    // SAFETY: fcntl duplicates `a`, which is open; the duplicate is ours.
    let fd = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 900) };
    assert!(fd >= 900);
    // SAFETY: closes the duplicate just made.
    unsafe { libc::close(fd) };
    fd
}

/// A source that counts its drops: a refused `new_io`/`once_io` must drop it (close it), once.
struct Counted(File, Arc<AtomicUsize>);

impl AsFd for Counted {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
    }
}

fn panics(_: &mut B, _: &mut Seen, _: EventId, _: Readiness) {
    panic!("a refused event ran");
}

/// `new_raw_io` on fds no backend can watch (closed, negative, `i32::MAX`, at the fd limit,
/// beyond the tables' bound) is `EBADF`; `new_io` and `once_io` on a regular file or a directory
/// are `Unpollable` (`Unsupported`) and drop the source. The base is unchanged, the held events
/// run.
fn unwatchable_fds_are_refused(kind: Kind) {
    let mut base = base(kind);
    let held = hold(&mut base);
    let before = snapshot(&base);
    let numbers = [
        ("closed", closed_fd()),
        ("-1", -1),
        ("-5", -5),
        ("i32::MIN", i32::MIN),
        ("i32::MAX", i32::MAX),
        ("at the fd limit", fd_limit()),
        ("storage::MAX_LEN", MAX_LEN as RawFd),
    ];
    for (name, fd) in numbers {
        for (interest, mode) in [
            (Interest::READ, Mode::OneShot),
            (Interest::WRITE, Mode::Level),
            (Interest::CLOSED, Mode::Level),
            (Interest::READ, Mode::Edge),
        ] {
            // SAFETY: refused, so never pending past the fd's life.
            let e = unsafe { base.new_raw_io(fd, interest, mode, panics) }.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{kind:?}: {name}: {e}");
            assert_unchanged(&mut base, before, name);
        }
    }
    for (name, path) in [
        ("a regular file", "/proc/self/status"),
        ("a directory", "/"),
    ] {
        let drops = Arc::new(AtomicUsize::new(0));
        let file = File::open(path).unwrap();
        let fd = file.as_raw_fd();
        let e = base
            .new_io(
                Counted(file, drops.clone()),
                Interest::READ,
                Mode::Level,
                |_, _, _, _, _| panic!("ran"),
            )
            .unwrap_err();
        assert!(
            matches!(e, Error::Unpollable(n) if n == fd),
            "{kind:?}: {name}: {e:?}"
        );
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(drops.load(SeqCst), 1, "{name}: the source is dropped");
        let file = File::open(path).unwrap();
        let e = base
            .once_io(
                Counted(file, drops.clone()),
                Interest::READ,
                Some(Duration::from_millis(1)),
                |_, _, _, _| panic!("ran"),
            )
            .unwrap_err();
        assert!(matches!(e, Error::Unpollable(_)), "{kind:?}: {name}: {e:?}");
        assert_eq!(drops.load(SeqCst), 2, "{name}: the source is dropped");
        assert_unchanged(&mut base, before, name);
    }
    assert_held_run(&mut base, kind, Seen::new());
    drop(held);
}

/// Edge- and level-triggered events on one fd, and exclusive beside shared ones: refused with
/// the core's error (`InvalidInput`), the first event kept.
fn mixed_modes_on_one_fd_are_refused(kind: Kind) {
    let mut base = base(kind);
    let held = hold(&mut base);
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    // SAFETY: `a` outlives every event on it (all freed below).
    let level = unsafe { base.new_raw_io(fd, Interest::WRITE, Mode::Level, panics) }.unwrap();
    let before = snapshot(&base);
    // SAFETY: as above.
    let e = unsafe { base.new_raw_io(fd, Interest::READ, Mode::Edge, panics) }.unwrap_err();
    assert!(
        matches!(e, Error::Core(CoreError::MixedTriggers(n)) if n == fd),
        "{kind:?}: {e:?}"
    );
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_unchanged(&mut base, before, "edge beside level");
    // SAFETY: as above.
    let e = unsafe {
        base.new_raw_io(
            fd,
            Interest::READ | Interest::EXCLUSIVE,
            Mode::Level,
            panics,
        )
    }
    .unwrap_err();
    assert!(
        matches!(e, Error::Core(CoreError::MixedExclusive(n)) if n == fd),
        "{kind:?}: {e:?}"
    );
    assert_unchanged(&mut base, before, "exclusive beside shared");
    assert_eq!(base.pending(level).unwrap(), Readiness::WRITE);
    base.free(level).unwrap();

    // An exclusive wake cannot watch CLOSED on epoll: refused there; with the changelist the
    // refusal comes when the change is applied, from `take_deferred_error`; the other backends
    // ignore `EXCLUSIVE`.
    let (c, _d) = UnixStream::pair().unwrap();
    let both = Interest::READ | Interest::CLOSED | Interest::EXCLUSIVE;
    // SAFETY: `c` outlives the event, freed below.
    let r = unsafe { base.new_raw_io(c.as_raw_fd(), both, Mode::Level, panics) };
    let unsupported = |e: &Error| {
        matches!(e, Error::Core(CoreError::Unsupported(_))) && e.kind() == ErrorKind::Unsupported
    };
    let mut seen = Seen::new(); // what the held events saw in the run below
    match (kind, r) {
        (Kind::Epoll, Err(e)) => assert!(unsupported(&e), "{e:?}"),
        (Kind::EpollChangelist, Ok(ev)) => {
            base.run_nonblocking(&mut seen).unwrap();
            let e = base.take_deferred_error().expect("the refusal, deferred");
            assert!(unsupported(&e), "{e:?}");
            base.free(ev).unwrap();
        }
        (Kind::Epoll | Kind::EpollChangelist, r) => panic!("{kind:?}: {r:?}"),
        (_, r) => base.free(r.unwrap()).unwrap(),
    }
    assert_held_run(&mut base, kind, seen);
    drop(held);
}

// ---- signals -----------------------------------------------------------------------------------

/// Signal numbers outside `1..NSIG` are `BadSignal` (`InvalidInput`); SIGKILL and SIGSTOP, which
/// no handler can catch, are the OS's `EINVAL`.
fn bad_signals_are_refused(kind: Kind) {
    let mut base = base(kind);
    let held = hold(&mut base);
    let before = snapshot(&base);
    let cb = |_: &mut B, _: &mut Seen, _: EventId, _: Readiness| panic!("ran");
    for sig in [0, -1, 65, 1000, i32::MAX, i32::MIN] {
        let e = base.new_signal(sig, cb).unwrap_err();
        assert!(
            matches!(e, Error::BadSignal(n) if n == sig),
            "{kind:?}: {e:?}"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_unchanged(&mut base, before, "bad signal");
    }
    for sig in [libc::SIGKILL, libc::SIGSTOP] {
        let e = base.new_signal(sig, cb).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{kind:?}: {sig}: {e}");
        assert_unchanged(&mut base, before, "uncatchable signal");
    }
    assert_held_run(&mut base, kind, Seen::new());
    drop(held);
}

// ---- timeouts ----------------------------------------------------------------------------------

/// `Duration::ZERO` and an `Instant` in the past fire at the first iteration; `HUGE`,
/// `Duration::MAX` and a far `Instant` are pending with a far deadline and never fire, through
/// `new_timer`, `add_timeout`, `once`, `TimeoutAction::ToDuration` and `exit_after`, and nothing
/// overflows (`remaining`, `next_timeout`).
fn zero_huge_and_max_timeouts(kind: Kind) {
    let mut base = base(kind);
    let far = Duration::from_secs(100 * 365 * 24 * 3600);
    // Due at once: one non-blocking run fires them.
    let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap();
    base.new_timer(Duration::ZERO, |_, seen, _| {
        seen.push("zero");
        TimeoutAction::Drop
    })
    .unwrap();
    base.new_timer(past, |_, seen, _| {
        seen.push("past");
        TimeoutAction::Drop
    })
    .unwrap();
    base.once(Some(Duration::ZERO), |_, seen, _| seen.push("once"))
        .unwrap();
    // A timer that sets itself again to `Duration::MAX` when it fires.
    let rearmed = base
        .new_timer(Duration::ZERO, |_, seen, _| {
            seen.push("rearmed");
            TimeoutAction::ToDuration(Duration::MAX)
        })
        .unwrap();
    let mut seen = Seen::new();
    base.run_nonblocking(&mut seen).unwrap();
    seen.sort_unstable();
    assert_eq!(seen, ["once", "past", "rearmed", "zero"], "{kind:?}");
    assert_eq!(base.len(), 1, "{kind:?}: the rearmed timer alone");

    // Far away: pending, never fired.
    let never = |_: &mut B, _: &mut Seen, _: EventId| -> TimeoutAction { panic!("fired early") };
    let mut far_events = vec![
        base.new_timer(HUGE, never).unwrap(),
        base.new_timer(Duration::MAX, never).unwrap(),
        base.new_timer(Instant::now() + far, never).unwrap(),
    ];
    let user = base.new_user(|_, _, _, _| panic!("fired early")).unwrap();
    base.add_timeout(user, Duration::MAX).unwrap();
    far_events.push(user);
    let (_a, b) = UnixStream::pair().unwrap();
    let io = base
        .new_io(b, Interest::READ, Mode::Level, |_, _, _, _, _| {
            panic!("fired")
        })
        .unwrap();
    base.add_timeout(io.id(), Duration::MAX).unwrap();
    far_events.push(io.id());
    base.once(Some(Duration::MAX), |_, _, _| panic!("fired early"))
        .unwrap();
    base.exit_after(Duration::MAX);
    for &ev in &far_events {
        assert!(base.pending(ev).unwrap().contains(Readiness::TIMEOUT));
        assert!(base.remaining(ev).unwrap().unwrap() > far / 2, "{kind:?}");
    }
    assert!(base.next_timeout().is_some());

    let held = hold(&mut base);
    assert_held_run(&mut base, kind, Seen::new());
    drop(held);
    assert!(base.take_deferred_error().is_none());
    assert!(base.remaining(rearmed).unwrap().unwrap() > far, "{kind:?}");
    for ev in far_events {
        assert!(base.pending(ev).unwrap().contains(Readiness::TIMEOUT));
        base.free(ev).unwrap();
    }
    base.free(rearmed).unwrap();
    // The once-event and the timed exit are all that is left: a run of the loop waits for
    // them, so it is ended by hand.
    assert_eq!(base.counts().added, 1, "{kind:?}: the once-event");
    base.exit_after(Duration::ZERO);
    assert_eq!(base.run(&mut Seen::new()).unwrap(), Exit::Exited);
}

// ---- priorities --------------------------------------------------------------------------------

/// Priorities: 0 of them (builder or base) is `NoPriorities`; a priority at or beyond the count is
/// `Invalid`, or the core's `BadPriority` once the count shrank under an event; changing the
/// count with events active is `PrioritiesInUse`; changing a pending event's priority is
/// `Invalid`. All `InvalidInput`, nothing changed.
fn out_of_range_priorities(kind: Kind) {
    let e = Builder::new()
        .env(|_| false)
        .priorities(0)
        .build::<Seen>()
        .unwrap_err();
    assert!(matches!(e, Error::Core(CoreError::NoPriorities)), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    let mut base = base(kind);
    let e = base.set_priorities(0).unwrap_err();
    assert!(matches!(e, Error::Core(CoreError::NoPriorities)), "{e:?}");
    base.set_priorities(3).unwrap();
    let user = base.new_user(|_, seen, _, _| seen.push("user")).unwrap();
    for p in [3, 254, 255] {
        let e = base.set_priority(user, p).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e:?}");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    base.set_priority(user, 2).unwrap();
    // The count shrinks under the event: using it is the core's `BadPriority`.
    base.set_priorities(1).unwrap();
    let before = snapshot(&base);
    let e = base.activate(user, Readiness::TIMEOUT).unwrap_err();
    assert!(matches!(e, Error::Core(CoreError::BadPriority(2))), "{e:?}");
    let e = base.add_timeout(user, Duration::ZERO).unwrap_err();
    assert!(matches!(e, Error::Core(CoreError::BadPriority(2))), "{e:?}");
    assert_unchanged(&mut base, before, "bad priority");
    base.set_priority(user, 0).unwrap();

    let held = hold(&mut base); // active events from here on
    let e = base.set_priorities(2).unwrap_err();
    assert!(
        matches!(e, Error::Core(CoreError::PrioritiesInUse)),
        "{e:?}"
    );
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    base.add_timeout(user, GUARD).unwrap();
    // Pending: allowed. Active: refused, and the activation stays.
    base.set_priority(user, 0).unwrap();
    base.activate(user, Readiness::TIMEOUT).unwrap();
    let e = base.set_priority(user, 0).unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "active: {e:?}");
    assert!(base.pending(user).unwrap().contains(Readiness::TIMEOUT));
    base.del(user).unwrap();
    base.add_timeout(user, GUARD).unwrap();
    assert_held_run(&mut base, kind, Seen::new());
    drop(held);
    base.free(user).unwrap();
    assert!(base.is_empty());
}

// ---- handles -----------------------------------------------------------------------------------

/// Every method that takes an `EventId` is `Stale` (`NotFound`) for `ev`, and changes nothing.
fn assert_all_stale(base: &mut B, ev: EventId, what: &str) {
    let before = snapshot(base);
    let results: [(&str, eventop::Result<()>); 11] = [
        ("add", base.add(ev)),
        ("add_timeout", base.add_timeout(ev, Duration::ZERO)),
        ("add_timeout(Instant)", base.add_timeout(ev, Instant::now())),
        ("del", base.del(ev)),
        ("del_timeout", base.del_timeout(ev)),
        ("activate", base.activate(ev, Readiness::READ)),
        ("set_priority", base.set_priority(ev, 0)),
        ("set_interest", base.set_interest(ev, Interest::READ)),
        ("pending", base.pending(ev).map(drop)),
        ("remaining", base.remaining(ev).map(drop)),
        ("free", base.free(ev)),
    ];
    for (name, r) in results {
        match r {
            Err(e) => {
                assert!(matches!(e, Error::Stale), "{what}: {name}: {e:?}");
                assert_eq!(e.kind(), ErrorKind::NotFound);
            }
            Ok(()) => panic!("{what}: {name} on a stale handle succeeded"),
        }
    }
    drop(base.guard(ev)); // a guard of a stale event frees nothing
    assert_unchanged(base, before, what);
}

/// Freed events' ids (of every kind, their records reused by new events or not) and ids of
/// another base are `Stale` for every method; the events that hold those records are untouched.
fn stale_and_foreign_handles(kind: Kind) {
    let mut base = base(kind);
    let held = hold(&mut base);
    let (_a, b) = UnixStream::pair().unwrap();
    let io = base
        .new_io(b, Interest::READ, Mode::Level, |_, _, _, _, _| {})
        .unwrap();
    let timer = base
        .new_timer(GUARD, |_, _, _| TimeoutAction::Drop)
        .unwrap();
    let signal = base.new_signal(libc::SIGURG, |_, _, _, _| {}).unwrap();
    let user = base.new_user(|_, _, _, _| {}).unwrap();
    for ev in [io.id(), timer, signal, user] {
        base.free(ev).unwrap();
        assert_all_stale(&mut base, ev, "freed");
    }
    let e = base.take_source(io).unwrap_err();
    assert!(matches!(e, Error::Stale), "{e:?}");

    // Records reused: the new events are not reached through the old ids.
    let reused: Vec<EventId> = (0..4)
        .map(|_| {
            let ev = base.new_user(|_, _, _, _| {}).unwrap();
            base.add_timeout(ev, GUARD).unwrap();
            ev
        })
        .collect();
    for ev in [io.id(), timer, signal, user] {
        assert_all_stale(&mut base, ev, "reused");
    }
    for &ev in &reused {
        assert_eq!(base.pending(ev).unwrap(), Readiness::TIMEOUT);
    }

    // Another base's ids, whose indices name events here.
    let mut other = self::base(kind);
    let foreign: Vec<EventId> = (0..8)
        .map(|_| other.new_user(|_, _, _, _| {}).unwrap())
        .collect();
    for &ev in &foreign {
        assert_all_stale(&mut base, ev, "foreign");
        assert!(
            other.pending(ev).is_ok(),
            "the other base's event is its own"
        );
    }
    for ev in reused {
        assert_eq!(base.pending(ev).unwrap(), Readiness::TIMEOUT);
        base.free(ev).unwrap();
    }
    assert_held_run(&mut base, kind, Seen::new());
    drop(held);
    assert!(base.is_empty());
}

// ---- calls made twice --------------------------------------------------------------------------

/// Calls made twice: `add`, `add_timeout`, `activate` (ORed, runs once), `del`, `del_timeout`,
/// `set_interest`, `reinit` and `waker` are harmless the second time; `free` and `take_source`
/// are `Stale` the second time.
fn double_calls(kind: Kind) {
    let mut base = base(kind);
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let runs: Arc<Mutex<Vec<Readiness>>> = Default::default();
    let r = runs.clone();
    let io = base
        .new_io(b, Interest::READ, Mode::Level, move |_, _, _, ready, _| {
            r.lock().unwrap().push(ready);
        })
        .unwrap();
    let one = base.counts();
    base.add(io.id()).unwrap();
    base.add(io.id()).unwrap();
    assert_eq!(base.counts(), one, "{kind:?}: added once");
    base.add_timeout(io.id(), GUARD).unwrap();
    base.add_timeout(io.id(), GUARD).unwrap();
    base.del_timeout(io.id()).unwrap();
    base.del_timeout(io.id()).unwrap();
    assert_eq!(base.pending(io.id()).unwrap(), Readiness::READ);
    base.set_interest(io.id(), Interest::READ).unwrap();
    base.set_interest(io.id(), Interest::READ).unwrap();
    assert_eq!(base.counts(), one);
    base.reinit().unwrap();
    base.reinit().unwrap();
    let waker = base.waker().unwrap();
    let len = base.len();
    let again = base.waker().unwrap();
    assert_eq!(base.len(), len, "one waker per base");
    drop((waker, again));
    base.activate(io.id(), Readiness::READ).unwrap();
    base.activate(io.id(), Readiness::WRITE).unwrap();
    base.run_nonblocking(&mut Seen::new()).unwrap();
    let both = Readiness::READ | Readiness::WRITE;
    assert_eq!(
        *runs.lock().unwrap(),
        [both],
        "{kind:?}: two activations, one run"
    );
    // Still registered after the reinits: the event fires for its fd.
    a.write_all(b"x").unwrap();
    base.run_once(&mut Seen::new()).unwrap();
    assert_eq!(*runs.lock().unwrap(), [both, Readiness::READ], "{kind:?}");
    base.del(io.id()).unwrap();
    base.del(io.id()).unwrap();
    assert_eq!(base.counts(), Counts::default());
    let mut stream = base.take_source(io).unwrap();
    let mut buf = [0; 1];
    stream.read_exact(&mut buf).unwrap();
    assert!(matches!(base.take_source(io), Err(Error::Stale)));
    assert!(matches!(base.free(io.id()), Err(Error::Stale)));

    let user = base.new_user(|_, _, _, _| {}).unwrap();
    base.free(user).unwrap();
    assert!(matches!(base.free(user), Err(Error::Stale)));
    let held = hold(&mut base);
    assert_held_run(&mut base, kind, Seen::new());
    drop(held);
    assert!(base.is_empty());
}

// ---- calls that do not fit the event -----------------------------------------------------------

/// `add` of a timer or user event (which waits for a timeout) and `set_interest` of an event
/// without I/O are `Invalid`; `take_source` from the event's own callback is `Reentrant`
/// (`ResourceBusy`). Nothing changes.
fn calls_that_do_not_fit_the_event(kind: Kind) {
    let mut base = base(kind);
    let held = hold(&mut base);
    let timer = base
        .new_timer(GUARD, |_, _, _| TimeoutAction::Drop)
        .unwrap();
    let user = base.new_user(|_, _, _, _| {}).unwrap();
    let signal = base.new_signal(libc::SIGURG, |_, _, _, _| {}).unwrap();
    let before = snapshot(&base);
    for ev in [timer, user] {
        let e = base.add(ev).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e:?}");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    for ev in [timer, user, signal] {
        let e = base.set_interest(ev, Interest::READ).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e:?}");
    }
    // An I/O event with no interest: refused, its source dropped.
    let drops = Arc::new(AtomicUsize::new(0));
    let (s1, _s2) = UnixStream::pair().unwrap();
    // SAFETY: refused, so never pending.
    let e = unsafe { base.new_raw_io(s1.as_raw_fd(), Interest::empty(), Mode::Level, panics) }
        .unwrap_err();
    assert!(
        matches!(e, Error::Invalid(m) if m.contains("READ, WRITE or CLOSED")),
        "{e:?}"
    );
    let file = File::open("/dev/null").unwrap();
    let e = base
        .new_io(
            Counted(file, drops.clone()),
            Interest::EXCLUSIVE,
            Mode::Level,
            |_, _, _, _, _| panic!("ran"),
        )
        .unwrap_err();
    assert!(
        matches!(e, Error::Invalid(m) if m.contains("READ, WRITE or CLOSED")),
        "{e:?}"
    );
    assert_eq!(drops.load(SeqCst), 1);
    let e = base
        .once_io(s1, Interest::empty(), None, |_, _, _, _| panic!("ran"))
        .unwrap_err();
    assert!(
        matches!(e, Error::Invalid(m) if m.contains("READ, WRITE or CLOSED")),
        "{e:?}"
    );
    assert_unchanged(&mut base, before, "misfit");
    for ev in [timer, user, signal] {
        base.free(ev).unwrap();
    }

    // take_source from the event's own callback (a writable socket: it fires at once).
    let (c, _d) = UnixStream::pair().unwrap();
    let seen_reentrant = Arc::new(AtomicUsize::new(0));
    let s = seen_reentrant.clone();
    let slot: Arc<Mutex<Option<Io<UnixStream>>>> = Default::default();
    let me = slot.clone();
    let own = base
        .new_io(
            c,
            Interest::WRITE,
            Mode::OneShot,
            move |base, _, _, _, _| {
                let io = me.lock().unwrap().unwrap();
                let e = base.take_source(io).unwrap_err();
                assert!(matches!(e, Error::Reentrant), "{e:?}");
                assert_eq!(e.kind(), ErrorKind::ResourceBusy);
                s.fetch_add(1, SeqCst);
            },
        )
        .unwrap();
    *slot.lock().unwrap() = Some(own);
    assert_held_run(&mut base, kind, Seen::new());
    drop(held);
    for _ in 0..100 {
        if seen_reentrant.load(SeqCst) == 1 {
            break;
        }
        base.run_once(&mut Seen::new()).unwrap();
    }
    assert_eq!(seen_reentrant.load(SeqCst), 1, "{kind:?}");
    // After the callback, the source comes back.
    base.take_source(own).unwrap();
    assert!(base.is_empty());
}

/// `set_interest` to no interest (or `EXCLUSIVE` alone) is `Invalid`; one the core refuses
/// (an exclusive wake beside a shared event on the fd) is the core's `MixedExclusive`. Either
/// way the event keeps its interest, stays pending with its timeout, and fires.
fn refused_set_interest_keeps_the_event(kind: Kind) {
    let mut base = base(kind);
    let held = hold(&mut base);
    let (a, _b) = UnixStream::pair().unwrap(); // writable at once
    let fd = a.as_raw_fd();
    let fired = Arc::new(AtomicUsize::new(0));
    let (f1, f2) = (fired.clone(), fired.clone());
    // SAFETY: `a` outlives both events, which free themselves when they fire.
    let shared = unsafe {
        base.new_raw_io(fd, Interest::WRITE, Mode::Level, move |base, _, ev, _| {
            f1.fetch_add(1, SeqCst);
            base.free(ev).unwrap();
        })
    }
    .unwrap();
    // SAFETY: as above.
    let ev = unsafe {
        base.new_raw_io(
            fd,
            Interest::WRITE,
            Mode::Level,
            move |base, _, ev, ready| {
                assert_eq!(ready, Readiness::WRITE);
                f2.fetch_add(1, SeqCst);
                base.free(ev).unwrap();
            },
        )
    }
    .unwrap();
    base.add_timeout(ev, GUARD).unwrap();
    let before = snapshot(&base);
    for interest in [Interest::empty(), Interest::EXCLUSIVE] {
        let e = base.set_interest(ev, interest).unwrap_err();
        assert!(
            matches!(e, Error::Invalid(_)),
            "{kind:?}: {interest:?}: {e:?}"
        );
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    let e = base
        .set_interest(ev, Interest::WRITE | Interest::EXCLUSIVE)
        .unwrap_err();
    assert!(
        matches!(e, Error::Core(CoreError::MixedExclusive(n)) if n == fd),
        "{kind:?}: {e:?}"
    );
    assert_unchanged(&mut base, before, "refused set_interest");
    assert_eq!(
        base.pending(ev).unwrap(),
        Readiness::WRITE | Readiness::TIMEOUT,
        "{kind:?}: the event lost its interest"
    );
    assert!(base.remaining(ev).unwrap().is_some_and(|r| r <= GUARD));
    assert!(base.pending(shared).is_ok());
    assert_held_run(&mut base, kind, Seen::new());
    drop(held);
    // Writable at once: they fired with the held events, or fire now (the last held event
    // to run may have ended that run first).
    for _ in 0..100 {
        if fired.load(SeqCst) == 2 {
            break;
        }
        base.run_once(&mut Seen::new()).unwrap();
    }
    assert_eq!(fired.load(SeqCst), 2, "{kind:?}: both fired");
    assert!(base.is_empty());
}

// ---- the loop ----------------------------------------------------------------------------------

/// A run started from a callback is `Reentrant` (`ResourceBusy`) and the outer run goes on;
/// `break_loop` and `continue_loop` outside a run are forgotten; `exit` outside a run ends the
/// next run at its first iteration, with the held events still held.
fn loop_control_misuse(kind: Kind) {
    let mut base = base(kind);
    let inner = base
        .new_user(|base, seen, _, _| {
            for e in [
                base.run(seen).unwrap_err(),
                base.run_once(seen).unwrap_err(),
                base.run_nonblocking(seen).unwrap_err(),
            ] {
                assert!(matches!(e, Error::Reentrant), "{e:?}");
                assert_eq!(e.kind(), ErrorKind::ResourceBusy);
            }
            seen.push("inner");
        })
        .unwrap();
    base.activate(inner, Readiness::TIMEOUT).unwrap();
    let held = hold(&mut base);
    base.break_loop();
    base.continue_loop();
    let mut seen = Seen::new();
    base.run_once(&mut seen).unwrap();
    assert!(
        seen.contains(&"inner"),
        "{kind:?}: the break was not forgotten"
    );
    seen.retain(|w| *w != "inner");
    assert_held_run(&mut base, kind, seen);
    drop(held);
    base.free(inner).unwrap();

    let held = hold(&mut base);
    base.exit();
    let mut seen = Seen::new();
    assert_eq!(base.run(&mut seen).unwrap(), Exit::Exited);
    assert_held_run(&mut base, kind, seen);
    drop(held);
    assert!(base.is_empty());
    assert_eq!(base.run(&mut Seen::new()).unwrap(), Exit::Empty);
}

// ---- panics ------------------------------------------------------------------------------------

/// A callback that panics (an event's, a once-event's, a timer's): the panic leaves `run`, the
/// base stays usable, the panicking event keeps its callback (a once-event is freed), and the
/// events that were active with it run in the next run.
fn panicking_callbacks(kind: Kind) {
    let mut base = base(kind);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let bomb = base
        .new_user(move |_, _, _, _| {
            c.fetch_add(1, SeqCst);
            panic!("boom");
        })
        .unwrap();
    let mut timer_bomb = None;
    for round in 0..3 {
        // The bomb first, so that it runs before the held events can all have run (the last
        // of them breaks the loop).
        match round {
            0 => base.activate(bomb, Readiness::TIMEOUT).unwrap(),
            1 => base.once(None, |_, _, _| panic!("boom")).unwrap(),
            _ => {
                let t = base.new_timer(Duration::ZERO, |_, _, _| panic!("boom"));
                timer_bomb = Some(t.unwrap());
            }
        }
        let held = hold(&mut base);
        let mut seen = Seen::new();
        let r = catch_unwind(AssertUnwindSafe(|| base.run(&mut seen)));
        assert!(r.is_err(), "{kind:?}: round {round}: the panic leaves run");
        assert_held_run(&mut base, kind, seen);
        drop(held);
    }
    assert_eq!(calls.load(SeqCst), 1);
    // The bomb kept its callback: activated again, it runs (and panics) again.
    base.activate(bomb, Readiness::TIMEOUT).unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| base.run(&mut Seen::new()))).is_err());
    assert_eq!(calls.load(SeqCst), 2);
    // The timer that panicked is not pending (its callback said nothing), but kept.
    let timer_bomb = timer_bomb.unwrap();
    assert_eq!(base.pending(timer_bomb).unwrap(), Readiness::empty());
    base.free(bomb).unwrap();
    base.free(timer_bomb).unwrap();
    assert!(base.is_empty(), "{kind:?}: the once-event is gone");
}

// ---- nesting -----------------------------------------------------------------------------------

/// `fd` is `None` and `into_pollable` gives the base back intact on backends without an fd (poll,
/// select, io_uring); `next_timeout` of a `Duration::MAX` timer does not overflow.
fn nesting_without_an_fd(kind: Kind) {
    let mut base = base(kind);
    let far = base
        .new_timer(Duration::MAX, |_, _, _| panic!("fired"))
        .unwrap();
    // Saturated far away (beyond 2^62 ns, 146 years), not wrapped round to now.
    assert!(base.next_timeout().unwrap() > Duration::from_secs(100 * 365 * 86400));
    let has_fd = base.fd().is_some();
    let fdless = matches!(kind, Kind::Poll | Kind::Select) || base.backend_name() == "io_uring";
    assert_eq!(has_fd, !fdless, "{kind:?}");
    let held = hold(&mut base);
    assert_eq!(base.next_timeout(), Some(Duration::ZERO), "an active event");
    let mut base = match base.into_pollable() {
        Ok(p) => {
            assert!(has_fd);
            assert!(p.as_raw_fd() >= 0);
            p.into_inner()
        }
        Err(base) => {
            assert!(!has_fd, "{kind:?}");
            base
        }
    };
    assert_held_run(&mut base, kind, Seen::new());
    drop(held);
    base.free(far).unwrap();
}

// ---- the waker ---------------------------------------------------------------------------------

/// A waker's job that panics: the panic leaves `run`, the jobs after it run at the next run, and
/// the base's events still run.
/// Once the base is dropped, `wake` and `schedule` are `Closed` (`BrokenPipe`) and the job is
/// dropped, not leaked.
fn waker_misuse(kind: Kind) {
    let mut base = base(kind);
    let waker = base.waker().unwrap();
    waker.schedule(|_, seen| seen.push("job 1")).unwrap();
    waker.schedule(|_, _| panic!("boom")).unwrap();
    waker.schedule(|_, seen| seen.push("job 3")).unwrap();
    let mut seen = Seen::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        base.run_with(eventop::LoopFlags::NO_EXIT_ON_EMPTY, &mut seen)
    }));
    assert!(r.is_err(), "{kind:?}");
    let held = hold(&mut base);
    let mut jobs: Seen = seen
        .iter()
        .copied()
        .filter(|w| w.starts_with("job"))
        .collect();
    seen.retain(|w| !w.starts_with("job"));
    let more = Arc::new(AtomicUsize::new(0));
    let m = more.clone();
    base.once(None, move |_, _, _| {
        m.fetch_add(1, SeqCst);
    })
    .unwrap();
    let mut rest = Seen::new();
    base.run_nonblocking(&mut rest).unwrap();
    let (more_jobs, rest): (Seen, Seen) = rest.into_iter().partition(|w| w.starts_with("job"));
    jobs.extend(more_jobs);
    seen.extend(rest);
    assert_held_run(&mut base, kind, seen);
    drop(held);
    assert_eq!(
        jobs,
        ["job 1", "job 3"],
        "{kind:?}: each job once, in order"
    );
    assert_eq!(more.load(SeqCst), 1);

    let token = Arc::new(());
    let t = token.clone();
    drop(base);
    assert!(matches!(waker.wake(), Err(Error::Closed)));
    let e = waker.schedule(move |_, _| drop(t)).unwrap_err();
    assert!(matches!(e, Error::Closed));
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
    assert_eq!(Arc::strong_count(&token), 1, "the refused job is dropped");
}

// ---- the tables' limits ------------------------------------------------------------------------

/// Growable storage refuses to grow past `MAX_LEN` (the core then reports `Full`, which is
/// `QuotaExceeded`), and keeps what it had.
#[test]
fn growable_storage_stops_at_max_len() {
    let mut g = Grow::<u8>::new();
    assert!(g.grow(10, 0));
    assert!(!g.grow(MAX_LEN + 1, 0));
    assert!(!g.grow(usize::MAX, 0));
    assert_eq!(g.as_slice().len(), 10);
    let e: io::Error = Error::Full(eventop::Resource::FdMap).into();
    assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
}

/// No backend fits the builder's requirements: `NoBackend` (`Unsupported`), saying why.
#[test]
fn no_backend_fits() {
    let e = Builder::new()
        .env(|_| false)
        .require(Features::all())
        .build::<()>()
        .unwrap_err();
    assert!(matches!(e, Error::NoBackend(_)), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let mut all = Builder::new().env(|_| false);
    for name in eventop::supported_backends() {
        all = all.avoid(name);
    }
    assert!(matches!(all.build::<()>(), Err(Error::NoBackend(_))));
    // A name no backend has is ignored.
    let base = Builder::new()
        .env(|_| false)
        .avoid("no such backend")
        .build::<()>()
        .unwrap();
    assert_eq!(base.backend_name(), "epoll");
}

/// `block_on` from a callback is `Reentrant`; a future that panics leaves `block_on` and the
/// base runs again.
#[cfg(feature = "block-on")]
#[test]
fn block_on_misuse() {
    let mut base = self::base(Kind::Epoll);
    let user = base
        .new_user(|base, seen, _, _| {
            let e = base
                .block_on(seen, std::future::pending::<()>())
                .unwrap_err();
            assert!(matches!(e, Error::Reentrant), "{e:?}");
            seen.push("user");
        })
        .unwrap();
    base.activate(user, Readiness::TIMEOUT).unwrap();
    let mut seen = Seen::new();
    base.run(&mut seen).unwrap();
    assert_eq!(seen, ["user"]);
    let r = catch_unwind(AssertUnwindSafe(|| {
        base.block_on(&mut Seen::new(), async { panic!("boom") })
    }));
    assert!(r.is_err());
    let held = hold(&mut base);
    assert_held_run(&mut base, Kind::Epoll, Seen::new());
    drop(held);
    assert_eq!(base.block_on(&mut Seen::new(), async { 7 }).unwrap(), 7);
    base.free(user).unwrap();
}
