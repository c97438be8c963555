//! [`Error`]: what went wrong, as the crate reports it, and as an `io::Error`.

use std::fmt;
use std::io;

use eventop_core::{Error as CoreError, Resource};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a [`Base`](crate::Base) call can fail with. Each reason maps to the
/// [`io::ErrorKind`] that fits it ([`kind`](Self::kind); reasons alike share a kind, as the table
/// shows, and the variant tells them apart); `?` turns it into an `io::Error` of that kind, with
/// this error inside ([`get_ref`](io::Error::get_ref) and `downcast_ref` give it back), except
/// [`Os`](Self::Os), which is the OS's own error.
///
/// | variant | kind | when |
/// |---|---|---|
/// | `Os` | the OS's | a system call failed; a bad or closed fd is `EBADF` |
/// | `Stale` | `NotFound` | the event was freed, or is another base's |
/// | `Full` | `QuotaExceeded` | a limit: a table cannot grow (2³⁰ entries, [`MAX_LEN`](crate::storage::MAX_LEN), or no memory), or 32 bases (`MAX_BASES`) already watch a signal |
/// | `Unpollable` | `Unsupported` | the backend cannot watch that kind of fd (a regular file under epoll) |
/// | `NoBackend` | `Unsupported` | no backend is usable with the builder's requirements |
/// | `Reentrant` | `ResourceBusy` | a callback started a run, or asked for the source its own call is using |
/// | `Invalid`, `BadSignal` | `InvalidInput` | an argument outside its domain |
/// | `Core` | `InvalidInput`, or `Unsupported` for an operation the backend lacks | the core's other refusals (a priority out of range, edge- and level-triggered events on one fd, …): the core's error says which |
/// | `Closed` | `BrokenPipe` | a [`Waker`](crate::Waker)'s base is gone |
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    Os(io::Error),
    /// The event was freed, or belongs to another base.
    Stale,
    /// A table or map is full and cannot grow.
    Full(Resource),
    /// The backend cannot watch this fd.
    Unpollable(i32),
    /// No backend could be used: which were skipped, and why.
    NoBackend(String),
    /// Called from a callback where that cannot work: a run inside a run, or taking back the
    /// source that the running callback holds.
    Reentrant,
    /// An argument outside its domain; the text says which rule it broke.
    Invalid(&'static str),
    /// A signal number outside `1..NSIG`.
    BadSignal(i32),
    /// The base of a [`Waker`](crate::Waker) was dropped.
    Closed,
    /// Another of the core's refusals, as the core gives it.
    Core(CoreError),
}

impl Error {
    /// The `io::ErrorKind` this error converts to (see the table above).
    pub fn kind(&self) -> io::ErrorKind {
        use io::ErrorKind as K;
        match self {
            Error::Os(e) => e.kind(),
            Error::Stale => K::NotFound,
            Error::Full(_) => K::QuotaExceeded,
            Error::Unpollable(_) | Error::NoBackend(_) => K::Unsupported,
            Error::Reentrant => K::ResourceBusy,
            Error::Invalid(_) | Error::BadSignal(_) => K::InvalidInput,
            Error::Closed => K::BrokenPipe,
            Error::Core(CoreError::Unsupported(_)) => K::Unsupported,
            Error::Core(_) => K::InvalidInput,
        }
    }

    /// The errno, for an error the OS reported.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Os(e) => e.raw_os_error(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Os(e) => e.fmt(f),
            Error::Stale => f.write_str("stale event: freed, or of another base"),
            Error::Full(what) => write!(f, "{what} is full"),
            Error::Unpollable(fd) => write!(f, "fd {fd} cannot be polled by this backend"),
            Error::NoBackend(why) => write!(f, "no usable backend: {why}"),
            Error::Reentrant => f.write_str("not possible from inside this callback"),
            Error::Invalid(why) => write!(f, "invalid argument: {why}"),
            Error::BadSignal(sig) => write!(f, "bad signal number {sig}"),
            Error::Closed => f.write_str("the waker's base is gone: the loop will not run"),
            Error::Core(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Os(e) => Some(e),
            Error::Core(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CoreError> for Error {
    fn from(e: CoreError) -> Error {
        match e {
            CoreError::Os { errno, .. } => Error::Os(io::Error::from_raw_os_error(errno.0)),
            CoreError::BadFd(_) => Error::Os(io::Error::from_raw_os_error(libc::EBADF)),
            CoreError::Full(what) => Error::Full(what),
            CoreError::BadSignal(sig) => Error::BadSignal(sig),
            CoreError::StaleHandle => Error::Stale,
            CoreError::Unpollable(fd) => Error::Unpollable(fd),
            CoreError::Reentrant => Error::Reentrant,
            e => Error::Core(e),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Os(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Os(e) => e,
            e => io::Error::new(e.kind(), e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventop_core::Errno;

    #[test]
    fn kinds_are_distinct_and_convert() {
        let os: io::Error = Error::from(CoreError::Os {
            call: "epoll_ctl",
            errno: Errno(libc::EPERM),
        })
        .into();
        assert_eq!(os.raw_os_error(), Some(libc::EPERM));
        let full: io::Error = Error::from(CoreError::Full(Resource::SignalMap)).into();
        assert_eq!(full.kind(), io::ErrorKind::QuotaExceeded);
        let inner = full.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert!(matches!(inner, Some(Error::Full(Resource::SignalMap))));
        assert_eq!(
            Error::from(CoreError::StaleHandle).kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            Error::from(CoreError::BadFd(-1)).raw_os_error(),
            Some(libc::EBADF)
        );
        assert_eq!(
            Error::from(CoreError::Reentrant).kind(),
            io::ErrorKind::ResourceBusy,
            "not WouldBlock, which I/O loops retry on"
        );
        assert_eq!(
            Error::from(CoreError::BadSignal(99)).to_string(),
            "bad signal number 99"
        );
        let kinds = [
            Error::Stale.kind(),
            Error::Full(Resource::Slots).kind(),
            Error::Unpollable(3).kind(),
            Error::Reentrant.kind(),
            Error::Invalid("x").kind(),
            Error::Closed.kind(),
        ];
        for (i, a) in kinds.iter().enumerate() {
            for b in &kinds[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
