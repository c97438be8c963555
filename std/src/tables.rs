//! The core's tables and backend buffers, all growable ([`Grow`]).

use eventop_core::base::{FdEntry, Slot, Tables, Timer};
use eventop_core::sys::hosted::Buffers;
use eventop_core::Change;

use crate::storage::Grow;

/// Every table and backend buffer in a [`Grow`].
#[derive(Debug)]
pub struct Growable;

impl Tables for Growable {
    type Slots = Grow<Slot>;
    type Fds = Grow<FdEntry>;
    type Timers = Grow<Timer>;
    type Changes = Grow<Change>;
}

impl Buffers for Growable {
    type Of<T: Clone> = Grow<T>;
}
