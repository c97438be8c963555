//! Contender: eventop through its Rust API (`eventop::Base`, closures, `Duration`).

use std::io;
use std::os::fd::RawFd;

use eventop::{Base, Builder, EventId, Interest, LoopFlags, Mode, Readiness, TimeoutAction};
use eventop_benches::*;

/// Makes `ev` pending again, with the chain's timeout if it has one. Inline, as the core
/// contender's add is in its callback: the compiler kept this helper of two callers out of line,
/// ~30 instructions per re-add of harness, not of eventop.
#[inline(always)]
fn readd(base: &mut Base, ev: EventId, t: Timeout) -> eventop::Result<()> {
    match chain_timeout(t) {
        Some(d) => base.add_timeout(ev, d),
        None => base.add(ev),
    }
}

/// The chain's callback for pair `rfd`, writing to `wfd`; re-adds its event when `readd`.
fn link(
    rfd: RawFd,
    wfd: RawFd,
    t: Timeout,
    again: bool,
) -> impl FnMut(&mut Base, &mut (), EventId, Readiness) + Send + 'static {
    move |base, _, ev, ready| {
        if !ready.contains(Readiness::READ) {
            timed_out();
            let _ = readd(base, ev, t);
            return;
        }
        pass_byte(rfd, wfd);
        if again || t != Timeout::None {
            let _ = readd(base, ev, t);
        }
        if tick() {
            base.break_loop();
        }
    }
}

fn run(base: &mut Base, form: Form) -> io::Result<()> {
    match form {
        Form::Block => drop(base.run(&mut ())?),
        Form::Pass => {
            while !done() {
                base.run_with(LoopFlags::ONCE | LoopFlags::NONBLOCK, &mut ())?;
            }
        }
    }
    Ok(())
}

/// A READ event on `rfd`, pending.
fn watch(base: &mut Base, rfd: RawFd, wfd: RawFd, t: Timeout, mode: Mode) -> io::Result<EventId> {
    let again = mode == Mode::OneShot;
    // SAFETY: the socketpairs stay open until the process exits.
    let ev = unsafe { base.new_raw_io(rfd, Interest::READ, mode, link(rfd, wfd, t, again))? };
    if let Some(d) = chain_timeout(t) {
        base.add_timeout(ev, d)?;
    }
    Ok(ev)
}

/// A base on `method`, picked as a program would (the builder); exits with 3 if it is not.
fn new_base(method: Method) -> io::Result<Base> {
    let b = Builder::new();
    let (b, want) = match method {
        Method::Epoll => (b, "epoll"),
        Method::Changelist => (b.epoll_changelist(), "epoll (with changelist)"),
        Method::Poll => (b.avoid("epoll"), "poll"),
        Method::Select => (b.avoid("epoll").avoid("poll"), "select"),
        Method::IoUring => (b.env(|name| name == "EVENT_IO_URING"), "io_uring"),
    };
    let base: Base = b.build()?;
    if base.backend_name() != want {
        eprintln!("eventop_std: asked for {want}, got {}", base.backend_name());
        std::process::exit(3);
    }
    Ok(base)
}

fn main() -> io::Result<()> {
    let p = Params::from_args();
    let mut base = new_base(p.method)?;
    match p.workload {
        Workload::Chain | Workload::Cascade => {
            let pairs = socketpairs(p.n);
            let mode = if p.workload == Workload::Cascade {
                Mode::OneShot
            } else {
                Mode::Level
            };
            for i in 0..p.n {
                let (rfd, wfd) = (pairs[i].0, pairs[next(i, p.n)].1);
                watch(&mut base, rfd, wfd, p.timeout, mode)?;
            }
            start_count(p.events);
            p.starts().for_each(|i| kick(pairs[i].1));
            let t = timed(|| run(&mut base, p.form).expect("run"));
            report(t, 0.0);
        }
        Workload::Timers => {
            start_count((p.timers - p.timers.div_ceil(4)) as u64);
            let t = timed(|| {
                // Each result checked as it comes, into a vector of the exact size: as the
                // core contender does.
                let evs: Vec<EventId> = (0..p.timers)
                    .map(|_| {
                        base.new_timer(long_timeout(), |_, _, _| {
                            tick();
                            TimeoutAction::Drop
                        })
                        .expect("new_timer")
                    })
                    .collect();
                for &ev in &evs {
                    base.add_timeout(ev, short_timeout()).expect("re-add");
                }
                for &ev in evs.iter().step_by(4) {
                    base.del(ev).expect("del");
                }
                base.run(&mut ()).expect("run");
            });
            report(t, 0.0);
        }
        Workload::Precision => {
            start_count(p.timers as u64);
            let mut armed = std::time::Instant::now();
            let t = timed(|| {
                base.new_timer(PRECISION_PERIOD, move |_, _, _| {
                    fired(armed);
                    if done() {
                        return TimeoutAction::Drop;
                    }
                    armed = std::time::Instant::now();
                    TimeoutAction::ToDuration(PRECISION_PERIOD)
                })
                .expect("new_timer");
                base.run(&mut ()).expect("run");
            });
            report_precision(t);
        }
        Workload::Setup => {
            let pairs = socketpairs(p.n);
            let before = heap_bytes();
            // Ids in a vector of the exact size (as the C contenders' `calloc`): collecting
            // through `Result` would double it and count its slack here.
            let mut evs: Vec<EventId> = Vec::with_capacity(p.n);
            for i in 0..p.n {
                let (rfd, wfd) = (pairs[i].0, pairs[next(i, p.n)].1);
                evs.push(watch(&mut base, rfd, wfd, p.timeout, Mode::Level)?);
            }
            let bytes = (heap_bytes() - before) as f64 / p.n as f64;
            let t = timed(|| {
                for _ in 0..p.rounds {
                    evs.iter().for_each(|&ev| base.del(ev).expect("del"));
                    base.run_nonblocking(&mut ()).expect("run");
                    evs.iter().for_each(|&ev| base.add(ev).expect("add"));
                    base.run_nonblocking(&mut ()).expect("run");
                }
            });
            set_count((p.rounds * p.n) as u64);
            report(t, bytes);
        }
    }
    Ok(())
}
