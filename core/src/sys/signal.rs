//! Signal delivery to event bases: a self-pipe per base and a process-wide, async-signal-safe
//! registry of those pipes.
//!
//! libevent delivers a signal to one base only, the one that most recently added a signal event,
//! so a second base silently swallows the first one's signals. Here **every base that watches a
//! signal receives each delivery, and a base that does not watch it never consumes it**:
//!
//! - each base owns a [`SignalPipe`]: a non-blocking, close-on-exec pipe whose read end the base
//!   watches for READ with its backend, and the set of signals it watches;
//! - a static table holds, per signal number, up to [`MAX_BASES`] write ends (`-1` = empty). The
//!   handler writes the signal number, as one byte, to every write end registered for its signal;
//! - the first registration of a signal installs the handler with `sigaction` (`SA_RESTART`, every
//!   signal blocked while it runs) and saves the previous action; removing the last registration
//!   restores that previous action.
//!
//! The handler only reads atomics and calls `write(2)`, so it is async-signal-safe. Registration
//! and removal are not (call them from ordinary code, never from a signal handler); a small spin
//! lock orders them between threads.
//!
//! A full pipe drops the byte (`EAGAIN`): the reader has at least one byte for the signal still
//! unread, so the base still sees the signal pending; only the count of deliveries coalesces, as
//! the kernel's own pending-signal bit does.
//!
//! After `fork()`, the child has a copy of the registry that names the parent's pipes. A
//! `pthread_atfork` child handler (see [`super::fork`], registered by the first pipe) marks
//! those entries orphaned: the handler no longer writes to them, it counts the deliveries
//! instead, so a signal the child takes never reaches the parent's pipe. [`SignalPipe::reinit`]
//! in the child gives the pipe a new pipe, takes its entries back and replays what they counted;
//! an event base does this itself when it notices the fork. Signals are blocked in the forking
//! thread across the fork, so none is taken in the child before its registry is marked.

use core::cell::UnsafeCell;
use core::hint::spin_loop;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

use super::{errno_ptr, is_eintr, syscall, OwnedFd};
use crate::{Error, RawFd, Resource, Signals};

/// One more than the highest signal number a [`SignalPipe`] can watch: valid numbers are
/// `1..NSIG`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const NSIG: usize = 65;
/// One more than the highest signal number a [`SignalPipe`] can watch: valid numbers are
/// `1..NSIG`.
#[cfg(target_os = "netbsd")]
pub const NSIG: usize = 64;
/// One more than the highest signal number a [`SignalPipe`] can watch: valid numbers are
/// `1..NSIG`.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "netbsd")))]
pub const NSIG: usize = 33;

/// How many pipes (bases) can watch one signal at the same time.
pub const MAX_BASES: usize = 32;

/// Per signal, the write ends that receive it; `-1` is an empty entry, and `orphan(fd)` (below
/// `-1`) an entry inherited across `fork()` whose pipe has not been taken over by the child yet.
/// Read by the handler.
static REGISTRY: [[AtomicI32; MAX_BASES]; NSIG] =
    [const { [const { AtomicI32::new(-1) }; MAX_BASES] }; NSIG];

/// Deliveries to orphaned entries of [`REGISTRY`], per entry: replayed into the pipe that takes
/// the entry over ([`SignalPipe::reinit`]).
static PENDING: [[AtomicU32; MAX_BASES]; NSIG] =
    [const { [const { AtomicU32::new(0) }; MAX_BASES] }; NSIG];

/// The registry entry for write end `fd` inherited across a fork: `-2 - fd`.
const fn orphan(fd: RawFd) -> RawFd {
    -2 - fd
}

/// How many handler invocations are running now, in any thread: a write end is closed only once
/// no handler can still be about to write to it.
static IN_FLIGHT: AtomicU32 = AtomicU32::new(0);

/// Orders registration, installation and restoration between threads.
static LOCK: AtomicBool = AtomicBool::new(false);

/// The actions our handler replaced, guarded by [`LOCK`].
static INSTALLED: Installed = Installed(UnsafeCell::new(State {
    on: [false; NSIG],
    old: [const { MaybeUninit::uninit() }; NSIG],
}));

struct State {
    /// Whether our handler is installed for the signal.
    on: [bool; NSIG],
    /// The action it replaced; initialized where `on` is true.
    old: [MaybeUninit<libc::sigaction>; NSIG],
}

struct Installed(UnsafeCell<State>);

