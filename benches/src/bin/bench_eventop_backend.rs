//! Contender: eventop's backend layer with no base, as a custom runtime would drive it: an `Epoll`
//! backend in changelist mode plus its `Changelist`, the runtime keeping each fd's `FdInfo` word
//! and an fd → pair map. Readiness is handled in the sink (it only touches the sockets and the
//! changelist, never the backend). No timers: this layer has none.

use eventop::storage::Grow;
use eventop_benches::*;
use eventop_core::backend::{Backend, FdInfo};
use eventop_core::changelist::Changelist;
use eventop_core::sys::epoll::Epoll;
use eventop_core::{Change, Error, RawFd, What};
use std::time::Duration;

type Ep = Epoll<Grow<eventop_core::sys::epoll::Event>>;

/// The runtime's per-fd state: the backend's word and the pair it belongs to.
struct Fds {
    info: Vec<FdInfo>,
    pair: Vec<usize>,
}

fn record(cl: &mut Changelist<Grow<Change>>, fds: &mut Fds, add: bool, fd: RawFd, old: What) {
    let events = What::READ;
    let info = &mut fds.info[fd as usize];
    let change = if add {
        Change::add(fd, old, events)
    } else {
        Change::del(fd, old, events)
    };
    // Growable storage: there is always room.
    cl.record(change, info)
        .map_err(|_: Change| ())
        .expect("changelist storage");
}

/// The chain (`CASCADE`: with each event deleted and re-added, as a one-shot event is), one
/// flush and one dispatch per turn; `CASCADE` is a parameter so that neither loop tests it per
/// event (the compiler does the same to mio's loop).
fn chain<const CASCADE: bool>(
    ep: &mut Ep,
    cl: &mut Changelist<Grow<Change>>,
    fds: &mut Fds,
    pairs: &[(RawFd, RawFd)],
    wait: Option<Duration>,
) {
    let n = pairs.len();
    while !done() {
        cl.flush(ep).expect("apply");
        // The dispatch reports every ready fd; once the target is reached the rest are skipped
        // (mio's loop breaks out of its events there).
        let mut stop = false;
        let mut sink = |fd: RawFd, _: What| {
            if stop {
                return;
            }
            let i = fds.pair[fd as usize];
            pass_byte(fd, pairs[next(i, n)].1);
            if CASCADE {
                // A one-shot event's deletion before its callback, and its re-add.
                record(cl, fds, false, fd, What::READ);
                record(cl, fds, true, fd, What::empty());
            }
            if tick() {
                stop = true;
            }
        };
        ep.dispatch(wait, &mut sink).expect("dispatch");
    }
}

fn main() -> Result<(), Error> {
    let p = Params::from_args();
    p.epoll_only("eventop_backend");
    if matches!(p.workload, Workload::Timers | Workload::Precision) || p.timeout != Timeout::None {
        eprintln!("eventop_backend: no timers at this layer");
        std::process::exit(3);
    }
    let mut ep: Ep = Epoll::new(Grow::new(), true)?;
    let mut cl = Changelist::new(Grow::new());
    let pairs = socketpairs(p.n);
    let max_fd = pairs.iter().map(|&(a, b)| a.max(b)).max().unwrap_or(0) as usize;
    let before = heap_bytes();
    let mut fds = Fds {
        info: vec![FdInfo::default(); max_fd + 1],
        pair: vec![0; max_fd + 1],
    };
    for (i, &(rfd, _)) in pairs.iter().enumerate() {
        fds.pair[rfd as usize] = i;
        record(&mut cl, &mut fds, true, rfd, What::empty());
    }
    cl.flush(&mut ep)?;
    match p.workload {
        Workload::Chain | Workload::Cascade => {
            let cascade = p.workload == Workload::Cascade;
            start_count(p.events);
            p.starts().for_each(|i| kick(pairs[i].1));
            let wait = match p.form {
                Form::Block => None,
                Form::Pass => Some(Duration::ZERO),
            };
            let t = timed(|| {
                if cascade {
                    chain::<true>(&mut ep, &mut cl, &mut fds, &pairs, wait)
                } else {
                    chain::<false>(&mut ep, &mut cl, &mut fds, &pairs, wait)
                }
            });
            report(t, 0.0);
        }
        Workload::Setup => {
            let bytes = heap_bytes().saturating_sub(before) as f64 / p.n as f64;
            let t = timed(|| {
                for _ in 0..p.rounds {
                    for &(rfd, _) in &pairs {
                        record(&mut cl, &mut fds, false, rfd, What::READ);
                    }
                    cl.flush(&mut ep).expect("apply");
                    ep.dispatch(Some(Duration::ZERO), &mut |_, _| {})
                        .expect("dispatch");
                    for &(rfd, _) in &pairs {
                        record(&mut cl, &mut fds, true, rfd, What::empty());
                    }
                    cl.flush(&mut ep).expect("apply");
                    ep.dispatch(Some(Duration::ZERO), &mut |_, _| {})
                        .expect("dispatch");
                }
            });
            set_count((p.rounds * p.n) as u64);
            report(t, bytes);
        }
        Workload::Timers | Workload::Precision => unreachable!(),
    }
    Ok(())
}
