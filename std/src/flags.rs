//! What an event waits for ([`Interest`]), how it is triggered ([`Mode`]), and what happened to
//! it ([`Readiness`]): three types where libevent has one set of bits.

use bitflags::bitflags;
use eventop_core::What;

bitflags! {
    /// What an I/O event waits for on its fd.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Interest: u16 {
        /// The fd is readable (or at end of file, or has an error).
        const READ = What::READ.bits();
        /// The fd is writable.
        const WRITE = What::WRITE.bits();
        /// The peer closed its end, on backends with
        /// [`Features::EARLY_CLOSE`](crate::Features::EARLY_CLOSE); elsewhere it is reported
        /// with the next read.
        const CLOSED = What::CLOSED.bits();
        /// Exclusive wake, for a listening socket that several bases (threads) watch: each
        /// readiness wakes one of them, not all ([`What::EXCLUSIVE`](eventop_core::What::EXCLUSIVE):
        /// `EPOLLEXCLUSIVE` on epoll; ignored by poll and select). Every event on the fd must
        /// agree on it; with epoll it cannot go with `CLOSED`.
        const EXCLUSIVE = What::EXCLUSIVE.bits();
    }
}

bitflags! {
    /// What happened to an event, as its callback is told: the I/O readiness among its
    /// [`Interest`], its timeout, its signal, or what [`activate`](crate::Base::activate) gave.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Readiness: u16 {
        /// The timeout passed.
        const TIMEOUT = What::TIMEOUT.bits();
        /// The fd is readable.
        const READ = What::READ.bits();
        /// The fd is writable.
        const WRITE = What::WRITE.bits();
        /// The signal was delivered.
        const SIGNAL = What::SIGNAL.bits();
        /// The peer closed its end.
        const CLOSED = What::CLOSED.bits();
    }
}

/// How an I/O event fires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Whenever the fd is ready, and the event stays pending (libevent's `EV_PERSIST`).
    #[default]
    Level,
    /// Once per change to ready, and the event stays pending (`EV_PERSIST | EV_ET`). On backends
    /// without [`Features::ET`](crate::Features::ET) (poll, select) this is [`Level`](Self::Level).
    Edge,
    /// Once: then the event is not pending until [`add`](crate::Base::add)ed again (libevent's
    /// default).
    OneShot,
}

impl Interest {
    pub(crate) fn what(self) -> What {
        What::from_bits_retain(self.bits())
    }
}

impl Readiness {
    pub(crate) fn what(self) -> What {
        What::from_bits_retain(self.bits())
    }

    /// `w` holds only readiness bits: the core reports those, and what `activate` was given.
    #[inline]
    pub(crate) fn from_what(w: What) -> Readiness {
        Readiness::from_bits_retain(w.bits())
    }
}

impl Mode {
    pub(crate) fn what(self) -> What {
        match self {
            Mode::Level => What::PERSIST,
            Mode::Edge => What::PERSIST | What::ET,
            Mode::OneShot => What::empty(),
        }
    }
}
