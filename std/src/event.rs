//! Events as the std adapter keeps them: a slab of records, each with its callback, named by
//! [`EventId`] handles that go stale when the event is freed.

use std::any::Any;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

use eventop_core::base::{Handle, Ready, Spec};
use eventop_core::What;

use crate::error::{Error, Result};
use crate::{Base, Readiness};

/// A handle to an event of a [`Base`]: cheap to copy, and safe to misuse: once the event is freed,
/// or on another base, every use is [`Error::Stale`], even if its record is reused (until one
/// record has been reused 2³² times, when its generation wraps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId {
    index: u32,
    gen: u32,
    base: u32,
}

/// The handle of an I/O event whose callback holds a `T`: an [`EventId`] (`io.id()`, or
/// `.into()`) that [`take_source`](Base::take_source) also accepts, to give the `T` back.
pub struct Io<T> {
    id: EventId,
    source: PhantomData<fn() -> T>,
}

impl<T> Io<T> {
    /// The event's id, for every other [`Base`] method.
    pub fn id(self) -> EventId {
        self.id
    }

    pub(crate) fn new(id: EventId) -> Io<T> {
        Io {
            id,
            source: PhantomData,
        }
    }
}

impl<T> Clone for Io<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Io<T> {}

impl<T> std::fmt::Debug for Io<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Io").field(&self.id).finish()
    }
}

impl<T> PartialEq for Io<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T> Eq for Io<T> {}

impl<T> From<Io<T>> for EventId {
    fn from(io: Io<T>) -> EventId {
        io.id
    }
}

/// Numbers the bases of this process, so a handle names its own base's events only.
static BASES: AtomicU32 = AtomicU32::new(0);

/// A callback that may run many times, with whatever it owns (an I/O event's source).
pub(crate) trait Handler<D>: Send {
    fn call(&mut self, base: &mut Base<D>, data: &mut D, ev: EventId, ready: Readiness);
    /// What the callback owns, to give back when its event is taken apart.
    fn into_source(self: Box<Self>) -> Box<dyn Any>;
}

/// A closure with nothing to give back.
pub(crate) struct Plain<F>(pub(crate) F);

impl<D, F> Handler<D> for Plain<F>
where
    F: FnMut(&mut Base<D>, &mut D, EventId, Readiness) + Send,
{
    #[inline]
    fn call(&mut self, base: &mut Base<D>, data: &mut D, ev: EventId, ready: Readiness) {
        (self.0)(base, data, ev, ready)
    }
    fn into_source(self: Box<Self>) -> Box<dyn Any> {
        Box::new(())
    }
}

/// An I/O event's closure and the source it is lent.
pub(crate) struct Source<T, F> {
    pub(crate) source: T,
    pub(crate) f: F,
}

impl<D, T, F> Handler<D> for Source<T, F>
where
    T: Send + 'static,
    F: FnMut(&mut Base<D>, &mut D, EventId, Readiness, &mut T) + Send,
{
    #[inline]
    fn call(&mut self, base: &mut Base<D>, data: &mut D, ev: EventId, ready: Readiness) {
        (self.f)(base, data, ev, ready, &mut self.source)
    }
    fn into_source(self: Box<Self>) -> Box<dyn Any> {
        Box::new(self.source)
    }
}

/// A once-event's callback: runs once, then the event is freed.
pub(crate) type Once<D> = Box<dyn FnOnce(&mut Base<D>, &mut D, Readiness) + Send>;

/// A callback, called with what happened.
pub(crate) enum Callback<D> {
    /// An event's.
    Many(Box<dyn Handler<D>>),
    /// A once-event's.
    Once(Once<D>),
}

/// One event's definition.
pub(crate) struct Record<D> {
    gen: u32,
    live: bool,
    pub(crate) fd: RawFd,
    pub(crate) events: What,
    pub(crate) priority: u8,
    /// The core's handle, while the event may be pending or active.
    pub(crate) handle: Option<Handle>,
    /// Taken out while the callback runs.
    pub(crate) callback: Option<Callback<D>>,
}