// SAFETY: the state is only reached through `locked`, which holds the spin lock for the whole
// access, so no two threads touch it at once.
unsafe impl Sync for Installed {}

fn lock() {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        spin_loop();
    }
}

fn unlock() {
    LOCK.store(false, Ordering::Release);
}

/// Runs `f` on the installation state with the spin lock held.
fn locked<R>(f: impl FnOnce(&mut State) -> R) -> R {
    lock();
    // SAFETY: the lock is held until `unlock` below, so this is the only reference to the
    // state; the signal handler never touches it.
    let r = f(unsafe { &mut *INSTALLED.0.get() });
    unlock();
    r
}

/// The forking thread's signal mask, saved across a fork (if `pthread_sigmask` saved it);
/// guarded by [`LOCK`].
static FORK_MASK: ForkMask = ForkMask(UnsafeCell::new((false, MaybeUninit::uninit())));

struct ForkMask(UnsafeCell<(bool, MaybeUninit<libc::sigset_t>)>);

// SAFETY: reached only between `before_fork` and the `after_fork_*` that follows it, in the
// forking thread, which holds the spin lock all that time.
unsafe impl Sync for ForkMask {}

/// The `pthread_atfork` prepare handler's part: holds the lock across the fork (so the child's
/// copy of the registry is not half changed) and blocks every signal in the forking thread (so
/// the child takes none before [`after_fork_in_child`]).
pub(super) fn before_fork() {
    lock();
    // SAFETY: `all` is initialized by sigfillset before use; the old mask goes to FORK_MASK,
    // which the lock now held guards.
    unsafe {
        let saved = &mut *FORK_MASK.0.get();
        let mut all = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigfillset(all.as_mut_ptr());
        saved.0 = libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), saved.1.as_mut_ptr()) == 0;
    }
}

/// Puts back the signal mask [`before_fork`] saved, and releases the lock.
fn end_fork() {
    // SAFETY: the lock `before_fork` took is still held; the mask is read only if it was saved.
    unsafe {
        let saved = &*FORK_MASK.0.get();
        if saved.0 {
            libc::pthread_sigmask(libc::SIG_SETMASK, saved.1.as_ptr(), core::ptr::null_mut());
        }
    }
    unlock();
}

/// The parent handler's part: undoes [`before_fork`].
pub(super) fn after_fork_in_parent() {
    end_fork();
}

/// The child handler's part: every entry of the registry names a parent's pipe now; marks it
/// orphaned (deliveries counted, not written) until a pipe takes it over. The child has one
/// thread, in no handler: nothing is in flight. Then undoes [`before_fork`].
pub(super) fn after_fork_in_child() {
    for (row, counts) in REGISTRY.iter().zip(&PENDING) {
        for (entry, count) in row.iter().zip(counts) {
            let fd = entry.load(Ordering::SeqCst);
            if fd >= 0 {
                entry.store(orphan(fd), Ordering::SeqCst);
            }
            // Counted in the parent (an orphan of an earlier fork): not the child's deliveries.
            count.store(0, Ordering::SeqCst);
        }
    }
    IN_FLIGHT.store(0, Ordering::SeqCst);
    end_fork();
}

/// The signal handler: one byte, the signal number, to every write end registered for `sig`.
extern "C" fn handler(sig: libc::c_int) {
    let errno = errno_ptr();
    // SAFETY: `errno_ptr` points to this thread's errno, valid for the thread's life.
    let saved = unsafe { *errno };
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let at = usize::try_from(sig).ok().filter(|&s| s < NSIG);
    if let Some(s) = at {
        let byte = sig as u8; // NSIG <= 256
        for (entry, count) in REGISTRY[s].iter().zip(&PENDING[s]) {
            let fd = entry.load(Ordering::SeqCst);
            if fd < -1 {
                // Orphaned by a fork: kept for the pipe that takes it over.
                count.fetch_add(1, Ordering::SeqCst);
                continue;
            }
            if fd < 0 {
                continue;
            }
            loop {
                // SAFETY: `byte` is one readable byte; `fd` is a registered write end, kept open
                // while IN_FLIGHT counts this handler (see `quiesce`). write is async-signal-safe.
                let n = unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
                // SAFETY: as above.
                if n < 0 && unsafe { *errno } == libc::EINTR {
                    continue;
                }
                // Written, or EAGAIN (pipe full: a byte for this signal is already unread, the
                // reader sees it pending), or a closed pipe: nothing more to do.
                break;
            }
        }
    }
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: as above.
    unsafe { *errno = saved };
}

