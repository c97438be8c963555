//! Every public entry point of `Base`, used as documented, with real sockets and timers.

mod common;

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use eventop::{Base, Builder, Counts, Exit, LoopFlags};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---- I/O ---------------------------------------------------------------------------------------

#[test]
fn io_read_fires_once_and_the_handle_stays_valid() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (mut a, b) = UnixStream::pair()?;
    let seen = log();
    let s = seen.clone();
    let ev = base.io(b.as_raw_fd(), What::READ, move |_, _, what| {
        let mut buf = [0; 8];
        let n = (&b).read(&mut buf).unwrap();
        push(&s, (what, n));
    })?;
    assert_eq!(base.pend(ev, What::all())?, What::empty(), "not added yet");
    base.add_old(ev, None)?;
    assert_eq!(base.pend(ev, What::all())?, What::READ);
    assert_eq!(
        base.pend(ev, What::WRITE)?,
        What::empty(),
        "masked by `what`"
    );
    a.write_all(b"abc")?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![(What::READ, 3)]);
    // Not persistent: deleted when it ran, but it still exists and can be added again.
    assert_eq!(base.pend(ev, What::all())?, What::empty());
    assert_eq!(base.len(), 1);
    base.add_old(ev, None)?;
    a.write_all(b"de")?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![(What::READ, 3), (What::READ, 2)]);
    Ok(())
}

#[test]
fn io_write_and_closed() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (a, b) = UnixStream::pair()?;
    let seen = log();
    let s = seen.clone();
    let w = base.io(a.as_raw_fd(), What::WRITE, move |_, _, what| {
        push(&s, ("w", what))
    })?;
    base.add_old(w, None)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![("w", What::WRITE)]);

    let s = seen.clone();
    let c = base.io(b.as_raw_fd(), What::CLOSED, move |_, _, what| {
        push(&s, ("c", what))
    })?;
    base.add_old(c, None)?;
    drop(a); // the peer goes away
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    let all = entries(&seen);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1].0, "c");
    assert!(all[1].1.contains(What::CLOSED), "{all:?}");
    Ok(())
}

#[test]
fn tcp_accept_and_echo() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let got = log();
    let g = got.clone();
    let lfd = listener.as_raw_fd();
    let accept = base.io(lfd, What::READ | What::PERSIST, move |base, ev, what| {
        assert_eq!(what, What::READ);
        let (conn, _) = listener.accept().unwrap();
        let g = g.clone();
        let reader = base
            .io(
                conn.as_raw_fd(),
                What::READ | What::PERSIST,
                move |base, rev, _| {
                    let mut buf = [0; 16];
                    let n = (&conn).read(&mut buf).unwrap();
                    if n == 0 {
                        base.free(rev).unwrap();
                        return;
                    }
                    push(&g, buf[..n].to_vec());
                    (&conn).write_all(&buf[..n]).unwrap();
                },
            )
            .unwrap();
        base.add_old(reader, None).unwrap();
        base.free(ev).unwrap(); // one connection is enough
    })?;
    base.add_old(accept, None)?;
    let client = std::thread::spawn(move || -> io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(addr)?;
        s.write_all(b"ping")?;
        let mut back = [0; 4];
        s.read_exact(&mut back)?;
        Ok(back.to_vec())
    });
    assert_eq!(
        base.run(&mut ())?,
        Exit::Empty,
        "both events freed themselves"
    );
    assert_eq!(client.join().unwrap()?, b"ping");
    assert_eq!(entries(&got).concat(), b"ping");
    assert!(base.is_empty());
    Ok(())
}

#[test]
fn io_with_timeout_times_out_then_reads() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (mut a, b) = UnixStream::pair()?;
    let seen = log();
    let s = seen.clone();
    let ev = base.io(b.as_raw_fd(), What::READ, move |_, _, what| {
        if what.contains(What::READ) {
            let mut buf = [0; 8];
            let _ = (&b).read(&mut buf).unwrap();
        }
        push(&s, what);
    })?;
    let start = Instant::now();
    base.add_old(ev, Some(ms(30)))?;
    assert_eq!(base.pend(ev, What::all())?, What::READ | What::TIMEOUT);
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert!(start.elapsed() >= ms(30));
    assert_eq!(entries(&seen), vec![What::TIMEOUT]);

    base.add_old(ev, Some(FAR))?;
    a.write_all(b"x")?;
    assert_eq!(
        base.run(&mut ())?,
        Exit::Empty,
        "the read also removed the timeout"
    );
    assert_eq!(entries(&seen), vec![What::TIMEOUT, What::READ]);
    Ok(())
}

