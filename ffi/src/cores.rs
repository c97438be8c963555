//! The core under a base: over epoll's own type when selection picks epoll, over the hosted enum
//! of every backend otherwise (see [`Split`]).

use eventop::Growable;
use eventop_core::sys::hosted::Hosted;
use eventop_core::sys::split::Split;

/// The core: over epoll, or over any other hosted backend.
pub(crate) type Core = Split<Growable, Hosted<Growable>, Growable>;
