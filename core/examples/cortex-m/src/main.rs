//! eventop-core's event loop on a Cortex-M3 (QEMU's lm3s6965evb), with no allocator: every table
//! is `Fixed<N>`, time comes from SysTick ([`clock`]), and the backend sleeps with `WFI` and reports
//! the interrupt lines whose handlers ran ([`lines`]); UART0's receive interrupt is one.
//!
//! It prints over semihosting what it checks (`ci/test` compares the lines with `expected.txt`;
//! lines starting with `# ` are measurements and are not compared) and exits QEMU with status 0
//! if every check held, 1 if not. Run: `cargo run --release < uart-input.txt` here.

#![no_std]
#![no_main]

mod clock;
mod irq;
mod lines;
mod uart;

use core::mem::size_of;
use core::ptr::{addr_of, read_volatile};
use core::sync::atomic::Ordering::Relaxed;
use core::time::Duration;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use eventop_core::base::{Counts, EventBase, EventInfo, Fixed, Handle, Outcome, Parts, Ready};
use eventop_core::base::{Spec, Step};
use eventop_core::clock::Clock;
use eventop_core::{BaseFlags, Error, LoopFlags, Resource, What};

use crate::clock::SysTickClock;
use crate::lines::Lines;

/// The capacity of every table: event slots, fd map, timer heap, changelist.
const N: usize = 8;
/// Priorities 0 (first) to 2.
const PRIORITIES: u8 = 3;

type Base = EventBase<Lines, SysTickClock, Fixed<N>>;

/// Prints why a check failed and gives up.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            hprintln!($($fmt)*);
            return Err(Failed);
        }
    };
}

/// A check failed; what failed was printed.
struct Failed;

/// A core call failed: says which and gives up.
fn core_err(what: &'static str) -> impl FnOnce(Error) -> Failed {
    move |e| {
        hprintln!("FAILED: {}: {:?}", what, e);
        Failed
    }
}

// The adapter's tokens: one per event.
const D: usize = 2;
const TICK: usize = 3;
const A: usize = 4;
const B: usize = 5;
const E: usize = 6;
const P0: usize = 10;
const P1: usize = 11;
const P2: usize = 12;
const UART: usize = 20;
const FILL: usize = 100;

const MS: u64 = 1_000_000;

/// A pure timer: no fd, one-shot unless `PERSIST`.
fn timer(token: usize, events: What, priority: u8) -> Spec {
    Spec {
        fd: -1,
        events,
        priority,
        token,
    }
}

#[entry]
fn main() -> ! {
    let status = match run() {
        Ok(()) => {
            hprintln!("ok");
            debug::EXIT_SUCCESS
        }
        Err(Failed) => debug::EXIT_FAILURE,
    };
    report_stack();
    debug::exit(status);
    loop {
        cortex_m::asm::wfi();
    }
}

fn run() -> Result<(), Failed> {
    let Some(p) = cortex_m::Peripherals::take() else {
        hprintln!("FAILED: peripherals taken twice");
        return Err(Failed);
    };
    uart::init();
    // In a static (.bss), as a runtime keeps it: `size` counts it.
    let Some(base) = cortex_m::singleton!(: Base = EventBase::new(
        Lines::default(),
        SysTickClock,
        Parts::default(),
        BaseFlags::empty(),
    )) else {
        hprintln!("FAILED: the base made twice");
        return Err(Failed);
    };
    base.set_priorities(PRIORITIES)
        .map_err(core_err("set_priorities"))?;
    hprintln!(
        "eventop-core on a Cortex-M3: Fixed<{}> tables, {} priorities, SysTick clock, interrupt lines as fds",
        N,
        PRIORITIES
    );
    hprintln!(
        "# the base: {} bytes, {} of them whatever N is",
        size_of::<Base>(),
        size_of::<EventBase<Lines, SysTickClock, Fixed<0>>>()
    );
    full_tables(base)?;
    arm(base)?;
    clock::start(p.SYST);
    the_loop(base)
}

/// What the base holds, to show that a failed call changed nothing.
#[derive(PartialEq)]
struct Snapshot {
    counts: Counts,
    events: heapless::Vec<EventInfo, N>,
}

fn snapshot(base: &Base) -> Snapshot {
    let mut events = heapless::Vec::new();
    for e in base.events() {
        // The base holds at most N events; a lost one would make the comparison fail.
        let _ = events.push(e);
    }
    Snapshot {
        counts: base.counts(),
        events,
    }
}

