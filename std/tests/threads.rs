//! Threads: the base is `Send`; a `Waker` wakes it and hands it work from other threads.

mod common;

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use eventop::{Base, EventId, Exit, Interest, LoopFlags, Mode, Readiness, TimeoutAction, Waker};

/// Waits for work from other threads: a waker alone keeps no run going.
const WAIT_ONCE: LoopFlags = LoopFlags::NO_EXIT_ON_EMPTY.union(LoopFlags::ONCE);

const _: () = {
    const fn send<T: Send>() {}
    const fn send_sync<T: Send + Sync>() {}
    send::<Base>();
    send_sync::<Waker>();
    send_sync::<EventId>();
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_base_moves_to_another_thread_and_back() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let (mut a, b) = UnixStream::pair()?;
    let seen = log();
    let s = seen.clone();
    base.new_io(b, Interest::READ, Mode::Level, move |base, _, ev, _, b| {
        let mut buf = [0; 8];
        let n = b.read(&mut buf).unwrap();
        push(&s, (thread::current().id(), n));
        base.free(ev).unwrap();
    })?;
    base.new_timer(ms(10), |_, _, _| TimeoutAction::Drop)?;
    a.write_all(b"abc")?;
    let (base, out, id) = thread::spawn(move || {
        let out = base.run(&mut ());
        (base, out, thread::current().id())
    })
    .join()
    .unwrap();
    assert_eq!(out?, Exit::Empty);
    assert_ne!(id, thread::current().id());
    assert_eq!(entries(&seen), vec![(id, 3)]);
    // Back here, it still works.
    let mut base = base;
    let u = base.new_user(|_, _, _, _| {})?;
    base.activate(u, Readiness::READ)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    Ok(())
}

#[test]
fn wake_from_another_thread_returns_run_once() -> io::Result<()> {
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        let fired = Arc::new(AtomicUsize::new(0));
        let f = fired.clone();
        base.new_timer(FAR, move |_, _, _| {
            f.fetch_add(1, SeqCst);
            TimeoutAction::Drop
        })?;
        let waker = base.waker()?;
        let t = thread::spawn(move || {
            thread::sleep(ms(50));
            waker.wake()
        });
        assert_eq!(base.run_once(&mut ())?, Exit::Exited, "{name}");
        assert_eq!(fired.load(SeqCst), 0, "{name}: woken, not timed out");
        t.join().unwrap()?;
    }
    Ok(())
}

#[test]
fn a_wake_before_the_run_is_kept() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let far = base.new_timer(FAR, |_, _, _| panic!("must not fire"))?;
    let waker = base.waker()?;
    waker.wake()?;
    waker.wake()?; // wakes coalesce
    assert_eq!(base.run_once(&mut ())?, Exit::Exited);
    // Both were consumed: a nonblocking run finds nothing.
    assert_eq!(base.run_nonblocking(&mut ())?, Exit::Exited);
    assert_eq!(base.pending(far)?, Readiness::TIMEOUT);
    Ok(())
}

#[test]
fn schedule_runs_in_the_loop_thread_with_the_base() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let waker = base.waker()?;
    let (tx, rx) = mpsc::channel();
    let looper = thread::spawn(move || {
        tx.send(thread::current().id()).unwrap();
        base.exit_after(GUARD); // in case the job were lost
        let out = base.run_with(LoopFlags::NO_EXIT_ON_EMPTY, &mut ());
        (out, base)
    });
    let loop_id = rx.recv().unwrap();
    assert_ne!(loop_id, thread::current().id());
    let ran_in = Arc::new(Mutex::new(Vec::new()));
    let r = ran_in.clone();
    waker.schedule(move |base, _| {
        r.lock().unwrap().push(thread::current().id());
        // A job gets the base itself: it makes an event, which ends the run.
        let r = r.clone();
        let ev = base
            .new_user(move |base, _, ev, _| {
                r.lock().unwrap().push(thread::current().id());
                base.free(ev).unwrap();
                base.break_loop();
            })
            .unwrap();
        base.activate(ev, Readiness::READ).unwrap();
    })?;
    let (out, base) = looper.join().unwrap();
    assert_eq!(out?, Exit::Exited);
    assert_eq!(*ran_in.lock().unwrap(), vec![loop_id, loop_id]);
    drop(base);
    Ok(())
}

#[test]
fn a_job_scheduled_before_the_run_runs_in_it() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let waker = base.waker()?;
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    waker.schedule(move |_, _| {
        r.fetch_add(1, SeqCst);
    })?;
    assert_eq!(ran.load(SeqCst), 0, "not before the loop runs");
    assert_eq!(base.run_with(WAIT_ONCE, &mut ())?, Exit::Exited);
    assert_eq!(ran.load(SeqCst), 1);
    Ok(())
}

