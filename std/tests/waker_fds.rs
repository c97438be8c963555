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
        let before = open_fds();
        let mut base = base_avoiding(avoid)?;
        let w = base.waker()?;
        let w2 = w.clone();
        w.schedule(move |_| drop(w2))?;
        drop(w);
        drop(base);
        assert_eq!(
            open_fds(),
            before,
            "{name}: an fd outlived the base and its wakers"
        );
    }
    Ok(())
}
