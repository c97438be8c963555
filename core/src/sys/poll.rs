//! poll(2) backend.
//!
//! The pollfd array lives in the caller's storage; its first `used` entries are passed to
//! `poll(2)`. Each fd's [`FdInfo`] word holds its entry's index plus one. A delete moves the last
//! entry into the hole, which leaves the moved fd's word stale (the base owns that word and the
//! backend only sees the word of the fd it is called for), so a word is trusted only if it points
//! below `used` at an entry for the same fd. Otherwise the entry is found by a scan and the word
//! repaired: add, modify and delete are O(1) except for the first call on an fd after a delete
//! moved it, which costs one scan of the array, no more than the `poll(2)` call itself.
//!
//! A watched fd that was closed comes back `POLLNVAL` from every `poll(2)`, and a loop would spin
//! on it. So it is reported once (`READ | WRITE`) and forgotten: its entry is removed as a delete
//! removes it, after the scan. A later delete of it finds no entry and succeeds; a later add
//! watches the number afresh (see the backend contract).

use core::time::Duration;

use libc::c_short;

use super::{check_pollable, is_eintr, syscall, timeout};
use crate::backend::{Backend, FdInfo, Info, Sink};
use crate::storage::Storage;
use crate::{Error, Features, RawFd, Resource, What};

/// An entry of the pollfd array.
pub type Event = libc::pollfd;

cfg_if::cfg_if! {
    if #[cfg(any(target_os = "linux", target_os = "android"))] {
        /// Any fd, and `POLLRDHUP` (Linux) for [`What::CLOSED`].
        pub const FEATURES: Features = Features::FDS.union(Features::EARLY_CLOSE);
        const CLOSED: c_short = libc::POLLRDHUP;
    } else {
        /// Any fd. [`What::CLOSED`] is watched as `READ`.
        pub const FEATURES: Features = Features::FDS;
        const CLOSED: c_short = libc::POLLIN;
    }
}

const INITIAL_FDS: usize = 32;

const EMPTY: Event = libc::pollfd {
    fd: -1,
    events: 0,
    revents: 0,
};

/// A pollfd array in caller storage.
pub struct Poll<S: Storage<Event>> {
    fds: S,
    used: usize,
    /// Where the next result scan starts, for fairness.
    next: usize,
}

impl<S: Storage<Event>> Poll<S> {
    /// A poll backend over `fds`, grown to 32 entries if it can grow. Never fails: with fixed
    /// storage, an add beyond its length fails instead.
    pub fn new(mut fds: S) -> Result<Self, Error> {
        let _ = fds.grow(INITIAL_FDS, EMPTY);
        Ok(Poll {
            fds,
            used: 0,
            next: 0,
        })
    }

    /// The index of `fd`'s entry, repairing a stale word.
    #[inline]
    fn find(&self, fd: RawFd, info: &mut FdInfo) -> Option<usize> {
        let fds = self.fds.as_slice().get(..self.used).unwrap_or_default();
        let i = (info.0 as usize).wrapping_sub(1);
        if fds.get(i).is_some_and(|p| p.fd == fd) {
            return Some(i);
        }
        // A delete or a sweep moved the entry into a hole (see the module docs).
        let i = fds.iter().rposition(|p| p.fd == fd)?;
        info.0 = i as u32 + 1;
        Some(i)
    }

    /// Appends an entry for `fd`, leaving everything as it was if there is no room.
    fn push(&mut self, fd: RawFd, events: c_short, info: &mut FdInfo) -> Result<(), Error> {
        if self.used == self.fds.capacity() && !self.fds.grow(self.used + 1, EMPTY) {
            return Err(Error::Full(Resource::BackendFds));
        }
        let slot = self
            .fds
            .as_mut_slice()
            .get_mut(self.used)
            .ok_or(Error::Full(Resource::BackendFds))?;
        *slot = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        self.used += 1;
        info.0 = self.used as u32;
        Ok(())
    }

    /// Removes the entries a dispatch marked closed (fd -1), moving the last entry into each
    /// hole as a delete does.
    #[cold]
    #[inline(never)]
    fn sweep(&mut self) {
        let fds = self.fds.as_mut_slice();
        let mut i = 0;
        while i < self.used {
            if fds.get(i).is_some_and(|p| p.fd < 0) {
                self.used -= 1;
                fds.swap(i, self.used);
            } else {
                i += 1;
            }
        }
    }
}

/// The poll event mask for `interest`.
#[inline]
fn mask(interest: What) -> c_short {
    let mut m = 0;
    if interest.contains(What::READ) {
        m |= libc::POLLIN;
    }
    if interest.contains(What::WRITE) {
        m |= libc::POLLOUT;
    }
    if interest.contains(What::CLOSED) {
        m |= CLOSED;
    }
    m
}

