//! The storage a base's tables live in: the caller hands it in, as [`Parts`] of [`Tables`].

use core::marker::PhantomData;

use super::{FdEntry, Slot, Timer};
use crate::storage::Storage;
use crate::Change;

/// The storage types of a base's tables.
pub trait Tables {
    /// Event slots.
    type Slots: Storage<Slot>;
    /// The fd map.
    type Fds: Storage<FdEntry>;
    /// The timer heap.
    type Timers: Storage<Timer>;
    /// The changelist.
    type Changes: Storage<Change>;
}

/// The tables themselves, handed to [`EventBase::new`](super::EventBase::new).
pub struct Parts<T: Tables> {
    /// Event slots: one per pending or active event.
    pub slots: T::Slots,
    /// The fd map: one entry per fd number up to the highest in use.
    pub fds: T::Fds,
    /// The timer heap: one entry per event with a timeout.
    pub timers: T::Timers,
    /// The changelist: one entry per fd changed between dispatches.
    pub changes: T::Changes,
}

/// `heapless::Vec` of `N` for every table.
#[derive(Debug)]
pub struct Fixed<const N: usize>;

impl<const N: usize> Tables for Fixed<N> {
    type Slots = heapless::Vec<Slot, N>;
    type Fds = heapless::Vec<FdEntry, N>;
    type Timers = heapless::Vec<Timer, N>;
    type Changes = heapless::Vec<Change, N>;
}

/// Slices the caller owns, for every table.
#[derive(Debug)]
pub struct Borrowed<'a>(PhantomData<&'a mut ()>);

impl<'a> Tables for Borrowed<'a> {
    type Slots = &'a mut [Slot];
    type Fds = &'a mut [FdEntry];
    type Timers = &'a mut [Timer];
    type Changes = &'a mut [Change];
}

impl<T: Tables> Default for Parts<T>
where
    T::Slots: Default,
    T::Fds: Default,
    T::Timers: Default,
    T::Changes: Default,
{
    fn default() -> Self {
        Parts {
            slots: Default::default(),
            fds: Default::default(),
            timers: Default::default(),
            changes: Default::default(),
        }
    }
}
