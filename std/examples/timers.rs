//! Timers: a periodic tick, one-shot timers that re-arm themselves, a timeout replaced before it
//! fires, and how late each firing was on this machine.
//!
//! Run: `cargo run --release -p eventop --example timers`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventop::Base;

fn main() -> std::io::Result<()> {
    let mut base = Base::new()?;
    let start = Instant::now();

    // A 100 ms tick, five times.
    let mut ticks = 0;
    let tick = base.new_timer(true, move |base, ev, _| {
        ticks += 1;
        println!("{:>6.1} ms  tick {ticks}", ms(start.elapsed()));
        if ticks == 5 {
            base.free(ev).unwrap();
        }
    })?;
    base.add(tick, Some(Duration::from_millis(100)))?;

    // A 1 ms one-shot that re-arms itself 200 times; record how late each firing is.
    let late = Arc::new(Mutex::new(Vec::new()));
    let record = late.clone();
    let mut armed = Instant::now();
    let mut left = 200;
    let fast = base.new_timer(false, move |base, ev, _| {
        record
            .lock()
            .unwrap()
            .push(armed.elapsed().saturating_sub(Duration::from_millis(1)));
        left -= 1;
        if left > 0 {
            armed = Instant::now();
            base.add(ev, Some(Duration::from_millis(1))).unwrap();
        }
    })?;
    base.add(fast, Some(Duration::from_millis(1)))?;

    // A timeout replaced before it fires: a new add moves it, it never fires at 50 ms.
    let moved = base.new_timer(false, move |_, _, what| {
        println!(
            "{:>6.1} ms  moved timer fired ({what:?})",
            ms(start.elapsed())
        );
    })?;
    base.add(moved, Some(Duration::from_millis(50)))?;
    base.add(moved, Some(Duration::from_millis(250)))?;

    base.run()?;
    let mut late = late.lock().unwrap().clone();
    late.sort();
    let pct = |p: usize| ms(late[(late.len() - 1) * p / 100]);
    println!(
        "1 ms timer, {} firings: late by p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        late.len(),
        pct(50),
        pct(99),
        pct(100)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
