//! Reading results, pure: what each kevent that comes back means, one parser for every call.
//!
//! A flush's receipts and a dispatch's results go through the same [`read`].

use libc::c_int;

use super::ffi::{blank, Event, EVFILT_READ, EVFILT_WRITE, EV_ADD, EV_EOF, EV_ERROR};
use super::plan::Filter;
use crate::backend::Sink;
use crate::{Errno, Error, RawFd, What};

/// What one `kevent()` call's results came to (see [`read`]).
#[derive(Debug)]
pub(super) struct Read {
    /// Reports made to the sink.
    pub(super) reports: usize,
    /// Results with `EV_ERROR` set (every receipt has it).
    pub(super) errors: usize,
    /// Failed adds moved, as first staged, to the front of the results.
    pub(super) kept: usize,
    /// The errno of the last of them.
    pub(super) kept_errno: c_int,
    /// The first error that stops the loop.
    pub(super) result: Result<(), Error>,
}

/// Reads `results` in one pass. Readiness, and an add that failed in a way its owner must hear
/// of (`EPERM`, `EPIPE`), go to `sink`; each such add is also moved, as it was first staged, to
/// the front of `results`, for a caller whose changes went in without a wait (a flush) to stage
/// it again. Ignored errors are skipped; the first other error is kept, and the rest still read.
pub(super) fn read<K: Sink>(results: &mut [Event], sink: &mut K) -> Read {
    let mut read = Read {
        reports: 0,
        errors: 0,
        kept: 0,
        kept_errno: 0,
        result: Ok(()),
    };
    for i in 0..results.len() {
        let Some(&ev) = results.get(i) else { break };
        let Ok(fd) = RawFd::try_from(ev.ident) else {
            continue;
        };
        match outcome(&ev) {
            Outcome::Ready(what) => {
                sink.ready(fd, what);
                read.reports += 1;
            }
            Outcome::AddFailed(what, code) => {
                sink.ready(fd, what);
                read.reports += 1;
                // `kept <= i`: the slot was read already.
                if let Some(slot) = results.get_mut(read.kept) {
                    *slot = restage(ev);
                    read.kept += 1;
                    read.kept_errno = code;
                }
            }
            Outcome::Failed(e) => {
                if read.result.is_ok() {
                    read.result = Err(e);
                }
            }
            Outcome::Skip => {}
        }
        if ev.flags & EV_ERROR != 0 {
            read.errors += 1;
        }
    }
    read
}

/// A change that came back as an error, as it was first staged.
pub(super) fn restage(ev: Event) -> Event {
    let mut out = blank();
    out.ident = ev.ident;
    out.filter = ev.filter;
    out.flags = ev.udata.addr() as _;
    out.udata = ev.udata;
    out
}

/// Whether a change's error means the kernel had already forgotten the fd (a delete after close).
fn forgotten(code: c_int) -> bool {
    match code {
        libc::ENOENT | libc::EINVAL | libc::EBADF => true,
        #[cfg(target_os = "freebsd")]
        libc::ENOTCAPABLE => true,
        _ => false,
    }
}

/// What one result means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The fd is ready.
    Ready(What),
    /// An add failed with this errno in a way its owner should hear of through readiness.
    AddFailed(What, c_int),
    /// A change failed in a way that stops the loop.
    Failed(Error),
    /// Nothing to report: another filter, a receipt, or an error that means nothing.
    Skip,
}

/// What the result `ev` means.
pub(super) fn outcome(ev: &Event) -> Outcome {
    let filter = if ev.filter == EVFILT_READ {
        Filter::Read
    } else if ev.filter == EVFILT_WRITE {
        Filter::Write
    } else {
        return Outcome::Skip;
    };
    if ev.flags & EV_ERROR == 0 {
        // `EV_EOF` with the socket's error in `fflags` (a reset) is an error on the fd, reported
        // as `READ | WRITE` by the contract; without one it is the end of the stream (`READ`),
        // or, on the write filter, a hangup that a write-only event must hear of too.
        let eof = ev.flags & EV_EOF != 0;
        return Outcome::Ready(match filter {
            Filter::Read if eof && ev.fflags != 0 => What::READ | What::WRITE,
            Filter::Read => What::READ,
            Filter::Write if eof => What::READ | What::WRITE,
            Filter::Write => What::WRITE,
        });
    }
    let code = c_int::try_from(ev.data).unwrap_or(libc::EINVAL);
    let was_add = ev.udata.addr() & EV_ADD as usize != 0;
    match code {
        0 => Outcome::Skip,
        c if forgotten(c) => Outcome::Skip,
        libc::EPERM | libc::EPIPE if was_add => Outcome::AddFailed(
            match filter {
                Filter::Read => What::READ,
                Filter::Write => What::READ | What::WRITE,
            },
            code,
        ),
        libc::EPERM | libc::EPIPE => Outcome::Skip,
        _ => Outcome::Failed(Error::Os {
            call: "kevent",
            errno: Errno(code),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ffi::EV_CLEAR;
    use super::super::plan::{kev, Action};
    use super::*;

    #[test]
    fn results_map_as_libevent_does() {
        let mut ev = kev(4, Filter::Read, Action::Add { clear: false });
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ));
        ev.flags |= EV_ERROR;
        ev.data = libc::EPIPE as _;
        assert_eq!(outcome(&ev), Outcome::AddFailed(What::READ, libc::EPIPE));
        for code in [libc::ENOENT, libc::EINVAL, libc::EBADF, 0] {
            ev.data = code as _;
            assert_eq!(outcome(&ev), Outcome::Skip);
        }
        ev.data = libc::ENOMEM as _;
        assert!(matches!(outcome(&ev), Outcome::Failed(Error::Os { .. })));
        let mut del = kev(4, Filter::Write, Action::Delete);
        del.flags = EV_ERROR;
        del.data = libc::EPERM as _;
        assert_eq!(outcome(&del), Outcome::Skip);
        let mut add = kev(4, Filter::Write, Action::Add { clear: true });
        let re = restage(add);
        assert_eq!(re.flags, EV_ADD | EV_CLEAR);
        add.flags = EV_ERROR;
        add.data = libc::EPERM as _;
        assert_eq!(
            outcome(&add),
            Outcome::AddFailed(What::READ | What::WRITE, libc::EPERM)
        );
        assert_eq!(restage(add).flags, EV_ADD | EV_CLEAR);
    }

    #[test]
    fn eof_with_a_socket_error_is_read_and_write() {
        let mut ev = kev(4, Filter::Read, Action::Add { clear: false });
        ev.flags = EV_EOF;
        // The end of the stream: READ.
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ));
        // With the socket's error (a reset): an error on the fd.
        ev.fflags = libc::ECONNRESET as _;
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ | What::WRITE));
        // On the write filter, EV_EOF is a hangup either way.
        let mut ev = kev(4, Filter::Write, Action::Add { clear: false });
        assert_eq!(outcome(&ev), Outcome::Ready(What::WRITE));
        ev.flags = EV_EOF;
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ | What::WRITE));
        ev.fflags = libc::ECONNRESET as _;
        assert_eq!(outcome(&ev), Outcome::Ready(What::READ | What::WRITE));
    }
}
