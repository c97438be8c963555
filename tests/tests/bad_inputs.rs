//! Bad inputs to the event base's public entry points, on every hosted backend: each gets a
//! clear error and leaves the base as it was (nothing held, nothing grown, nothing lost), or is
//! accepted the way libevent accepts it. docs/robustness.md is the table; each row names a test
//! here (or elsewhere) that proves it.

use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::time::Duration;

use eventop_core::base::{Counts, EventBase, Fixed, Handle, Parts, Spec, Step};
use eventop_core::sys::clock::Monotonic;
use eventop_core::sys::hosted::{FixedBuffers, Hosted};
use eventop_core::{Error, LoopFlags, Resource, What};
use eventop_tests::fds::{dup_at_least, pair, put};
use eventop_tests::kinds::Kind;
use eventop_tests::per_kind;

type Base<const N: usize = 64> = EventBase<Hosted<FixedBuffers<64>>, Monotonic, Fixed<N>>;

fn base<const N: usize>(kind: Kind) -> Base<N> {
    EventBase::new(kind.hosted(), Monotonic, Parts::default(), kind.flags())
}

fn spec(fd: RawFd, events: What) -> Spec {
    Spec {
        fd,
        events,
        priority: 0,
        token: 1,
    }
}

const IO: [What; 4] = [
    What::READ,
    What::WRITE.union(What::PERSIST),
    What::CLOSED,
    What::READ.union(What::ET),
];

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

/// An fd number that was open and is closed now (and stays closed: nothing else opens files
/// in this test between taking it and using it, on this thread; a number far above the usual
/// ones, so the other threads' files do not take it).
fn closed_fd() -> RawFd {
    let (a, _b) = pair();
    let fd = dup_at_least(a.as_raw_fd(), 900).into_raw_fd();
    // SAFETY: closes the duplicate just made, owned here.
    unsafe { libc::close(fd) };
    fd
}

/// Adds of fds no backend can watch: each is refused with a clear error, for every kind of
/// interest, and the base holds nothing afterwards.
fn unwatchable_fds_are_refused(kind: Kind) {
    let file = std::fs::File::open("/proc/self/status").unwrap();
    let dir = std::fs::File::open("/").unwrap();
    let cases: [(&str, RawFd, Expect); 5] = [
        ("closed", closed_fd(), is_bad_fd),
        ("i32::MAX", i32::MAX, is_bad_fd),
        ("at the fd limit", fd_limit(), is_bad_fd),
        ("a regular file", file.as_raw_fd(), is_unpollable),
        ("a directory", dir.as_raw_fd(), is_unpollable),
    ];
    for (name, fd, ok) in cases {
        for ev in IO {
            let mut b = base::<64>(kind);
            let e = b.add(None, &spec(fd, ev), None).unwrap_err();
            assert!(ok(fd, e), "{kind:?}: {name} ({fd}) {ev:?}: {e:?}");
            assert_eq!(b.counts(), Counts::default(), "{kind:?}: {name}");
            assert_eq!(b.events().count(), 0);
            // And the base still works.
            let h = b
                .add(None, &spec(-1, What::empty()), Some(Duration::ZERO))
                .unwrap();
            b.start(LoopFlags::NONBLOCK).unwrap();
            assert!(matches!(b.step(), Ok(Step::Run(r)) if r.handle == h));
        }
    }
}

/// Whether an error is the one expected for an fd.
type Expect = fn(RawFd, Error) -> bool;

fn is_bad_fd(fd: RawFd, e: Error) -> bool {
    e == Error::BadFd(fd) || e.errno().is_some_and(|n| n.0 == libc::EBADF)
}

fn is_unpollable(fd: RawFd, e: Error) -> bool {
    e == Error::Unpollable(fd)
}