/// What `revents` means to the base: a hang-up, an error or a closed fd is `READ | WRITE`, so
/// whoever reads or writes finds out.
#[inline(always)]
fn readiness(mut r: c_short) -> What {
    if r & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        r |= libc::POLLIN | libc::POLLOUT;
    }
    let mut what = What::empty();
    if r & libc::POLLIN != 0 {
        what |= What::READ;
    }
    if r & libc::POLLOUT != 0 {
        what |= What::WRITE;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if r & libc::POLLRDHUP != 0 {
        what |= What::CLOSED;
    }
    what
}

impl<S: Storage<Event>> Backend for Poll<S> {
    fn info(&self) -> Info {
        Info {
            name: "poll",
            features: FEATURES,
            need_reinit: true,
            fdinfo_len: 4,
            changelist: false,
        }
    }

    fn add(&mut self, fd: RawFd, old: What, added: What, info: &mut FdInfo) -> Result<(), Error> {
        let events = mask((old | added) & What::IO);
        if (old & What::IO).is_empty() {
            check_pollable(fd)?;
            return self.push(fd, events, info);
        }
        match self.find(fd, info) {
            Some(i) => {
                if let Some(p) = self.fds.as_mut_slice().get_mut(i) {
                    p.events = events;
                }
                Ok(())
            }
            // The base says the fd is watched but it is not (it was closed and forgotten, and
            // the number may be a new file's): watch it as a new fd.
            None => {
                check_pollable(fd)?;
                self.push(fd, events, info)
            }
        }
    }

    fn check(&self, fd: RawFd) -> Result<(), Error> {
        check_pollable(fd)
    }

    fn del(&mut self, fd: RawFd, old: What, removed: What, info: &mut FdInfo) -> Result<(), Error> {
        let new = (old - removed) & What::IO;
        let Some(i) = self.find(fd, info) else {
            return Ok(());
        };
        let fds = self.fds.as_mut_slice();
        if !new.is_empty() {
            if let Some(p) = fds.get_mut(i) {
                p.events = mask(new);
            }
            return Ok(());
        }
        let last = self.used - 1;
        fds.swap(i, last);
        self.used = last;
        info.0 = 0;
        Ok(())
    }

