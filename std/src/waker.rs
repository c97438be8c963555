//! [`Waker`]: wakes a loop from another thread, or hands it work to run.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{Base, Error, Result};

/// Work handed to a loop from another thread.
type Job<D> = Box<dyn FnOnce(&mut Base<D>, &mut D) + Send>;

/// Wakes its [`Base`]'s loop from any thread, and schedules closures to run in it.
///
/// An eventfd on Linux (a pipe elsewhere), written once per wake; libevent needs its global
/// threading switch for this, eventop needs nothing but this handle. Cheap to clone.
///
/// Once the base is dropped, [`wake`](Self::wake) and [`schedule`](Self::schedule) fail with
/// [`Error::Closed`] (`BrokenPipe`), and jobs queued but not run are dropped with the
/// base (a job may own a `Waker`: nothing is leaked). The eventfd closes with the last `Waker`.
pub struct Waker<D = ()> {
    shared: Arc<WakerShared<D>>,
}

impl<D> Clone for Waker<D> {
    fn clone(&self) -> Self {
        Waker {
            shared: self.shared.clone(),
        }
    }
}

/// What a waker and its base share.
pub(crate) struct WakerShared<D> {
    /// eventfd, or a pipe's read end.
    read: OwnedFd,
    /// The pipe's write end (none with an eventfd: the same fd is written).
    write: Option<OwnedFd>,
    /// Jobs waiting for the loop; `None` once the base is gone.
    jobs: Mutex<Option<Vec<Job<D>>>>,
    data: PhantomData<fn(&mut D)>,
}

impl<D> Waker<D> {
    pub(crate) fn from_shared(shared: Arc<WakerShared<D>>) -> Waker<D> {
        Waker { shared }
    }

    /// Wakes the loop: its current or next wait returns at once. [`Error::Closed`] once the
    /// base is gone.
    pub fn wake(&self) -> Result<()> {
        if self.shared.queue().is_none() {
            return Err(gone());
        }
        Ok(self.shared.wake()?)
    }

    /// Runs `job` in the loop's thread, with the base and the run's data, at its next
    /// iteration. Once the base is gone, `job` is dropped and the error is [`Error::Closed`]; a
    /// job queued when the base drops is dropped with it, not run.
    pub fn schedule<F>(&self, job: F) -> Result<()>
    where
        F: FnOnce(&mut Base<D>, &mut D) + Send + 'static,
    {
        let job: Job<D> = Box::new(job);
        let mut queue = self.shared.queue();
        match queue.as_mut() {
            Some(jobs) => jobs.push(job),
            None => {
                // Dropped outside the lock: the job may own a `Waker`.
                drop(queue);
                drop(job);
                return Err(gone());
            }
        }
        drop(queue);
        Ok(self.shared.wake()?)
    }
}

impl<D> std::fmt::Debug for Waker<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waker")
            .field("fd", &self.shared.read.as_raw_fd())
            .finish()
    }
}

impl<D> WakerShared<D> {
    pub(crate) fn new() -> io::Result<WakerShared<D>> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: eventfd takes no pointers.
            let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
            if fd >= 0 {
                // SAFETY: `fd` is a new descriptor that nothing else owns.
                let read = unsafe { OwnedFd::from_raw_fd(fd) };
                return Ok(WakerShared {
                    read,
                    write: None,
                    jobs: Mutex::new(Some(Vec::new())),
                    data: PhantomData,
                });
            }
        }
        let [read, write] = eventop_core::sys::nonblocking_pipe().map_err(Error::from)?;
        // SAFETY: both are new descriptors that nothing else owns.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(read), OwnedFd::from_raw_fd(write)) };
        Ok(WakerShared {
            read,
            write: Some(write),
            jobs: Mutex::new(Some(Vec::new())),
            data: PhantomData,
        })
    }

    pub(crate) fn read_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    pub(crate) fn wake(&self) -> io::Result<()> {
        let fd = self.write.as_ref().unwrap_or(&self.read).as_raw_fd();
        let one = 1u64.to_ne_bytes();
        // An eventfd takes 8 bytes; a pipe any number.
        // SAFETY: `one` is valid for 8 bytes of reading.
        let n = unsafe { libc::write(fd, one.as_ptr().cast(), one.len()) };
        let err = io::Error::last_os_error();
        // A full pipe or a saturated eventfd is already a pending wake.
        if n < 0 && err.kind() != io::ErrorKind::WouldBlock {
            return Err(err);
        }
        Ok(())
    }

    /// Reads every pending wake.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: `buf` is valid for its length of writing.
        while unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {
        }
    }

    fn queue(&self) -> MutexGuard<'_, Option<Vec<Job<D>>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts jobs back in front of any queued since, and wakes the loop to run them.
    pub(crate) fn requeue(&self, jobs: impl Iterator<Item = Job<D>>) {
        let mut queue = self.queue();
        if let Some(queue) = queue.as_mut() {
            let later = std::mem::take(queue);
            queue.extend(jobs);
            queue.extend(later);
        }
        drop(queue);
        let _ = self.wake();
    }

    pub(crate) fn take_jobs(&self) -> Vec<Job<D>> {
        self.queue()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The base is gone: refuses new jobs and drops the queued ones (outside the lock, since
    /// dropping a job may drop a `Waker`, or schedule again).
    pub(crate) fn close(&self) {
        let jobs = self.queue().take();
        drop(jobs);
    }
}

fn gone() -> Error {
    Error::Closed
}
