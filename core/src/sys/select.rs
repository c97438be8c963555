//! select(2) backend.
//!
//! The bitmaps are the backend's own, sized to the highest fd, so fds at or above `FD_SETSIZE`
//! work (glibc's fortified `FD_SET` aborts on them, and libevent with it). One storage holds four
//! equal regions: read-in, write-in, read-out, write-out. The in-sets record the interest; each
//! dispatch copies the words up to the highest fd into the out-sets, which `select(2)` overwrites.
//!
//! A watched fd that was closed makes every `select(2)` fail with `EBADF`. The backend then finds
//! the closed fds (one `fcntl` each), reports each once (`READ | WRITE`, as poll reports
//! `POLLNVAL`), forgets it (clears its bits in the in-sets) and waits again without it, so a loop
//! neither stops nor spins. A later delete of a forgotten fd succeeds; a later add watches the
//! number afresh (see the backend contract).

use core::time::Duration;

use super::{check_pollable, errno, is_eintr, syscall, timeout};
use crate::backend::{Backend, FdInfo, Info, Sink};
use crate::storage::Storage;
use crate::{Errno, Error, Features, RawFd, Resource, What};

cfg_if::cfg_if! {
    if #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "netbsd",
        target_os = "openbsd",
    ))] {
        /// A word of an `fd_set` (`__fd_mask`): 32 bits here.
        pub type Word = u32;
    } else {
        /// A word of an `fd_set` (`__fd_mask`): an `unsigned long` here.
        pub type Word = libc::c_ulong;
    }
}

/// Any fd. [`What::CLOSED`] is watched as `READ`.
pub const FEATURES: Features = Features::FDS;

const BITS: usize = Word::BITS as usize;

/// Words per region at first: one `FD_SETSIZE` (1024 fds).
const INITIAL_WORDS: usize = 1024 / BITS;

/// Four fd bitmaps in caller storage.
pub struct Select<S: Storage<Word>> {
    sets: S,
    /// The length of each of the four regions, in words.
    words: usize,
    /// The highest fd with any interest, or -1.
    maxfd: RawFd,
}

impl<S: Storage<Word>> Select<S> {
    /// A select backend over `sets`, grown to room for 1024 fds if it can grow, and cleared.
    /// Never fails: with fixed storage, an add of an fd beyond its room fails instead.
    pub fn new(mut sets: S) -> Result<Self, Error> {
        let _ = sets.grow(4 * INITIAL_WORDS, 0);
        sets.as_mut_slice().fill(0);
        Ok(Select {
            words: sets.capacity() / 4,
            sets,
            maxfd: -1,
        })
    }

    /// Makes the regions long enough for `fd`, moving the write-in region up and clearing the
    /// new words; leaves everything as it was if the storage cannot grow.
    fn reserve(&mut self, fd: usize) -> Result<(), Error> {
        let need = fd / BITS + 1;
        if need <= self.words {
            return Ok(());
        }
        if !self.sets.grow(4 * need, 0) {
            return Err(Error::Full(Resource::BackendFds));
        }
        let (old, new) = (self.words, self.sets.capacity() / 4);
        let s = self.sets.as_mut_slice();
        // In bounds: 4 * new <= len and old < new. The out-sets need no moving: each dispatch
        // rewrites them.
        s.copy_within(old..2 * old, new);
        s[old..new].fill(0);
        s[new + old..2 * new].fill(0);
        self.words = new;
        Ok(())
    }

    /// Sets `fd`'s bits in the in-sets to `interest` (`fd` is below the regions' room).
    #[inline]
    fn set(&mut self, fd: usize, interest: What) {
        let (i, bit) = (fd / BITS, 1 << (fd % BITS));
        let w = self.words;
        let s = self.sets.as_mut_slice();
        for (k, on) in [
            (i, interest.intersects(What::READ | What::CLOSED)),
            (w + i, interest.contains(What::WRITE)),
        ] {
            if let Some(word) = s.get_mut(k) {
                if on {
                    *word |= bit;
                } else {
                    *word &= !bit;
                }
            }
        }
    }

