//! The backend's tests against a real kqueue: the kernel's, or libkqueue's on Linux.

use super::plan::change;
use super::*;
use crate::sys::fixtures::{
    closed_fd, directory, pipe, read_all, regular_file, socketpair, write, GrowVec,
};
use std::time::Instant;
use std::vec::Vec;

type Fixed<const N: usize> = heapless::Vec<Event, N>;

fn add_read(fd: RawFd) -> Change {
    change(fd, What::empty(), ChangeOp::ADD, ChangeOp::empty())
}

/// Dispatches once, returning the reports.
fn wait<S: Storage<Event>>(kq: &mut Kqueue<S>, timeout: Duration) -> Vec<(RawFd, What)> {
    let mut got = Vec::new();
    let n = kq
        .dispatch(Some(timeout), &mut |fd, what| got.push((fd, what)))
        .unwrap();
    assert_eq!(n, got.len());
    assert!(got
        .iter()
        .all(|&(_, w)| !w.is_empty() && What::IO.contains(w)));
    got
}

const SHORT: Duration = Duration::from_millis(200);

#[test]
fn info_is_libevents() {
    let kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let info = kq.info();
    assert_eq!(info.name, "kqueue");
    assert_eq!(info.features.bits(), 0x7);
    assert!(info.need_reinit && info.changelist);
    assert_eq!(info.fdinfo_len, 4);
}

#[test]
fn empty_fixed_storage_is_refused() {
    let mut none: [Event; 0] = [];
    let r = Kqueue::new(&mut none[..]);
    assert_eq!(r.err(), Some(Error::Full(Resource::BackendEvents)));
    // Growable storage that comes empty gets libevent's 64.
    let kq = Kqueue::new(GrowVec::default()).unwrap();
    assert_eq!(kq.events.capacity(), INITIAL_EVENTS);
}

#[test]
fn read_write_and_timeout() {
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let (rf, wf) = pipe();
    let (r, w) = (rf.0, wf.0);
    kq.apply(&[
        add_read(r),
        change(w, What::empty(), ChangeOp::empty(), ChangeOp::ADD),
    ])
    .unwrap();
    assert_eq!(wait(&mut kq, SHORT), [(w, What::WRITE)]);
    write(&wf);
    let mut got = wait(&mut kq, SHORT);
    got.sort_by_key(|&(fd, w)| (fd, w.bits()));
    assert_eq!(got, [(r, What::READ), (w, What::WRITE)]);
    // Level-triggered: still readable until read.
    assert!(wait(&mut kq, Duration::ZERO).contains(&(r, What::READ)));
    read_all(r);
    kq.apply(&[change(w, What::WRITE, ChangeOp::empty(), ChangeOp::DEL)])
        .unwrap();
    let t = Instant::now();
    assert_eq!(wait(&mut kq, Duration::from_millis(50)), []);
    assert!(t.elapsed() >= Duration::from_millis(50));
}

#[test]
fn edge_triggered_reports_once() {
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let (rf, w) = pipe();
    let r = rf.0;
    kq.apply(&[change(
        r,
        What::empty(),
        ChangeOp::ADD | ChangeOp::ET,
        ChangeOp::empty(),
    )])
    .unwrap();
    write(&w);
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
    write(&w);
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
}

#[test]
fn end_of_stream_is_readable() {
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let (rf, w) = pipe();
    let r = rf.0;
    let closed = Change {
        closed: ChangeOp::ADD,
        ..change(r, What::empty(), ChangeOp::empty(), ChangeOp::empty())
    };
    kq.apply(&[closed]).unwrap();
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
    drop(w);
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
}

#[test]
fn delete_after_close_is_ignored() {
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let (rf, _w) = pipe();
    let r = rf.0;
    kq.apply(&[add_read(r)]).unwrap();
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
    drop(rf);
    kq.apply(&[change(r, What::READ, ChangeOp::DEL, ChangeOp::empty())])
        .unwrap();
    // Only ignored errors come back: the wait still lasts as long as asked.
    let t = Instant::now();
    assert_eq!(wait(&mut kq, Duration::from_millis(50)), []);
    assert!(t.elapsed() >= Duration::from_millis(50));
}

/// `fstat`'s EBADF, as `check_pollable` reports it.
fn ebadf() -> Error {
    Error::Os {
        call: "fstat",
        errno: Errno(libc::EBADF),
    }
}

