//! The chain benchmark over the core alone (DESIGN.md, "Performance budget").
//!
//! `chain [N] [M] [timeout]`: N socketpairs (default 1000), each with a persistent READ event;
//! one byte goes into pair 0, and each callback reads its byte and writes one to the next pair,
//! so every loop iteration runs one event. Stops after M events (default 100000) and prints M.
//! With `timeout`, every event has a 1 s timeout that its callback re-arms.

use std::time::Duration;

use eventop_core::base::{EventBase, Parts, Spec, Step, Tables};
use eventop_core::base::{FdEntry, Slot, Timer};
use eventop_core::sys::{clock::Monotonic, epoll::Epoll};
use eventop_core::{BaseFlags, Change, LoopFlags, Storage, What};

/// Growable storage over a `Vec` (the crate's test storage, shared by path).
#[path = "../src/testing.rs"]
mod testing;
use testing::GrowVec as Grow;

struct Heap;

impl Tables for Heap {
    type Slots = Grow<Slot>;
    type Fds = Grow<FdEntry>;
    type Timers = Grow<Timer>;
    type Changes = Grow<Change>;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(Ok(1000), |a| a.parse())?;
    let m: u64 = args.get(2).map_or(Ok(100_000), |a| a.parse())?;
    let timeout = match args.get(3).map(String::as_str) {
        None => None,
        Some("timeout" | "--timeout") => Some(Duration::from_secs(1)),
        Some(other) => return Err(format!("unknown option {other:?}").into()),
    };

    // pairs[i].0 is watched for READ; pairs[i].1 is where the previous pair writes.
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let mut sv = [0; 2];
        // SAFETY: `sv` has room for the two fds socketpair(2) writes.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        pairs.push((sv[0], sv[1]));
    }

    let backend = Epoll::new(Grow::default(), false)?;
    let parts: Parts<Heap> = Parts::default();
    let mut base = EventBase::new(backend, Monotonic, parts, BaseFlags::empty());
    let spec = |i: usize| Spec {
        fd: pairs[i].0,
        events: What::READ | What::PERSIST,
        priority: 0,
        token: i,
    };
    for i in 0..n {
        base.add(None, &spec(i), timeout)?;
    }

    let byte = [b'e'];
    // SAFETY: `byte` is valid for a 1-byte read.
    unsafe { libc::write(pairs[0].1, byte.as_ptr().cast(), 1) };

    let mut count = 0u64;
    base.start(LoopFlags::empty())?;
    while let Step::Run(ready) = base.step()? {
        let i = ready.token;
        if ready.res.contains(What::READ) {
            let mut buf = [0u8; 1];
            // SAFETY: `buf` is valid for a 1-byte write.
            unsafe { libc::read(pairs[i].0, buf.as_mut_ptr().cast(), 1) };
            // SAFETY: `buf` is valid for a 1-byte read.
            unsafe { libc::write(pairs[(i + 1) % n].1, buf.as_ptr().cast(), 1) };
        }
        if timeout.is_some() {
            base.add(Some(ready.handle), &spec(i), timeout)?;
        }
        count += 1;
        if count == m {
            base.loopbreak();
        }
    }
    println!("{count}");
    Ok(())
}
