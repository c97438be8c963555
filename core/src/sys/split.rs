//! An event base over whichever hosted backend selection picked: over epoll's own type when it is
//! epoll (the common case), so that the base's step, add and delete are compiled for epoll alone,
//! and over an adapter's type for every other backend (the [`Hosted`] enum, or a wrapper of it).
//! A call picks its base with one branch.

use core::time::Duration;

use super::clock::Monotonic;
#[cfg(any(target_os = "linux", target_os = "android"))]
use super::epoll::{Epoll, Event};
use super::hosted::{Buffers, Hosted};
#[cfg(any(target_os = "linux", target_os = "android"))]
use super::hosted::{Multiplexer, WithSignals};
use crate::base::{Counts, EventBase, EventInfo, Handle, Parts, Spec, Step, Tables};
use crate::{Backend, BaseFlags, Error, Info, LoopFlags, RawFd, What};

/// epoll and the signal pipe, with `F`'s buffer.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub type EpollLoop<F> = WithSignals<Epoll<<F as Buffers>::Of<Event>>>;

/// An event base over epoll's own type or over `O` (any other backend), its tables `T`; a tag
/// byte of its own (a niche in the bases took a 16-byte compare).
#[repr(u8)]
// Where there is no epoll, the small variant is `Never`, which is never made.
#[cfg_attr(
    not(any(target_os = "linux", target_os = "android")),
    allow(clippy::large_enum_variant)
)]
pub enum Split<F: Buffers, O: Backend, T: Tables> {
    /// Over epoll.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(EventBase<EpollLoop<F>, Monotonic, T>),
    /// Over any other backend.
    Other(EventBase<O, Monotonic, T>),
    /// Never made: where there is no epoll, it holds the `F` no other variant uses.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    #[doc(hidden)]
    Never(core::convert::Infallible, core::marker::PhantomData<F>),
}

/// `$e` with `$c` bound to the base, whichever it is.
macro_rules! each {
    ($split:expr, $c:ident => $e:expr) => {
        match $split {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Split::Epoll($c) => $e,
            Split::Other($c) => $e,
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Split::Never(never, _) => match *never {},
        }
    };
}

impl<F: Buffers, O: Backend, T: Tables> Split<F, O, T>
where
    T::Slots: Default,
    T::Fds: Default,
    T::Timers: Default,
    T::Changes: Default,
{
    /// A base over `backend`: epoll's own type if it is epoll, else `other(backend)`.
    pub fn new(backend: Hosted<F>, flags: BaseFlags, other: impl FnOnce(Hosted<F>) -> O) -> Self {
        let Hosted { multiplexer, .. } = backend;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let multiplexer = match multiplexer {
            Multiplexer::Epoll(epoll) => {
                let backend = WithSignals::from(epoll);
                return Split::Epoll(EventBase::new(backend, Monotonic, Parts::default(), flags));
            }
            other => other,
        };
        let backend = other(Hosted::from(multiplexer));
        Split::Other(EventBase::new(backend, Monotonic, Parts::default(), flags))
    }
}

impl<F: Buffers, O: Backend, T: Tables> Split<F, O, T> {
    /// The base, if over epoll.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline(always)]
    pub fn epoll(&mut self) -> Option<&mut EventBase<EpollLoop<F>, Monotonic, T>> {
        match self {
            Split::Epoll(c) => Some(c),
            _ => None,
        }
    }

    /// The base, if over another backend.
    #[inline(always)]
    pub fn other(&mut self) -> Option<&mut EventBase<O, Monotonic, T>> {
        match self {
            Split::Other(c) => Some(c),
            _ => None,
        }
    }

    /// The backend's description.
    pub fn info(&self) -> Info {
        each!(self, c => c.backend().info())
    }

    /// The backend's own fd, if it has one.
    pub fn fd(&self) -> Option<RawFd> {
        each!(self, c => c.backend().fd())
    }

    /// See [`EventBase::set_priorities`].
    pub fn set_priorities(&mut self, n: u8) -> Result<(), Error> {
        each!(self, c => c.set_priorities(n))
    }

    /// See [`EventBase::priorities`].
    pub fn priorities(&self) -> u8 {
        each!(self, c => c.priorities())
    }

    /// See [`EventBase::default_priority`].
    #[inline]
    pub fn default_priority(&self) -> u8 {
        each!(self, c => c.default_priority())
    }

    /// See [`EventBase::now`].
    pub fn now(&mut self) -> u64 {
        each!(self, c => c.now())
    }

    /// See [`EventBase::update_cache_time`].
    pub fn update_cache_time(&mut self) {
        each!(self, c => c.update_cache_time())
    }

