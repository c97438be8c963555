//! `Builder`: backend choice (avoid, require, environment), flags and priorities.

mod common;

use std::cell::RefCell;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use eventop::{Base, Builder, Exit, Features, Interest, Mode, Readiness, TimeoutAction};

/// An environment in which exactly the variables named are set.
fn env_with(set: &'static [&'static str]) -> impl FnMut(&str) -> bool + 'static {
    move |name| set.contains(&name)
}

#[test]
fn default_builder_picks_epoll_with_one_priority() -> io::Result<()> {
    for b in [Builder::new(), Builder::default()] {
        let mut base = b.env(|_| false).build::<()>()?;
        assert_eq!(base.backend_name(), "epoll");
        assert!(base
            .features()
            .contains(Features::ET | Features::O1 | Features::EARLY_CLOSE));
        assert!(!base.changelist() && base.caches_time());
        // One priority: 0 is the only valid one.
        let ev = base.new_user(|_, _, _, _| {})?;
        base.set_priority(ev, 0)?;
        assert_eq!(
            base.set_priority(ev, 1).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
    Ok(())
}

#[test]
fn avoid_walks_down_the_preference_order() -> io::Result<()> {
    for (name, avoid) in BACKENDS {
        let base = base_avoiding(avoid)?;
        assert_eq!(base.backend_name(), *name, "avoiding {avoid:?}");
    }
    // Avoiding a name that does not exist changes nothing.
    assert_eq!(base_avoiding(&["io_uring"])?.backend_name(), "epoll");
    Ok(())
}

#[test]
fn every_backend_runs_io_and_timers() -> io::Result<()> {
    for (name, avoid) in BACKENDS {
        let mut base = base_avoiding(avoid)?;
        assert_eq!(base.backend_name(), *name);
        let seen = log();
        let (mut a, b) = UnixStream::pair()?;
        let s = seen.clone();
        base.new_io(b, Interest::READ, Mode::OneShot, move |_, _, _, r, b| {
            let mut buf = [0; 8];
            let n = b.read(&mut buf).unwrap();
            push(&s, (r, n));
        })?;
        let s = seen.clone();
        base.new_timer(Duration::from_millis(30), move |_, _, _| {
            push(&s, (Readiness::TIMEOUT, 0));
            TimeoutAction::Drop
        })?;
        a.write_all(b"xy")?;
        assert_eq!(base.run(&mut ())?, Exit::Empty, "{name}");
        assert_eq!(
            entries(&seen),
            vec![(Readiness::READ, 2), (Readiness::TIMEOUT, 0)],
            "{name}"
        );
    }
    Ok(())
}

#[test]
fn require_filters_backends() -> io::Result<()> {
    // poll has early-close reports on Linux, select does not.
    let base = Builder::new()
        .env(|_| false)
        .avoid("epoll")
        .require(Features::EARLY_CLOSE)
        .build::<()>()?;
    assert_eq!(base.backend_name(), "poll");
    let base = Builder::new()
        .env(|_| false)
        .require(Features::O1)
        .build::<()>()?;
    assert_eq!(base.backend_name(), "epoll");
    #[cfg(eventop_libkqueue)]
    {
        // kqueue is O(1) too.
        let base = Builder::new()
            .env(|_| false)
            .avoid("epoll")
            .require(Features::O1)
            .build::<()>()?;
        assert_eq!(base.backend_name(), "kqueue");
    }

    let err = Builder::new()
        .env(|_| false)
        .avoid("epoll")
        .avoid("kqueue")
        .require(Features::O1)
        .build::<()>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let text = err.to_string();
    assert!(text.contains("epoll avoided"), "{text}");
    assert!(text.contains("poll lacks features"), "{text}");
    assert!(text.contains("select lacks features"), "{text}");
    Ok(())
}

#[test]
fn env_noepoll_gives_poll() -> io::Result<()> {
    let base = Builder::new().env(|n| n == "EVENT_NOEPOLL").build::<()>()?;
    assert_eq!(base.backend_name(), "poll");
    let base = Builder::new()
        .env(env_with(&["EVENT_NOEPOLL", "EVENT_NOPOLL"]))
        .build::<()>()?;
    assert_eq!(base.backend_name(), "select");
    Ok(())
}

#[test]
fn all_backends_disabled_is_unsupported_and_lists_them() {
    let err = Builder::new()
        .env(env_with(&[
            "EVENT_NOEPOLL",
            "EVENT_NOPOLL",
            "EVENT_NOSELECT",
            "EVENT_NOKQUEUE",
        ]))
        .build::<()>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let text = err.to_string();
    for (name, _) in BACKENDS {
        assert!(
            text.contains(&format!("{name} disabled by the environment")),
            "{name} missing from: {text}"
        );
    }

    // Mixed reasons are each reported.
    let err = Builder::new()
        .env(env_with(&["EVENT_NOSELECT"]))
        .avoid("epoll")
        .avoid("poll")
        .avoid("kqueue")
        .build::<()>()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("epoll avoided"), "{text}");
    assert!(text.contains("poll avoided"), "{text}");
    assert!(
        text.contains("select disabled by the environment"),
        "{text}"
    );
}

#[test]
fn env_lookup_is_consulted_unless_ignore_env() -> io::Result<()> {
    let asked = Rc::new(RefCell::new(Vec::<String>::new()));
    let a = asked.clone();
    let base = Builder::new()
        .env(move |n| {
            a.borrow_mut().push(n.to_owned());
            false
        })
        .build::<()>()?;
    assert_eq!(base.backend_name(), "epoll");
    assert!(
        asked.borrow().iter().any(|n| n == "EVENT_NOEPOLL"),
        "{:?}",
        asked.borrow()
    );

    let asked = Rc::new(RefCell::new(Vec::<String>::new()));
    let a = asked.clone();
    let base = Builder::new()
        .ignore_env()
        .env(move |n| {
            a.borrow_mut().push(n.to_owned());
            true
        })
        .build::<()>()?;
    assert_eq!(base.backend_name(), "epoll", "the environment is ignored");
    assert!(asked.borrow().is_empty(), "{:?}", asked.borrow());
    Ok(())
}

#[test]
fn changelist_and_precise_timer_from_flags_or_env() -> io::Result<()> {
    let base = Builder::new()
        .env(|_| false)
        .epoll_changelist()
        .build::<()>()?;
    assert_eq!(base.backend_name(), "epoll (with changelist)");
    assert!(base.changelist());
    assert!(base.dump().contains("epoll (with changelist)"));

    let base = Builder::new()
        .env(env_with(&[
            "EVENT_EPOLL_USE_CHANGELIST",
            "EVENT_PRECISE_TIMER",
        ]))
        .build::<()>()?;
    assert_eq!(base.backend_name(), "epoll (with changelist)");
    // EVENT_PRECISE_TIMER is accepted and changes nothing: timers are always precise.
    assert!(base.changelist());

    // Options accumulate.
    let base = Builder::new()
        .env(|_| false)
        .no_cache_time()
        .build::<()>()?;
    assert!(!base.caches_time() && !base.changelist());
    assert_eq!(base.backend_name(), "epoll");
    Ok(())
}

#[test]
fn changelist_base_runs_io() -> io::Result<()> {
    let mut base = Builder::new()
        .env(|_| false)
        .epoll_changelist()
        .build::<()>()?;
    let (mut a, b) = UnixStream::pair()?;
    let seen = log();
    let s = seen.clone();
    base.new_io(b, Interest::READ, Mode::Level, move |base, _, ev, r, b| {
        let mut buf = [0; 8];
        let _ = b.read(&mut buf).unwrap();
        push(&s, r);
        base.free(ev).unwrap();
    })?;
    a.write_all(b"1")?;
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    assert_eq!(entries(&seen), vec![Readiness::READ]);
    Ok(())
}

#[test]
fn priorities_range() -> io::Result<()> {
    let err = Builder::new()
        .env(|_| false)
        .priorities(0)
        .build::<()>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("at least one priority"), "{err}");

    let mut base = Builder::new()
        .env(|_| false)
        .priorities(255)
        .build::<()>()?;
    let order = log();
    let mut evs = Vec::new();
    for pri in [254u8, 0, 127] {
        let o = order.clone();
        let ev = base.new_user(move |_, _, _, _| push(&o, pri))?;
        base.set_priority(ev, pri)?;
        evs.push(ev);
    }
    // The default is the middle priority: between 0 and 254.
    let o = order.clone();
    let mid = base.new_user(move |_, _, _, _| push(&o, 200))?;
    assert!(base.set_priority(evs[0], 255).is_err());
    for ev in evs.iter().chain([&mid]) {
        base.activate(*ev, Readiness::READ)?;
    }
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    // `mid` (default 127) was activated after the explicit 127 one: FIFO within a priority.
    assert_eq!(entries(&order), vec![0, 127, 200, 254]);
    Ok(())
}

