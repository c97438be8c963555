//! epoll(7) backend.
//!
//! Interest changes go straight to `epoll_ctl(2)`, or, with the changelist, in one batch per fd
//! before each dispatch. The wait is `epoll_pwait2(2)` (Linux 5.11), which takes a `timespec` and
//! so keeps sub-millisecond timeouts in one syscall; where the kernel lacks it the backend falls
//! back to `epoll_wait(2)` with the timeout rounded up to the millisecond, once and for good.

use core::time::Duration;

use libc::c_int;

use super::{check_pollable, errno, is_eintr, os, syscall, timeout, OwnedFd};
use crate::backend::{Backend, Change, ChangeOp, FdInfo, Info, Sink};
use crate::storage::Storage;
use crate::Errno;
use crate::{Error, Features, Operation, RawFd, Resource, What};

/// The element of the ready-events buffer.
pub type Event = libc::epoll_event;

/// Edge triggering, O(1) operations and `EPOLLRDHUP` for [`What::CLOSED`].
pub const FEATURES: Features = Features::ET
    .union(Features::O1)
    .union(Features::EARLY_CLOSE);

/// The buffer's first size, and the size beyond which it is not asked to grow (libevent's).
const INITIAL_EVENTS: usize = 32;
const MAX_EVENTS: usize = 4096;

const EMPTY: Event = libc::epoll_event { events: 0, u64: 0 };

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;
const ERR: u32 = libc::EPOLLERR as u32;
const HUP: u32 = libc::EPOLLHUP as u32;
const RDHUP: u32 = libc::EPOLLRDHUP as u32;
const ET: u32 = libc::EPOLLET as u32;
const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

/// An epoll instance and its buffer of ready events.
pub struct Epoll<S: Storage<Event>> {
    epfd: OwnedFd,
    events: S,
    changelist: bool,
    /// Whether to wait with `epoll_pwait2`; cleared for good when the kernel refuses it.
    pwait2: bool,
}

impl<S: Storage<Event>> Epoll<S> {
    /// A new epoll instance whose ready events land in `events`, grown to 32 if it can grow.
    /// `changelist` selects batched interest changes through [`Backend::apply`].
    ///
    /// Fails with [`Error::Full`]`(`[`Resource::BackendEvents`]`)` if `events` has no room for even
    /// one event, or with the error of `epoll_create1`.
    pub fn new(mut events: S, changelist: bool) -> Result<Self, Error> {
        if !events.grow(INITIAL_EVENTS, EMPTY) && events.is_empty() && !events.grow(1, EMPTY) {
            return Err(Error::Full(Resource::BackendEvents));
        }
        Ok(Epoll {
            epfd: create()?,
            events,
            changelist,
            pwait2: true,
        })
    }

    /// Moves `fd` from interest `old` to `new` with one `epoll_ctl` (failures go to
    /// [`change_failed`](Self::change_failed)), or, when the fd is exclusive (`excl`), with a
    /// delete and an add: epoll_ctl(2) refuses `EPOLL_CTL_MOD` of an `EPOLLEXCLUSIVE` registration.
    #[inline]
    fn change(&self, fd: RawFd, old: What, new: What, et: bool, excl: bool) -> Result<(), Error> {
        let (old, new) = (old & What::IO, new & What::IO);
        if excl && !new.is_empty() {
            return self.change_exclusive(fd, old, new, et);
        }
        let Some((op, events)) = ctl_op(old, new, et) else {
            return Ok(());
        };
        if self.ctl_raw(op, fd, events) == 0 {
            Ok(())
        } else {
            self.change_failed(op, fd, events)
        }
    }

