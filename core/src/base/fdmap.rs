//! The fd map and the signal map: for each fd (or signal number), the events that wait on it and
//! how many want each kind of interest, so the backend hears only of 0 ↔ 1 transitions.

use super::slots::NIL;
use crate::storage::Storage;
use crate::{Error, FdInfo, RawFd, Resource, What};

/// One fd's entry. Opaque outside the base; public so callers can size storage.
///
/// 16 bytes, as the map has one per fd number up to the highest watched (both ends of a
/// socketpair, say): the events' modes live in [`interest`](Self::interest), and an fd is watched
/// exactly when some count is not zero.
#[derive(Clone, Copy, Debug)]
pub struct FdEntry {
    /// The newest event on the fd; the list runs newest first, as libevent's does.
    pub(crate) head: u32,
    /// The backend's (or changelist's) per-fd word.
    pub(crate) info: FdInfo,
    pub(crate) nread: u16,
    pub(crate) nwrite: u16,
    pub(crate) nclose: u16,
    /// [`interest`](Self::interest), kept as the counts change.
    interest: What,
}

impl Default for FdEntry {
    fn default() -> Self {
        FdEntry {
            head: NIL,
            info: FdInfo(0),
            nread: 0,
            nwrite: 0,
            nclose: 0,
            interest: What::empty(),
        }
    }
}

/// The modes every event on an fd must agree on.
const MODES: What = What::ET.union(What::EXCLUSIVE);

impl FdEntry {
    /// The fd's interest: the I/O bits some event wants, with `ET` and `EXCLUSIVE` if its events
    /// have them (they all agree); empty while no event waits on the fd.
    #[inline(always)]
    pub(crate) fn interest(&self) -> What {
        self.interest
    }

    /// Whether some event waits on the fd.
    #[inline]
    pub(crate) fn is_watched(&self) -> bool {
        !self.interest.is_empty()
    }

    /// Whether one more event wanting `events` would overflow a count (libevent's limit: 0xffff
    /// events of one kind on one fd).
    #[inline]
    pub(crate) fn is_full(&self, events: What) -> bool {
        let full = |n: u16, bit: What| n == u16::MAX && events.contains(bit);
        full(self.nread, What::READ)
            | full(self.nwrite, What::WRITE)
            | full(self.nclose, What::CLOSED)
    }

    /// Counts an event wanting `events` in (`up`: the fd takes its `ET` and `EXCLUSIVE`, which
    /// the caller checked agree with the fd's other events) or out.
    #[inline]
    pub(crate) fn count(&mut self, events: What, up: bool) {
        let step = |n: u16, bit: What| {
            let d = u16::from(events.contains(bit));
            if up {
                n.wrapping_add(d)
            } else {
                n.wrapping_sub(d)
            }
        };
        self.nread = step(self.nread, What::READ);
        self.nwrite = step(self.nwrite, What::WRITE);
        self.nclose = step(self.nclose, What::CLOSED);
        // Branch-free: this runs on every add and delete.
        let bit = |on: bool, w: What| u16::from(on) * w.bits();
        let io = bit(self.nread > 0, What::READ)
            | bit(self.nwrite > 0, What::WRITE)
            | bit(self.nclose > 0, What::CLOSED);
        let modes = if up { events } else { self.interest } & MODES;
        self.interest = What::from_bits_retain(io | bit(io != 0, modes));
    }
}

#[derive(Debug)]
pub(crate) struct FdMap<S> {
    pub(crate) storage: S,
}

impl<S: Storage<FdEntry>> FdMap<S> {
    /// Whether the map must grow to reach `fd` (false for a negative fd, which it never reaches).
    #[inline]
    pub(crate) fn beyond(&self, fd: RawFd) -> bool {
        usize::try_from(fd).is_ok_and(|i| i >= self.storage.capacity())
    }

    /// The entry for `fd`, growing the map to reach it.
    #[inline]
    pub(crate) fn entry(&mut self, fd: RawFd) -> Result<&mut FdEntry, Error> {
        let i = usize::try_from(fd).map_err(|_| Error::BadFd(fd))?;
        if i >= self.storage.capacity() && !self.storage.grow(i + 1, FdEntry::default()) {
            return Err(Error::Full(Resource::FdMap));
        }
        self.storage
            .as_mut_slice()
            .get_mut(i)
            .ok_or(Error::Full(Resource::FdMap))
    }
}

/// Signal numbers the signal map covers: `1..MAX_SIGNAL`.
pub const MAX_SIGNAL: usize = 65;

/// One signal's events.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SigEntry {
    pub(crate) head: u32,
    pub(crate) count: u16,
}

/// The signal map, inline (it is small and fixed by the OS).
#[derive(Debug)]
pub(crate) struct SigMap {
    pub(crate) entries: [SigEntry; MAX_SIGNAL],
}

