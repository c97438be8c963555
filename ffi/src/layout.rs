//! `struct event` with libevent 2.1's layout, and where eventop keeps its own state inside it.
//!
//! The fields programs read (`ev_fd`, `ev_events`, `ev_res`, `ev_base`, the callback, its
//! argument, the priority, `evcb_flags`) hold what libevent keeps there. The parts libevent uses
//! privately (its queue links) hold eventop's state: the core's handle lives in
//! `ev_timeout_pos`. A handle read from there is only a hint: the core trusts it only if its slot
//! carries this struct's address as its token, so garbage or a stale copy is never taken for an
//! event.

use std::ffi::{c_int, c_short, c_void};
use std::ptr::{addr_of, addr_of_mut};

use eventop_core::base::Handle;

use crate::base::event_base;

/// `event_callback_fn`: the callback of an event.
pub type Callback = unsafe extern "C" fn(c_int, c_short, *mut c_void);

/// libevent's `EVLIST_*` bits of `evcb_flags`.
pub mod evlist {
    /// The timeout is pending.
    pub const TIMEOUT: i16 = 0x01;
    /// Inserted for its I/O or signal.
    pub const INSERTED: i16 = 0x02;
    /// A signal event (not set by libevent 2.1 either; kept for the value).
    pub const SIGNAL: i16 = 0x04;
    /// In an active queue.
    pub const ACTIVE: i16 = 0x08;
    /// Internal to the library.
    pub const INTERNAL: i16 = 0x10;
    /// Activated for the next iteration.
    pub const ACTIVE_LATER: i16 = 0x20;
    /// Being finalized.
    pub const FINALIZING: i16 = 0x40;
    /// Assigned: `event_assign`/`event_new` ran on it.
    pub const INIT: i16 = 0x80;
    /// Where the event is queued.
    pub const QUEUED: i16 = TIMEOUT | INSERTED | ACTIVE | ACTIVE_LATER;
}

/// libevent's `evcb_closure` values, as `event_assign` sets them.
pub mod closure {
    /// A plain event.
    pub const EVENT: u8 = 0;
    /// A signal event.
    pub const SIGNAL: u8 = 1;
    /// A persistent event.
    pub const PERSIST: u8 = 2;
    /// Being finalized: the callback slot holds an `event_finalize_callback_fn`.
    pub const FINALIZE: u8 = 5;
    /// Being finalized, then freed.
    pub const FINALIZE_FREE: u8 = 6;
}

/// `struct event_callback`.
#[repr(C)]
pub struct event_callback {
    /// libevent's active-queue link; unused by eventop (zeroed).
    pub evcb_active_next: [*mut c_void; 2],
    /// `EVLIST_*` bits.
    pub evcb_flags: c_short,
    /// The priority.
    pub evcb_pri: u8,
    /// How the callback is called.
    pub evcb_closure: u8,
    /// The callback (a union of function pointers in C).
    pub evcb_cb_union: Option<Callback>,
    /// The callback's argument.
    pub evcb_arg: *mut c_void,
}

/// `ev_.ev_io` of `struct event`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ev_io {
    /// libevent's fd-list link.
    pub ev_io_next: [*mut c_void; 2],
    /// libevent's relative timeout of a persistent event.
    pub ev_timeout: libc::timeval,
}

/// `ev_.ev_signal` of `struct event`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ev_signal {
    /// libevent's signal-list link.
    pub ev_signal_next: [*mut c_void; 2],
    /// Calls left.
    pub ev_ncalls: c_short,
    /// libevent's pointer to the running count.
    pub ev_pncalls: *mut c_short,
}

/// The `ev_` union of `struct event`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union ev_union {
    /// For I/O events.
    pub ev_io: ev_io,
    /// For signal events.
    pub ev_signal: ev_signal,
}

/// `struct event`, 128 bytes on x86_64 as in libevent 2.1.
#[repr(C)]
pub struct event {
    /// The callback part.
    pub ev_evcallback: event_callback,
    /// libevent's heap index or common-timeout link; eventop's handle.
    pub ev_timeout_pos: [*mut c_void; 2],
    /// The fd, or the signal number.
    pub ev_fd: c_int,
    /// The base.
    pub ev_base: *mut event_base,
    /// I/O or signal part.
    pub ev_: ev_union,
    /// The interest, `EV_*` bits.
    pub ev_events: c_short,
    /// What happened, passed to the callback.
    pub ev_res: c_short,
    /// libevent's absolute deadline.
    pub ev_timeout: libc::timeval,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(std::mem::size_of::<event>() == 128);
    assert!(std::mem::offset_of!(event, ev_timeout_pos) == 40);
    assert!(std::mem::offset_of!(event, ev_fd) == 56);
    assert!(std::mem::offset_of!(event, ev_base) == 64);
    assert!(std::mem::offset_of!(event, ev_events) == 104);
    assert!(std::mem::offset_of!(event, ev_timeout) == 112);
};

// Field access through raw pointers: the struct is the C caller's memory, which C code may be
// touching between our calls, so no Rust reference to it outlives one read or write.

/// `ev`'s `evcb_flags`.
///
/// # Safety
/// `ev` points to a readable `struct event`.
#[inline]
pub unsafe fn flags(ev: *const event) -> c_short {
    // SAFETY: the caller's promise.
    unsafe { addr_of!((*ev).ev_evcallback.evcb_flags).read() }
}

/// Sets `ev`'s `evcb_flags`.
///
/// # Safety
/// `ev` points to a writable `struct event`.
#[inline]
pub unsafe fn set_flags(ev: *mut event, f: c_short) {
    // SAFETY: the caller's promise.
    unsafe { addr_of_mut!((*ev).ev_evcallback.evcb_flags).write(f) }
}

/// The handle eventop last stored in `ev` (any bits: the core checks it with the token).
///
/// # Safety
/// `ev` points to a readable `struct event`.
#[inline]
pub unsafe fn handle(ev: *const event) -> Handle {
    // SAFETY: the caller's promise; 8 bytes fit in `ev_timeout_pos` on every target, and an
    // unaligned read needs no alignment.
    let bits = unsafe {
        addr_of!((*ev).ev_timeout_pos)
            .cast::<u64>()
            .read_unaligned()
    };
    Handle::from_bits(bits)
}

/// Stores the core's handle in `ev`.
///
/// # Safety
/// `ev` points to a writable `struct event`.
#[inline]
pub unsafe fn set_handle(ev: *mut event, h: Handle) {
    // SAFETY: as in `handle`.
    unsafe {
        addr_of_mut!((*ev).ev_timeout_pos)
            .cast::<u64>()
            .write_unaligned(h.to_bits())
    }
}

/// `ev`'s base pointer.
///
/// # Safety
/// `ev` points to a readable `struct event`.
#[inline]
pub unsafe fn base_of(ev: *const event) -> *mut event_base {
    // SAFETY: the caller's promise.
    unsafe { addr_of!((*ev).ev_base).read() }
}