#[test]
fn two_events_on_one_fd_both_run() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (mut a, b) = UnixStream::pair()?;
    let seen = log();
    let fd = b.as_raw_fd();
    for name in ["first", "second"] {
        let s = seen.clone();
        let ev = base.io(fd, What::READ, move |_, _, what| push(&s, (name, what)))?;
        base.add_old(ev, None)?;
    }
    a.write_all(b"x")?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    let mut all = entries(&seen);
    all.sort_by_key(|e| e.0);
    assert_eq!(all, vec![("first", What::READ), ("second", What::READ)]);
    drop(b);
    Ok(())
}

// ---- timers ------------------------------------------------------------------------------------

#[test]
fn timer_fires_after_its_timeout() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let seen = log();
    let s = seen.clone();
    let t = base.timer(false, move |_, _, what| push(&s, what))?;
    let start = Instant::now();
    base.add_old(t, Some(ms(40)))?;
    assert_eq!(base.pend(t, What::all())?, What::TIMEOUT);
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert!(start.elapsed() >= ms(40), "{:?}", start.elapsed());
    assert_eq!(entries(&seen), vec![What::TIMEOUT]);
    assert_eq!(base.pend(t, What::all())?, What::empty());
    Ok(())
}

#[test]
fn persistent_timer_repeats_until_it_frees_itself() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let t = base.timer(true, move |base, ev, what| {
        assert_eq!(what, What::TIMEOUT);
        assert_eq!(
            base.pend(ev, What::TIMEOUT).unwrap(),
            What::TIMEOUT,
            "re-armed"
        );
        if c.fetch_add(1, SeqCst) + 1 == 3 {
            base.free(ev).unwrap();
        }
    })?;
    let start = Instant::now();
    base.add_old(t, Some(ms(5)))?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 3);
    assert!(start.elapsed() >= ms(15));
    assert!(base.is_empty());
    Ok(())
}

/// A timer re-added by its callback after ~300 us of work, 50 times, on every backend: each
/// firing comes at least the timeout after the `add` that armed it (never early, measured on
/// the monotonic clock `Instant` reads), not after the iteration's cached time.
#[test]
fn timeout_counts_from_the_add_not_the_cached_time() -> io::Result<()> {
    const N: usize = 50;
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        let gaps = log();
        let added = Arc::new(std::sync::Mutex::new(Instant::now()));
        let (g, at) = (gaps.clone(), added.clone());
        // The new API: the callback re-arms the timer by what it returns. `at` is read before
        // each add, so a gap is never shorter than the timer's own.
        *added.lock().unwrap() = Instant::now();
        base.new_timer(ms(1), move |_, _, _| {
            let mut at = at.lock().unwrap();
            push(&g, at.elapsed());
            if entries(&g).len() == N {
                return eventop::TimeoutAction::Drop;
            }
            let work = Instant::now();
            while work.elapsed() < Duration::from_micros(300) {}
            *at = Instant::now();
            eventop::TimeoutAction::ToDuration(ms(1))
        })?;
        assert_eq!(base.run(&mut ())?, Exit::Empty);
        let gaps = entries(&gaps);
        assert_eq!(gaps.len(), N);
        let early: Vec<_> = gaps.iter().filter(|g| **g < ms(1)).collect();
        assert!(
            early.is_empty(),
            "{name}: {} of {N} early: {early:?}",
            early.len()
        );
    }
    Ok(())
}

#[test]
fn callback_can_add_itself_again() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let t = base.timer(false, move |base, ev, _| {
        assert_eq!(base.pend(ev, What::all()).unwrap(), What::empty());
        if c.fetch_add(1, SeqCst) + 1 < 4 {
            base.add_old(ev, Some(ms(1))).unwrap();
        }
    })?;
    base.add_old(t, Some(ms(1)))?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 4);
    Ok(())
}

