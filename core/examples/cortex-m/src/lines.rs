//! A backend with no file descriptors: the "fds" are interrupt lines. An interrupt handler
//! [`record`]s its line; [`Lines::dispatch`] sleeps with `WFI` until a watched line is recorded or
//! the timeout passes (SysTick wakes it every millisecond), then reports the recorded lines as
//! readable. Watching a line enables it in the NVIC; forgetting it disables it.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use core::time::Duration;

use cortex_m::asm::wfi;
use cortex_m::interrupt;
use cortex_m::peripheral::NVIC;
use eventop_core::clock::Clock;
use eventop_core::{Backend, Error, FdInfo, Features, Info, RawFd, Sink, What};

use crate::clock::SysTickClock;
use crate::irq::{Irq, LINES};

/// Lines whose handlers ran since a dispatch last reported them, one bit per line.
static RECORDED: AtomicU32 = AtomicU32::new(0);
/// How many times handlers recorded a line.
pub static RECORDS: AtomicU32 = AtomicU32::new(0);

/// Called by an interrupt handler: `irq` has something for its reader.
pub fn record(irq: Irq) {
    RECORDED.fetch_or(1 << irq.0, Relaxed);
    RECORDS.fetch_add(1, Relaxed);
}

/// The interrupt-line backend.
#[derive(Debug, Default)]
pub struct Lines {
    /// Lines watched for `READ`, one bit per line.
    watched: u32,
}

fn line(fd: RawFd) -> Result<Irq, Error> {
    match u16::try_from(fd) {
        Ok(n) if n < LINES => Ok(Irq(n)),
        _ => Err(Error::BadFd(fd)),
    }
}

impl Backend for Lines {
    fn info(&self) -> Info {
        Info {
            name: "irq-lines",
            features: Features::O1,
            need_reinit: false,
            fdinfo_len: 0,
            changelist: false,
        }
    }

    fn check(&self, fd: RawFd) -> Result<(), Error> {
        line(fd).map(drop)
    }

    fn add(&mut self, fd: RawFd, _old: What, added: What, _: &mut FdInfo) -> Result<(), Error> {
        let irq = line(fd)?;
        // An interrupt line only ever has something to read.
        if added.contains(What::WRITE) {
            return Err(Error::Unpollable(fd));
        }
        self.watched |= 1 << irq.0;
        // SAFETY: this firmware's critical sections mask with PRIMASK, never with the NVIC, so
        // enabling a line breaks none; its handler is in the vector table (src/irq.rs).
        unsafe { NVIC::unmask(irq) };
        Ok(())
    }

    fn del(&mut self, fd: RawFd, old: What, removed: What, _: &mut FdInfo) -> Result<(), Error> {
        let irq = line(fd)?;
        if (old & !removed & (What::READ | What::CLOSED)).is_empty() {
            self.watched &= !(1 << irq.0);
            NVIC::mask(irq);
        }
        Ok(())
    }

    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error> {
        let mut clock = SysTickClock;
        let deadline = timeout.map(|t| {
            let ns = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
            clock.now().saturating_add(ns)
        });
        let ready = loop {
            // Checked and slept on with interrupts masked: an interrupt that comes after the
            // check still ends the WFI (and its handler runs when the section ends), so none is
            // missed.
            let ready = interrupt::free(|_| {
                let ready = RECORDED.load(Relaxed) & self.watched;
                if ready != 0 {
                    RECORDED.fetch_and(!ready, Relaxed);
                    return Some(ready);
                }
                match deadline {
                    Some(d) if clock.now() >= d => Some(0),
                    _ => {
                        wfi();
                        None
                    }
                }
            });
            if let Some(ready) = ready {
                break ready;
            }
        };
        for n in 0..LINES {
            if ready & 1 << n != 0 {
                sink.ready(RawFd::from(n), What::READ);
            }
        }
        Ok(ready.count_ones() as usize)
    }
}