    /// Clears those of `fd`'s bits in the in-sets that `interest` no longer wants, and sets
    /// none: a delete leaves a forgotten fd forgotten.
    #[inline]
    fn clear(&mut self, fd: usize, interest: What) {
        let (i, bit) = (fd / BITS, 1 << (fd % BITS));
        let w = self.words;
        let s = self.sets.as_mut_slice();
        for (k, off) in [
            (i, !interest.intersects(What::READ | What::CLOSED)),
            (w + i, !interest.contains(What::WRITE)),
        ] {
            if let Some(word) = s.get_mut(k) {
                if off {
                    *word &= !bit;
                }
            }
        }
    }

    /// The highest fd with any interest, at most the current `maxfd`; -1 if none.
    fn highest(&self) -> RawFd {
        let s = self.sets.as_slice();
        let w = self.words;
        let top = (self.maxfd.max(0) as usize / BITS).min(w.saturating_sub(1));
        for i in (0..=top).rev() {
            let m = s.get(i).copied().unwrap_or(0) | s.get(w + i).copied().unwrap_or(0);
            if m != 0 {
                return (i * BITS + (BITS - 1 - m.leading_zeros() as usize)) as RawFd;
            }
        }
        -1
    }
}

impl<S: Storage<Word>> Backend for Select<S> {
    fn info(&self) -> Info {
        Info {
            name: "select",
            features: FEATURES,
            need_reinit: true,
            fdinfo_len: 0,
            changelist: false,
        }
    }

    fn add(&mut self, fd: RawFd, old: What, added: What, _: &mut FdInfo) -> Result<(), Error> {
        let Ok(ufd) = usize::try_from(fd) else {
            return Err(Error::BadFd(fd));
        };
        if (old & What::IO).is_empty() {
            check_pollable(fd)?;
        }
        self.reserve(ufd)?;
        self.set(ufd, (old | added) & What::IO);
        self.maxfd = self.maxfd.max(fd);
        Ok(())
    }

    fn check(&self, fd: RawFd) -> Result<(), Error> {
        check_pollable(fd)
    }

    fn del(&mut self, fd: RawFd, old: What, removed: What, _: &mut FdInfo) -> Result<(), Error> {
        let Ok(ufd) = usize::try_from(fd) else {
            return Err(Error::BadFd(fd));
        };
        if ufd / BITS >= self.words {
            return Ok(());
        }
        let new = (old - removed) & What::IO;
        self.clear(ufd, new);
        if new.is_empty() && fd == self.maxfd {
            self.maxfd = self.highest();
        }
        Ok(())
    }

    #[inline]
    fn dispatch<K: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut K,
    ) -> Result<usize, Error> {
        let w = self.words;
        // `reserve` keeps `maxfd` within the regions; the `min` only spares a bounds check.
        let n = ((self.maxfd + 1) as usize).div_ceil(BITS).min(w);
        let nfds = (self.maxfd + 1).min((n * BITS) as RawFd);
        let (ins, outs) = self.sets.as_mut_slice().split_at_mut(2 * w);
        let (rin, win) = ins.split_at_mut(w);
        let (rout, wout) = outs.split_at_mut(w);
        let (rin, win, rout, wout) = (&mut rin[..n], &mut win[..n], &mut rout[..n], &mut wout[..n]);
        rout.copy_from_slice(rin);
        wout.copy_from_slice(win);
        let mut closed = 0;
        let mut r = syscall("select", wait(nfds, rout, wout, timeout));
        if r.is_err_and(|e| e.errno() == Some(Errno(libc::EBADF))) {
            // A watched fd was closed under us. Report it READ|WRITE, as poll reports POLLNVAL,
            // so its owner finds out, forget it so that the next wait does not fail again, and
            // poll the other fds without it, rather than failing the whole loop.
            closed = forget_closed(rin, win, sink);
            rout.copy_from_slice(rin);
            wout.copy_from_slice(win);
            r = syscall("select", wait(nfds, rout, wout, Some(Duration::ZERO)));
        }
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                if closed > 0 {
                    self.maxfd = self.highest();
                }
                return if is_eintr(&e) { Ok(closed) } else { Err(e) };
            }
        };
        // `r` counts set bits in both sets; stop scanning once all are found.
        let mut left = r as usize;
        let mut reported = closed;
        for (i, (&r, &w)) in rout.iter().zip(wout.iter()).enumerate() {
            let mut m = r | w;
            while m != 0 {
                let b = m.trailing_zeros() as usize;
                let bit: Word = 1 << b;
                m &= m - 1;
                let mut what = What::empty();
                if r & bit != 0 {
                    what |= What::READ;
                    left = left.saturating_sub(1);
                }
                if w & bit != 0 {
                    what |= What::WRITE;
                    left = left.saturating_sub(1);
                }
                sink.ready((i * BITS + b) as RawFd, what);
                reported += 1;
            }
            if left == 0 {
                break;
            }
        }
        if closed > 0 {
            self.maxfd = self.highest();
        }
        Ok(reported)
    }

    fn reinit(&mut self) -> Result<(), Error> {
        self.sets.as_mut_slice().fill(0);
        self.maxfd = -1;
        Ok(())
    }
}