impl SigMap {
    pub(crate) fn new() -> Self {
        SigMap {
            entries: [SigEntry {
                head: NIL,
                count: 0,
            }; MAX_SIGNAL],
        }
    }

    pub(crate) fn entry(&mut self, sig: i32) -> Result<&mut SigEntry, Error> {
        match usize::try_from(sig) {
            Ok(i) if i > 0 => self.entries.get_mut(i).ok_or(Error::BadSignal(sig)),
            _ => Err(Error::BadSignal(sig)),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    /// Storage that grows to exactly the length asked for (heapless grows to its whole capacity
    /// at once, which would hide an entry grown one short).
    struct Exact(Vec<FdEntry>);

    impl Storage<FdEntry> for Exact {
        fn as_slice(&self) -> &[FdEntry] {
            &self.0
        }
        fn as_mut_slice(&mut self) -> &mut [FdEntry] {
            &mut self.0
        }
        fn grow(&mut self, min_len: usize, fill: FdEntry) -> bool {
            if self.0.len() < min_len {
                self.0.resize(min_len, fill);
            }
            true
        }
    }

    #[test]
    fn each_kind_of_interest_and_its_modes() {
        let mut e = FdEntry::default();
        assert!(!e.is_watched());
        e.count(What::CLOSED | What::EXCLUSIVE, true);
        assert_eq!(e.interest(), What::CLOSED | What::EXCLUSIVE);
        e.count(What::WRITE | What::EXCLUSIVE, true);
        e.count(What::CLOSED | What::EXCLUSIVE, false);
        assert_eq!(
            e.interest(),
            What::WRITE | What::EXCLUSIVE,
            "the modes stay"
        );
        e.count(What::WRITE | What::EXCLUSIVE, false);
        assert_eq!(e.interest(), What::empty(), "and go with the last event");
        assert!(!e.is_watched());
        e.count(What::READ, true);
        assert_eq!(e.interest(), What::READ, "the next event brings its own");
        e.count(What::READ, false);
        assert_eq!(e.interest(), What::empty());
    }

    #[test]
    fn the_map_grows_just_far_enough_to_reach_the_fd() {
        let mut m = FdMap {
            storage: Exact(Vec::new()),
        };
        assert!(m.entry(0).is_ok());
        assert_eq!(m.storage.capacity(), 1);
        m.entry(5).unwrap().nread = 1;
        assert_eq!(m.storage.capacity(), 6);
        assert!(!m.beyond(5) && m.beyond(6));
        assert_eq!(m.entry(5).unwrap().nread, 1);
    }

    #[test]
    fn an_entry_is_small() {
        // The fd table has an entry per fd number up to the highest watched.
        assert_eq!(core::mem::size_of::<FdEntry>(), 16);
    }

    #[test]
    fn interest_follows_counts() {
        let mut e = FdEntry::default();
        e.count(What::READ | What::PERSIST | What::ET, true);
        e.count(What::READ | What::WRITE | What::ET, true);
        assert_eq!(e.interest(), What::READ | What::WRITE | What::ET);
        e.count(What::READ | What::WRITE | What::ET, false);
        assert_eq!(e.interest(), What::READ | What::ET);
        assert_eq!((e.nread, e.nwrite, e.nclose), (1, 0, 0));
    }

    #[test]
    fn each_count_has_its_limit() {
        let mut e = FdEntry::default();
        e.nwrite = u16::MAX - 1;
        assert!(!e.is_full(What::READ | What::WRITE | What::CLOSED));
        e.count(What::WRITE, true);
        assert!(e.is_full(What::WRITE) && e.is_full(What::READ | What::WRITE));
        assert!(
            !e.is_full(What::READ | What::CLOSED),
            "other kinds have room"
        );
        e.nread = u16::MAX;
        e.nclose = u16::MAX;
        assert!(e.is_full(What::READ) && e.is_full(What::CLOSED));
    }

    #[test]
    fn maps_refuse_what_they_cannot_hold() {
        let mut m = FdMap {
            storage: heapless::Vec::<FdEntry, 4>::new(),
        };
        assert!(m.beyond(0) && !m.beyond(-1));
        assert!(m.entry(3).is_ok());
        assert!(!m.beyond(3) && m.beyond(4));
        assert_eq!(m.entry(4).err(), Some(Error::Full(Resource::FdMap)));
        assert_eq!(m.entry(-1).err(), Some(Error::BadFd(-1)));
        let mut s = SigMap::new();
        assert!(s.entry(64).is_ok());
        assert_eq!(s.entry(0).err(), Some(Error::BadSignal(0)));
        assert_eq!(s.entry(65).err(), Some(Error::BadSignal(65)));
    }
}