#[test]
fn timer_added_without_timeout_is_not_pending() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let t = base.timer(true, move |_, _, _| {
        c.fetch_add(1, SeqCst);
    })?;
    base.add_old(t, None)?;
    assert_eq!(base.pend(t, What::all())?, What::empty());
    assert_eq!(base.remaining(t)?, None);
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 0);
    Ok(())
}

#[test]
fn a_new_timeout_replaces_the_old_and_none_keeps_it() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let t = base.timer(false, move |_, _, _| {
        c.fetch_add(1, SeqCst);
    })?;
    base.add_old(t, Some(FAR))?;
    let r = base.remaining(t)?.unwrap();
    assert!(r > FAR / 2 && r <= FAR, "{r:?}");
    base.add_old(t, Some(ms(20)))?;
    assert!(base.remaining(t)?.unwrap() <= ms(20));
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 1);

    // An I/O event: `None` keeps the timeout it has.
    let (_a, b) = UnixStream::pair()?;
    let io = base.io(b.as_raw_fd(), What::READ, |_, _, _| {})?;
    base.add_old(io, Some(FAR))?;
    base.add_old(io, None)?;
    let r = base.remaining(io)?.unwrap();
    assert!(r > FAR / 2 && r <= FAR, "{r:?}");
    assert_eq!(base.pend(io, What::all())?, What::READ | What::TIMEOUT);
    Ok(())
}

#[test]
fn remaining_without_timeout_is_none() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (_a, b) = UnixStream::pair()?;
    let io = base.io(b.as_raw_fd(), What::READ, |_, _, _| {})?;
    assert_eq!(base.remaining(io)?, None);
    base.add_old(io, None)?;
    assert_eq!(base.remaining(io)?, None);
    let u = base.user(|_, _, _| {})?;
    base.act(u, What::TIMEOUT)?;
    assert_eq!(base.remaining(u)?, None, "active is not a timeout");
    Ok(())
}

// ---- del, del_timeout, activate, free ---------------------------------------------------------

#[test]
fn del_stops_an_event_and_is_ok_when_not_pending() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let t = base.timer(false, move |_, _, _| {
        c.fetch_add(1, SeqCst);
    })?;
    base.del(t)?; // never added
    base.add_old(t, Some(ms(5)))?;
    base.del(t)?;
    base.del(t)?; // twice
    assert_eq!(base.pend(t, What::all())?, What::empty());
    assert_eq!(base.counts(), Counts::default());
    std::thread::sleep(ms(15));
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 0);

    // An active event deleted before it runs does not run.
    base.act(t, What::TIMEOUT)?;
    base.del(t)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 0);
    assert_eq!(base.len(), 1);
    Ok(())
}

#[test]
fn del_timeout_keeps_the_io_part() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (mut a, b) = UnixStream::pair()?;
    let seen = log();
    let s = seen.clone();
    let io = base.io(b.as_raw_fd(), What::READ, move |_, _, what| {
        let mut buf = [0; 8];
        let _ = (&b).read(&mut buf);
        push(&s, what);
    })?;
    base.del_timeout(io)?; // not pending: fine
    base.add_old(io, Some(ms(10)))?;
    base.del_timeout(io)?;
    assert_eq!(base.pend(io, What::all())?, What::READ);
    assert_eq!(base.remaining(io)?, None);
    std::thread::sleep(ms(30));
    assert_eq!(base.run_nonblocking(&mut ())?, Exit::Exited);
    assert!(entries(&seen).is_empty(), "the timeout was removed");
    a.write_all(b"x")?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![What::READ]);

    // A pure timer without its timeout is not pending at all.
    let t = base.timer(true, |_, _, _| panic!("must not run"))?;
    base.add_old(t, Some(ms(5)))?;
    base.del_timeout(t)?;
    assert_eq!(base.pend(t, What::all())?, What::empty());
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    Ok(())
}

#[test]
fn activate_ors_into_one_run_of_a_non_pending_event() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let seen = log();
    let s = seen.clone();
    let u = base.user(move |_, _, what| push(&s, what))?;
    base.act(u, What::READ)?;
    base.act(u, What::WRITE)?;
    assert_eq!(base.pend(u, What::all())?, What::READ | What::WRITE);
    assert_eq!(base.pend(u, What::READ)?, What::READ);
    assert_eq!(base.counts().active, 1);
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![What::READ | What::WRITE]);
    assert_eq!(base.pend(u, What::all())?, What::empty());
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen).len(), 1, "ran once");
    Ok(())
}