/// Fills the slots, then the fd map: each is `Error::Full` naming the table, and the base is
/// exactly as before the call. A line the backend does not have is refused before the fd map
/// grows for it.
fn full_tables(base: &mut Base) -> Result<(), Failed> {
    let hour = Some(Duration::from_secs(3600));
    let mut held: heapless::Vec<(Handle, usize), N> = heapless::Vec::new();
    for i in 0..=N {
        let spec = timer(FILL + i, What::empty(), 1);
        let before = snapshot(base);
        match base.add(None, &spec, hour) {
            Ok(h) => {
                ensure!(
                    held.push((h, spec.token)).is_ok(),
                    "FAILED: more than {} events held",
                    N
                );
            }
            Err(Error::Full(Resource::Slots)) => {
                ensure!(
                    snapshot(base) == before,
                    "FAILED: a full add changed the base"
                );
                hprintln!("full: event slots, at event {}; nothing changed", i + 1);
                break;
            }
            Err(e) => return Err(core_err("add a timer")(e)),
        }
    }
    ensure!(
        held.len() == N,
        "FAILED: {} timers held, not {}",
        held.len(),
        N
    );
    for (h, token) in held {
        base.del(h, token).map_err(core_err("del a timer"))?;
    }
    ensure!(
        base.counts() == Counts::default(),
        "FAILED: events left after the deletes"
    );

    // Line 8 (I2C0) is one the backend has, but the fd map holds lines 0 to 7.
    let i2c = Spec {
        fd: 8,
        events: What::READ,
        priority: 1,
        token: FILL,
    };
    let before = snapshot(base);
    let r = base.add(None, &i2c, None);
    ensure!(
        r == Err(Error::Full(Resource::FdMap)),
        "FAILED: line 8 gave {:?}",
        r
    );
    ensure!(
        snapshot(base) == before,
        "FAILED: a full fd map changed the base"
    );
    hprintln!("full: fd map, at line 8; nothing changed");

    let far = Spec { fd: 40, ..i2c };
    let r = base.add(None, &far, None);
    ensure!(r == Err(Error::BadFd(40)), "FAILED: line 40 gave {:?}", r);
    ensure!(
        snapshot(base) == before,
        "FAILED: a bad line changed the base"
    );
    hprintln!("bad fd: line 40, which the backend does not have; nothing changed");
    Ok(())
}

/// Arms the timers at boot, while the clock stands at 0: equal timeouts are equal deadlines
/// (a timeout counts from the clock's reading at its `add`, which differs between two adds once
/// SysTick runs).
fn arm(base: &mut Base) -> Result<(), Failed> {
    ensure!(
        base.now() == 0,
        "FAILED: the clock moves before SysTick starts"
    );
    let mut add = |spec: Spec, ms: u64| {
        let h = base
            .add(None, &spec, Some(Duration::from_millis(ms)))
            .map_err(core_err("add a timer"))?;
        Ok::<_, Failed>(base.pending(h, spec.token, What::TIMEOUT).1)
    };
    add(timer(D, What::empty(), 1), 10)?;
    add(timer(TICK, What::PERSIST, 1), 20)?;
    let a = add(timer(A, What::empty(), 1), 50)?;
    let b = add(timer(B, What::empty(), 1), 50)?;
    add(timer(E, What::empty(), 1), 70)?;
    let p2 = add(timer(P2, What::empty(), 2), 100)?;
    let p0 = add(timer(P0, What::empty(), 0), 100)?;
    let p1 = add(timer(P1, What::empty(), 1), 100)?;
    ensure!(
        a == Some(50 * MS) && b == a,
        "FAILED: A and B are due at {:?} and {:?}",
        a,
        b
    );
    ensure!(
        p2 == Some(100 * MS) && p0 == p2 && p1 == p2,
        "FAILED: the priority timers are not due together"
    );
    hprintln!(
        "timers, armed at boot: D at 10 ms, a tick every 20 ms, A then B at 50 ms, E at 70 ms"
    );
    hprintln!("timers, armed at boot: three at 100 ms, added with priorities 2, 0, 1");
    Ok(())
}

/// What the callbacks keep during the run.
#[derive(Default)]
struct State {
    ticks: u64,
    uart: Option<Handle>,
    watched_at: u64,
    line: heapless::Vec<u8, 32>,
    bytes: u32,
}

