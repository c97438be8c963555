//! Contender: polling 3.x (`Poller`) in level-triggered mode, so an event stays registered as
//! the other contenders' persistent events do. The pass form waits with a zero timeout; the
//! cascade uses polling's default one-shot mode and re-arms with `modify`. No timers.

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use eventop_benches::*;
use polling::{Event, Events, PollMode, Poller};

fn main() -> std::io::Result<()> {
    let p = Params::from_args();
    p.epoll_only("polling");
    if matches!(p.workload, Workload::Timers | Workload::Precision) || p.timeout != Timeout::None {
        eprintln!("polling: no timers");
        std::process::exit(3);
    }
    let poller = Poller::new()?;
    let mut events = Events::with_capacity(NonZeroUsize::new(1024).expect("nonzero"));
    let pairs = socketpairs(p.n);
    let cascade = p.workload == Workload::Cascade;
    let mode = if cascade {
        PollMode::Oneshot
    } else {
        PollMode::Level
    };
    // SAFETY: the fds stay open (and registered at most once) for the whole program.
    let fd = |i: usize| unsafe { BorrowedFd::borrow_raw(pairs[i].0) };
    let before = heap_bytes();
    for (i, &(rfd, _)) in pairs.iter().enumerate() {
        // SAFETY: each fd is deleted from the poller before it could be closed (it never is).
        unsafe { poller.add_with_mode(rfd, Event::readable(i), mode)? };
    }
    let n = p.n;
    match p.workload {
        Workload::Chain | Workload::Cascade => {
            start_count(p.events);
            p.starts().for_each(|i| kick(pairs[i].1));
            let timeout = if p.form == Form::Block {
                None
            } else {
                Some(Duration::ZERO)
            };
            let t = timed(|| {
                while !done() {
                    events.clear();
                    poller.wait(&mut events, timeout).expect("wait");
                    for ev in events.iter() {
                        let i = ev.key;
                        pass_byte(pairs[i].0, pairs[next(i, n)].1);
                        if cascade {
                            poller
                                .modify_with_mode(fd(i), Event::readable(i), mode)
                                .expect("modify");
                        }
                        if tick() {
                            break;
                        }
                    }
                }
            });
            report(t, 0.0);
        }
        Workload::Setup => {
            let bytes = heap_bytes().saturating_sub(before) as f64 / p.n as f64;
            let t = timed(|| {
                for _ in 0..p.rounds {
                    for i in 0..n {
                        poller.delete(fd(i)).expect("delete");
                    }
                    events.clear();
                    poller
                        .wait(&mut events, Some(Duration::ZERO))
                        .expect("wait");
                    for (i, &(rfd, _)) in pairs.iter().enumerate() {
                        // SAFETY: as above.
                        unsafe { poller.add_with_mode(rfd, Event::readable(i), mode) }
                            .expect("add");
                    }
                    events.clear();
                    poller
                        .wait(&mut events, Some(Duration::ZERO))
                        .expect("wait");
                }
            });
            set_count((p.rounds * p.n) as u64);
            report(t, bytes);
        }
        Workload::Timers | Workload::Precision => unreachable!(),
    }
    Ok(())
}
