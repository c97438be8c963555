//! The loop's time: `now()` as an `Instant`, cached per iteration, refreshed on demand; and a
//! timed exit that keeps a run waiting.

mod common;

use std::io;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use eventop::{Base, Builder, Exit, Readiness};

#[test]
fn now_outside_a_run_is_the_time_now() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let before = Instant::now();
    let now = base.now();
    let after = Instant::now();
    assert!(
        before <= now && now <= after,
        "{before:?} {now:?} {after:?}"
    );
    Ok(())
}

/// (`now()` before a 2 ms sleep in a callback, after it, after `update_cache_time()`), and the
/// instants taken just before and just after the sleep.
type Seen = (Instant, Instant, Instant, Instant, Instant);

fn times_in_a_callback(mut base: Base) -> io::Result<Seen> {
    let seen: Arc<Mutex<Option<Seen>>> = Arc::default();
    let s = seen.clone();
    let ev = base.new_user(move |base, _, _, _| {
        let first = base.now();
        let mark = Instant::now();
        thread::sleep(Duration::from_millis(2));
        let slept = Instant::now();
        let second = base.now();
        base.update_cache_time();
        let third = base.now();
        *s.lock().unwrap() = Some((first, second, third, mark, slept));
    })?;
    base.activate(ev, Readiness::READ)?;
    base.exit_after(GUARD);
    base.run_once(&mut ())?;
    let seen = seen.lock().unwrap().take();
    Ok(seen.expect("the callback ran"))
}

#[test]
fn now_in_a_callback_is_cached_until_updated() -> io::Result<()> {
    let before = Instant::now();
    let (first, second, third, mark, slept) = times_in_a_callback(Base::<()>::new()?)?;
    assert!(before <= first && first <= mark, "the iteration's time");
    assert!(second < slept, "cached: the sleep does not show");
    assert!(third >= slept, "update_cache_time reads the clock again");
    Ok(())
}

/// Within an iteration, every `now()` is the same `Instant`; across iterations it never goes
/// back. (Converted afresh at each call, two calls apart jittered either way by a few hundred
/// nanoseconds.)
#[test]
fn now_is_one_instant_per_iteration_and_never_goes_back() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let s = seen.clone();
    let ev = base.new_user(move |base, _, _, _| {
        let first = base.now();
        for _ in 0..10_000 {
            assert_eq!(base.now(), first, "one cached reading, one instant");
        }
        s.lock().unwrap().push(first);
    })?;
    for _ in 0..200 {
        base.activate(ev, Readiness::READ)?;
        base.run_once(&mut ())?;
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 200);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "never backwards");
    Ok(())
}

#[test]
fn now_without_the_cache_reads_the_clock() -> io::Result<()> {
    let base = Builder::new().no_cache_time().build::<()>()?;
    let (_, second, _, _, slept) = times_in_a_callback(base)?;
    assert!(second >= slept);
    Ok(())
}

/// libevent's `event_base_loopexit` with a timeout is an event like any other: a run with
/// nothing else pending waits for it.
#[test]
fn exit_after_keeps_an_empty_run_waiting() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    base.exit_after(Duration::from_millis(10));
    let start = Instant::now();
    assert_eq!(base.run(&mut ())?, Exit::Exited);
    assert!(start.elapsed() >= Duration::from_millis(10));
    assert_eq!(base.run(&mut ())?, Exit::Empty, "the exit is spent");
    Ok(())
}
