//! The LM3S6965's interrupt vectors (only UART0 is used; every other line goes to the default
//! handler) and its interrupt numbers for the NVIC.

use cortex_m::interrupt::InterruptNumber;
use cortex_m_rt::exception;
use cortex_m_semihosting::{debug, hprintln};

/// The interrupt lines this firmware has vectors for: 0 to 31 of the LM3S6965's.
pub const LINES: u16 = 32;

/// An interrupt line, by its number (the NVIC's numbering: 5 is UART0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Irq(pub u16);

// SAFETY: `Irq` is only ever built with a number below `LINES`, all of which the LM3S6965 has.
unsafe impl InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

extern "C" {
    fn DefaultHandler();
}

/// The vector table's device part, which cortex-m-rt's `device` feature leaves to us.
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
#[used]
static __INTERRUPTS: [unsafe extern "C" fn(); LINES as usize] = {
    let mut v: [unsafe extern "C" fn(); LINES as usize] = [DefaultHandler; LINES as usize];
    v[crate::uart::IRQ.0 as usize] = crate::uart::UART0;
    v
};

/// An exception or interrupt nothing expects: say which and stop with a failure.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    hprintln!("unexpected exception or interrupt {}", irqn);
    debug::exit(debug::EXIT_FAILURE);
}