#[test]
fn activate_a_pending_persistent_event_keeps_it_pending() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (_a, b) = UnixStream::pair()?;
    let seen = log();
    let s = seen.clone();
    let io = base.io(
        b.as_raw_fd(),
        What::READ | What::PERSIST,
        move |_, _, what| push(&s, what),
    )?;
    base.add_old(io, None)?;
    base.act(io, What::TIMEOUT)?;
    assert_eq!(
        base.pend(io, What::all())?,
        What::READ | What::TIMEOUT,
        "inserted and active"
    );
    assert_eq!(base.run_once(&mut ())?, Exit::Exited);
    assert_eq!(entries(&seen), vec![What::TIMEOUT]);
    assert_eq!(base.pend(io, What::all())?, What::READ);

    // Not persistent: running it (by hand) deletes it.
    let (_c, d) = UnixStream::pair()?;
    let once = base.io(d.as_raw_fd(), What::READ, |_, _, _| {})?;
    base.add_old(once, None)?;
    base.act(once, What::READ)?;
    base.run_once(&mut ())?;
    assert_eq!(base.pend(once, What::all())?, What::empty());
    Ok(())
}

#[test]
fn free_drops_the_callback() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let token = Arc::new(());
    let t = token.clone();
    let ev = base.timer(false, move |_, _, _| {
        let _ = &t;
    })?;
    base.add_old(ev, Some(FAR))?;
    assert_eq!(Arc::strong_count(&token), 2);
    base.free(ev)?;
    assert_eq!(Arc::strong_count(&token), 1, "the closure is gone");
    assert!(base.is_empty());
    assert_eq!(base.counts(), Counts::default());
    assert_eq!(base.run(&mut ())?, Exit::Empty);

    // Dropping the base drops the callbacks it holds.
    let t = token.clone();
    let ev = base.user(move |_, _, _| {
        let _ = &t;
    })?;
    base.act(ev, What::READ)?;
    drop(base);
    assert_eq!(Arc::strong_count(&token), 1);
    Ok(())
}

#[test]
fn callback_frees_its_own_event() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (mut a, b) = UnixStream::pair()?;
    let token = Arc::new(());
    let t = token.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ev = base.io(
        b.as_raw_fd(),
        What::READ | What::PERSIST,
        move |base, ev, _| {
            let _ = &t;
            let mut buf = [0; 8];
            let _ = (&b).read(&mut buf).unwrap();
            c.fetch_add(1, SeqCst);
            base.free(ev).unwrap();
            assert_eq!(base.free(ev).unwrap_err().kind(), ErrorKind::NotFound);
        },
    )?;
    base.add_old(ev, None)?;
    a.write_all(b"x")?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 1);
    assert!(base.is_empty());
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "the closure was dropped after it returned"
    );
    assert_eq!(
        base.add_old(ev, None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // The closure owned the socket: it is closed now.
    assert_eq!(a.write_all(b"y").unwrap_err().kind(), ErrorKind::BrokenPipe);
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 1);
    Ok(())
}

#[test]
fn freeing_an_event_active_in_the_same_iteration_keeps_it_from_running() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let order = log();
    let o = order.clone();
    let victim = base.user(move |_, _, _| push(&o, "victim"))?;
    let o = order.clone();
    let killer = base.user(move |base, _, _| {
        push(&o, "killer");
        assert!(
            !base.pend(victim, What::all()).unwrap().is_empty(),
            "active"
        );
        base.free(victim).unwrap();
        // A new event may take the freed slot; it runs, the victim's callback does not.
        let o = o.clone();
        let fresh = base.user(move |_, _, _| push(&o, "fresh")).unwrap();
        base.act(fresh, What::READ).unwrap();
    })?;
    base.act(killer, What::READ)?;
    base.act(victim, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&order), vec!["killer", "fresh"]);
    assert_eq!(base.len(), 2);
    Ok(())
}

