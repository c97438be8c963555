//! A job that owns a `Waker` leaks no fd: the eventfd closes once the base and every waker are
//! gone. Alone in its binary, so that no other test opens fds while this one counts them.

mod common;

use std::io;

use common::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_job_owning_a_waker_leaks_no_fd() -> io::Result<()> {
    for (name, avoid) in BACKENDS {
        // libkqueue keeps fds of its own for the process, opened on first use, and closes a
        // kqueue's fds a little after `close`, from a thread of its own: on kqueue, count only
        // after a first base has come and gone, and give it time to settle.
        let settle = if *name == "kqueue" { 100 } else { 0 };
        if settle > 0 {
            drop(base_avoiding(avoid)?.waker()?);
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let before = open_fds();
        let mut base = base_avoiding(avoid)?;
        let w = base.waker()?;
        let w2 = w.clone();
        w.schedule(move |_, _| drop(w2))?;
        drop(w);
        drop(base);
        for _ in 0..settle {
            if open_fds() == before {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            open_fds(),
            before,
            "{name}: an fd outlived the base and its wakers"
        );
    }
    Ok(())
}
