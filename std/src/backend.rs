//! The std adapter's backend for every hosted backend but epoll (see
//! [`Core`](crate::cores::Core)).

use std::os::fd::RawFd;
use std::time::Duration;

use eventop_core::sys::hosted::Hosted;
use eventop_core::{Backend, Change, Error, FdInfo, Info, Signals, Sink, What};

use crate::tables::Growable;

/// Any other hosted backend. Its readiness goes through a buffer of its own on its way to the
/// core's sink: the backends' dispatch is then compiled for that buffer, and epoll's for the
/// core's sink stays inlined in one step only (the epoll core's).
pub(crate) struct Loop {
    hosted: Hosted<Growable>,
    ready: Vec<(RawFd, What)>,
}

impl Loop {
    pub(crate) fn new(hosted: Hosted<Growable>) -> Loop {
        Loop {
            hosted,
            ready: Vec::new(),
        }
    }
}

/// A sink that keeps what it is told.
struct Collect<'a>(&'a mut Vec<(RawFd, What)>);

impl Sink for Collect<'_> {
    fn ready(&mut self, fd: RawFd, what: What) {
        self.0.push((fd, what));
    }
}

// Every method forwards to `Hosted`, defaulted ones included.
impl Backend for Loop {
    fn info(&self) -> Info {
        self.hosted.info()
    }
    fn add(&mut self, fd: i32, old: What, added: What, fdinfo: &mut FdInfo) -> Result<(), Error> {
        self.hosted.add(fd, old, added, fdinfo)
    }
    fn del(&mut self, fd: i32, old: What, removed: What, fdinfo: &mut FdInfo) -> Result<(), Error> {
        self.hosted.del(fd, old, removed, fdinfo)
    }
    fn check(&self, fd: i32) -> Result<(), Error> {
        self.hosted.check(fd)
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        self.hosted.apply(changes)
    }
    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error> {
        self.ready.clear();
        let r = self.hosted.dispatch(timeout, &mut Collect(&mut self.ready));
        for &(fd, what) in &self.ready {
            sink.ready(fd, what);
        }
        r
    }
    fn reinit(&mut self) -> Result<(), Error> {
        self.hosted.reinit()
    }
    fn signals(&mut self) -> Option<&mut dyn Signals> {
        self.hosted.signals()
    }
    fn fd(&self) -> Option<i32> {
        self.hosted.fd()
    }
}
