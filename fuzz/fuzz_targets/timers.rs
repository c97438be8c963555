//! The timer heap against a model (a vector kept sorted by `(deadline, seq)`): pushes, removals,
//! reschedules and pops over fixed storage. Pops come out in the model's order, ties first in
//! first out; full storage is `Full(Timers)` and changes nothing; the indices reported through
//! `moved` always find each timer.

#![no_main]

use arbitrary::Arbitrary;
use eventop_core::base::timers::{Timer, TimerHeap};
use eventop_core::{Error, Resource};
use libfuzzer_sys::fuzz_target;

const SLOTS: u32 = 24;

#[derive(Arbitrary, Debug)]
enum Op {
    Push { slot: u8, deadline: u8 },
    Remove { slot: u8 },
    Reschedule { slot: u8, deadline: u8 },
    PopDue { now: u8 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Room in the storage: 0 to 16 entries.
    room: u8,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let mut buf = [Timer::default(); 16];
    let room = usize::from(input.room) % (buf.len() + 1);
    let mut heap = TimerHeap::new(&mut buf[..room]);
    let mut index = [u32::MAX; SLOTS as usize];
    let mut model: Vec<Timer> = Vec::new();
    let mut seq = 0u32;
    let insert = |model: &mut Vec<Timer>, t: Timer| {
        let at = model.partition_point(|m| (m.deadline, m.seq) < (t.deadline, t.seq));
        model.insert(at, t);
    };
    for op in input.ops {
        match op {
            Op::Push { slot, deadline } => {
                let slot = u32::from(slot) % SLOTS;
                if model.iter().any(|t| t.slot == slot) {
                    continue;
                }
                let r = heap.push(u64::from(deadline), slot, &mut |s, i| index[s as usize] = i);
                if model.len() == room {
                    assert_eq!(r, Err(Error::Full(Resource::Timers)));
                } else {
                    r.unwrap();
                    insert(
                        &mut model,
                        Timer {
                            deadline: u64::from(deadline),
                            seq,
                            slot,
                        },
                    );
                    seq += 1;
                }
            }
            Op::Remove { slot } => {
                let slot = u32::from(slot) % SLOTS;
                let Some(at) = model.iter().position(|t| t.slot == slot) else {
                    continue;
                };
                let want = model.remove(at);
                let got = heap.remove(index[slot as usize], &mut |s, i| index[s as usize] = i);
                assert_eq!(got, Some(want));
            }
            Op::Reschedule { slot, deadline } => {
                let slot = u32::from(slot) % SLOTS;
                let Some(at) = model.iter().position(|t| t.slot == slot) else {
                    continue;
                };
                model.remove(at);
                let d = u64::from(deadline);
                assert!(heap.reschedule(index[slot as usize], d, &mut |s, i| {
                    index[s as usize] = i
                }));
                insert(
                    &mut model,
                    Timer {
                        deadline: d,
                        seq,
                        slot,
                    },
                );
                seq += 1;
            }
            Op::PopDue { now } => {
                let now = u64::from(now);
                let want = match model.first() {
                    Some(t) if t.deadline <= now => Some(model.remove(0)),
                    _ => None,
                };
                let got = heap.pop_due(now, &mut |s, i| index[s as usize] = i);
                assert_eq!(got, want);
            }
        }
        assert_eq!(heap.len(), model.len());
        assert_eq!(heap.peek(), model.first().copied());
        for t in &model {
            assert_eq!(heap.as_slice()[index[t.slot as usize] as usize], *t);
        }
    }
    // Everything left comes out in order.
    while let Some(t) = heap.pop_due(u64::MAX, &mut |s, i| index[s as usize] = i) {
        assert_eq!(t, model.remove(0));
    }
    assert!(model.is_empty());
});
