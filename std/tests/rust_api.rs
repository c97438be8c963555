//! The API a Rust user expects (issue 21): owned sources, loop data, nesting, timers that say
//! what next, errors, interest and modes, guards, and slot reuse on every target.

mod common;

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{BACKENDS, GUARD};
use eventop::{
    Base, Builder, Error, EventId, Exit, Interest, Io, Mode, Readiness, Result, TimeoutAction,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A base with the environment ignored, avoiding the backends named.
fn base_of<D>(avoid: &[&str]) -> Result<Base<D>> {
    let mut b = Builder::new().env(|_| false);
    for name in avoid {
        b = b.avoid(*name);
    }
    b.build()
}

/// Whether `fd` is an open file descriptor.
fn is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD reads the fd's flags and touches no memory.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

// ---- 1. I/O sources are owned ------------------------------------------------------------------

#[test]
fn new_io_keeps_the_stream_open_and_watched() -> Result<()> {
    for (name, avoid) in BACKENDS {
        let mut base = base_of(avoid)?;
        let (mut a, b) = UnixStream::pair()?;
        let fd = b.as_raw_fd();
        // The stream moves in: before the rework this closed it inside the call.
        let io = base.new_io(
            b,
            Interest::READ,
            Mode::Level,
            |base, got: &mut Vec<u8>, ev, _, b| {
                let mut buf = [0; 16];
                let n = b.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                base.del(ev).unwrap();
            },
        )?;
        assert!(is_open(fd), "{name}: still open after new_io");
        assert_eq!(base.pending(io.id())?, Readiness::READ, "{name}: watched");
        a.write_all(b"owned")?;
        let mut got = Vec::new();
        assert_eq!(base.run(&mut got)?, Exit::Empty, "{name}");
        assert_eq!(got, b"owned", "{name}: the callback was lent the stream");

        // Given back, open, with the same fd; no longer watched.
        let mut b = base.take_source(io)?;
        assert_eq!(b.as_raw_fd(), fd, "{name}");
        assert!(base.pending(io.id()).is_err(), "{name}: the event is gone");
        a.write_all(b"!")?;
        let mut buf = [0; 1];
        b.read_exact(&mut buf)?;
        assert_eq!(&buf, b"!", "{name}");
    }
    Ok(())
}

/// What the callback of `free_drops_the_source…` sees: its own handle, and the refusals.
type Own = (Option<Io<UnixStream>>, Vec<Error>);

#[test]
fn free_drops_the_source_and_take_source_from_its_own_callback_is_refused() -> Result<()> {
    let mut base = Base::new()?;
    let (mut a, b) = UnixStream::pair()?;
    let io = base.new_io(
        b,
        Interest::READ,
        Mode::Level,
        |base, own: &mut Own, ev, _, b| {
            let _ = b.read(&mut [0; 1]);
            // Its own callback holds the source: refused, and nothing changes.
            let io = own.0.unwrap();
            own.1.push(base.take_source(io).unwrap_err());
            assert_eq!(base.pending(ev).unwrap(), Readiness::READ, "still there");
            base.free(ev).unwrap();
        },
    )?;
    a.write_all(b"x")?;
    let mut own = (Some(io), Vec::new());
    base.run(&mut own)?;
    assert!(matches!(own.1[..], [Error::Reentrant]), "{:?}", own.1);
    assert!(matches!(base.take_source(io), Err(Error::Stale)), "freed");
    // Freeing dropped the stream: the peer sees the end.
    let mut buf = [0; 8];
    assert_eq!(a.read(&mut buf)?, 0);
    Ok(())
}

#[test]
fn a_raw_fd_registration_is_unsafe_and_does_not_own() -> Result<()> {
    let mut base = Base::new()?;
    let (mut a, b) = UnixStream::pair()?;
    // SAFETY: `b` outlives the event, which is freed below.
    let ev = unsafe {
        base.new_raw_io(
            b.as_raw_fd(),
            Interest::READ,
            Mode::OneShot,
            |_, n: &mut u32, _, r| {
                assert_eq!(r, Readiness::READ);
                *n += 1;
            },
        )?
    };
    a.write_all(b"x")?;
    let mut n = 0;
    base.run(&mut n)?;
    assert_eq!(n, 1);
    assert_eq!(
        base.pending(ev)?,
        Readiness::empty(),
        "one-shot: not pending after it ran"
    );
    base.free(ev)?;
    assert!(is_open(b.as_raw_fd()), "not the base's to close");
    Ok(())
}

#[test]
fn once_io_hands_the_source_back() -> Result<()> {
    let mut base: Base<Option<(Readiness, UnixStream)>> = Base::new()?;
    let (mut a, b) = UnixStream::pair()?;
    base.once_io(b, Interest::READ, Some(ms(10_000)), |_, got, r, b| {
        *got = Some((r, b));
    })?;
    a.write_all(b"x")?;
    let mut got = None;
    assert_eq!(base.run(&mut got)?, Exit::Empty, "gone after it ran");
    let (r, mut b) = got.take().expect("ran");
    assert_eq!(r, Readiness::READ);
    let mut buf = [0; 1];
    b.read_exact(&mut buf)?;
    assert_eq!(&buf, b"x", "the stream, open");

    // Timed out instead: the source comes back all the same.
    let (_a, b) = UnixStream::pair()?;
    base.once_io(b, Interest::READ, Some(ms(1)), |_, got, r, b| {
        *got = Some((r, b))
    })?;
    base.run(&mut got)?;
    assert_eq!(got.map(|(r, _)| r), Some(Readiness::TIMEOUT));
    Ok(())
}

// ---- 2. loop data ------------------------------------------------------------------------------

#[test]
fn callbacks_share_the_run_data_which_need_not_be_send() -> Result<()> {
    // `Rc<RefCell<_>>` is neither `Send` nor `Sync`; the base stays `Send` all the same.
    fn send<T: Send>(_: &T) {}
    let mut base: Base<Rc<RefCell<Vec<&'static str>>>> = Base::new()?;
    send(&base);
    let (mut a, b) = UnixStream::pair()?;
    base.new_io(b, Interest::READ, Mode::Level, |base, log, ev, _, b| {
        let mut buf = [0; 8];
        let _ = b.read(&mut buf);
        log.borrow_mut().push("io");
        base.free(ev).unwrap();
    })?;
    base.new_timer(ms(1), |_, log, _| {
        log.borrow_mut().push("timer");
        TimeoutAction::Drop
    })?;
    let user = base.new_user(|_, log, _, r| {
        assert_eq!(r, Readiness::WRITE);
        log.borrow_mut().push("user");
    })?;
    base.activate(user, Readiness::WRITE)?;
    a.write_all(b"x")?;
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut data = log.clone();
    base.run(&mut data)?;
    let mut seen = log.borrow().clone();
    seen.sort();
    assert_eq!(seen, ["io", "timer", "user"]);

    // Jobs from other threads get the data too.
    let mut base: Base<u32> = Base::new()?;
    let waker = base.waker()?;
    std::thread::spawn(move || {
        waker.schedule(|base, n| {
            *n += 41;
            base.exit();
        })
    })
    .join()
    .unwrap()?;
    let mut n = 1;
    base.run_with(eventop::LoopFlags::NO_EXIT_ON_EMPTY, &mut n)?;
    assert_eq!(n, 42);
    Ok(())
}

#[test]
fn the_run_data_may_borrow() -> Result<()> {
    // calloop lets callbacks reach borrowed state; here the data is a borrow for one run.
    let mut total = 0u32;
    {
        let mut base: Base<&mut u32> = Base::new()?;
        base.new_timer(ms(1), |_, total, _| {
            **total += 1;
            TimeoutAction::Drop
        })?;
        let mut borrowed = &mut total;
        base.run(&mut borrowed)?;
    }
    assert_eq!(total, 1);
    Ok(())
}

// ---- 3. nesting --------------------------------------------------------------------------------

#[test]
fn the_base_has_an_fd_on_epoll_and_says_so_on_poll_and_select() -> Result<()> {
    for (name, avoid) in BACKENDS {
        let base: Base = base_of(avoid)?;
        let has = base.fd().is_some();
        assert_eq!(has, matches!(*name, "epoll" | "kqueue"), "{name}");
        match base.into_pollable() {
            Ok(p) => assert!(has && is_open(p.as_raw_fd()), "{name}"),
            Err(base) => assert!(!has, "{name}: {base:?}"),
        }
    }
    Ok(())
}

/// Whether `fd` is readable now.
fn readable(fd: impl AsFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

#[test]
fn the_fd_is_readable_when_the_base_has_io_and_next_timeout_tells_its_timers() -> Result<()> {
    let mut base = Builder::new()
        .avoid("poll")
        .avoid("select")
        .build::<u32>()?;
    let (mut a, b) = UnixStream::pair()?;
    base.new_io(b, Interest::READ, Mode::Level, |base, n, ev, _, _| {
        *n += 1;
        base.free(ev).unwrap();
    })?;
    let mut base = base.into_pollable().unwrap();
    assert!(!readable(&base), "nothing ready");
    assert_eq!(base.next_timeout(), None, "no timer");
    a.write_all(b"x")?;
    assert!(readable(&base), "a watched fd is ready");
    let mut n = 0;
    base.run_nonblocking(&mut n)?;
    assert_eq!(n, 1);
    assert!(!readable(&base));

    let t = base.new_timer(ms(500), |_, _, _| TimeoutAction::Drop)?;
    let left = base.next_timeout().expect("a timer");
    assert!(left > ms(100) && left <= ms(500), "{left:?}");
    base.activate(t, Readiness::TIMEOUT)?;
    assert_eq!(
        base.next_timeout(),
        Some(Duration::ZERO),
        "an event is active"
    );
    Ok(())
}

// ---- 4. timers ---------------------------------------------------------------------------------

#[test]
fn a_timer_is_pending_from_its_creation_and_says_what_next() -> Result<()> {
    let mut base: Base<Vec<&str>> = Base::new()?;
    let start = Instant::now();
    let mut n = 0;
    let t = base.new_timer(ms(2), move |_, log, _| {
        n += 1;
        match n {
            1 => {
                log.push("duration");
                TimeoutAction::ToDuration(ms(2))
            }
            2 => {
                log.push("instant");
                TimeoutAction::ToInstant(Instant::now() + ms(2))
            }
            _ => {
                log.push("drop");
                TimeoutAction::Drop
            }
        }
    })?;
    assert_eq!(base.pending(t)?, Readiness::TIMEOUT, "pending at once");
    assert!(base.remaining(t)?.is_some_and(|d| d <= ms(2)));
    let at = base.new_timer(start + ms(3), |_, log, _| {
        log.push("at");
        TimeoutAction::Drop
    })?;
    assert_eq!(base.pending(at)?, Readiness::TIMEOUT);
    let mut log = Vec::new();
    assert_eq!(base.run(&mut log)?, Exit::Empty);
    assert!(start.elapsed() >= ms(6) && start.elapsed() < GUARD);
    log.retain(|e| *e != "at");
    assert_eq!(log, ["duration", "instant", "drop"]);
    assert!(matches!(base.pending(t), Err(Error::Stale)), "dropped");
    assert!(base.is_empty());
    Ok(())
}

#[test]
fn adding_a_timer_without_a_timeout_is_an_error() -> Result<()> {
    let mut base = Base::new()?;
    let t = base.new_timer(ms(50), |_, _: &mut (), _| TimeoutAction::Drop)?;
    base.del(t)?;
    let e = base.add(t).unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        base.pending(t)?,
        Readiness::empty(),
        "not pending, and said so"
    );
    let u = base.new_user(|_, _, _, _| {})?;
    assert!(matches!(base.add(u), Err(Error::Invalid(_))));
    base.add_timeout(t, Instant::now())?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    Ok(())
}

// ---- 5. errors, interest, modes, guards --------------------------------------------------------

#[test]
fn errors_have_distinct_kinds_and_carry_the_reason_through_io_error() -> Result<()> {
    let mut base = Base::new()?;
    let u = base.new_user(|_, _: &mut (), _, _| {})?;
    base.free(u)?;
    let stale = base.activate(u, Readiness::READ).unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::NotFound);
    let io: std::io::Error = stale.into();
    assert!(matches!(
        io.get_ref().and_then(|e| e.downcast_ref::<Error>()),
        Some(Error::Stale)
    ));
    let bad = base.new_signal(0, |_, _, _, _| {}).unwrap_err();
    assert!(matches!(bad, Error::BadSignal(0)));
    assert_eq!(bad.kind(), ErrorKind::InvalidInput);
    let file = std::fs::File::open(std::env::current_exe()?)?;
    let e = base
        .new_io(file, Interest::READ, Mode::Level, |_, _, _, _, _| {})
        .unwrap_err();
    assert!(matches!(e, Error::Unpollable(_)), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    Ok(())
}

#[test]
fn set_interest_changes_an_event_in_place() -> Result<()> {
    for (name, avoid) in BACKENDS {
        let mut base: Base<Vec<Readiness>> = base_of(avoid)?;
        let (_a, b) = UnixStream::pair()?;
        // Not readable, but writable at once.
        let io = base.new_io(b, Interest::READ, Mode::Level, |base, seen, ev, r, _| {
            seen.push(r);
            base.free(ev).unwrap();
        })?;
        base.add_timeout(io.id(), ms(10_000))?;
        let mut seen = Vec::new();
        base.run_nonblocking(&mut seen)?;
        assert!(seen.is_empty(), "{name}: not readable");
        base.set_interest(io.id(), Interest::WRITE)?;
        assert_eq!(
            base.pending(io.id())?,
            Readiness::WRITE | Readiness::TIMEOUT,
            "{name}: the same event, the timeout kept"
        );
        assert_eq!(base.run(&mut seen)?, Exit::Empty, "{name}");
        assert_eq!(seen, [Readiness::WRITE], "{name}");
        let t = base.new_timer(ms(1), |_, _, _| TimeoutAction::Drop)?;
        assert!(matches!(
            base.set_interest(t, Interest::READ),
            Err(Error::Invalid(_))
        ));
    }
    Ok(())
}

#[test]
fn modes_level_edge_and_one_shot() -> Result<()> {
    let mut base: Base<[u32; 3]> = Builder::new().avoid("poll").avoid("select").build()?;
    let mut ids = Vec::new();
    let mut peers = Vec::new();
    for (i, mode) in [Mode::Level, Mode::Edge, Mode::OneShot]
        .into_iter()
        .enumerate()
    {
        let (mut a, b) = UnixStream::pair()?;
        a.write_all(b"x")?; // stays unread: readable for good
        peers.push(a);
        ids.push(base.new_io(b, Interest::READ, mode, move |_, n, _, _, _| n[i] += 1)?);
    }
    let mut n = [0; 3];
    for _ in 0..3 {
        base.run_once(&mut n)?;
    }
    assert_eq!(
        n,
        [3, 1, 1],
        "level fires every time, edge once, one-shot once"
    );
    assert_eq!(
        base.pending(ids[2].id())?,
        Readiness::empty(),
        "one-shot: not pending"
    );
    base.add(ids[2].id())?;
    base.run_once(&mut n)?;
    assert_eq!(n[2], 2, "added again, it fires again");
    Ok(())
}

#[test]
fn a_guard_frees_its_event_unless_kept() -> Result<()> {
    let mut base = Base::new()?;
    let t = base.new_timer(ms(10_000), |_, _: &mut (), _| TimeoutAction::Drop)?;
    {
        let g = base.guard(t);
        assert_eq!(g.id(), t);
        assert_eq!(g.pending(t)?, Readiness::TIMEOUT, "derefs to the base");
    }
    assert!(
        matches!(base.pending(t), Err(Error::Stale)),
        "freed by the guard"
    );
    let u = base.new_user(|_, _, _, _| {})?;
    let kept = base.guard(u).keep();
    assert_eq!(kept, u);
    assert!(base.pending(u).is_ok(), "kept");
    Ok(())
}

// ---- 6. slot reuse, on every target ------------------------------------------------------------

/// A record reused many times (its generation going up) still runs its event: on 32-bit
/// targets the old token kept the index only, and a reused record's event never ran (a
/// level-triggered one spun). `ci/test` runs this on i686-unknown-linux-gnu.
#[test]
fn a_reused_record_runs_its_callback() -> Result<()> {
    for (name, avoid) in BACKENDS {
        let mut base: Base<u32> = base_of(avoid)?;
        for round in 0..5 {
            let (mut a, b) = UnixStream::pair()?;
            let user = base.new_user(|_, n, _, _| *n += 1)?;
            base.activate(user, Readiness::READ)?;
            a.write_all(b"x")?;
            let io = base.new_io(b, Interest::READ, Mode::Level, |base, n, ev, _, b| {
                let mut buf = [0; 1];
                let _ = b.read(&mut buf);
                *n += 10;
                base.free(ev).unwrap();
            })?;
            // A bounded number of iterations: the bug spun, so `run` would never return.
            let mut n = 0;
            for _ in 0..100 {
                base.run_once(&mut n)?;
                if n == 11 {
                    break;
                }
            }
            assert_eq!(n, 11, "{name} round {round}: both callbacks ran once");
            base.free(user)?;
            assert!(base.pending(io.id()).is_err());
        }
        let _: EventId = base.new_user(|_, _, _, _| {})?;
    }
    Ok(())
}
