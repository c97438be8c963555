//! fd hygiene on every hosted backend: every fd a base opens is close-on-exec (checked in a
//! program started by fork + exec that lists its own fds), freeing a base closes all of its fds
//! and none of its user's, and 1,000 create/free cycles with signals, timers, wakers and a fork
//! leave `/proc/self/fd` as it was.
//!
//! The tests compare the process's fd table before and after, so each holds [`serial`]: no other
//! test of this binary opens or closes fds meanwhile.

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, RawFd};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use eventop::{Builder, LoopFlags as StdLoopFlags, TimeoutAction};
use eventop_core::base::{EventBase, Fixed, Parts, Spec, Step};
use eventop_core::sys::clock::Monotonic;
use eventop_core::sys::hosted::{FixedBuffers, Hosted};
use eventop_core::{LoopFlags, What};
use eventop_tests::fds::{pair, put};
use eventop_tests::kinds::Kind;
use eventop_tests::per_kind;

type Base = EventBase<Hosted<FixedBuffers<64>>, Monotonic, Fixed<64>>;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's open fds and what each refers to (`readlink /proc/self/fd/N`).
fn fd_table() -> BTreeMap<RawFd, String> {
    let numbers: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    // The directory's own fd is closed by now: its readlink fails and it is left out.
    numbers
        .into_iter()
        .filter_map(|fd| {
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect()
}

/// The entries of `after` not in `before`.
fn opened(
    before: &BTreeMap<RawFd, String>,
    after: &BTreeMap<RawFd, String>,
) -> Vec<(RawFd, String)> {
    after
        .iter()
        .filter(|(fd, t)| before.get(fd) != Some(t))
        .map(|(fd, t)| (*fd, t.clone()))
        .collect()
}

fn spec(fd: RawFd, events: What, token: usize) -> Spec {
    Spec {
        fd,
        events,
        priority: 0,
        token,
    }
}

/// A base with everything that opens an fd: a signal event (the signal pipe), an I/O event on
/// `fd` and a timer; one loop iteration run.
fn busy_base(kind: Kind, fd: RawFd) -> Base {
    let mut b: Base = EventBase::new(kind.hosted(), Monotonic, Parts::default(), kind.flags());
    b.add(
        None,
        &spec(libc::SIGUSR1, What::SIGNAL | What::PERSIST, 1),
        None,
    )
    .unwrap();
    b.add(None, &spec(fd, What::READ | What::PERSIST, 2), None)
        .unwrap();
    b.add(None, &spec(-1, What::empty(), 3), Some(Duration::ZERO))
        .unwrap();
    b.start(LoopFlags::NONBLOCK).unwrap();
    while let Step::Run(_) = b.step().unwrap() {}
    b
}

fn is_cloexec(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on an fd number takes no pointer; a closed fd gives -1.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    assert!(flags >= 0, "fd {fd} is not open");
    flags & libc::FD_CLOEXEC != 0
}

/// What a program started by fork + exec has open: `ls -l` of the shell's own fd directory.
fn fds_after_exec() -> String {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg("ls -l /proc/$$/fd")
        .output()
        .expect("spawn /bin/sh");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn every_fd_is_cloexec(kind: Kind) {
    let _g = serial();
    let (r, _w) = pair();
    let before = fd_table();
    let b = busy_base(kind, r.as_raw_fd());
    let mine = opened(&before, &fd_table());
    assert!(
        !mine.is_empty(),
        "{kind:?}: the base opened no fd (the signal pipe at least)"
    );
    for (fd, target) in &mine {
        assert!(
            is_cloexec(*fd),
            "{kind:?}: fd {fd} ({target}) is not close-on-exec"
        );
    }
    let child = fds_after_exec();
    for (_, target) in &mine {
        assert!(
            !child.contains(target.as_str()),
            "{kind:?}: {target} leaked into exec:\n{child}"
        );
    }
    drop(b);
}

fn free_closes_its_fds_and_none_of_the_users(kind: Kind) {
    let _g = serial();
    let (r, w) = pair();
    let before = fd_table();
    let b = busy_base(kind, r.as_raw_fd());
    drop(b);
    assert_eq!(
        fd_table(),
        before,
        "{kind:?}: freeing the base changed the fd table"
    );
    // The user's fds still work.
    put(&w);
    let mut buf = [0u8; 4];
    assert_eq!(std::io::Read::read(&mut &r, &mut buf).unwrap(), 1);
}

/// 1,000 bases, each with a signal event, an I/O event, a timer that fires; every 100th forks a
/// child that uses the base (which re-creates its backend and signal pipe there) and exits.
fn thousand_cycles_with_a_fork_leave_the_fd_table(kind: Kind) {
    let _g = serial();
    let (r, _w) = pair();
    let before = fd_table();
    for i in 0..1000 {
        let mut b = busy_base(kind, r.as_raw_fd());
        if i % 100 == 0 {
            // SAFETY: the child only drives the base (no allocation: fixed tables) and _exits.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork");
            if pid == 0 {
                let ok = b
                    .add(None, &spec(-1, What::empty(), 9), Some(Duration::ZERO))
                    .is_ok()
                    && b.start(LoopFlags::NONBLOCK).is_ok()
                    && matches!(b.step(), Ok(Step::Run(_)));
                // SAFETY: ends the child at once, running nothing of the parent's.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) };
            }
            let mut status = 0;
            // SAFETY: waits for the child just forked; `status` is a local int.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "{kind:?}: child failed"
            );
        }
        drop(b);
    }
    assert_eq!(
        fd_table(),
        before,
        "{kind:?}: 1,000 bases changed the fd table"
    );
}

per_kind!(
    every_fd_is_cloexec,
    free_closes_its_fds_and_none_of_the_users,
    thousand_cycles_with_a_fork_leave_the_fd_table,
);

/// The std adapter's bases on each backend, with a waker (its own fds), a signal and a timer:
/// 1,000 create/free cycles leave the fd table as it was, and the waker's fds are close-on-exec.
#[test]
fn std_bases_with_wakers_leave_the_fd_table() {
    let _g = serial();
    let before = fd_table();
    let setups: [(&[&str], bool); 4] = [
        (&[], false),
        (&[], true),
        (&["epoll"], false),
        (&["epoll", "poll"], false),
    ];
    for (avoid, changelist) in setups {
        for i in 0..250 {
            let mut builder = Builder::new();
            if changelist {
                builder = builder.epoll_changelist();
            }
            for name in avoid {
                builder = builder.avoid(*name);
            }
            let mut b: eventop::Base<()> = builder.build().unwrap();
            let waker = b.waker().unwrap();
            b.new_signal(libc::SIGUSR2, |_, _, _, _| {}).unwrap();
            b.new_timer(Duration::ZERO, |_, _, _| TimeoutAction::Drop)
                .unwrap();
            waker.wake().unwrap();
            b.run_with(StdLoopFlags::NONBLOCK, &mut ()).unwrap();
            if i == 0 {
                for (fd, target) in opened(&before, &fd_table()) {
                    assert!(
                        is_cloexec(fd),
                        "{avoid:?}: fd {fd} ({target}) is not close-on-exec"
                    );
                }
            }
            drop(b);
            assert!(matches!(waker.wake(), Err(eventop::Error::Closed)));
        }
    }
    assert_eq!(
        fd_table(),
        before,
        "std bases with wakers changed the fd table"
    );
}
