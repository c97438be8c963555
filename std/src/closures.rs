//! Where events' closures live: a cell of two words per record, in chunks that never move, a
//! closure that fits kept in its cell (no allocation of its own), a larger one boxed there.
//!
//! A cell is reached through raw pointers only, never a reference to its chunk, so the
//! closure of a running callback stays valid and unique however the slab changes meanwhile.

use std::any::Any;
use std::mem::{align_of, size_of, MaybeUninit};
use std::ptr::{self, NonNull};

use crate::event::{Handler, Key};
use crate::{Base, Readiness};

/// One closure's room: the closure itself if it fits, else a pointer to its box.
pub(crate) type Cell = MaybeUninit<[usize; 2]>;

/// Cells per chunk.
const CHUNK: usize = 64;

/// What can be done with the closure in a cell, written for its type. The base and data types
/// are erased (`*mut ()`), so that the table is `'static` whatever the data lent to a run.
pub(crate) struct Ops {
    /// Runs it with a `&mut Base<D>` and a `&mut D`.
    pub(crate) call: Call,
    /// Whether dropping it does anything (it has drop glue, or is boxed): if not, a free skips
    /// [`drop`](Self::drop).
    pub(crate) owns: bool,
    /// Drops it.
    drop: unsafe fn(*mut Cell),
    /// Takes it apart, giving back what it owns.
    source: unsafe fn(*mut Cell) -> Box<dyn Any>,
}

impl Ops {
    /// A free record's: there is no closure.
    pub(crate) const EMPTY: Ops = Ops {
        call: |_, _, _, _, _| {},
        owns: false,
        drop: |_| {},
        source: |_| Box::new(()),
    };
}

/// [`Ops::call`].
pub(crate) type Call = unsafe fn(*mut Cell, *mut (), *mut (), Key, Readiness);

/// Whether an `H` is kept in its cell rather than boxed.
const fn fits<H>() -> bool {
    size_of::<H>() <= size_of::<Cell>() && align_of::<H>() <= align_of::<Cell>()
}

/// The `H` in cell `p`, in place or through its box.
///
/// # Safety
///
/// `p` holds an `H` written by [`Closures::put`].
#[inline(always)]
unsafe fn get<H>(p: *mut Cell) -> *mut H {
    if fits::<H>() {
        p.cast::<H>()
    } else {
        // SAFETY: the cell holds the box's pointer (the caller's promise).
        unsafe { p.cast::<*mut H>().read() }
    }
}

/// # Safety
///
/// `p` holds an `H` that nothing else borrows; `base` and `data` are a `&mut Base<D>` and a
/// `&mut D`, unused by the caller until this returns.
#[inline]
unsafe fn call<D, H: Handler<D>>(
    p: *mut Cell,
    base: *mut (),
    data: *mut (),
    ev: Key,
    ready: Readiness,
) {
    // SAFETY: the caller's promise.
    let (base, data) = unsafe { (&mut *base.cast::<Base<D>>(), &mut *data.cast::<D>()) };
    // Before the call: the callback may swap the base out of its `&mut Base`.
    let id = ev.id(base);
    // SAFETY: the caller's promise.
    if unsafe { (*get::<H>(p)).call(base, data, id, ready) } && base.free_running(id) {
        // SAFETY: the call has returned (nothing borrows the closure), and its event is freed
        // with its record made free without dropping it: this is its one drop.
        unsafe { drop::<H>(p) }
    }
}

/// # Safety
///
/// `p` holds an `H`, used no more after this.
unsafe fn drop<H>(p: *mut Cell) {
    // SAFETY: the caller's promise; a boxed `H` came from `Box::into_raw`.
    unsafe {
        if fits::<H>() {
            ptr::drop_in_place(p.cast::<H>())
        } else {
            std::mem::drop(Box::from_raw(get::<H>(p)))
        }
    }
}

/// # Safety
///
/// As [`drop`].
unsafe fn source<D, H: Handler<D>>(p: *mut Cell) -> Box<dyn Any> {
    // SAFETY: the caller's promise; a boxed `H` came from `Box::into_raw`.
    let h = unsafe {
        if fits::<H>() {
            p.cast::<H>().read()
        } else {
            *Box::from_raw(get::<H>(p))
        }
    };
    h.into_source()
}

