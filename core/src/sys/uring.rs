//! io_uring(7) backend: an iteration's interest changes and the wait go to the kernel in one
//! `io_uring_enter(2)`.
//!
//! Interest is kept with poll requests (`IORING_OP_POLL_ADD`), one per watched fd, and changed
//! with `IORING_OP_POLL_REMOVE` + a new `POLL_ADD`. Every change is written to the SQ at once
//! (the SQ is the changelist: [`Info::changelist`] is `false`, so the base's own changelist does
//! not stand in front of it), and the next dispatch submits them together with the wait. The
//! wait's timeout is a `__kernel_timespec` handed in through `IORING_ENTER_EXT_ARG` (nanosecond
//! precision, no timer request).
//!
//! - **Level-triggered** interest is a one-shot poll: its completion is reported, and the request
//!   is armed again in the next dispatch's submission (one SQE, no syscall of its own). Arming
//!   polls the file at once, so unread data is reported again, as level triggering asks.
//! - **Edge-triggered** interest (`ET`) is a multishot poll (`IORING_POLL_ADD_MULTI`): the kernel
//!   posts a completion per wakeup and keeps the request armed; it is armed again only when the
//!   kernel ends it (a completion without `IORING_CQE_F_MORE`).
//! - **Exclusive** interest ([`What::EXCLUSIVE`]) puts `EPOLLEXCLUSIVE` in the poll mask (the
//!   kernel has accepted it in `poll32_events` since 2020; it then queues the request with
//!   `add_wait_queue_exclusive`, and a wakeup stops at the first exclusive request that takes
//!   it; it refuses nothing here, multishot included). A one-shot request would leave the wait
//!   queue at each wakeup and come back at its tail, so the wakeups would go round the bases
//!   while each re-arm, polling the file at once, found the connection another base was woken
//!   for: the herd again. So level-triggered exclusive interest is a multishot request, which
//!   keeps its place, as epoll's does; its completions are hints only (a completion's mask is
//!   the wakeup's, possibly stale by the time it is read): each is followed, in the same
//!   dispatch, by a check (a one-shot poll without the exclusive flag and its removal in one
//!   submission), and only the check's answer is reported. After a report the fd is checked
//!   again in the next dispatch, which keeps it level-triggered.
//! - A poll request holds a reference to its *file*, not its fd number. So any add, even a
//!   redundant one, removes the fd's request and arms a new one: the number may be a new file's
//!   by now. And a watched fd closed without a delete stays open inside the kernel (its peer sees
//!   no end of stream) until the delete removes the request (or the ring is closed): delete an
//!   fd's events before closing it, as with any backend.
//! - Each request's `user_data` carries the fd and a per-fd generation, bumped at every arm, so a
//!   completion of a request that has since been removed or replaced (a "stale" one: the
//!   `-ECANCELED` of a removed request, or a readiness that raced with the removal) is dropped.
//!   A removal costs one such completion; the wait asks for one more completion per removal it
//!   submits, and when a wait nonetheless returns with stale completions only, it waits again
//!   with the whole timeout (never early, at worst late by one syscall).
//! - Regular files and directories are refused at the first add ([`Error::Unpollable`], one
//!   `fstat`), as on every backend; a poll on them would report them always ready.
//! - A completion says what was ready when it was posted. The ring is reaped in the dispatch
//!   that posts it, so this is what is ready at the wait's end, as with epoll, except when more
//!   fds complete than the CQ holds ([`DEFAULT_ENTRIES`] × 16): the kernel keeps the rest
//!   (`IORING_FEAT_NODROP`) for the next dispatches, and re-arming waits until they are reported,
//!   so that no completion is posted behind them. A program that reads an fd it did not get a
//!   report for may still see a report that no longer holds (`EAGAIN` on its read), as with
//!   poll and select: use non-blocking fds.
//! - A one-shot re-arm that finds its fd closed (`-EBADF`) reports it once as `READ | WRITE` (as
//!   poll reports `POLLNVAL`) and forgets the fd until the next add.
//! - [`add`](Backend::add) makes its `fstat` only for an fd whose request did not complete in
//!   this iteration: an event re-added by its own callback costs no syscall (nor does
//!   [`check`](Backend::check) for an fd the kernel polls already). Should the number have been
//!   closed and reopened in between, a closed fd is reported once as above, and a regular file
//!   (which a poll finds always ready) is reported ready, as poll and select report it, instead
//!   of being refused.
//!
//! The per-fd state (interest, `ET`, armed, generation, and a link in the list of fds to re-arm)
//! lives in a table indexed by fd. The backend maps it, as it maps the rings (`mmap(2)`: memory
//! from the kernel, not an allocation): an anonymous mapping reserved for every fd number the
//! process may open, whose pages the kernel provides as they are first touched. So no storage is
//! asked of the caller, and no fd number is beyond reach.
//!
//! **Selection.** The hosted table tries io_uring before epoll only when asked for
//! ([`BaseFlags::IO_URING`](crate::BaseFlags::IO_URING) or `EVENT_IO_URING`): it saves the
//! `epoll_ctl` calls of re-added events (about 0.7 times epoll's CPU time there), but a
//! one-shot poll re-armed per firing costs the kernel more than epoll's level-triggered
//! registration on persistent events, the common case (about 1.1 times; see the README).
//!
//! **Proving itself.** [`Uring::new`] fails (and selection moves on to epoll) unless
//! `io_uring_setup` succeeds with `IORING_SETUP_SUBMIT_ALL` (Linux 5.18) and
//! `IORING_SETUP_COOP_TASKRUN` (5.19), the ring has `IORING_FEAT_SINGLE_MMAP`, `NODROP`,
//! `EXT_ARG` and `CQE_SKIP`, and `IORING_REGISTER_PROBE` lists `POLL_ADD` and `POLL_REMOVE`.
//! `ENOSYS` (no io_uring), `EPERM` (`kernel.io_uring_disabled`, seccomp) or a missing piece
//! all make it fail.
//!
//! **Fork.** The rings are `MAP_SHARED` with the kernel: a forked child that touched them would
//! consume the parent's completions and submit into its ring. [`reinit`](Backend::reinit) unmaps
//! them and closes the child's reference to the ring fd without a syscall on the ring, then sets
//! up a new one. Should a child reach [`dispatch`](Backend::dispatch) or
//! [`apply`](Backend::apply) before its base re-initialises it, the backend notices the fork
//! generation ([`crate::fork`]) itself and does the same, re-arming every fd it watched.