    /// A failed `epoll_ctl` of [`change`](Self::change): retried where the kernel's view differs
    /// from the base's, else the error.
    #[cold]
    #[inline(never)]
    fn change_failed(&self, op: c_int, fd: RawFd, events: u32) -> Result<(), Error> {
        let result = match (op, errno().0) {
            // The fd was closed (the kernel forgot it) or never could be registered: either way
            // nothing is watched any more (LIBEVENT-SEMANTICS, epoll retries).
            (libc::EPOLL_CTL_DEL, libc::ENOENT | libc::EBADF | libc::EPERM) => return Ok(()),
            // Already registered: a dup(2)/dup2(2) of a registered fd landed on this number, and
            // the kernel keys its entries by (file, fd).
            (libc::EPOLL_CTL_ADD, libc::EEXIST) => self.ctl(libc::EPOLL_CTL_MOD, fd, events),
            // Not registered: the fd was closed (which unregisters it) and reopened.
            (libc::EPOLL_CTL_MOD, libc::ENOENT) => self.ctl(libc::EPOLL_CTL_ADD, fd, events),
            _ => Err(os("epoll_ctl")),
        };
        match result.err().and_then(|e| e.errno()) {
            // epoll_ctl(2): "EPERM The target file fd does not support epoll. This error can
            // occur if fd refers to, for example, a regular file or a directory."
            Some(Errno(libc::EPERM)) => Err(Error::Unpollable(fd)),
            _ => result,
        }
    }

    /// A failed wait: `EINTR` is a wait with nothing to report (`Ok(0)`), anything else an
    /// error; a kernel that refuses `epoll_pwait2` gets the wait again as `epoll_wait`, and keeps
    /// it for good. Returns what the wait that counts returned.
    #[cold]
    #[inline(never)]
    fn wait_failed(&mut self, timeout: Option<Duration>) -> Result<c_int, Error> {
        // ENOSYS before Linux 5.11; EPERM where a seccomp filter refuses syscalls it does not
        // know (Docker before 20.10's moby#42836), since epoll_wait(2) lists no EPERM of its own.
        if self.pwait2 && matches!(errno().0, libc::ENOSYS | libc::EPERM) {
            self.pwait2 = false;
            let buf = self.events.as_mut_slice();
            let max = buf.len().min(c_int::MAX as usize) as c_int;
            let r = wait(self.epfd.raw(), buf, max, timeout);
            if r >= 0 {
                return Ok(r);
            }
        }
        let call = if self.pwait2 {
            "epoll_pwait2"
        } else {
            "epoll_wait"
        };
        let e = os(call);
        if is_eintr(&e) {
            Ok(0)
        } else {
            Err(e)
        }
    }

    /// The ready events of a wait that returned `r`, when it failed (see
    /// [`wait_failed`](Self::wait_failed)), found nothing or filled the buffer. A full buffer
    /// asks the storage for twice the room, up to [`MAX_EVENTS`] (a fixed storage stays as it
    /// is, and the rest come next time); the events stay in place.
    #[cold]
    #[inline(never)]
    fn rare(&mut self, r: c_int, timeout: Option<Duration>) -> Result<&[Event], Error> {
        let r = if r < 0 { self.wait_failed(timeout)? } else { r };
        let len = self.events.as_slice().len();
        // The kernel reports at most `max <= len` events.
        let n = (r as usize).min(len);
        if n == len && len < MAX_EVENTS {
            let _ = self.events.grow(len * 2, EMPTY);
        }
        let buf = self.events.as_slice();
        Ok(&buf[..n.min(buf.len())])
    }

    /// [`change`](Self::change) for an exclusive fd: delete (if it was watched), then add.
    #[cold]
    #[inline(never)]
    fn change_exclusive(&self, fd: RawFd, old: What, new: What, et: bool) -> Result<(), Error> {
        if new.contains(What::CLOSED) {
            // epoll_ctl(2): EPOLLEXCLUSIVE goes with EPOLLIN, EPOLLOUT, EPOLLWAKEUP and EPOLLET.
            return Err(Error::Unsupported(Operation::ExclusiveClosed));
        }
        let code = |r: &Result<(), Error>| r.err().and_then(|e| e.errno()).map(|e| e.0);
        if !old.is_empty() {
            // Gone already (closed and reopened): nothing to delete.
            let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0);
        }
        let events = mask(new, et) | EXCLUSIVE;
        let mut r = self.ctl(libc::EPOLL_CTL_ADD, fd, events);
        if code(&r) == Some(libc::EEXIST) {
            // A dup of a registered fd on this number: replace its registration.
            let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0);
            r = self.ctl(libc::EPOLL_CTL_ADD, fd, events);
        }
        match code(&r) {
            Some(libc::EPERM) => Err(Error::Unpollable(fd)),
            _ => r,
        }
    }

    /// One `epoll_ctl`.
    #[inline]
    fn ctl(&self, op: c_int, fd: RawFd, events: u32) -> Result<(), Error> {
        syscall("epoll_ctl", self.ctl_raw(op, fd, events)).map(drop)
    }

    /// One `epoll_ctl`, its return as it is (-1 and `errno` on failure).
    #[inline(always)]
    fn ctl_raw(&self, op: c_int, fd: RawFd, events: u32) -> c_int {
        let mut ev = libc::epoll_event {
            events,
            u64: u64::from(fd as u32),
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        unsafe { libc::epoll_ctl(self.epfd.raw(), op, fd, &mut ev) }
    }
}

