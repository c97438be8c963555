//! The event base over real kernels: loop semantics on every hosted backend (epoll, epoll with
//! the changelist, poll, select), with real sockets, the real monotonic clock, real signals and a
//! real `fork()`.
//!
//! Each scenario is a function taking a [`Kind`]; [`per_backend!`] makes one `#[test]` of it per
//! backend (`epoll::name`, `epoll_changelist::name`, `poll::name`, `select::name`). Scenarios
//! that need a feature (edge triggering, early close) check the backend's features and say what
//! the others do instead.
//!
//! Process-wide state: signal tests and fork tests hold [`serial`] (signals reach every thread,
//! and `fork` must not copy a signal registration half done). The allocation counter is per thread,
//! so tests running in parallel do not disturb the zero-allocation test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use eventop_core::base::{
    EventBase, FdEntry, Fixed, Outcome, Parts, Ready, Slot, Spec, Step, Tables, Timer,
};
use eventop_core::clock::Clock;
use eventop_core::selection::{self, Config, Skip};
use eventop_core::sys::clock::Monotonic;
#[cfg(target_os = "linux")]
use eventop_core::sys::epoll::Epoll;
use eventop_core::sys::hosted::{Buffers, FixedBuffers, Hosted, Multiplexer};
#[cfg(eventop_kqueue)]
use eventop_core::sys::kqueue::Kqueue;
use eventop_core::sys::poll::Poll;
use eventop_core::sys::select::Select;
#[cfg(target_os = "linux")]
use eventop_core::sys::uring::Uring;
use eventop_core::{
    Backend, BaseFlags, Change, Error, FdInfo, Features, Info, LoopFlags, Resource, Signals, Sink,
    Storage, What,
};
use eventop_tests::fds::{self, pair};
use eventop_tests::Grow;

// ---- allocation counter --------------------------------------------------------------------

/// Counts allocations made by the current thread (the test harness runs tests on many threads).
struct CountingAlloc;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    // `try_with`: a thread being torn down has no counter any more; its allocations don't matter.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

/// Allocations this thread has made so far.
fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only a thread-local `Cell` (const-initialized, no destructor, so it never allocates).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

// ---- backends, bases and the driver --------------------------------------------------------

/// Which hosted backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    #[cfg(target_os = "linux")]
    Epoll,
    #[cfg(target_os = "linux")]
    EpollChangelist,
    #[cfg(target_os = "linux")]
    Uring,
    #[cfg(eventop_kqueue)]
    Kqueue,
    Poll,
    Select,
}

impl Kind {
    fn hosted<F: Buffers>(self) -> Hosted<F> {
        let multiplexer = match self {
            #[cfg(target_os = "linux")]
            Kind::Epoll => {
                Multiplexer::Epoll(Epoll::new(Default::default(), false).expect("epoll"))
            }
            #[cfg(target_os = "linux")]
            Kind::EpollChangelist => {
                Multiplexer::Epoll(Epoll::new(Default::default(), true).expect("epoll"))
            }
            #[cfg(target_os = "linux")]
            Kind::Uring => Multiplexer::Uring(Uring::new().expect("io_uring")),
            #[cfg(eventop_kqueue)]
            Kind::Kqueue => Multiplexer::Kqueue(Kqueue::new(Default::default()).expect("kqueue")),
            Kind::Poll => Multiplexer::Poll(Poll::new(Default::default()).expect("poll")),
            Kind::Select => Multiplexer::Select(Select::new(Default::default()).expect("select")),
        };
        Hosted::from(multiplexer)
    }

    /// epoll or io_uring: Linux's own, with `ET`, `EARLY_CLOSE` and nanosecond waits.
    fn is_epoll(self) -> bool {
        #[cfg(target_os = "linux")]
        if matches!(self, Kind::Epoll | Kind::EpollChangelist | Kind::Uring) {
            return true;
        }
        false
    }

    fn is_kqueue(self) -> bool {
        #[cfg(eventop_kqueue)]
        if self == Kind::Kqueue {
            return true;
        }
        false
    }

    fn flags(self) -> BaseFlags {
        #[cfg(target_os = "linux")]
        if self == Kind::EpollChangelist {
            return BaseFlags::EPOLL_USE_CHANGELIST;
        }
        BaseFlags::empty()
    }
}

/// A backend that counts its dispatches (the waits on the kernel), delegating everything.
struct Counting<B> {
    inner: B,
    dispatches: u64,
    /// The timeout of the latest wait.
    last_timeout: Option<Duration>,
}

impl<B: Backend> Backend for Counting<B> {
    fn info(&self) -> Info {
        self.inner.info()
    }
    fn add(&mut self, fd: RawFd, old: What, added: What, fdinfo: &mut FdInfo) -> Result<(), Error> {
        self.inner.add(fd, old, added, fdinfo)
    }
    fn del(
        &mut self,
        fd: RawFd,
        old: What,
        removed: What,
        fdinfo: &mut FdInfo,
    ) -> Result<(), Error> {
        self.inner.del(fd, old, removed, fdinfo)
    }
    fn check(&self, fd: RawFd) -> Result<(), Error> {
        self.inner.check(fd)
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        self.inner.apply(changes)
    }
    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error> {
        self.dispatches += 1;
        self.last_timeout = timeout;
        self.inner.dispatch(timeout, sink)
    }
    fn reinit(&mut self) -> Result<(), Error> {
        self.inner.reinit()
    }
    fn signals(&mut self) -> Option<&mut dyn Signals> {
        self.inner.signals()
    }
}

/// Growable tables, as the std adapter will have.
struct G;

impl Tables for G {
    type Slots = Grow<Slot>;
    type Fds = Grow<FdEntry>;
    type Timers = Grow<Timer>;
    type Changes = Grow<Change>;
}

/// Four event slots, everything else growable: slot capacity over real fds of any number.
struct Slots4;

impl Tables for Slots4 {
    type Slots = heapless::Vec<Slot, 4>;
    type Fds = Grow<FdEntry>;
    type Timers = Grow<Timer>;
    type Changes = Grow<Change>;
}

type Hb = Hosted<FixedBuffers<256>>;
type Base<T = G> = EventBase<Counting<Hb>, Monotonic, T>;

fn grow_parts() -> Parts<G> {
    Parts {
        slots: Grow::default(),
        fds: Grow::default(),
        timers: Grow::default(),
        changes: Grow::default(),
    }
}

fn base_with<T: Tables>(kind: Kind, parts: Parts<T>) -> Base<T> {
    let backend = Counting {
        inner: kind.hosted(),
        dispatches: 0,
        last_timeout: None,
    };
    EventBase::new(backend, Monotonic, parts, kind.flags())
}

fn base(kind: Kind) -> Base {
    base_with(kind, grow_parts())
}

fn spec(fd: RawFd, events: What, token: usize) -> Spec {
    Spec {
        fd,
        events,
        priority: 0,
        token,
    }
}

fn now() -> u64 {
    Monotonic.now()
}

const MS: u64 = 1_000_000;

/// Runs the loop, handing each ready event to `f` with the base, as an adapter does.
fn run<B: Backend, T: Tables>(
    b: &mut EventBase<B, Monotonic, T>,
    flags: LoopFlags,
    mut f: impl FnMut(&mut EventBase<B, Monotonic, T>, Ready),
) -> Outcome {
    b.start(flags).expect("start");
    loop {
        match b.step().expect("step") {
            Step::Run(r) => f(b, r),
            Step::Done(o) => return o,
        }
    }
}

const WATCHDOG: usize = usize::MAX;

/// [`run`] with a 10 s timer that fails the test if it fires: for runs that wait for I/O.
fn guarded<B: Backend, T: Tables>(
    b: &mut EventBase<B, Monotonic, T>,
    flags: LoopFlags,
    mut f: impl FnMut(&mut EventBase<B, Monotonic, T>, Ready),
) -> Outcome {
    let dog = spec(-1, What::empty(), WATCHDOG);
    let h = b
        .add(None, &dog, Some(Duration::from_secs(10)))
        .expect("watchdog");
    let o = run(b, flags, |b, r| {
        assert_ne!(r.token, WATCHDOG, "nothing happened in 10 s");
        f(b, r)
    });
    let _ = b.del(h, WATCHDOG);
    o
}

/// Tokens of the callbacks one run made, in order.
fn tokens<B: Backend, T: Tables>(
    b: &mut EventBase<B, Monotonic, T>,
    flags: LoopFlags,
) -> Vec<usize> {
    let mut seen = Vec::new();
    guarded(b, flags, |_, r| seen.push(r.token));
    seen
}

