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
use eventop::{Base, Builder, Counts, Exit, Interest, Mode};

/// A base of each backend: the plain ones, and epoll with the changelist.
fn bases() -> io::Result<Vec<Base>> {
    let mut all = Vec::new();
    for (_, avoid) in BACKENDS {
        all.push(base_avoiding(avoid)?);
    }
    let changelist = Builder::new()
        .env(|_| false)
        .epoll_changelist()
        .build::<()>()?;
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
fn assert_not_added(base: &mut Base, name: &str) -> io::Result<()> {
    assert!(base.is_empty(), "{name}: the refused event is not kept");
    assert_eq!(base.counts(), Counts::default(), "{name}");
    assert!(base.take_deferred_error().is_none(), "{name}");
    let t = std::time::Instant::now();
    assert_eq!(base.run(&mut ())?, Exit::Empty, "{name}");
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
        // The new API adds at creation: the creation is refused.
        let e = io_pending(&mut base, file.as_raw_fd()).expect_err(name);
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{name}: {e}");
        assert_not_added(&mut base, name)?;
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
        // SAFETY: `a` outlives the event, freed at once.
        let live = unsafe {
            base.new_raw_io(
                a.as_raw_fd(),
                Interest::READ,
                Mode::OneShot,
                |_, _, _, _| {},
            )?
        };
        base.free(live)?;
        for fd in [10_000_000, 1 << 30, RawFd::MAX] {
            let before = rss();
            let e = io_pending(&mut base, fd).expect_err(name);
            let grew = rss().saturating_sub(before);
            eprintln!("{name}: fd {fd}: {e}; resident set grew by {grew} bytes");
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{name}: fd {fd}: {e}");
            assert!(grew <= SLACK, "{name}: fd {fd}: grew by {grew} bytes");
            assert_not_added(&mut base, name)?;
        }
    }
    Ok(())
}

/// A READ event on `fd`, pending at once (the new API's only way).
fn io_pending(base: &mut Base, fd: RawFd) -> eventop::Result<eventop::EventId> {
    // SAFETY: the event is never pending past the fd's life: the call is expected to fail.
    unsafe {
        base.new_raw_io(fd, Interest::READ, Mode::OneShot, |_, _, _, _| {
            panic!("ran")
        })
    }
}
