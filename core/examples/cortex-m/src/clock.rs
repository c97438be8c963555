//! Time from SysTick: a count of 1 ms ticks kept by the SysTick handler, plus the counter's current
//! value for the time within the tick, so a reading has the core clock's precision (80 ns). Time
//! stands at 0 until [`start`].

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use cortex_m::interrupt::{self, Mutex};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use cortex_m_rt::exception;
use eventop_core::clock::Clock;

/// The core clock QEMU gives the LM3S6965 out of reset: 200 MHz PLL divided by 16.
pub const CORE_HZ: u32 = 12_500_000;
/// Cycles per 1 ms tick, less one (SysTick counts from this value down to 0, then reloads).
const RELOAD: u32 = CORE_HZ / 1000 - 1;
/// Nanoseconds per cycle: 80.
const NS_PER_CYCLE: u64 = 1_000_000_000 / CORE_HZ as u64;

/// Ticks since [`start`]; 64 bits, so they never wrap. Written only by the SysTick handler.
static TICKS: Mutex<Cell<u64>> = Mutex::new(Cell::new(0));

/// Whether SysTick counts: until it does, its current value means nothing and time is 0.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Starts SysTick: an interrupt every millisecond, from the core clock.
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    RUNNING.store(true, Relaxed);
}

#[exception]
fn SysTick() {
    interrupt::free(|cs| {
        let ticks = TICKS.borrow(cs);
        ticks.set(ticks.get() + 1);
    });
}

/// The SysTick clock, in nanoseconds since [`start`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SysTickClock;

impl Clock for SysTickClock {
    fn now(&mut self) -> u64 {
        if !RUNNING.load(Relaxed) {
            return 0;
        }
        interrupt::free(|cs| {
            let mut ticks = TICKS.borrow(cs).get();
            let mut current = SYST::get_current();
            // The counter wrapped and its interrupt waits for this section to end: count that
            // tick here, and read the counter again, as it may have been read before the wrap.
            if SCB::is_pendst_pending() {
                ticks += 1;
                current = SYST::get_current();
            }
            ticks * 1_000_000 + u64::from(RELOAD.saturating_sub(current)) * NS_PER_CYCLE
        })
    }
}
