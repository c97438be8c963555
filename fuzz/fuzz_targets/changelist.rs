//! The changelist against a model: a caller's interest per fd, changed by adds and deletes as
//! the base makes them, and a backend's that only the applied batches change. After every
//! flush (and every flush forced by full storage, which hands the change back) the two agree; each batch has at most one
//! change per fd, and each change's `old` is what the backend had.

#![no_main]

use arbitrary::Arbitrary;
use eventop_core::{Backend, Change, Changelist, Error, FdInfo, Features, Info, Sink, What};
use libfuzzer_sys::fuzz_target;

const FDS: usize = 8;

#[derive(Arbitrary, Debug)]
enum Op {
    Add { fd: u8, bits: u8, et: bool },
    Del { fd: u8, bits: u8 },
    Flush,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Room in the changelist's storage: 0 to 7 entries (0: every record is refused).
    room: u8,
    ops: Vec<Op>,
}

/// A backend whose "kernel" is the interest per fd that the applied changes leave.
struct Model {
    kernel: [What; FDS],
}

impl Backend for Model {
    fn info(&self) -> Info {
        Info {
            name: "model",
            features: Features::ET,
            need_reinit: false,
            fdinfo_len: 4,
            changelist: true,
        }
    }
    fn add(&mut self, _: i32, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
        unreachable!("a changelist backend is not called per change")
    }
    fn del(&mut self, _: i32, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
        unreachable!("a changelist backend is not called per change")
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        let mut seen = [false; FDS];
        for c in changes {
            let fd = c.fd as usize;
            assert!(!seen[fd], "two changes for fd {fd} in one batch");
            seen[fd] = true;
            assert_eq!(c.old & What::IO, self.kernel[fd], "old of fd {fd}");
            self.kernel[fd] = c.new_interest();
        }
        Ok(())
    }
    fn dispatch<S: Sink>(
        &mut self,
        _: Option<core::time::Duration>,
        _: &mut S,
    ) -> Result<usize, Error> {
        Ok(0)
    }
}

fn io(bits: u8) -> What {
    let bits = u16::from(bits);
    What::from_bits_truncate(bits) & What::IO
}

/// Hands the batch to the backend and empties it, as the base does before a dispatch.
fn flush(cl: &mut Changelist<&mut [Change]>, backend: &mut Model) {
    if !cl.is_empty() {
        backend.apply(cl.changes()).unwrap();
        cl.clear();
    }
    assert!(cl.is_empty());
}

fuzz_target!(|input: Input| {
    let mut buf = [Change::default(); 7];
    let room = usize::from(input.room) % (buf.len() + 1);
    let mut cl = Changelist::new(&mut buf[..room]);
    let mut backend = Model {
        kernel: [What::empty(); FDS],
    };
    let mut want = [What::empty(); FDS];
    let mut fdinfo = [FdInfo::default(); FDS];
    for op in input.ops {
        let (fd, change, now) = match op {
            Op::Add { fd, bits, et } => {
                let fd = usize::from(fd) % FDS;
                let new = io(bits) - want[fd];
                let et = if et { What::ET } else { What::empty() };
                (fd, Change::add(fd as i32, want[fd], new | et), want[fd] | new)
            }
            Op::Del { fd, bits } => {
                let fd = usize::from(fd) % FDS;
                let gone = io(bits) & want[fd];
                (fd, Change::del(fd as i32, want[fd], gone), want[fd] - gone)
            }
            Op::Flush => {
                flush(&mut cl, &mut backend);
                assert_eq!(backend.kernel, want);
                continue;
            }
        };
        if now == want[fd] {
            continue;
        }
        assert_eq!(change.new_interest(), now);
        // Full storage: the change comes back unrecorded; flush the batch and record it again.
        if let Err(back) = cl.record(change, &mut fdinfo[fd]) {
            assert_eq!(back, change);
            assert_eq!(cl.changes().len(), room, "refused with room left");
            flush(&mut cl, &mut backend);
            assert_eq!(backend.kernel, want);
            if room == 0 {
                assert_eq!(cl.record(change, &mut fdinfo[fd]), Err(change));
                continue;
            }
            cl.record(change, &mut fdinfo[fd]).unwrap();
        }
        want[fd] = now;
        assert!(cl.changes().len() <= room);
        // The pending change of this fd leads to what the caller wants.
        let c = cl.changes().iter().find(|c| c.fd == fd as i32).unwrap();
        assert_eq!(c.new_interest(), want[fd]);
    }
    flush(&mut cl, &mut backend);
    assert_eq!(backend.kernel, want);
});