use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use libc::{c_int, c_long, c_uint, c_void};

use super::epoll::readiness;
use super::{check_pollable, errno, syscall, timeout, OwnedFd};
use crate::backend::{Backend, Change, ChangeOp, FdInfo, Info, Sink};
use crate::{Errno, Error, Features, Operation, RawFd, Resource, What};

/// Edge triggering, O(1) operations and `POLLRDHUP` for [`What::CLOSED`] (as epoll).
pub const FEATURES: Features = Features::ET
    .union(Features::O1)
    .union(Features::EARLY_CLOSE);

/// SQ entries of a default ring; the CQ has 16 times as many.
pub const DEFAULT_ENTRIES: u32 = 256;
const CQ_PER_SQ: u32 = 16;

// ---- the kernel's ABI (include/uapi/linux/io_uring.h) ----------------------------------------

/// `struct io_sqring_offsets`.
#[repr(C)]
#[derive(Default)]
struct SqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    flags: u32,
    dropped: u32,
    array: u32,
    resv1: u32,
    user_addr: u64,
}

/// `struct io_cqring_offsets`.
#[repr(C)]
#[derive(Default)]
struct CqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    overflow: u32,
    cqes: u32,
    flags: u32,
    resv1: u32,
    user_addr: u64,
}

/// `struct io_uring_params`.
#[repr(C)]
#[derive(Default)]
struct Params {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: SqOffsets,
    cq_off: CqOffsets,
}

/// `struct io_uring_sqe`, with only the fields used here named.
#[repr(C)]
#[derive(Clone, Copy)]
struct Sqe {
    opcode: u8,
    flags: u8,
    ioprio: u16,
    fd: i32,
    off: u64,
    addr: u64,
    len: u32,
    /// `poll32_events` for a poll request.
    op_flags: u32,
    user_data: u64,
    tail: [u64; 3],
}

/// `struct io_uring_cqe`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Cqe {
    user_data: u64,
    res: i32,
    flags: u32,
}

/// `struct io_uring_getevents_arg`.
#[repr(C)]
struct GeteventsArg {
    sigmask: u64,
    sigmask_sz: u32,
    min_wait_usec: u32,
    ts: u64,
}

/// `struct __kernel_timespec`.
#[repr(C)]
struct KernelTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// `struct io_uring_probe` with room for every opcode.
#[repr(C)]
struct Probe {
    last_op: u8,
    ops_len: u8,
    resv: u16,
    resv2: [u32; 3],
    ops: [ProbeOp; 256],
}

/// `struct io_uring_probe_op`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProbeOp {
    op: u8,
    resv: u8,
    flags: u16,
    resv2: u32,
}

const IORING_OP_POLL_ADD: u8 = 6;
const IORING_OP_POLL_REMOVE: u8 = 7;
const IOSQE_CQE_SKIP_SUCCESS: u8 = 1 << 6;
const IORING_POLL_ADD_MULTI: u32 = 1 << 0;
const IORING_CQE_F_MORE: u32 = 1 << 1;
const IORING_SETUP_CQSIZE: u32 = 1 << 3;
const IORING_SETUP_CLAMP: u32 = 1 << 4;
const IORING_SETUP_SUBMIT_ALL: u32 = 1 << 7;
const IORING_SETUP_COOP_TASKRUN: u32 = 1 << 8;
const IORING_FEAT_SINGLE_MMAP: u32 = 1 << 0;
const IORING_FEAT_NODROP: u32 = 1 << 1;
const IORING_FEAT_EXT_ARG: u32 = 1 << 8;
const IORING_FEAT_CQE_SKIP: u32 = 1 << 11;
const IORING_SQ_CQ_OVERFLOW: u32 = 1 << 1;
const IORING_ENTER_GETEVENTS: c_uint = 1 << 0;
const IORING_ENTER_EXT_ARG: c_uint = 1 << 3;
const IORING_OFF_SQ_RING: libc::off_t = 0;
const IORING_OFF_SQES: libc::off_t = 0x1000_0000;
const IORING_REGISTER_PROBE: c_uint = 8;
const IO_URING_OP_SUPPORTED: u16 = 1 << 0;

/// The opcodes the backend needs.
const NEEDED_OPS: [u8; 2] = [IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE];
/// The ring features it needs.
const NEEDED_FEATURES: u32 =
    IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG | IORING_FEAT_CQE_SKIP;

const IN: u32 = libc::POLLIN as u32;
const OUT: u32 = libc::POLLOUT as u32;
const ERR: u32 = libc::POLLERR as u32;
const HUP: u32 = libc::POLLHUP as u32;
const RDHUP: u32 = libc::POLLRDHUP as u32;

// ---- per-fd state --------------------------------------------------------------------------

/// One fd's state: its interest as the kernel has it, and its place in the re-arm list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    /// Interest bits, `ET`, armed, listed, and the generation (see the constants below).
    state: u32,
    /// The next fd in the re-arm list, plus one (0: the end).
    next: u32,
}

const S_READ: u32 = 1;
const S_WRITE: u32 = 2;
const S_CLOSED: u32 = 4;
const S_IO: u32 = S_READ | S_WRITE | S_CLOSED;
const S_ET: u32 = 8;
/// A request is armed in the kernel (or waiting in the SQ to be).
const S_ARMED: u32 = 16;
/// The fd is in the re-arm list.
const S_LISTED: u32 = 32;
/// Exclusive wake.
const S_EXCL: u32 = 64;
const GEN_SHIFT: u32 = 8;
/// The generation's bits (24).
const GEN_MASK: u32 = u32::MAX >> GEN_SHIFT;

