//! Contender: eventop-core's timer heap alone, as a custom runtime would drive it (the heap, a
//! clock and the backend's wait; no base, no events, no callbacks): the floor under any loop that
//! keeps exact timer order with this heap. The `timers` workload only.

use eventop::storage::Grow;
use eventop_benches::*;
use eventop_core::backend::Backend;
use eventop_core::base::timers::{Timer, TimerHeap};
use eventop_core::clock::Clock;
use eventop_core::sys::{clock::Monotonic, epoll::Epoll};
use eventop_core::Error;
use std::time::Duration;

fn main() -> Result<(), Error> {
    let p = Params::from_args();
    p.epoll_only("eventop_heap");
    if p.workload != Workload::Timers {
        eprintln!("eventop_heap: the timers workload only");
        std::process::exit(3);
    }
    let mut ep: Epoll<Grow<eventop_core::sys::epoll::Event>> = Epoll::new(Grow::new(), false)?;
    let mut clock = Monotonic;
    let mut heap = TimerHeap::new(Grow::<Timer>::new());
    // Each timer's index in the heap, as the heap reports it (what an event slot keeps).
    let mut at = vec![0u32; p.timers];
    let ns = |d: Duration| d.as_nanos() as u64;
    start_count((p.timers - p.timers.div_ceil(4)) as u64);
    let t = timed(|| {
        for slot in 0..p.timers as u32 {
            let deadline = clock.now() + ns(long_timeout());
            heap.push(deadline, slot, &mut |s, i| at[s as usize] = i)
                .expect("push");
        }
        for slot in 0..p.timers {
            let deadline = clock.now() + ns(short_timeout());
            heap.reschedule(at[slot], deadline, &mut |s, i| at[s as usize] = i);
        }
        for slot in (0..p.timers).step_by(4) {
            heap.remove(at[slot], &mut |s, i| at[s as usize] = i);
        }
        while let Some(first) = heap.peek() {
            let now = clock.now();
            if first.deadline > now {
                let wait = Duration::from_nanos(first.deadline - now);
                ep.dispatch(Some(wait), &mut |_, _| {}).expect("wait");
                continue;
            }
            while heap.pop_due(now, &mut |s, i| at[s as usize] = i).is_some() {
                tick();
            }
        }
    });
    report(t, 0.0);
    Ok(())
}
