//! eventop-ffi: libevent 2.1's core C API over eventop.
//!
//! C programs include the headers in `include/` (`<event2/event.h>`, `<event.h>`, ...) and link
//! `libeventop` (or, installed by `ci/install-c`, `-levent_core`); programs built against
//! libevent 2.1 run on this library unrebuilt. `struct event` has libevent's size and layout and
//! lives in the caller's memory: the core holds a slot for it only while it is pending or active,
//! identified by the struct's address (see [`layout`]).
//!
//! Every function checks its pointers as far as it can (a NULL or a freed base is refused with
//! libevent's error value and a message to the log callback), and no Rust panic crosses into C.
#![allow(non_camel_case_types)]

pub mod addr;
pub mod base;
pub mod compat;
pub mod config;
mod cores;
pub mod events;
pub mod evutil;
pub mod finalize;
pub mod internal;
pub mod layout;
pub mod log;
pub mod misc;
pub mod once;
pub mod query;
pub mod run;
mod sync;
pub mod thread;
mod time;
