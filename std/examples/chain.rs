//! The chain benchmark through the std API (core/examples/chain.rs over the core alone).
//!
//! `chain [N] [M] [timeout]`: N socketpairs (default 1000), each with a persistent READ event;
//! one byte goes into pair 0, and each callback reads its byte and writes one to the next pair,
//! so every loop iteration runs one event. Stops after M events (default 100000) and prints M.
//! With `timeout`, every event has a 1 s timeout that its callback re-arms.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use eventop::{Base, Interest, Mode, Readiness};

/// What the callbacks share: the events run so far, and when to stop.
struct Count {
    ran: u64,
    stop: u64,
}

/// One link of the chain: the read end it watches, and the next pair's write end.
struct Link {
    read: UnixStream,
    next: UnixStream,
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
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

    // Pair i: `reads[i]` is watched; the previous pair's callback writes to `writes[i]`.
    let (reads, mut writes): (Vec<UnixStream>, Vec<UnixStream>) = (0..n)
        .map(|_| UnixStream::pair())
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .unzip();
    let mut first = writes[0].try_clone()?;
    let mut base = Base::<Count>::new()?;
    writes.rotate_left(1);
    for (read, next) in reads.into_iter().zip(writes) {
        let ev = base.new_io(
            Link { read, next },
            Interest::READ,
            Mode::Level,
            move |base, count, ev, ready, link| {
                if ready.contains(Readiness::READ) {
                    // libc's read and write, as the core's chain: the loop is what is measured.
                    let mut buf = [0u8; 1];
                    // SAFETY: `buf` is valid for a 1-byte write.
                    unsafe { libc::read(link.read.as_raw_fd(), buf.as_mut_ptr().cast(), 1) };
                    // SAFETY: `buf` is valid for a 1-byte read.
                    unsafe { libc::write(link.next.as_raw_fd(), buf.as_ptr().cast(), 1) };
                }
                if let Some(t) = timeout {
                    base.add_timeout(ev, t).unwrap();
                }
                count.ran += 1;
                if count.ran == count.stop {
                    base.break_loop();
                }
            },
        )?;
        if let Some(t) = timeout {
            base.add_timeout(ev.id(), t)?;
        }
    }
    first.write_all(b"e")?;
    let mut count = Count { ran: 0, stop: m };
    base.run(&mut count)?;
    println!("{}", count.ran);
    Ok(())
}
