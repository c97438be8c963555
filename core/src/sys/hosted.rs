//! The hosted backends behind one type, and libevent's table of them in order of preference.
//!
//! [`Hosted`] holds a [`Multiplexer`], an enum of every backend compiled for the target, so a base
//! can hold whichever selection picks without an allocator, and the signal pipe that catches the
//! base's signals (its [`Signals`]). Its buffers' types come from a [`Buffers`]:
//! [`FixedBuffers<N>`] here, growable ones in the std adapter.

use core::time::Duration;

use super::signal::Catcher;
use super::{poll, select};
use crate::selection::{self, Config, Descriptor, NoBackend, Selected};
use crate::storage::Storage;
#[cfg(target_os = "linux")]
use crate::Operation;
use crate::{Backend, BaseFlags, Change, Error, FdInfo, Info, RawFd, Signals, Sink, What};

#[cfg(any(target_os = "linux", target_os = "android"))]
use super::epoll;
#[cfg(eventop_kqueue)]
use super::kqueue;
#[cfg(target_os = "linux")]
use super::uring;

/// A kind of storage, for any element type: it names every backend's buffer at once, so one
/// type parameter covers whichever backends the target has.
pub trait Buffers {
    /// The storage for elements of type `T`.
    type Of<T: Clone>: Storage<T> + Default;
}

/// `heapless::Vec` of `N` for every backend buffer.
#[derive(Debug)]
pub struct FixedBuffers<const N: usize>;

impl<const N: usize> Buffers for FixedBuffers<N> {
    type Of<T: Clone> = heapless::Vec<T, N>;
}

/// Whichever hosted backend selection picked, and the signal pipe.
pub struct Hosted<F: Buffers> {
    /// The backend.
    pub multiplexer: Multiplexer<F>,
    signals: Catcher,
}

impl<F: Buffers> From<Multiplexer<F>> for Hosted<F> {
    fn from(multiplexer: Multiplexer<F>) -> Self {
        Hosted {
            multiplexer,
            signals: Catcher::new(),
        }
    }
}

/// One backend and the signal pipe, as [`Hosted`] has them: for an adapter that holds the
/// backend selection picked by its own type (epoll's, so that the loop is compiled for it alone).
pub struct WithSignals<B> {
    /// The backend.
    pub backend: B,
    signals: Catcher,
}

impl<B> From<B> for WithSignals<B> {
    fn from(backend: B) -> Self {
        WithSignals {
            backend,
            signals: Catcher::new(),
        }
    }
}

// Every method forwards to the backend, defaulted ones included, as `Hosted` does.
impl<B: Backend> Backend for WithSignals<B> {
    fn info(&self) -> Info {
        self.backend.info()
    }
    #[inline]
    fn add(&mut self, fd: RawFd, old: What, added: What, fdinfo: &mut FdInfo) -> Result<(), Error> {
        self.backend.add(fd, old, added, fdinfo)
    }
    #[inline]
    fn del(
        &mut self,
        fd: RawFd,
        old: What,
        removed: What,
        fdinfo: &mut FdInfo,
    ) -> Result<(), Error> {
        self.backend.del(fd, old, removed, fdinfo)
    }
    fn check(&self, fd: RawFd) -> Result<(), Error> {
        self.backend.check(fd)
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        self.backend.apply(changes)
    }
    #[inline(always)]
    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error> {
        self.backend.dispatch(timeout, sink)
    }
    fn reinit(&mut self) -> Result<(), Error> {
        self.backend.reinit()
    }
    fn signals(&mut self) -> Option<&mut dyn Signals> {
        Some(&mut self.signals)
    }
    fn fd(&self) -> Option<RawFd> {
        self.backend.fd()
    }
}

/// One of the hosted backends.
pub enum Multiplexer<F: Buffers> {
    /// epoll, with or without the changelist.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(epoll::Epoll<F::Of<epoll::Event>>),
    /// io_uring.
    #[cfg(target_os = "linux")]
    Uring(uring::Uring),
    /// kqueue.
    #[cfg(eventop_kqueue)]
    Kqueue(kqueue::Kqueue<F::Of<kqueue::Event>>),
    /// poll.
    Poll(poll::Poll<F::Of<poll::Event>>),
    /// select.
    Select(select::Select<F::Of<select::Word>>),
}

/// Calls `$e` on whichever backend `$self` holds, as `$b`.
macro_rules! each {
    ($self:expr, $b:ident => $e:expr) => {
        match $self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Multiplexer::Epoll($b) => $e,
            #[cfg(target_os = "linux")]
            Multiplexer::Uring($b) => $e,
            #[cfg(eventop_kqueue)]
            Multiplexer::Kqueue($b) => $e,
            Multiplexer::Poll($b) => $e,
            Multiplexer::Select($b) => $e,
        }
    };
}