impl Slot {
    fn gen(self) -> u32 {
        self.state >> GEN_SHIFT
    }
    fn has(self, bit: u32) -> bool {
        self.state & bit != 0
    }
    fn set(&mut self, bit: u32, on: bool) {
        if on {
            self.state |= bit;
        } else {
            self.state &= !bit;
        }
    }
    /// Level-triggered exclusive interest: a multishot request whose completions are only
    /// hints, each followed by a check (see [`Uring::recheck`]).
    fn level_exclusive(self) -> bool {
        self.state & (S_EXCL | S_ET) == S_EXCL
    }
    /// The poll mask of its interest.
    #[inline(always)]
    fn mask(self) -> u32 {
        const EXCL: u32 = libc::EPOLLEXCLUSIVE as u32;
        let excl = if self.has(S_EXCL) { EXCL } else { 0 };
        MASKS[(self.state & S_IO) as usize] | excl
    }
}

/// The poll mask of each combination of `S_READ`, `S_WRITE` and `S_CLOSED`.
const MASKS: [u32; 8] = {
    let mut m = [0; 8];
    let mut i = 0;
    while i < 8 {
        let s = i as u32;
        m[i] = if s & S_READ != 0 { IN } else { 0 }
            | if s & S_WRITE != 0 { OUT } else { 0 }
            | if s & S_CLOSED != 0 { RDHUP } else { 0 };
        i += 1;
    }
    m
};

/// The slot bits of `interest`.
fn bits(interest: What) -> u32 {
    let mut s = 0;
    if interest.contains(What::READ) {
        s |= S_READ;
    }
    if interest.contains(What::WRITE) {
        s |= S_WRITE;
    }
    if interest.contains(What::CLOSED) {
        s |= S_CLOSED;
    }
    s
}

/// `user_data` of a poll request: bit 63 set, the generation above the fd. A removal's
/// `user_data` is 0, and its completion (posted only when it fails) is ignored.
#[inline]
fn poll_key(fd: RawFd, gen: u32) -> u64 {
    1 << 63 | u64::from(gen) << 32 | u64::from(fd as u32)
}

/// The `user_data` bit of a readiness check (see [`Uring::recheck`]).
const CHECK: u64 = 1 << 62;

/// Puts `fd`, whose slot is `slot`, on the re-arm list that `head` begins, unless it is there.
#[inline(always)]
fn link(head: &mut u32, slot: &mut Slot, fd: RawFd) {
    if !slot.has(S_LISTED) {
        slot.state |= S_LISTED;
        slot.next = *head;
        *head = fd as u32 + 1;
    }
}

/// The removal of the request whose `user_data` is `key`; its completion is posted only if it
/// fails.
#[inline(always)]
fn poll_remove(key: u64) -> Sqe {
    Sqe {
        opcode: IORING_OP_POLL_REMOVE,
        flags: IOSQE_CQE_SKIP_SUCCESS,
        fd: -1,
        addr: key,
        ..SQE
    }
}

/// A poll request for `fd` with the interest in `slot`, which it marks armed, with a new
/// generation.
#[inline(always)]
fn poll_add(slot: &mut Slot, fd: RawFd) -> Sqe {
    let gen = (slot.gen() + 1) & GEN_MASK;
    slot.state = (slot.state & ((1 << GEN_SHIFT) - 1)) | gen << GEN_SHIFT | S_ARMED;
    let multi = slot.has(S_ET) || slot.level_exclusive();
    Sqe {
        opcode: IORING_OP_POLL_ADD,
        fd,
        len: if multi { IORING_POLL_ADD_MULTI } else { 0 },
        op_flags: slot.mask(),
        user_data: poll_key(fd, gen),
        ..SQE
    }
}

// ---- the per-fd table ----------------------------------------------------------------------

/// The per-fd table: a private anonymous mapping indexed by fd, reserved for every fd number the
/// process may open (`RLIMIT_NOFILE`'s hard limit) without reserving memory (`MAP_NORESERVE`):
/// the kernel gives it zeroed pages as they are first touched, so it costs a page per 512 fd
/// numbers in use and needs no capacity from the caller.
struct Table {
    slots: *mut Slot,
    len: usize,
}

// SAFETY: as for `Ring`: the mapping is this table's alone, reached through `&mut self`.
unsafe impl Send for Table {}

impl Table {
    fn new() -> Result<Table, Error> {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid rlimit the call fills.
        let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            lim.rlim_max
        } else {
            0
        };
        // At least 64 Ki numbers, at most what the address space affords.
        let cap: u64 = if usize::BITS >= 64 { 1 << 24 } else { 1 << 18 };
        let len = (max as u64).clamp(1 << 16, cap) as usize;
        // SAFETY: a fresh private anonymous mapping; nothing is overwritten.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len * size_of::<Slot>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(super::os("mmap"));
        }
        Ok(Table {
            slots: p.cast(),
            len,
        })
    }

    /// A copy of `fd`'s slot.
    #[inline(always)]
    fn peek(&self, fd: RawFd) -> Option<Slot> {
        let i = fd as u32 as usize;
        // SAFETY: as in `get`, read only.
        (i < self.len).then(|| unsafe { *self.slots.add(i) })
    }

    #[inline(always)]
    fn get(&mut self, fd: RawFd) -> Option<&mut Slot> {
        let i = fd as u32 as usize;
        // SAFETY: `i < len` lies within the mapping, zero-filled (a valid `Slot`) until written;
        // the `&mut` borrows `self`.
        (i < self.len).then(|| unsafe { &mut *self.slots.add(i) })
    }

    /// Every slot back to zero; the pages go back to the kernel.
    fn clear(&mut self) {
        // SAFETY: the whole mapping, private and anonymous: `MADV_DONTNEED` makes it read as
        // zeroes again.
        unsafe {
            libc::madvise(
                self.slots.cast(),
                self.len * size_of::<Slot>(),
                libc::MADV_DONTNEED,
            )
        };
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.slots.cast(), self.len * size_of::<Slot>()) };
    }
}

// ---- the ring ------------------------------------------------------------------------------

/// A mapped io_uring instance.
struct Ring {
    fd: OwnedFd,
    ring: *mut c_void,
    ring_len: usize,
    sqes: *mut Sqe,
    sqes_len: usize,
    sq_head: *const AtomicU32,
    sq_tail: *const AtomicU32,
    sq_flags: *const AtomicU32,
    sq_mask: u32,
    sq_entries: u32,
    cq_head: *const AtomicU32,
    cq_tail: *const AtomicU32,
    cq_mask: u32,
    cqes: *const Cqe,
    /// Our tail: SQEs up to here are written, up to the kernel's head submitted.
    tail: u32,
}

