//! Misuse: stale handles, handles from another base, closed and bad fds, bad signal numbers,
//! panicking callbacks, reentrant runs. Each must be an error or harmless, never a wrong event.

mod common;

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use eventop::{Base, Builder, Counts, EventId, Exit, Interest, Mode};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn assert_not_found<T: std::fmt::Debug>(r: eventop::Result<T>, what: &str) {
    match r {
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{what}: {e}"),
        Ok(v) => panic!("{what} on a stale handle succeeded: {v:?}"),
    }
}

/// Every method that takes an `EventId` is `NotFound` for `ev`.
fn assert_all_not_found(base: &mut Base, ev: EventId) {
    assert_not_found(base.add_old(ev, None), "add");
    assert_not_found(base.add_old(ev, Some(ms(1))), "add with timeout");
    assert_not_found(base.del(ev), "del");
    assert_not_found(base.del_timeout(ev), "del_timeout");
    assert_not_found(base.act(ev, What::READ), "activate");
    assert_not_found(base.set_priority(ev, 0), "set_priority");
    assert_not_found(base.pend(ev, What::all()), "pending");
    assert_not_found(base.remaining(ev), "remaining");
    assert_not_found(base.free(ev), "free");
}

// ---- stale handles -----------------------------------------------------------------------------

#[test]
fn stale_handle_every_method_is_not_found() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (_a, b) = UnixStream::pair()?;
    let kinds: Vec<EventId> = vec![
        base.user(|_, _, _| {})?,
        base.timer(true, |_, _, _| {})?,
        base.io(b.as_raw_fd(), What::READ | What::PERSIST, |_, _, _| {})?,
    ];
    base.add_old(kinds[1], Some(FAR))?;
    base.add_old(kinds[2], Some(FAR))?;
    base.act(kinds[0], What::READ)?;
    for ev in kinds {
        base.free(ev)?;
        assert_all_not_found(&mut base, ev);
    }
    assert!(base.is_empty());
    assert_eq!(base.counts(), Counts::default());
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    Ok(())
}

#[test]
fn stale_handle_does_not_touch_the_event_reusing_its_slot() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let old = base.user(|_, _, _| panic!("freed: must never run"))?;
    base.free(old)?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let new = base.timer(false, move |_, _, _| {
        c.fetch_add(1, SeqCst);
    })?;
    assert_ne!(new, old, "a reused slot gets a new generation");
    base.add_old(new, Some(ms(20)))?;
    assert_all_not_found(&mut base, old);
    assert_eq!(base.len(), 1, "the stale free freed nothing");
    assert_eq!(
        base.pend(new, What::all())?,
        What::TIMEOUT,
        "the stale del deleted nothing"
    );
    assert_eq!(
        base.counts().active,
        0,
        "the stale activate activated nothing"
    );
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 1);
    Ok(())
}

