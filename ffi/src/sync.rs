//! A base shared between threads (`evthread_use_pthreads`, `evthread_make_base_notifiable`): its
//! lock, and the wake-up fd that lets another thread into a loop waiting in the backend.
//!
//! One thread at a time owns the base: the one inside an API call, or the loop's thread, which
//! owns it from `event_base_loop`'s start to its end except while a callback runs (libevent
//! releases its lock there too). The loop cannot let go of it while it waits in the backend
//! (the core is borrowed by that wait), so a thread that wants the base then counts itself as a
//! waiter and writes the wake-up fd, an internal event of the base: the wait returns, and the
//! loop hands the base over to every waiter before it runs anything. So an add, delete,
//! activation or loop break from any thread takes effect at once, and a new earliest timer is
//! waited for (libevent#1727). An event deleted from another thread while the loop held it
//! ready does not run; `event_del` from another thread returns only once the event's running
//! callback has returned (libevent#225).
//!
//! A base made while threading is off has none of this: each call checks one pointer.

use std::ffi::{c_int, c_short};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use eventop_core::base::Handle;
use eventop_core::What;

use crate::base::event_base;
use crate::layout::{self, event, evlist};

/// The calling thread's id (nonzero).
#[inline]
fn me() -> usize {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as usize }
}

/// What the owner of the base and its waiters agree on.
#[derive(Default)]
struct State {
    /// The owning thread (0: none).
    owner: usize,
    /// Nested holds by the owner (a log callback calling back in).
    depth: u32,
    /// The loop's thread is waiting in the backend (it still owns the base).
    in_step: bool,
    /// Threads waiting to own the base.
    waiters: u32,
    /// The wake-up fd was written and not drained yet.
    woken: bool,
    /// The thread running the loop (0: none).
    loop_thread: usize,
    /// The event whose callback runs now (its address; 0: none).
    running: usize,
    /// The event the loop holds ready while it hands the base over, and whether a waiter deleted
    /// it meanwhile.
    ready: usize,
    ready_deleted: bool,
}

/// A shared base's lock, wake-up fd and internal wake-up event.
pub(crate) struct Threads {
    state: Mutex<State>,
    changed: Condvar,
    /// eventfd, or a pipe's read end.
    read: AtomicI32,
    /// A pipe's write end, or the eventfd again.
    write: AtomicI32,
    /// The internal event reading `read` (its address is its token).
    notify: Box<event>,
    /// The fork generation the fds were made in (see `eventop_core::fork`).
    fork_gen: AtomicU32,
}

// SAFETY: `notify` is only touched by the base's owner; the rest is atomics and a mutex.
unsafe impl Send for Threads {}
// SAFETY: as above.
unsafe impl Sync for Threads {}

/// A wake-up fd pair: an eventfd (both the same) or a pipe, non-blocking, close-on-exec.
fn wake_fds() -> Option<(c_int, c_int)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd >= 0 {
            return Some((fd, fd));
        }
    }
    let [read, write] = eventop_core::sys::nonblocking_pipe().ok()?;
    Some((read, write))
}

fn close_fds(read: c_int, write: c_int) {
    // SAFETY: fds this module made and nothing else closes.
    unsafe {
        libc::close(read);
        if write != read {
            libc::close(write);
        }
    }
}

impl Threads {
    /// Makes the lock and wake-up fd of `b` and registers the wake-up event with its core.
    pub(crate) fn attach(b: &mut event_base) -> Result<(), String> {
        let (read, write) = wake_fds().ok_or("evthread: cannot make a wake-up fd")?;
        // SAFETY: all-zero bytes are a valid `event`.
        let notify: Box<event> = Box::new(unsafe { std::mem::zeroed() });
        let t = Arc::new(Threads {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            read: AtomicI32::new(read),
            write: AtomicI32::new(write),
            notify,
            fork_gen: AtomicU32::new(eventop_core::fork::generation()),
        });
        if let Err(e) = t.register(b, read) {
            close_fds(read, write);
            return Err(e);
        }
        b.threads = Some(t);
        Ok(())
    }

