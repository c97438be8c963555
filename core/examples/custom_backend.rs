//! The loop as an embedded runtime would run it: every table a fixed array on the stack, no
//! allocator, time from the runtime's own tick counter, and a backend of its own.
//!
//! The "device" here is a register of ready lines that an interrupt handler would set; the
//! backend reports the lines that are set and are watched. Only `println!` needs std.
//!
//! Run: `cargo run -p eventop-core --example custom_backend`.

use core::cell::Cell;
use core::time::Duration;

use eventop_core::base::{Borrowed, EventBase, FdEntry, Parts, Slot, Spec, Step, Timer};
use eventop_core::Operation;
use eventop_core::{Backend, BaseFlags, Change, Error, FdInfo, Features, Info, LoopFlags};
use eventop_core::{RawFd, Sink, What};

/// Eight interrupt lines; a set bit is a line with data ready.
struct Lines<'t> {
    pending: u8,
    watched: u8,
    /// What each interrupt brings, in order.
    script: &'static [u8],
    /// The runtime's tick counter in ns, which its sleep advances.
    ticks: &'t Cell<u64>,
}

impl Backend for Lines<'_> {
    fn info(&self) -> Info {
        Info {
            name: "lines",
            features: Features::O1,
            need_reinit: false,
            fdinfo_len: 0,
            changelist: false,
        }
    }
    fn add(&mut self, fd: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
        let bit = 1u8
            .checked_shl(fd as u32)
            .filter(|_| (0..8).contains(&fd))
            .ok_or(Error::BadFd(fd))?;
        self.watched |= bit;
        Ok(())
    }
    fn del(&mut self, fd: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
        self.watched &= !(1 << fd);
        Ok(())
    }
    fn dispatch<S: Sink>(
        &mut self,
        timeout: Option<Duration>,
        sink: &mut S,
    ) -> Result<usize, Error> {
        // A real runtime would sleep until an interrupt or the timeout; this one replays a script
        // of interrupts, and when it has none left it sleeps through the timeout.
        if self.pending & self.watched == 0 {
            match self.script.split_first() {
                Some((&lines, rest)) => {
                    self.pending |= lines;
                    self.script = rest;
                }
                None => {
                    let sleep = timeout.ok_or(Error::Unsupported(Operation::WaitForever))?;
                    self.ticks.set(self.ticks.get() + sleep.as_nanos() as u64);
                }
            }
        }
        let ready = self.pending & self.watched;
        self.pending &= !ready;
        for line in 0..8 {
            if ready & (1 << line) != 0 {
                sink.ready(line, What::READ);
            }
        }
        Ok(ready.count_ones() as usize)
    }
}

fn main() {
    let mut slots = [Slot::default(); 8];
    let mut fds = [FdEntry::default(); 8];
    let mut timers = [Timer::default(); 4];
    let mut changes: [Change; 0] = [];
    let parts = Parts::<Borrowed<'_>> {
        slots: &mut slots,
        fds: &mut fds,
        timers: &mut timers,
        changes: &mut changes,
    };
    let ticks = Cell::new(0);
    let device = Lines {
        pending: 0,
        watched: 0,
        script: &[0b0001, 0b0110, 0b0100],
        ticks: &ticks,
    };
    let mut base = EventBase::new(device, &ticks, parts, BaseFlags::empty());

    let uart = Spec {
        fd: 0,
        events: What::READ | What::PERSIST,
        priority: 0,
        token: 100,
    };
    let button = Spec {
        fd: 2,
        events: What::READ,
        priority: 0,
        token: 200,
    };
    let watchdog = Spec {
        fd: -1,
        events: What::empty(),
        priority: 0,
        token: 300,
    };
    base.add(None, &uart, None).expect("uart");
    base.add(None, &button, None).expect("button");
    // An event on a line the device does not have: a clear error, nothing held.
    let bad = Spec {
        fd: 9,
        events: What::READ,
        priority: 0,
        token: 400,
    };
    println!("line 9: {}", base.add(None, &bad, None).unwrap_err());

    base.start(LoopFlags::NO_EXIT_ON_EMPTY).expect("start");
    let mut runs = 0;
    loop {
        match base.step().expect("step") {
            Step::Run(ev) => {
                runs += 1;
                let ms = ticks.get() / 1_000_000;
                println!(
                    "{ms:>3} ms: token {} fd {} res {:?}",
                    ev.token, ev.fd, ev.res
                );
                if ev.token == 200 {
                    // The button's callback arms the watchdog, a one-shot timer.
                    base.add(None, &watchdog, Some(Duration::from_millis(10)))
                        .expect("watchdog");
                }
                if ev.token == 300 {
                    base.loopbreak();
                }
            }
            Step::Done(how) => {
                println!("loop done: {how:?} after {runs} callbacks");
                break;
            }
        }
    }
}