/// Signal tests and fork tests, one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps SIGUSR1 and SIGUSR2 away from the calling thread (a signal test may be running on
/// another thread: its deliveries would interrupt this thread's waits and add dispatches).
fn block_test_signals() {
    // SAFETY: `set` is a local sigset_t initialized by sigemptyset before use; pthread_sigmask
    // changes only this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::sigaddset(&mut set, libc::SIGUSR2);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// One `#[test]` per backend for each scenario named.
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        #[cfg(target_os = "linux")]
        mod epoll {
            $(#[test] fn $name() { super::$name(super::Kind::Epoll) })*
        }
        #[cfg(target_os = "linux")]
        mod epoll_changelist {
            $(#[test] fn $name() { super::$name(super::Kind::EpollChangelist) })*
        }
        #[cfg(target_os = "linux")]
        mod io_uring {
            $(#[test] fn $name() { super::$name(super::Kind::Uring) })*
        }
        #[cfg(eventop_kqueue)]
        mod kqueue {
            $(#[test] fn $name() { super::$name(super::Kind::Kqueue) })*
        }
        mod poll {
            $(#[test] fn $name() { super::$name(super::Kind::Poll) })*
        }
        mod select {
            $(#[test] fn $name() { super::$name(super::Kind::Select) })*
        }
    };
}

per_backend!(
    read_level_persistent,
    read_oneshot_readds_itself,
    same_fd_newest_first,
    closed_on_peer_shutdown,
    edge_triggered_once_per_edge,
    callback_adds_deletes_activates,
    fd_number_reused_in_callback,
    timer_1ms_rearmed,
    timer_never_early_after_callback_work,
    timers_order_and_persist,
    capacity_fixed4,
    capacity_four_slots_io,
    loopexit_after_delay,
    loopbreak_from_callback,
    once_runs_one_batch,
    nonblock_and_empty,
    signals_reach_every_watching_base,
    fork_with_reinit,
    fork_without_reinit,
    fork_child_frees_without_reinit,
    fork_in_a_callback,
    fork_in_a_callback_and_carry_on,
    steady_state_allocates_nothing,
    read_and_write_on_one_fd,
    read_and_timeout_same_iteration,
    priorities_highest_first,
    closed_fd_with_live_dup_does_not_spin,
    closed_fd_does_not_spin,
    signal_repeats_and_del_stops_them,
    unpollable_refused_at_add,
    unopened_fd_refused_before_the_map_grows,
);

// ---- 1. I/O ----------------------------------------------------------------------------------

/// A persistent READ event fires with READ, again and again while the data stays unread, and
/// stops once it is read.
fn read_level_persistent(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    let ev = spec(a.as_raw_fd(), What::READ | What::PERSIST, 1);
    let h = b.add(None, &ev, None).expect("add");
    fds::put(&peer);
    for round in 0..3 {
        let mut seen = Vec::new();
        let o = guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
        assert_eq!(o, Outcome::Exited);
        assert_eq!(seen, [(1, What::READ)], "round {round}");
        assert!(b.is_held(h, 1));
    }
    assert_eq!(fds::drain(&a), 1);
    let seen = tokens(&mut b, LoopFlags::NONBLOCK);
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(b.counts().added, 1);
}

/// A non-persistent event is deleted before its callback runs, so the handle it ran with is
/// stale and the callback can add it again; while it re-adds itself it keeps firing (the data
/// stays unread); once it stops, the base is empty and the run ends.
fn read_oneshot_readds_itself(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    let ev = spec(a.as_raw_fd(), What::READ, 7);
    b.add(None, &ev, None).expect("add");
    fds::put(&peer);
    let mut fired = 0;
    let o = run(&mut b, LoopFlags::empty(), |b, r| {
        assert_eq!((r.token, r.res), (7, What::READ));
        assert!(
            !b.is_held(r.handle, 7),
            "a one-shot event is deleted before it runs"
        );
        fired += 1;
        if fired < 5 {
            b.add(None, &ev, None).expect("re-add");
        }
    });
    assert_eq!(fired, 5);
    assert_eq!(o, Outcome::Empty);
    assert_eq!(b.counts().added, 0);
}

/// Several events on one fd run newest first (libevent's head-inserted list), all in one batch.
fn same_fd_newest_first(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    for token in 1..=4 {
        let ev = spec(a.as_raw_fd(), What::READ | What::PERSIST, token);
        b.add(None, &ev, None).expect("add");
    }
    fds::put(&peer);
    assert_eq!(tokens(&mut b, LoopFlags::ONCE), [4, 3, 2, 1]);
}

/// The peer shuts its end: a CLOSED event wakes with CLOSED. epoll and poll report it with
/// RDHUP (EARLY_CLOSE); select has no such report, and the base wakes CLOSED interest on READ.
fn closed_on_peer_shutdown(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    let early = b.backend().info().features.contains(Features::EARLY_CLOSE);
    let rdhup = kind.is_epoll() || (kind == Kind::Poll && cfg!(target_os = "linux"));
    assert_eq!(early, rdhup);
    let ev = spec(a.as_raw_fd(), What::CLOSED | What::PERSIST, 3);
    b.add(None, &ev, None).expect("add");
    // Data alone: with EARLY_CLOSE the CLOSED event sleeps; without it the base cannot tell a
    // read from a close and wakes it (the owner finds out with a read).
    // (ONCE too: a NONBLOCK run goes on while events keep firing, as libevent's does.)
    fds::put(&peer);
    let seen = tokens(&mut b, LoopFlags::NONBLOCK | LoopFlags::ONCE);
    if early {
        assert!(seen.is_empty(), "data woke a CLOSED event: {seen:?}");
    } else {
        assert_eq!(seen, [3]);
    }
    assert_eq!(fds::drain(&a), 1);
    drop(peer);
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(3, What::CLOSED)]);
    if cfg!(eventop_libkqueue) && kind.is_kqueue() {
        // libkqueue fails an `EV_ADD` that modifies a socket's live `EVFILT_READ` knote unless it
        // has `EV_CLEAR` (`evfilt_read_knote_modify` returns -1), with a stale errno as the error.
        return;
    }
    // A READ|CLOSED event gets both.
    b.add(None, &spec(a.as_raw_fd(), What::READ, 4), None)
        .expect("add");
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(4, What::READ), (3, What::CLOSED)]);
}

/// An edge-triggered event fires once per edge: not again while the data stays unread, again
/// when more arrives. Level-triggered backends have no ET feature (the base ignores the bit).
fn edge_triggered_once_per_edge(kind: Kind) {
    let mut b = base(kind);
    if !b.backend().info().features.contains(Features::ET) {
        assert!(!kind.is_epoll());
        return;
    }
    let (a, peer) = pair();
    let ev = spec(a.as_raw_fd(), What::READ | What::PERSIST | What::ET, 5);
    b.add(None, &ev, None).expect("add");
    fds::put(&peer);
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(5, What::READ | What::ET)]);
    for _ in 0..3 {
        let seen = tokens(&mut b, LoopFlags::NONBLOCK);
        assert!(seen.is_empty(), "no new edge, yet {seen:?}");
    }
    fds::put(&peer);
    assert_eq!(tokens(&mut b, LoopFlags::ONCE), [5]);
    assert!(tokens(&mut b, LoopFlags::NONBLOCK).is_empty());
    assert_eq!(fds::drain(&a), 2);
}

// ---- 2. callbacks that change the base -----------------------------------------------------

/// During a real dispatch a callback deletes another active event (it must not run), deletes
/// itself, adds a new event and activates a non-pending one: the activated one runs in the same
/// iteration, the added one on the next.
fn callback_adds_deletes_activates(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    let fd = a.as_raw_fd();
    let e1 = spec(fd, What::READ | What::PERSIST, 1);
    let e2 = spec(fd, What::READ | What::PERSIST, 2);
    let e3 = spec(fd, What::READ | What::PERSIST, 3);
    let e4 = spec(-1, What::empty(), 4);
    let h1 = b.add(None, &e1, None).expect("add");
    b.add(None, &e2, None).expect("add");
    fds::put(&peer);
    let mut seen = Vec::new();
    let mut h3 = None;
    guarded(&mut b, LoopFlags::ONCE, |b, r| {
        seen.push((r.token, r.res));
        if r.token == 2 {
            // e2 runs first (newest); e1 is active too.
            assert_eq!(b.pending(h1, 1, What::READ), (What::READ, None));
            b.del(h1, 1).expect("del other");
            b.del(r.handle, 2).expect("del self");
            assert!(!b.is_held(r.handle, 2));
            h3 = Some(b.add(None, &e3, None).expect("add new"));
            b.activate(None, &e4, What::TIMEOUT, 0).expect("activate");
        }
    });
    assert_eq!(seen, [(2, What::READ), (4, What::TIMEOUT)]);
    assert!(!b.is_held(h1, 1));
    let h3 = h3.expect("e3 added");
    assert_eq!(b.counts().added, 1);
    assert_eq!(b.events().count(), 1);
    assert_eq!(tokens(&mut b, LoopFlags::ONCE), [3]);
    // Freed by its own callback: deleted, and the fd's interest with it.
    let o = run(&mut b, LoopFlags::empty(), |b, r| {
        assert_eq!(r.token, 3);
        b.del(h3, 3).expect("free self");
    });
    assert_eq!(o, Outcome::Empty);
    assert_eq!(b.counts(), Default::default());
    // Nothing watches the fd now: the unread byte wakes no one.
    b.add(
        None,
        &spec(-1, What::empty(), 9),
        Some(Duration::from_millis(20)),
    )
    .expect("timer");
    let mut seen = Vec::new();
    let o = run(&mut b, LoopFlags::empty(), |_, r| seen.push(r.token));
    assert_eq!((o, seen), (Outcome::Empty, vec![9]));
}