    /// Registers the internal event for `fd`.
    fn register(&self, b: &mut event_base, fd: c_int) -> Result<(), String> {
        let ev = self.notify_ptr();
        // SAFETY: `ev` is this struct's own event memory, used by no one else.
        unsafe {
            (*ev).ev_fd = fd;
            (*ev).ev_events = (What::READ | What::PERSIST).bits() as c_short;
            (*ev).ev_evcallback.evcb_flags = evlist::INIT | evlist::INTERNAL;
        }
        // SAFETY: as above.
        let spec = unsafe { crate::events::spec_of(ev) };
        let h = b
            .core
            .add(None, &spec, None)
            .map_err(|e| format!("evthread: {e}"))?;
        let _ = b.core.set_internal(h, spec.token);
        // SAFETY: as above.
        unsafe { layout::set_handle(ev, h) };
        Ok(())
    }

    fn notify_ptr(&self) -> *mut event {
        std::ptr::addr_of!(*self.notify).cast_mut()
    }

    /// The internal event's token: its callback is never run.
    #[inline]
    pub(crate) fn token(&self) -> usize {
        self.notify_ptr() as usize
    }

    /// In a child after `fork`: a wake-up fd of its own (the parent's would steal its wake-ups),
    /// registered instead of the old one. The caller owns `b`.
    pub(crate) fn renew(&self, b: &mut event_base) -> Result<(), String> {
        let ev = self.notify_ptr();
        // SAFETY: our own event memory.
        let h: Handle = unsafe { layout::handle(ev) };
        let _ = b.core.del(h, ev as usize);
        let (read, write) = wake_fds().ok_or("evthread: cannot make a wake-up fd")?;
        let old = (
            self.read.swap(read, Ordering::AcqRel),
            self.write.swap(write, Ordering::AcqRel),
        );
        close_fds(old.0, old.1);
        self.fork_gen
            .store(eventop_core::fork::generation(), Ordering::Relaxed);
        self.lock().woken = false;
        self.register(b, read)
    }

    /// Whether this is a forked child that has not renewed the wake-up fd yet (one load).
    #[inline]
    pub(crate) fn forked(&self) -> bool {
        self.fork_gen.load(Ordering::Relaxed) != eventop_core::fork::generation()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(g).unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: 8 readable bytes; a full pipe or eventfd is a wake-up pending already.
        unsafe { libc::write(self.write.load(Ordering::Acquire), one.as_ptr().cast(), 8) };
    }

    fn drain(&self) {
        let mut buf = [0u8; 64];
        let fd = self.read.load(Ordering::Acquire);
        // SAFETY: `buf` is writable for its length.
        while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }

    /// Takes the base for the calling thread; `false` if it held it already (a nested call).
    fn acquire(&self) -> bool {
        let me = me();
        let mut s = self.lock();
        if s.owner == me {
            s.depth += 1;
            return false;
        }
        s.waiters += 1;
        while s.owner != 0 {
            if s.in_step && !s.woken {
                s.woken = true;
                self.wake();
            }
            s = self.wait(s);
        }
        s.waiters -= 1;
        s.owner = me;
        s.depth = 1;
        true
    }

    fn release(&self) {
        let mut s = self.lock();
        s.depth -= 1;
        if s.depth == 0 {
            s.owner = 0;
            drop(s);
            self.changed.notify_all();
        }
    }