/// fd -1 (and any negative fd) with I/O interest is libevent's "no fd": inserted and counted,
/// never reported, deleted like any other.
fn negative_fds_are_inserted_never_reported(kind: Kind) {
    for fd in [-1, -5, i32::MIN] {
        let mut b = base::<64>(kind);
        let h = b.add(None, &spec(fd, What::READ), None).unwrap();
        assert_eq!(b.counts().added, 1);
        b.start(LoopFlags::NONBLOCK).unwrap();
        assert!(
            matches!(b.step(), Ok(Step::Done(_))),
            "{kind:?}: fd {fd} reported"
        );
        b.del(h, 1).unwrap();
        assert_eq!(b.counts(), Counts::default());
    }
}

/// Signal numbers outside 1..65, SIGKILL and SIGSTOP, and a signal event with I/O bits.
fn bad_signals_are_refused(kind: Kind) {
    for sig in [0, -1, 65, 1000, i32::MAX, i32::MIN] {
        let mut b = base::<64>(kind);
        let e = b.add(None, &spec(sig, What::SIGNAL), None);
        assert_eq!(e, Err(Error::BadSignal(sig)), "{kind:?}");
        assert_eq!(b.counts(), Counts::default());
    }
    for sig in [libc::SIGKILL, libc::SIGSTOP] {
        let mut b = base::<64>(kind);
        let e = b.add(None, &spec(sig, What::SIGNAL), None).unwrap_err();
        assert_eq!(
            e.errno().map(|n| n.0),
            Some(libc::EINVAL),
            "{kind:?}: {sig}: {e:?}"
        );
        assert_eq!(b.counts(), Counts::default());
    }
    let mut b = base::<64>(kind);
    let e = b.add(None, &spec(libc::SIGUSR1, What::SIGNAL | What::READ), None);
    assert_eq!(e, Err(Error::SignalWithIo));
    assert_eq!(b.counts(), Counts::default());
}

/// Zero, huge and `Duration::MAX` timeouts: zero fires at the next iteration; huge ones are
/// pending with a deadline far away and never fire early; nothing overflows.
fn zero_huge_and_max_timeouts(kind: Kind) {
    let mut b = base::<64>(kind);
    let zero = b
        .add(None, &spec(-1, What::empty()), Some(Duration::ZERO))
        .unwrap();
    let huge = Duration::from_secs(u64::from(u32::MAX) * 1000);
    let far = b.add(None, &spec(-1, What::empty()), Some(huge)).unwrap();
    let max = b
        .add(None, &spec(-1, What::empty()), Some(Duration::MAX))
        .unwrap();
    for h in [far, max] {
        let (what, deadline) = b.pending(h, 1, What::all());
        assert_eq!(what, What::TIMEOUT);
        assert!(
            deadline.unwrap() > 1 << 62,
            "{kind:?}: deadline {deadline:?}"
        );
    }
    b.start(LoopFlags::NONBLOCK).unwrap();
    let mut ran = Vec::new();
    while let Step::Run(r) = b.step().unwrap() {
        ran.push(r.handle);
    }
    assert_eq!(ran, [zero], "{kind:?}");
    assert_eq!(b.counts().added, 2);
}

/// Priorities at or above the base's count, and `set_priorities(0)`.
fn out_of_range_priorities(kind: Kind) {
    let (r, _w) = pair();
    let mut b = base::<64>(kind);
    for p in [1, 254, 255] {
        let s = Spec {
            priority: p,
            ..spec(r.as_raw_fd(), What::READ)
        };
        assert_eq!(b.add(None, &s, None), Err(Error::BadPriority(p)));
        assert_eq!(
            b.activate(None, &s, What::READ, 0),
            Err(Error::BadPriority(p))
        );
    }
    assert_eq!(b.set_priorities(0), Err(Error::NoPriorities));
    assert_eq!(b.priorities(), 1);
    assert_eq!(b.counts(), Counts::default());
}

