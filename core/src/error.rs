//! Typed errors: small, `Copy`, and precise about what failed.

use core::fmt;

/// An OS error number (`errno`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Errno(pub i32);

/// Fixed storage that had no room left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Resource {
    /// The changelist's entries.
    Changelist,
    /// A backend's per-fd table (poll's pollfd array, select's bitmaps).
    BackendFds,
    /// A backend's buffer of ready events.
    BackendEvents,
    /// The base's event slots.
    Slots,
    /// The base's fd map.
    FdMap,
    /// The base's signal map.
    SignalMap,
    /// The base's timer heap.
    Timers,
}

/// What a backend was asked to do and cannot do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Operation {
    /// Take a batch of changes: it has no changelist.
    Changelist,
    /// Take a change through `add` or `del`: it has only its changelist.
    DirectChange,
    /// Watch a signal: the base watches signals itself.
    Signals,
    /// Wait with no timeout: nothing could wake it.
    WaitForever,
    /// Watch `CLOSED` with an exclusive wake (epoll: `EPOLLEXCLUSIVE` excludes `EPOLLRDHUP`).
    ExclusiveClosed,
    /// Serve `EPOLL_USE_CHANGELIST`, a request for epoll's changelist mode (io_uring).
    EpollChangelist,
    /// Be chosen without being asked for (io_uring, without `BaseFlags::IO_URING`).
    NotAskedFor,
}

/// Everything that can go wrong below the adapters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    Os {
        /// The call, as its man page names it (`"epoll_ctl"`).
        call: &'static str,
        /// What it reported.
        errno: Errno,
    },
    /// Fixed storage is full; memory could make room, the storage cannot.
    Full(Resource),
    /// A negative fd, or one beyond what the backend or base can index.
    BadFd(i32),
    /// A signal number outside `1..NSIG`.
    BadSignal(i32),
    /// A handle whose slot has been freed or reused, or that belongs to another base.
    StaleHandle,
    /// The backend cannot watch this kind of fd (a regular file or a directory under epoll).
    Unpollable(i32),
    /// The loop is running and cannot be entered again from inside a callback.
    Reentrant,
    /// Zero priorities: a base needs at least one.
    NoPriorities,
    /// The number of priorities cannot change while events are active.
    PrioritiesInUse,
    /// A priority at or beyond the base's number of priorities.
    BadPriority(u8),
    /// The event is active: its priority cannot change until it has run.
    Active,
    /// An event that waits for a signal and for I/O at once.
    SignalWithIo,
    /// Edge- and level-triggered events on the same fd.
    MixedTriggers(i32),
    /// Exclusive and shared events ([`What::EXCLUSIVE`](crate::What::EXCLUSIVE)) on the same fd.
    MixedExclusive(i32),
    /// Events wait on this closed fd, whose number the base's own signal fd now has.
    SignalFdTaken(i32),
    /// A step with no run in progress: call `start` first.
    NotStarted,
    /// The backend does not do this.
    Unsupported(Operation),
}

impl Error {
    /// The `errno` the OS reported, if this error came from the OS.
    pub fn errno(&self) -> Option<Errno> {
        match *self {
            Error::Os { errno, .. } => Some(errno),
            _ => None,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Changelist => "changelist",
            Resource::BackendFds => "backend fd table",
            Resource::BackendEvents => "backend event buffer",
            Resource::Slots => "event slots",
            Resource::FdMap => "fd map",
            Resource::SignalMap => "signal map",
            Resource::Timers => "timer heap",
        })
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Changelist => "apply a changelist (it has none)",
            Operation::DirectChange => "change interest outside its changelist",
            Operation::Signals => "watch signals (the base's signal fd does)",
            Operation::WaitForever => "wait with no timeout",
            Operation::ExclusiveClosed => "watch CLOSED with an exclusive wake",
            Operation::EpollChangelist => "serve EPOLL_USE_CHANGELIST (epoll's changelist mode)",
            Operation::NotAskedFor => "start unasked (BaseFlags::IO_URING or EVENT_IO_URING asks)",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Os { call, errno } => write!(f, "{call} failed: errno {}", errno.0),
            Error::Full(what) => write!(f, "{what} is full"),
            Error::BadFd(fd) => write!(f, "bad file descriptor {fd}"),
            Error::BadSignal(sig) => write!(f, "bad signal number {sig}"),
            Error::StaleHandle => f.write_str("stale or foreign event handle"),
            Error::Unpollable(fd) => {
                write!(f, "fd {fd} cannot be polled (regular file or directory?)")
            }
            Error::Reentrant => f.write_str("the loop is already running"),
            Error::NoPriorities => f.write_str("invalid argument: at least one priority"),
            Error::PrioritiesInUse => {
                f.write_str("invalid argument: priorities cannot change while events are active")
            }
            Error::BadPriority(p) => write!(f, "invalid argument: priority {p} out of range"),
            Error::Active => {
                f.write_str("invalid argument: an active event keeps its priority until it runs")
            }
            Error::SignalWithIo => {
                f.write_str("invalid argument: a signal event cannot also wait for I/O")
            }
            Error::MixedTriggers(fd) => write!(
                f,
                "invalid argument: edge- and level-triggered events cannot share fd {fd}"
            ),
            Error::MixedExclusive(fd) => write!(
                f,
                "invalid argument: exclusive and shared events cannot share fd {fd}"
            ),
            Error::SignalFdTaken(fd) => write!(
                f,
                "invalid argument: events wait on closed fd {fd}, whose number the signal fd now has"
            ),
            Error::NotStarted => f.write_str("invalid argument: no run in progress: call start"),
            Error::Unsupported(op) => write!(f, "the backend cannot {op}"),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    struct Buf([u8; 80], usize);
    impl fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

    fn text(e: Error) -> Buf {
        let mut b = Buf([0; 80], 0);
        fmt::write(&mut b, format_args!("{e}")).unwrap();
        b
    }

    #[test]
    fn display_names_the_cause() {
        let b = text(Error::Os {
            call: "epoll_ctl",
            errno: Errno(9),
        });
        assert_eq!(&b.0[..b.1], b"epoll_ctl failed: errno 9");
        let b = text(Error::Full(Resource::Changelist));
        assert_eq!(&b.0[..b.1], b"changelist is full");
        assert_eq!(
            Error::Os {
                call: "x",
                errno: Errno(4)
            }
            .errno(),
            Some(Errno(4))
        );
        assert_eq!(Error::Full(Resource::Timers).errno(), None);
    }
}
