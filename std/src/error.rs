//! The core's errors as `io::Error`.

use std::io;

use eventop_core::Error;

/// `e` as an `io::Error`: the OS's own error where the OS gave one, else a kind that says what
/// went wrong, with `e` inside (see the crate docs, "Errors").
pub(crate) fn to_io(e: Error) -> io::Error {
    let kind = match e {
        Error::Os { errno, .. } => return io::Error::from_raw_os_error(errno.0),
        Error::Full(_) => io::ErrorKind::QuotaExceeded,
        Error::BadFd(_) => return io::Error::from_raw_os_error(libc::EBADF),
        Error::StaleHandle => io::ErrorKind::NotFound,
        Error::Unpollable(_) | Error::Unsupported(_) => io::ErrorKind::Unsupported,
        Error::Reentrant => io::ErrorKind::WouldBlock,
        _ => io::ErrorKind::InvalidInput,
    };
    io::Error::new(kind, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventop_core::{Errno, Resource};

    #[test]
    fn kinds() {
        let os = to_io(Error::Os {
            call: "epoll_ctl",
            errno: Errno(libc::EPERM),
        });
        assert_eq!(os.raw_os_error(), Some(libc::EPERM));
        let full = to_io(Error::Full(Resource::SignalMap));
        assert_eq!(full.kind(), io::ErrorKind::QuotaExceeded);
        let inner = full.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert_eq!(inner, Some(&Error::Full(Resource::SignalMap)));
        assert_eq!(to_io(Error::StaleHandle).kind(), io::ErrorKind::NotFound);
        assert_eq!(to_io(Error::BadFd(-1)).raw_os_error(), Some(libc::EBADF));
        assert_eq!(
            to_io(Error::BadSignal(99)).to_string(),
            "bad signal number 99"
        );
    }
}
