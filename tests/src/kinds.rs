//! The hosted backends a test runs on, one `#[test]` per backend through [`per_kind!`](crate::per_kind).

#[cfg(target_os = "linux")]
use eventop_core::sys::epoll::Epoll;
use eventop_core::sys::hosted::{Buffers, Hosted, Multiplexer};
#[cfg(eventop_kqueue)]
use eventop_core::sys::kqueue::Kqueue;
use eventop_core::sys::poll::Poll;
use eventop_core::sys::select::Select;
use eventop_core::BaseFlags;

/// Which hosted backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// epoll, changes applied at once.
    #[cfg(target_os = "linux")]
    Epoll,
    /// epoll with the changelist (`EPOLL_USE_CHANGELIST`).
    #[cfg(target_os = "linux")]
    EpollChangelist,
    /// kqueue (under libkqueue on Linux).
    #[cfg(eventop_kqueue)]
    Kqueue,
    /// poll.
    Poll,
    /// select.
    Select,
}

impl Kind {
    /// A fresh backend of this kind.
    pub fn hosted<F: Buffers>(self) -> Hosted<F> {
        let multiplexer = match self {
            #[cfg(target_os = "linux")]
            Kind::Epoll => {
                Multiplexer::Epoll(Epoll::new(Default::default(), false).expect("epoll"))
            }
            #[cfg(target_os = "linux")]
            Kind::EpollChangelist => {
                Multiplexer::Epoll(Epoll::new(Default::default(), true).expect("epoll"))
            }
            #[cfg(eventop_kqueue)]
            Kind::Kqueue => Multiplexer::Kqueue(Kqueue::new(Default::default()).expect("kqueue")),
            Kind::Poll => Multiplexer::Poll(Poll::new(Default::default()).expect("poll")),
            Kind::Select => Multiplexer::Select(Select::new(Default::default()).expect("select")),
        };
        Hosted::from(multiplexer)
    }

    /// The base flags that go with it.
    pub fn flags(self) -> BaseFlags {
        #[cfg(target_os = "linux")]
        if self == Kind::EpollChangelist {
            return BaseFlags::EPOLL_USE_CHANGELIST;
        }
        BaseFlags::empty()
    }
}

/// One `#[test]` per backend for each scenario `fn name(kind: Kind)` named.
#[macro_export]
macro_rules! per_kind {
    ($($name:ident),* $(,)?) => {
        #[cfg(target_os = "linux")]
        mod epoll {
            $(#[test] fn $name() { super::$name($crate::kinds::Kind::Epoll) })*
        }
        #[cfg(target_os = "linux")]
        mod epoll_changelist {
            $(#[test] fn $name() { super::$name($crate::kinds::Kind::EpollChangelist) })*
        }
        #[cfg(eventop_kqueue)]
        mod kqueue {
            $(#[test] fn $name() { super::$name($crate::kinds::Kind::Kqueue) })*
        }
        mod poll {
            $(#[test] fn $name() { super::$name($crate::kinds::Kind::Poll) })*
        }
        mod select {
            $(#[test] fn $name() { super::$name($crate::kinds::Kind::Select) })*
        }
    };
}
