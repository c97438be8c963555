//! Stress on every hosted backend, each scenario bounded in time (seconds; a hang fails through
//! [`within`]): signals sent one after another to a running loop, 100,000 timers, fds opened,
//! closed and reused under the loop, callbacks that delete and re-add each other, connections
//! reset by the peer mid-read, an EINTR storm from a 1 ms interval timer. Nothing may be lost.
//! `STRESS_SCALE=10` (ci/hardening) multiplies the counts.
//!
//! Signal scenarios hold [`serial`]: a signal reaches the whole process.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use eventop_core::base::{EventBase, FdEntry, Handle, Parts, Slot, Spec, Step, Tables, Timer};
use eventop_core::clock::Clock;
use eventop_core::sys::clock::Monotonic;
use eventop_core::sys::hosted::{FixedBuffers, Hosted};
use eventop_core::{Change, LoopFlags, What};
use eventop_tests::bounded::within;
use eventop_tests::fds::{linger_zero, pair, put, tcp_pair};
use eventop_tests::kinds::Kind;
use eventop_tests::{per_kind, Grow};

/// Growable tables, as the std adapter has.
struct G;

impl Tables for G {
    type Slots = Grow<Slot>;
    type Fds = Grow<FdEntry>;
    type Timers = Grow<Timer>;
    type Changes = Grow<Change>;
}

type Base = EventBase<Hosted<FixedBuffers<256>>, Monotonic, G>;

fn base(kind: Kind) -> Base {
    let parts = Parts {
        slots: Grow::default(),
        fds: Grow::default(),
        timers: Grow::default(),
        changes: Grow::default(),
    };
    EventBase::new(kind.hosted(), Monotonic, parts, kind.flags())
}

fn spec(fd: RawFd, events: What, token: usize) -> Spec {
    Spec {
        fd,
        events,
        priority: 0,
        token,
    }
}

fn scale() -> usize {
    std::env::var("STRESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

const LIMIT: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs one `flags` loop, handing each ready event to `f`.
fn run(b: &mut Base, flags: LoopFlags, mut f: impl FnMut(&mut Base, eventop_core::base::Ready)) {
    b.start(flags).unwrap();
    while let Step::Run(r) = b.step().unwrap() {
        f(b, r);
    }
}

/// 2,000 SIGUSR2s to a running loop, each sent once the loop has counted the one before: POSIX
/// cannot coalesce them, so the loop sees every one.
fn signals_one_after_another(kind: Kind) {
    let _g = serial();
    within(LIMIT, move || {
        let n = 2000 * scale() as u32;
        let seen = Arc::new(AtomicU32::new(0));
        let mut b = base(kind);
        b.add(
            None,
            &spec(libc::SIGUSR2, What::SIGNAL | What::PERSIST, 1),
            None,
        )
        .unwrap();
        let sender = {
            let seen = seen.clone();
            thread::spawn(move || {
                for i in 0..n {
                    while seen.load(Ordering::SeqCst) < i {
                        thread::yield_now();
                    }
                    // SAFETY: kill(getpid()) with a signal the base has a handler for.
                    unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
                }
            })
        };
        while seen.load(Ordering::SeqCst) < n {
            run(&mut b, LoopFlags::ONCE, |_, r| {
                assert_eq!(r.res, What::SIGNAL);
                seen.fetch_add(1, Ordering::SeqCst);
            });
        }
        sender.join().unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), n, "{kind:?}");
    });
}

/// 100,000 timers with deadlines spread over 50 ms: every one fires once, none early, in
/// deadline order.
fn many_timers(kind: Kind) {
    within(LIMIT, move || {
        let n = 100_000 * scale();
        let mut b = base(kind);
        let mut deadline = vec![0u64; n];
        let mut x = 12345u64;
        for (i, d) in deadline.iter_mut().enumerate() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = Duration::from_micros((x >> 33) % 50_000);
            let before = Monotonic.now();
            let h = b.add(None, &spec(-1, What::empty(), i), Some(t)).unwrap();
            // The base's own deadline, never before the add plus the timeout.
            *d = b.pending(h, i, What::TIMEOUT).1.unwrap();
            assert!(*d >= before + t.as_nanos() as u64);
        }
        let mut fired = vec![false; n];
        let mut last = 0;
        let mut count = 0;
        while count < n {
            run(&mut b, LoopFlags::ONCE, |_, r| {
                let now = Monotonic.now();
                let d = deadline[r.token];
                assert!(d <= now, "timer {} early", r.token);
                assert!(!fired[r.token], "timer {} fired twice", r.token);
                assert!(d >= last, "timer {} out of order", r.token);
                last = d;
                fired[r.token] = true;
                count += 1;
            });
        }
        assert_eq!(b.counts().added, 0, "{kind:?}");
    });
}