// SAFETY: the ring's memory is mapped for this `Ring` alone and reached only through `&mut self`
// (or `&self` for reads of our own tail); the kernel is the only other party, and it is the same
// kernel on any thread. Moving the owner to another thread moves nothing the thread holds.
unsafe impl Send for Ring {}

impl Ring {
    /// Sets up and maps a ring of `entries` SQ entries, and checks that it has what the backend
    /// needs.
    fn new(entries: u32) -> Result<Ring, Error> {
        let mut p = Params {
            flags: IORING_SETUP_CQSIZE
                | IORING_SETUP_CLAMP
                | IORING_SETUP_SUBMIT_ALL
                | IORING_SETUP_COOP_TASKRUN,
            cq_entries: entries.saturating_mul(CQ_PER_SQ),
            ..Params::default()
        };
        // SAFETY: `p` is a valid `io_uring_params` the kernel reads and fills.
        let fd = syscall("io_uring_setup", unsafe {
            libc::syscall(
                libc::SYS_io_uring_setup,
                entries as c_long,
                &mut p as *mut Params,
            )
        })? as c_int;
        // From here on, `ring` closes the fd (and unmaps what is mapped) if a check fails.
        let mut ring = Ring {
            fd: OwnedFd(fd),
            ring: ptr::null_mut(),
            ring_len: 0,
            sqes: ptr::null_mut(),
            sqes_len: 0,
            sq_head: ptr::null(),
            sq_tail: ptr::null(),
            sq_flags: ptr::null(),
            sq_mask: 0,
            sq_entries: 0,
            cq_head: ptr::null(),
            cq_tail: ptr::null(),
            cq_mask: 0,
            cqes: ptr::null(),
            tail: 0,
        };
        if p.features & NEEDED_FEATURES != NEEDED_FEATURES {
            return Err(Error::Os {
                call: "io_uring_setup",
                errno: Errno(libc::ENOSYS),
            });
        }
        ring.probe()?;
        let sq_len = p.sq_off.array as usize + p.sq_entries as usize * 4;
        let cq_len = p.cq_off.cqes as usize + p.cq_entries as usize * size_of::<Cqe>();
        ring.ring_len = sq_len.max(cq_len);
        ring.ring = map(fd, ring.ring_len, IORING_OFF_SQ_RING)?;
        ring.sqes_len = p.sq_entries as usize * size_of::<Sqe>();
        ring.sqes = map(fd, ring.sqes_len, IORING_OFF_SQES)?.cast();
        let base = ring.ring.cast::<u8>();
        // SAFETY: the kernel's offsets lie within the mapping of `ring_len` bytes, which it sized
        // from the same parameters; the fields they point to are 32-bit aligned.
        unsafe {
            let at = |off: u32| base.add(off as usize);
            ring.sq_head = at(p.sq_off.head).cast();
            ring.sq_tail = at(p.sq_off.tail).cast();
            ring.sq_flags = at(p.sq_off.flags).cast();
            ring.sq_mask = *at(p.sq_off.ring_mask).cast::<u32>();
            ring.sq_entries = *at(p.sq_off.ring_entries).cast::<u32>();
            ring.cq_head = at(p.cq_off.head).cast();
            ring.cq_tail = at(p.cq_off.tail).cast();
            ring.cq_mask = *at(p.cq_off.ring_mask).cast::<u32>();
            ring.cqes = at(p.cq_off.cqes).cast();
            // The SQ array maps ring slots to SQEs: the identity, once and for good.
            let array = at(p.sq_off.array).cast::<u32>();
            for i in 0..ring.sq_entries {
                *array.add(i as usize) = i;
            }
            ring.tail = (*ring.sq_tail).load(Ordering::Relaxed);
        }
        Ok(ring)
    }

