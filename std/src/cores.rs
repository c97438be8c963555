//! The core under a [`Base`](crate::Base): over epoll's own type when selection picks epoll,
//! over [`Loop`] otherwise (see [`Split`]).
//!
//! The core's step compiled for the hosted enum cost about 10 instructions more per event on the
//! chain benchmark than for epoll alone, even with epoll's dispatch apart (register spills, not
//! branches). The other backends report through a buffer ([`Loop`]), so that epoll's dispatch
//! is compiled for the core's sink in one step only, and inlined there.

use eventop_core::sys::split::Split;

use crate::backend::Loop;
use crate::tables::Growable;

/// The core: over epoll, or over any other hosted backend through [`Loop`].
pub(crate) type Core = Split<Growable, Loop, Growable>;
