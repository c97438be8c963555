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
    /// An argument outside its domain (the text says which rule it broke).
    Invalid(&'static str),
    /// The backend cannot watch this kind of fd (a regular file or a directory under epoll).
    Unpollable(i32),
    /// The loop is running and cannot be entered again from inside a callback.
    Reentrant,
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Os { call, errno } => write!(f, "{call} failed: errno {}", errno.0),
            Error::Full(what) => write!(f, "{what} is full"),
            Error::BadFd(fd) => write!(f, "bad file descriptor {fd}"),
            Error::BadSignal(sig) => write!(f, "bad signal number {sig}"),
            Error::StaleHandle => f.write_str("stale or foreign event handle"),
            Error::Invalid(why) => write!(f, "invalid argument: {why}"),
            Error::Unpollable(fd) => {
                write!(f, "fd {fd} cannot be polled (regular file or directory?)")
            }
            Error::Reentrant => f.write_str("the loop is already running"),
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