#[test]
fn add_of_a_closed_fd_fails_at_apply_and_the_rest_is_applied() {
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let (rf, w) = pipe();
    let r = rf.0;
    // A closed number that nothing reopens meanwhile (see `closed_fd`).
    let gone = closed_fd();
    // Unlike libevent, which ignores the EBADF: the add fails, at apply, before the wait.
    assert_eq!(kq.apply(&[add_read(gone), add_read(r)]), Err(ebadf()));
    assert_eq!(kq.staged, 1);
    write(&w);
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
}

#[test]
fn regular_files_and_directories_are_unpollable() {
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let (file, dir) = (regular_file(), directory());
    let (rf, w) = pipe();
    let r = rf.0;
    for fd in [file.0, dir.0] {
        // At apply, and the rest of the batch still applied.
        assert_eq!(
            kq.apply(&[add_read(fd), add_read(r)]),
            Err(Error::Unpollable(fd))
        );
    }
    // Nothing of the file or the directory was registered.
    write(&w);
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
}

#[test]
fn a_reused_fd_number_is_watched_again() {
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let (rf, w) = pipe();
    let r = rf.0;
    kq.apply(&[add_read(r)]).unwrap();
    write(&w);
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
    // The number `r` now names a new, empty pipe (dup2 closes the old one).
    let (r2, w2) = pipe();
    // SAFETY: both fds are the test's own.
    assert_eq!(unsafe { libc::dup2(r2.0, r) }, r);
    drop(r2);
    // A delete and an add in one batch: the add replaces the delete, `old` keeps READ.
    kq.apply(&[change(r, What::READ, ChangeOp::ADD, ChangeOp::empty())])
        .unwrap();
    assert_eq!(wait(&mut kq, Duration::from_millis(20)), []);
    write(&w2);
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
}

/// READ|WRITE edge-triggered on `a`, WRITE deleted by `del`; READ must stay edge-triggered.
fn check_et_survives(del: impl FnOnce(&mut Kqueue<Fixed<8>>, RawFd)) {
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let (af, b) = socketpair();
    let a = af.0;
    let et_add = ChangeOp::ADD | ChangeOp::ET;
    kq.apply(&[change(a, What::empty(), et_add, et_add)])
        .unwrap();
    write(&b);
    let mut got = wait(&mut kq, SHORT);
    got.sort_by_key(|&(fd, w)| (fd, w.bits()));
    assert_eq!(got, [(a, What::READ), (a, What::WRITE)]);
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
    del(&mut kq, a);
    // The change may re-arm the edge once...
    let _ = wait(&mut kq, Duration::from_millis(20));
    // ...but READ is still edge-triggered: no report until new data.
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
    write(&b);
    assert_eq!(wait(&mut kq, SHORT), [(a, What::READ)]);
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
}

#[test]
fn edge_triggering_survives_a_partial_delete() {
    check_et_survives(|kq, a| {
        let io = What::READ | What::WRITE;
        let del = change(a, io, ChangeOp::empty(), ChangeOp::DEL | ChangeOp::ET);
        kq.apply(&[del]).unwrap();
    });
}

#[test]
fn a_reset_connection_is_read_and_write() {
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.set_nonblocking(true).unwrap();
    let fd = client.as_raw_fd();
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    kq.apply(&[add_read(fd)]).unwrap();
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `l` is a valid `linger` that outlives the call, and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            server.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            core::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(server);
    assert_eq!(wait(&mut kq, SHORT), [(fd, What::READ | What::WRITE)]);
}

#[test]
fn no_op_and_signal_changes() {
    let mut kq = Kqueue::new(Fixed::<8>::new()).unwrap();
    let noop = change(5, What::empty(), ChangeOp::empty(), ChangeOp::empty());
    kq.apply(&[noop]).unwrap();
    assert_eq!(kq.staged, 0);
    let sig = change(
        2,
        What::empty(),
        ChangeOp::ADD | ChangeOp::SIGNAL,
        ChangeOp::empty(),
    );
    let (rf, w) = pipe();
    let r = rf.0;
    // The signal change fails; the others are applied all the same.
    assert!(matches!(
        kq.apply(&[sig, add_read(r)]),
        Err(Error::Unsupported(Operation::Signals))
    ));
    write(&w);
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
    assert_eq!(kq.apply(&[add_read(-1)]), Err(Error::BadFd(-1)));
}