#[test]
fn stale_handle_kept_by_a_callback() -> io::Result<()> {
    // A callback frees an event and keeps using the handle; a new event takes the slot.
    let mut base = Base::<()>::new()?;
    let victim = base.user(|_, _, _| panic!("freed: must never run"))?;
    let seen = log();
    let s = seen.clone();
    let user = base.user(move |base, _, _| {
        base.free(victim).unwrap();
        let s2 = s.clone();
        let fresh = base.user(move |_, _, w| push(&s2, w)).unwrap();
        push(&s, What::empty());
        assert_eq!(
            base.act(victim, What::READ).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(base.pend(fresh, What::all()).unwrap(), What::empty());
        base.act(fresh, What::WRITE).unwrap();
    })?;
    base.act(user, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![What::empty(), What::WRITE]);
    Ok(())
}

// ---- handles from another base -----------------------------------------------------------------

#[test]
fn handle_from_another_base_naming_no_slot_there_is_not_found() -> io::Result<()> {
    let mut a = Base::<()>::new()?;
    let mut b = Base::<()>::new()?;
    let _a0 = a.user(|_, _, _| {})?;
    let a1 = a.user(|_, _, _| {})?;
    let _b0 = b.user(|_, _, _| {})?;
    // `a1` names slot 1, which `b` never had.
    assert_all_not_found(&mut b, a1);
    assert_eq!(b.len(), 1);
    Ok(())
}

/// A handle of base A used on base B acts on whichever event of B has the same slot and
/// generation: B's event runs, is deleted or freed. The crate promises "a stale handle is an
/// error, never another event"; a foreign handle breaks that promise (not memory safety: B's own
/// event, with B's own callback, is what gets touched).
#[test]
fn handle_from_another_base_is_an_error() -> io::Result<()> {
    let mut a = Base::<()>::new()?;
    let mut b = Base::<()>::new()?;
    let from_a = a.user(|_, _, _| {})?;
    let ran_in_b = Arc::new(AtomicUsize::new(0));
    let r = ran_in_b.clone();
    let in_b = b.timer(false, move |_, _, _| {
        r.fetch_add(1, SeqCst);
    })?;
    b.add_old(in_b, Some(ms(10)))?;
    assert_ne!(from_a, in_b, "handles of two bases never compare equal");

    // Each of these should be an error and leave `in_b` alone.
    assert!(b.act(from_a, What::READ).is_err(), "activated B's event");
    assert!(b.del(from_a).is_err(), "deleted B's event");
    assert!(b.free(from_a).is_err(), "freed B's event");
    assert_eq!(b.len(), 1);
    assert_eq!(b.run(&mut ())?, Exit::Empty);
    assert_eq!(ran_in_b.load(SeqCst), 1);
    Ok(())
}

/// The same hole reaches a base's internal waker event: a handle from another base can free it,
/// and the waker silently stops working. `len()` (records minus the waker's) then underflows:
/// a panic in debug builds, a huge count in release.
#[test]
fn handle_from_another_base_cannot_free_the_waker() -> io::Result<()> {
    let mut a = Base::<()>::new()?;
    let mut b = Base::<()>::new()?;
    let waker = b.waker()?; // slot 0 of b
    let from_a = a.user(|_, _, _| {})?; // slot 0 of a
    assert!(b.free(from_a).is_err(), "freed B's waker event");
    assert_eq!(b.len(), 0);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    waker.schedule(move |_, _| {
        r.fetch_add(1, SeqCst);
    })?;
    b.exit_after(GUARD);
    b.run_with(
        eventop::LoopFlags::NO_EXIT_ON_EMPTY | eventop::LoopFlags::ONCE,
        &mut (),
    )?;
    assert_eq!(ran.load(SeqCst), 1, "the waker still works");
    Ok(())
}

// ---- closed and bad fds ------------------------------------------------------------------------

#[test]
fn fd_closed_while_pending_other_events_still_work() -> io::Result<()> {
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        let (a1, b1) = UnixStream::pair()?;
        // Made before the close, so their fds cannot take the closed fd's number.
        let (mut a2, b2) = UnixStream::pair()?;
        let doomed = base.io(b1.as_raw_fd(), What::READ | What::PERSIST, |base, ev, _| {
            // poll and select report a closed fd (POLLNVAL / EBADF) as ready: stop watching it.
            base.del(ev).unwrap();
        })?;
        base.add_old(doomed, None)?;
        drop(b1);
        drop(a1);

        let done = Arc::new(AtomicUsize::new(0));
        let seen = log();
        let (s, d) = (seen.clone(), done.clone());
        let reader = base.io(b2.as_raw_fd(), What::READ, move |base, _, what| {
            let mut buf = [0; 8];
            let _ = (&b2).read(&mut buf).unwrap();
            push(&s, ("read", what));
            if d.fetch_add(1, SeqCst) + 1 == 2 {
                base.break_loop();
            }
        })?;
        base.add_old(reader, None)?;
        let (s, d) = (seen.clone(), done.clone());
        let timer = base.timer(false, move |base, _, what| {
            push(&s, ("timer", what));
            if d.fetch_add(1, SeqCst) + 1 == 2 {
                base.break_loop();
            }
        })?;
        base.add_old(timer, Some(ms(20)))?;
        a2.write_all(b"x")?;
        let out = base.run(&mut ());
        assert!(out.is_ok(), "{name}: {out:?}");
        let mut got = entries(&seen);
        got.sort_by_key(|e| e.0);
        assert_eq!(
            got,
            vec![("read", What::READ), ("timer", What::TIMEOUT)],
            "{name}"
        );
        // Deleting the event of the closed fd is fine (epoll's DEL fails with EBADF: ignored).
        base.del(doomed)?;
        base.free(doomed)?;
        // And the base goes on working.
        let (mut a3, b3) = UnixStream::pair()?;
        let s = seen.clone();
        let ev = base.io(b3.as_raw_fd(), What::READ, move |_, _, w| {
            push(&s, ("again", w))
        })?;
        base.add_old(ev, None)?;
        a3.write_all(b"y")?;
        assert_eq!(base.run(&mut ())?, Exit::Empty, "{name}");
        assert_eq!(
            entries(&seen).last(),
            Some(&("again", What::READ)),
            "{name}"
        );
        drop(b3);
    }
    Ok(())
}

