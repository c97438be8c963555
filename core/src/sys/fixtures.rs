//! Test fixtures shared by the hosted backends' tests: real fds, a monotonic clock, signals.

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::sync::Arc;
use std::vec::Vec;

use crate::clock::Clock;
use crate::{Backend, Error, FdInfo, RawFd, What};

/// An fd closed on drop.
pub(crate) use super::OwnedFd as Fd;

/// Storage that doubles, like the std adapter's.
pub use crate::testing::GrowVec;

fn nonblocking(fd: RawFd) {
    // SAFETY: plain fcntl on our fd.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// A connected pair of non-blocking Unix stream sockets.
pub fn socketpair() -> (Fd, Fd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two fds.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
    assert_eq!(r, 0);
    nonblocking(fds[0]);
    nonblocking(fds[1]);
    (Fd(fds[0]), Fd(fds[1]))
}

/// A pipe: (read end, write end).
pub fn pipe() -> (Fd, Fd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    nonblocking(fds[0]);
    nonblocking(fds[1]);
    (Fd(fds[0]), Fd(fds[1]))
}

/// Writes one byte.
pub fn write(fd: &Fd) {
    // SAFETY: one byte from a valid buffer.
    assert_eq!(unsafe { libc::write(fd.0, b"x".as_ptr().cast(), 1) }, 1);
}

/// Reads until nothing is left (the fd is non-blocking).
#[cfg_attr(not(eventop_kqueue), allow(dead_code))]
pub fn read_all(fd: RawFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reads into a live buffer of its length.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// A duplicate of `fd`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn dup(fd: RawFd) -> RawFd {
    // SAFETY: plain dup.
    let d = unsafe { libc::dup(fd) };
    assert!(d >= 0);
    d
}

/// A duplicate of `fd` numbered at least `min`, raising the soft fd limit if needed.
pub fn dup_above(fd: RawFd, min: RawFd) -> Fd {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        let want = (min as libc::rlim_t + 16).min(lim.rlim_max);
        if lim.rlim_cur < want {
            lim.rlim_cur = want;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    // SAFETY: plain fcntl on our fd.
    let d = unsafe { libc::fcntl(fd, libc::F_DUPFD, min) };
    assert!(d >= min, "cannot dup above {min}");
    Fd(d)
}

/// Where closed-fd tests put their fds: above what other tests open (the `dup_above(_, 1500)`
/// ones included), so that no other test thread reuses the number once it is closed.
pub const HIGH: RawFd = 3000;

/// An fd number that is surely not open.
pub fn closed_fd() -> RawFd {
    let (r, _w) = pipe();
    dup_above(r.0, HIGH).0
}

/// An unlinked regular file.
pub fn regular_file() -> Fd {
    let mut name = *b"/tmp/eventop-test-XXXXXX\0";
    // SAFETY: `name` is a writable NUL-terminated template.
    let fd = unsafe { libc::mkstemp(name.as_mut_ptr().cast()) };
    assert!(fd >= 0);
    // SAFETY: `name` now holds the file's NUL-terminated path.
    unsafe { libc::unlink(name.as_ptr().cast()) };
    Fd(fd)
}

/// The root directory, opened.
pub fn directory() -> Fd {
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(c"/".as_ptr(), libc::O_RDONLY) };
    assert!(fd >= 0);
    Fd(fd)
}

/// CLOCK_MONOTONIC.
pub fn now() -> Duration {
    Duration::from_nanos(super::clock::Monotonic.now())
}

/// `b.add` with a fresh per-fd word.
pub fn add<B: Backend>(b: &mut B, fd: RawFd, old: What, added: What) -> Result<(), Error> {
    b.add(fd, old, added, &mut FdInfo::default())
}

/// `b.del` with a fresh per-fd word.
pub fn del<B: Backend>(b: &mut B, fd: RawFd, old: What, removed: What) -> Result<(), Error> {
    b.del(fd, old, removed, &mut FdInfo::default())
}

/// A timeout that only polls.
pub const Z: Option<Duration> = Some(Duration::ZERO);

/// `v` sorted by fd.
pub fn sorted(mut v: Vec<(RawFd, What)>) -> Vec<(RawFd, What)> {
    v.sort_by_key(|r| r.0);
    v
}

/// One dispatch's reports; panics on error.
pub fn collect<B: Backend>(b: &mut B, timeout: Option<Duration>) -> Vec<(RawFd, What)> {
    let mut got = Vec::new();
    let n = b
        .dispatch(timeout, &mut |fd, what| got.push((fd, what)))
        .unwrap();
    assert_eq!(n, got.len());
    got
}

extern "C" fn noop(_: libc::c_int) {}

/// The signal the EINTR tests use: one no other test in this binary watches (the signal
/// pipe's tests use SIGUSR1, SIGUSR2, SIGWINCH and SIGURG, and would lose their handler).
const INTERRUPT: libc::c_int = libc::SIGALRM;

/// Runs `f` while another thread sends this thread [`INTERRUPT`] every 20 ms (a no-op handler
/// installed without `SA_RESTART`), so that a blocking wait in `f` is interrupted.
pub fn interrupted<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: installs a handler that does nothing; a zeroed sigaction is valid.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = noop as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(INTERRUPT, &sa, core::ptr::null_mut()), 0);
    }
    // SAFETY: no arguments.
    let me = unsafe { libc::pthread_self() };
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let killer = std::thread::spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
            // SAFETY: `me` is alive until this thread is joined.
            unsafe { libc::pthread_kill(me, INTERRUPT) };
        }
    });
    let r = f();
    done.store(true, Ordering::SeqCst);
    killer.join().unwrap();
    r
}
