//! An eventop loop nested in tokio: tokio's `AsyncFd` watches the base's fd, and a tokio task
//! runs the base whenever it has work (I/O ready, or its next timer due).
//!
//! Run: `cargo run -p eventop --example nested_tokio`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use eventop::{Base, Builder, Mode, TimeoutAction};
use tokio::io::{unix::AsyncFd, Interest};

/// What the eventop callbacks share.
#[derive(Default)]
struct Seen {
    bytes: Vec<u8>,
    ticks: u32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A backend with an fd of its own (epoll, kqueue).
    let mut base: Base<Seen> = Builder::new().avoid("poll").avoid("select").build()?;
    let (mut a, b) = UnixStream::pair()?;
    b.set_nonblocking(true)?;
    base.new_io(
        b,
        eventop::Interest::READ,
        Mode::Level,
        |base, seen, ev, _, b| {
            let mut buf = [0; 64];
            match b.read(&mut buf) {
                Ok(0) => drop(base.free(ev)),
                Ok(n) => seen.bytes.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        },
    )?;
    base.new_timer(Duration::from_millis(5), |_, seen, _| {
        seen.ticks += 1;
        if seen.ticks < 3 {
            TimeoutAction::ToDuration(Duration::from_millis(5))
        } else {
            TimeoutAction::Drop
        }
    })?;
    let base = base.into_pollable().map_err(|_| "no backend with an fd")?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let seen = rt.block_on(async move {
        // A tokio task writes to the stream the eventop loop watches.
        let writer = tokio::spawn(async move {
            for word in [&b"nested "[..], b"in ", b"tokio"] {
                a.write_all(word).unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            // Dropping `a` closes the stream: the reader frees its event.
        });
        // SAFETY: a `Pollable`'s fd is its own (a duplicate of the backend's): open, and the
        // same, until the `Pollable` drops with the `AsyncFd`.
        let mut base = unsafe { AsyncFd::register_with_interest(base, Interest::READABLE) }?;
        let mut seen = Seen::default();
        while !base.get_ref().is_empty() {
            let wait = base.get_ref().next_timeout();
            let ready = async {
                let mut guard = base.readable_mut().await?;
                guard.clear_ready();
                Ok::<_, std::io::Error>(())
            };
            match wait {
                Some(t) => drop(tokio::time::timeout(t, ready).await),
                None => ready.await?,
            }
            base.get_mut().run_nonblocking(&mut seen)?;
        }
        writer.await?;
        Ok::<_, Box<dyn std::error::Error>>(seen)
    })?;
    println!(
        "read {:?} and ticked {} times, inside tokio",
        String::from_utf8_lossy(&seen.bytes),
        seen.ticks
    );
    assert_eq!(seen.bytes, b"nested in tokio");
    assert_eq!(seen.ticks, 3);
    Ok(())
}