    /// Lets every thread waiting for the base have it, then takes it back.
    fn yield_to_waiters<'a>(&self, mut s: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if s.waiters > 0 {
            let me = s.owner;
            let depth = s.depth;
            s.owner = 0;
            self.changed.notify_all();
            while s.waiters > 0 || s.owner != 0 {
                s = self.wait(s);
            }
            s.owner = me;
            s.depth = depth;
        }
        s
    }

    /// The loop starts on this thread: `false` if another loop of this base runs.
    pub(crate) fn loop_begin(&self) -> bool {
        let mut s = self.lock();
        if s.loop_thread != 0 {
            return false;
        }
        s.loop_thread = me();
        true
    }

    /// The loop ended.
    pub(crate) fn loop_end(&self) {
        self.lock().loop_thread = 0;
    }

    /// The loop is about to wait in the backend: waiters go first.
    pub(crate) fn step_begin(&self) {
        let s = self.lock();
        let mut s = self.yield_to_waiters(s);
        s.in_step = true;
    }

    /// The backend's wait returned with `ready` (the token of the event the core hands out, 0
    /// for none): waiters have the base, then whether the loop may run `ready` (not the wake-up
    /// event, not deleted meanwhile).
    pub(crate) fn step_end(&self, ready: usize) -> bool {
        let mut s = self.lock();
        s.in_step = false;
        let notify = ready == self.token();
        if notify {
            self.drain();
            s.woken = false;
        }
        s.ready = ready;
        s.ready_deleted = false;
        let mut s = self.yield_to_waiters(s);
        s.ready = 0;
        !notify && !s.ready_deleted
    }

    /// The event with token `ev` was deleted (by the owner).
    pub(crate) fn deleted(&self, ev: usize) {
        let mut s = self.lock();
        if s.ready == ev {
            s.ready_deleted = true;
        }
    }

    /// A callback of the event `ev` starts: the base is let go for its duration.
    pub(crate) fn callback_begin(&self, ev: usize) {
        let mut s = self.lock();
        s.running = ev;
        s.owner = 0;
        drop(s);
        self.changed.notify_all();
    }

    /// The callback returned: the loop takes the base back.
    pub(crate) fn callback_end(&self) {
        let me = me();
        let mut s = self.lock();
        s.running = 0;
        self.changed.notify_all();
        s.waiters += 1;
        while s.owner != 0 {
            s = self.wait(s);
        }
        s.waiters -= 1;
        s.owner = me;
        s.depth = 1;
    }

    /// Returns once no callback of `ev` runs on another thread than the caller's.
    pub(crate) fn wait_not_running(&self, ev: usize) {
        let me = me();
        let mut s = self.lock();
        while s.running == ev && s.loop_thread != me {
            s = self.wait(s);
        }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        close_fds(
            self.read.load(Ordering::Acquire),
            self.write.load(Ordering::Acquire),
        );
    }
}

/// The calling thread's hold on a base; let go when dropped. Empty for a base without threads.
pub(crate) struct Held(Option<Arc<Threads>>);

impl Drop for Held {
    #[inline]
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.release();
        }
    }
}

/// The base's threading state, if it has one.
///
/// # Safety
/// `base` is live.
#[inline]
pub(crate) unsafe fn threads(base: *mut event_base) -> Option<Arc<Threads>> {
    // SAFETY: the caller's promise; the field is written only before the base is shared.
    let t = unsafe { &*std::ptr::addr_of!((*base).threads) };
    t.as_ref().map(Arc::clone)
}

/// Whether `base` is shared between threads (one load).
///
/// # Safety
/// `base` is live.
#[inline(always)]
pub(crate) unsafe fn shared(base: *mut event_base) -> bool {
    // SAFETY: the caller's promise.
    unsafe { (*std::ptr::addr_of!((*base).threads)).is_some() }
}

/// Takes `base` for the calling thread until the result drops: for a base without threads,
/// nothing (one check).
///
/// # Safety
/// `base` is live.
#[inline]
pub(crate) unsafe fn hold(base: *mut event_base) -> Held {
    // SAFETY: the caller's promise.
    if unsafe { (*std::ptr::addr_of!((*base).threads)).is_none() } {
        return Held(None);
    }
    // SAFETY: as above.
    let t = unsafe { threads(base) };
    match t {
        Some(t) if t.acquire() => Held(Some(t)),
        _ => Held(None),
    }
}

/// Tells a shared base that the owner deleted `ev` (so a loop holding it ready skips it).
///
/// # Safety
/// `base` is live and owned by the caller.
#[inline]
pub(crate) unsafe fn deleted(base: *mut event_base, ev: *mut event) {
    // SAFETY: the caller's promise.
    if let Some(t) = unsafe { &*std::ptr::addr_of!((*base).threads) } {
        t.deleted(ev as usize);
    }
}

/// After an `event_del` of `ev` from another thread than the loop's: waits for its running
/// callback to return.
///
/// # Safety
/// `base` is live; the caller does not hold it.
pub(crate) unsafe fn wait_not_running(base: *mut event_base, ev: *mut event) {
    // SAFETY: the caller's promise.
    if let Some(t) = unsafe { threads(base) } {
        t.wait_not_running(ev as usize);
    }
}