/// A new close-on-exec epoll fd.
fn create() -> Result<OwnedFd, Error> {
    // SAFETY: no pointers are involved.
    syscall("epoll_create1", unsafe {
        libc::epoll_create1(libc::EPOLL_CLOEXEC)
    })
    .map(OwnedFd)
}

// The shifts of `mask` and `readiness`: `READ` is `IN` one bit up, `WRITE` is `OUT`, `CLOSED` is
// `RDHUP` six bits down, `ET` the top bit.
const _: () = {
    assert!(What::READ.bits() as u32 == IN << 1);
    assert!(What::WRITE.bits() as u32 == OUT);
    assert!((What::CLOSED.bits() as u32) << 6 == RDHUP);
    assert!(ET == 1 << 31);
    assert!(IN == 1 && OUT == 4 && What::READ.bits() == 2 && What::WRITE.bits() == 4);
};

/// The `epoll_ctl` operation and event mask that move an fd from interest `old` to `new` (both
/// within [`What::IO`]); `None` when neither has any.
#[inline(always)]
fn ctl_op(old: What, new: What, et: bool) -> Option<(c_int, u32)> {
    Some(if new.is_empty() {
        if old.is_empty() {
            return None;
        }
        (libc::EPOLL_CTL_DEL, 0)
    } else if old.is_empty() {
        (libc::EPOLL_CTL_ADD, mask(new, et))
    } else {
        (libc::EPOLL_CTL_MOD, mask(new, et))
    })
}

/// What [`Backend::apply`] does with one change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// Nothing: a no-op, or no interest before or after.
    Skip,
    /// One `epoll_ctl` with this operation and mask.
    Ctl(c_int, u32),
    /// A change of an exclusive fd ([`Epoll::change_exclusive`]).
    Exclusive,
}

/// `b` in each of the three bytes of [`plan`]'s lanes.
const fn spread(b: ChangeOp) -> u32 {
    let b = b.bits() as u32;
    b | b << 8 | b << 16
}

/// Bits 1, 9 and 17: one per kind of interest in [`plan`]'s lanes.
const LANES: u32 = 0x2_0202;

/// [`Change::new_interest`], [`ctl_op`] and [`mask`] for the three kinds of interest at once: the
/// operations side by side in one word (`READ`'s byte, `WRITE`'s, `CLOSED`'s), each kind's
/// interest then at bits 1, 9 and 17.
#[inline(always)]
fn plan(c: &Change) -> Plan {
    let x = u32::from(c.read.bits())
        | u32::from(c.write.bits()) << 8
        | u32::from(c.closed.bits()) << 16;
    if x & spread(ChangeOp::ADD.union(ChangeOp::DEL)) == 0 {
        return Plan::Skip;
    }
    // ADD (bit 0 of a byte) and DEL (bit 1) onto the lanes; an add wins over a delete.
    let (add, del) = ((x << 1) & LANES, x & LANES);
    // READ (bit 1), WRITE (2) and CLOSED (7) onto bits 1, 9 and 17: the multiplier's bits (0,
    // 7, 10) make nine distinct products, so nothing carries, and the mask keeps the three.
    let had = (u32::from(c.old.bits() & What::IO.bits()) * 0x481) & LANES;
    let now = add | (had & !del);
    if x & spread(ChangeOp::EXCLUSIVE) != 0 && now != 0 {
        return Plan::Exclusive;
    }
    if now == 0 {
        return if had == 0 {
            Plan::Skip
        } else {
            Plan::Ctl(libc::EPOLL_CTL_DEL, 0)
        };
    }
    // Bits 1, 9 and 17 onto IN (0), OUT (2) and RDHUP (13) the same way: times 2^16 + 2^10 +
    // 2^13 (nine distinct products, below 2^34), shifted down by 17, masked.
    let events = (((u64::from(now) * 0x1_2400) >> 17) as u32 & (IN | OUT | RDHUP))
        | u32::from(x & spread(ChangeOp::ET) != 0) << 31;
    let op = if had == 0 {
        libc::EPOLL_CTL_ADD
    } else {
        libc::EPOLL_CTL_MOD
    };
    Plan::Ctl(op, events)
}

