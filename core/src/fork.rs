//! The process's fork generation: how a base notices that it now lives in a forked child.
//!
//! After `fork()` the child holds a copy of every base, whose kernel objects it shares with the
//! parent: an epoll set, the signal pipe. A base records the generation it was created (or last
//! re-initialised) in and compares it before it next changes its backend; when it differs, the
//! base re-initialises itself first (as [`EventBase::reinit`](crate::base::EventBase::reinit)),
//! so nothing the child does reaches the parent's registrations.
//!
//! The comparison (one relaxed load) is made where a run starts, where an `add` or `del` reaches
//! the backend, before a one-shot event's delete, before each wait, and when a dispatch reports
//! the signal pipe. So a child forked inside a callback that carries on with that run waits on
//! its own kernel object from its next wait on, whatever the parent does to the shared one.
//!
//! In hosted builds a `pthread_atfork` child handler, registered by the first
//! `sys::hosted::Hosted` backend, calls [`note_fork`] (see `sys::fork`); a runtime
//! without it calls [`note_fork`] itself in the child of its own fork.

use core::sync::atomic::{AtomicU32, Ordering};

/// Bumped in each forked child. 32 bits, so every target with atomic loads has it; a base
/// unused across exactly 2^32 forks would miss one.
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// The current fork generation.
#[inline(always)]
pub fn generation() -> u32 {
    GENERATION.load(Ordering::Relaxed)
}

/// Tells every base in this process that the process is a new one (a forked child): each
/// re-initialises itself before it next touches its backend.
///
/// Call it in the child, right after the fork and before the child starts threads (it is a
/// load and a store, not an atomic increment, so that targets without atomic read-modify-write
/// have it too). Async-signal-safe.
pub fn note_fork() {
    GENERATION.store(generation().wrapping_add(1), Ordering::Relaxed);
}
