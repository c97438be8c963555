//! Contender: eventop-core's `EventBase` driven directly (growable tables; epoll unless
//! `backend=` says otherwise: the backend's own type, no enum), as `core/examples/chain.rs` does:
//! the adapter's loop is `start` then `step` until `Done`.

use eventop::storage::Grow;
use eventop::Growable;
use eventop_benches::*;
use eventop_core::base::{EventBase, Handle, Parts, Spec, Step};
use eventop_core::sys::{clock::Monotonic, epoll::Epoll, poll::Poll, select::Select, uring::Uring};
use eventop_core::{Backend, BaseFlags, Error, LoopFlags, What};

type Base<B> = EventBase<B, Monotonic, Growable>;

/// Runs one loop (`flags`), handing each ready event to `f`.
fn run<B: Backend>(
    base: &mut Base<B>,
    flags: LoopFlags,
    mut f: impl FnMut(&mut Base<B>, Handle, usize, What),
) -> Result<(), Error> {
    base.start(flags)?;
    while let Step::Run(r) = base.step()? {
        f(base, r.handle, r.token, r.res);
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let p = Params::from_args();
    match p.method {
        Method::Epoll => bench(&p, Epoll::new(Grow::new(), false)?),
        Method::Changelist => bench(&p, Epoll::new(Grow::new(), true)?),
        Method::Poll => bench(&p, Poll::new(Grow::new())?),
        Method::Select => bench(&p, Select::new(Grow::new())?),
        Method::IoUring => bench(&p, Uring::new()?),
    }
}

fn bench<B: Backend>(p: &Params, backend: B) -> Result<(), Error> {
    let mut base: Base<B> =
        EventBase::new(backend, Monotonic, Parts::default(), BaseFlags::empty());
    match p.workload {
        Workload::Chain | Workload::Cascade => {
            let pairs = socketpairs(p.n);
            let cascade = p.workload == Workload::Cascade;
            let events = if cascade {
                What::READ
            } else {
                What::READ | What::PERSIST
            };
            let spec = |i: usize| Spec {
                fd: pairs[i].0,
                events,
                priority: 0,
                token: i,
            };
            let mut handles = Vec::with_capacity(p.n);
            for i in 0..p.n {
                handles.push(base.add(None, &spec(i), chain_timeout(p.timeout))?);
            }
            start_count(p.events);
            p.starts().for_each(|i| kick(pairs[i].1));
            let n = p.n;
            let mut callback = |base: &mut Base<B>, h: Handle, i: usize, res: What| {
                if !res.contains(What::READ) {
                    timed_out();
                    handles[i] = base
                        .add(Some(h), &spec(i), chain_timeout(p.timeout))
                        .expect("add");
                    return;
                }
                pass_byte(pairs[i].0, pairs[next(i, n)].1);
                if cascade || p.timeout != Timeout::None {
                    handles[i] = base
                        .add(Some(h), &spec(i), chain_timeout(p.timeout))
                        .expect("add");
                }
                if tick() {
                    base.loopbreak();
                }
            };
            let t = timed(|| match p.form {
                Form::Block => run(&mut base, LoopFlags::empty(), &mut callback).expect("run"),
                Form::Pass => {
                    while !done() {
                        run(
                            &mut base,
                            LoopFlags::ONCE | LoopFlags::NONBLOCK,
                            &mut callback,
                        )
                        .expect("run");
                    }
                }
            });
            report(t, 0.0);
        }
        Workload::Timers => {
            start_count((p.timers - p.timers.div_ceil(4)) as u64);
            let spec = |i: usize| Spec {
                fd: -1,
                events: What::empty(),
                priority: 0,
                token: i,
            };
            let t = timed(|| {
                let mut handles: Vec<Handle> = (0..p.timers)
                    .map(|i| base.add(None, &spec(i), Some(long_timeout())).expect("add"))
                    .collect();
                for (i, h) in handles.iter_mut().enumerate() {
                    *h = base
                        .add(Some(*h), &spec(i), Some(short_timeout()))
                        .expect("re-add");
                }
                for (i, &h) in handles.iter().enumerate().step_by(4) {
                    base.del(h, i).expect("del");
                }
                run(&mut base, LoopFlags::empty(), |_, _, _, _| {
                    tick();
                })
                .expect("run");
            });
            report(t, 0.0);
        }
        Workload::Precision => {
            start_count(p.timers as u64);
            let spec = Spec {
                fd: -1,
                events: What::empty(),
                priority: 0,
                token: 0,
            };
            let mut armed = std::time::Instant::now();
            let t = timed(|| {
                base.add(None, &spec, Some(PRECISION_PERIOD)).expect("add");
                run(&mut base, LoopFlags::empty(), |base, _, _, _| {
                    fired(armed);
                    if !done() {
                        armed = std::time::Instant::now();
                        base.add(None, &spec, Some(PRECISION_PERIOD)).expect("add");
                    }
                })
                .expect("run");
            });
            report_precision(t);
        }
        Workload::Setup => {
            let pairs = socketpairs(p.n);
            let spec = |i: usize| Spec {
                fd: pairs[i].0,
                events: What::READ | What::PERSIST,
                priority: 0,
                token: i,
            };
            let before = heap_bytes();
            // Handles in a vector of the exact size (as the C contenders' `calloc`): collecting
            // through `Result` would double it and count its slack here.
            let mut handles: Vec<Handle> = Vec::with_capacity(p.n);
            for i in 0..p.n {
                handles.push(base.add(None, &spec(i), None)?);
            }
            let bytes = heap_bytes().saturating_sub(before) as f64 / p.n as f64;
            let t = timed(|| {
                for _ in 0..p.rounds {
                    for (i, &h) in handles.iter().enumerate() {
                        base.del(h, i).expect("del");
                    }
                    run(&mut base, LoopFlags::NONBLOCK, |_, _, _, _| {}).expect("run");
                    for (i, h) in handles.iter_mut().enumerate() {
                        *h = base.add(None, &spec(i), None).expect("add");
                    }
                    run(&mut base, LoopFlags::NONBLOCK, |_, _, _, _| {}).expect("run");
                }
            });
            set_count((p.rounds * p.n) as u64);
            report(t, bytes);
        }
    }
    Ok(())
}
