//! Contender: mio 1.x (`Poll`, `SourceFd`, edge-triggered as mio always is). The pass form polls
//! with a zero timeout; the cascade re-registers (`reregister`) from each event, mio having no
//! one-shot mode. No timers.

use std::time::Duration;

use eventop_benches::*;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

fn main() -> std::io::Result<()> {
    let p = Params::from_args();
    p.epoll_only("mio");
    if matches!(p.workload, Workload::Timers | Workload::Precision) || p.timeout != Timeout::None {
        eprintln!("mio: no timers");
        std::process::exit(3);
    }
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let pairs = socketpairs(p.n);
    let before = heap_bytes();
    for (i, (rfd, _)) in pairs.iter().enumerate() {
        poll.registry()
            .register(&mut SourceFd(rfd), Token(i), Interest::READABLE)?;
    }
    let n = p.n;
    match p.workload {
        Workload::Chain | Workload::Cascade => {
            let cascade = p.workload == Workload::Cascade;
            start_count(p.events);
            p.starts().for_each(|i| kick(pairs[i].1));
            let timeout = if p.form == Form::Block {
                None
            } else {
                Some(Duration::ZERO)
            };
            let t = timed(|| {
                while !done() {
                    poll.poll(&mut events, timeout).expect("poll");
                    for ev in &events {
                        let i = ev.token().0;
                        pass_byte(pairs[i].0, pairs[next(i, n)].1);
                        if cascade {
                            poll.registry()
                                .reregister(
                                    &mut SourceFd(&pairs[i].0),
                                    Token(i),
                                    Interest::READABLE,
                                )
                                .expect("reregister");
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
                    for (rfd, _) in &pairs {
                        poll.registry()
                            .deregister(&mut SourceFd(rfd))
                            .expect("deregister");
                    }
                    poll.poll(&mut events, Some(Duration::ZERO)).expect("poll");
                    for (i, (rfd, _)) in pairs.iter().enumerate() {
                        poll.registry()
                            .register(&mut SourceFd(rfd), Token(i), Interest::READABLE)
                            .expect("register");
                    }
                    poll.poll(&mut events, Some(Duration::ZERO)).expect("poll");
                }
            });
            set_count((p.rounds * p.n) as u64);
            report(t, bytes);
        }
        Workload::Timers | Workload::Precision => unreachable!(),
    }
    Ok(())
}