/// The epoll event mask for `interest` (within [`What::IO`]).
#[inline]
fn mask(interest: What, et: bool) -> u32 {
    let i = u32::from(interest.bits());
    ((i & u32::from(What::READ.bits())) >> 1)
        | (i & OUT)
        | ((i & u32::from(What::CLOSED.bits())) << 6)
        | (u32::from(et) << 31)
}

/// What a ready event means to the base. An error, or a hang-up that is not a peer's close,
/// is `READ | WRITE` so whoever reads or writes finds out.
#[inline(always)]
pub(super) fn readiness(e: u32) -> What {
    if e & !(IN | OUT) == 0 {
        // The common case, only IN and OUT: times 3 puts IN (1) on READ (2) and keeps OUT (4)
        // on WRITE (4) (IN | OUT becomes 15), and the mask drops the rest.
        return What::from_bits_retain(
            ((e * 3) & u32::from(What::READ.bits() | What::WRITE.bits())) as u16,
        );
    }
    readiness_rare(e)
}

/// [`readiness`] of anything beyond `IN` and `OUT`.
#[cold]
#[inline(never)]
fn readiness_rare(e: u32) -> What {
    if e & ERR != 0 || e & (HUP | RDHUP) == HUP {
        return What::READ | What::WRITE;
    }
    let mut what = What::empty();
    if e & IN != 0 {
        what |= What::READ;
    }
    if e & OUT != 0 {
        what |= What::WRITE;
    }
    if e & RDHUP != 0 {
        what |= What::CLOSED;
    }
    what
}

/// Reports `ready` into `sink`; returns the number of reports.
#[inline(always)]
fn report<K: Sink>(ready: &[Event], sink: &mut K) -> usize {
    let mut reported = 0;
    for ev in ready {
        let what = readiness(ev.events);
        if !what.is_empty() {
            sink.ready(ev.u64 as u32 as RawFd, what);
            reported += 1;
        }
    }
    reported
}

/// `epoll_wait(2)`, the fallback: the timeout in whole milliseconds, rounded up.
#[inline]
fn wait(epfd: c_int, buf: &mut [Event], max: c_int, timeout: Option<Duration>) -> c_int {
    let ms = match timeout {
        // A pass that must not wait, in two compares.
        Some(d) if d.is_zero() => 0,
        t => timeout::millis(t, timeout::EPOLL_MAX_MS),
    };
    // SAFETY: `buf` has room for `max` events (`max <= buf.len()`).
    unsafe { libc::epoll_wait(epfd, buf.as_mut_ptr(), max, ms) }
}

/// `epoll_pwait2(2)` through `syscall(2)`: glibc has a wrapper only since 2.35, and a binary that
/// links it neither builds nor loads against an older glibc (RHEL 9 ships 2.34); musl and bionic
/// have none.
#[inline]
fn pwait2(epfd: c_int, events: *mut Event, max: c_int, timeout: Option<Duration>) -> c_int {
    /// The kernel's `struct __kernel_timespec`: 64-bit fields on every architecture.
    #[repr(C)]
    struct KernelTimespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    // `time_t` and `c_long` are 32 bits on some targets: the conversions are not useless there.
    #[allow(clippy::useless_conversion)]
    let ts = timeout.map(|d| {
        let t = timeout::timespec(d);
        KernelTimespec {
            tv_sec: i64::from(t.tv_sec),
            tv_nsec: i64::from(t.tv_nsec),
        }
    });
    let tsp = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const KernelTimespec);
    // SAFETY: `events` has room for `max` events, `tsp` is null or points to a valid timespec that
    // outlives the call, and a null sigmask makes the kernel ignore the size argument.
    unsafe {
        libc::syscall(
            libc::SYS_epoll_pwait2,
            libc::c_long::from(epfd),
            events,
            libc::c_long::from(max),
            tsp,
            core::ptr::null::<libc::sigset_t>(),
            0 as libc::c_long,
        ) as c_int
    }
}