/// Waits until no handler is running, so no handler holds a write end it loaded before that end
/// left the registry.
///
/// Bounded: a handler runs for microseconds, and after `fork()` the child's copy of the count may
/// include a handler that was running in a parent thread the child does not have.
fn quiesce() {
    for _ in 0..10_000 {
        if IN_FLIGHT.load(Ordering::SeqCst) == 0 {
            return;
        }
        // SAFETY: no preconditions.
        unsafe { libc::sched_yield() };
    }
}

/// The registry index of `sig`, if it is in `1..NSIG`.
fn index(sig: i32) -> Option<usize> {
    usize::try_from(sig)
        .ok()
        .filter(|&s| (1..NSIG).contains(&s))
}

/// [`nonblocking_pipe`](super::nonblocking_pipe), its ends owned.
fn new_pipe() -> Result<[OwnedFd; 2], Error> {
    super::nonblocking_pipe().map(|fds| fds.map(OwnedFd))
}

/// Puts `fd` in the registry for the signal at `idx`, installing the handler if it is the first.
fn register(idx: usize, fd: RawFd) -> Result<(), Error> {
    let row = &REGISTRY[idx];
    locked(|st| {
        let slot = row
            .iter()
            .find(|e| {
                e.compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            })
            .ok_or(Error::Full(Resource::SignalMap))?;
        if !st.on[idx] {
            // SAFETY: all-zero is a valid sigaction (no flags, empty mask, SIG_DFL).
            let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
            sa.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            // SAFETY: `sa.sa_mask` is a valid sigset_t to fill.
            unsafe { libc::sigfillset(&mut sa.sa_mask) };
            // SAFETY: `sa` is initialized; `old[idx]` is valid storage for the previous action.
            let r = unsafe { libc::sigaction(idx as libc::c_int, &sa, st.old[idx].as_mut_ptr()) };
            if let Err(e) = syscall("sigaction", r) {
                // SIGKILL, SIGSTOP, or a number the C library reserves: EINVAL.
                slot.store(-1, Ordering::SeqCst);
                return Err(e);
            }
            st.on[idx] = true;
        }
        Ok(())
    })
}

/// Takes `fd` (or its orphaned entry) out of the registry for the signal at `idx`; restores the
/// old action if it was the last.
fn unregister(idx: usize, fd: RawFd) {
    let row = &REGISTRY[idx];
    locked(|st| {
        let mine = |e: &&AtomicI32| {
            let v = e.load(Ordering::SeqCst);
            v == fd || v == orphan(fd)
        };
        if let Some(j) = row.iter().position(|e| mine(&e)) {
            row[j].store(-1, Ordering::SeqCst);
            PENDING[idx][j].store(0, Ordering::SeqCst);
        }
        if st.on[idx] && row.iter().all(|e| e.load(Ordering::SeqCst) == -1) {
            // SAFETY: `on[idx]` says `old[idx]` was written by the sigaction that installed us.
            // Restoring an action sigaction gave back cannot fail; if it did, our handler stays
            // and, with no write end registered, does nothing.
            unsafe {
                libc::sigaction(
                    idx as libc::c_int,
                    st.old[idx].as_ptr(),
                    core::ptr::null_mut(),
                )
            };
            st.on[idx] = false;
        }
    });
}

/// [`Hosted`](super::hosted::Hosted)'s [`Signals`]: a [`SignalPipe`] opened on first use. Making
/// one registers the fork handlers (see [`super::fork`]), so every base over `Hosted` notices a
/// fork.
#[derive(Debug)]
pub struct Catcher(Option<SignalPipe>);

impl Catcher {
    /// No pipe yet.
    pub fn new() -> Self {
        super::fork::register();
        Catcher(None)
    }
}

impl Default for Catcher {
    fn default() -> Self {
        Catcher::new()
    }
}