    /// See [`EventBase::counts`].
    pub fn counts(&self) -> Counts {
        each!(self, c => c.counts())
    }

    /// See [`EventBase::take_deferred_error`].
    pub fn take_deferred_error(&mut self) -> Option<Error> {
        each!(self, c => c.take_deferred_error())
    }

    /// See [`EventBase::add`]; over another backend, out of line: inlined, it doubled the size
    /// of every `add` in a callback, and a callback that adds its event again was itself no
    /// longer inlined.
    #[inline]
    pub fn add(
        &mut self,
        current: Option<Handle>,
        spec: &Spec,
        timeout: Option<Duration>,
    ) -> Result<Handle, Error> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Split::Epoll(c) => c.add(current, spec, timeout),
            Split::Other(c) => add_other(c, current, spec, timeout),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Split::Never(never, _) => match *never {},
        }
    }

    /// See [`EventBase::del`].
    #[inline]
    pub fn del(&mut self, h: Handle, token: usize) -> Result<(), Error> {
        each!(self, c => c.del(h, token))
    }

    /// See [`EventBase::del_timer`].
    pub fn del_timer(&mut self, h: Handle, token: usize) -> Result<(), Error> {
        each!(self, c => c.del_timer(h, token))
    }

    /// See [`EventBase::set_priority`].
    pub fn set_priority(&mut self, h: Handle, token: usize, pri: u8) -> Result<(), Error> {
        each!(self, c => c.set_priority(h, token, pri))
    }

    /// See [`EventBase::activate`].
    #[inline]
    pub fn activate(
        &mut self,
        current: Option<Handle>,
        spec: &Spec,
        res: What,
        ncalls: u16,
    ) -> Result<Handle, Error> {
        each!(self, c => c.activate(current, spec, res, ncalls))
    }

    /// See [`EventBase::pending`].
    pub fn pending(&self, h: Handle, token: usize, what: What) -> (What, Option<u64>) {
        each!(self, c => c.pending(h, token, what))
    }

    /// See [`EventBase::set_internal`].
    pub fn set_internal(&mut self, h: Handle, token: usize) -> Result<(), Error> {
        each!(self, c => c.set_internal(h, token))
    }

    /// See [`EventBase::is_held`].
    #[inline]
    pub fn is_held(&self, h: Handle, token: usize) -> bool {
        each!(self, c => c.is_held(h, token))
    }

    /// Calls `f` with every event the base holds, in slot order ([`EventBase::events`]).
    pub fn each_event(&self, mut f: impl FnMut(EventInfo)) {
        each!(self, c => c.events().for_each(&mut f))
    }

    /// Calls `f` with each event waiting in the active queues, highest priority first
    /// ([`EventBase::queued`]).
    pub fn each_queued(&self, mut f: impl FnMut(EventInfo)) {
        each!(self, c => c.queued().for_each(&mut f))
    }

    /// See [`EventBase::is_running`].
    pub fn is_running(&self) -> bool {
        each!(self, c => c.is_running())
    }

    /// See [`EventBase::exit_pending`].
    pub fn exit_pending(&self) -> bool {
        each!(self, c => c.exit_pending())
    }

    /// See [`EventBase::flags`].
    pub fn flags(&self) -> BaseFlags {
        each!(self, c => c.flags())
    }

    /// See [`EventBase::loopbreak`].
    pub fn loopbreak(&mut self) {
        each!(self, c => c.loopbreak())
    }

    /// See [`EventBase::loopcontinue`].
    pub fn loopcontinue(&mut self) {
        each!(self, c => c.loopcontinue())
    }

    /// See [`EventBase::loopexit`].
    pub fn loopexit(&mut self, after: Option<Duration>) {
        each!(self, c => c.loopexit(after))
    }

    /// See [`EventBase::next_deadline`].
    pub fn next_deadline(&self) -> Option<u64> {
        each!(self, c => c.next_deadline())
    }

    /// See [`EventBase::start`].
    #[inline]
    pub fn start(&mut self, flags: LoopFlags) -> Result<(), Error> {
        each!(self, c => c.start(flags))
    }

    /// See [`EventBase::step`].
    #[inline(always)]
    pub fn step(&mut self) -> Result<Step, Error> {
        each!(self, c => c.step())
    }

    /// See [`EventBase::reinit`].
    pub fn reinit(&mut self) -> Result<(), Error> {
        each!(self, c => c.reinit())
    }
}

/// [`Split::add`] over another backend.
#[inline(never)]
fn add_other<O: Backend, T: Tables>(
    c: &mut EventBase<O, Monotonic, T>,
    current: Option<Handle>,
    spec: &Spec,
    timeout: Option<Duration>,
) -> Result<Handle, Error> {
    c.add(current, spec, timeout)
}