/// The [`Ops`] of a closure type.
trait HasOps<D> {
    const OPS: Ops;
}

impl<D, H: Handler<D>> HasOps<D> for H {
    const OPS: Ops = Ops {
        call: call::<D, H>,
        owns: std::mem::needs_drop::<H>() || !fits::<H>(),
        drop: drop::<H>,
        source: source::<D, H>,
    };
}

/// A closure taken out of its cell: dropped (what it owns with it) unless taken apart.
pub(crate) struct Owned {
    ops: &'static Ops,
    cell: Cell,
}

impl Owned {
    /// What the closure owns (an I/O event's source), the closure dropped.
    pub(crate) fn into_source(self) -> Box<dyn Any> {
        let mut this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the cell holds the closure `ops` was written for, used no more.
        unsafe { (this.ops.source)(&mut this.cell) }
    }
}

impl Drop for Owned {
    #[inline]
    fn drop(&mut self) {
        if self.ops.owns {
            // SAFETY: as in `into_source`.
            unsafe { (self.ops.drop)(&mut self.cell) }
        }
    }
}

/// The cells, by record index.
pub(crate) struct Closures {
    /// Chunks of [`CHUNK`] cells, from `Box::into_raw`, freed on drop.
    chunks: Vec<NonNull<[Cell; CHUNK]>>,
}

// SAFETY: the chunks are plain memory owned here; the closures in them are `Send` and owned by
// the records, which say what each cell holds.
unsafe impl Send for Closures {}

impl Closures {
    pub(crate) const fn new() -> Closures {
        Closures { chunks: Vec::new() }
    }

    /// Cell `index`, made if missing (indices are taken in order: at most one chunk is new).
    #[inline(always)]
    fn make(&mut self, index: usize) -> *mut Cell {
        if index / CHUNK == self.chunks.len() {
            self.add_chunk();
        }
        self.cell(index)
    }

    /// One more chunk.
    #[cold]
    #[inline(never)]
    fn add_chunk(&mut self) {
        let chunk = Box::new([Cell::uninit(); CHUNK]);
        self.chunks.push(NonNull::from(Box::leak(chunk)));
    }

    /// Cell `index`, which exists.
    #[inline(always)]
    fn cell(&self, index: usize) -> *mut Cell {
        let chunk = self.chunks[index / CHUNK];
        // SAFETY: `index % CHUNK` is within the chunk.
        unsafe { chunk.as_ptr().cast::<Cell>().add(index % CHUNK) }
    }

    /// Cell `index`, unchecked.
    ///
    /// # Safety
    ///
    /// The cell was made (a closure was [`put`](Self::put) there).
    #[inline(always)]
    pub(crate) unsafe fn made(&self, index: usize) -> *mut Cell {
        // SAFETY: chunks are never freed before the slab, so a cell once made stays in bounds.
        let chunk = unsafe { *self.chunks.get_unchecked(index / CHUNK) };
        // SAFETY: `index % CHUNK` is within the chunk.
        unsafe { chunk.as_ptr().cast::<Cell>().add(index % CHUNK) }
    }

    /// Moves `h` into cell `index`, which holds nothing; returns its ops, which the record keeps.
    #[inline(always)]
    pub(crate) fn put<D, H: Handler<D>>(&mut self, index: usize, h: H) -> &'static Ops {
        let p = self.make(index);
        // SAFETY: the cell is within a live chunk and holds nothing; an `H` that fits has
        // the size and alignment for it, else the cell takes a pointer.
        unsafe {
            if fits::<H>() {
                p.cast::<H>().write(h)
            } else {
                p.cast::<*mut H>().write(Box::into_raw(Box::new(h)))
            }
        }
        &<H as HasOps<D>>::OPS
    }

    /// Takes the closure out of cell `index`, which then holds nothing.
    ///
    /// # Safety
    ///
    /// The cell holds the closure `ops` was returned for, and nothing borrows it.
    pub(crate) unsafe fn take(&mut self, index: usize, ops: &'static Ops) -> Owned {
        // SAFETY: the cell is within a live chunk (the caller's promise: it holds a closure).
        let cell = unsafe { self.cell(index).read() };
        Owned { ops, cell }
    }
}

