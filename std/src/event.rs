//! Events as the std adapter keeps them: a slab of records, each with its callback, named by
//! [`EventId`] handles that go stale when the event is freed.

use std::any::Any;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

use eventop_core::base::{Handle, Ready, Spec};
use eventop_core::What;

use crate::closures::{Call, Cell, Closures, Ops, Owned};
use crate::error::{Error, Result};
use crate::{Base, Readiness};

/// A handle to an event of a [`Base`]: cheap to copy, and safe to misuse: once the event is freed,
/// or on another base, every use is [`Error::Stale`], even if its record is reused (until one
/// record has been reused 2³¹ times, when its generation wraps).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId {
    /// Index and generation: with `base`, two scalars, so that an id goes to and from a call
    /// in two registers (three `u32`s went through memory).
    key: Key,
    base: u32,
}

impl EventId {
    /// The record's index.
    #[inline]
    fn index(self) -> u32 {
        self.key.0 as u32
    }

    /// The record's generation when the event was made.
    #[inline]
    fn gen(self) -> u32 {
        (self.key.0 >> 32) as u32
    }
}

impl std::fmt::Debug for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventId")
            .field("index", &self.index())
            .field("gen", &self.gen())
            .field("base", &self.base)
            .finish()
    }
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

/// A record's index and generation in one word: an [`EventId`] less its base (as the loop passes
/// it to a callback, in one register), and what a record keeps to check ids with one compare.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key(u64);

impl Key {
    #[inline]
    fn new(index: u32, gen: u32) -> Key {
        Key(u64::from(index) | u64::from(gen) << 32)
    }

    /// The same index, the next generation (wrapping).
    #[inline]
    fn next(self) -> Key {
        Key(self.0.wrapping_add(1 << 32))
    }

    /// Whether its generation is odd: the key of a record that holds an event.
    #[inline]
    fn live(self) -> bool {
        (self.0 >> 32) % 2 == 1
    }

    /// The id, on `base`.
    #[inline]
    pub(crate) fn id<D>(self, base: &Base<D>) -> EventId {
        EventId {
            key: self,
            base: base.records.base,
        }
    }
}

/// Numbers the bases of this process, so a handle names its own base's events only.
static BASES: AtomicU32 = AtomicU32::new(0);

/// A callback that may run many times, with whatever it owns (an I/O event's source).
pub(crate) trait Handler<D>: Send + Sized {
    /// Runs the callback of event `ev`; returns whether to free the event (a timer that said
    /// [`Drop`](crate::TimeoutAction::Drop)): the caller does, and drops the handler, once this
    /// returned.
    fn call(&mut self, base: &mut Base<D>, data: &mut D, ev: EventId, ready: Readiness) -> bool;
    /// What the callback owns, to give back when its event is taken apart.
    fn into_source(self) -> Box<dyn Any>;
}

/// A closure with nothing to give back.
pub(crate) struct Plain<F>(pub(crate) F);

impl<D, F> Handler<D> for Plain<F>
where
    F: FnMut(&mut Base<D>, &mut D, EventId, Readiness) + Send,
{
    #[inline]
    fn call(&mut self, base: &mut Base<D>, data: &mut D, ev: EventId, ready: Readiness) -> bool {
        (self.0)(base, data, ev, ready);
        false
    }
    fn into_source(self) -> Box<dyn Any> {
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
    fn call(&mut self, base: &mut Base<D>, data: &mut D, ev: EventId, ready: Readiness) -> bool {
        (self.f)(base, data, ev, ready, &mut self.source);
        false
    }
    fn into_source(self) -> Box<dyn Any> {
        Box::new(self.source)
    }
}

/// A once-event's closure: runs once, then frees its event (through a panic too).
pub(crate) struct OnceFn<F>(pub(crate) Option<F>);

/// Frees an event when it drops.
struct FreeOnDrop<'a, D>(&'a mut Base<D>, EventId);