#[test]
fn deleting_an_io_event_active_in_the_same_iteration() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (mut a1, b1) = UnixStream::pair()?;
    let (mut a2, b2) = UnixStream::pair()?;
    let ran = log();
    let evs = Arc::new(std::sync::Mutex::new(Vec::new()));
    for (name, sock) in [("one", b1), ("two", b2)] {
        let r = ran.clone();
        let e = evs.clone();
        let ev = base.io(
            sock.as_raw_fd(),
            What::READ | What::PERSIST,
            move |base, me, _| {
                let mut buf = [0; 8];
                let _ = (&sock).read(&mut buf).unwrap();
                push(&r, name);
                // Whichever runs first deletes the other and itself.
                for &other in e.lock().unwrap().iter() {
                    base.del(other).unwrap();
                }
                let _ = me;
            },
        )?;
        base.add_old(ev, None)?;
        evs.lock().unwrap().push(ev);
    }
    a1.write_all(b"1")?;
    a2.write_all(b"2")?;
    std::thread::sleep(ms(10));
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&ran).len(), 1, "{:?}", entries(&ran));
    Ok(())
}

// ---- priorities --------------------------------------------------------------------------------

#[test]
fn set_priority_rules() -> io::Result<()> {
    let mut base = Builder::new().priorities(3).build::<()>()?;
    let ev = base.timer(false, |_, _, _| {})?;
    let e = base.set_priority(ev, 3).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "out of range");
    base.set_priority(ev, 2)?;
    base.set_priority(ev, 0)?;
    base.add_old(ev, Some(FAR))?;
    // Pending: it changes, and the timeout stays pending.
    base.set_priority(ev, 1)?;
    assert!(base.pending(ev)?.contains(eventop::Readiness::TIMEOUT));
    base.del(ev)?;
    base.set_priority(ev, 1)?;
    base.act(ev, What::TIMEOUT)?;
    assert!(base.set_priority(ev, 2).is_err(), "active");
    base.del(ev)?;
    base.set_priority(ev, 2)?;
    Ok(())
}

/// A pending event's new priority is the one it runs with: two timers due together run in
/// the order of the priorities set while they waited.
#[test]
fn a_pending_event_runs_with_the_priority_set_while_it_waited() -> io::Result<()> {
    let mut base = Builder::new().priorities(3).build::<()>()?;
    let order = log();
    let mut evs = Vec::new();
    for name in ["first set", "second set"] {
        let o = order.clone();
        evs.push(base.timer(false, move |_, _, _| push(&o, name))?);
    }
    for &ev in &evs {
        base.add_old(ev, Some(Duration::from_millis(5)))?;
    }
    base.set_priority(evs[0], 2)?;
    base.set_priority(evs[1], 0)?;
    // Both due by the loop's first look at the timers.
    std::thread::sleep(ms(10));
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&order), vec!["second set", "first set"]);
    Ok(())
}

#[test]
fn priorities_order_callbacks() -> io::Result<()> {
    let mut base = Builder::new().priorities(3).build::<()>()?;
    let order = log();
    let mut evs = Vec::new();
    for pri in [2u8, 0, 1] {
        let o = order.clone();
        let ev = base.user(move |_, _, _| push(&o, pri))?;
        if pri != 1 {
            base.set_priority(ev, pri)?;
        } // 1 is the default: the middle of three
        evs.push(ev);
    }
    for ev in &evs {
        base.act(*ev, What::READ)?;
    }
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&order), vec![0, 1, 2]);
    Ok(())
}

#[test]
fn a_higher_priority_activation_preempts_the_queue() -> io::Result<()> {
    let mut base = Builder::new().priorities(2).build::<()>()?;
    let order = log();
    let o = order.clone();
    let urgent = base.user(move |_, _, _| push(&o, "urgent"))?;
    base.set_priority(urgent, 0)?;
    let o = order.clone();
    let a = base.user(move |base, _, _| {
        push(&o, "a");
        base.act(urgent, What::READ).unwrap();
    })?;
    let o = order.clone();
    let b = base.user(move |_, _, _| push(&o, "b"))?;
    base.act(a, What::READ)?;
    base.act(b, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&order), vec!["a", "urgent", "b"]);
    Ok(())
}

// ---- bookkeeping -------------------------------------------------------------------------------