#[test]
fn many_threads_schedule_1000_jobs_each_runs_once() -> io::Result<()> {
    const THREADS: usize = 8;
    const PER: usize = 125;
    const JOBS: usize = THREADS * PER;
    let mut base = Base::<()>::new()?;
    let waker = base.waker()?;
    let hits: Arc<Vec<AtomicUsize>> = Arc::new((0..JOBS).map(|_| AtomicUsize::new(0)).collect());
    let total = Arc::new(AtomicUsize::new(0));
    let elsewhere = Arc::new(AtomicUsize::new(0));
    let loop_id = thread::current().id();
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let (w, hits, total, elsewhere) = (
                waker.clone(),
                hits.clone(),
                total.clone(),
                elsewhere.clone(),
            );
            thread::spawn(move || -> io::Result<()> {
                for i in 0..PER {
                    let (hits, total, elsewhere) = (hits.clone(), total.clone(), elsewhere.clone());
                    w.schedule(move |base, _| {
                        hits[t * PER + i].fetch_add(1, SeqCst);
                        if thread::current().id() != loop_id {
                            elsewhere.fetch_add(1, SeqCst);
                        }
                        if total.fetch_add(1, SeqCst) + 1 == JOBS {
                            base.break_loop();
                        }
                    })?;
                    if i % 16 == 0 {
                        thread::yield_now();
                    }
                }
                Ok(())
            })
        })
        .collect();
    base.exit_after(Duration::from_secs(60)); // in case a job were lost
    assert_eq!(
        base.run_with(LoopFlags::NO_EXIT_ON_EMPTY, &mut ())?,
        Exit::Exited
    );
    for s in senders {
        s.join().unwrap()?;
    }
    assert_eq!(total.load(SeqCst), JOBS);
    assert!(hits.iter().all(|h| h.load(SeqCst) == 1));
    assert_eq!(elsewhere.load(SeqCst), 0);
    assert_eq!(
        base.run_nonblocking(&mut ())?,
        Exit::Exited,
        "the guard exit is still pending"
    );
    assert_eq!(total.load(SeqCst), JOBS, "nothing ran twice");
    Ok(())
}

#[test]
fn wakers_are_one_per_base() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let w1 = base.waker()?;
    let dump = base.dump();
    let w2 = base.waker()?;
    assert_eq!(
        base.dump(),
        dump,
        "a second waker() shares the first's event"
    );
    assert_eq!(dump.lines().count(), 2, "one event: {dump}");
    // Both wake the same loop.
    let ran = Arc::new(AtomicUsize::new(0));
    for w in [&w1, &w2] {
        let r = ran.clone();
        w.schedule(move |_, _| {
            r.fetch_add(1, SeqCst);
        })?;
    }
    assert_eq!(base.run_with(WAIT_ONCE, &mut ())?, Exit::Exited);
    assert_eq!(ran.load(SeqCst), 2);
    assert!(format!("{w1:?}").contains("Waker"));
    Ok(())
}

/// Once the base is gone, the sender is told (`BrokenPipe`) and the job is dropped at once.
#[test]
fn a_waker_outliving_its_base_says_broken_pipe() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let waker = base.waker()?;
    drop(base);
    let token = Arc::new(());
    let t = token.clone();
    let woken = waker.wake();
    assert_eq!(woken.map_err(|e| e.kind()), Err(io::ErrorKind::BrokenPipe));
    let scheduled = waker.schedule(move |_, _| {
        let _ = &t;
    });
    let e = scheduled.expect_err("the base is gone");
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    assert!(e.to_string().contains("base is gone"), "{e}");
    assert_eq!(Arc::strong_count(&token), 1, "the refused job was dropped");
    Ok(())
}

/// libevent's notification event is internal: it keeps no loop alive (`event_haveevents`
/// counts only non-internal events), and is not counted. Neither is the waker's event.
#[test]
fn a_waker_alone_does_not_keep_the_loop_running() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let waker = base.waker()?;
    assert!(base.is_empty(), "len() = {}", base.len());
    assert_eq!(base.counts(), eventop::Counts::default());
    assert_eq!(base.run_once(&mut ())?, Exit::Empty);
    let (tx, rx) = mpsc::channel();
    let looper = thread::spawn(move || {
        let out = base.run(&mut ());
        tx.send(()).unwrap();
        out
    });
    let returned = rx.recv_timeout(Duration::from_secs(5)).is_ok();
    if !returned {
        waker.schedule(|base, _| base.break_loop())?;
    }
    let out = looper.join().unwrap()?;
    assert!(returned, "run() did not return with nothing but the waker");
    assert_eq!(out, Exit::Empty);
    Ok(())
}

/// A job that panics loses the waker (see `a_persistent_event_keeps_its_callback_after_a_panic`
/// in misuse.rs) and every job queued behind it in the same batch: the batch is a `Vec` taken
/// from the queue and dropped by the unwind.
#[test]
fn a_panicking_job_loses_no_other_job() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let waker = base.waker()?;
    let ran = Arc::new(AtomicUsize::new(0));
    waker.schedule(|_, _| panic!("job"))?;
    for _ in 0..2 {
        let r = ran.clone();
        waker.schedule(move |_, _| {
            r.fetch_add(1, SeqCst);
        })?;
    }
    let r = catch_unwind(AssertUnwindSafe(|| base.run_with(WAIT_ONCE, &mut ())));
    assert!(r.is_err());
    let r2 = ran.clone();
    waker.schedule(move |_, _| {
        r2.fetch_add(1, SeqCst);
    })?;
    base.exit_after(GUARD);
    base.run_with(WAIT_ONCE, &mut ())?;
    assert_eq!(
        ran.load(SeqCst),
        3,
        "the two queued behind the panic and the later one"
    );
    Ok(())
}
