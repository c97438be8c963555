//! Signal events with real signals. Signal dispositions are process-wide: every test holds
//! `SIGNALS` and uses its own signal number. Signals are sent with `raise`, which delivers to the
//! calling thread before it returns, so each `raise` is one delivery.

mod common;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use eventop::{Base, Exit, Interest, Readiness, TimeoutAction};

static SIGNALS: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SIGNALS.lock().unwrap_or_else(|p| p.into_inner())
}

fn raise(sig: i32) {
    // SAFETY: raise takes no pointers; every signal raised here has a handler installed by the
    // base under test, or a default action of "ignore".
    assert_eq!(unsafe { libc::raise(sig) }, 0);
}

/// The handler currently installed for `sig`.
fn handler(sig: i32) -> libc::sighandler_t {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new action only queries.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

#[test]
fn one_callback_per_delivery() -> io::Result<()> {
    let _g = serial();
    let mut base = Base::<()>::new()?;
    let seen = log();
    let s = seen.clone();
    let ev = base.new_signal(libc::SIGUSR1, move |_, _, _, r| push(&s, r))?;
    assert_eq!(base.pending(ev)?, Readiness::SIGNAL);
    raise(libc::SIGUSR1);
    raise(libc::SIGUSR1);
    raise(libc::SIGUSR1);
    assert_eq!(base.run_once(&mut ())?, Exit::Exited);
    assert_eq!(entries(&seen), vec![Readiness::SIGNAL; 3]);
    assert_eq!(base.pending(ev)?, Readiness::SIGNAL, "persistent");
    raise(libc::SIGUSR1);
    assert_eq!(base.run_once(&mut ())?, Exit::Exited);
    assert_eq!(entries(&seen).len(), 4);
    base.free(ev)?; // restores the default action (terminate): no more SIGUSR1 from here
    Ok(())
}

#[test]
fn every_base_watching_a_signal_receives_it() -> io::Result<()> {
    let _g = serial();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut bases = Vec::new();
    for _ in 0..2 {
        let mut base = Base::<()>::new()?;
        let c = calls.clone();
        let ev = base.new_signal(libc::SIGUSR2, move |_, _, _, _| {
            c.fetch_add(1, SeqCst);
        })?;
        bases.push((base, ev));
    }
    // A base that does not watch the signal does not consume it.
    let mut bystander = Base::<()>::new()?;
    bystander.new_timer(Duration::from_millis(1), |_, _, _| TimeoutAction::Drop)?;

    raise(libc::SIGUSR2);
    assert_eq!(bystander.run(&mut ())?, Exit::Empty);
    for (base, _) in &mut bases {
        assert_eq!(base.run_once(&mut ())?, Exit::Exited);
    }
    assert_eq!(calls.load(SeqCst), 2);
    for (mut base, ev) in bases {
        base.free(ev)?;
    }
    Ok(())
}

#[test]
fn del_stops_delivery_and_restores_the_old_action() -> io::Result<()> {
    let _g = serial();
    let sig = libc::SIGWINCH; // default action: ignore
    let before = handler(sig);
    let mut base = Base::<()>::new()?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ev = base.new_signal(sig, move |_, _, _, _| {
        c.fetch_add(1, SeqCst);
    })?;
    assert_ne!(handler(sig), before, "a handler is installed");
    base.del(ev)?;
    assert_eq!(handler(sig), before, "the old action is back");
    assert_eq!(base.pending(ev)?, Readiness::empty());
    raise(sig);
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 0);

    // Added again, it works again; dropping the base restores the action too.
    base.add(ev)?;
    raise(sig);
    assert_eq!(base.run_once(&mut ())?, Exit::Exited);
    assert_eq!(calls.load(SeqCst), 1);
    drop(base);
    assert_eq!(handler(sig), before, "dropping the base restored it");
    Ok(())
}

#[test]
fn a_delivery_before_del_is_not_run_after_it() -> io::Result<()> {
    let _g = serial();
    let sig = libc::SIGURG; // default action: ignore
    let mut base = Base::<()>::new()?;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ev = base.new_signal(sig, move |_, _, _, _| {
        c.fetch_add(1, SeqCst);
    })?;
    raise(sig);
    base.del(ev)?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(calls.load(SeqCst), 0);
    Ok(())
}

#[test]
fn a_signal_callback_frees_itself_and_a_signal_timeout_fires() -> io::Result<()> {
    let _g = serial();
    let sig = libc::SIGCONT;
    let mut base = Base::<()>::new()?;
    let seen = log();
    let s = seen.clone();
    let ev = base.new_signal(sig, move |base, _, ev, r| {
        push(&s, r);
        if r.contains(Readiness::SIGNAL) {
            base.free(ev).unwrap();
        }
    })?;
    // With a timeout: the persistent signal event also runs each time the timeout passes.
    let start = Instant::now();
    base.add_timeout(ev, Duration::from_millis(20))?;
    assert_eq!(base.pending(ev)?, Readiness::SIGNAL | Readiness::TIMEOUT);
    assert_eq!(base.run_once(&mut ())?, Exit::Exited);
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(entries(&seen), vec![Readiness::TIMEOUT]);
    raise(sig);
    assert_eq!(base.run(&mut ())?, Exit::Empty, "freed by its callback");
    assert_eq!(entries(&seen), vec![Readiness::TIMEOUT, Readiness::SIGNAL]);
    assert!(base.is_empty());
    Ok(())
}

#[test]
fn a_signal_event_cannot_wait_for_io() {
    // The first API refused `SIGNAL | WRITE` at run time; now no `Interest` expresses a signal,
    // and `new_signal` takes none.
    assert_eq!(Interest::from_bits(Readiness::SIGNAL.bits()), None);
    assert_eq!(
        Interest::all(),
        Interest::READ | Interest::WRITE | Interest::CLOSED | Interest::EXCLUSIVE
    );
}
