//! Contender: epoll(7) with no library, the floor. Each pair's index rides in `epoll_event.u64`;
//! the pass form waits with a zero timeout; the cascade registers with `EPOLLONESHOT` and re-arms
//! with `EPOLL_CTL_MOD`. No timers.

use std::io;

use eventop_benches::*;

fn ctl(epfd: i32, op: i32, fd: i32, events: u32, data: u64) {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: `ev` is a valid epoll_event for the call.
    if unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) } != 0 {
        panic!("epoll_ctl: {}", io::Error::last_os_error());
    }
}

fn wait(epfd: i32, buf: &mut [libc::epoll_event], timeout: i32) -> usize {
    // SAFETY: `buf` has room for `buf.len()` events.
    let r = unsafe { libc::epoll_wait(epfd, buf.as_mut_ptr(), buf.len() as i32, timeout) };
    if r < 0 {
        let e = io::Error::last_os_error();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "epoll_wait: {e}");
        return 0;
    }
    r as usize
}

fn main() {
    let p = Params::from_args();
    p.epoll_only("raw_epoll");
    if matches!(p.workload, Workload::Timers | Workload::Precision) || p.timeout != Timeout::None {
        eprintln!("raw_epoll: no timers");
        std::process::exit(3);
    }
    // SAFETY: plain syscall.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(epfd >= 0, "epoll_create1: {}", io::Error::last_os_error());
    let pairs = socketpairs(p.n);
    let mut buf = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let cascade = p.workload == Workload::Cascade;
    let interest = libc::EPOLLIN as u32
        | if cascade {
            libc::EPOLLONESHOT as u32
        } else {
            0
        };
    let before = heap_bytes();
    for (i, &(rfd, _)) in pairs.iter().enumerate() {
        ctl(epfd, libc::EPOLL_CTL_ADD, rfd, interest, i as u64);
    }
    let n = p.n;
    match p.workload {
        Workload::Chain | Workload::Cascade => {
            start_count(p.events);
            p.starts().for_each(|i| kick(pairs[i].1));
            let timeout = if p.form == Form::Block { -1 } else { 0 };
            let t = timed(|| {
                while !done() {
                    let k = wait(epfd, &mut buf, timeout);
                    for ev in &buf[..k] {
                        let i = ev.u64 as usize;
                        pass_byte(pairs[i].0, pairs[next(i, n)].1);
                        if cascade {
                            ctl(epfd, libc::EPOLL_CTL_MOD, pairs[i].0, interest, i as u64);
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
                    for &(rfd, _) in &pairs {
                        ctl(epfd, libc::EPOLL_CTL_DEL, rfd, 0, 0);
                    }
                    wait(epfd, &mut buf, 0);
                    for (i, &(rfd, _)) in pairs.iter().enumerate() {
                        ctl(epfd, libc::EPOLL_CTL_ADD, rfd, interest, i as u64);
                    }
                    wait(epfd, &mut buf, 0);
                }
            });
            set_count((p.rounds * p.n) as u64);
            report(t, bytes);
        }
        Workload::Timers | Workload::Precision => unreachable!(),
    }
}