    #[inline]
    fn dispatch<K: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut K,
    ) -> Result<usize, Error> {
        let used = self.used;
        let fds = self.fds.as_mut_slice().get_mut(..used).unwrap_or_default();
        let ms = timeout::millis(timeout, timeout::POLL_MAX_MS);
        // SAFETY: `fds` holds `used` initialised pollfds.
        let r = syscall("poll", unsafe {
            libc::poll(fds.as_mut_ptr(), used as libc::nfds_t, ms)
        });
        let mut left = match r {
            Ok(n) => n as usize,
            Err(e) if is_eintr(&e) => return Ok(0),
            Err(e) => return Err(e),
        };
        if left == 0 {
            return Ok(0);
        }
        // Start each scan one entry further on, so that no fd is always reported first.
        let start = if self.next < used { self.next } else { 0 };
        self.next = start + 1;
        let (before, after) = fds.split_at_mut(start);
        let mut reported = 0;
        let mut closed = false;
        for p in after.iter_mut().chain(before) {
            if p.revents == 0 {
                continue;
            }
            let what = readiness(p.revents);
            if !what.is_empty() {
                sink.ready(p.fd, what);
                reported += 1;
            }
            if p.revents & libc::POLLNVAL != 0 {
                // Closed: reported this once, then forgotten (a negative fd is never matched).
                p.fd = -1;
                closed = true;
            }
            left -= 1;
            if left == 0 {
                break;
            }
        }
        if closed {
            self.sweep();
        }
        Ok(reported)
    }

    fn reinit(&mut self) -> Result<(), Error> {
        self.used = 0;
        self.next = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;
    use crate::sys::fixtures::*;

    fn poll() -> Poll<GrowVec<Event>> {
        Poll::new(GrowVec::default()).unwrap()
    }

    #[test]
    fn info_and_features() {
        let p = poll();
        let i = p.info();
        assert_eq!((i.name, i.fdinfo_len, i.changelist), ("poll", 4, false));
        #[cfg(target_os = "linux")]
        assert_eq!(FEATURES.bits(), 0xc);
        assert_eq!(p.fds.0.len(), INITIAL_FDS);
    }

    #[test]
    fn readable_writable_and_transitions() {
        let mut p = poll();
        let (a, b) = socketpair();
        let mut ia = FdInfo::default();
        p.add(a.0, What::empty(), What::READ, &mut ia).unwrap();
        assert_eq!(ia, FdInfo(1));
        assert_eq!(collect(&mut p, Z), []);
        write(&b);
        assert_eq!(collect(&mut p, Z), [(a.0, What::READ)]);
        p.add(a.0, What::READ, What::WRITE, &mut ia).unwrap();
        assert_eq!(collect(&mut p, Z), [(a.0, What::READ | What::WRITE)]);
        p.del(a.0, What::READ | What::WRITE, What::READ, &mut ia)
            .unwrap();
        assert_eq!(collect(&mut p, Z), [(a.0, What::WRITE)]);
        p.del(a.0, What::WRITE, What::WRITE, &mut ia).unwrap();
        assert_eq!((p.used, ia), (0, FdInfo(0)));
        assert_eq!(collect(&mut p, Z), []);
    }

    #[test]
    fn delete_moves_the_last_entry_and_stale_words_are_repaired() {
        let mut p = poll();
        let pairs: Vec<_> = (0..3).map(|_| socketpair()).collect();
        let mut info = [FdInfo::default(); 3];
        for (k, (a, _)) in pairs.iter().enumerate() {
            p.add(a.0, What::empty(), What::READ, &mut info[k]).unwrap();
        }
        let fd = |k: usize| pairs[k].0 .0;
        // Deleting the first moves the third into its hole; the third's word says 3.
        p.del(fd(0), What::READ, What::READ, &mut info[0]).unwrap();
        assert_eq!((p.used, info[2]), (2, FdInfo(3)));
        assert_eq!(p.fds.0[0].fd, fd(2));
        p.add(fd(2), What::READ, What::WRITE, &mut info[2]).unwrap();
        assert_eq!(info[2], FdInfo(1));
        p.del(fd(1), What::READ, What::READ, &mut info[1]).unwrap();
        write(&pairs[2].1);
        assert_eq!(collect(&mut p, Z), [(fd(2), What::READ | What::WRITE)]);
        // A stale word pointing at another fd's entry is not trusted either.
        let mut wrong = FdInfo(1);
        p.add(fd(0), What::empty(), What::WRITE, &mut wrong)
            .unwrap();
        assert_eq!(wrong, FdInfo(2));
        p.del(
            fd(2),
            What::READ | What::WRITE,
            What::READ | What::WRITE,
            &mut FdInfo(2),
        )
        .unwrap();
        assert_eq!(collect(&mut p, Z), [(fd(0), What::WRITE)]);
    }

    #[test]
    fn full_fixed_storage_changes_nothing() {
        let mut buf = [EMPTY; 2];
        let mut p = Poll::new(&mut buf[..]).unwrap();
        let pairs: Vec<_> = (0..3).map(|_| socketpair()).collect();
        let mut info = [FdInfo::default(); 3];
        for k in 0..2 {
            p.add(pairs[k].0 .0, What::empty(), What::WRITE, &mut info[k])
                .unwrap();
        }
        let r = p.add(pairs[2].0 .0, What::empty(), What::WRITE, &mut info[2]);
        assert_eq!(r, Err(Error::Full(Resource::BackendFds)));
        assert_eq!((p.used, info[2]), (2, FdInfo(0)));
        let got = sorted(collect(&mut p, Z));
        assert_eq!(
            got,
            [(pairs[0].0 .0, What::WRITE), (pairs[1].0 .0, What::WRITE)]
        );
    }

    #[test]
    fn grows_with_growable_storage() {
        let mut p = poll();
        let pairs: Vec<_> = (0..40).map(|_| socketpair()).collect();
        for (a, _) in &pairs {
            p.add(a.0, What::empty(), What::WRITE, &mut FdInfo::default())
                .unwrap();
        }
        assert_eq!(p.fds.0.len(), 64);
        assert_eq!(collect(&mut p, Z).len(), 40);
    }

    #[test]
    fn unpollable_and_closed_fds_are_refused() {
        let mut p = poll();
        for f in [regular_file(), directory()] {
            let r = p.add(f.0, What::empty(), What::READ, &mut FdInfo::default());
            assert_eq!(r, Err(Error::Unpollable(f.0)));
        }
        let e = p.add(
            closed_fd(),
            What::empty(),
            What::READ,
            &mut FdInfo::default(),
        );
        assert_eq!(
            e,
            Err(Error::Os {
                call: "fstat",
                errno: crate::Errno(libc::EBADF)
            })
        );
        assert_eq!(p.used, 0);
    }

    #[test]
    fn hangup_error_and_closed() {
        let mut p = poll();
        let (a, b) = socketpair();
        let (c, d) = socketpair();
        let (r, w) = pipe();
        p.add(a.0, What::empty(), What::READ, &mut FdInfo::default())
            .unwrap();
        p.add(c.0, What::empty(), What::CLOSED, &mut FdInfo::default())
            .unwrap();
        p.add(r.0, What::empty(), What::READ, &mut FdInfo::default())
            .unwrap();
        drop(b);
        drop(w);
        // SAFETY: our fd.
        unsafe { libc::shutdown(d.0, libc::SHUT_WR) };
        let got = sorted(collect(&mut p, Z));
        let rw = What::READ | What::WRITE;
        #[cfg(target_os = "linux")]
        let closed = What::CLOSED;
        #[cfg(not(target_os = "linux"))]
        let closed = What::READ;
        let mut want = [(a.0, rw), (c.0, closed), (r.0, rw)];
        want.sort_by_key(|r| r.0);
        // A fully closed peer is HUP (and RDHUP, so CLOSED comes with it on Linux).
        assert_eq!(got[0].0, want[0].0);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.0, w.0);
            assert!(g.1.contains(w.1), "{g:?} lacks {w:?}");
        }
        // A closed fd still in the set is POLLNVAL: reported (once; see the test below).
        let high = dup_above(r.0, HIGH);
        let fd = high.0;
        p.add(fd, What::empty(), What::READ, &mut FdInfo::default())
            .unwrap();
        drop(high);
        assert!(collect(&mut p, Z).contains(&(fd, rw)));
    }

    /// Makes `num` (closed) refer to a new socket's file; returns the number, owned, and the peer.
    fn reopen(num: RawFd) -> (Fd, Fd) {
        let (n, peer) = socketpair();
        // SAFETY: `n` is ours; `num` is closed, so dup2 just takes the number.
        assert_eq!(unsafe { libc::dup2(n.0, num) }, num);
        (Fd(num), peer)
    }

    #[test]
    fn a_closed_fd_is_reported_once_then_forgotten() {
        let mut p = poll();
        let (r, _w) = pipe();
        let dead = dup_above(r.0, HIGH + 700);
        let num = dead.0;
        let (a, pa) = socketpair();
        let (b, _pb) = socketpair();
        let mut info = [FdInfo::default(); 3];
        p.add(num, What::empty(), What::READ, &mut info[0]).unwrap();
        p.add(a.0, What::empty(), What::READ, &mut info[1]).unwrap();
        p.add(b.0, What::empty(), What::WRITE, &mut info[2])
            .unwrap();
        drop(dead);
        write(&pa);
        let rw = What::READ | What::WRITE;
        let live = sorted(std::vec![(a.0, What::READ), (b.0, What::WRITE)]);
        let mut want = live.clone();
        want.push((num, rw));
        assert_eq!(sorted(collect(&mut p, Z)), sorted(want));
        // Forgotten: the last entry moved into its hole, and it is not reported again.
        assert_eq!((p.used, p.fds.0[0].fd), (2, b.0));
        for _ in 0..3 {
            assert_eq!(sorted(collect(&mut p, Z)), live);
        }
        // The moved fd's word is stale; modifying it repairs it.
        p.add(b.0, What::WRITE, What::READ, &mut info[2]).unwrap();
        assert_eq!(info[2], FdInfo(1));
        // The late delete of the forgotten fd succeeds and removes nothing (its word points at
        // the moved entry).
        p.del(num, What::READ, What::READ, &mut info[0]).unwrap();
        assert_eq!(p.used, 2);
        p.del(b.0, rw, rw, &mut info[2]).unwrap();
        assert_eq!(collect(&mut p, Z), [(a.0, What::READ)]);
        // A new file at the number, added afresh, is watched.
        let (n, pn) = reopen(num);
        p.add(num, What::empty(), What::READ, &mut info[0]).unwrap();
        write(&pn);
        assert_eq!(
            sorted(collect(&mut p, Z)),
            sorted(std::vec![(a.0, What::READ), (num, What::READ)])
        );
        // Closed and forgotten again; an add to the interest the base still counts (READ)
        // watches the next file at the number with both.
        drop(n);
        assert!(collect(&mut p, Z).contains(&(num, rw)));
        assert_eq!(collect(&mut p, Z), [(a.0, What::READ)]);
        let (_n, _pn) = reopen(num);
        p.add(num, What::READ, What::WRITE, &mut info[0]).unwrap();
        assert_eq!(
            sorted(collect(&mut p, Z)),
            sorted(std::vec![(a.0, What::READ), (num, What::WRITE)])
        );
        assert_eq!(p.used, 2);
    }

    #[test]
    fn results_rotate() {
        let mut p = poll();
        let pairs: Vec<_> = (0..3).map(|_| socketpair()).collect();
        for (a, _) in &pairs {
            p.add(a.0, What::empty(), What::WRITE, &mut FdInfo::default())
                .unwrap();
        }
        let firsts: Vec<_> = (0..3).map(|_| collect(&mut p, Z)[0].0).collect();
        assert_eq!(firsts, [pairs[0].0 .0, pairs[1].0 .0, pairs[2].0 .0]);
        assert_eq!(collect(&mut p, Z).len(), 3);
    }
}