/// A callback deletes its fd's event, the fd number is closed and taken by a new socket (dup2:
/// atomic, so no other thread can grab the number in between), and an event for the new socket
/// is added in the same callback: it works. epoll must not be fooled by the old registration;
/// the changelist sees del+add of the same fd in one batch.
fn fd_number_reused_in_callback(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    let fd = a.into_raw_fd();
    b.add(None, &spec(fd, What::READ | What::PERSIST, 1), None)
        .expect("add");
    fds::put(&peer);
    let (a2, peer2) = pair();
    let mut a2 = Some(a2);
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |b, r| {
        seen.push(r.token);
        if r.token == 1 {
            b.del(r.handle, 1).expect("del");
            let new = a2.take().expect("once");
            fds::reuse_number(new.as_raw_fd(), fd);
            drop(new);
            b.add(None, &spec(fd, What::READ | What::PERSIST, 2), None)
                .expect("add on the reused number");
        }
    });
    assert_eq!(seen, [1]);
    // SAFETY: `fd` is ours (from `into_raw_fd`), now the new socket's number.
    let reused = unsafe { OwnedFd::from_raw_fd(fd) };
    assert!(tokens(&mut b, LoopFlags::NONBLOCK).is_empty());
    fds::put(&peer2);
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(2, What::READ)]);
    assert_eq!(fds::drain(std::fs::File::from(reused)), 1);
}

// ---- 3. timers on the real clock -----------------------------------------------------------

/// The `q`-quantile of sorted `v`.
fn quantile(v: &[u64], q: f64) -> u64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// A 1 ms one-shot timer re-armed from its own callback 1000 times. Never early: at each firing
/// the clock has reached the deadline the base set when it was armed (read with `pending`, and
/// at least the clock at the `add` + 1 ms, past the callback's cached `now()` + 1 ms). On epoll,
/// one wait per firing (epoll_pwait2's nanosecond timeout, or whole milliseconds rounded up).
/// Lateness is printed, never asserted.
fn timer_1ms_rearmed(kind: Kind) {
    const N: usize = 1000;
    block_test_signals();
    let mut b = base(kind);
    let ev = spec(-1, What::empty(), 1);
    let step = Duration::from_millis(1);
    let h = b.add(None, &ev, Some(step)).expect("add");
    let mut deadline = b.pending(h, 1, What::TIMEOUT).1.expect("deadline");
    let mut late = Vec::with_capacity(N);
    let mut early = Vec::new();
    let d0 = b.backend().dispatches;
    let o = run(&mut b, LoopFlags::empty(), |b, r| {
        let t = now();
        assert_eq!((r.token, r.res), (1, What::TIMEOUT));
        if t < deadline {
            early.push(deadline - t);
        }
        late.push(t.saturating_sub(deadline));
        if late.len() < N {
            let cached = b.now();
            let before = now();
            let h = b.add(None, &ev, Some(step)).expect("re-arm");
            let (what, at) = b.pending(h, 1, What::all());
            assert_eq!(what, What::TIMEOUT);
            deadline = at.expect("deadline");
            assert!(deadline >= before + MS, "deadline counts from the add");
            assert!(before >= cached, "the cached time is the iteration's");
            assert_eq!(b.now(), cached, "and stays cached");
        }
    });
    assert_eq!(o, Outcome::Empty);
    assert_eq!(late.len(), N);
    assert!(
        early.is_empty(),
        "{} firings early, by {early:?} ns",
        early.len()
    );
    let waits = b.backend().dispatches - d0;
    let per = waits as f64 / N as f64;
    late.sort_unstable();
    eprintln!(
        "{kind:?}: 1 ms timer x{N}: lateness p50 {:.1} us, p99 {:.1} us, max {:.1} us; \
         {per:.3} dispatches per firing",
        quantile(&late, 0.5) as f64 / 1e3,
        quantile(&late, 0.99) as f64 / 1e3,
        late[N - 1] as f64 / 1e3,
    );
    if kind.is_epoll() {
        assert!(per <= 1.05, "{per} dispatches per firing");
    }
}

/// A timer re-added by a callback after ~300 us of work, 50 times, as a one-shot timer and as
/// the timeout of a persistent READ event (the add's fast path): each firing comes at least the
/// timeout after the `add` that armed it, measured on CLOCK_MONOTONIC (`Instant`). "Never
/// early" is a correctness property: counted from the iteration's cached time, the deadline
/// would be early by the work done before the `add`.
fn timer_never_early_after_callback_work(kind: Kind) {
    const N: usize = 50;
    let timeout = Duration::from_millis(1);
    block_test_signals();
    let (quiet, _peer) = pair();
    for events in [What::empty(), What::READ | What::PERSIST] {
        let mut b = base(kind);
        let fd = if events.is_empty() {
            -1
        } else {
            quiet.as_raw_fd()
        };
        let ev = spec(fd, events, 1);
        let mut added = Instant::now();
        b.add(None, &ev, Some(timeout)).expect("add");
        let mut gaps = Vec::with_capacity(N);
        run(&mut b, LoopFlags::empty(), |b, r| {
            gaps.push(added.elapsed());
            assert_eq!(r.res, What::TIMEOUT);
            if gaps.len() == N {
                let _ = b.del(r.handle, 1);
                return;
            }
            let work = Instant::now();
            while work.elapsed() < Duration::from_micros(300) {}
            added = Instant::now();
            b.add(Some(r.handle), &ev, Some(timeout)).expect("re-add");
        });
        assert_eq!(gaps.len(), N);
        let early: Vec<_> = gaps.iter().filter(|g| **g < timeout).collect();
        assert!(
            early.is_empty(),
            "{events:?}: {} of {N} firings early: {early:?}",
            early.len()
        );
    }
}

/// Timers of different lengths fire in deadline order, each at or after its deadline; a
/// persistent one re-arms from its deadline; `del_timer` keeps an I/O event inserted.
fn timers_order_and_persist(kind: Kind) {
    block_test_signals();
    let mut b = base(kind);
    let t0 = now();
    for (token, ms) in [(30usize, 30u64), (10, 10), (20, 20)] {
        b.add(
            None,
            &spec(-1, What::empty(), token),
            Some(Duration::from_millis(ms)),
        )
        .expect("add");
    }
    let mut seen = Vec::new();
    let o = run(&mut b, LoopFlags::empty(), |_, r| {
        let at = now() - t0;
        assert!(
            at >= r.token as u64 * MS,
            "{} ms timer after {at} ns",
            r.token
        );
        seen.push(r.token);
    });
    assert_eq!((o, seen), (Outcome::Empty, vec![10, 20, 30]));

    // Persistent, 5 ms: five firings, each at least 5 ms after the previous deadline.
    let p = spec(-1, What::PERSIST, 5);
    let h = b
        .add(None, &p, Some(Duration::from_millis(5)))
        .expect("add");
    let mut last = b.pending(h, 5, What::TIMEOUT).1.expect("deadline");
    let mut fired = 0;
    run(&mut b, LoopFlags::empty(), |b, r| {
        assert!(now() >= last, "persistent timer early");
        fired += 1;
        let next = b.pending(r.handle, 5, What::TIMEOUT).1.expect("re-armed");
        assert!(
            next >= last + 5 * MS,
            "re-armed at {next}, last deadline {last}"
        );
        last = next;
        if fired == 5 {
            b.del(r.handle, 5).expect("del");
        }
    });
    assert_eq!(fired, 5);

    // An I/O event with a timeout: the timeout goes, the I/O stays.
    let (a, peer) = pair();
    let io = spec(a.as_raw_fd(), What::READ | What::PERSIST, 6);
    let h = b
        .add(None, &io, Some(Duration::from_millis(5)))
        .expect("add");
    b.del_timer(h, 6).expect("del_timer");
    assert_eq!(b.pending(h, 6, What::all()), (What::READ, None));
    fds::put(&peer);
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(6, What::READ)]);
}

// ---- 7. capacity ---------------------------------------------------------------------------

/// `Fixed<4>`: a fifth event does not fit (`Full(Slots)`), the base is left as it was, and the
/// first four still run.
fn capacity_fixed4(kind: Kind) {
    block_test_signals();
    let mut b: Base<Fixed<4>> = base_with(kind, Parts::default());
    for token in 1..=4 {
        let ms = Duration::from_millis(token as u64);
        b.add(None, &spec(-1, What::empty(), token), Some(ms))
            .expect("add");
    }
    let fifth = b.add(
        None,
        &spec(-1, What::empty(), 5),
        Some(Duration::from_millis(1)),
    );
    assert_eq!(fifth, Err(Error::Full(Resource::Slots)));
    assert_eq!(b.counts().added, 4);
    let mut seen = Vec::new();
    let o = run(&mut b, LoopFlags::empty(), |_, r| seen.push(r.token));
    assert_eq!((o, seen), (Outcome::Empty, vec![1, 2, 3, 4]));
}

/// Four slots over real sockets (the fd map grows: fd numbers are whatever the kernel gives):
/// the fifth I/O event is `Full(Slots)` and tells the backend nothing; the four run.
fn capacity_four_slots_io(kind: Kind) {
    let mut b: Base<Slots4> = base_with(
        kind,
        Parts {
            slots: heapless::Vec::new(),
            fds: Grow::default(),
            timers: Grow::default(),
            changes: Grow::default(),
        },
    );
    let pairs: Vec<_> = (0..5).map(|_| pair()).collect();
    for (i, (a, _)) in pairs.iter().enumerate().take(4) {
        b.add(None, &spec(a.as_raw_fd(), What::READ, i + 1), None)
            .expect("add");
    }
    let fifth = spec(pairs[4].0.as_raw_fd(), What::READ, 5);
    assert_eq!(b.add(None, &fifth, None), Err(Error::Full(Resource::Slots)));
    for (_, peer) in &pairs {
        fds::put(peer);
    }
    let mut seen = Vec::new();
    let o = run(&mut b, LoopFlags::empty(), |_, r| {
        assert_eq!(r.res, What::READ);
        seen.push(r.token);
    });
    seen.sort_unstable();
    assert_eq!((o, seen), (Outcome::Empty, vec![1, 2, 3, 4]));
}

