//! The first API (libevent's shape: events created idle, one `What` for interest, modes and
//! results, `add(ev, Option<Duration>)`), kept for `api.rs` and `misuse.rs`, whose tests were
//! written against it and assert what they did: each call here is the old one, made with the
//! new methods. The other test files use the new API directly; `rust_api.rs` tests what is new.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventop::{Base, EventId, Interest, Mode, Readiness, Result};
pub use eventop_core::What;

thread_local! {
    /// The period of each persistent timer, set by its last `add_old` with a timeout.
    static PERIODS: RefCell<HashMap<EventId, Arc<Mutex<Option<Duration>>>>> = RefCell::new(HashMap::new());
}

fn what(r: Readiness) -> What {
    What::from_bits_retain(r.bits())
}

fn interest(w: What) -> Interest {
    Interest::from_bits_truncate(w.bits())
}

fn mode(w: What) -> Mode {
    match (w.contains(What::PERSIST), w.contains(What::ET)) {
        (false, _) => Mode::OneShot,
        (true, false) => Mode::Level,
        (true, true) => Mode::Edge,
    }
}

/// The first API, on `Base<()>`.
pub trait OldApi {
    /// `new_io(fd, what, cb)`: an idle I/O event on a raw fd.
    fn io<F>(&mut self, fd: RawFd, what: What, cb: F) -> Result<EventId>
    where
        F: FnMut(&mut Base, EventId, What) + Send + 'static;
    /// `new_timer(persistent, cb)`: an idle timer.
    fn timer<F>(&mut self, persistent: bool, cb: F) -> Result<EventId>
    where
        F: FnMut(&mut Base, EventId, What) + Send + 'static;
    /// `new_signal(sig, cb)`: an idle signal event.
    fn signal<F>(&mut self, sig: i32, cb: F) -> Result<EventId>
    where
        F: FnMut(&mut Base, EventId, What) + Send + 'static;
    /// `new_user(cb)`.
    fn user<F>(&mut self, cb: F) -> Result<EventId>
    where
        F: FnMut(&mut Base, EventId, What) + Send + 'static;
    /// `add(ev, timeout)`.
    fn add_old(&mut self, ev: EventId, timeout: Option<Duration>) -> Result<()>;
    /// `activate(ev, what)`.
    fn act(&mut self, ev: EventId, what: What) -> Result<()>;
    /// `pending(ev, mask)`.
    fn pend(&self, ev: EventId, mask: What) -> Result<What>;
    /// `once(fd, what, timeout, cb)`.
    fn once_old<F>(
        &mut self,
        fd: Option<RawFd>,
        what: What,
        t: Option<Duration>,
        cb: F,
    ) -> Result<()>
    where
        F: FnOnce(&mut Base, What) + Send + 'static;
}

impl OldApi for Base {
    fn io<F>(&mut self, fd: RawFd, w: What, mut cb: F) -> Result<EventId>
    where
        F: FnMut(&mut Base, EventId, What) + Send + 'static,
    {
        if w.contains(What::SIGNAL) {
            return Err(eventop::Error::Invalid(
                "a signal event cannot also wait for I/O",
            ));
        }
        // SAFETY: the tests keep `fd` open while its event is pending, as the old API required.
        let ev = unsafe {
            self.new_raw_io(fd, interest(w), mode(w), move |b, _, ev, r| {
                cb(b, ev, what(r))
            })?
        };
        self.del(ev)?;
        Ok(ev)
    }

    fn timer<F>(&mut self, persistent: bool, mut cb: F) -> Result<EventId>
    where
        F: FnMut(&mut Base, EventId, What) + Send + 'static,
    {
        let period = Arc::new(Mutex::new(None::<Duration>));
        let p = period.clone();
        let ev = self.new_user(move |b, _, ev, r| {
            // Re-armed before the callback runs, as a persistent timer was.
            let period = *p.lock().unwrap();
            if let (true, Some(d), true) = (persistent, period, r.contains(Readiness::TIMEOUT)) {
                let _ = b.add_timeout(ev, d);
            }
            cb(b, ev, what(r));
        })?;
        PERIODS.with(|m| m.borrow_mut().insert(ev, period));
        Ok(ev)
    }

    fn signal<F>(&mut self, sig: i32, mut cb: F) -> Result<EventId>
    where
        F: FnMut(&mut Base, EventId, What) + Send + 'static,
    {
        let ev = self.new_signal(sig, move |b, _, ev, r| cb(b, ev, what(r)))?;
        self.del(ev)?;
        Ok(ev)
    }

    fn user<F>(&mut self, mut cb: F) -> Result<EventId>
    where
        F: FnMut(&mut Base, EventId, What) + Send + 'static,
    {
        self.new_user(move |b, _, ev, r| cb(b, ev, what(r)))
    }

    fn add_old(&mut self, ev: EventId, timeout: Option<Duration>) -> Result<()> {
        match timeout {
            Some(t) => {
                PERIODS.with(|m| {
                    if let Some(p) = m.borrow().get(&ev) {
                        *p.lock().unwrap() = Some(t);
                    }
                });
                self.add_timeout(ev, t)
            }
            None => match self.add(ev) {
                // The old API: a timer added with no timeout was not pending, and no error.
                Err(eventop::Error::Invalid(_)) => {
                    self.pending(ev)?;
                    Ok(())
                }
                r => r,
            },
        }
    }

    fn act(&mut self, ev: EventId, w: What) -> Result<()> {
        self.activate(ev, Readiness::from_bits_truncate(w.bits()))
    }

    fn pend(&self, ev: EventId, mask: What) -> Result<What> {
        Ok(what(self.pending(ev)?) & mask)
    }

    fn once_old<F>(&mut self, fd: Option<RawFd>, w: What, t: Option<Duration>, cb: F) -> Result<()>
    where
        F: FnOnce(&mut Base, What) + Send + 'static,
    {
        if w.intersects(What::SIGNAL | What::PERSIST) {
            return Err(eventop::Error::Invalid(
                "a once-event cannot be a signal or persistent",
            ));
        }
        let io = w & What::IO;
        let fd = fd.unwrap_or(-1);
        if fd < 0 && !io.is_empty() {
            return Err(eventop::Error::Os(std::io::Error::from_raw_os_error(
                libc::EBADF,
            )));
        }
        if io.is_empty() {
            return self.once(t, move |b, _, r| cb(b, what(r)));
        }
        let mut cb = Some(cb);
        // SAFETY: as in `io`.
        let ev = unsafe {
            self.new_raw_io(fd, interest(io), Mode::OneShot, move |b, _, ev, r| {
                let _ = b.free(ev);
                if let Some(cb) = cb.take() {
                    cb(b, what(r));
                }
            })?
        };
        if let Some(t) = t {
            if let Err(e) = self.add_timeout(ev, t) {
                let _ = self.free(ev);
                return Err(e);
            }
        }
        Ok(())
    }
}
