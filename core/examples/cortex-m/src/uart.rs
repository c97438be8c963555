//! UART0 (a PL011, as QEMU emulates it) as an input device: its receive interrupt records line 5
//! for the [`Lines`](crate::lines::Lines) backend and quiets itself until the reader has drained
//! the FIFO and [`rearm`]s it.

use core::ptr::{read_volatile, write_volatile};

use crate::irq::Irq;

/// UART0's interrupt line, which is also its "fd" in the event base.
pub const IRQ: Irq = Irq(5);

const BASE: usize = 0x4000_C000;
const DR: usize = 0x000;
const FR: usize = 0x018;
const CTL: usize = 0x030;
const IMSC: usize = 0x038;

/// Receive FIFO empty (`FR`).
const RXFE: u32 = 1 << 4;
/// Receive interrupt (`IMSC`).
const RXIM: u32 = 1 << 4;
/// UART, transmit and receive enabled (`CTL`).
const ENABLE: u32 = 1 | 1 << 8 | 1 << 9;

fn reg(offset: usize) -> *mut u32 {
    (BASE + offset) as *mut u32
}

fn read(offset: usize) -> u32 {
    // SAFETY: `reg` gives one of UART0's registers, which is always mapped; reading it has no
    // effect beyond the device's (`DR` pops a byte, which only this module's reader does).
    unsafe { read_volatile(reg(offset)) }
}

fn write(offset: usize, value: u32) {
    // SAFETY: as in `read`; the values written are the PL011's documented bits.
    unsafe { write_volatile(reg(offset), value) }
}

/// Enables the UART and its receive interrupt (at the device; the NVIC enables the line when an
/// event watches it).
pub fn init() {
    write(CTL, ENABLE);
    write(IMSC, RXIM);
}

/// The next received byte, if any.
pub fn read_byte() -> Option<u8> {
    if read(FR) & RXFE != 0 {
        None
    } else {
        Some(read(DR) as u8)
    }
}

/// Unmasks the receive interrupt again, after the reader drained the FIFO; if a byte came in
/// meanwhile, the interrupt fires at once.
pub fn rearm() {
    write(IMSC, read(IMSC) | RXIM);
}

/// UART0's handler: masks the receive interrupt at the device (its level stays up while the FIFO
/// holds data) and records the line as ready.
#[no_mangle]
pub extern "C" fn UART0() {
    write(IMSC, read(IMSC) & !RXIM);
    crate::lines::record(IRQ);
}