// ---- 8. loop control -----------------------------------------------------------------------

/// `loopexit(50 ms)` ends a NO_EXIT_ON_EMPTY run with nothing in it, no sooner than 50 ms later.
fn loopexit_after_delay(kind: Kind) {
    block_test_signals();
    let mut b = base(kind);
    let t0 = now();
    b.loopexit(Some(Duration::from_millis(50)));
    let o = run(&mut b, LoopFlags::NO_EXIT_ON_EMPTY, |_, r| {
        panic!("nothing should run: {r:?}")
    });
    let took = now() - t0;
    assert_eq!(o, Outcome::Exited);
    assert!(took >= 50 * MS, "exited after {took} ns");
    assert!(!b.exit_pending());
    eprintln!(
        "{kind:?}: loopexit(50 ms) returned after {:.3} ms",
        took as f64 / 1e6
    );
}

/// `loopbreak` from a callback ends the run after that callback, though more are active.
fn loopbreak_from_callback(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    for token in 1..=3 {
        let ev = spec(a.as_raw_fd(), What::READ | What::PERSIST, token);
        b.add(None, &ev, None).expect("add");
    }
    fds::put(&peer);
    let mut seen = Vec::new();
    let o = guarded(&mut b, LoopFlags::empty(), |b, r| {
        seen.push(r.token);
        b.loopbreak();
    });
    assert_eq!((o, seen), (Outcome::Exited, vec![3]));
    // The others are still active and run first in the next run (a break is not remembered);
    // that run's wait finds the fd still readable and queues the one that ran behind them.
    assert_eq!(b.counts().active, 2);
    assert_eq!(tokens(&mut b, LoopFlags::ONCE), [2, 1, 3]);
}

/// ONCE waits for events and returns after the one batch that ran (the fd stays readable).
fn once_runs_one_batch(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    let (c, peer2) = pair();
    b.add(
        None,
        &spec(a.as_raw_fd(), What::READ | What::PERSIST, 1),
        None,
    )
    .expect("add");
    b.add(
        None,
        &spec(c.as_raw_fd(), What::READ | What::PERSIST, 2),
        None,
    )
    .expect("add");
    let d0 = b.backend().dispatches;
    // Written from another thread after 20 ms: ONCE has to wait for it.
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        fds::put(&peer);
        fds::put(&peer2);
        (peer, peer2)
    });
    let mut seen = Vec::new();
    let o = guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push(r.token));
    let _peers = writer.join().expect("writer");
    assert_eq!(o, Outcome::Exited);
    // Both may come in one wait or in two; each runs exactly once per batch.
    assert!(!seen.is_empty() && seen.len() <= 2, "{seen:?}");
    assert!(b.backend().dispatches - d0 >= 1);
    let mut all = tokens(&mut b, LoopFlags::ONCE);
    all.sort_unstable();
    assert_eq!(all, [1, 2], "both readable now, one batch");
}

/// NONBLOCK with nothing ready returns at once, after one wait that did not block; `Empty` with
/// no events at all, without waiting.
fn nonblock_and_empty(kind: Kind) {
    let mut b = base(kind);
    let o = run(&mut b, LoopFlags::empty(), |_, r| panic!("{r:?}"));
    assert_eq!(o, Outcome::Empty);
    let o = run(&mut b, LoopFlags::NONBLOCK, |_, r| panic!("{r:?}"));
    assert_eq!(o, Outcome::Empty);
    assert_eq!(b.backend().dispatches, 0, "an empty base never waits");
    let (a, _peer) = pair();
    b.add(None, &spec(a.as_raw_fd(), What::READ, 1), None)
        .expect("add");
    b.add(
        None,
        &spec(-1, What::empty(), 2),
        Some(Duration::from_secs(3600)),
    )
    .expect("add");
    let o = run(&mut b, LoopFlags::NONBLOCK, |_, r| panic!("{r:?}"));
    assert_eq!(o, Outcome::Exited);
    assert_eq!(b.backend().dispatches, 1);
    assert_eq!(b.counts().added, 2);
}

// ---- 9. selection from the real table ------------------------------------------------------

type Table = Hosted<FixedBuffers<64>>;

/// The name of the backend selection picks with `env` as the environment.
fn picked(config: &Config<'_>, env: &[&str]) -> Result<&'static str, Vec<(&'static str, Skip)>> {
    let mut lookup = |name: &str| env.contains(&name);
    match selection::select(Table::TABLE, config, &mut lookup) {
        Ok(s) => Ok(s.backend.info().name),
        Err(none) => Err(none.skipped().to_vec()),
    }
}

/// The table's backends in its order, as compiled for this target: kqueue first on the BSDs and
/// macOS, last on Linux over libkqueue (there to be tested, not preferred); on Linux io_uring
/// before epoll.
const COMPILED: &[&str] = &[
    #[cfg(all(eventop_kqueue, not(target_os = "linux")))]
    "kqueue",
    #[cfg(target_os = "linux")]
    "io_uring",
    #[cfg(target_os = "linux")]
    "epoll",
    "poll",
    "select",
    #[cfg(all(eventop_kqueue, target_os = "linux"))]
    "kqueue",
];

/// Whether the entry named `name` is taken with a default config: io_uring not (it is taken
/// only when asked for), every other one always.
fn usable(name: &str) -> bool {
    name != "io_uring"
}

/// The first usable entry of `names`.
fn first_usable<'a>(names: &[&'a str]) -> Option<&'a str> {
    names.iter().copied().find(|n| usable(n))
}

#[test]
fn selection_default_is_epoll() {
    // (On the BSDs and macOS: kqueue.) io_uring is passed over unless asked for.
    let first = first_usable(COMPILED).unwrap();
    assert_eq!(picked(&Config::default(), &[]), Ok(first));
    #[cfg(target_os = "linux")]
    assert_eq!(first, "epoll");
}

/// Asked for (the flag, or `EVENT_IO_URING`), io_uring is taken where it proves itself; not with
/// `EPOLL_USE_CHANGELIST`, nor with `EVENT_NOIO_URING`.
#[cfg(target_os = "linux")]
#[test]
fn selection_io_uring_when_asked() {
    let want = if Uring::new().is_ok() {
        "io_uring"
    } else {
        "epoll"
    };
    let asked = Config {
        flags: BaseFlags::IO_URING,
        ..Config::default()
    };
    assert_eq!(picked(&asked, &[]), Ok(want));
    assert_eq!(picked(&Config::default(), &["EVENT_IO_URING"]), Ok(want));
    assert_eq!(
        picked(&asked, &["EVENT_EPOLL_USE_CHANGELIST"]),
        Ok("epoll (with changelist)")
    );
    assert_eq!(picked(&asked, &["EVENT_NOIO_URING"]), Ok("epoll"));
}

#[test]
fn selection_env_disables_in_order() {
    let cfg = Config::default();
    let vars: Vec<String> = COMPILED
        .iter()
        .map(|n| format!("EVENT_NO{}", n.to_uppercase()))
        .collect();
    let vars: Vec<&str> = vars.iter().map(String::as_str).collect();
    #[cfg(target_os = "linux")]
    assert_eq!(vars[0], "EVENT_NOIO_URING");
    for k in 0..COMPILED.len() {
        let want = first_usable(&COMPILED[k..]).unwrap();
        assert_eq!(picked(&cfg, &vars[..k]), Ok(want), "{:?}", &vars[..k]);
    }
    assert_eq!(
        picked(&cfg, &vars),
        Err(COMPILED.iter().map(|&n| (n, Skip::DisabledByEnv)).collect())
    );
    // IGNORE_ENV: the lookup is not consulted.
    let ignore = Config {
        flags: BaseFlags::IGNORE_ENV,
        ..Config::default()
    };
    assert_eq!(picked(&ignore, &vars), Ok(first_usable(COMPILED).unwrap()));
    // EVENT_EPOLL_USE_CHANGELIST acts as the flag, on epoll (io_uring has a changelist always).
    #[cfg(target_os = "linux")]
    assert_eq!(
        picked(&cfg, &["EVENT_NOIO_URING", "EVENT_EPOLL_USE_CHANGELIST"]),
        Ok("epoll (with changelist)")
    );
}

#[test]
fn selection_avoid_and_require() {
    let avoid = Config {
        avoid: &[COMPILED[0]],
        ..Config::default()
    };
    assert_eq!(
        picked(&avoid, &[]),
        Ok(first_usable(&COMPILED[1..]).unwrap())
    );
    // Of the backends, io_uring, epoll and kqueue are edge-triggered.
    let et = Config {
        avoid: &["epoll", "io_uring"],
        require: Features::ET,
        ..Config::default()
    };
    assert_eq!(
        picked(&et, &[]).ok(),
        cfg!(eventop_kqueue).then_some("kqueue")
    );
    let et = Config {
        avoid: &["epoll", "kqueue", "io_uring"],
        require: Features::ET,
        ..Config::default()
    };
    let skipped = COMPILED.iter().map(|&n| match n {
        "epoll" | "kqueue" | "io_uring" => (n, Skip::Avoided),
        _ => (n, Skip::LacksFeatures(Features::ET)),
    });
    assert_eq!(picked(&et, &[]), Err(skipped.collect()));
}

// ---- 4. signals ----------------------------------------------------------------------------

