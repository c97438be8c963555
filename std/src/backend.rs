//! The std adapter's backend: the core's [`Hosted`] backends, with epoll's dispatch apart.
//!
//! `Hosted` dispatches through a `match` over every backend compiled in, and the compiler
//! inlines all of them into the loop's step: a large function whose common path, epoll's,
//! pays for the others in spills and branches (31 instructions per event on the chain
//! benchmark, against the core over `Epoll` alone). Here the loop inlines epoll's dispatch
//! alone and calls the others: 13 of the 31 come back; the rest are the spills that keep the
//! core's sink in memory for that call.

use std::time::Duration;

use eventop_core::sys::hosted::Hosted;
#[cfg(any(target_os = "linux", target_os = "android"))]
use eventop_core::sys::hosted::Multiplexer;
use eventop_core::{Backend, Change, Error, FdInfo, Info, Signals, Sink, What};

use crate::tables::Growable;

/// Whichever hosted backend selection picked.
pub(crate) struct Loop(pub(crate) Hosted<Growable>);

/// Any backend but epoll: out of the loop's way.
#[cold]
#[inline(never)]
fn dispatch_other<S: Sink>(
    hosted: &mut Hosted<Growable>,
    timeout: Option<Duration>,
    sink: &mut S,
) -> Result<usize, Error> {
    hosted.dispatch(timeout, sink)
}

// Every method forwards to `Hosted`, defaulted ones included.
impl Backend for Loop {
    fn info(&self) -> Info {
        self.0.info()
    }
    #[inline]
    fn add(&mut self, fd: i32, old: What, added: What, fdinfo: &mut FdInfo) -> Result<(), Error> {
        self.0.add(fd, old, added, fdinfo)
    }
    #[inline]
    fn del(&mut self, fd: i32, old: What, removed: What, fdinfo: &mut FdInfo) -> Result<(), Error> {
        self.0.del(fd, old, removed, fdinfo)
    }
    fn check(&self, fd: i32) -> Result<(), Error> {
        self.0.check(fd)
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        self.0.apply(changes)
    }
    #[inline]
    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Multiplexer::Epoll(epoll) = &mut self.0.multiplexer {
            return epoll.dispatch(timeout, sink);
        }
        dispatch_other(&mut self.0, timeout, sink)
    }
    fn reinit(&mut self) -> Result<(), Error> {
        self.0.reinit()
    }
    fn signals(&mut self) -> Option<&mut dyn Signals> {
        self.0.signals()
    }
    fn fd(&self) -> Option<i32> {
        self.0.fd()
    }
}