#[test]
fn set_priorities_on_a_base() -> io::Result<()> {
    let mut base = Base::<()>::new()?;
    assert_eq!(
        base.set_priorities(0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    base.set_priorities(4)?;
    let ev = base.new_user(|_, _, _, _| {})?;
    base.set_priority(ev, 3)?;
    base.activate(ev, Readiness::READ)?;
    // Refused while an event is active, as libevent's event_base_priority_init.
    assert!(base.set_priorities(2).is_err());
    assert_eq!(base.run(&mut ())?, Exit::Empty);
    base.set_priorities(2)?;
    Ok(())
}

#[test]
fn a_changelist_error_is_kept_not_dropped() -> io::Result<()> {
    let mut base = Builder::new()
        .env(|_| false)
        .epoll_changelist()
        .build::<()>()?;
    let (a, _b) = UnixStream::pair()?;
    // Recorded; the kernel hears of it at the next wait.
    // SAFETY: `a` stays open until the end of the test, past the event; it comes to name another
    // file below on purpose, the breach of the contract this test is about (the base holds only
    // the number, so it costs no memory safety: the kernel refuses the change, and the base keeps
    // the error).
    let _ev = unsafe {
        base.new_raw_io(
            a.as_raw_fd(),
            Interest::READ,
            Mode::OneShot,
            |_, _, _, _| {},
        )?
    };
    assert!(base.take_deferred_error().is_none());
    // Before that wait the number comes to name a regular file, which `add` could not know
    // (it refuses one it is given): only the kernel can tell, later.
    let file = std::fs::File::open("/proc/self/exe")?;
    // SAFETY: both fds are open and this test's; `a` now refers to the file.
    let rc = unsafe { libc::dup2(file.as_raw_fd(), a.as_raw_fd()) };
    assert_eq!(rc, a.as_raw_fd());
    base.run_nonblocking(&mut ())?;
    let err = base
        .take_deferred_error()
        .expect("the refused change is kept");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(base.take_deferred_error().is_none(), "taken once");
    Ok(())
}