/// Sends `sig` to the whole process (any thread not blocking it takes it).
fn kill_self(sig: i32) {
    // SAFETY: kill(getpid(), sig) with a signal a base has a handler installed for.
    let rc = unsafe { libc::kill(libc::getpid(), sig) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Two bases in two threads, both with a persistent SIGUSR1 event, and a third with only a
/// SIGUSR2 event. A third thread sends SIGUSR1 to the process 1000 times, 200 us apart, then
/// SIGUSR2 once. Both SIGUSR1 bases see (most of) the deliveries: each delivery reaches every
/// base that watches the signal (libevent gives it to one base only). POSIX coalesces a signal
/// sent while one is pending, so counts are between 1 and 1000. The SIGUSR2 base sees only its
/// one SIGUSR2, and the SIGUSR1 bases never see it.
fn signals_reach_every_watching_base(kind: Kind) {
    const N: u32 = 1000;
    let _g = serial();
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(Barrier::new(4));
    let spawn = |sig: i32| {
        let (stop, ready) = (stop.clone(), ready.clone());
        thread::spawn(move || {
            let mut b = base(kind);
            b.add(None, &spec(sig, What::SIGNAL | What::PERSIST, 1), None)
                .expect("signal event");
            // A tick, so the thread looks at `stop` now and then.
            b.add(
                None,
                &spec(-1, What::PERSIST, 2),
                Some(Duration::from_millis(10)),
            )
            .expect("tick");
            ready.wait();
            let mut count = 0u32;
            let mut on_event = |_: &mut Base, r: Ready| {
                if r.token == 1 {
                    assert_eq!((r.fd, r.res), (sig, What::SIGNAL));
                    count += 1;
                }
            };
            while !stop.load(Ordering::SeqCst) {
                run(&mut b, LoopFlags::ONCE, &mut on_event);
            }
            run(&mut b, LoopFlags::NONBLOCK | LoopFlags::ONCE, &mut on_event);
            count
        })
    };
    let usr1 = [spawn(libc::SIGUSR1), spawn(libc::SIGUSR1)];
    let usr2 = spawn(libc::SIGUSR2);
    ready.wait();
    for _ in 0..N {
        kill_self(libc::SIGUSR1);
        thread::sleep(Duration::from_micros(200));
    }
    // Pending deliveries land long before this; only then may the handlers be uninstalled
    // (SIGUSR1's default action would end the process).
    thread::sleep(Duration::from_millis(300));
    kill_self(libc::SIGUSR2);
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let counts = usr1.map(|t| t.join().expect("SIGUSR1 base"));
    let c = usr2.join().expect("SIGUSR2 base");
    eprintln!(
        "{kind:?}: {N} x SIGUSR1 -> bases saw {} and {}; SIGUSR2-only base saw {c} (of 1 SIGUSR2)",
        counts[0], counts[1]
    );
    for n in counts {
        assert!((1..=N).contains(&n), "{n} deliveries");
        assert!(n >= N / 2, "only {n} of {N} deliveries");
    }
    assert_eq!(c, 1, "the SIGUSR2 base sees its one SIGUSR2 and no SIGUSR1");
}

// ---- 5. fork -------------------------------------------------------------------------------

/// What the child of [`fork_child_changes`] does, as an exit code (0: all well). It must not
/// panic or print: only this thread exists in the child.
fn child_body(b: &mut Base, h: eventop_core::base::Handle, reinit: bool) -> i32 {
    if reinit && b.reinit().is_err() {
        return 10;
    }
    if b.del(h, 1).is_err() {
        return 11;
    }
    let mut sv = [0 as libc::c_int; 2];
    // SAFETY: `sv` has room for the two fds socketpair writes.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) } != 0 {
        return 12;
    }
    // SAFETY: one readable byte, written to an fd we own.
    if unsafe { libc::write(sv[1], b"c".as_ptr().cast(), 1) } != 1 {
        return 13;
    }
    if b.add(None, &spec(sv[0], What::READ, 3), None).is_err() {
        return 14;
    }
    let mut seen = [0usize; 8];
    let mut n = 0;
    if b.start(LoopFlags::NONBLOCK).is_err() {
        return 15;
    }
    loop {
        match b.step() {
            Ok(Step::Run(r)) => {
                if let Some(s) = seen.get_mut(n) {
                    *s = r.token;
                }
                n += 1;
            }
            Ok(Step::Done(_)) => break,
            Err(_) => return 16,
        }
    }
    if seen[..n.min(8)] != [3] {
        return 17;
    }
    0
}

/// Forks with a READ event on a socketpair and a signal event pending; the child changes the
/// base (deletes the READ event, adds its own and receives it) and exits. The parent's
/// registrations are untouched and its READ and signal events still fire, whether the child
/// called `reinit` or not: without it, the base notices the new process itself before it
/// touches the backend (on epoll, the child's delete would otherwise reach the epoll set the
/// two processes share).
fn fork_child_changes(kind: Kind, reinit: bool) {
    let _g = serial();
    block_test_signals();
    let mut b = base(kind);
    let (a, peer) = pair();
    let h = b
        .add(
            None,
            &spec(a.as_raw_fd(), What::READ | What::PERSIST, 1),
            None,
        )
        .expect("add");
    b.add(
        None,
        &spec(libc::SIGUSR2, What::SIGNAL | What::PERSIST, 2),
        None,
    )
    .expect("signal");
    // Let the changelist reach the kernel before forking.
    assert!(tokens(&mut b, LoopFlags::NONBLOCK).is_empty());
    // SAFETY: the child runs only `child_body` (no locks other threads may hold: no printing,
    // and the signal registry is not being changed, `serial` is held) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            child_body(&mut b, h, reinit)
        }))
        .unwrap_or(99);
        // SAFETY: ends the child without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid place to write.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: status {status:#x}"
    );
    fds::put(&peer);
    // A timer ends the run if the READ event does not come.
    let t = b
        .add(
            None,
            &spec(-1, What::empty(), 4),
            Some(Duration::from_secs(5)),
        )
        .expect("timer");
    let mut seen = Vec::new();
    run(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(1, What::READ)], "the parent still hears its fd");
    let _ = b.del(t, 4);
    // The parent's signal event still works too (this thread blocks the signal: another
    // takes it and writes to the pipe, so wait for it).
    assert_eq!(fds::drain(&a), 1);
    kill_self(libc::SIGUSR2);
    assert_eq!(tokens(&mut b, LoopFlags::ONCE), [2]);
}

fn fork_with_reinit(kind: Kind) {
    fork_child_changes(kind, true);
}

fn fork_without_reinit(kind: Kind) {
    fork_child_changes(kind, false);
}

const FORK_EVENTS: usize = 100;

/// The child of [`fork_child_frees_without_reinit`]: frees every event of the parent's, adds
/// one of its own and receives it, raises a signal and receives it, then drops the base; no
/// `reinit`. An exit code, 0 for success; no panics, no printing.
fn child_frees(mut b: Base, hs: &[eventop_core::base::Handle]) -> i32 {
    // A signal first, before the base has seen the new process: it must wait for the child's
    // base, and never reach the parent's pipe. (This thread blocks it; unblocked, it is taken
    // at once.)
    // SAFETY: kill(getpid(), sig) with a signal a base has a handler installed for; `set` is a
    // local sigset_t set up by sigemptyset, and only this thread's mask changes.
    unsafe {
        if libc::kill(libc::getpid(), libc::SIGUSR2) != 0 {
            return 20;
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR2);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
    for (i, h) in hs.iter().enumerate() {
        if b.del(*h, i).is_err() {
            return 21;
        }
    }
    let mut sv = [0 as libc::c_int; 2];
    // SAFETY: `sv` has room for the two fds socketpair writes.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) } != 0 {
        return 22;
    }
    // SAFETY: one readable byte, written to an fd we own.
    if unsafe { libc::write(sv[1], b"c".as_ptr().cast(), 1) } != 1 {
        return 23;
    }
    if b.add(None, &spec(sv[0], What::READ, 1000), None).is_err() {
        return 24;
    }
    // A timer ends the run if the events do not come.
    let guard = spec(-1, What::empty(), 1001);
    if b.add(None, &guard, Some(Duration::from_secs(5))).is_err() {
        return 25;
    }
    let (mut own, mut signals, mut other) = (0, 0, 0);
    if b.start(LoopFlags::empty()).is_err() {
        return 26;
    }
    loop {
        match b.step() {
            Ok(Step::Run(r)) if r.token == 1000 => own += 1,
            Ok(Step::Run(r)) if r.token == FORK_EVENTS => signals += 1,
            Ok(Step::Run(r)) if r.token == 1001 => b.loopbreak(),
            Ok(Step::Run(_)) => other += 1,
            Ok(Step::Done(_)) => break,
            Err(_) => return 27,
        }
        if (own, signals) == (1, 1) {
            b.loopbreak();
        }
    }
    if (own, signals, other) != (1, 1, 0) {
        return 28;
    }
    drop(b);
    0
}