#[test]
fn len_is_empty_and_counts() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    assert!(base.is_empty());
    assert_eq!(base.len(), 0);
    assert_eq!(base.counts(), Counts::default());

    let u = base.user(|_, _, _| {})?;
    assert_eq!(base.len(), 1);
    assert!(!base.is_empty());
    assert_eq!(base.counts().added, 0, "created, not added");

    let (_a, b) = UnixStream::pair()?;
    let io = base.io(b.as_raw_fd(), What::READ, |_, _, _| {})?;
    base.add_old(io, Some(FAR))?;
    assert_eq!(
        base.counts().added,
        2,
        "inserted and timed: counted twice, as libevent"
    );
    let t = base.timer(false, |_, _, _| {})?;
    base.add_old(t, Some(FAR))?;
    assert_eq!(base.counts().added, 3);
    base.act(u, What::READ)?;
    assert_eq!(
        base.counts(),
        Counts {
            added: 3,
            active: 1,
            virtual_: 0
        }
    );
    assert_eq!(base.len(), 3);
    base.del(io)?;
    assert_eq!(base.counts().added, 1);
    base.free(t)?;
    base.free(u)?;
    assert_eq!(base.counts(), Counts::default());
    assert_eq!(base.len(), 1);
    let dbg = format!("{base:?}");
    assert!(dbg.contains("epoll"), "{dbg}");
    Ok(())
}

#[test]
fn dump_mentions_the_backend_and_the_events() -> io::Result<()> {
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        let (_a, b) = UnixStream::pair()?;
        let fd: RawFd = b.as_raw_fd();
        let empty = base.dump();
        assert!(empty.contains(&format!("base using {name}")), "{empty}");
        let io = base.io(fd, What::READ, |_, _, _| {})?;
        base.add_old(io, Some(FAR))?;
        let out = base.dump();
        assert!(out.contains(&format!("base using {name}")), "{out}");
        assert!(out.contains(&format!("fd {fd:>4} ")), "{out}");
        assert!(out.contains("deadline Some"), "{out}");
        assert_eq!(out.lines().count(), 2, "{out}");
    }
    Ok(())
}

// ---- once --------------------------------------------------------------------------------------

#[test]
fn once_timer() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let seen = log();
    let start = Instant::now();
    let s = seen.clone();
    base.once_old(None, What::TIMEOUT, Some(ms(30)), move |_, what| {
        push(&s, what)
    })?;
    assert_eq!(base.len(), 1);
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert!(start.elapsed() >= ms(30));
    assert_eq!(entries(&seen), vec![What::TIMEOUT]);
    assert!(base.is_empty(), "freed after running");
    Ok(())
}

#[test]
fn once_io_ready_or_timed_out() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (mut a, b) = UnixStream::pair()?;
    let seen = log();
    let s = seen.clone();
    base.once_old(
        Some(b.as_raw_fd()),
        What::READ,
        Some(FAR),
        move |_, what| push(&s, what),
    )?;
    a.write_all(b"x")?;
    assert_eq!(
        base.run(&mut ())?,
        Exit::Empty,
        "the timeout went with the event"
    );
    assert_eq!(entries(&seen), vec![What::READ]);
    assert!(base.is_empty());

    let s = seen.clone();
    base.once_old(Some(a.as_raw_fd()), What::WRITE, None, move |_, what| {
        push(&s, what)
    })?;
    let s = seen.clone();
    let (_c, d) = UnixStream::pair()?;
    base.once_old(
        Some(d.as_raw_fd()),
        What::READ,
        Some(ms(20)),
        move |_, what| push(&s, what),
    )?;
    assert_eq!(base.len(), 2);
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![What::READ, What::WRITE, What::TIMEOUT]);
    assert!(base.is_empty());
    drop(b);
    Ok(())
}

#[test]
fn once_with_nothing_runs_at_the_next_iteration() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let seen = log();
    let s = seen.clone();
    base.once_old(None, What::empty(), None, move |_, what| push(&s, what))?;
    assert_eq!(base.counts().active, 1);
    // It ran, then the next iteration found nothing left.
    assert_eq!(base.run_nonblocking(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![What::TIMEOUT]);
    assert!(base.is_empty());

    // From a callback: runs within the same run.
    let s = seen.clone();
    let u = base.user(move |base, ev, _| {
        let s = s.clone();
        base.once_old(None, What::TIMEOUT, None, move |_, w| push(&s, w))
            .unwrap();
        base.free(ev).unwrap();
    })?;
    base.act(u, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![What::TIMEOUT, What::TIMEOUT]);
    assert!(base.is_empty());
    Ok(())
}