impl Signals for Catcher {
    fn open(&mut self) -> Result<RawFd, Error> {
        if let Some(pipe) = &self.0 {
            return Ok(pipe.read_fd());
        }
        let pipe = SignalPipe::new()?;
        let fd = pipe.read_fd();
        self.0 = Some(pipe);
        Ok(fd)
    }
    fn watch(&mut self, sig: i32) -> Result<(), Error> {
        self.open()?;
        self.0.as_mut().map_or(Ok(()), |pipe| pipe.watch(sig))
    }
    fn unwatch(&mut self, sig: i32) {
        if let Some(pipe) = &mut self.0 {
            pipe.unwatch(sig);
        }
    }
    fn drain(&mut self, f: &mut dyn FnMut(i32, u32)) {
        if let Some(pipe) = &mut self.0 {
            pipe.drain(f);
        }
    }
    fn reinit(&mut self) -> Result<RawFd, Error> {
        match &mut self.0 {
            Some(pipe) => pipe.reinit().map(|()| pipe.read_fd()),
            None => Ok(-1),
        }
    }
}

/// One base's view of signals: a self-pipe, and the signals whose deliveries it receives.
///
/// The base watches [`read_fd`](Self::read_fd) for READ with its backend and, when it is
/// readable, calls [`drain`](Self::drain). Every `SignalPipe` watching a signal receives each of
/// its deliveries; one that does not watch it never consumes it. At most [`MAX_BASES`] pipes watch
/// one signal at a time.
#[derive(Debug)]
pub struct SignalPipe {
    /// `[read, write]`.
    fds: [OwnedFd; 2],
    /// Bit `s` set: watching signal `s`.
    mask: u128,
}

impl SignalPipe {
    /// A pipe watching no signal yet: non-blocking and close-on-exec at both ends.
    pub fn new() -> Result<Self, Error> {
        super::fork::register();
        Ok(SignalPipe {
            fds: new_pipe()?,
            mask: 0,
        })
    }

    /// The read end, for the base to watch for READ with its backend.
    pub fn read_fd(&self) -> RawFd {
        self.fds[0].raw()
    }

    /// Starts receiving `sig`. Watching a signal already watched does nothing.
    ///
    /// The first pipe in the process to watch `sig` installs the handler and saves the previous
    /// action. Errors: [`Error::BadSignal`] outside `1..NSIG`;
    /// [`Error::Full`]`(`[`Resource::SignalMap`]`)` when [`MAX_BASES`] pipes watch it already;
    /// [`Error::Os`] from `sigaction` (`EINVAL` for `SIGKILL` and `SIGSTOP`).
    pub fn watch(&mut self, sig: i32) -> Result<(), Error> {
        let idx = index(sig).ok_or(Error::BadSignal(sig))?;
        if self.mask & (1 << idx) != 0 {
            return Ok(());
        }
        register(idx, self.fds[1].raw())?;
        self.mask |= 1 << idx;
        Ok(())
    }

    /// Stops receiving `sig`. Unwatching a signal not watched (or not valid) does nothing.
    ///
    /// When the last pipe in the process leaves `sig`, the action it replaced is restored.
    pub fn unwatch(&mut self, sig: i32) {
        let Some(idx) = index(sig) else { return };
        if self.mask & (1 << idx) == 0 {
            return;
        }
        unregister(idx, self.fds[1].raw());
        self.mask &= !(1 << idx);
    }

    /// Whether this pipe receives `sig`.
    pub fn is_watching(&self, sig: i32) -> bool {
        index(sig).is_some_and(|idx| self.mask & (1 << idx) != 0)
    }

    /// Reads everything pending (until `EAGAIN`) and calls `f(sig, count)` once per watched
    /// signal delivered `count > 0` times, in signal-number order.
    ///
    /// A byte for a signal no longer watched (delivered just before [`unwatch`](Self::unwatch))
    /// is discarded. Counts coalesce when the pipe was full (see the module docs).
    pub fn drain(&mut self, mut f: impl FnMut(i32, u32)) {
        let mut counts = [0u32; NSIG];
        let mut buf = [0u8; 256];
        loop {
            // SAFETY: `buf` is writable for its length; the read end is ours and open.
            let n = unsafe { libc::read(self.fds[0].raw(), buf.as_mut_ptr().cast(), buf.len()) };
            let n = match syscall("read", n) {
                Ok(n) => n as usize,
                Err(e) if is_eintr(&e) => continue,
                Err(_) => break, // EAGAIN: drained.
            };
            for &b in buf.iter().take(n) {
                if let Some(c) = counts.get_mut(usize::from(b)) {
                    *c = c.saturating_add(1);
                }
            }
            if n < buf.len() {
                break; // Short read: nothing more was pending.
            }
        }
        for (sig, &count) in counts.iter().enumerate() {
            if count > 0 && self.mask & (1 << sig) != 0 {
                f(sig as i32, count);
            }
        }
    }