    /// Fails unless the kernel supports every opcode in [`NEEDED_OPS`].
    fn probe(&self) -> Result<(), Error> {
        let mut probe = Probe {
            last_op: 0,
            ops_len: 0,
            resv: 0,
            resv2: [0; 3],
            ops: [ProbeOp::default(); 256],
        };
        // SAFETY: `probe` has room for the 256 ops the call is told of.
        syscall("io_uring_register", unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                c_long::from(self.fd.raw()),
                IORING_REGISTER_PROBE as c_long,
                &mut probe as *mut Probe,
                256 as c_long,
            )
        })?;
        if supports(&probe, &NEEDED_OPS) {
            Ok(())
        } else {
            Err(Error::Os {
                call: "io_uring_register",
                errno: Errno(libc::EOPNOTSUPP),
            })
        }
    }

    /// The kernel's SQ head: SQEs before it are consumed.
    #[inline]
    fn sq_head(&self) -> u32 {
        // SAFETY: `sq_head` points into the live mapping; the kernel writes it atomically.
        unsafe { (*self.sq_head).load(Ordering::Acquire) }
    }

    /// Whether completions wait in the kernel for room in the CQ (`IORING_SQ_CQ_OVERFLOW`).
    #[inline]
    fn backlog(&self) -> bool {
        // SAFETY: `sq_flags` points into the live mapping; the kernel writes it atomically.
        unsafe { (*self.sq_flags).load(Ordering::Relaxed) & IORING_SQ_CQ_OVERFLOW != 0 }
    }

    /// SQEs written and not yet submitted.
    #[inline]
    fn pending(&self) -> u32 {
        self.tail.wrapping_sub(self.sq_head())
    }

    /// Whether the SQ has room for one more SQE.
    #[inline(always)]
    fn room(&self) -> bool {
        self.pending() < self.sq_entries
    }

    /// Writes one SQE, where [`room`](Self::room) said there is room.
    #[inline(always)]
    fn push(&mut self, sqe: Sqe) {
        let i = (self.tail & self.sq_mask) as usize;
        // SAFETY: `i < sq_entries` (the mask is entries - 1), within the SQE mapping; the slot is
        // free (the caller checked `room`); the kernel reads this SQE only once the tail
        // published below covers it.
        unsafe { self.sqes.add(i).write(sqe) };
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: `sq_tail` points into the live mapping; Release publishes the SQE above.
        unsafe { (*self.sq_tail).store(self.tail, Ordering::Release) };
    }

    /// `io_uring_enter(2)`: submits what is pending and, with `wait`, waits for `min_complete`
    /// completions or `timeout`. Returns the raw result (negative: errno is set).
    #[inline]
    fn enter(&self, wait: bool, min_complete: u32, timeout: Option<Duration>) -> c_long {
        let ts = timeout.map(|d| {
            let t = timeout::timespec(d);
            // `time_t` and `c_long` are 64 bits here; the conversions keep the types honest.
            #[allow(clippy::useless_conversion)]
            KernelTimespec {
                tv_sec: i64::from(t.tv_sec),
                tv_nsec: i64::from(t.tv_nsec),
            }
        });
        let arg = GeteventsArg {
            sigmask: 0,
            sigmask_sz: 0,
            min_wait_usec: 0,
            ts: ts.as_ref().map_or(0, |t| t as *const KernelTimespec as u64),
        };
        let flags = if wait {
            IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG
        } else {
            0
        };
        // SAFETY: `arg` and the timespec it points to outlive the call; the kernel reads the
        // SQEs we published, all within the mapping.
        unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                c_long::from(self.fd.raw()),
                self.pending() as c_long,
                min_complete as c_long,
                flags as c_long,
                if wait {
                    &arg as *const GeteventsArg
                } else {
                    ptr::null()
                },
                if wait {
                    size_of::<GeteventsArg>() as c_long
                } else {
                    0
                },
            )
        }
    }

    /// Submits what is pending without waiting (the SQ is full).
    fn submit(&self) -> Result<(), Error> {
        loop {
            if self.enter(false, 0, None) >= 0 {
                return Ok(());
            }
            match errno().0 {
                libc::EINTR => continue,
                e => {
                    return Err(Error::Os {
                        call: "io_uring_enter",
                        errno: Errno(e),
                    })
                }
            }
        }
    }

    /// The completions posted and not yet consumed: `(head, tail)`.
    #[inline]
    fn completions(&self) -> (u32, u32) {
        // SAFETY: both point into the live mapping; only we write the head, the kernel the tail
        // (Acquire: the CQEs before it are written).
        unsafe {
            (
                (*self.cq_head).load(Ordering::Relaxed),
                (*self.cq_tail).load(Ordering::Acquire),
            )
        }
    }

    /// The completion at position `i` (between head and tail).
    #[inline]
    fn cqe(&self, i: u32) -> Cqe {
        // SAFETY: `i & cq_mask < cq_entries`, within the mapping; the kernel wrote it before it
        // published the tail read in `completions`.
        unsafe { self.cqes.add((i & self.cq_mask) as usize).read() }
    }

    /// Consumes the completions before `head`.
    #[inline]
    fn consume(&self, head: u32) {
        // SAFETY: `cq_head` points into the live mapping; Release: we are done reading.
        unsafe { (*self.cq_head).store(head, Ordering::Release) };
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: the mappings are this ring's own, unmapped once (the fd closes itself after).
        // In a forked child they are the child's copies: unmapping (and closing) touch nothing
        // of the parent's.
        unsafe {
            if !self.sqes.is_null() {
                libc::munmap(self.sqes.cast(), self.sqes_len);
            }
            if !self.ring.is_null() {
                libc::munmap(self.ring, self.ring_len);
            }
        }
    }
}

/// Maps `len` bytes of the ring fd at `offset`.
fn map(fd: c_int, len: usize, offset: libc::off_t) -> Result<*mut c_void, Error> {
    // SAFETY: a fresh shared mapping of the ring fd; the kernel checks `len` and `offset`.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd,
            offset,
        )
    };
    if p == libc::MAP_FAILED {
        Err(super::os("mmap"))
    } else {
        Ok(p)
    }
}

/// Whether `probe` marks every one of `ops` supported.
fn supports(probe: &Probe, ops: &[u8]) -> bool {
    let listed = &probe.ops[..usize::from(probe.ops_len).min(probe.ops.len())];
    ops.iter().all(|&op| {
        listed
            .iter()
            .any(|o| o.op == op && o.flags & IO_URING_OP_SUPPORTED != 0)
    })
}

// A completed poll's mask has epoll's bits, so epoll's reading of them serves here too.
const _: () = assert!(
    IN == libc::EPOLLIN as u32
        && OUT == libc::EPOLLOUT as u32
        && ERR == libc::EPOLLERR as u32
        && HUP == libc::EPOLLHUP as u32
        && RDHUP == libc::EPOLLRDHUP as u32
);

// ---- the backend ---------------------------------------------------------------------------

/// An io_uring instance watching fds with poll requests, and its per-fd table.
pub struct Uring {
    ring: Ring,
    entries: u32,
    slots: Table,
    /// The first fd of the re-arm list, plus one (0: empty).
    rearm: u32,
    /// Removals written since the last wait: each will post one completion that reports nothing.
    removals: u32,
    /// The fork generation the ring belongs to.
    generation: u32,
}

impl Uring {
    /// A new ring of [`DEFAULT_ENTRIES`] SQ entries.
    ///
    /// Fails if the kernel lacks what the backend needs (see the [module docs](self)).
    pub fn new() -> Result<Self, Error> {
        Self::with_entries(DEFAULT_ENTRIES)
    }

    /// As [`new`](Self::new), with `entries` SQ entries (rounded up to a power of two by the
    /// kernel) and 16 times as many CQ entries: at most that many fds are reported per dispatch.
    pub fn with_entries(entries: u32) -> Result<Self, Error> {
        super::fork::register();
        Ok(Uring {
            ring: Ring::new(entries)?,
            entries,
            slots: Table::new()?,
            rearm: 0,
            removals: 0,
            generation: crate::fork::generation(),
        })
    }

    /// The slot of `fd`, grown into if needed.
    fn slot(&mut self, fd: RawFd) -> Result<&mut Slot, Error> {
        if fd < 0 {
            return Err(Error::BadFd(fd));
        }
        self.slots.get(fd).ok_or(Error::Full(Resource::BackendFds))
    }

    /// Writes `sqe`, submitting first if the SQ is full.
    #[inline(always)]
    fn push(&mut self, sqe: Sqe) -> Result<(), Error> {
        if !self.ring.room() {
            self.make_room()?;
        }
        self.ring.push(sqe);
        Ok(())
    }

