//! Timers: a periodic tick, a timer that re-arms itself, a timeout moved before it fires, and
//! how late each firing was on this machine.
//!
//! Run: `cargo run --release -p eventop --example timers`.

use std::time::{Duration, Instant};

use eventop::{Base, TimeoutAction};

/// What the callbacks share: how late each firing of the fast timer was.
#[derive(Default)]
struct Lateness {
    late: Vec<Duration>,
}

fn main() -> eventop::Result<()> {
    let mut base = Base::<Lateness>::new()?;
    let start = Instant::now();
    let period = Duration::from_millis(100);

    // A 100 ms tick, five times, each at an instant counted from the start: no drift.
    let mut ticks = 0;
    base.new_timer(start + period, move |_, _, _| {
        ticks += 1;
        println!("{:>6.1} ms  tick {ticks}", ms(start.elapsed()));
        if ticks == 5 {
            TimeoutAction::Drop
        } else {
            TimeoutAction::ToInstant(start + period * (ticks + 1))
        }
    })?;

    // A 1 ms timer that fires 200 times; records how late each firing is.
    let mut armed = Instant::now();
    let mut left = 200;
    base.new_timer(Duration::from_millis(1), move |_, lateness, _| {
        let late = armed.elapsed().saturating_sub(Duration::from_millis(1));
        lateness.late.push(late);
        left -= 1;
        if left == 0 {
            return TimeoutAction::Drop;
        }
        armed = Instant::now();
        TimeoutAction::ToDuration(Duration::from_millis(1))
    })?;

    // A timeout moved before it fires: it never fires at 50 ms.
    let moved = base.new_timer(Duration::from_millis(50), move |_, _, _| {
        println!("{:>6.1} ms  moved timer fired", ms(start.elapsed()));
        TimeoutAction::Drop
    })?;
    base.add_timeout(moved, Duration::from_millis(250))?;

    let mut lateness = Lateness::default();
    base.run(&mut lateness)?;
    let mut late = lateness.late;
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