/// The parent has 100 READ events (socketpairs) and a signal event; the child uses the base
/// without calling `reinit` (frees the parent's events, adds and receives its own, receives a
/// signal) and drops it. The parent then receives all 100 events and no signal of the
/// child's: the base noticed the new process and started afresh before touching the backend
/// (on epoll the child's deletes would otherwise empty the epoll set the two share).
fn fork_child_frees_without_reinit(kind: Kind) {
    let _g = serial();
    block_test_signals();
    let mut b = base(kind);
    let pairs: Vec<_> = (0..FORK_EVENTS).map(|_| pair()).collect();
    let hs: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(i, (a, _))| {
            b.add(
                None,
                &spec(a.as_raw_fd(), What::READ | What::PERSIST, i),
                None,
            )
            .expect("add")
        })
        .collect();
    let sig = spec(libc::SIGUSR2, What::SIGNAL | What::PERSIST, FORK_EVENTS);
    b.add(None, &sig, None).expect("signal");
    // Let the changelist reach the kernel before forking.
    assert!(tokens(&mut b, LoopFlags::NONBLOCK).is_empty());
    // SAFETY: the child runs only `child_frees` (no printing; the signal registry is not being
    // changed, `serial` is held) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| child_frees(b, &hs)))
            .unwrap_or(99);
        // SAFETY: ends the child without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid place to write.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: status {status:#x}"
    );
    for (_, peer) in &pairs {
        fds::put(peer);
    }
    // A timer ends the run if events do not come.
    let t = spec(-1, What::empty(), FORK_EVENTS + 1);
    let th = b
        .add(None, &t, Some(Duration::from_secs(5)))
        .expect("timer");
    let (mut seen, mut signals, mut n) = (vec![0usize; FORK_EVENTS], 0, 0);
    run(&mut b, LoopFlags::empty(), |b, r| {
        if r.token == FORK_EVENTS {
            signals += 1;
        } else if r.token < FORK_EVENTS {
            assert_eq!(r.res, What::READ);
            seen[r.token] += 1;
            fds::drain(&pairs[r.token].0);
            n += 1;
        }
        if n == FORK_EVENTS || r.token > FORK_EVENTS {
            b.loopbreak();
        }
    });
    let got = seen.iter().filter(|&&c| c == 1).count();
    assert_eq!(got, FORK_EVENTS, "events the parent received, once each");
    assert_eq!(signals, 0, "the child's signal reached the parent");
    let _ = b.del(th, FORK_EVENTS + 1);
    // And the parent's own signal event still works.
    kill_self(libc::SIGUSR2);
    assert_eq!(tokens(&mut b, LoopFlags::ONCE), [FORK_EVENTS]);
}

/// A callback forks; the child carries on with the run: still in the callback, it deletes the
/// parent's 100 READ events and adds one of its own, which it then receives; no `reinit`. The
/// parent finishes its run and then receives all 100 events: the child's base started afresh,
/// mid-run, at its first delete.
fn fork_in_a_callback(kind: Kind) {
    const FORKER: usize = FORK_EVENTS;
    const OWN: usize = FORK_EVENTS + 1;
    let _g = serial();
    block_test_signals();
    let mut b = base(kind);
    let pairs: Vec<_> = (0..FORK_EVENTS).map(|_| pair()).collect();
    let hs: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(i, (a, _))| {
            b.add(
                None,
                &spec(a.as_raw_fd(), What::READ | What::PERSIST, i),
                None,
            )
            .expect("add")
        })
        .collect();
    assert!(tokens(&mut b, LoopFlags::NONBLOCK).is_empty());
    b.activate(None, &spec(-1, What::empty(), FORKER), What::TIMEOUT, 1)
        .expect("activate");
    let (mut pid, mut own, mut code) = (-1, None, 0);
    let mut sv = [0 as libc::c_int; 2];
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&mut b, LoopFlags::empty(), |b, r| match r.token {
            FORKER => {
                // SAFETY: the child runs only this closure's steps and the loop (no printing,
                // `serial` is held) and leaves with _exit below.
                pid = unsafe { libc::fork() };
                if pid != 0 {
                    // The parent's part of the run ends here.
                    b.loopbreak();
                    return;
                }
                for (i, h) in hs.iter().enumerate() {
                    if b.del(*h, i).is_err() {
                        code = 30;
                    }
                }
                // SAFETY: `sv` has room for two fds; one readable byte goes to an fd we own.
                let ok = unsafe {
                    libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) == 0
                        && libc::write(sv[1], b"c".as_ptr().cast(), 1) == 1
                };
                if !ok {
                    code = 31;
                }
                own = b.add(None, &spec(sv[0], What::READ, OWN), None).ok();
                if own.is_none() {
                    code = 32;
                }
                if code != 0 {
                    b.loopbreak();
                }
            }
            OWN => b.loopbreak(),
            _ => code = 33,
        })
    }));
    if pid == 0 {
        let code = if caught.is_err() { 99 } else { code };
        // SAFETY: ends the child without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    assert!(caught.is_ok(), "the parent's run panicked");
    assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid place to write.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: status {status:#x}"
    );
    for (_, peer) in &pairs {
        fds::put(peer);
    }
    let t = spec(-1, What::empty(), OWN + 1);
    let th = b
        .add(None, &t, Some(Duration::from_secs(5)))
        .expect("timer");
    let (mut seen, mut n) = (vec![0usize; FORK_EVENTS], 0);
    run(&mut b, LoopFlags::empty(), |b, r| {
        if r.token < FORK_EVENTS {
            seen[r.token] += 1;
            fds::drain(&pairs[r.token].0);
            n += 1;
        }
        if n == FORK_EVENTS || r.token > FORK_EVENTS {
            b.loopbreak();
        }
    });
    let got = seen.iter().filter(|&&c| c == 1).count();
    assert_eq!(got, FORK_EVENTS, "events the parent received, once each");
    let _ = b.del(th, OWN + 1);
}

/// A child forked in a callback that carries on with the run, calling nothing on the base, waits
/// on a kernel object of its own: the parent deleting its event from the set they shared (epoll,
/// io_uring) does not strand the child's copy of it.
fn fork_in_a_callback_and_carry_on(kind: Kind) {
    const READER: usize = 0;
    const FORKER: usize = 1;
    let _g = serial();
    block_test_signals();
    let mut b = base(kind);
    let (a, peer) = pair();
    let reader = spec(a.as_raw_fd(), What::READ | What::PERSIST, READER);
    let h = b.add(None, &reader, None).expect("add");
    assert!(tokens(&mut b, LoopFlags::NONBLOCK).is_empty());
    b.activate(None, &spec(-1, What::empty(), FORKER), What::TIMEOUT, 1)
        .expect("activate");
    let mut pid = -1;
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&mut b, LoopFlags::empty(), |b, r| match r.token {
            FORKER => {
                // SAFETY: the child runs only the loop and this closure (no printing, `serial`
                // is held) and leaves with _exit.
                pid = unsafe { libc::fork() };
                if pid != 0 {
                    b.loopbreak();
                }
            }
            // SAFETY: ends the child at once, as the test's success.
            READER if pid == 0 => unsafe { libc::_exit(0) },
            _ => {}
        })
    }));
    if pid == 0 {
        // The child's run ended without its event.
        // SAFETY: ends the child without the parent's atexit handlers or destructors.
        unsafe { libc::_exit(if caught.is_err() { 99 } else { 40 }) };
    }
    assert!(caught.is_ok(), "the parent's run panicked");
    assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
    b.del(h, READER).expect("del");
    assert!(tokens(&mut b, LoopFlags::NONBLOCK).is_empty());
    fds::put(&peer);
    let mut status = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // SAFETY: waits for our own child; `status` is a valid place to write.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != 0 {
            break;
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: ends and reaps our own child, which is still running.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the child never saw its event: it waits on the parent's kernel object");
        }
        thread::sleep(Duration::from_millis(5));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: status {status:#x}"
    );
}

// ---- 6. no allocation in steady state ------------------------------------------------------

/// Ping-pong over a socketpair, one event per iteration, each with a persistent READ event
/// whose 10 s timeout is re-armed by every run, and a one-shot timer re-armed (rescheduled)
/// from each callback: after warm-up, 10,000 iterations allocate nothing. Fixed tables and
/// buffers; the thread has a large stack for them.
fn steady_state_allocates_nothing(kind: Kind) {
    thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || ping_pong(kind))
        .expect("spawn")
        .join()
        .expect("ping-pong");
}

fn ping_pong(kind: Kind) {
    const WARM: u32 = 100;
    const N: u32 = 10_000;
    block_test_signals();
    type T = Fixed<1024>;
    let backend = Counting {
        inner: kind.hosted::<FixedBuffers<64>>(),
        dispatches: 0,
        last_timeout: None,
    };
    let mut b: EventBase<Counting<Hosted<FixedBuffers<64>>>, Monotonic, T> =
        EventBase::new(backend, Monotonic, Parts::default(), kind.flags());
    let (x, y) = pair();
    let (fx, fy) = (x.as_raw_fd(), y.as_raw_fd());
    assert!(fx < 1024 && fy < 1024, "fds beyond the fixed fd map");
    let tmo = Some(Duration::from_secs(10));
    b.add(None, &spec(fx, What::READ | What::PERSIST, 1), tmo)
        .expect("add");
    b.add(None, &spec(fy, What::READ | What::PERSIST, 2), tmo)
        .expect("add");
    let timer = spec(-1, What::empty(), 3);
    let mut th = b.add(None, &timer, tmo).expect("timer");
    // SAFETY: one byte from a live buffer to an fd we own.
    assert_eq!(unsafe { libc::write(fy, b"p".as_ptr().cast(), 1) }, 1);
    let mut iterations = 0u32;
    let mut before = 0;
    while iterations < WARM + N {
        if iterations == WARM {
            before = allocs();
        }
        let o = run(&mut b, LoopFlags::ONCE, |b, r| {
            assert_eq!(r.res, What::READ);
            let mut byte = 0u8;
            // SAFETY: one byte into a local, from an fd we own; then one byte back out of it.
            unsafe {
                assert_eq!(libc::read(r.fd, (&mut byte as *mut u8).cast(), 1), 1);
                assert_eq!(libc::write(r.fd, (&byte as *const u8).cast(), 1), 1);
            }
            th = b.add(Some(th), &timer, tmo).expect("re-arm");
            iterations += 1;
        });
        assert_eq!(o, Outcome::Exited);
    }
    let after = allocs();
    let sanity = allocs();
    std::hint::black_box(vec![0u8; 1]);
    assert!(
        allocs() > sanity,
        "the counter counts this thread's allocations"
    );
    assert_eq!(after - before, 0, "{kind:?}: allocations in steady state");
    assert_eq!(b.counts().added, 5);
}