impl<D> Drop for FreeOnDrop<'_, D> {
    fn drop(&mut self) {
        let _ = self.0.free(self.1);
    }
}

impl<D, F> Handler<D> for OnceFn<F>
where
    F: FnOnce(&mut Base<D>, &mut D, Readiness) + Send,
{
    fn call(&mut self, base: &mut Base<D>, data: &mut D, ev: EventId, ready: Readiness) -> bool {
        let guard = FreeOnDrop(base, ev);
        if let Some(f) = self.0.take() {
            f(&mut *guard.0, data, ready)
        }
        false
    }
    fn into_source(self) -> Box<dyn Any> {
        Box::new(())
    }
}

/// The core's handle of an event, if it has one, as one number: one compare checks it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held(u64);

impl Held {
    /// No handle: no slot of a std base has index `u32::MAX` (tables stop at
    /// [`MAX_LEN`](crate::storage::MAX_LEN)).
    pub(crate) const NONE: Held = Held(u64::MAX);

    #[inline]
    pub(crate) fn some(h: Handle) -> Held {
        Held(h.to_bits())
    }

    #[inline]
    pub(crate) fn get(self) -> Option<Handle> {
        (self != Held::NONE).then(|| Handle::from_bits(self.0))
    }

    #[inline]
    pub(crate) fn take(&mut self) -> Option<Handle> {
        std::mem::replace(self, Held::NONE).get()
    }
}

/// One event's definition, or a free record. Its closure is in [`Closures`], at its index.
pub(crate) struct Record<D> {
    /// How to run and drop the closure; [`Ops::EMPTY`] in a free record.
    ops: &'static Ops,
    /// The core's handle, while the event may be pending or active.
    pub(crate) handle: Held,
    /// Its index and generation: the generation odd while the record holds an event, even while
    /// it is free, so a freed event's ids are stale at once and an id never matches a free
    /// record. The whole key, so that one compare checks an id and the loop reads an id whole.
    key: Key,
    /// The fd or signal; in a free record, the next free record's index.
    pub(crate) fd: RawFd,
    pub(crate) events: What,
    pub(crate) priority: u8,
    /// Closures of a `Base<D>`.
    of: PhantomData<fn() -> D>,
}

impl<D> Record<D> {
    /// The token the core carries for this event: the record's index alone, which fits a
    /// `usize` on every target. The generation is checked through the core's handle instead
    /// (see [`Records::start_callback`]).
    #[inline]
    pub(crate) fn token(ev: EventId) -> usize {
        ev.index() as usize
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
    #[inline]
    pub(crate) fn is_timer(&self) -> bool {
        !self.events.intersects(What::IO | What::SIGNAL)
    }
}

/// No record: the end of the free list; no callback running.
const NONE: u32 = u32::MAX;
/// [`Records::running`]: the running callback's event was freed.
const FREED: u32 = u32::MAX - 1;

/// The slab: records in a `Vec`, free ones chained through their `fd`, and their closures.
pub(crate) struct Records<D> {
    slots: Vec<Record<D>>,
    closures: Closures,
    /// The first free record, or [`NONE`].
    free: u32,
    /// The record whose callback is running (its closure is borrowed), [`FREED`] if its event
    /// was freed meanwhile (record and closure wait for the callback to return), or [`NONE`].
    /// One at a time: a callback cannot start a run.
    running: u32,
    len: usize,
    base: u32,
}

impl<D> Drop for Records<D> {
    fn drop(&mut self) {
        for (index, r) in self.slots.iter_mut().enumerate() {
            if r.key.live() && r.ops.owns && index as u32 != self.running {
                let ops = std::mem::replace(&mut r.ops, &Ops::EMPTY);
                // SAFETY: a live record holds its closure in its cell, which nothing borrows:
                // the one running callback's is left alone.
                drop(unsafe { self.closures.take(index, ops) });
            }
        }
        if self.running != NONE {
            // A callback dropped the base whose run called it (it swapped it out of its
            // `&mut Base`): its closure runs on, so its cell stays. Leaked, not freed.
            self.closures.leak();
        }
    }
}

/// A running callback: its `call` and the cell of its closure.
pub(crate) type Callback = (Call, *mut Cell);

impl<D> Records<D> {
    pub(crate) fn new() -> Records<D> {
        let base = BASES.fetch_add(1, Ordering::Relaxed);
        Records {
            slots: Vec::new(),
            closures: Closures::new(),
            free: NONE,
            running: NONE,
            len: 0,
            base,
        }
    }