    /// After `fork()`, in the child: a new pipe replaces the inherited one, and every watched
    /// signal is registered with the new write end.
    ///
    /// The registry is process memory, copied by `fork`: the child's copy has this pipe's entries
    /// (orphaned by the fork, see the module docs) taken over by the new write end, so a signal
    /// raised in the child reaches the child's pipe and not the parent's, and the parent's
    /// registration stays the parent's. Deliveries the child took since the fork are written to
    /// the new pipe. Call it before the child starts threads. On error the pipe is unchanged.
    pub fn reinit(&mut self) -> Result<(), Error> {
        let fresh = new_pipe()?;
        let (old, new) = (self.fds[1].raw(), fresh[1].raw());
        let mask = self.mask;
        locked(|_| {
            for (idx, row) in REGISTRY.iter().enumerate() {
                if mask & (1 << idx) == 0 {
                    continue;
                }
                // The old write end is in the row (watch put it there), orphaned if a fork came
                // since; were it missing, claim an empty entry instead. Under the lock no other
                // registration runs, so the row has room for it: it held the old end.
                let took = |e: &AtomicI32, from| {
                    e.compare_exchange(from, new, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                };
                let swapped = row.iter().any(|e| took(e, old));
                if !swapped {
                    if let Some(j) = row.iter().position(|e| took(e, orphan(old))) {
                        replay(new, idx, PENDING[idx][j].swap(0, Ordering::SeqCst));
                        continue;
                    }
                    let _ = row.iter().any(|e| {
                        e.compare_exchange(-1, new, Ordering::SeqCst, Ordering::SeqCst)
                            .is_ok()
                    });
                }
            }
        });
        quiesce();
        // Closes the old ends, no handler holding either.
        self.fds = fresh;
        Ok(())
    }
}

/// Writes `count` deliveries of signal `sig` to write end `fd`, as the handler would have; a
/// full pipe takes what it can (a byte for the signal is unread then, see the module docs).
fn replay(fd: RawFd, sig: usize, count: u32) {
    let buf = [sig as u8; 64]; // NSIG <= 256
    let mut left = count as usize;
    while left > 0 {
        // SAFETY: `buf` is readable for `left.min(64)` bytes; `fd` is our new write end.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), left.min(buf.len())) };
        match syscall("write", n) {
            Ok(n) if n > 0 => left -= n as usize,
            Err(e) if is_eintr(&e) => {}
            _ => break,
        }
    }
}

impl Drop for SignalPipe {
    /// Unwatches every signal (restoring old actions where this was the last pipe); both ends
    /// close after, once no handler can hold the write end.
    fn drop(&mut self) {
        for sig in 1..NSIG as i32 {
            self.unwatch(sig);
        }
        quiesce();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Mutex, MutexGuard};
    use std::vec::Vec;

    /// Signal tests change process-wide state (and one forks): one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn raise(sig: i32) {
        // SAFETY: `sig` is watched by the caller, so our handler runs instead of a default action.
        assert_eq!(unsafe { libc::raise(sig) }, 0);
    }

    fn drained(p: &mut SignalPipe) -> Vec<(i32, u32)> {
        let mut v = Vec::new();
        p.drain(|s, c| v.push((s, c)));
        v
    }

    fn current_handler(sig: i32) -> libc::sighandler_t {
        // SAFETY: all-zero is a valid sigaction to be overwritten.
        let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
        // SAFETY: a null new action only queries; `old` is writable.
        let r = unsafe { libc::sigaction(sig, core::ptr::null(), &mut old) };
        assert_eq!(r, 0);
        old.sa_sigaction
    }

    #[test]
    fn receives_a_raise() {
        let _g = serial();
        let mut p = SignalPipe::new().unwrap();
        p.watch(libc::SIGUSR1).unwrap();
        p.watch(libc::SIGUSR1).unwrap(); // idempotent
        assert!(p.is_watching(libc::SIGUSR1));
        assert!(!p.is_watching(libc::SIGUSR2));
        assert_eq!(drained(&mut p), []);
        raise(libc::SIGUSR1);
        assert_eq!(drained(&mut p), [(libc::SIGUSR1, 1)]);
        raise(libc::SIGUSR1);
        raise(libc::SIGUSR1);
        assert_eq!(drained(&mut p), [(libc::SIGUSR1, 2)]);
        assert_eq!(drained(&mut p), []);
        p.unwatch(libc::SIGUSR1);
        p.unwatch(libc::SIGUSR1); // idempotent
        assert!(!p.is_watching(libc::SIGUSR1));
    }