// ---- more I/O and loop semantics over real fds ---------------------------------------------

/// READ and WRITE events on one fd, added and deleted independently: the backend's interest
/// follows (epoll MODs), and each fires only for its own readiness.
fn read_and_write_on_one_fd(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    let fd = a.as_raw_fd();
    let r = b
        .add(None, &spec(fd, What::READ | What::PERSIST, 1), None)
        .expect("add");
    let w = b
        .add(None, &spec(fd, What::WRITE | What::PERSIST, 2), None)
        .expect("add");
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(2, What::WRITE)], "writable, not readable");
    fds::put(&peer);
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    // Newest first when one report carries both; kqueue reports each filter apart, in its order.
    seen.sort_by_key(|&(token, _)| std::cmp::Reverse(token));
    assert_eq!(seen, [(2, What::WRITE), (1, What::READ)]);
    b.del(w, 2).expect("del write");
    assert_eq!(tokens(&mut b, LoopFlags::ONCE), [1]);
    b.del(r, 1).expect("del read");
    b.add(None, &spec(fd, What::WRITE, 3), None).expect("add");
    assert_eq!(tokens(&mut b, LoopFlags::ONCE), [3]);
    assert_eq!(b.counts(), Default::default());
}

/// An event whose fd is readable and whose timeout passes in the same iteration gets both bits
/// (libevent loses the READ there).
fn read_and_timeout_same_iteration(kind: Kind) {
    let mut b = base(kind);
    let (a, peer) = pair();
    b.add(
        None,
        &spec(a.as_raw_fd(), What::READ, 1),
        Some(Duration::from_millis(1)),
    )
    .expect("add");
    fds::put(&peer);
    thread::sleep(Duration::from_millis(5));
    let mut seen = Vec::new();
    run(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(1, What::READ | What::TIMEOUT)]);
}

/// With three priorities, only the highest non-empty queue runs per iteration; a callback that
/// activates a higher priority stops the queue it is in.
fn priorities_highest_first(kind: Kind) {
    let mut b = base(kind);
    b.set_priorities(3).expect("priorities");
    let pairs: Vec<_> = (0..3).map(|_| pair()).collect();
    let pri = |token: usize, p: u8, fd: RawFd| Spec {
        priority: p,
        ..spec(fd, What::READ, token)
    };
    // Added lowest first, so activation order alone would run them the other way.
    b.add(None, &pri(12, 2, pairs[2].0.as_raw_fd()), None)
        .expect("add");
    b.add(None, &pri(11, 1, pairs[1].0.as_raw_fd()), None)
        .expect("add");
    b.add(None, &pri(10, 0, pairs[0].0.as_raw_fd()), None)
        .expect("add");
    for (_, peer) in &pairs {
        fds::put(peer);
    }
    thread::sleep(Duration::from_millis(1));
    let urgent = pri(20, 0, -1);
    let mut seen = Vec::new();
    let o = run(&mut b, LoopFlags::empty(), |b, r| {
        seen.push(r.token);
        if r.token == 11 {
            b.activate(None, &urgent, What::TIMEOUT, 0)
                .expect("activate");
        }
    });
    assert_eq!(o, Outcome::Empty);
    assert_eq!(seen, [10, 11, 20, 12]);
}

/// An fd closed while a dup of it lives on stays in an epoll set (the kernel keys it by open
/// file): a callback deletes its event and closes the fd, the dup keeps the file readable. With
/// the changelist the DEL reaches the kernel after the close (EBADF, taken as done), so epoll
/// keeps reporting an fd nothing watches; the base must recover (rebuild its registrations),
/// not spin. The test counts waits during a 100 ms timer: a spinning loop makes thousands.
fn closed_fd_with_live_dup_does_not_spin(kind: Kind) {
    if cfg!(eventop_libkqueue) && kind.is_kqueue() {
        // libkqueue takes `EBADF` from its `EPOLL_CTL_DEL` as "the kernel removed the fd" and
        // forgets it, but the dup keeps it in libkqueue's epoll set: every wait then wakes at
        // once and returns nothing (`epoll_update` in its `src/linux/platform.c`), so the base
        // never hears of the fd and cannot rebuild. The kernels drop the knote at the close.
        return;
    }
    block_test_signals();
    let mut b = base(kind);
    let (a, peer) = pair();
    let fd = a.into_raw_fd();
    let dup = fds::dup_at_least(fd, 0);
    b.add(None, &spec(fd, What::READ | What::PERSIST, 1), None)
        .expect("add");
    fds::put(&peer);
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |b, r| {
        seen.push(r.token);
        b.del(r.handle, 1).expect("del");
        // SAFETY: `fd` is ours (from `into_raw_fd`) and closed once, here.
        unsafe { libc::close(fd) };
    });
    assert_eq!(seen, [1]);
    let d0 = b.backend().dispatches;
    b.add(
        None,
        &spec(-1, What::empty(), 2),
        Some(Duration::from_millis(100)),
    )
    .expect("timer");
    let mut seen = Vec::new();
    let o = run(&mut b, LoopFlags::empty(), |_, r| seen.push(r.token));
    let waits = b.backend().dispatches - d0;
    assert_eq!((o, seen), (Outcome::Empty, vec![2]));
    assert!(waits <= 10, "{waits} waits in 100 ms: the loop spins");
    assert_eq!(fds::drain(std::fs::File::from(dup)), 1);
}

/// A persistent READ event whose fd and peer are closed without a delete (the program forgot
/// it): during a 300 ms timer its callback runs at most twice and the loop waits a few times,
/// not thousands (poll reported `POLLNVAL` and select `EBADF` on every wait). The late delete
/// succeeds, and an event on the number, once a new socket has it, fires on data.
fn closed_fd_does_not_spin(kind: Kind) {
    block_test_signals();
    let mut b = base(kind);
    let (a, peer) = pair();
    // A number of its own per backend, which no other test opens while this one has it closed.
    let min = 3600 + 100 * kind as RawFd;
    let fd = fds::dup_at_least(a.as_raw_fd(), min).into_raw_fd();
    drop(a);
    let h = b
        .add(None, &spec(fd, What::READ | What::PERSIST, 1), None)
        .expect("add");
    // SAFETY: `fd` is ours (from `into_raw_fd`) and closed once, here.
    unsafe { libc::close(fd) };
    drop(peer);
    b.add(
        None,
        &spec(-1, What::empty(), 2),
        Some(Duration::from_millis(300)),
    )
    .expect("timer");
    let d0 = b.backend().dispatches;
    let (mut calls, mut timer) = (0, 0);
    let o = guarded(&mut b, LoopFlags::empty(), |b, r| match r.token {
        1 => {
            calls += 1;
            assert_eq!(r.res, What::READ);
        }
        _ => {
            timer += 1;
            b.loopbreak();
        }
    });
    let waits = b.backend().dispatches - d0;
    eprintln!("{kind:?}: {calls} callbacks, {waits} waits in 300 ms");
    assert_eq!((o, timer), (Outcome::Exited, 1));
    assert!(
        calls <= 2,
        "{kind:?}: {calls} callbacks in 300 ms: the loop spins"
    );
    assert!(
        waits <= 10,
        "{kind:?}: {waits} waits in 300 ms: the loop spins"
    );
    b.del(h, 1).expect("the late delete");
    // The number is reused by a new socket: a new event on it is watched.
    let (n, peer2) = pair();
    fds::reuse_number(n.as_raw_fd(), fd);
    drop(n);
    // SAFETY: `fd` is the fd `reuse_number` just made, owned by nothing else.
    let reused = unsafe { OwnedFd::from_raw_fd(fd) };
    b.add(None, &spec(fd, What::READ | What::PERSIST, 3), None)
        .expect("add on the reused number");
    assert!(tokens(&mut b, LoopFlags::NONBLOCK).is_empty());
    fds::put(&peer2);
    let mut seen = Vec::new();
    guarded(&mut b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(3, What::READ)], "{kind:?}");
    assert_eq!(fds::drain(std::fs::File::from(reused)), 1);
}

/// A signal delivered three times runs a persistent event's callback three times in a row; a
/// callback that deletes its event stops the repeats.
fn signal_repeats_and_del_stops_them(kind: Kind) {
    let _g = serial();
    block_test_signals();
    let mut b = base(kind);
    let ev = spec(libc::SIGUSR2, What::SIGNAL | What::PERSIST, 1);
    b.add(None, &ev, None).expect("add");
    let count_deliveries = |b: &mut Base, stop_after: usize| {
        // This thread blocks the signal: another takes each one and writes to the pipe.
        for _ in 0..3 {
            kill_self(libc::SIGUSR2);
            thread::sleep(Duration::from_millis(20));
        }
        let mut n = 0;
        guarded(b, LoopFlags::ONCE, |b, r| {
            assert_eq!((r.token, r.res), (1, What::SIGNAL));
            n += 1;
            if n == stop_after {
                b.del(r.handle, 1).expect("del");
            }
        });
        n
    };
    assert_eq!(count_deliveries(&mut b, 0), 3);
    assert_eq!(count_deliveries(&mut b, 1), 1);
    assert_eq!(b.counts().added, 0);
}

