//! `Builder`: backend choice (avoid, require, environment), flags and priorities.

mod common;

use std::cell::RefCell;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use eventop::{Base, BaseFlags, Builder, Exit, Features, What};

/// An environment in which exactly the variables named are set.
fn env_with(set: &'static [&'static str]) -> impl FnMut(&str) -> bool + 'static {
    move |name| set.contains(&name)
}

#[test]
fn default_builder_picks_epoll_with_one_priority() -> io::Result<()> {
    for b in [Builder::new(), Builder::default()] {
        let mut base = b.env(|_| false).build()?;
        assert_eq!(base.backend_name(), "epoll");
        assert!(base
            .features()
            .contains(Features::ET | Features::O1 | Features::EARLY_CLOSE));
        assert_eq!(base.flags(), BaseFlags::empty());
        // One priority: 0 is the only valid one.
        let ev = base.new_user(|_, _, _| {})?;
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
        let reader = base.new_io(b.as_raw_fd(), What::READ, move |_, _, what| {
            let mut buf = [0; 8];
            let n = (&b).read(&mut buf).unwrap();
            push(&s, (what, n));
        })?;
        base.add(reader, None)?;
        let s = seen.clone();
        let timer = base.new_timer(false, move |_, _, what| push(&s, (what, 0)))?;
        base.add(timer, Some(Duration::from_millis(30)))?;
        a.write_all(b"xy")?;
        assert_eq!(base.run()?, Exit::Empty, "{name}");
        assert_eq!(
            entries(&seen),
            vec![(What::READ, 2), (What::TIMEOUT, 0)],
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
        .build()?;
    assert_eq!(base.backend_name(), "poll");
    let base = Builder::new()
        .env(|_| false)
        .require(Features::O1)
        .build()?;
    assert_eq!(base.backend_name(), "epoll");
    #[cfg(eventop_libkqueue)]
    {
        // kqueue is O(1) too.
        let base = Builder::new()
            .env(|_| false)
            .avoid("epoll")
            .require(Features::O1)
            .build()?;
        assert_eq!(base.backend_name(), "kqueue");
    }

    let err = Builder::new()
        .env(|_| false)
        .avoid("epoll")
        .avoid("kqueue")
        .require(Features::O1)
        .build()
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
    let base = Builder::new().env(|n| n == "EVENT_NOEPOLL").build()?;
    assert_eq!(base.backend_name(), "poll");
    let base = Builder::new()
        .env(env_with(&["EVENT_NOEPOLL", "EVENT_NOPOLL"]))
        .build()?;
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
        .build()
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
        .build()
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
        .build()?;
    assert_eq!(base.backend_name(), "epoll");
    assert!(
        asked.borrow().iter().any(|n| n == "EVENT_NOEPOLL"),
        "{:?}",
        asked.borrow()
    );

    let asked = Rc::new(RefCell::new(Vec::<String>::new()));
    let a = asked.clone();
    let base = Builder::new()
        .flags(BaseFlags::IGNORE_ENV)
        .env(move |n| {
            a.borrow_mut().push(n.to_owned());
            true
        })
        .build()?;
    assert_eq!(base.backend_name(), "epoll", "the environment is ignored");
    assert!(base.flags().contains(BaseFlags::IGNORE_ENV));
    assert!(asked.borrow().is_empty(), "{:?}", asked.borrow());
    Ok(())
}

#[test]
fn changelist_and_precise_timer_from_flags_or_env() -> io::Result<()> {
    let base = Builder::new()
        .env(|_| false)
        .flags(BaseFlags::EPOLL_USE_CHANGELIST)
        .build()?;
    assert_eq!(base.backend_name(), "epoll (with changelist)");
    assert!(base.flags().contains(BaseFlags::EPOLL_USE_CHANGELIST));
    assert!(base.dump().contains("epoll (with changelist)"));

    let base = Builder::new()
        .env(env_with(&[
            "EVENT_EPOLL_USE_CHANGELIST",
            "EVENT_PRECISE_TIMER",
        ]))
        .build()?;
    assert_eq!(base.backend_name(), "epoll (with changelist)");
    assert!(base
        .flags()
        .contains(BaseFlags::EPOLL_USE_CHANGELIST | BaseFlags::PRECISE_TIMER));

    // flags() accumulates.
    let base = Builder::new()
        .env(|_| false)
        .flags(BaseFlags::NO_CACHE_TIME)
        .flags(BaseFlags::PRECISE_TIMER)
        .build()?;
    assert_eq!(
        base.flags() & (BaseFlags::NO_CACHE_TIME | BaseFlags::PRECISE_TIMER),
        BaseFlags::NO_CACHE_TIME | BaseFlags::PRECISE_TIMER
    );
    assert_eq!(base.backend_name(), "epoll");
    Ok(())
}

#[test]
fn changelist_base_runs_io() -> io::Result<()> {
    let mut base = Builder::new()
        .env(|_| false)
        .flags(BaseFlags::EPOLL_USE_CHANGELIST)
        .build()?;
    let (mut a, b) = UnixStream::pair()?;
    let seen = log();
    let s = seen.clone();
    let ev = base.new_io(
        b.as_raw_fd(),
        What::READ | What::PERSIST,
        move |base, ev, what| {
            let mut buf = [0; 8];
            let _ = (&b).read(&mut buf).unwrap();
            push(&s, what);
            base.free(ev).unwrap();
        },
    )?;
    base.add(ev, None)?;
    a.write_all(b"1")?;
    assert_eq!(base.run()?, Exit::Empty);
    assert_eq!(entries(&seen), vec![What::READ]);
    Ok(())
}

#[test]
fn priorities_range() -> io::Result<()> {
    let err = Builder::new()
        .env(|_| false)
        .priorities(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("priorities(0)"), "{err}");

    let mut base = Builder::new().env(|_| false).priorities(255).build()?;
    let order = log();
    let mut evs = Vec::new();
    for pri in [254u8, 0, 127] {
        let o = order.clone();
        let ev = base.new_user(move |_, _, _| push(&o, pri))?;
        base.set_priority(ev, pri)?;
        evs.push(ev);
    }
    // The default is the middle priority: between 0 and 254.
    let o = order.clone();
    let mid = base.new_user(move |_, _, _| push(&o, 200))?;
    assert!(base.set_priority(evs[0], 255).is_err());
    for ev in evs.iter().chain([&mid]) {
        base.activate(*ev, What::READ)?;
    }
    assert_eq!(base.run()?, Exit::Empty);
    // `mid` (default 127) was activated after the explicit 127 one: FIFO within a priority.
    assert_eq!(entries(&order), vec![0, 127, 200, 254]);
    Ok(())
}

#[test]
fn set_priorities_on_a_base() -> io::Result<()> {
    let mut base = Base::new()?;
    assert_eq!(
        base.set_priorities(0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    base.set_priorities(4)?;
    let ev = base.new_user(|_, _, _| {})?;
    base.set_priority(ev, 3)?;
    base.activate(ev, What::READ)?;
    // Refused while an event is active, as libevent's event_base_priority_init.
    assert!(base.set_priorities(2).is_err());
    assert_eq!(base.run()?, Exit::Empty);
    base.set_priorities(2)?;
    Ok(())
}

#[test]
fn a_changelist_error_is_kept_not_dropped() -> io::Result<()> {
    let mut base = Builder::new()
        .env(|_| false)
        .flags(BaseFlags::EPOLL_USE_CHANGELIST)
        .build()?;
    let (a, _b) = UnixStream::pair()?;
    let ev = base.new_io(a.as_raw_fd(), What::READ, |_, _, _| {})?;
    base.add(ev, None)?; // recorded; the kernel hears of it at the next wait
    assert!(base.take_deferred_error().is_none());
    // Before that wait the number comes to name a regular file, which `add` could not know
    // (it refuses one it is given): only the kernel can tell, later.
    let file = std::fs::File::open("/proc/self/exe")?;
    // SAFETY: both fds are open and this test's; `a` now refers to the file.
    let rc = unsafe { libc::dup2(file.as_raw_fd(), a.as_raw_fd()) };
    assert_eq!(rc, a.as_raw_fd());
    base.run_nonblocking()?;
    let err = base
        .take_deferred_error()
        .expect("the refused change is kept");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(base.take_deferred_error().is_none(), "taken once");
    Ok(())
}
