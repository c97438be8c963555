//! Refused adds through the std API, on every backend: a regular file and an fd that is not open
//! fail at `add`, cost no memory, and leave the base as it was.
//!
//! A test binary of its own with a single test, so that the resident set it measures is not
//! moved by other tests running in parallel.

mod common;

use std::io::{self, ErrorKind};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use common::{base_avoiding, BACKENDS, GUARD};
use eventop::{Base, BaseFlags, Builder, Counts, Exit, What};

/// A base of each backend: the plain ones, and epoll with the changelist.
fn bases() -> io::Result<Vec<Base>> {
    let mut all = Vec::new();
    for (_, avoid) in BACKENDS {
        all.push(base_avoiding(avoid)?);
    }
    let changelist = Builder::new()
        .env(|_| false)
        .flags(BaseFlags::EPOLL_USE_CHANGELIST)
        .build()?;
    assert_eq!(changelist.backend_name(), "epoll (with changelist)");
    all.push(changelist);
    Ok(all)
}

/// The process's resident set, in bytes (`/proc/self/statm`'s second field, in pages).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("statm's resident field");
    // SAFETY: sysconf reads a constant; no memory is involved.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page as u64
}

/// The event was not added: not pending, nothing counted, nothing deferred, and a run returns at
/// once for lack of events.
fn assert_not_added(base: &mut Base, ev: eventop::Event, name: &str) -> io::Result<()> {
    assert_eq!(base.pending(ev, What::all())?, What::empty(), "{name}");
    assert_eq!(base.counts(), Counts::default(), "{name}");
    assert!(base.take_deferred_error().is_none(), "{name}");
    let t = std::time::Instant::now();
    assert_eq!(base.run()?, Exit::Empty, "{name}");
    assert!(t.elapsed() < GUARD, "{name}");
    Ok(())
}

#[test]
fn refused_adds_leave_the_base_as_it_was() -> io::Result<()> {
    regular_file_is_refused_at_add()?;
    unopened_huge_fd_costs_no_memory()
}

fn regular_file_is_refused_at_add() -> io::Result<()> {
    let file = std::fs::File::open(std::env::current_exe()?)?;
    for mut base in bases()? {
        let name = base.backend_name();
        let ev = base.new_io(file.as_raw_fd(), What::READ, |_, _, _| panic!("ran"))?;
        let e = base.add(ev, None).expect_err(name);
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{name}: {e}");
        assert_not_added(&mut base, ev, name)?;
    }
    Ok(())
}

/// Adding fd 10,000,000 (not open) is `EBADF` and leaves the resident set as it was: the fd map
/// grew to the fd before (190 MiB here, for good). The numbers beyond the map's bound say
/// `EBADF` too, not that a table is full.
fn unopened_huge_fd_costs_no_memory() -> io::Result<()> {
    const SLACK: u64 = 1 << 20;
    let (a, _b) = UnixStream::pair()?;
    for mut base in bases()? {
        let name = base.backend_name();
        // A socket watched first: the fd map exists, and must stay as it is.
        let live = base.new_io(a.as_raw_fd(), What::READ, |_, _, _| {})?;
        base.add(live, None)?;
        base.del(live)?;
        for fd in [10_000_000, 1 << 30, RawFd::MAX] {
            let ev = base.new_io(fd, What::READ, |_, _, _| panic!("ran"))?;
            let before = rss();
            let e = base.add(ev, None).expect_err(name);
            let grew = rss().saturating_sub(before);
            eprintln!("{name}: fd {fd}: {e}; resident set grew by {grew} bytes");
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{name}: fd {fd}: {e}");
            assert!(grew <= SLACK, "{name}: fd {fd}: grew by {grew} bytes");
            assert_not_added(&mut base, ev, name)?;
            base.free(ev)?;
        }
    }
    Ok(())
}
