//! The core over whichever backend selection picked: over epoll's own type when it is epoll
//! (the common case), so that the loop's step is compiled for epoll alone, and over the hosted
//! enum of every backend otherwise. A call picks its core with one branch.
//!
//! The core's step compiled for the enum cost about 10 instructions more per event on the
//! chain benchmark than for epoll alone, even with epoll's dispatch apart (register spills, not
//! branches). The other backends report through a buffer ([`Loop`]), so that epoll's dispatch
//! is compiled for the core's sink in one step only, and inlined there.

use std::time::Duration;

use eventop_core::base::{Counts, EventBase, EventInfo, Handle, Parts, Spec, Step};
use eventop_core::sys::clock::Monotonic;
use eventop_core::sys::hosted::Hosted;
#[cfg(any(target_os = "linux", target_os = "android"))]
use eventop_core::sys::hosted::Multiplexer;
use eventop_core::{Backend, BaseFlags, Error, Info, LoopFlags, RawFd, What};

#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::backend::EpollLoop;
use crate::backend::Loop;
use crate::tables::Growable;

/// An event base, over epoll or over any hosted backend. With a tag of its own: one byte to
/// compare per step (a niche in the cores took a 16-byte compare).
#[repr(u8)]
pub(crate) enum Core {
    /// Over epoll.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(OverEpoll),
    /// Over any other hosted backend.
    Other(OverOther),
}

/// `$e` with `$c` bound to the core, whichever it is.
macro_rules! each {
    ($core:expr, $c:ident => $e:expr) => {
        match $core {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Core::Epoll($c) => $e,
            Core::Other($c) => $e,
        }
    };
}

/// The core over epoll, the backend of one of [`Core`]'s kinds.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) type OverEpoll = EventBase<EpollLoop, Monotonic, Growable>;
/// The core over any other backend.
pub(crate) type OverOther = EventBase<Loop, Monotonic, Growable>;

impl Core {
    /// The core, if over epoll.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline(always)]
    pub(crate) fn epoll(&mut self) -> Option<&mut OverEpoll> {
        match self {
            Core::Epoll(c) => Some(c),
            _ => None,
        }
    }

    /// The core, if over another backend.
    #[inline(always)]
    pub(crate) fn other(&mut self) -> Option<&mut OverOther> {
        match self {
            Core::Other(c) => Some(c),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            _ => None,
        }
    }

    /// A core over `backend`, epoll's own type if it is epoll.
    pub(crate) fn new(backend: Hosted<Growable>, flags: BaseFlags) -> Core {
        let Hosted { multiplexer, .. } = backend;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let multiplexer = match multiplexer {
            Multiplexer::Epoll(epoll) => {
                let backend = EpollLoop::from(epoll);
                return Core::Epoll(EventBase::new(backend, Monotonic, Parts::default(), flags));
            }
            other => other,
        };
        let backend = Loop::new(Hosted::from(multiplexer));
        Core::Other(EventBase::new(backend, Monotonic, Parts::default(), flags))
    }

    pub(crate) fn info(&self) -> Info {
        each!(self, c => c.backend().info())
    }

    pub(crate) fn fd(&self) -> Option<RawFd> {
        each!(self, c => c.backend().fd())
    }

    pub(crate) fn set_priorities(&mut self, n: u8) -> Result<(), Error> {
        each!(self, c => c.set_priorities(n))
    }

    pub(crate) fn priorities(&self) -> u8 {
        each!(self, c => c.priorities())
    }

    #[inline]
    pub(crate) fn default_priority(&self) -> u8 {
        each!(self, c => c.default_priority())
    }

    pub(crate) fn now(&mut self) -> u64 {
        each!(self, c => c.now())
    }

    pub(crate) fn update_cache_time(&mut self) {
        each!(self, c => c.update_cache_time())
    }

    pub(crate) fn counts(&self) -> Counts {
        each!(self, c => c.counts())
    }

    pub(crate) fn take_deferred_error(&mut self) -> Option<Error> {
        each!(self, c => c.take_deferred_error())
    }

    #[inline]
    pub(crate) fn add(
        &mut self,
        current: Option<Handle>,
        spec: &Spec,
        timeout: Option<Duration>,
    ) -> Result<Handle, Error> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Core::Epoll(c) => c.add(current, spec, timeout),
            Core::Other(c) => add_other(c, current, spec, timeout),
        }
    }

    #[inline]
    pub(crate) fn del(&mut self, h: Handle, token: usize) -> Result<(), Error> {
        each!(self, c => c.del(h, token))
    }

    pub(crate) fn del_timer(&mut self, h: Handle, token: usize) -> Result<(), Error> {
        each!(self, c => c.del_timer(h, token))
    }

    pub(crate) fn set_priority(&mut self, h: Handle, token: usize, pri: u8) -> Result<(), Error> {
        each!(self, c => c.set_priority(h, token, pri))
    }

    #[inline]
    pub(crate) fn activate(
        &mut self,
        current: Option<Handle>,
        spec: &Spec,
        res: What,
        ncalls: u16,
    ) -> Result<Handle, Error> {
        each!(self, c => c.activate(current, spec, res, ncalls))
    }

    pub(crate) fn pending(&self, h: Handle, token: usize, what: What) -> (What, Option<u64>) {
        each!(self, c => c.pending(h, token, what))
    }

    pub(crate) fn set_internal(&mut self, h: Handle, token: usize) -> Result<(), Error> {
        each!(self, c => c.set_internal(h, token))
    }

    pub(crate) fn is_held(&self, h: Handle, token: usize) -> bool {
        each!(self, c => c.is_held(h, token))
    }

    pub(crate) fn events(&self) -> Vec<EventInfo> {
        each!(self, c => c.events().collect())
    }

    pub(crate) fn flags(&self) -> BaseFlags {
        each!(self, c => c.flags())
    }

    pub(crate) fn loopbreak(&mut self) {
        each!(self, c => c.loopbreak())
    }

    pub(crate) fn loopcontinue(&mut self) {
        each!(self, c => c.loopcontinue())
    }

    pub(crate) fn loopexit(&mut self, after: Option<Duration>) {
        each!(self, c => c.loopexit(after))
    }

    pub(crate) fn next_deadline(&self) -> Option<u64> {
        each!(self, c => c.next_deadline())
    }

    #[inline]
    pub(crate) fn start(&mut self, flags: LoopFlags) -> Result<(), Error> {
        each!(self, c => c.start(flags))
    }

    #[inline(always)]
    pub(crate) fn step(&mut self) -> Result<Step, Error> {
        each!(self, c => c.step())
    }

    pub(crate) fn reinit(&mut self) -> Result<(), Error> {
        each!(self, c => c.reinit())
    }
}

/// [`Core::add`] over a backend other than epoll, out of line: inlined, it doubled the size
/// of every `add` in a callback, and a callback that adds its event again was itself no longer
/// inlined.
#[inline(never)]
fn add_other(
    c: &mut OverOther,
    current: Option<Handle>,
    spec: &Spec,
    timeout: Option<Duration>,
) -> Result<Handle, Error> {
    c.add(current, spec, timeout)
}
