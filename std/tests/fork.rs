//! `fork()` with a base, on every backend, with and without `reinit` in the child. The only test
//! in its binary, so the process that forks has as few threads as the harness allows; the child
//! does no more than the check needs, then `_exit`s.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use eventop::{Base, Builder, EventId, Exit, Interest, LoopFlags, Mode, Readiness};

const SIG: i32 = libc::SIGURG; // default action: ignore

/// The child's part: returns its exit code, 0 for success. No assertions (a panic must not
/// unwind into the test harness's copy), no threads. Without `reinit`, the base notices the new
/// process itself; the signal is raised before it does.
fn child(
    mut base: Base,
    io: EventId,
    sig: EventId,
    a: &mut UnixStream,
    c: &Counters,
    reinit: bool,
) -> i32 {
    if reinit && base.reinit().is_err() {
        return 10;
    }
    if a.write_all(b"c").is_err() {
        return 11;
    }
    // SAFETY: raise takes no pointers; the base's handler is installed for SIG.
    if unsafe { libc::raise(SIG) } != 0 {
        return 12;
    }
    if base.run_nonblocking(&mut ()).is_err() {
        return 13;
    }
    if c.reads.load(SeqCst) != 1 {
        return 14;
    }
    if c.signals.load(SeqCst) != 1 {
        return 15;
    }
    // Deleting in the child, and dropping the base, must touch only the child's registrations.
    if base.free(io).is_err() || base.free(sig).is_err() {
        return 16;
    }
    drop(base);
    0
}

struct Counters {
    reads: AtomicUsize,
    signals: AtomicUsize,
}

/// A builder for each backend, by name.
fn builder(name: &str) -> Builder {
    let b = Builder::new().env(|_| false);
    match name {
        "epoll (with changelist)" => b.epoll_changelist(),
        "poll" => b.avoid("epoll"),
        "select" => b.avoid("epoll").avoid("poll"),
        _ => b,
    }
}

#[test]
fn the_child_leaves_the_parent_alone_with_or_without_reinit() -> io::Result<()> {
    for name in ["epoll", "epoll (with changelist)", "poll", "select"] {
        for reinit in [true, false] {
            let base = builder(name).build::<()>()?;
            assert_eq!(base.backend_name(), name);
            eprintln!("{name}, reinit {reinit}");
            scenario(base, reinit)?;
        }
    }
    Ok(())
}

/// Forks with a READ event and a signal event pending; the child receives its own byte and
/// signal, frees both events and drops the base; the parent then hears neither of the child's,
/// and its own still work.
fn scenario(mut base: Base, reinit: bool) -> io::Result<()> {
    let (mut a, b) = UnixStream::pair()?;
    let counters = Arc::new(Counters {
        reads: AtomicUsize::new(0),
        signals: AtomicUsize::new(0),
    });
    let c = counters.clone();
    let io = base.new_io(b, Interest::READ, Mode::Level, move |_, _, _, _, b| {
        let mut buf = [0; 16];
        let _ = b.read(&mut buf);
        c.reads.fetch_add(1, SeqCst);
    })?;
    let io = io.id();
    let c = counters.clone();
    let sig = base.new_signal(SIG, move |_, _, _, _| {
        c.signals.fetch_add(1, SeqCst);
    })?;

    // SAFETY: the child runs only `child` (no locks another thread could hold, no threads of its
    // own) and leaves with `_exit`, never returning into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        let code = child(base, io, sig, &mut a, &counters, reinit);
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `status` is a valid out-parameter; `pid` is our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child failed (see `child`), reinit {reinit}"
    );

    // The child's callbacks ran in its own memory; the signal went to its own pipe.
    assert_eq!(counters.reads.load(SeqCst), 0);
    base.run_nonblocking(&mut ())?;
    assert_eq!(
        counters.signals.load(SeqCst),
        0,
        "the child's signal reached the parent's pipe"
    );
    // The child consumed its byte and deleted its registration: the parent's still stands.
    assert_eq!(base.pending(io)?, Readiness::READ);
    a.write_all(b"p")?;
    base.exit_after(Duration::from_secs(20)); // if the parent's registration were gone
    assert_eq!(base.run_with(LoopFlags::ONCE, &mut ())?, Exit::Exited);
    assert_eq!(
        counters.reads.load(SeqCst),
        1,
        "the parent still hears its fd"
    );
    // SAFETY: raise takes no pointers; the parent's handler is still installed for SIG.
    assert_eq!(unsafe { libc::raise(SIG) }, 0);
    base.run_once(&mut ())?;
    assert_eq!(counters.signals.load(SeqCst), 1, "and its signal");
    base.free(sig)?;
    Ok(())
}