#[test]
fn fd_number_replaced_under_a_pending_event_recovers_after_del() -> io::Result<()> {
    // dup2 replaces the file behind a watched fd number atomically (no window for another
    // thread to take the number). The old event is now watching a file that is gone; once it is
    // deleted, a new event on the same number works.
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        let (_a1, b1) = UnixStream::pair()?;
        let fd = b1.as_raw_fd();
        let old = base.io(fd, What::READ | What::PERSIST, |base, ev, _| {
            base.del(ev).unwrap();
        })?;
        base.add_old(old, None)?;
        let (mut a2, b2) = UnixStream::pair()?;
        // SAFETY: both are open descriptors this test owns; `fd` stays owned by `b1`, which now
        // refers to `b2`'s socket.
        assert_eq!(unsafe { libc::dup2(b2.as_raw_fd(), fd) }, fd);
        drop(b2);
        base.del(old)?;
        let seen = log();
        let s = seen.clone();
        let new = base.io(fd, What::READ, move |_, _, w| {
            let mut buf = [0; 8];
            let _ = (&b1).read(&mut buf).unwrap();
            push(&s, w);
        })?;
        base.add_old(new, None)?;
        a2.write_all(b"x")?;
        assert_eq!(base.run(&mut ())?, Exit::Empty, "{name}");
        assert_eq!(entries(&seen), vec![What::READ], "{name}");
    }
    Ok(())
}

#[test]
fn fd_closed_without_del_is_reported_at_most_once() -> io::Result<()> {
    // A persistent READ event whose fd and peer are closed with no `del`: during a 300 ms timer
    // the callback runs at most twice on every backend (poll and select used to report the dead
    // fd on every wait). Once the event is deleted and a new socket has the number, a new event
    // on it fires.
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        let (a, b) = UnixStream::pair()?;
        // A number far above what the other tests open, so it stays closed until reused here.
        // SAFETY: F_DUPFD duplicates an fd this test owns.
        let fd: RawFd = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_DUPFD, 5000) };
        assert!(fd >= 5000, "{name}: {}", io::Error::last_os_error());
        drop(a);
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let dead = base.io(fd, What::READ | What::PERSIST, move |_, _, _| {
            c.fetch_add(1, SeqCst);
        })?;
        base.add_old(dead, None)?;
        // SAFETY: `fd` is this test's and closed once, here.
        unsafe { libc::close(fd) };
        drop(b);
        let timer = base.timer(false, |base, _, _| base.break_loop())?;
        base.add_old(timer, Some(ms(300)))?;
        assert!(base.run(&mut ()).is_ok(), "{name}");
        let calls = calls.load(SeqCst);
        assert!(
            calls <= 2,
            "{name}: {calls} callbacks in 300 ms: the loop spins"
        );
        base.del(dead)?;
        let (mut a2, b2) = UnixStream::pair()?;
        // SAFETY: both are this test's; `fd` is closed, so dup2 just takes the number.
        assert_eq!(unsafe { libc::dup2(b2.as_raw_fd(), fd) }, fd);
        drop(b2);
        let seen = log();
        let s = seen.clone();
        let new = base.io(fd, What::READ, move |_, _, w| push(&s, w))?;
        base.add_old(new, None)?;
        a2.write_all(b"x")?;
        assert_eq!(base.run(&mut ())?, Exit::Empty, "{name}");
        assert_eq!(entries(&seen), vec![What::READ], "{name}");
        // SAFETY: `fd` is the dup2 above, this test's.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