/// A callback that runs long makes the timer it outlived due: the next wait must not block.
/// The base computes the wait from the time cached at the top of the previous iteration, so it
/// waits the timer's whole remaining time again (as libevent does): the timer fires late by as
/// long as the callback ran. Ignored: reported to the lead (fixing it costs a clock read per
/// iteration with timers pending, against DESIGN's "read it once per iteration").
#[test]
fn long_callback_leaves_overdue_timer_no_wait() {
    let mut b = base(Kind::Poll);
    let (a, peer) = pair();
    b.add(
        None,
        &spec(-1, What::empty(), 1),
        Some(Duration::from_millis(20)),
    )
    .expect("timer");
    b.add(None, &spec(a.as_raw_fd(), What::READ, 2), None)
        .expect("add");
    fds::put(&peer);
    let mut wait = None;
    let o = run(&mut b, LoopFlags::empty(), |b, r| {
        if r.token == 2 {
            let t = now();
            while now() < t + 40 * MS {
                std::hint::spin_loop();
            }
        } else {
            wait = Some(b.backend().last_timeout);
        }
    });
    assert_eq!(o, Outcome::Empty);
    assert_eq!(
        wait,
        Some(Some(Duration::ZERO)),
        "waited for an overdue timer"
    );
}

// ---- 10. refused adds ----------------------------------------------------------------------

/// Growable storage that publishes its length, so a test sees whether the base grew it.
struct Watched<T> {
    inner: Grow<T>,
    len: Rc<Cell<usize>>,
}

impl<T: Clone> Storage<T> for Watched<T> {
    fn as_slice(&self) -> &[T] {
        self.inner.as_slice()
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        self.inner.as_mut_slice()
    }
    fn grow(&mut self, min_len: usize, fill: T) -> bool {
        let grown = self.inner.grow(min_len, fill);
        self.len.set(self.inner.capacity());
        grown
    }
}

/// Growable tables, the fd map [`Watched`].
struct WatchedFds;

impl Tables for WatchedFds {
    type Slots = Grow<Slot>;
    type Fds = Watched<FdEntry>;
    type Timers = Grow<Timer>;
    type Changes = Grow<Change>;
}

/// A base whose backend buffers grow too (select reaches any fd), and its fd map's length.
type WBase = EventBase<Counting<Hosted<eventop::Growable>>, Monotonic, WatchedFds>;

fn watched_base(kind: Kind) -> (WBase, Rc<Cell<usize>>) {
    let len = Rc::new(Cell::new(0));
    let parts = Parts {
        slots: Grow::default(),
        fds: Watched {
            inner: Grow::default(),
            len: len.clone(),
        },
        timers: Grow::default(),
        changes: Grow::default(),
    };
    let backend = Counting {
        inner: kind.hosted(),
        dispatches: 0,
        last_timeout: None,
    };
    (EventBase::new(backend, Monotonic, parts, kind.flags()), len)
}

/// After a refused add: `added` events as before, no deferred error, the fd map `map_len` long,
/// and a run that does what it would have done without the add (with nothing added: returns at
/// once, without a wait).
fn assert_as_before(b: &mut WBase, len: &Rc<Cell<usize>>, map_len: usize, added: u32, why: &str) {
    assert_eq!(b.counts().added, added, "{why}: counts");
    assert_eq!(b.events().count(), added as usize, "{why}: events");
    assert_eq!(b.take_deferred_error(), None, "{why}: deferred error");
    assert_eq!(len.get(), map_len, "{why}: the fd map grew");
    if added == 0 {
        let d0 = b.backend().dispatches;
        let o = run(b, LoopFlags::empty(), |_, r| panic!("{why}: {r:?} ran"));
        assert_eq!(o, Outcome::Empty, "{why}");
        assert_eq!(b.backend().dispatches, d0, "{why}: waited");
    }
}

/// A READ event on a socket runs once data comes: the base still works.
fn still_works(b: &mut WBase, fd: RawFd, peer: &std::os::unix::net::UnixStream) {
    let h = b
        .add(None, &spec(fd, What::READ, 1), None)
        .expect("add after refusals");
    fds::put(peer);
    let mut seen = Vec::new();
    guarded(b, LoopFlags::ONCE, |_, r| seen.push((r.token, r.res)));
    assert_eq!(seen, [(1, What::READ)]);
    assert!(!b.is_held(h, 1), "not persistent: gone");
}

/// The adds that refusals are tried with: I/O alone or with a timeout, several interests.
fn refused_adds() -> [(What, Option<Duration>); 4] {
    let t = Some(Duration::from_secs(3600));
    [
        (What::READ, None),
        (What::WRITE | What::PERSIST, t),
        (What::READ | What::WRITE | What::CLOSED, None),
        (What::READ | What::PERSIST, t),
    ]
}

/// A regular file and a directory are refused at `add` with `Unpollable` on every backend (a
/// changelist backend would otherwise learn of it only at the next dispatch, leaving an event
/// that never runs), whether or not the fd map reaches their fds, and the base is left as it
/// was: nothing counted, nothing deferred, the map no longer, a run with nothing to wait for.
fn unpollable_refused_at_add(kind: Kind) {
    let exe = std::env::current_exe().expect("exe");
    let files = [
        (std::fs::File::open(exe).expect("open"), "regular file"),
        (std::fs::File::open("/").expect("open /"), "directory"),
    ];
    let (a, peer) = pair();
    // First beyond the map (empty: the check before it grows), then within it (the map grown
    // past them by an event added and deleted on a higher fd).
    for within in [false, true] {
        let (mut b, len) = watched_base(kind);
        if within {
            let high = fds::dup_at_least(a.as_raw_fd(), 300);
            let h = b
                .add(None, &spec(high.as_raw_fd(), What::READ, 1), None)
                .expect("add");
            b.del(h, 1).expect("del");
            let o = run(&mut b, LoopFlags::NONBLOCK, |_, r| panic!("{r:?}"));
            assert_eq!(o, Outcome::Empty);
            assert!(len.get() > 300);
        }
        let map_len = len.get();
        for (f, what) in &files {
            let fd = f.as_raw_fd();
            for (events, timeout) in refused_adds() {
                let why = format!("{kind:?} {what}, {events:?} {timeout:?}, within {within}");
                let r = b.add(None, &spec(fd, events, 2), timeout);
                assert_eq!(r.err(), Some(Error::Unpollable(fd)), "{why}");
                assert_as_before(&mut b, &len, map_len, 0, &why);
            }
        }
        still_works(&mut b, a.as_raw_fd(), &peer);
    }
}

fn is_ebadf(r: Result<eventop_core::base::Handle, Error>, fd: RawFd) -> bool {
    match r {
        Err(Error::Os { errno, .. }) => errno.0 == libc::EBADF,
        Err(Error::BadFd(n)) => n == fd,
        _ => false,
    }
}

/// An fd that is not open is `EBADF` at `add`, on every backend, before the fd map grows for it:
/// a huge number costs no memory (the map grew to it before: 200 MB for fd 10,000,000) and one
/// beyond the map's bound says `EBADF`, not "fd map is full". A closed fd within the map is
/// `EBADF` too (with the changelist, the kernel would say it only at the next dispatch). An open
/// fd with a big number still works.
fn unopened_fd_refused_before_the_map_grows(kind: Kind) {
    let (mut b, len) = watched_base(kind);
    let (a, peer) = pair();
    let (c, _peer2) = pair();
    // An event on a higher fd than the closed one below: the map reaches that one. Both numbers
    // are above those other tests' threads get, which could reopen the closed one.
    let c = fds::dup_at_least(c.as_raw_fd(), 500);
    b.add(
        None,
        &spec(c.as_raw_fd(), What::READ | What::PERSIST, 3),
        None,
    )
    .expect("add");
    let map_len = len.get();
    let closed = fds::dup_at_least(a.as_raw_fd(), 400).into_raw_fd();
    // SAFETY: `closed` is ours (from `into_raw_fd`) and closed once, here.
    unsafe { libc::close(closed) };
    assert!((closed as usize) < map_len, "{closed} within {map_len}");
    for fd in [closed, 10_000_000, (1 << 30) - 1, 1 << 30, i32::MAX] {
        for (events, timeout) in refused_adds() {
            let why = format!("{kind:?} fd {fd}, {events:?} {timeout:?}");
            let r = b.add(None, &spec(fd, events, 2), timeout);
            assert!(is_ebadf(r, fd), "{why}: {r:?}");
            assert_as_before(&mut b, &len, map_len, 1, &why);
        }
    }
    // An open fd far beyond the map: as high as the limit on open files lets it be.
    let limit = fds::raise_nofile();
    let n = limit.saturating_sub(1).min(100_000) as RawFd;
    let big = fds::dup_at_least(a.as_raw_fd(), n);
    assert!(big.as_raw_fd() as usize >= map_len);
    still_works(&mut b, big.as_raw_fd(), &peer);
    assert!(len.get() > big.as_raw_fd() as usize);
}