    #[test]
    fn every_watching_pipe_receives_each_delivery() {
        let _g = serial();
        let mut a = SignalPipe::new().unwrap();
        let mut b = SignalPipe::new().unwrap();
        a.watch(libc::SIGUSR2).unwrap();
        b.watch(libc::SIGUSR2).unwrap();
        raise(libc::SIGUSR2);
        assert_eq!(drained(&mut a), [(libc::SIGUSR2, 1)]);
        assert_eq!(drained(&mut b), [(libc::SIGUSR2, 1)]);
        // Dropping one leaves the other receiving (the handler stays installed).
        drop(a);
        raise(libc::SIGUSR2);
        assert_eq!(drained(&mut b), [(libc::SIGUSR2, 1)]);
    }

    #[test]
    fn delivery_from_another_thread() {
        let _g = serial();
        let mut p = SignalPipe::new().unwrap();
        p.watch(libc::SIGUSR1).unwrap();
        std::thread::spawn(|| raise(libc::SIGUSR1)).join().unwrap();
        assert_eq!(drained(&mut p), [(libc::SIGUSR1, 1)]);
    }

    #[test]
    fn a_pipe_not_watching_sees_nothing() {
        let _g = serial();
        let mut watcher = SignalPipe::new().unwrap();
        let mut other = SignalPipe::new().unwrap();
        watcher.watch(libc::SIGWINCH).unwrap();
        other.watch(libc::SIGURG).unwrap();
        raise(libc::SIGWINCH);
        assert_eq!(drained(&mut other), []);
        assert_eq!(drained(&mut watcher), [(libc::SIGWINCH, 1)]);
        raise(libc::SIGURG);
        assert_eq!(drained(&mut watcher), []);
        assert_eq!(drained(&mut other), [(libc::SIGURG, 1)]);
    }