impl<S: Storage<Event>> Backend for Epoll<S> {
    fn info(&self) -> Info {
        Info {
            name: if self.changelist {
                "epoll (with changelist)"
            } else {
                "epoll"
            },
            features: FEATURES,
            need_reinit: true,
            fdinfo_len: if self.changelist { 4 } else { 0 },
            changelist: self.changelist,
        }
    }

    fn add(&mut self, fd: RawFd, old: What, added: What, _: &mut FdInfo) -> Result<(), Error> {
        let (et, excl) = (added.contains(What::ET), added.contains(What::EXCLUSIVE));
        self.change(fd, old, old | added, et, excl)
    }

    fn del(&mut self, fd: RawFd, old: What, removed: What, _: &mut FdInfo) -> Result<(), Error> {
        let (et, excl) = (
            removed.contains(What::ET),
            removed.contains(What::EXCLUSIVE),
        );
        self.change(fd, old, old - removed, et, excl)
    }

    fn check(&self, fd: RawFd) -> Result<(), Error> {
        check_pollable(fd)
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        let mut first = Ok(());
        for c in changes {
            let r = match plan(c) {
                Plan::Skip => continue,
                Plan::Ctl(op, events) => {
                    if self.ctl_raw(op, c.fd, events) == 0 {
                        continue;
                    }
                    self.change_failed(op, c.fd, events)
                }
                Plan::Exclusive => self.change_exclusive(
                    c.fd,
                    c.old & What::IO,
                    c.new_interest(),
                    c.edge_triggered(),
                ),
            };
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    // Always inlined: the base's common step is one piece with the wait and its reports.
    #[inline(always)]
    fn dispatch<K: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut K,
    ) -> Result<usize, Error> {
        let buf = self.events.as_mut_slice();
        let len = buf.len();
        let max = len.min(c_int::MAX as usize) as c_int;
        let epfd = self.epfd.raw();
        let r = if self.pwait2 {
            pwait2(epfd, buf.as_mut_ptr(), max, timeout)
        } else {
            wait(epfd, buf, max, timeout)
        };
        // The common case, some but not all of the buffer filled, in two compares; the rest (a
        // failed wait, nothing ready, a full buffer) out of line.
        if r > 0 && (r as usize) < len {
            return Ok(report(&buf[..r as usize], sink));
        }
        let ready = self.rare(r, timeout)?;
        Ok(report(ready, sink))
    }

    fn reinit(&mut self) -> Result<(), Error> {
        // Closing it in a forked child drops only the child's reference: the parent's
        // registrations stay. Closed first, so that a failed create leaves no shared set behind.
        self.epfd.close();
        self.epfd = create()?;
        Ok(())
    }

    fn fd(&self) -> Option<RawFd> {
        let fd = self.epfd.raw();
        (fd >= 0).then_some(fd)
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;
    use crate::sys::fixtures::*;

    fn epoll() -> Epoll<GrowVec<Event>> {
        Epoll::new(GrowVec::default(), false).unwrap()
    }

    #[test]
    fn info_and_features() {
        assert_eq!(FEATURES.bits(), 0xb);
        let e = epoll();
        let i = e.info();
        assert_eq!((i.name, i.fdinfo_len, i.changelist), ("epoll", 0, false));
        assert!(i.need_reinit);
        let c = Epoll::new(GrowVec::default(), true).unwrap();
        let i = c.info();
        assert_eq!(
            (i.name, i.fdinfo_len, i.changelist),
            ("epoll (with changelist)", 4, true)
        );
        assert_eq!(c.events.0.len(), INITIAL_EVENTS);
    }

    #[test]
    fn empty_storage_is_full() {
        let r = Epoll::new(&mut [][..], false);
        assert_eq!(r.err(), Some(Error::Full(Resource::BackendEvents)));
    }

    #[test]
    fn plan_matches_the_change_methods() {
        // Every combination of add, delete, ET and EXCLUSIVE per kind, from every interest.
        let ops: Vec<ChangeOp> = (0..16u8)
            .map(|i| {
                let mut op = ChangeOp::from_bits_retain(i & 3);
                op.set(ChangeOp::ET, i & 4 != 0);
                op.set(ChangeOp::EXCLUSIVE, i & 8 != 0);
                op
            })
            .collect();
        for bits in 0..8u16 {
            let old = What::from_bits_retain(
                (bits & 1) << 1 | (bits & 2) << 1 | (bits & 4) << 5 | What::ET.bits(),
            );
            for &read in &ops {
                for &write in &ops {
                    for &closed in &ops {
                        let c = Change {
                            fd: 3,
                            old,
                            read,
                            write,
                            closed,
                        };
                        let (o, n) = (c.old & What::IO, c.new_interest());
                        let want = if c.is_noop() {
                            Plan::Skip
                        } else if c.exclusive() && !n.is_empty() {
                            Plan::Exclusive
                        } else {
                            ctl_op(o, n, c.edge_triggered())
                                .map_or(Plan::Skip, |(op, ev)| Plan::Ctl(op, ev))
                        };
                        assert_eq!(plan(&c), want, "{c:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn readiness_mapping() {
        let rw = What::READ | What::WRITE;
        assert_eq!(readiness(ERR), rw);
        assert_eq!(readiness(ERR | RDHUP | IN), rw);
        assert_eq!(readiness(HUP), rw);
        assert_eq!(readiness(HUP | IN), rw);
        assert_eq!(readiness(HUP | RDHUP | IN), What::READ | What::CLOSED);
        assert_eq!(readiness(RDHUP), What::CLOSED);
        assert_eq!(readiness(IN | OUT), rw);
        assert_eq!(readiness(libc::EPOLLPRI as u32), What::empty());
    }

    #[test]
    fn readable_and_writable() {
        let mut e = epoll();
        let (a, b) = socketpair();
        add(&mut e, a.0, What::empty(), What::READ | What::WRITE).unwrap();
        assert_eq!(collect(&mut e, Some(Duration::ZERO)), [(a.0, What::WRITE)]);
        write(&b);
        assert_eq!(
            collect(&mut e, Some(Duration::ZERO)),
            [(a.0, What::READ | What::WRITE)]
        );
    }

    #[test]
    fn add_mod_del_transitions() {
        let mut e = epoll();
        let (a, b) = socketpair();
        write(&b);
        let z = Some(Duration::ZERO);
        add(&mut e, a.0, What::empty(), What::READ).unwrap(); // ADD
        assert_eq!(collect(&mut e, z), [(a.0, What::READ)]);
        add(&mut e, a.0, What::READ, What::WRITE).unwrap(); // MOD
        assert_eq!(collect(&mut e, z), [(a.0, What::READ | What::WRITE)]);
        del(&mut e, a.0, What::READ | What::WRITE, What::READ).unwrap(); // MOD
        assert_eq!(collect(&mut e, z), [(a.0, What::WRITE)]);
        del(&mut e, a.0, What::WRITE, What::WRITE).unwrap(); // DEL
        assert_eq!(collect(&mut e, z), []);
        // Gone from the kernel: a MOD would now fail, and an ADD succeeds without a retry.
        assert_eq!(
            e.ctl(libc::EPOLL_CTL_MOD, a.0, IN).unwrap_err().errno(),
            Some(Errno(libc::ENOENT))
        );
        add(&mut e, a.0, What::empty(), What::READ).unwrap();
        assert_eq!(collect(&mut e, z), [(a.0, What::READ)]);
    }

    #[test]
    fn add_of_a_dup_on_the_same_number_retries_as_mod() {
        let mut e = epoll();
        let (a, b) = socketpair();
        add(&mut e, a.0, What::empty(), What::READ).unwrap();
        // Close `a` while a dup keeps its file open, then put the dup back on `a`'s number: the
        // kernel still has (file, a) registered, the base thinks nothing is.
        let d = Fd(dup(a.0));
        // SAFETY: both are our fds; dup2 closes a.0's old reference and reuses the number.
        assert!(unsafe { libc::dup2(d.0, a.0) } >= 0);
        assert_eq!(
            e.ctl(libc::EPOLL_CTL_ADD, a.0, OUT).unwrap_err().errno(),
            Some(Errno(libc::EEXIST))
        );
        add(&mut e, a.0, What::empty(), What::WRITE).unwrap();
        write(&b);
        // The MOD replaced the mask: WRITE only.
        assert_eq!(collect(&mut e, Some(Duration::ZERO)), [(a.0, What::WRITE)]);
    }

    #[test]
    fn mod_of_a_reopened_fd_retries_as_add() {
        let mut e = epoll();
        let (a, _b) = socketpair();
        add(&mut e, a.0, What::empty(), What::WRITE).unwrap();
        // Close a.0 (which unregisters it) and reopen another socket on the same number.
        let (c, d) = socketpair();
        // SAFETY: our fds; dup2 closes the old file on a.0 and reuses the number.
        assert!(unsafe { libc::dup2(c.0, a.0) } >= 0);
        drop(c);
        assert_eq!(
            e.ctl(libc::EPOLL_CTL_MOD, a.0, IN).unwrap_err().errno(),
            Some(Errno(libc::ENOENT))
        );
        add(&mut e, a.0, What::WRITE, What::READ).unwrap();
        write(&d);
        assert_eq!(
            collect(&mut e, Some(Duration::ZERO)),
            [(a.0, What::READ | What::WRITE)]
        );
    }

    #[test]
    fn del_of_a_closed_fd_succeeds() {
        let mut e = epoll();
        let (a, _b) = socketpair();
        let fd = a.0;
        add(&mut e, fd, What::empty(), What::READ).unwrap();
        drop(a);
        del(&mut e, fd, What::READ, What::READ).unwrap();
    }

    #[test]
    fn files_and_directories_are_unpollable() {
        let mut e = epoll();
        for f in [regular_file(), directory()] {
            assert_eq!(
                add(&mut e, f.0, What::empty(), What::READ),
                Err(Error::Unpollable(f.0))
            );
        }
        assert_eq!(collect(&mut e, Some(Duration::ZERO)), []);
        let r = add(&mut e, 1 << 30, What::empty(), What::READ);
        assert_eq!(r.unwrap_err().errno(), Some(Errno(libc::EBADF)));
    }

    #[test]
    fn apply_skips_noops_tries_all_and_returns_the_first_error() {
        let mut e = Epoll::new(GrowVec::default(), true).unwrap();
        let (a, b) = socketpair();
        let f = regular_file();
        write(&b);
        let changes = [
            Change {
                fd: b.0,
                read: ChangeOp::empty(),
                ..Change::default()
            },
            Change {
                fd: f.0,
                read: ChangeOp::ADD,
                ..Change::default()
            },
            Change {
                fd: a.0,
                read: ChangeOp::ADD,
                write: ChangeOp::ADD,
                ..Change::default()
            },
        ];
        assert_eq!(e.apply(&changes), Err(Error::Unpollable(f.0)));
        let z = Some(Duration::ZERO);
        assert_eq!(collect(&mut e, z), [(a.0, What::READ | What::WRITE)]);
        // A redundant re-add is a MOD; a delete of everything a DEL.
        let re = Change {
            fd: a.0,
            old: What::READ | What::WRITE,
            read: ChangeOp::ADD,
            write: ChangeOp::DEL,
            ..Change::default()
        };
        e.apply(&[re]).unwrap();
        assert_eq!(collect(&mut e, z), [(a.0, What::READ)]);
        let gone = Change {
            fd: a.0,
            old: What::READ,
            read: ChangeOp::DEL,
            ..Change::default()
        };
        e.apply(&[gone]).unwrap();
        assert_eq!(collect(&mut e, z), []);
    }

    #[test]
    fn exclusive_changes_are_delete_and_add() {
        let mut e = epoll();
        let (a, b) = socketpair();
        let x = What::EXCLUSIVE;
        add(&mut e, a.0, What::empty(), What::READ | x).unwrap();
        // A plain MOD is refused by the kernel for an exclusive registration.
        let refused = e.ctl(libc::EPOLL_CTL_MOD, a.0, IN | OUT).unwrap_err();
        assert_eq!(refused.errno(), Some(crate::Errno(libc::EINVAL)));
        add(&mut e, a.0, What::READ, What::WRITE | x).unwrap();
        write(&b);
        let z = Some(Duration::ZERO);
        assert_eq!(collect(&mut e, z), [(a.0, What::READ | What::WRITE)]);
        del(&mut e, a.0, What::READ | What::WRITE, What::WRITE | x).unwrap();
        assert_eq!(collect(&mut e, z), [(a.0, What::READ)]);
        assert_eq!(
            add(&mut e, a.0, What::READ, What::CLOSED | x),
            Err(Error::Unsupported(Operation::ExclusiveClosed))
        );
        del(&mut e, a.0, What::READ, What::READ).unwrap();
        assert_eq!(collect(&mut e, z), []);
    }

    #[test]
    fn edge_triggered_reports_once() {
        let mut e = epoll();
        let (a, b) = socketpair();
        add(&mut e, a.0, What::empty(), What::READ | What::ET).unwrap();
        write(&b);
        let z = Some(Duration::ZERO);
        assert_eq!(collect(&mut e, z), [(a.0, What::READ)]);
        assert_eq!(collect(&mut e, z), []);
        write(&b);
        assert_eq!(collect(&mut e, z), [(a.0, What::READ)]);
    }

    #[test]
    fn hangup_and_peer_close() {
        let mut e = epoll();
        let (a, b) = socketpair();
        let (c, d) = socketpair();
        add(&mut e, a.0, What::empty(), What::READ).unwrap();
        add(&mut e, c.0, What::empty(), What::CLOSED).unwrap();
        drop(b);
        // SAFETY: our fd.
        unsafe { libc::shutdown(d.0, libc::SHUT_WR) };
        let mut got = collect(&mut e, Some(Duration::ZERO));
        got.sort_by_key(|r| r.0);
        assert_eq!(got, [(a.0, What::READ | What::WRITE), (c.0, What::CLOSED)]);
    }

    #[test]
    fn a_full_fixed_buffer_loses_nothing() {
        let mut buf = [EMPTY; 2];
        let mut e = Epoll::new(&mut buf[..], false).unwrap();
        let pairs: Vec<_> = (0..5).map(|_| socketpair()).collect();
        for (a, b) in &pairs {
            add(&mut e, a.0, What::empty(), What::READ).unwrap();
            write(b);
        }
        let mut seen = Vec::new();
        for _ in 0..3 {
            let got = collect(&mut e, Some(Duration::ZERO));
            assert!(got.len() <= 2);
            seen.extend(got.iter().map(|r| r.0));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 5);
    }

    #[test]
    fn a_full_growable_buffer_grows() {
        let mut e = epoll();
        let pairs: Vec<_> = (0..40).map(|_| socketpair()).collect();
        for (a, _) in &pairs {
            add(&mut e, a.0, What::empty(), What::WRITE).unwrap();
        }
        assert_eq!(collect(&mut e, Some(Duration::ZERO)).len(), 32);
        assert_eq!(e.events.0.len(), 64);
        assert_eq!(collect(&mut e, Some(Duration::ZERO)).len(), 40);
    }

    #[test]
    fn timeouts_are_never_early() {
        for pwait2 in [true, false] {
            let mut e = epoll();
            e.pwait2 = pwait2;
            for us in [0, 1, 100, 1_500, 3_000, 10_000] {
                let asked = Duration::from_micros(us);
                let t = now();
                assert_eq!(e.dispatch(Some(asked), &mut |_, _| {}), Ok(0));
                let took = now() - t;
                assert!(
                    took >= asked,
                    "pwait2={pwait2}: asked {asked:?}, took {took:?}"
                );
            }
        }
    }

    #[test]
    fn a_signal_interrupts_the_wait() {
        for pwait2 in [true, false] {
            let mut e = epoll();
            e.pwait2 = pwait2;
            let t = now();
            let r = interrupted(|| e.dispatch(Some(Duration::from_secs(10)), &mut |_, _| {}));
            assert_eq!(r, Ok(0));
            assert!(now() - t < Duration::from_secs(5));
        }
    }

    #[test]
    fn reinit_drops_every_registration() {
        let mut e = epoll();
        let (a, _b) = socketpair();
        add(&mut e, a.0, What::empty(), What::WRITE).unwrap();
        e.reinit().unwrap();
        assert_eq!(collect(&mut e, Some(Duration::ZERO)), []);
        add(&mut e, a.0, What::empty(), What::WRITE).unwrap();
        assert_eq!(collect(&mut e, Some(Duration::ZERO)), [(a.0, What::WRITE)]);
    }
}