#[test]
fn bad_fds_are_errors() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let e = base.io(-1, What::READ, |_, _, _| {}).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    let e = base
        .io(-5, What::WRITE | What::CLOSED, |_, _, _| {})
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    assert!(base.is_empty(), "nothing created");

    let (_a, b) = UnixStream::pair()?;
    let e = base
        .io(b.as_raw_fd(), What::READ | What::SIGNAL, |_, _, _| {})
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    // An fd number that cannot be open: at the soft limit of open files.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let unopened = lim.rlim_cur.min(1 << 20) as RawFd;
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        // SAFETY: `unopened` is not open; the event is freed before anything could open it.
        let r = unsafe {
            base.new_raw_io(unopened, Interest::READ, Mode::OneShot, |_, _, _, _| {
                panic!("must not run")
            })
        };
        if *name == "epoll" {
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF), "{name}");
            assert!(base.is_empty(), "{name}: nothing created");
            assert_eq!(base.counts(), Counts::default(), "{name}: left as it was");
        } else {
            // poll and select learn of a bad fd only when they wait: the error, if any, comes
            // from the run, or the event is reported ready. Either way, never a hang or abort.
            if let Ok(ev) = r {
                base.add_timeout(ev, ms(1))?;
                base.free(ev)?;
            }
        }
        // The base still works.
        let t = base.timer(false, |_, _, _| {})?;
        base.add_old(t, Some(ms(1)))?;
        assert_eq!(base.run(&mut ())?, Exit::Empty, "{name}");
    }

    // An fd so large the fd map may not grow to it: an error, not an abort.
    // SAFETY: the fd cannot be open, and the creation fails.
    let r = unsafe { base.new_raw_io(RawFd::MAX, Interest::READ, Mode::OneShot, |_, _, _, _| {}) };
    assert!(r.is_err());
    assert!(base.is_empty(), "nothing created");
    Ok(())
}

#[test]
fn bad_signal_numbers_fail_at_add() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    for sig in [0, 99, -1, 65] {
        // Pending at creation: the creation is refused, and nothing is kept.
        let e = base
            .new_signal(sig, |_, _, _, _| panic!("must not run"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "signal {sig}: {e}");
        assert!(base.is_empty(), "signal {sig}");
        assert_eq!(base.counts(), Counts::default(), "signal {sig}");
    }
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    Ok(())
}

// ---- priorities misuse -------------------------------------------------------------------------

#[test]
fn priority_beyond_a_shrunk_range_is_refused_at_add() -> io::Result<()> {
    let mut base = Builder::new().priorities(4).build::<()>()?;
    let ev = base.timer(false, |_, _, _| {})?;
    base.set_priority(ev, 3)?;
    base.set_priorities(2)?;
    let e = base.add_old(ev, Some(ms(1))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(base.counts(), Counts::default());
    base.set_priority(ev, 1)?;
    base.add_old(ev, Some(ms(1)))?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    Ok(())
}

/// libevent's `event_priority_set` refuses an active event, whatever it is active with. Here an
/// event activated with an empty `What` looks not pending, so its priority can change while it
/// waits in a queue of the old priority.
#[test]
fn set_priority_refused_for_an_event_active_with_nothing() -> io::Result<()> {
    let mut base = Builder::new().priorities(3).build::<()>()?;
    let ev = base.user(|_, _, _| {})?;
    base.act(ev, What::empty())?;
    assert_eq!(base.counts().active, 1);
    assert!(base.set_priority(ev, 0).is_err(), "changed while active");
    Ok(())
}

// ---- reentrancy --------------------------------------------------------------------------------

#[test]
fn a_callback_cannot_run_the_loop() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let kinds = log();
    let k = kinds.clone();
    let ev = base.user(move |base, _, _| {
        for r in [
            base.run(&mut ()),
            base.run_once(&mut ()),
            base.run_nonblocking(&mut ()),
            base.run_with(eventop::LoopFlags::NO_EXIT_ON_EMPTY, &mut ()),
        ] {
            push(&k, r.map_err(|e| e.kind()));
        }
    })?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let after = base.user(move |_, _, _| {
        c.fetch_add(1, SeqCst);
    })?;
    base.act(ev, What::READ)?;
    base.act(after, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty, "the outer run carried on");
    assert_eq!(entries(&kinds), vec![Err(ErrorKind::ResourceBusy); 4]);
    assert_eq!(calls.load(SeqCst), 1);
    // And it can run again.
    base.act(after, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 2);
    Ok(())
}

