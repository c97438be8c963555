//! The bit sets of the API, with libevent's values so the C library converts them for free.

use bitflags::bitflags;

bitflags! {
    /// What an event waits for, and what happened to it (libevent's `EV_*`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct What: u16 {
        /// The event's timeout expired.
        const TIMEOUT = 0x01;
        /// The fd is readable.
        const READ = 0x02;
        /// The fd is writable.
        const WRITE = 0x04;
        /// The signal was delivered (the event's fd is the signal number).
        const SIGNAL = 0x08;
        /// The event stays pending after it fires.
        const PERSIST = 0x10;
        /// Edge-triggered, on backends with [`Features::ET`] (epoll, kqueue). Elsewhere (poll,
        /// select) the bit is accepted and the event is level-triggered: it fires while its fd
        /// stays ready, not once per change.
        const ET = 0x20;
        /// The event is being finalized (C library only).
        const FINALIZE = 0x40;
        /// The peer closed its end, on backends with [`Features::EARLY_CLOSE`].
        const CLOSED = 0x80;
        /// Exclusive wake (not in libevent): when many bases (threads) watch one fd, a
        /// readiness wakes one of those waiting, not all: for a listening socket shared by one
        /// base per core. epoll adds the fd with `EPOLLEXCLUSIVE` (Linux 4.5; a change of its
        /// interest is a delete and an add, since the kernel refuses to modify it, and `CLOSED`
        /// cannot go with it), io_uring polls it the same way; poll, select and kqueue ignore the
        /// bit. Every event on an fd must agree on it, as on `ET`.
        const EXCLUSIVE = 0x100;
    }
}

impl What {
    /// The bits a backend is told about: the interest in an fd.
    pub const IO: What = What::READ.union(What::WRITE).union(What::CLOSED);
}

bitflags! {
    /// What a backend can do (libevent's `EV_FEATURE_*`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Features: u8 {
        /// Edge-triggered readiness.
        const ET = 0x01;
        /// Add, delete and one ready event each cost O(1).
        const O1 = 0x02;
        /// Any fd, not only sockets.
        const FDS = 0x04;
        /// Reports a peer's close ([`What::CLOSED`]) without a read.
        const EARLY_CLOSE = 0x08;
    }
}

bitflags! {
    /// How a base is configured (libevent's `EVENT_BASE_FLAG_*`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct BaseFlags: u8 {
        /// No lock: accepted for compatibility; a base is never shared without `&mut`.
        const NOLOCK = 0x01;
        /// Ignore the `EVENT_*` environment variables.
        const IGNORE_ENV = 0x02;
        /// Windows IOCP (accepted, ignored).
        const STARTUP_IOCP = 0x04;
        /// Read the clock whenever time is needed instead of once per iteration.
        const NO_CACHE_TIME = 0x08;
        /// Coalesce epoll interest changes until the next dispatch.
        const EPOLL_USE_CHANGELIST = 0x10;
        /// Precise timers (accepted: eventop's timers are always precise).
        const PRECISE_TIMER = 0x20;
        /// Use io_uring where it proves itself (Linux; not in libevent; `EVENT_IO_URING` in the
        /// environment does the same). Without it selection passes io_uring over.
        const IO_URING = 0x80;
    }
}

bitflags! {
    /// How one run of the loop behaves (libevent's `EVLOOP_*`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct LoopFlags: u8 {
        /// Wait for events, run one iteration's callbacks, then return.
        const ONCE = 0x01;
        /// Never wait: run what is ready now, then return.
        const NONBLOCK = 0x02;
        /// Keep running when no event is pending (until exit or break).
        const NO_EXIT_ON_EMPTY = 0x04;
    }
}

#[cfg(feature = "defmt")]
mod fmt {
    use super::*;

    macro_rules! format_bits {
        ($($t:ty),*) => {$(
            impl defmt::Format for $t {
                fn format(&self, f: defmt::Formatter<'_>) {
                    defmt::write!(f, "{}({=u16:#x})", stringify!($t), u16::from(self.bits()));
                }
            }
        )*};
    }
    format_bits!(What, Features, BaseFlags, LoopFlags);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_libevents() {
        // libevent's eight bits, and eventop's EXCLUSIVE above them.
        assert_eq!((What::all() - What::EXCLUSIVE).bits(), 0xff);
        assert_eq!(What::EXCLUSIVE.bits(), 0x100);
        assert_eq!(What::IO.bits(), 0x86);
        assert_eq!(
            (Features::ET | Features::O1 | Features::EARLY_CLOSE).bits(),
            0xb
        );
        assert_eq!(BaseFlags::EPOLL_USE_CHANGELIST.bits(), 0x10);
        assert_eq!(BaseFlags::PRECISE_TIMER.bits(), 0x20);
        assert_eq!(LoopFlags::all().bits(), 7);
    }
}