    /// The SQ is full: submits it.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self) -> Result<(), Error> {
        self.ring.submit()?;
        if self.ring.room() {
            Ok(())
        } else {
            Err(Error::Full(Resource::BackendEvents))
        }
    }

    /// Arms a poll request for `fd` with the interest in its slot (a new generation).
    #[inline]
    fn arm(&mut self, fd: RawFd) -> Result<(), Error> {
        let sqe = poll_add(self.slot(fd)?, fd);
        self.push(sqe).inspect_err(|_| self.unarm(fd))
    }

    /// `fd`'s request could not be written: not armed after all, and listed to be armed again.
    #[cold]
    fn unarm(&mut self, fd: RawFd) {
        if let Some(slot) = self.slots.get(fd) {
            slot.set(S_ARMED, false);
        }
        self.list(fd);
    }

    /// Asks whether `fd` is ready now: a one-shot poll, without the exclusive flag, and its
    /// removal in the same submission. The kernel polls the file as it arms the request, so a
    /// ready fd completes it at once (the removal then fails); otherwise the removal cancels it
    /// before it can wait. Either way one completion reports nothing, counted as a removal.
    fn recheck(&mut self, fd: RawFd) -> Result<(), Error> {
        let slot = self.slot(fd)?;
        let key = poll_key(fd, slot.gen()) | CHECK;
        let mask = slot.mask() & !(libc::EPOLLEXCLUSIVE as u32);
        self.push(Sqe {
            opcode: IORING_OP_POLL_ADD,
            fd,
            op_flags: mask,
            user_data: key,
            ..SQE
        })?;
        self.removals += 1;
        self.push(poll_remove(key))
    }

    /// Moves `fd` to `interest` (edge-triggered if `et`, exclusive if `excl`): removes its
    /// request, arms a new one.
    fn change(&mut self, fd: RawFd, interest: What, et: bool, excl: bool) -> Result<(), Error> {
        let slot = self.slot(fd)?;
        let old = *slot;
        let io = bits(interest);
        slot.state = (old.state & !(S_IO | S_ET | S_EXCL | S_ARMED))
            | io
            | if et { S_ET } else { 0 }
            | if excl { S_EXCL } else { 0 };
        let add = if io != 0 {
            Some(poll_add(slot, fd))
        } else {
            None
        };
        if old.has(S_ARMED) {
            if let Err(e) = self.push(poll_remove(poll_key(fd, old.gen()))) {
                // Nothing written: nothing changed.
                if let Some(slot) = self.slots.get(fd) {
                    *slot = old;
                }
                return Err(e);
            }
            self.removals += 1;
        }
        match add {
            Some(sqe) => self.push(sqe).inspect_err(|_| self.unarm(fd)),
            None => Ok(()),
        }
    }

    /// Applies one change (also what `add` and `del` do).
    fn stage(&mut self, c: &Change) -> Result<(), Error> {
        if (c.read | c.write | c.closed).contains(ChangeOp::SIGNAL) {
            return Err(Error::Unsupported(Operation::Signals));
        }
        if c.fd < 0 {
            return Err(Error::BadFd(c.fd));
        }
        let new = c.new_interest();
        if c.old.is_empty() && !new.is_empty() {
            // A new fd: refuse what cannot be polled, and a closed fd, now rather than as a
            // completion.
            check_pollable(c.fd)?;
        }
        self.change(c.fd, new, c.edge_triggered(), c.exclusive())
    }

    /// Puts `fd` on the re-arm list (its one-shot request completed).
    #[inline]
    fn list(&mut self, fd: RawFd) {
        if let Some(slot) = self.slots.get(fd) {
            link(&mut self.rearm, slot, fd);
        }
    }

    /// Arms again every listed fd that still has interest and no request.
    /// On an error, what is still listed stays listed.
    #[inline]
    fn rearm_listed(&mut self) -> Result<(), Error> {
        while self.rearm != 0 {
            let fd = (self.rearm - 1) as RawFd;
            let Some(slot) = self.slots.get(fd) else {
                self.rearm = 0;
                break;
            };
            self.rearm = slot.next;
            slot.next = 0;
            slot.set(S_LISTED, false);
            if !slot.has(S_ARMED) {
                if slot.state & S_IO != 0 {
                    let sqe = poll_add(slot, fd);
                    self.push(sqe).inspect_err(|_| self.unarm(fd))?;
                }
            } else if slot.level_exclusive() {
                self.recheck(fd)?;
            }
        }
        Ok(())
    }

    /// In a forked child that has not been re-initialised: a ring of our own, every fd armed
    /// again from the table.
    #[cold]
    fn adopt(&mut self) -> Result<(), Error> {
        self.fresh_ring()?;
        // Every page touched so far, once (a forked child that did not re-initialise: rare).
        for fd in 0..self.slots.len {
            let Some(slot) = self.slots.get(fd as RawFd) else {
                break;
            };
            *slot = Slot {
                state: slot.state & (S_IO | S_ET | S_EXCL),
                next: 0,
            };
            if slot.state & S_IO != 0 {
                self.arm(fd as RawFd)?;
            }
        }
        Ok(())
    }

    /// Replaces the ring with a new one, without a syscall on the old one.
    fn fresh_ring(&mut self) -> Result<(), Error> {
        let ring = Ring::new(self.entries)?;
        // Dropping the old ring only unmaps it and closes our reference to its fd.
        self.ring = ring;
        self.rearm = 0;
        self.removals = 0;
        self.generation = crate::fork::generation();
        Ok(())
    }

    /// Checks that the ring is this process's; adopts a new one if not.
    #[inline(always)]
    fn own(&mut self) -> Result<(), Error> {
        if self.generation != crate::fork::generation() {
            self.adopt()?;
        }
        Ok(())
    }

    /// Reports the completions in the CQ; returns (reports, completions consumed, hints: fds
    /// to check before anything is reported of them).
    #[inline]
    fn reap<K: Sink>(&mut self, sink: &mut K) -> (usize, u32, u32) {
        let (mut head, tail) = self.ring.completions();
        let seen = tail.wrapping_sub(head);
        let (mut reports, mut hints) = (0, 0);
        while head != tail {
            let cqe = self.ring.cqe(head);
            head = head.wrapping_add(1);
            if cqe.user_data >> 63 == 0 {
                continue; // A failed removal: nothing to report.
            }
            let fd = cqe.user_data as u32 as RawFd;
            let Some(slot) = self.slots.get(fd) else {
                continue;
            };
            // Armed, and of this generation (bit 63 of the key lines up with S_ARMED's place
            // in neither: compare the generations, then the flag).
            if slot.state >> GEN_SHIFT != (cqe.user_data >> 32) as u32 & GEN_MASK
                || !slot.has(S_ARMED)
            {
                continue; // A request since removed or replaced.
            }
            let ended = cqe.flags & IORING_CQE_F_MORE == 0;
            if cqe.res > 0 && cqe.user_data & CHECK == 0 && !slot.level_exclusive() {
                // The common case: a poll that found the fd ready.
                if ended {
                    slot.state &= !S_ARMED;
                    link(&mut self.rearm, slot, fd);
                }
                let what = readiness(cqe.res as u32);
                if !what.is_empty() {
                    sink.ready(fd, what);
                    reports += 1;
                }
                continue;
            }
            if cqe.user_data & CHECK != 0 {
                // A check: ready now, so reported, and checked again after its callback.
                if cqe.res > 0 {
                    let what = readiness(cqe.res as u32);
                    if !what.is_empty() {
                        sink.ready(fd, what);
                        reports += 1;
                        link(&mut self.rearm, slot, fd);
                    }
                }
                continue;
            }
            if ended {
                slot.set(S_ARMED, false);
            }
            if cqe.res >= 0 {
                if slot.level_exclusive() {
                    // A wakeup: a hint, perhaps stale by now (another base may have taken what
                    // woke us), so not reported; the fd is checked before anything is.
                    hints += 1;
                    link(&mut self.rearm, slot, fd);
                    continue;
                }
            } else if cqe.res == -libc::EBADF {
                // The fd was closed before its request was armed again: reported once, as
                // poll's `POLLNVAL` is, so its owner finds out with a read; then forgotten until
                // the next add.
                sink.ready(fd, What::READ | What::WRITE);
                reports += 1;
                continue;
            } else if cqe.res != -libc::ECANCELED {
                // It cannot be polled any more: forgotten until the next add.
                continue;
            }
            if ended {
                link(&mut self.rearm, slot, fd);
            }
        }
        self.ring.consume(head);
        (reports, seen, hints)
    }
}