impl<F: Buffers + 'static> Hosted<F> {
    /// The backends compiled for this target, in libevent's order of preference (kqueue,
    /// io_uring, epoll, poll, select); io_uring is taken only when asked for
    /// ([`BaseFlags::IO_URING`] or `EVENT_IO_URING`) and where it proves itself at construction
    /// (see [`super::uring`]), else selection moves on to epoll. On Linux a
    /// kqueue built over libkqueue comes last: it is there to be tested, not preferred.
    pub const TABLE: &'static [Descriptor<Self>] = &[
        #[cfg(all(eventop_native_kqueue, not(eventop_libkqueue)))]
        Descriptor {
            name: "kqueue",
            features: kqueue::FEATURES,
            init: Self::new_kqueue,
        },
        #[cfg(target_os = "linux")]
        Descriptor {
            name: "io_uring",
            features: uring::FEATURES,
            init: Self::new_uring,
        },
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Descriptor {
            name: "epoll",
            features: epoll::FEATURES,
            init: Self::new_epoll,
        },
        Descriptor {
            name: "poll",
            features: poll::FEATURES,
            init: Self::new_poll,
        },
        Descriptor {
            name: "select",
            features: select::FEATURES,
            init: Self::new_select,
        },
        #[cfg(all(eventop_libkqueue, any(target_os = "linux", target_os = "android")))]
        Descriptor {
            name: "kqueue",
            features: kqueue::FEATURES,
            init: Self::new_kqueue,
        },
    ];

    /// Picks a backend from [`TABLE`](Self::TABLE) by libevent's rules, reading the process
    /// environment (see [`super::env::is_set`]).
    // The error is a few hundred bytes on a cold path, and core has no Box to shrink it with.
    #[allow(clippy::result_large_err)]
    pub fn select(config: &Config<'_>) -> Result<Selected<Self>, NoBackend> {
        selection::select(Self::TABLE, config, &mut super::env::is_set)
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn new_epoll(flags: BaseFlags) -> Result<Self, Error> {
        let changelist = flags.contains(BaseFlags::EPOLL_USE_CHANGELIST);
        epoll::Epoll::new(Default::default(), changelist).map(|b| Multiplexer::Epoll(b).into())
    }

    #[cfg(target_os = "linux")]
    fn new_uring(flags: BaseFlags) -> Result<Self, Error> {
        if !flags.contains(BaseFlags::IO_URING) {
            // Opt-in: on persistent events it costs more than epoll (see the README).
            return Err(Error::Unsupported(Operation::NotAskedFor));
        }
        if flags.contains(BaseFlags::EPOLL_USE_CHANGELIST) {
            // An explicit request for epoll's changelist mode: epoll it is.
            return Err(Error::Unsupported(Operation::EpollChangelist));
        }
        uring::Uring::new().map(|b| Multiplexer::Uring(b).into())
    }

    #[cfg(eventop_kqueue)]
    fn new_kqueue(_: BaseFlags) -> Result<Self, Error> {
        kqueue::Kqueue::new(Default::default()).map(|b| Multiplexer::Kqueue(b).into())
    }

    fn new_poll(_: BaseFlags) -> Result<Self, Error> {
        poll::Poll::new(Default::default()).map(|b| Multiplexer::Poll(b).into())
    }

    fn new_select(_: BaseFlags) -> Result<Self, Error> {
        select::Select::new(Default::default()).map(|b| Multiplexer::Select(b).into())
    }
}

impl<F: Buffers> Backend for Hosted<F> {
    fn info(&self) -> Info {
        each!(&self.multiplexer, b => b.info())
    }
    #[inline]
    fn add(&mut self, fd: RawFd, old: What, added: What, fdinfo: &mut FdInfo) -> Result<(), Error> {
        each!(&mut self.multiplexer, b => b.add(fd, old, added, fdinfo))
    }
    #[inline]
    fn del(
        &mut self,
        fd: RawFd,
        old: What,
        removed: What,
        fdinfo: &mut FdInfo,
    ) -> Result<(), Error> {
        each!(&mut self.multiplexer, b => b.del(fd, old, removed, fdinfo))
    }
    fn check(&self, fd: RawFd) -> Result<(), Error> {
        each!(&self.multiplexer, b => b.check(fd))
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        each!(&mut self.multiplexer, b => b.apply(changes))
    }
    #[inline]
    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error> {
        each!(&mut self.multiplexer, b => b.dispatch(timeout, sink))
    }
    fn reinit(&mut self) -> Result<(), Error> {
        each!(&mut self.multiplexer, b => b.reinit())
    }
    fn signals(&mut self) -> Option<&mut dyn Signals> {
        Some(&mut self.signals)
    }
    fn fd(&self) -> Option<RawFd> {
        each!(&self.multiplexer, b => b.fd())
    }
}