/// 10,000 rounds of: a socketpair (numbers reused from the last rounds), an event on it, a
/// byte, one loop iteration that must run it; every 3rd round the fd is closed without a delete
/// first, and the event deleted afterwards.
fn fds_opened_closed_reused(kind: Kind) {
    within(LIMIT, move || {
        let mut b = base(kind);
        for i in 0..10_000 * scale() {
            let (r, w) = pair();
            let fd = r.as_raw_fd();
            let h = b
                .add(None, &spec(fd, What::READ | What::PERSIST, i), None)
                .unwrap();
            put(&w);
            let mut ran = 0;
            run(&mut b, LoopFlags::ONCE | LoopFlags::NONBLOCK, |_, e| {
                assert_eq!((e.token, e.fd), (i, fd));
                ran += 1;
            });
            assert_eq!(ran, 1, "{kind:?}: round {i}");
            if i % 3 == 0 {
                drop(r);
                b.del(h, i).unwrap();
            } else {
                b.del(h, i).unwrap();
            }
            assert_eq!(b.counts().added, 0);
        }
    });
}

/// Eight persistent events on readable sockets whose callbacks, in a fixed pseudo-random
/// pattern, delete, re-add and activate each other and themselves, 20,000 callbacks in all.
/// The handles the test keeps always agree with what the base holds.
fn callbacks_delete_and_readd_each_other(kind: Kind) {
    within(LIMIT, move || {
        let mut b = base(kind);
        let pairs: Vec<_> = (0..8).map(|_| pair()).collect();
        let specs: Vec<Spec> = pairs
            .iter()
            .enumerate()
            .map(|(i, (r, w))| {
                put(w);
                spec(r.as_raw_fd(), What::READ | What::PERSIST, i)
            })
            .collect();
        let mut hs: Vec<Option<Handle>> = specs.iter().map(|s| b.add(None, s, None).ok()).collect();
        let mut x = 99u64;
        let mut calls = 0;
        while calls < 20_000 * scale() {
            run(&mut b, LoopFlags::ONCE, |b, r| {
                calls += 1;
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                let other = (x >> 40) as usize % 8;
                match (x >> 20) % 4 {
                    0 => {
                        // (An event that was only active is let go once it ran: stale.)
                        if let Some(h) = hs[other].take().filter(|&h| b.is_held(h, other)) {
                            b.del(h, other).unwrap();
                        }
                    }
                    1 => hs[other] = Some(b.add(hs[other], &specs[other], None).unwrap()),
                    2 => {
                        hs[other] = Some(
                            b.activate(hs[other], &specs[other], What::WRITE, 0)
                                .unwrap(),
                        )
                    }
                    _ => {
                        if let Some(h) = hs[r.token].take().filter(|&h| b.is_held(h, r.token)) {
                            b.del(h, r.token).unwrap();
                        }
                        hs[r.token] = Some(b.add(None, &specs[r.token], None).unwrap());
                    }
                }
            });
            // Whatever was deleted comes back, so the loop always has work.
            for i in 0..8 {
                if hs[i].is_none_or(|h| !b.is_held(h, i)) {
                    hs[i] = Some(b.add(None, &specs[i], None).unwrap());
                }
            }
        }
        for (i, h) in hs.iter().enumerate() {
            b.del(h.unwrap(), i).unwrap();
        }
        assert_eq!(b.counts(), Default::default(), "{kind:?}");
    });
}