impl<D> Record<D> {
    /// The token the core carries for this event: the record's index alone, which fits a
    /// `usize` on every target. The generation is checked through the core's handle instead
    /// (see [`Records::take_callback`]).
    #[inline]
    pub(crate) fn token(ev: EventId) -> usize {
        ev.index as usize
    }

    #[inline]
    pub(crate) fn spec(&self, ev: EventId) -> Spec {
        Spec {
            fd: self.fd,
            events: self.events,
            priority: self.priority,
            token: Self::token(ev),
        }
    }

    /// Whether it waits for nothing but a timeout (a timer, or an event run by hand).
    pub(crate) fn is_timer(&self) -> bool {
        !self.events.intersects(What::IO | What::SIGNAL)
    }
}

/// The slab.
pub(crate) struct Records<D> {
    slots: Vec<Record<D>>,
    free: Vec<u32>,
    len: usize,
    base: u32,
}

impl<D> Records<D> {
    pub(crate) fn new() -> Records<D> {
        let base = BASES.fetch_add(1, Ordering::Relaxed);
        Records {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            base,
        }
    }

    pub(crate) fn insert(
        &mut self,
        fd: RawFd,
        events: What,
        priority: u8,
        cb: Callback<D>,
    ) -> EventId {
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
        EventId {
            index,
            gen: r.gen,
            base: self.base,
        }
    }

    /// Forgets the event; returns its callback unless it is running.
    pub(crate) fn remove(&mut self, ev: EventId) -> Option<Callback<D>> {
        let r = self.find_mut(ev)?;
        r.live = false;
        r.gen = r.gen.wrapping_add(1);
        r.handle = None;
        let cb = r.callback.take();
        self.free.push(ev.index);
        self.len -= 1;
        cb
    }

    #[inline]
    fn find(&self, ev: EventId) -> Option<&Record<D>> {
        let r = self.slots.get(ev.index as usize)?;
        (ev.base == self.base && r.live && r.gen == ev.gen).then_some(r)
    }

    #[inline]
    fn find_mut(&mut self, ev: EventId) -> Option<&mut Record<D>> {
        let base = self.base;
        let r = self.slots.get_mut(ev.index as usize)?;
        (ev.base == base && r.live && r.gen == ev.gen).then_some(r)
    }

    // An explicit match: `ok_or(Error::Stale)` would build and drop an `Error` every call.
    #[inline]
    pub(crate) fn get(&self, ev: EventId) -> Result<&Record<D>> {
        match self.find(ev) {
            Some(r) => Ok(r),
            None => Err(Error::Stale),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, ev: EventId) -> Result<&mut Record<D>> {
        match self.find_mut(ev) {
            Some(r) => Ok(r),
            None => Err(Error::Stale),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The event the core says is ready, and its callback, taken out to be run. The token is
    /// the record's index; the record is the event's only if it holds the handle the core
    /// returned (a record freed and reused since holds another, or none).
    #[inline]
    pub(crate) fn take_callback(&mut self, ready: &Ready) -> Option<(EventId, Callback<D>)> {
        // Tokens are indices below `u32::MAX`; a record holds a handle only while it is live.
        let index = ready.token as u32;
        let r = self.slots.get_mut(index as usize)?;
        if r.handle != Some(ready.handle) {
            return None;
        }
        let ev = EventId {
            index,
            gen: r.gen,
            base: self.base,
        };
        Some((ev, r.callback.take()?))
    }

    /// Puts a callback back after it ran, unless its event was freed meanwhile.
    #[inline]
    pub(crate) fn put_callback(&mut self, ev: EventId, cb: Callback<D>) {
        // `ev` is this base's (from `take_callback`): its record exists; is it still the event's?
        if let Some(r) = self.slots.get_mut(ev.index as usize) {
            if r.live && r.gen == ev.gen {
                r.callback.get_or_insert(cb);
            }
        }
    }
}