/// One run: timers in deadline order, priorities, then an event that UART0's interrupt handler
/// makes ready; the run ends when nothing is left.
fn the_loop(base: &mut Base) -> Result<(), Failed> {
    base.start(LoopFlags::empty()).map_err(core_err("start"))?;
    let mut st = State::default();
    loop {
        match base.step().map_err(core_err("step"))? {
            Step::Run(ev) => callback(base, &mut st, ev)?,
            Step::Done(how) => {
                ensure!(
                    how == Outcome::Empty,
                    "FAILED: the run ended with {:?}",
                    how
                );
                hprintln!("loop: nothing left, the run is over");
                return Ok(());
            }
        }
    }
}

fn callback(base: &mut Base, st: &mut State, ev: Ready) -> Result<(), Failed> {
    match ev.token {
        D => on_time("D (one-shot, 10 ms)", 10 * MS)?,
        A => on_time("A (one-shot, 50 ms, added before B)", 50 * MS)?,
        B => on_time("B (one-shot, 50 ms, added after A)", 50 * MS)?,
        E => on_time("E (one-shot, 70 ms)", 70 * MS)?,
        TICK => {
            st.ticks += 1;
            match st.ticks {
                1 => on_time("tick 1 (persistent, every 20 ms)", 20 * MS)?,
                2 => on_time("tick 2", 40 * MS)?,
                _ => {
                    on_time("tick 3, which deletes itself", 60 * MS)?;
                    base.del(ev.handle, ev.token)
                        .map_err(core_err("del the tick"))?;
                }
            }
        }
        P0 => on_time("priority 0 (100 ms)", 100 * MS)?,
        P1 => on_time("priority 1 (100 ms)", 100 * MS)?,
        P2 => {
            on_time("priority 2 (100 ms)", 100 * MS)?;
            let uart = Spec {
                fd: i32::from(uart::IRQ.0),
                events: What::READ | What::PERSIST,
                priority: 1,
                token: UART,
            };
            st.uart = Some(base.add(None, &uart, None).map_err(core_err("add UART0"))?);
            st.watched_at = SysTickClock.now();
            hprintln!("uart0: watching line 5 for a line of input");
        }
        UART => return on_uart(base, st, ev),
        _ => {
            hprintln!("FAILED: unknown token {}", ev.token);
            return Err(Failed);
        }
    }
    Ok(())
}

/// A timer ran: never before its deadline.
fn on_time(what: &str, due: u64) -> Result<(), Failed> {
    let now = SysTickClock.now();
    ensure!(now >= due, "FAILED: {} ran {} ns early", what, due - now);
    hprintln!("{}", what);
    let late = (now - due) / 1000;
    hprintln!("# {}: {}.{:03} ms late", what, late / 1000, late % 1000);
    Ok(())
}

/// UART0's line is readable: read what came, and when the line is complete, stop watching.
fn on_uart(base: &mut Base, st: &mut State, ev: Ready) -> Result<(), Failed> {
    ensure!(ev.res == What::READ, "FAILED: uart0 ready for {:?}", ev.res);
    let mut done = false;
    while let Some(b) = uart::read_byte() {
        st.bytes += 1;
        if b == b'\n' {
            done = true;
            break;
        }
        ensure!(st.line.push(b).is_ok(), "FAILED: uart0 line too long");
    }
    if !done {
        uart::rearm();
        return Ok(());
    }
    let text = core::str::from_utf8(&st.line).unwrap_or("(not UTF-8)");
    hprintln!("uart0: read \"{}\"; deleting its event", text);
    let waited = (SysTickClock.now() - st.watched_at) / MS;
    hprintln!(
        "# uart0: {} bytes; interrupts recorded: {}; read {} ms after it was watched",
        st.bytes,
        lines::RECORDS.load(Relaxed),
        waited
    );
    let h = st.uart.take().ok_or(Failed)?;
    base.del(h, ev.token).map_err(core_err("del UART0"))
}

/// How deep the stack went: cortex-m-rt painted it at reset (`paint-stack`).
fn report_stack() {
    extern "C" {
        static _stack_end: u32;
        static _stack_start: u32;
    }
    // Only the symbols' addresses are taken; they bound the stack region.
    let (end, start) = (addr_of!(_stack_end), addr_of!(_stack_start));
    let mut p = end;
    while p < start {
        // SAFETY: `p` is a word between the stack's bounds, in RAM; reading it disturbs nothing.
        if unsafe { read_volatile(p) } != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        p = p.wrapping_add(1);
    }
    hprintln!(
        "# stack: {} bytes used (of {} free)",
        start as usize - p as usize,
        start as usize - end as usize
    );
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("FAILED: panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