    /// A new event.
    #[inline]
    pub(crate) fn insert(
        &mut self,
        fd: RawFd,
        events: What,
        priority: u8,
        cb: impl Handler<D>,
    ) -> EventId {
        self.insert_held(fd, events, priority, cb, Held::NONE)
    }

    /// The index the next [`insert`](Self::insert) takes (so that the core can be told its
    /// token first).
    #[inline]
    pub(crate) fn next_index(&self) -> u32 {
        if self.free != NONE {
            self.free
        } else {
            self.slots.len() as u32
        }
    }

    /// A new event, holding the core's `handle` already.
    #[inline]
    pub(crate) fn insert_held(
        &mut self,
        fd: RawFd,
        events: What,
        priority: u8,
        cb: impl Handler<D>,
        handle: Held,
    ) -> EventId {
        let index = self.free;
        let key = if index != NONE {
            let ops = self.closures.put(index as usize, cb);
            let r = &mut self.slots[index as usize];
            self.free = r.fd as u32;
            r.key = r.key.next();
            r.ops = ops;
            r.fd = fd;
            r.events = events;
            r.priority = priority;
            r.handle = handle;
            r.key
        } else {
            let index = self.slots.len();
            if index == self.slots.capacity() {
                self.grow();
            }
            let ops = self.closures.put(index, cb);
            let key = Key::new(index as u32, 1);
            self.slots.push(Record {
                ops,
                handle,
                key,
                fd,
                events,
                priority,
                of: PhantomData,
            });
            key
        };
        self.len += 1;
        EventId {
            key,
            base: self.base,
        }
    }

    /// Room for more records: a quarter more, not double: room for at most a quarter more
    /// events than the base ever held (amortised O(1) still, and realloc moves large blocks by
    /// remapping pages rather than copying).
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        self.slots.reserve_exact(self.slots.len() / 4 + 16);
    }

    /// Forgets the event; returns its closure unless its callback is running (then the run
    /// drops it when the callback returns).
    pub(crate) fn remove(&mut self, ev: EventId) -> Option<Owned> {
        self.release(ev).and_then(|(_, owned)| owned)
    }

    /// Forgets the event, `None` if it is stale; else returns the core's handle it held (the
    /// caller deletes it) and its closure unless its callback is running (then the run drops
    /// it when the callback returns).
    #[inline]
    pub(crate) fn release(&mut self, ev: EventId) -> Option<(Option<Handle>, Option<Owned>)> {
        let base = self.base;
        let r = self.slots.get_mut(ev.index() as usize)?;
        if r.key != ev.key || ev.base != base {
            return None;
        }
        r.key = r.key.next();
        let handle = r.handle.take();
        self.len -= 1;
        if ev.index() == self.running {
            self.running = FREED;
            return Some((handle, None));
        }
        let ops = std::mem::replace(&mut r.ops, &Ops::EMPTY);
        r.fd = self.free as RawFd;
        self.free = ev.index();
        // SAFETY: the record held this closure, and it is not running.
        let closure = unsafe { self.closures.take(ev.index() as usize, ops) };
        Some((handle, Some(closure)))
    }

