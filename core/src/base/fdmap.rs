//! The fd map and the signal map: for each fd (or signal number), the list of events that wait on
//! it; an fd's interest is found on its list, so the backend hears only of interest that starts
//! or stops.

use super::slots::{Slot, NIL};
use crate::storage::Storage;
use crate::{Error, FdInfo, RawFd, Resource, What};

/// One fd's entry: 8 bytes, as the map has one per fd number up to the highest watched (both
/// ends of a socketpair, say). Opaque outside the base; public so callers can size storage.
///
/// It keeps no counts: the fd's interest is the union of its events', found on their list, as
/// libev finds it.
#[derive(Clone, Copy, Debug)]
pub struct FdEntry {
    /// The newest event on the fd; the list runs newest first, as libevent's does.
    pub(crate) head: u32,
    /// The backend's (or changelist's) per-fd word.
    pub(crate) info: FdInfo,
}

impl Default for FdEntry {
    fn default() -> Self {
        FdEntry {
            head: NIL,
            info: FdInfo(0),
        }
    }
}

impl FdEntry {
    /// Whether some event waits on the fd.
    #[inline]
    pub(crate) fn is_watched(&self) -> bool {
        self.head != NIL
    }
}

/// The modes every event on an fd must agree on.
pub(crate) const MODES: What = What::ET.union(What::EXCLUSIVE);

/// The interest of the events on the list that starts at `head`: the I/O bits some event wants,
/// with the `ET` and `EXCLUSIVE` they all have. The walk stops once the events seen want every
/// bit of `enough` (for all of it, [`What::IO`]): what it found then covers `enough`, and its
/// modes are the fd's. Empty for an empty list.
#[inline]
pub(crate) fn interest(slots: &[Slot], head: u32, enough: What) -> What {
    let mut seen = What::empty();
    let mut at = head;
    while let Some(s) = slots.get(at as usize) {
        seen |= s.events;
        if seen.contains(enough) {
            break;
        }
        at = s.next;
    }
    seen & (What::IO | MODES)
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

    /// Slots 0..n holding `events`, listed from 0.
    fn list(events: &[What]) -> Vec<Slot> {
        let n = events.len() as u32;
        (0..n)
            .map(|i| Slot {
                events: events[i as usize],
                next: if i + 1 < n { i + 1 } else { NIL },
                ..Slot::default()
            })
            .collect()
    }

    #[test]
    fn interest_is_the_union_of_the_events() {
        let et = What::ET | What::PERSIST;
        let slots = list(&[What::READ | et, What::WRITE | et, What::READ | et]);
        assert_eq!(
            interest(&slots, 0, What::IO),
            What::READ | What::WRITE | What::ET
        );
        assert_eq!(
            interest(&slots, 1, What::IO),
            What::READ | What::WRITE | What::ET
        );
        assert_eq!(interest(&slots, 2, What::IO), What::READ | What::ET);
        assert_eq!(interest(&slots, NIL, What::IO), What::empty());
        let slots = list(&[What::CLOSED | What::EXCLUSIVE]);
        assert_eq!(
            interest(&slots, 0, What::IO),
            What::CLOSED | What::EXCLUSIVE
        );
    }

    #[test]
    fn the_walk_stops_once_it_has_enough() {
        let slots = list(&[What::READ, What::READ, What::WRITE]);
        assert_eq!(interest(&slots, 0, What::READ), What::READ, "stopped at 0");
        assert_eq!(
            interest(&slots, 0, What::WRITE),
            What::READ | What::WRITE,
            "walked to 2"
        );
        assert_eq!(interest(&slots, 0, What::CLOSED), What::READ | What::WRITE);
    }

    #[test]
    fn the_map_grows_just_far_enough_to_reach_the_fd() {
        let mut m = FdMap {
            storage: Exact(Vec::new()),
        };
        assert!(m.entry(0).is_ok());
        assert_eq!(m.storage.capacity(), 1);
        m.entry(5).unwrap().head = 1;
        assert_eq!(m.storage.capacity(), 6);
        assert!(!m.beyond(5) && m.beyond(6));
        assert_eq!(m.entry(5).unwrap().head, 1);
    }

    #[test]
    fn an_entry_is_small() {
        // The fd table has an entry per fd number up to the highest watched.
        assert_eq!(core::mem::size_of::<FdEntry>(), 8);
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