impl Closures {
    /// Gives the chunks up without freeing them.
    pub(crate) fn leak(&mut self) {
        self.chunks.clear();
    }
}

impl Drop for Closures {
    /// Frees the chunks; the records have dropped the closures in them.
    fn drop(&mut self) {
        for chunk in self.chunks.drain(..) {
            // SAFETY: from `Box::into_raw` in `make`, freed once; cells need no drop.
            std::mem::drop(unsafe { Box::from_raw(chunk.as_ptr()) });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;

    use eventop_core::base::Ready;
    use eventop_core::What;

    use crate::event::Record;
    use crate::{Base, Interest, Mode};

    /// Closures in their cells and boxed ones run, keep their state between calls, are
    /// dropped once when freed or with the base, and give their sources back, across chunks.
    #[test]
    fn small_and_large_closures() {
        let mut base: Base<u64> = crate::Builder::new()
            .env(|_| false)
            .avoid("epoll")
            .build()
            .unwrap();
        let owned = Arc::new(());
        let mut evs = Vec::new();
        for i in 0..200u64 {
            let o = owned.clone();
            evs.push(
                if i % 2 == 0 {
                    let mut n = 0u64; // with `o`: 16 bytes, in the cell
                    base.new_user(move |_, sum: &mut u64, _, _| {
                        let _ = &o;
                        n += 1;
                        *sum += n;
                    })
                } else {
                    let mut big = [i; 8]; // boxed
                    base.new_user(move |_, sum: &mut u64, _, _| {
                        let _ = &o;
                        big[0] += 1;
                        *sum += big[0] - i;
                    })
                }
                .unwrap(),
            );
        }
        let mut sum = 0;
        for _ in 0..2 {
            for &ev in &evs {
                base.activate(ev, crate::Readiness::TIMEOUT).unwrap();
            }
            base.run(&mut sum).unwrap();
        }
        assert_eq!(sum, 200 * 3, "each ran twice, keeping its count");
        assert_eq!(Arc::strong_count(&owned), 201);
        for &ev in &evs[..100] {
            base.free(ev).unwrap();
        }
        assert_eq!(Arc::strong_count(&owned), 101);
        let (a, _b) = UnixStream::pair().unwrap();
        let big = ([7u64; 8], a);
        let io = base
            .new_io(big.1, Interest::READ, Mode::Level, move |_, _, _, _, _| {
                let _ = big.0;
            })
            .unwrap();
        assert!(base.take_source(io).is_ok());
        drop(base);
        assert_eq!(Arc::strong_count(&owned), 1);
    }

    /// A running closure stays valid while its callback adds events (the records move, new
    /// chunks come) and frees its own event (the closure is dropped after it returns). Runs
    /// the callback without the loop, so that Miri, which has no `poll`, can check it too.
    #[test]
    fn a_running_closure_outlives_growth_and_its_own_free() {
        let mut base: Base<Vec<u64>> = crate::Builder::new().env(|_| false).build().unwrap();
        let owned = Arc::new(());
        let o = owned.clone();
        let mut state = vec![1u64];
        let ev = base
            .new_user(move |base, seen: &mut Vec<u64>, me, _| {
                let _ = &o;
                for _ in 0..200 {
                    base.new_user(|_, _, _, _| {}).unwrap();
                }
                state.push(2);
                base.free(me).unwrap();
                state.push(3);
                seen.extend(&state);
            })
            .unwrap();
        base.activate(ev, crate::Readiness::TIMEOUT).unwrap();
        let mut seen = Vec::new();
        fire(&mut base, ev, &mut seen);
        assert_eq!(seen, [1, 2, 3]);
        assert_eq!(
            Arc::strong_count(&owned),
            1,
            "dropped once its callback returned"
        );
        assert_eq!(base.len(), 200);
    }

    /// A callback that swaps its base for another and drops the old one: its closure, still
    /// running, is not dropped or freed under it (the old slab leaks its cells instead), and
    /// nothing of the new base is touched when it returns.
    #[test]
    fn a_running_closure_outlives_its_base() {
        let new = || {
            crate::Builder::new()
                .env(|_| false)
                .build::<Vec<u64>>()
                .unwrap()
        };
        let mut base = new();
        let owned = Arc::new(());
        let o = owned.clone();
        let mut state = vec![1u64];
        let ev = base
            .new_user(move |base, seen: &mut Vec<u64>, _, _| {
                let _ = &o;
                let mut other = new();
                other.new_user(|_, _, _, _| {}).unwrap();
                std::mem::swap(base, &mut other);
                drop(other);
                state.push(2);
                seen.extend(&state);
            })
            .unwrap();
        base.activate(ev, crate::Readiness::TIMEOUT).unwrap();
        let mut seen = Vec::new();
        fire(&mut base, ev, &mut seen);
        assert_eq!(seen, [1, 2]);
        assert_eq!(base.len(), 1, "the new base's event is untouched");
        assert_eq!(
            Arc::strong_count(&owned),
            2,
            "leaked with the old slab's cells"
        );
    }

    /// Runs the callback of `ev`, activated as a timeout, by hand (no loop, so that Miri can
    /// check it too).
    fn fire(base: &mut Base<Vec<u64>>, ev: crate::EventId, seen: &mut Vec<u64>) {
        let ready = Ready {
            handle: base.records.get(ev).unwrap().handle.get().unwrap(),
            token: Record::<Vec<u64>>::token(ev),
            fd: -1,
            res: What::TIMEOUT,
        };
        base.run_callback(ready, seen);
    }

    /// A timer that says `Drop` is freed and its closure dropped once, whatever its callback did
    /// first: nothing, free itself, set itself again, or free itself and make another event.
    /// Its record is reused afterwards; the other events are untouched.
    #[test]
    fn a_timer_that_says_drop_is_freed_once() {
        use crate::TimeoutAction;
        use std::time::Duration;
        let mut base: Base<Vec<u64>> = crate::Builder::new().env(|_| false).build().unwrap();
        let other = base.new_user(|_, _, _, _| {}).unwrap();
        for what in 0..4u64 {
            let owned = Arc::new(());
            let o = owned.clone();
            let mut state = vec![what];
            let ev = base
                .new_timer(Duration::from_secs(60), move |base, seen, me| {
                    let _ = &o;
                    match what {
                        1 => base.free(me).unwrap(),
                        2 => base.add_timeout(me, Duration::from_secs(60)).unwrap(),
                        3 => {
                            base.free(me).unwrap();
                            base.new_user(|_, _, _, _| {}).unwrap();
                        }
                        _ => {}
                    }
                    state.push(9);
                    seen.extend(&state);
                    TimeoutAction::Drop
                })
                .unwrap();
            let mut seen = Vec::new();
            fire(&mut base, ev, &mut seen);
            assert_eq!(seen, [what, 9]);
            assert_eq!(Arc::strong_count(&owned), 1, "{what}: dropped once");
            assert!(base.pending(ev).is_err(), "{what}: stale");
            // The core still holds the timers fired by hand (one a case); case 2's own is gone.
            assert_eq!(base.counts().added, what as u32 + 1, "{what}: not pending");
            let again = base.new_user(|_, _, _, _| {}).unwrap();
            assert_ne!(again, ev);
            base.free(again).unwrap();
        }
        assert_eq!(base.len(), 2, "`other` and the user event of case 3");
        assert!(base.pending(other).is_ok());
        // A closure in its cell (the ones above are boxed).
        let owned = Arc::new(());
        let o = owned.clone();
        let ev = base
            .new_timer(Duration::from_secs(60), move |_, seen, _| {
                seen.push(Arc::strong_count(&o) as u64);
                TimeoutAction::Drop
            })
            .unwrap();
        let mut seen = Vec::new();
        fire(&mut base, ev, &mut seen);
        assert_eq!(seen, [2]);
        assert_eq!(Arc::strong_count(&owned), 1, "dropped once");
        assert_eq!(base.len(), 2);
    }
}