#[test]
fn once_rejects_signal_persist_and_a_missing_fd() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (_a, b) = UnixStream::pair()?;
    for what in [What::SIGNAL, What::PERSIST, What::READ | What::PERSIST] {
        let e = base
            .once_old(Some(b.as_raw_fd()), what, Some(ms(1)), |_, _| {
                panic!("must not run")
            })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what:?}");
    }
    let e = base
        .once_old(None, What::READ, None, |_, _| panic!("must not run"))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    let e = base
        .once_old(Some(-1), What::WRITE, Some(ms(1)), |_, _| {
            panic!("must not run")
        })
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    assert!(base.is_empty(), "nothing left behind");
    assert_eq!(base.counts(), Counts::default());
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    Ok(())
}

// ---- running and stopping ----------------------------------------------------------------------

#[test]
fn run_on_an_empty_base_returns_empty() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(base.run_once(&mut ())?, Exit::Empty);
    assert_eq!(base.run_nonblocking(&mut ())?, Exit::Empty);
    let _unused = base.user(|_, _, _| {})?;
    assert_eq!(
        base.run(&mut ())?,
        Exit::Empty,
        "an event that is not pending does not count"
    );
    Ok(())
}

#[test]
fn run_nonblocking_does_not_wait() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    let t = base.timer(false, move |_, _, _| {
        f.fetch_add(1, SeqCst);
    })?;
    base.add_old(t, Some(FAR))?;
    assert_eq!(base.run_nonblocking(&mut ())?, Exit::Exited);
    assert_eq!(fired.load(SeqCst), 0);
    assert_eq!(base.pend(t, What::all())?, What::TIMEOUT);

    let seen = log();
    let s = seen.clone();
    let u = base.user(move |_, _, w| push(&s, w))?;
    base.act(u, What::WRITE)?;
    assert_eq!(base.run_nonblocking(&mut ())?, Exit::Exited);
    assert_eq!(entries(&seen), vec![What::WRITE]);
    assert_eq!(fired.load(SeqCst), 0);
    Ok(())
}

#[test]
fn run_once_waits_for_one_batch() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let start = Instant::now();
    let seen = log();
    for (name, after) in [("near", ms(20)), ("far", FAR)] {
        let s = seen.clone();
        let t = base.timer(false, move |_, _, _| push(&s, name))?;
        base.add_old(t, Some(after))?;
    }
    assert_eq!(base.run_once(&mut ())?, Exit::Exited);
    assert!(start.elapsed() >= ms(20));
    assert_eq!(entries(&seen), vec!["near"]);
    assert_eq!(base.counts().added, 1, "the far timer is still pending");
    Ok(())
}

#[test]
fn run_with_no_exit_on_empty_waits_for_an_exit() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let start = Instant::now();
    base.exit_after(ms(40));
    assert_eq!(
        base.run_with(LoopFlags::NO_EXIT_ON_EMPTY, &mut ())?,
        Exit::Exited
    );
    assert!(start.elapsed() >= ms(40));
    // The exit was used up: with nothing at all, a plain run is empty.
    assert_eq!(base.run(&mut ())?, Exit::Empty);

    // NO_EXIT_ON_EMPTY with ONCE: returns after a batch of callbacks even with nothing pending.
    let seen = log();
    let s = seen.clone();
    let u = base.user(move |_, _, _| push(&s, 1))?;
    base.act(u, What::READ)?;
    assert_eq!(
        base.run_with(LoopFlags::NO_EXIT_ON_EMPTY | LoopFlags::ONCE, &mut ())?,
        Exit::Exited
    );
    assert_eq!(entries(&seen), vec![1]);
    Ok(())
}

