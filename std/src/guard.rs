//! [`Guard`]: an event freed when a scope ends.

use std::ops::{Deref, DerefMut};

use crate::{Base, EventId};

/// Frees its event when dropped ([`Base::guard`]); meanwhile it derefs to the base, so the
/// loop runs through it. [`keep`](Self::keep) disarms it.
///
/// ```
/// use std::time::Duration;
/// use eventop::{Base, TimeoutAction};
///
/// let mut base = Base::new()?;
/// let tick = base.new_timer(Duration::from_millis(1), |base, n: &mut u32, _| {
///     *n += 1;
///     if *n == 3 { base.break_loop(); }
///     TimeoutAction::ToDuration(Duration::from_millis(1))
/// })?;
/// {
///     let mut guard = base.guard(tick);
///     guard.run(&mut 0)?;
/// } // the timer is freed here
/// assert!(base.pending(tick).is_err());
/// # Ok::<(), eventop::Error>(())
/// ```
#[derive(Debug)]
pub struct Guard<'a, D> {
    base: &'a mut Base<D>,
    ev: EventId,
    armed: bool,
}

impl<'a, D> Guard<'a, D> {
    pub(crate) fn new(base: &'a mut Base<D>, ev: EventId) -> Guard<'a, D> {
        Guard {
            base,
            ev,
            armed: true,
        }
    }

    /// The guarded event.
    pub fn id(&self) -> EventId {
        self.ev
    }

    /// Disarms the guard: the event lives on. Returns it.
    pub fn keep(mut self) -> EventId {
        self.armed = false;
        self.ev
    }
}

impl<D> Deref for Guard<'_, D> {
    type Target = Base<D>;
    fn deref(&self) -> &Base<D> {
        self.base
    }
}

impl<D> DerefMut for Guard<'_, D> {
    fn deref_mut(&mut self) -> &mut Base<D> {
        self.base
    }
}

impl<D> Drop for Guard<'_, D> {
    fn drop(&mut self) {
        if self.armed {
            // Freed already (by a callback) is fine: nothing is left to free.
            let _ = self.base.free(self.ev);
        }
    }
}