/// Stale, foreign and garbage handles, and double add, double delete, delete of a fired event.
fn stale_handles_and_double_calls(kind: Kind) {
    let (r, w) = pair();
    let mut b = base::<64>(kind);
    let s = spec(r.as_raw_fd(), What::READ);
    let h = b.add(None, &s, None).unwrap();
    // Adding again with the handle: the same event, still one.
    assert_eq!(b.add(Some(h), &s, None), Ok(h));
    assert_eq!(b.counts().added, 1);
    // Another token with this handle, or a garbage handle: not this event, for any call.
    let garbage = Handle::from_bits(0xdead_beef_dead_beef);
    for (handle, token) in [(h, 2), (garbage, 1)] {
        assert_eq!(b.del(handle, token), Err(Error::StaleHandle));
        assert_eq!(b.del_timer(handle, token), Err(Error::StaleHandle));
        assert_eq!(b.pending(handle, token, What::all()), (What::empty(), None));
        assert!(!b.is_held(handle, token));
    }
    assert_eq!(b.counts().added, 1);
    assert_eq!(b.pending(h, 1, What::all()).0, What::READ);
    b.del(h, 1).unwrap();
    assert_eq!(b.del(h, 1), Err(Error::StaleHandle), "double delete");
    assert_eq!(b.del_timer(h, 1), Err(Error::StaleHandle));
    assert_eq!(b.pending(h, 1, What::all()), (What::empty(), None));
    assert!(!b.is_held(h, 1));
    // A stale handle given to add or activate takes a new slot: never another event's.
    let other = b.add(None, &spec(r.as_raw_fd(), What::READ), None).unwrap();
    let again = b.add(Some(h), &s, None).unwrap();
    assert_ne!(again, h);
    assert!(b.is_held(other, 1) && b.is_held(again, 1));
    // A one-shot event that ran is deleted: its handle is stale, deleting it is an error.
    put(&w);
    b.del(other, 1).unwrap();
    b.start(LoopFlags::ONCE).unwrap();
    assert!(matches!(b.step(), Ok(Step::Run(e)) if e.handle == again));
    assert_eq!(b.del(again, 1), Err(Error::StaleHandle));
    assert_eq!(b.counts(), Counts::default());
}

/// The loop driven wrong: `step` before `start`, `start` inside a run.
fn loop_misuse(kind: Kind) {
    let mut b = base::<64>(kind);
    assert_eq!(b.step(), Err(Error::NotStarted));
    b.add(None, &spec(-1, What::empty()), Some(Duration::ZERO))
        .unwrap();
    b.start(LoopFlags::NONBLOCK).unwrap();
    assert_eq!(b.start(LoopFlags::NONBLOCK), Err(Error::Reentrant));
    assert!(matches!(b.step(), Ok(Step::Run(_))), "the run goes on");
    assert!(matches!(b.step(), Ok(Step::Done(_))));
}

/// Full fixed storage: two slots, a third event is `Full(Slots)`; an fd beyond the fd map's
/// room is `Full(FdMap)`; each leaves the base as it was, and the held events still run.
fn full_fixed_storage(kind: Kind) {
    let mut b = base::<2>(kind);
    let t = Some(Duration::ZERO);
    b.add(None, &spec(-1, What::empty()), t).unwrap();
    b.add(None, &spec(-1, What::empty()), t).unwrap();
    let before = b.counts();
    assert_eq!(
        b.add(None, &spec(-1, What::empty()), t),
        Err(Error::Full(Resource::Slots))
    );
    assert_eq!(b.counts(), before);
    let mut ran = 0;
    b.start(LoopFlags::NONBLOCK).unwrap();
    while let Step::Run(_) = b.step().unwrap() {
        ran += 1;
    }
    assert_eq!(ran, 2, "{kind:?}: the held events still run");

    let (r, _w) = pair();
    let mut b = base::<2>(kind);
    let high = dup_at_least(r.as_raw_fd(), 100);
    assert_eq!(
        b.add(None, &spec(high.as_raw_fd(), What::READ), None),
        Err(Error::Full(Resource::FdMap)),
        "{kind:?}"
    );
    assert_eq!(b.counts(), Counts::default());
}

per_kind!(
    unwatchable_fds_are_refused,
    negative_fds_are_inserted_never_reported,
    bad_signals_are_refused,
    zero_huge_and_max_timeouts,
    out_of_range_priorities,
    stale_handles_and_double_calls,
    loop_misuse,
    full_fixed_storage,
);
