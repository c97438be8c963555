//! Starting the backend afresh: after a fork, or when a registration outlived a close.
//!
//! A fork is noticed by the fork generation (see [`crate::fork`]) or told with `reinit`.

use super::{EventBase, Tables};
use crate::clock::Clock;
use crate::storage::Storage;
use crate::{Backend, ChangeOp, Error, RawFd, What};

impl<B: Backend, C: Clock, T: Tables> EventBase<B, C, T> {
    /// Re-initialises the base (as [`reinit`](Self::reinit)) if the process forked since the
    /// backend was made (see [`crate::fork`]); called where the base is about to touch it.
    #[inline(always)]
    pub(super) fn check_fork(&mut self) -> Result<(), Error> {
        if crate::fork::generation() == self.fork_gen {
            return Ok(());
        }
        self.after_fork()
    }

    /// Starts the backend afresh and registers every fd again (libevent's `event_reinit`): a new
    /// kernel object and a new signal fd, so nothing a forked child does touches the parent's
    /// registrations.
    ///
    /// Optional after `fork()`: the base notices a new process by its [fork
    /// generation](crate::fork) and does this itself before it next changes the backend (a run
    /// starting, an `add` or `del` that reaches it: [`crate::fork`] lists where). Calling it in
    /// the child is still useful to do the work at a time of the caller's choosing and see its
    /// errors at once; later, an fd that cannot be registered again (closed in the child) is kept
    /// for [`take_deferred_error`](Self::take_deferred_error) instead.
    pub fn reinit(&mut self) -> Result<(), Error> {
        self.rebuild(true)
    }

    /// [`reinit`](Self::reinit) when the base notices a fork: an fd that cannot be registered
    /// again becomes the deferred error, not the error of the call that noticed.
    #[cold]
    #[inline(never)]
    pub(super) fn after_fork(&mut self) -> Result<(), Error> {
        self.restart(true)?;
        if let Err(e) = self.rebuild_interest() {
            self.io.deferred = Some(e);
        }
        Ok(())
    }

    /// [`after_fork`](Self::after_fork), its error kept for
    /// [`take_deferred_error`](Self::take_deferred_error).
    #[cold]
    #[inline(never)]
    pub(super) fn after_fork_deferred(&mut self) {
        if let Err(e) = self.after_fork() {
            self.io.deferred = Some(e);
        }
    }

    /// Rebuilds the backend's registrations from the fd map; with `fork`, the signal fd too.
    /// Also used when the kernel reports an fd nothing watches: its registration outlived a close
    /// through a dup elsewhere, and would be reported forever (libevent spins there).
    #[cold]
    #[inline(never)]
    pub(super) fn rebuild(&mut self, fork: bool) -> Result<(), Error> {
        self.restart(fork)?;
        self.rebuild_interest()
    }

    /// A new kernel object for the backend, with the signal fd registered; with `fork`, a new
    /// signal fd too, and the base is of the current fork generation.
    pub(super) fn restart(&mut self, fork: bool) -> Result<(), Error> {
        let gen = crate::fork::generation();
        self.io.changes.clear();
        self.io.backend.reinit()?;
        if self.sigfd >= 0 {
            if fork {
                if let Some(signals) = self.io.backend.signals() {
                    let fd = signals.reinit()?;
                    self.sigfd = fd;
                    if let Err(e) = self.check_sigfd(fd) {
                        // Not watched, its reports are not taken for the events' on that fd.
                        self.sigfd = -1;
                        return Err(e);
                    }
                }
            }
            self.siginfo = crate::FdInfo::default();
            let fd = self.sigfd;
            self.io.change(
                ChangeOp::ADD,
                fd,
                What::empty(),
                What::READ,
                &mut self.siginfo,
            )?;
        }
        if fork {
            self.fork_gen = gen;
        }
        Ok(())
    }

    pub(super) fn rebuild_interest(&mut self) -> Result<(), Error> {
        let mut first = None;
        for fd in 0..self.fds.storage.capacity() {
            let Some(entry) = self.fds.storage.as_mut_slice().get_mut(fd) else {
                break;
            };
            entry.info = crate::FdInfo::default();
            let interest = super::fdmap::interest(self.slots.as_slice(), entry.head, What::IO);
            if interest.intersects(What::IO) {
                let (fd, old) = (fd as RawFd, What::empty());
                let r = self
                    .io
                    .change(ChangeOp::ADD, fd, old, interest, &mut entry.info);
                if let Err(e) = r {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}