#[test]
fn full_fixed_buffer_flushes_without_losing_an_edge() {
    // Two slots, five pipes: staging flushes twice, and results come two at a time.
    let mut kq = Kqueue::new(Fixed::<2>::new()).unwrap();
    let pipes: Vec<_> = (0..5).map(|_| pipe()).collect();
    // An edge already pending before the flushes must survive them.
    kq.apply(&[change(
        pipes[0].0 .0,
        What::empty(),
        ChangeOp::ADD | ChangeOp::ET,
        ChangeOp::empty(),
    )])
    .unwrap();
    write(&pipes[0].1);
    let rest: Vec<_> = pipes[1..].iter().map(|(r, _)| add_read(r.0)).collect();
    kq.apply(&rest).unwrap();
    assert!(kq.staged <= 2);
    for (_, w) in &pipes[1..] {
        write(w);
    }
    let mut seen = Vec::new();
    for _ in 0..10 {
        for (fd, what) in wait(&mut kq, SHORT) {
            assert_eq!(what, What::READ);
            read_all(fd);
            seen.push(fd);
        }
        if seen.len() == 5 {
            break;
        }
    }
    seen.sort();
    let mut want: Vec<_> = pipes.iter().map(|(r, _)| r.0).collect();
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(kq.events.capacity(), 2);
}

#[test]
fn a_full_dispatch_grows_the_buffer() {
    let mut kq = Kqueue::new(GrowVec::default()).unwrap();
    kq.events.0.truncate(2);
    let pipes: Vec<_> = (0..4).map(|_| pipe()).collect();
    let adds: Vec<_> = pipes.iter().map(|(r, _)| add_read(r.0)).collect();
    kq.apply(&adds).unwrap();
    assert_eq!(kq.staged, 4);
    assert!(kq.events.capacity() >= 4);
    kq.events.0.truncate(4);
    for (_, w) in &pipes {
        write(w);
    }
    assert_eq!(wait(&mut kq, SHORT).len(), 4);
    assert_eq!(kq.events.capacity(), 8);
}

#[test]
fn direct_add_and_del_are_unsupported() {
    let mut kq = Kqueue::new(Fixed::<4>::new()).unwrap();
    let (r, w) = pipe();
    let mut info = FdInfo::default();
    let unsupported = Err(Error::Unsupported(Operation::DirectChange));
    assert_eq!(
        kq.add(r.0, What::empty(), What::READ, &mut info),
        unsupported
    );
    assert_eq!(kq.del(r.0, What::READ, What::READ, &mut info), unsupported);
    // Nothing was watched.
    write(&w);
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
}

#[test]
fn write_to_a_pipe_without_reader_is_never_silent() {
    let mut kq = Kqueue::new(Fixed::<4>::new()).unwrap();
    let (r, wf) = pipe();
    let w = wf.0;
    drop(r);
    kq.apply(&[change(w, What::empty(), ChangeOp::empty(), ChangeOp::ADD)])
        .unwrap();
    // The BSDs fail the add with EPIPE (reported as READ | WRITE); others report EOF.
    let got = wait(&mut kq, SHORT);
    assert!(!got.is_empty());
    assert!(got
        .iter()
        .all(|&(fd, what)| fd == w && what.contains(What::WRITE)));
}

#[test]
fn reinit_starts_afresh() {
    let mut kq = Kqueue::new(Fixed::<4>::new()).unwrap();
    let (rf, wf) = pipe();
    let (r, w) = (rf.0, wf.0);
    kq.apply(&[add_read(r)]).unwrap();
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
    let old = kq.kq.raw();
    kq.apply(&[add_read(w)]).unwrap();
    kq.reinit().unwrap();
    assert_eq!(kq.staged, 0);
    write(&wf);
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
    // The old kqueue was ours (same process), so it was closed; its number may be reused.
    let _ = old;
    kq.apply(&[add_read(r)]).unwrap();
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
}

#[test]
fn reinit_in_a_forked_child() {
    let mut kq = Kqueue::new(Fixed::<4>::new()).unwrap();
    let (rf, w) = pipe();
    let r = rf.0;
    kq.apply(&[add_read(r)]).unwrap();
    assert_eq!(wait(&mut kq, Duration::ZERO), []);
    // SAFETY: the child only makes system calls (and libkqueue's) before `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let ok = kq.reinit().is_ok() && kq.apply(&[add_read(r)]).is_ok() && {
            write(&w);
            let mut n = 0;
            kq.dispatch(Some(SHORT), &mut |fd: RawFd, what: What| {
                if fd == r && what == What::READ {
                    n += 1;
                }
            })
            .is_ok()
                && n == 1
        };
        core::mem::forget(kq);
        // SAFETY: ends the child without running the parent's destructors or atexit hooks.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child, writing into a live int.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    // The parent's kqueue still works: the child's byte is there to read.
    assert_eq!(wait(&mut kq, SHORT), [(r, What::READ)]);
}