/// A zeroed SQE.
const SQE: Sqe = Sqe {
    opcode: 0,
    flags: 0,
    ioprio: 0,
    fd: 0,
    off: 0,
    addr: 0,
    len: 0,
    op_flags: 0,
    user_data: 0,
    tail: [0; 3],
};

impl Backend for Uring {
    fn info(&self) -> Info {
        Info {
            name: "io_uring",
            features: FEATURES,
            need_reinit: true,
            fdinfo_len: 4,
            // The SQ is the changelist: changes are written there at once and go to the kernel
            // with the next wait.
            changelist: false,
        }
    }

    /// Writes the change to the SQ, for the next dispatch. One `fstat` when the fd's interest
    /// starts, except for an fd whose request completed in this iteration (an event re-added by
    /// its own callback): that file was polled already.
    fn add(&mut self, fd: RawFd, old: What, added: What, _: &mut FdInfo) -> Result<(), Error> {
        if added.contains(What::SIGNAL) {
            return Err(Error::Unsupported(Operation::Signals));
        }
        self.own()?;
        let old = old & What::IO;
        if old.is_empty() && !self.slots.peek(fd).is_some_and(|s| s.has(S_LISTED)) {
            check_pollable(fd)?;
        }
        let (et, excl) = (added.contains(What::ET), added.contains(What::EXCLUSIVE));
        self.change(fd, old | (added & What::IO), et, excl)
    }

    /// Writes the change to the SQ, for the next dispatch.
    fn del(&mut self, fd: RawFd, old: What, removed: What, _: &mut FdInfo) -> Result<(), Error> {
        self.own()?;
        let (et, excl) = (
            removed.contains(What::ET),
            removed.contains(What::EXCLUSIVE),
        );
        self.change(fd, (old & What::IO) - removed, et, excl)
    }

    /// One `fstat`, except for an fd whose interest the kernel still has (a delete of it waits
    /// in the changelist: an event re-added by its own callback): that file was polled already.
    fn check(&self, fd: RawFd) -> Result<(), Error> {
        match self.slots.peek(fd) {
            Some(s) if s.state & S_IO != 0 && s.state & (S_ARMED | S_LISTED) != 0 => Ok(()),
            _ => check_pollable(fd),
        }
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        self.own()?;
        super::stage_each(changes, |c| self.stage(c))
    }

