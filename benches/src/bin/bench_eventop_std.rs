//! Contender: eventop through its Rust API (`eventop::Base`, closures, `Duration`).

use std::io;
use std::os::fd::RawFd;

use eventop::{Base, Event, LoopFlags, What};
use eventop_benches::*;

/// The chain's callback for pair `rfd`, writing to `wfd`; re-adds its event when `readd`.
fn link(
    rfd: RawFd,
    wfd: RawFd,
    t: Timeout,
    readd: bool,
) -> impl FnMut(&mut Base, Event, What) + Send + 'static {
    move |base, ev, what| {
        if !what.contains(What::READ) {
            timed_out();
            let _ = base.add(ev, chain_timeout(t));
            return;
        }
        pass_byte(rfd, wfd);
        if readd || t != Timeout::None {
            let _ = base.add(ev, chain_timeout(t));
        }
        if tick() {
            base.break_loop();
        }
    }
}

fn run(base: &mut Base, form: Form) -> io::Result<()> {
    match form {
        Form::Block => drop(base.run()?),
        Form::Pass => {
            while !done() {
                base.run_with(LoopFlags::ONCE | LoopFlags::NONBLOCK)?;
            }
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let p = Params::from_args();
    let mut base = Base::new()?;
    match p.workload {
        Workload::Chain | Workload::Cascade => {
            let pairs = socketpairs(p.n);
            let cascade = p.workload == Workload::Cascade;
            let what = if cascade {
                What::READ
            } else {
                What::READ | What::PERSIST
            };
            for i in 0..p.n {
                let (rfd, wfd) = (pairs[i].0, pairs[next(i, p.n)].1);
                let ev = base.new_io(rfd, what, link(rfd, wfd, p.timeout, cascade))?;
                base.add(ev, chain_timeout(p.timeout))?;
            }
            start_count(p.events);
            p.starts().for_each(|i| kick(pairs[i].1));
            let t = timed(|| run(&mut base, p.form).expect("run"));
            report(t, 0.0);
        }
        Workload::Timers => {
            start_count((p.timers - p.timers.div_ceil(4)) as u64);
            let t = timed(|| {
                let evs: Vec<Event> = (0..p.timers)
                    .map(|_| {
                        base.new_timer(false, |_, _, _| {
                            tick();
                        })
                    })
                    .collect::<io::Result<_>>()
                    .expect("new_timer");
                for &ev in &evs {
                    base.add(ev, Some(long_timeout())).expect("add");
                }
                for &ev in &evs {
                    base.add(ev, Some(short_timeout())).expect("re-add");
                }
                for &ev in evs.iter().step_by(4) {
                    base.del(ev).expect("del");
                }
                base.run().expect("run");
            });
            report(t, 0.0);
        }
        Workload::Setup => {
            let pairs = socketpairs(p.n);
            let before = heap_bytes();
            let evs: Vec<Event> = (0..p.n)
                .map(|i| {
                    let (rfd, wfd) = (pairs[i].0, pairs[next(i, p.n)].1);
                    let ev = base.new_io(
                        rfd,
                        What::READ | What::PERSIST,
                        link(rfd, wfd, p.timeout, false),
                    )?;
                    base.add(ev, None)?;
                    Ok(ev)
                })
                .collect::<io::Result<_>>()?;
            let bytes = (heap_bytes() - before) as f64 / p.n as f64;
            let t = timed(|| {
                for _ in 0..p.rounds {
                    evs.iter().for_each(|&ev| base.del(ev).expect("del"));
                    base.run_nonblocking().expect("run");
                    evs.iter().for_each(|&ev| base.add(ev, None).expect("add"));
                    base.run_nonblocking().expect("run");
                }
            });
            set_count((p.rounds * p.n) as u64);
            report(t, bytes);
        }
    }
    Ok(())
}