/// One select(2) over the out-sets, which hold `nfds` bits each.
fn wait(nfds: i32, rout: &mut [Word], wout: &mut [Word], timeout: Option<Duration>) -> i32 {
    let mut tv = timeout.map(timeout::timeval);
    let tvp = tv
        .as_mut()
        .map_or(core::ptr::null_mut(), |t| t as *mut libc::timeval);
    // SAFETY: each set holds enough words for `nfds` fds (the kernel reads whole words up to
    // nfds) with the alignment of an fd_set's words; `tvp` is null or valid.
    unsafe {
        libc::select(
            nfds,
            rout.as_mut_ptr().cast(),
            wout.as_mut_ptr().cast(),
            core::ptr::null_mut(),
            tvp,
        )
    }
}

/// Reports each fd of the in-sets that is no longer open as `READ | WRITE` and clears its bits
/// there (forgets it); returns how many it reported.
#[cold]
#[inline(never)]
fn forget_closed<K: Sink>(rin: &mut [Word], win: &mut [Word], sink: &mut K) -> usize {
    let mut reported = 0;
    for (i, (r, w)) in rin.iter_mut().zip(win.iter_mut()).enumerate() {
        let mut m = *r | *w;
        while m != 0 {
            let bit: Word = 1 << m.trailing_zeros();
            let fd = (i * BITS + m.trailing_zeros() as usize) as RawFd;
            m &= m - 1;
            // SAFETY: F_GETFD only reads the fd table; an fd that is not open gives EBADF.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 && errno().0 == libc::EBADF {
                sink.ready(fd, What::READ | What::WRITE);
                reported += 1;
                *r &= !bit;
                *w &= !bit;
            }
        }
    }
    reported
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;
    use crate::sys::fixtures::*;

    fn select() -> Select<GrowVec<Word>> {
        Select::new(GrowVec::default()).unwrap()
    }

    #[test]
    fn info_and_room() {
        let s = select();
        let i = s.info();
        assert_eq!((i.name, i.fdinfo_len, i.changelist), ("select", 0, false));
        assert_eq!(FEATURES.bits(), 0x4);
        assert_eq!(s.words * BITS, 1024);
    }

    #[test]
    fn readable_writable_and_transitions() {
        let mut s = select();
        let (a, b) = socketpair();
        add(&mut s, a.0, What::empty(), What::READ).unwrap();
        assert_eq!(collect(&mut s, Z), []);
        write(&b);
        assert_eq!(collect(&mut s, Z), [(a.0, What::READ)]);
        add(&mut s, a.0, What::READ, What::WRITE).unwrap();
        assert_eq!(collect(&mut s, Z), [(a.0, What::READ | What::WRITE)]);
        del(&mut s, a.0, What::READ | What::WRITE, What::READ).unwrap();
        assert_eq!(collect(&mut s, Z), [(a.0, What::WRITE)]);
        del(&mut s, a.0, What::WRITE, What::WRITE).unwrap();
        assert_eq!((s.maxfd, collect(&mut s, Z)), (-1, Vec::new()));
    }

    #[test]
    fn closed_is_watched_as_read() {
        let mut s = select();
        let (a, b) = socketpair();
        add(&mut s, a.0, What::empty(), What::CLOSED).unwrap();
        assert_eq!(collect(&mut s, Z), []);
        // SAFETY: our fd.
        unsafe { libc::shutdown(b.0, libc::SHUT_WR) };
        assert_eq!(collect(&mut s, Z), [(a.0, What::READ)]);
    }

    #[test]
    fn fds_above_fd_setsize_work_and_the_sets_move() {
        let mut s = select();
        let (a, b) = socketpair();
        let (c, d) = socketpair();
        add(&mut s, a.0, What::empty(), What::WRITE).unwrap();
        add(&mut s, b.0, What::empty(), What::READ).unwrap();
        let high = dup_above(c.0, 1500);
        add(&mut s, high.0, What::empty(), What::READ).unwrap();
        assert!(s.words * BITS > 1500);
        assert_eq!(s.maxfd, high.0);
        write(&d);
        write(&a);
        let got = sorted(collect(&mut s, Z));
        let mut want = [(a.0, What::WRITE), (b.0, What::READ), (high.0, What::READ)];
        want.sort_by_key(|r| r.0);
        assert_eq!(got, want);
        del(&mut s, high.0, What::READ, What::READ).unwrap();
        assert_eq!(s.maxfd, a.0.max(b.0));
    }

    #[test]
    fn full_fixed_storage_changes_nothing() {
        let mut buf = [!0 as Word; 4 * INITIAL_WORDS];
        let mut s = Select::new(&mut buf[..]).unwrap();
        let (a, _b) = socketpair();
        add(&mut s, a.0, What::empty(), What::WRITE).unwrap();
        let high = dup_above(a.0, 1500);
        assert_eq!(
            add(&mut s, high.0, What::empty(), What::WRITE),
            Err(Error::Full(Resource::BackendFds))
        );
        assert_eq!(s.maxfd, a.0);
        assert_eq!(collect(&mut s, Z), [(a.0, What::WRITE)]);
    }

    #[test]
    fn a_closed_fd_is_reported_once_then_forgotten() {
        let mut s = select();
        let (a, pa) = socketpair();
        let (r, _w) = pipe();
        let dead = dup_above(r.0, HIGH + 800);
        let num = dead.0;
        let rw = What::READ | What::WRITE;
        add(&mut s, a.0, What::empty(), What::READ).unwrap();
        add(&mut s, num, What::empty(), rw).unwrap();
        drop(dead);
        write(&pa);
        assert_eq!(
            sorted(collect(&mut s, Z)),
            sorted(std::vec![(a.0, What::READ), (num, rw)])
        );
        // Forgotten: not reported again, and the highest fd is the live one.
        assert_eq!(s.maxfd, a.0);
        for _ in 0..3 {
            assert_eq!(collect(&mut s, Z), [(a.0, What::READ)]);
        }
        // A late partial delete leaves it forgotten (it sets no bits).
        del(&mut s, num, rw, What::WRITE).unwrap();
        assert_eq!(collect(&mut s, Z), [(a.0, What::READ)]);
        // A new file at the number: an add to the interest the base still counts (READ)
        // watches it with both.
        let (n, _pn) = socketpair();
        // SAFETY: `n` is ours; `num` is closed, so dup2 just takes the number.
        assert_eq!(unsafe { libc::dup2(n.0, num) }, num);
        let reused = Fd(num);
        add(&mut s, num, What::READ, What::WRITE).unwrap();
        assert_eq!(
            sorted(collect(&mut s, Z)),
            sorted(std::vec![(a.0, What::READ), (reused.0, What::WRITE)])
        );
        // And the full delete removes it.
        del(&mut s, num, rw, rw).unwrap();
        assert_eq!(
            (s.maxfd, collect(&mut s, Z)),
            (a.0, std::vec![(a.0, What::READ)])
        );
    }

    #[test]
    fn unpollable_and_closed_fds_are_refused() {
        let mut s = select();
        for f in [regular_file(), directory()] {
            assert_eq!(
                add(&mut s, f.0, What::empty(), What::READ),
                Err(Error::Unpollable(f.0))
            );
        }
        let (r, _w) = pipe();
        let high = dup_above(r.0, HIGH);
        let fd = high.0;
        add(&mut s, fd, What::empty(), What::READ).unwrap();
        drop(high);
        // select(2) fails with EBADF for a closed fd in the sets; the backend finds it and
        // reports it READ|WRITE, as poll reports POLLNVAL, rather than failing the loop.
        assert_eq!(collect(&mut s, Z), [(fd, What::READ | What::WRITE)]);
        assert_eq!(
            add(&mut select(), fd, What::empty(), What::READ).map_err(|e| e.errno()),
            Err(Some(crate::Errno(libc::EBADF)))
        );
    }
}