    fn dispatch<K: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut K,
    ) -> Result<usize, Error> {
        self.own()?;
        let mut timeout = timeout;
        let mut poll_only = timeout == Some(Duration::ZERO);
        loop {
            // While completions wait for room in the CQ, fds are not armed again: each would
            // post a completion behind the backlog, as of now, to be read when it may no longer
            // hold. They are armed once the backlog is reported.
            if !self.ring.backlog() {
                self.rearm_listed()?;
            }
            let min = if poll_only { 0 } else { 1 + self.removals };
            self.removals = 0;
            let r = self.ring.enter(true, min, timeout);
            // Negative: nothing was submitted and the wait failed. Interrupted or timed out:
            // report what is there.
            let e = if r < 0 { errno().0 } else { 0 };
            if r < 0 && !matches!(e, libc::EINTR | libc::ETIME) {
                if e == libc::EBUSY || e == libc::EAGAIN {
                    // The CQ is full and overflowing: consume it below, then carry on.
                } else {
                    return Err(Error::Os {
                        call: "io_uring_enter",
                        errno: Errno(e),
                    });
                }
            }
            let (reports, seen, hints) = self.reap(sink);
            if reports > 0 {
                return Ok(reports);
            }
            // Hints (wakeups of exclusive interest): check those fds now, without waiting; if
            // none is ready (another base took what woke this one), return early with nothing,
            // as after a signal, so that the base's timeout is not started again.
            if hints > 0 && !poll_only {
                timeout = Some(Duration::ZERO);
                poll_only = true;
                continue;
            }
            // Completions that reported nothing (removed requests, a failed re-arm) can end a
            // wait early: wait again, for the whole timeout. Nothing at all: the timeout passed
            // or a signal came.
            if seen == 0 || poll_only || e != 0 {
                return Ok(reports);
            }
        }
    }

    fn reinit(&mut self) -> Result<(), Error> {
        self.fresh_ring()?;
        self.slots.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fixtures::*;

    fn uring() -> Uring {
        Uring::new().unwrap()
    }

    #[test]
    fn abi_sizes() {
        assert_eq!(size_of::<Params>(), 120);
        assert_eq!(size_of::<Sqe>(), 64);
        assert_eq!(size_of::<Cqe>(), 16);
        assert_eq!(size_of::<GeteventsArg>(), 24);
        assert_eq!(size_of::<Probe>(), 16 + 256 * 8);
    }

    #[test]
    fn probe_logic() {
        // Pure logic: a made-up probe result.
        let mut p = Probe {
            last_op: 7,
            ops_len: 8,
            resv: 0,
            resv2: [0; 3],
            ops: [ProbeOp::default(); 256],
        };
        for (i, o) in p.ops.iter_mut().enumerate().take(8) {
            o.op = i as u8;
            o.flags = IO_URING_OP_SUPPORTED;
        }
        assert!(supports(&p, &NEEDED_OPS));
        p.ops[7].flags = 0;
        assert!(!supports(&p, &NEEDED_OPS));
        p.ops_len = 6;
        p.ops[7].flags = IO_URING_OP_SUPPORTED;
        assert!(!supports(&p, &NEEDED_OPS));
    }

    #[test]
    fn level_triggered_reports_again() {
        let mut u = uring();
        let (a, b) = socketpair();
        add(&mut u, a.0, What::empty(), What::READ).unwrap();
        let z = Some(Duration::ZERO);
        assert_eq!(collect(&mut u, z), []);
        write(&b);
        assert_eq!(
            collect(&mut u, Some(Duration::from_secs(2))),
            [(a.0, What::READ)]
        );
        assert_eq!(
            collect(&mut u, Some(Duration::from_secs(2))),
            [(a.0, What::READ)]
        );
    }

    #[test]
    fn closed_before_its_rearm_is_reported_once() {
        let mut u = uring();
        let (a, b) = socketpair();
        let hi = dup_above(a.0, HIGH + 7);
        drop(a);
        add(&mut u, hi.0, What::empty(), What::READ).unwrap();
        write(&b);
        let wait = Some(Duration::from_millis(200));
        assert_eq!(collect(&mut u, wait), [(hi.0, What::READ)]);
        let fd = hi.0;
        drop(hi);
        // The re-arm finds the number closed.
        assert_eq!(collect(&mut u, wait), [(fd, What::READ | What::WRITE)]);
        assert_eq!(collect(&mut u, Some(Duration::from_millis(20))), []);
        // The kernel no longer polls it: the next add checks it again.
        assert!(u.check(fd).is_err());
    }

    #[test]
    fn exclusive_interest_changes() {
        let mut u = uring();
        let (a, b) = socketpair();
        let x = What::EXCLUSIVE;
        add(&mut u, a.0, What::empty(), What::READ | x).unwrap();
        write(&b);
        let wait = Some(Duration::from_millis(200));
        assert_eq!(collect(&mut u, wait), [(a.0, What::READ)]);
        add(&mut u, a.0, What::READ, What::WRITE | x).unwrap();
        assert_eq!(collect(&mut u, wait), [(a.0, What::READ | What::WRITE)]);
    }

    #[test]
    fn exclusive_level_reports_again() {
        let mut u = uring();
        let (a, b) = socketpair();
        add(&mut u, a.0, What::empty(), What::READ | What::EXCLUSIVE).unwrap();
        assert_eq!(collect(&mut u, Z), []);
        write(&b);
        let wait = Some(Duration::from_millis(500));
        assert_eq!(collect(&mut u, wait), [(a.0, What::READ)]);
        // Not read: still ready, reported again, without a new wakeup.
        assert_eq!(collect(&mut u, wait), [(a.0, What::READ)]);
        assert_eq!(collect(&mut u, Z), [(a.0, What::READ)]);
        read_all(a.0);
        assert_eq!(collect(&mut u, Some(Duration::from_millis(20))), []);
        write(&b);
        assert_eq!(collect(&mut u, wait), [(a.0, What::READ)]);
    }

    #[test]
    fn exclusive_listener_wakes_one_ring() {
        // Two rings watch one listener. Each connection must be reported to one of them only:
        // a one-shot request re-armed at the tail of the wait queue let the second ring take
        // the next wakeup while the first, re-arming, found the same connection.
        use std::net::{TcpListener, TcpStream};
        use std::os::fd::AsRawFd;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let fd = l.as_raw_fd();
        let mut rings = [uring(), uring()];
        for u in &mut rings {
            add(u, fd, What::empty(), What::READ | What::EXCLUSIVE).unwrap();
            assert_eq!(collect(u, Z), []);
        }
        let (mut accepted, mut eagain, mut conns) = (0, 0, std::vec::Vec::new());
        for round in 1..=10 {
            conns.push(TcpStream::connect(l.local_addr().unwrap()).unwrap());
            for _ in 0..50 {
                for u in &mut rings {
                    for _ in collect(u, Some(Duration::from_millis(10))) {
                        match l.accept() {
                            Ok(_) => accepted += 1,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => eagain += 1,
                            Err(e) => panic!("accept: {e}"),
                        }
                    }
                }
                if accepted == round {
                    break;
                }
            }
            assert_eq!(accepted, round);
        }
        assert_eq!(eagain, 0, "wakeups that found nothing to accept");
    }

    #[test]
    fn redundant_readd_waits_for_a_real_event() {
        // A removal's completion must not end the wait early.
        let mut u = uring();
        let (a, _b) = socketpair();
        add(&mut u, a.0, What::empty(), What::READ).unwrap();
        assert_eq!(collect(&mut u, Some(Duration::ZERO)), []);
        add(&mut u, a.0, What::READ, What::READ).unwrap();
        let t = now();
        let asked = Duration::from_millis(30);
        assert_eq!(collect(&mut u, Some(asked)), []);
        assert!(now() - t >= asked);
    }
}