    static CUSTOM_HITS: AtomicU32 = AtomicU32::new(0);
    extern "C" fn custom(_: libc::c_int) {
        CUSTOM_HITS.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn last_unwatch_restores_the_previous_handler() {
        let _g = serial();
        let sig = libc::SIGURG;
        let mine = custom as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: all-zero is a valid sigaction; set the handler then install it.
        let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
        sa.sa_sigaction = mine;
        // SAFETY: `sa` is initialized; the old action is not wanted.
        let r = unsafe { libc::sigaction(sig, &sa, core::ptr::null_mut()) };
        assert_eq!(r, 0);
        let mut a = SignalPipe::new().unwrap();
        let mut b = SignalPipe::new().unwrap();
        a.watch(sig).unwrap();
        b.watch(sig).unwrap();
        assert_ne!(current_handler(sig), mine);
        a.unwatch(sig);
        assert_ne!(current_handler(sig), mine, "b still watches");
        raise(sig);
        assert_eq!(drained(&mut b), [(sig, 1)]);
        assert_eq!(drained(&mut a), []);
        b.unwatch(sig);
        assert_eq!(current_handler(sig), mine);
        raise(sig);
        assert_eq!(CUSTOM_HITS.load(Ordering::SeqCst), 1);
        assert_eq!(drained(&mut b), []);
        // Drop too restores: watch again, drop.
        b.watch(sig).unwrap();
        assert_ne!(current_handler(sig), mine);
        drop(b);
        assert_eq!(current_handler(sig), mine);
        // SAFETY: all-zero is SIG_DFL with no flags; put the default back.
        let dfl: libc::sigaction = unsafe { core::mem::zeroed() };
        // SAFETY: `dfl` is initialized.
        let r = unsafe { libc::sigaction(sig, &dfl, core::ptr::null_mut()) };
        assert_eq!(r, 0);
    }

    #[test]
    fn bad_signals() {
        let _g = serial();
        let mut p = SignalPipe::new().unwrap();
        for sig in [0, -1, NSIG as i32, NSIG as i32 + 1, i32::MAX, i32::MIN] {
            assert_eq!(p.watch(sig), Err(Error::BadSignal(sig)));
            assert!(!p.is_watching(sig));
            p.unwatch(sig);
        }
        for sig in [libc::SIGKILL, libc::SIGSTOP] {
            let e = p.watch(sig).unwrap_err();
            assert_eq!(e.errno(), Some(crate::Errno(libc::EINVAL)), "{e:?}");
            assert!(!p.is_watching(sig));
            // The failed install left the row empty.
            assert!(REGISTRY[sig as usize]
                .iter()
                .all(|e| e.load(Ordering::SeqCst) < 0));
        }
    }

    #[test]
    fn a_full_row_is_an_error() {
        let _g = serial();
        let sig = libc::SIGWINCH;
        let mut pipes: Vec<SignalPipe> =
            (0..MAX_BASES).map(|_| SignalPipe::new().unwrap()).collect();
        for p in &mut pipes {
            p.watch(sig).unwrap();
        }
        let mut extra = SignalPipe::new().unwrap();
        assert_eq!(extra.watch(sig), Err(Error::Full(Resource::SignalMap)));
        assert!(!extra.is_watching(sig));
        raise(sig);
        for p in &mut pipes {
            assert_eq!(drained(p), [(sig, 1)]);
        }
        assert_eq!(drained(&mut extra), []);
        pipes.pop();
        extra.watch(sig).unwrap();
        raise(sig);
        assert_eq!(drained(&mut extra), [(sig, 1)]);
    }

    #[test]
    fn pipe_is_nonblocking_and_cloexec() {
        let p = SignalPipe::new().unwrap();
        for fd in &p.fds {
            // SAFETY: `fd` is open; these commands take no argument.
            let (fl, fdfl) = unsafe {
                (
                    libc::fcntl(fd.raw(), libc::F_GETFL),
                    libc::fcntl(fd.raw(), libc::F_GETFD),
                )
            };
            assert_ne!(fl & libc::O_NONBLOCK, 0);
            assert_ne!(fdfl & libc::FD_CLOEXEC, 0);
        }
    }

    /// In the child, only async-signal-safe calls: no allocation, no panic, `_exit` with a code.
    fn child(p: &mut SignalPipe, sig: i32) -> i32 {
        // The inherited pipe is shared with the parent: keep a way to look into it.
        // SAFETY: dup of an open fd we own.
        let shared = unsafe { libc::dup(p.read_fd()) };
        if shared < 0 {
            return 9;
        }
        // Taken before the pipe is the child's own: kept for it, not written to the parent's.
        // SAFETY: `sig` is watched, so our handler runs.
        if unsafe { libc::raise(sig) } != 0 {
            return 8;
        }
        if p.reinit().is_err() {
            return 10;
        }
        if !p.is_watching(sig) {
            return 11;
        }
        // SAFETY: `sig` is watched, so our handler runs.
        if unsafe { libc::raise(sig) } != 0 {
            return 12;
        }
        let mut byte = 0u8;
        // SAFETY: `byte` is one writable byte; `shared` is open and non-blocking.
        let leaked = unsafe { libc::read(shared, (&mut byte as *mut u8).cast(), 1) };
        let (mut seen, mut others) = (0, 0);
        p.drain(|s, c| if s == sig { seen += c } else { others += 1 });
        match (seen, others, leaked) {
            (_, _, 1) => 15, // reached the parent's pipe
            (2, 0, _) => 0,
            (0, _, _) => 13,
            _ => 14,
        }
    }

    #[test]
    fn fork_reinit_keeps_the_childs_signals_in_the_child() {
        let _g = serial();
        let sig = libc::SIGUSR1;
        let mut p = SignalPipe::new().unwrap();
        p.watch(sig).unwrap();
        let parent_write = p.fds[1].raw();
        // SAFETY: the child runs only async-signal-safe code (see `child`) and leaves by _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = child(&mut p, sig);
            // SAFETY: ends the child without running the parent's destructors or atexit hooks.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is writable.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "child status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "child failed");
        // The child's raise went to the child's new pipe, not to ours.
        assert_eq!(drained(&mut p), []);
        // Ours is still registered in the parent and still receives.
        assert_eq!(p.fds[1].raw(), parent_write);
        raise(sig);
        assert_eq!(drained(&mut p), [(sig, 1)]);
        // reinit in the parent (not after a fork) works too: a new pipe, still receiving.
        p.reinit().unwrap();
        assert_ne!(p.fds[1].raw(), parent_write);
        assert!(REGISTRY[sig as usize]
            .iter()
            .all(|e| e.load(Ordering::SeqCst) != parent_write));
        raise(sig);
        assert_eq!(drained(&mut p), [(sig, 1)]);
    }
}
