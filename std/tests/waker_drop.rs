//! Dropping a base with a `Waker`: queued jobs are dropped with it, nothing leaks, and senders
//! are told (`BrokenPipe`), even while other threads schedule as it drops.

mod common;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use common::*;
use eventop::LoopFlags;

/// What happened to the jobs of a test: run (then dropped), or dropped without running.
#[derive(Default)]
struct Counts {
    /// `schedule` returned `Ok`.
    accepted: AtomicUsize,
    ran: AtomicUsize,
    dropped_unrun: AtomicUsize,
}

/// Owned by one job: counts its fate when the job is dropped, and flags that it was.
struct Probe {
    counts: Arc<Counts>,
    dropped: Arc<AtomicBool>,
    ran: bool,
}

impl Probe {
    fn new(counts: &Arc<Counts>) -> (Probe, Arc<AtomicBool>) {
        let dropped = Arc::new(AtomicBool::new(false));
        let probe = Probe {
            counts: counts.clone(),
            dropped: dropped.clone(),
            ran: false,
        };
        (probe, dropped)
    }

    /// What a job does: takes its probe, so the job owns all of it.
    fn run(mut self) {
        self.ran = true;
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let n = if self.ran {
            &self.counts.ran
        } else {
            &self.counts.dropped_unrun
        };
        n.fetch_add(1, SeqCst);
        self.dropped.store(true, SeqCst);
    }
}

#[test]
fn queued_jobs_are_dropped_with_the_base() -> io::Result<()> {
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        let waker = base.waker()?;
        let counts = Arc::new(Counts::default());
        for _ in 0..3 {
            let (probe, _) = Probe::new(&counts);
            waker.schedule(move |_, _| probe.run())?;
        }
        drop(base);
        assert_eq!(counts.ran.load(SeqCst), 0, "{name}");
        assert_eq!(
            counts.dropped_unrun.load(SeqCst),
            3,
            "{name}: dropped with the base, though a waker lives on"
        );
        drop(waker);
    }
    Ok(())
}

/// A queued job that owns a clone of the waker: dropping the base breaks the cycle.
#[test]
fn a_job_owning_a_waker_is_dropped_with_the_base() -> io::Result<()> {
    let mut base = base_avoiding(&[])?;
    let w = base.waker()?;
    let token = Arc::new(());
    let (w2, t) = (w.clone(), token.clone());
    w.schedule(move |_, _| drop((w2, t)))?;
    drop(w);
    drop(base);
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "the job is gone, and its waker"
    );
    Ok(())
}

/// Threads schedule jobs as fast as they can while the base runs, then while it is dropped.
/// Every job is run or dropped exactly once; a `schedule` begun after the drop fails with
/// `BrokenPipe` and has already dropped its job when it returns.
#[test]
fn scheduling_while_the_base_drops_loses_and_leaks_nothing() -> io::Result<()> {
    const THREADS: usize = 2;
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        let waker = base.waker()?;
        let counts = Arc::new(Counts::default());
        let base_gone = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..THREADS)
            .map(|_| {
                let (w, counts, base_gone) = (waker.clone(), counts.clone(), base_gone.clone());
                thread::spawn(move || -> (usize, usize) {
                    let (mut ok, mut refused) = (0, 0);
                    // Bounded, so that a broken waker that never refuses ends the test.
                    for _ in 0..10_000_000 {
                        let gone_before = base_gone.load(SeqCst);
                        let (probe, dropped) = Probe::new(&counts);
                        match w.schedule(move |_, _| probe.run()) {
                            Ok(()) => {
                                assert!(!gone_before, "Ok from a schedule begun after the drop");
                                ok += 1;
                                counts.accepted.fetch_add(1, SeqCst);
                            }
                            Err(e) => {
                                assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
                                assert!(dropped.load(SeqCst), "a refused job was kept");
                                refused += 1;
                                if refused == 100 {
                                    break;
                                }
                            }
                        }
                    }
                    (ok, refused)
                })
            })
            .collect();
        // Let the loop run some of the jobs, then let 100 more queue up, then drop the base under
        // the senders' feet.
        let start = Instant::now();
        while counts.ran.load(SeqCst) < 1000 {
            assert!(start.elapsed() < GUARD, "{name}: jobs do not run");
            base.run_with(LoopFlags::NONBLOCK | LoopFlags::NO_EXIT_ON_EMPTY, &mut ())?;
        }
        let ran = counts.ran.load(SeqCst);
        while counts.accepted.load(SeqCst) < ran + 100 {
            assert!(start.elapsed() < GUARD, "{name}: jobs are not scheduled");
            thread::yield_now();
        }
        drop(base);
        base_gone.store(true, SeqCst);
        let (mut ok, mut refused) = (0, 0);
        for s in senders {
            let (o, r) = s.join().unwrap();
            ok += o;
            refused += r;
        }
        assert_eq!(refused, 100 * THREADS, "{name}: every sender was refused");
        // `waker` still lives: nothing may wait for the last waker to be dropped.
        let (ran, unrun) = (counts.ran.load(SeqCst), counts.dropped_unrun.load(SeqCst));
        assert_eq!(
            ran + unrun,
            ok + refused,
            "{name}: ran {ran}, dropped {unrun}"
        );
        assert!(
            unrun >= refused + 100,
            "{name}: the queued jobs were dropped"
        );
        drop(waker);
        assert_eq!(
            counts.ran.load(SeqCst) + counts.dropped_unrun.load(SeqCst),
            ok + refused
        );
    }
    Ok(())
}
