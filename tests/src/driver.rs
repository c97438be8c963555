//! A tiny stand-in for the event base: applies interest through a backend the way the base will.
//!
//! It keeps what the base keeps per fd (the interest the backend has, whether it is
//! edge-triggered, and the fd's [`FdInfo`] word) and talks to the backend only on changes of
//! interest: `add`/`del` for ordinary backends, a [`Changelist`] flushed before each dispatch for
//! changelist backends. Every report a dispatch makes is checked against the contract.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use eventop_core::{Backend, Change, Changelist, Error, FdInfo, Features, Info, RawFd, What};

use crate::Grow;

/// What the base keeps for one fd.
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    interest: What,
    et: bool,
    info: FdInfo,
}

/// A backend, driven as the base drives it.
pub struct Driver<B: Backend> {
    backend: B,
    changelist: Option<Changelist<Grow<Change>>>,
    fds: HashMap<RawFd, Entry>,
}

/// The reports of one dispatch.
#[derive(Clone, Debug, Default)]
pub struct Reports {
    /// Every `(fd, what)` the backend reported, in order.
    pub raw: Vec<(RawFd, What)>,
    /// The reports merged per fd (a backend may report an fd more than once).
    pub merged: HashMap<RawFd, What>,
}

impl Reports {
    /// What was reported for `fd` (empty if nothing).
    pub fn get(&self, fd: RawFd) -> What {
        self.merged.get(&fd).copied().unwrap_or_default()
    }

    /// Whether nothing was reported at all.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

impl<B: Backend> Driver<B> {
    /// Drives `backend`; a changelist backend gets a growable changelist.
    pub fn new(backend: B) -> Self {
        let changelist = backend
            .info()
            .changelist
            .then(|| Changelist::new(Grow::default()));
        Driver {
            backend,
            changelist,
            fds: HashMap::new(),
        }
    }

    /// The backend's info.
    pub fn info(&self) -> Info {
        self.backend.info()
    }

    /// The backend's features.
    pub fn features(&self) -> Features {
        self.backend.info().features
    }

    /// The backend's name.
    pub fn name(&self) -> &'static str {
        self.backend.info().name
    }

    /// The interest the driver believes `fd` has.
    pub fn interest(&self, fd: RawFd) -> What {
        self.fds.get(&fd).map(|e| e.interest).unwrap_or_default()
    }

    /// Starts watching `what` (a subset of `READ | WRITE | CLOSED`, plus `ET`) on `fd`. Bits
    /// already watched are not passed again (the base never does). For a changelist backend the
    /// change is only recorded: errors surface at [`flush`](Self::flush) or dispatch.
    pub fn add(&mut self, fd: RawFd, what: What) -> Result<(), Error> {
        let e = self.fds.entry(fd).or_default();
        let old = e.interest;
        let added = what & What::IO & !old;
        if added.is_empty() {
            return Ok(());
        }
        let et = what.contains(What::ET);
        let events = added | (what & What::ET);
        match &mut self.changelist {
            Some(cl) => cl
                .record(Change::add(fd, old, events), &mut e.info)
                .expect("growable changelist storage is never full"),
            None => self.backend.add(fd, old, events, &mut e.info)?,
        }
        e.interest = old | added;
        e.et = et;
        Ok(())
    }

    /// Stops watching `what` on `fd` (bits not watched are ignored, as by the base).
    pub fn del(&mut self, fd: RawFd, what: What) -> Result<(), Error> {
        let e = self.fds.entry(fd).or_default();
        let old = e.interest;
        let removed = what & What::IO & old;
        if removed.is_empty() {
            return Ok(());
        }
        let events = removed | if e.et { What::ET } else { What::empty() };
        match &mut self.changelist {
            Some(cl) => cl
                .record(Change::del(fd, old, events), &mut e.info)
                .expect("growable changelist storage is never full"),
            None => self.backend.del(fd, old, events, &mut e.info)?,
        }
        e.interest = old - removed;
        Ok(())
    }

    /// Adds, then flushes: the error of the add, wherever the backend reports it.
    pub fn add_now(&mut self, fd: RawFd, what: What) -> Result<(), Error> {
        self.add(fd, what)?;
        self.flush()
    }

    /// Forgets `fd` after a failed add, as the base undoes its count (the word goes back to zero).
    pub fn forget(&mut self, fd: RawFd) {
        self.fds.remove(&fd);
    }

    /// Hands pending changes to a changelist backend and clears them, even when `apply` fails
    /// (a no-op for others, and when nothing is pending).
    pub fn flush(&mut self) -> Result<(), Error> {
        match &mut self.changelist {
            Some(cl) if !cl.is_empty() => {
                let r = self.backend.apply(cl.changes());
                cl.clear();
                r
            }
            _ => Ok(()),
        }
    }

    /// `reinit`, then what the base does afterwards: every fd's word reset, nothing watched.
    pub fn reinit(&mut self) -> Result<(), Error> {
        if let Some(cl) = &mut self.changelist {
            cl.clear();
        }
        self.fds.clear();
        self.backend.reinit()
    }

    /// Flushes, dispatches once and checks every report against the contract: a non-empty
    /// subset of `READ | WRITE | CLOSED`, for an fd that is watched, and a return value equal to
    /// the number of reports.
    pub fn dispatch(&mut self, timeout: Option<Duration>) -> Result<Reports, Error> {
        self.flush()?;
        let mut raw = Vec::new();
        let n = self
            .backend
            .dispatch(timeout, &mut |fd: RawFd, what: What| raw.push((fd, what)))?;
        let name = self.name();
        assert_eq!(
            n,
            raw.len(),
            "{name}: dispatch returned {n} but made {} reports",
            raw.len()
        );
        let mut merged = HashMap::new();
        for &(fd, what) in &raw {
            assert!(
                !what.is_empty() && What::IO.contains(what),
                "{name}: fd {fd} reported with {what:?}, not a non-empty subset of READ|WRITE|CLOSED"
            );
            assert!(
                !self.interest(fd).is_empty(),
                "{name}: fd {fd} reported ({what:?}) but nothing watches it"
            );
            *merged.entry(fd).or_insert(What::empty()) |= what;
        }
        Ok(Reports { raw, merged })
    }

    /// Dispatches (100 ms at a time, 5 s at most) until `fd` is reported; returns what that
    /// dispatch reported for it, or empty if it never was.
    pub fn wait_for(&mut self, fd: RawFd) -> What {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let r = self
                .dispatch(Some(Duration::from_millis(100)))
                .expect("dispatch");
            let what = r.get(fd);
            if !what.is_empty() {
                return what;
            }
        }
        What::empty()
    }

    /// Dispatches with a zero timeout (a poll).
    pub fn poll_now(&mut self) -> Reports {
        self.dispatch(Some(Duration::ZERO)).expect("dispatch")
    }

    /// The backend itself.
    pub fn backend(&mut self) -> &mut B {
        &mut self.backend
    }
}