#[test]
fn exit_in_a_callback_ends_the_run_after_the_iteration() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let order = log();
    let keepalive = base.timer(true, |_, _, _| {})?;
    base.add_old(keepalive, Some(FAR))?;
    let o = order.clone();
    let a = base.user(move |base, _, _| {
        push(&o, "a");
        base.exit();
    })?;
    let o = order.clone();
    let b = base.user(move |_, _, _| push(&o, "b"))?;
    base.act(a, What::READ)?;
    base.act(b, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Exited);
    assert_eq!(entries(&order), vec!["a", "b"], "the iteration finished");
    assert_eq!(base.pend(keepalive, What::all())?, What::TIMEOUT);
    Ok(())
}

#[test]
fn exit_while_idle_is_kept_for_the_next_run() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let order = log();
    let o = order.clone();
    let a = base.user(move |_, _, _| push(&o, "a"))?;
    base.exit();
    base.act(a, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Exited);
    assert!(entries(&order).is_empty(), "exited before running anything");
    assert_eq!(base.run(&mut ())?, Exit::Empty, "the exit was used once");
    assert_eq!(entries(&order), vec!["a"]);
    Ok(())
}

#[test]
fn exit_after_ends_a_busy_run() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let timer = base.timer(true, move |_, _, _| {
        t.fetch_add(1, SeqCst);
    })?;
    let start = Instant::now();
    base.add_old(timer, Some(ms(5)))?;
    base.exit_after(ms(60));
    assert_eq!(base.run(&mut ())?, Exit::Exited);
    assert!(start.elapsed() >= ms(60));
    assert!(ticks.load(SeqCst) >= 1);
    assert_eq!(base.pend(timer, What::all())?, What::TIMEOUT);

    // The earlier of two exit requests wins.
    let start = Instant::now();
    base.exit_after(FAR);
    base.exit_after(ms(30));
    assert_eq!(base.run(&mut ())?, Exit::Exited);
    assert!(start.elapsed() >= ms(30));
    Ok(())
}

#[test]
fn break_loop_stops_after_the_current_callback() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let order = log();
    let o = order.clone();
    let a = base.user(move |base, _, _| {
        push(&o, "a");
        base.break_loop();
    })?;
    let o = order.clone();
    let b = base.user(move |_, _, _| push(&o, "b"))?;
    base.act(a, What::READ)?;
    base.act(b, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Exited);
    assert_eq!(entries(&order), vec!["a"]);
    assert_eq!(base.counts().active, 1, "b is still active");
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&order), vec!["a", "b"]);
    Ok(())
}

#[test]
fn break_loop_while_idle_is_forgotten() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let order = log();
    let o = order.clone();
    let a = base.user(move |_, _, _| push(&o, "a"))?;
    base.break_loop();
    base.act(a, What::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&order), vec!["a"]);
    Ok(())
}

#[test]
fn continue_loop_ends_the_iteration() -> io::Result<()> {
    // a (priority 1) arms timer t (priority 0) for "now"; t expires only when the next iteration
    // starts. Without continue_loop, b (priority 1) runs first, in the same iteration as a; with
    // it, the iteration ends, t expires and, being more urgent, runs before b.
    for cont in [false, true] {
        let mut base = Builder::new().priorities(2).build::<()>()?;
        let order = log();
        let o = order.clone();
        let t = base.timer(false, move |_, _, _| push(&o, "t"))?;
        base.set_priority(t, 0)?;
        let o = order.clone();
        let a = base.user(move |base, _, _| {
            push(&o, "a");
            base.add_old(t, Some(Duration::ZERO)).unwrap();
            if cont {
                base.continue_loop();
            }
        })?;
        let o = order.clone();
        let b = base.user(move |_, _, _| push(&o, "b"))?;
        base.act(a, What::READ)?;
        base.act(b, What::READ)?;
        assert_eq!(base.run(&mut ())?, Exit::Empty);
        let want = if cont {
            ["a", "t", "b"]
        } else {
            ["a", "b", "t"]
        };
        assert_eq!(entries(&order), want, "continue_loop: {cont}");
    }
    Ok(())
}

#[test]
fn backend_name_and_features() -> io::Result<()> {
    let base = base_avoiding(&["epoll"])?;
    assert_eq!(base.backend_name(), "poll");
    assert!(!base.features().contains(eventop::Features::O1));
    let base = base_avoiding(&["epoll", "poll"])?;
    assert_eq!(base.features(), eventop::Features::FDS);
    Ok(())
}
