//! Events as the std adapter keeps them: a slab of records, each with its callback, named by
//! [`Event`] handles that go stale when the event is freed.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

use eventop_core::base::{Handle, Spec};
use eventop_core::What;

use crate::Base;

/// A handle to an event of a [`Base`]: cheap to copy, and safe to misuse: once the event is freed,
/// or on another base, every use is an `io::ErrorKind::NotFound` error, even if its slot is reused
/// (until one slot has been reused 2³² times, when its generation wraps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    index: u32,
    gen: u32,
    base: u32,
}

/// Numbers the bases of this process, so a handle names its own base's events only.
static BASES: AtomicU32 = AtomicU32::new(0);

/// An event's callback: may run many times.
type Many = Box<dyn FnMut(&mut Base, Event, What) + Send>;
/// A once-event's callback: runs once, then the event is freed.
type Once = Box<dyn FnOnce(&mut Base, What) + Send>;

/// A callback, called with what happened.
pub(crate) enum Callback {
    /// An event's.
    Many(Many),
    /// A once-event's.
    Once(Once),
}

/// One event's definition.
pub(crate) struct Record {
    gen: u32,
    live: bool,
    fd: RawFd,
    events: What,
    pub(crate) priority: u8,
    /// The core's handle, while the event may be pending or active.
    pub(crate) handle: Option<Handle>,
    /// Taken out while the callback runs.
    callback: Option<Callback>,
}

impl Record {
    /// The token the core carries for this event: its index and generation (the index alone
    /// where `usize` has 32 bits; the core's handle still checks the generation).
    pub(crate) fn token(&self, ev: Event) -> usize {
        ((u64::from(self.gen) << 32) | u64::from(ev.index)) as usize
    }

    pub(crate) fn spec(&self, ev: Event) -> Spec {
        Spec {
            fd: self.fd,
            events: self.events,
            priority: self.priority,
            token: self.token(ev),
        }
    }
}

/// The slab.
pub(crate) struct Records {
    slots: Vec<Record>,
    free: Vec<u32>,
    len: usize,
    base: u32,
}

impl Records {
    pub(crate) fn new() -> Records {
        let base = BASES.fetch_add(1, Ordering::Relaxed);
        Records {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            base,
        }
    }

    pub(crate) fn insert(&mut self, fd: RawFd, events: What, priority: u8, cb: Callback) -> Event {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Record {
                    gen: 0,
                    live: false,
                    fd: -1,
                    events: What::empty(),
                    priority: 0,
                    handle: None,
                    callback: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let r = &mut self.slots[index as usize];
        r.live = true;
        r.fd = fd;
        r.events = events;
        r.priority = priority;
        r.handle = None;
        r.callback = Some(cb);
        self.len += 1;
        Event {
            index,
            gen: r.gen,
            base: self.base,
        }
    }

    pub(crate) fn remove(&mut self, ev: Event) {
        if ev.base != self.base {
            return;
        }
        if let Some(r) = self
            .slots
            .get_mut(ev.index as usize)
            .filter(|r| r.live && r.gen == ev.gen)
        {
            r.live = false;
            r.gen = r.gen.wrapping_add(1);
            r.handle = None;
            r.callback = None;
            self.free.push(ev.index);
            self.len -= 1;
        }
    }

    pub(crate) fn get(&self, ev: Event) -> io::Result<&Record> {
        if ev.base != self.base {
            return Err(stale());
        }
        self.slots
            .get(ev.index as usize)
            .filter(|r| r.live && r.gen == ev.gen)
            .ok_or_else(stale)
    }

    pub(crate) fn get_mut(&mut self, ev: Event) -> io::Result<&mut Record> {
        if ev.base != self.base {
            return Err(stale());
        }
        self.slots
            .get_mut(ev.index as usize)
            .filter(|r| r.live && r.gen == ev.gen)
            .ok_or_else(stale)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The event a core token names, and its callback, taken out to be run.
    pub(crate) fn take_callback(&mut self, token: usize) -> Option<(Event, Callback)> {
        let token = token as u64;
        let ev = Event {
            index: token as u32,
            gen: (token >> 32) as u32,
            base: self.base,
        };
        let r = self.get_mut(ev).ok()?;
        Some((ev, r.callback.take()?))
    }

    /// Puts a callback back after it ran, unless its event was freed meanwhile.
    pub(crate) fn put_callback(&mut self, ev: Event, cb: Callback) {
        if let Ok(r) = self.get_mut(ev) {
            r.callback.get_or_insert(cb);
        }
    }
}

fn stale() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        "stale event: freed, or of another base",
    )
}