// ---- panics ------------------------------------------------------------------------------------

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn a_panicking_callback_unwinds_out_of_run_and_the_base_runs_again() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let order = log();
    let o = order.clone();
    let boom = base.user(move |_, _, _| {
        push(&o, "boom");
        panic!("boom");
    })?;
    let o = order.clone();
    let later = base.user(move |_, _, _| push(&o, "later"))?;
    let (mut a, b) = UnixStream::pair()?;
    let o = order.clone();
    let reader = base.io(
        b.as_raw_fd(),
        What::READ | What::PERSIST,
        move |base, ev, _| {
            let mut buf = [0; 8];
            let _ = (&b).read(&mut buf).unwrap();
            push(&o, "read");
            base.free(ev).unwrap();
        },
    )?;
    base.add_old(reader, None)?;
    base.act(boom, What::READ)?;
    base.act(later, What::READ)?;

    let r = catch_unwind(AssertUnwindSafe(|| base.run(&mut ())));
    assert_eq!(panic_message(r.unwrap_err()), "boom");
    assert_eq!(entries(&order), vec!["boom"]);
    assert_eq!(base.counts().active, 1, "`later` is still queued");

    // The run ended cleanly: a new one is not reentrant, and runs what is left.
    a.write_all(b"x")?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    let mut got = entries(&order);
    got[1..].sort();
    assert_eq!(got, vec!["boom", "later", "read"]);
    // The event that panicked (not persistent) still exists and can run again, minus the panic.
    assert_eq!(base.len(), 2);
    Ok(())
}

/// `run_with`'s docs: "If a callback panics, the run ends, the base stays usable (the event
/// keeps its callback)". `run_callback` moves the boxed closure into the `catch_unwind` and
/// only puts it back on success, so the unwind drops it: the event stays pending with no
/// callback, and every later firing is skipped silently (a persistent timer then keeps the loop
/// running forever, doing nothing).
#[test]
fn a_persistent_event_keeps_its_callback_after_a_panic() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let t = base.timer(true, move |base, ev, _| {
        if c.fetch_add(1, SeqCst) == 0 {
            panic!("first tick");
        }
        base.free(ev).unwrap();
        base.break_loop(); // the exit guard below would otherwise keep the loop waiting
    })?;
    base.add_old(t, Some(ms(5)))?;
    let r = catch_unwind(AssertUnwindSafe(|| base.run(&mut ())));
    assert_eq!(panic_message(r.unwrap_err()), "first tick");
    assert_eq!(calls.load(SeqCst), 1);
    assert_eq!(base.pend(t, What::TIMEOUT)?, What::TIMEOUT, "still pending");

    base.exit_after(GUARD); // ends the run if the callback is gone
    let out = base.run(&mut ())?;
    assert_eq!(calls.load(SeqCst), 2, "the callback ran again");
    assert!(base.is_empty(), "and freed its event");
    let _ = out;
    Ok(())
}

/// A once-event whose callback panics is never freed: its record stays, counted by `len()`.
#[test]
fn a_panicking_once_callback_leaves_nothing_behind() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    base.once_old(None, What::TIMEOUT, None, |_, _| panic!("once"))?;
    assert_eq!(base.len(), 1);
    let r = catch_unwind(AssertUnwindSafe(|| base.run(&mut ())));
    assert_eq!(panic_message(r.unwrap_err()), "once");
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert!(base.is_empty(), "len() = {}", base.len());
    Ok(())
}

#[test]
fn a_panic_while_freeing_itself_leaves_the_base_consistent() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let token = Arc::new(());
    let t = token.clone();
    let ev = base.user(move |base, ev, _| {
        let _ = &t;
        base.free(ev).unwrap();
        panic!("after free");
    })?;
    base.act(ev, What::READ)?;
    let r = catch_unwind(AssertUnwindSafe(|| base.run(&mut ())));
    assert_eq!(panic_message(r.unwrap_err()), "after free");
    assert!(base.is_empty());
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "the closure was dropped by the unwind"
    );
    assert_not_found(base.act(ev, What::READ), "activate");
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    Ok(())
}

/// A callback that swaps its base out of its `&mut Base` and drops it: its own closure, which
/// runs on, is neither dropped nor freed under it, and no event of the new base is touched
/// when it returns (the run ends with an error: the new base is not running).
#[test]
fn callback_drops_the_base_running_it() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(dropped.clone());
    let ev = base.new_user(move |base, _, _, _| {
        let mut other = Base::new().unwrap();
        let kept = other.new_user(|_, _, _, _| {}).unwrap();
        std::mem::swap(base, &mut other);
        drop(other);
        assert_eq!(guard.0.load(SeqCst), 0, "the running closure was dropped");
        assert!(base.pending(kept).is_ok());
    })?;
    base.activate(ev, eventop::Readiness::TIMEOUT)?;
    assert!(base.run(&mut ()).is_err());
    assert_eq!(base.len(), 1, "the new base's event is untouched");
    Ok(())
}

/// Counts its drops.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}
