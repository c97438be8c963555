//! `pthread_atfork` handlers: a forked child bumps the fork generation (see [`crate::fork`]) and
//! takes the signal registry over from the parent (see [`super::signal`]).
//!
//! Registered once per process ([`register`]), by the first [`Hosted`](super::hosted::Hosted)
//! backend or signal pipe. Only `fork()` runs them: a child made by `vfork`, `posix_spawn` or a
//! raw `clone` must `exec` (or call [`crate::fork::note_fork`] itself).

use core::sync::atomic::{AtomicU8, Ordering};

use super::signal;

/// 0: not registered; 1: registered, or being registered by another thread.
static REGISTERED: AtomicU8 = AtomicU8::new(0);

/// Registers the handlers, once per process. Cheap after the first call (one load).
///
/// A thread that finds another one registering returns at once rather than wait: a fork in that
/// window (microseconds, at the first backend of the process) would go unnoticed.
#[inline]
pub fn register() {
    if REGISTERED.load(Ordering::Relaxed) == 0 && REGISTERED.swap(1, Ordering::AcqRel) == 0 {
        // SAFETY: the three handlers are `extern "C"` functions with no arguments, valid for
        // the life of the process; they only call async-signal-safe functions.
        let r = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if r != 0 {
            // ENOMEM: the next base tries again.
            REGISTERED.store(0, Ordering::Relaxed);
        }
    }
}

/// Before the fork, in the forking thread.
unsafe extern "C" fn prepare() {
    signal::before_fork();
}

/// After the fork, in the parent.
unsafe extern "C" fn parent() {
    signal::after_fork_in_parent();
}

/// After the fork, in the child (its only thread).
unsafe extern "C" fn child() {
    crate::fork::note_fork();
    signal::after_fork_in_child();
}