/// 200 connections, each reset by its peer (SO_LINGER 0) while the loop watches it with data
/// unread: the event runs, the read fails with ECONNRESET or sees the data and then the end,
/// and the loop carries on.
fn peer_resets_mid_read(kind: Kind) {
    within(LIMIT, move || {
        let mut b = base(kind);
        for i in 0..200 * scale() {
            let (mut c, s) = tcp_pair();
            c.write_all(b"partial").unwrap();
            let h = b
                .add(
                    None,
                    &spec(s.as_raw_fd(), What::READ | What::PERSIST, i),
                    None,
                )
                .unwrap();
            linger_zero(c.as_raw_fd());
            drop(c);
            let mut s = s;
            let mut done = false;
            for _ in 0..100 {
                run(&mut b, LoopFlags::ONCE, |_, _| {
                    let mut buf = [0u8; 64];
                    match s.read(&mut buf) {
                        Ok(0) => done = true,
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::ConnectionReset => done = true,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => panic!("read: {e}"),
                    }
                });
                if done {
                    break;
                }
            }
            assert!(done, "{kind:?}: connection {i} never seen to end");
            b.del(h, i).unwrap();
        }
    });
}

extern "C" fn on_alarm(_: libc::c_int) {}

/// SIGALRM every 1 ms (no SA_RESTART, so waits fail with EINTR) while 50 persistent 3 ms timers
/// run for 300 ms of deadlines: every interval fires, none early, the loop never fails.
fn eintr_storm(kind: Kind) {
    let _g = serial();
    within(LIMIT, move || {
        // SAFETY: a handler that does nothing, installed without SA_RESTART (and left: see
        // below). `sa` is zeroed and then filled.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut()), 0);
        }
        let every_ms = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 1000,
            },
            it_value: libc::timeval {
                tv_sec: 0,
                tv_usec: 1000,
            },
        };
        // SAFETY: setitimer with a valid itimerval; the process's real-time timer is the test's.
        let rc = unsafe { libc::setitimer(libc::ITIMER_REAL, &every_ms, std::ptr::null_mut()) };
        assert_eq!(rc, 0);
        let mut b = base(kind);
        let start = Monotonic.now();
        let period = Duration::from_millis(3);
        for i in 0..50 {
            b.add(None, &spec(-1, What::PERSIST, i), Some(period))
                .unwrap();
        }
        let mut fired = [0u32; 50];
        let rounds = 100;
        while fired.iter().any(|&f| f < rounds) {
            run(&mut b, LoopFlags::ONCE, |_, r| {
                fired[r.token] += 1;
                let earliest = start + u64::from(fired[r.token]) * period.as_nanos() as u64;
                assert!(Monotonic.now() >= earliest, "timer {} early", r.token);
            });
        }
        // SAFETY: a zeroed itimerval stops the timer. The no-op handler stays: a SIGALRM still
        // on its way would otherwise end the process.
        unsafe {
            let off: libc::itimerval = std::mem::zeroed();
            libc::setitimer(libc::ITIMER_REAL, &off, std::ptr::null_mut());
        }
        assert!(fired.iter().all(|&f| f >= rounds), "{kind:?}");
    });
}

per_kind!(
    signals_one_after_another,
    many_timers,
    fds_opened_closed_reused,
    callbacks_delete_and_readd_each_other,
    peer_resets_mid_read,
    eintr_storm,
);

/// Four threads hand 10,000 jobs each to one loop through its waker while the loop adds and
/// deletes a timer per job: every job runs once.
#[test]
fn wakers_hammered_from_four_threads() {
    within(LIMIT, || {
        let n = 10_000 * scale();
        let mut b: eventop::Base<()> = eventop::Base::new().unwrap();
        let waker = b.waker().unwrap();
        let ran = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (waker, ran) = (waker.clone(), ran.clone());
                thread::spawn(move || {
                    for _ in 0..n {
                        let ran = ran.clone();
                        waker
                            .schedule(move |base, _| {
                                ran.fetch_add(1, Ordering::SeqCst);
                                let t = base
                                    .new_timer(Duration::from_secs(60), |_, _, _| {
                                        eventop::TimeoutAction::Drop
                                    })
                                    .unwrap();
                                base.free(t).unwrap();
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        while ran.load(Ordering::SeqCst) < 4 * n as u32 {
            b.run_with(
                eventop::LoopFlags::ONCE | eventop::LoopFlags::NO_EXIT_ON_EMPTY,
                &mut (),
            )
            .unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 4 * n as u32);
    });
}