    /// Frees the event whose callback just returned, from its closure's [`Ops::call`] (a
    /// timer that said `Drop`), if it is live and still the running one: returns the core's
    /// handle it held (the caller deletes it); the caller drops the closure in place. `None`
    /// (nothing changed) otherwise: freed by its callback already, or not on this slab.
    #[inline]
    pub(crate) fn release_running(&mut self, ev: EventId) -> Option<Option<Handle>> {
        if ev.index() != self.running {
            return None;
        }
        let (free, base) = (self.free, self.base);
        let r = self.slots.get_mut(ev.index() as usize)?;
        if r.key != ev.key || ev.base != base {
            return None;
        }
        r.key = r.key.next();
        let handle = r.handle.take();
        r.ops = &Ops::EMPTY;
        r.fd = free as RawFd;
        self.free = ev.index();
        self.len -= 1;
        self.running = NONE;
        Some(handle)
    }

    #[inline]
    fn find(&self, ev: EventId) -> Option<&Record<D>> {
        let r = self.slots.get(ev.index() as usize)?;
        (r.key == ev.key && ev.base == self.base).then_some(r)
    }

    #[inline]
    fn find_mut(&mut self, ev: EventId) -> Option<&mut Record<D>> {
        let base = self.base;
        let r = self.slots.get_mut(ev.index() as usize)?;
        (r.key == ev.key && ev.base == base).then_some(r)
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

    /// Whether `ev`'s callback is running. `ev` must be live.
    #[inline]
    pub(crate) fn is_running(&self, ev: EventId) -> bool {
        self.running == ev.index()
    }

    /// The event the core says is ready, and its closure, marked running. The token is the
    /// record's index; the record is the event's only if it holds the handle the core returned
    /// (a record freed and reused since holds another, or none; a free record holds none). The
    /// closure stays valid, and borrowed by nobody else, until
    /// [`end_callback`](Self::end_callback). No callback is running: the core refuses a run
    /// from a callback (`running` may still name one whose callback swapped this slab's base
    /// out of its `&mut Base`: that callback has returned).
    #[inline(always)]
    pub(crate) fn start_callback(&mut self, ready: &Ready) -> Option<(Key, Callback)> {
        // Tokens are indices below `u32::MAX`.
        let index = ready.token as u32;
        let r = self.slots.get_mut(index as usize)?;
        if r.handle != Held::some(ready.handle) {
            return None;
        }
        if !r.events.contains(What::PERSIST) {
            // The core let go of a non-persistent event before its callback (see `Ready`):
            // deleting it needs no call, and adding it takes a new slot.
            r.handle = Held::NONE;
        }
        self.running = index;
        let key = r.key;
        // SAFETY: a record holding a handle is live: its cell was made when it took its closure.
        let cell = unsafe { self.closures.made(index as usize) };
        Some((key, (r.ops.call, cell)))
    }

    /// After `ev`'s callback returned: if its event was freed meanwhile, finishes the free.
    #[inline]
    pub(crate) fn end_callback(&mut self, ev: Key) {
        let index = ev.0 as u32;
        if self.running == index {
            self.running = NONE;
        } else {
            self.end_other(index);
        }
    }

    /// [`end_callback`](Self::end_callback) when `running` is not `index`: `FREED`, or `NONE`
    /// if the callback swapped the base out of its `&mut Base` (this slab is then another's:
    /// the closure went with its own slab).
    #[cold]
    #[inline(never)]
    fn end_other(&mut self, index: u32) {
        if std::mem::replace(&mut self.running, NONE) == FREED {
            self.finish_free(index);
        }
    }

    /// Frees the record of an event freed while its callback ran (by the callback itself).
    #[inline(never)]
    fn finish_free(&mut self, index: u32) {
        let r = &mut self.slots[index as usize];
        let ops = std::mem::replace(&mut r.ops, &Ops::EMPTY);
        r.fd = self.free as RawFd;
        self.free = index;
        // SAFETY: the record held this closure, and its callback has returned.
        drop(unsafe { self.closures.take(index as usize, ops) });
    }
}
