//! Property test of the changelist's coalescing, over a recording backend.
//!
//! The subject is pure logic, so the backend here is a model (no kernel): it records the interest
//! it was told for each fd and counts its calls. Random add/del sequences over many fds go through
//! a changelist with storage of several sizes (tiny ones force flushes); at the end the backend's
//! interest must equal what applying every operation immediately gives, and it must have made no
//! more calls than one per operation.

use std::collections::HashMap;
use std::time::Duration;

use eventop_core::{
    Backend, Change, ChangeOp, Changelist, Error, FdInfo, Features, Info, RawFd, Sink, Storage,
    What,
};
use eventop_tests::Grow;
use proptest::prelude::*;

/// Records what a changelist backend is told.
#[derive(Default)]
struct Recorder {
    interest: HashMap<RawFd, What>,
    calls: usize,
}

impl Backend for Recorder {
    fn info(&self) -> Info {
        Info {
            name: "recorder",
            features: Features::ET | Features::O1,
            need_reinit: false,
            fdinfo_len: 4,
            changelist: true,
        }
    }
    fn add(&mut self, _: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
        panic!("a changelist backend is never called with add");
    }
    fn del(&mut self, _: RawFd, _: What, _: What, _: &mut FdInfo) -> Result<(), Error> {
        panic!("a changelist backend is never called with del");
    }
    fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        let mut seen = std::collections::HashSet::new();
        for c in changes {
            assert!(
                seen.insert(c.fd),
                "two entries for fd {} in one batch",
                c.fd
            );
            if c.is_noop() {
                continue;
            }
            let have = self.interest.get(&c.fd).copied().unwrap_or_default();
            assert_eq!(
                c.old, have,
                "fd {}: the batch's old interest is not the backend's",
                c.fd
            );
            for (op, bit) in [
                (c.read, What::READ),
                (c.write, What::WRITE),
                (c.closed, What::CLOSED),
            ] {
                if op.contains(ChangeOp::DEL) {
                    assert!(
                        have.contains(bit),
                        "fd {}: delete of {bit:?} it never had",
                        c.fd
                    );
                }
            }
            self.interest.insert(c.fd, c.new_interest());
            self.calls += 1;
        }
        Ok(())
    }
    fn dispatch<S: Sink>(&mut self, _: Option<Duration>, _: &mut S) -> Result<usize, Error> {
        Ok(0)
    }
}

#[derive(Clone, Debug)]
enum Step {
    /// Toggle `bits` on fd `fd`: add the ones it lacks, delete the ones it has.
    Toggle { fd: RawFd, bits: What, et: bool },
    /// A dispatch: the batch is applied.
    Dispatch,
}

fn step(fds: RawFd) -> impl Strategy<Value = Step> {
    let io = prop::sample::select(vec![
        What::READ,
        What::WRITE,
        What::CLOSED,
        What::READ | What::WRITE,
        What::READ | What::CLOSED,
        What::IO,
    ]);
    prop_oneof![
        8 => (0..fds, io, any::<bool>()).prop_map(|(fd, bits, et)| Step::Toggle { fd, bits, et }),
        1 => Just(Step::Dispatch),
    ]
}

/// Hands the batch to `backend` and clears it, as the base does before each dispatch.
fn flush<S: Storage<Change>>(cl: &mut Changelist<S>, backend: &mut Recorder) {
    backend.apply(cl.changes()).unwrap();
    cl.clear();
}

/// Records `change`; when the storage is full, flushes first, as the base does.
fn record<S: Storage<Change>>(
    cl: &mut Changelist<S>,
    change: Change,
    word: &mut FdInfo,
    backend: &mut Recorder,
) {
    if let Err(change) = cl.record(change, word) {
        flush(cl, backend);
        cl.record(change, word).expect("room after a flush");
    }
}

/// Runs `steps` through a changelist over `storage`; returns (final interest, calls, operations).
fn run<S: Storage<Change>>(storage: S, steps: &[Step]) -> (HashMap<RawFd, What>, usize, usize) {
    let mut cl = Changelist::new(storage);
    let mut backend = Recorder::default();
    let mut words: HashMap<RawFd, FdInfo> = HashMap::new();
    // What the base believes: the interest as if every operation applied at once.
    let mut model: HashMap<RawFd, What> = HashMap::new();
    let mut ops = 0;
    for s in steps {
        match *s {
            Step::Toggle { fd, bits, et } => {
                let now = model.get(&fd).copied().unwrap_or_default();
                let extra = if et { What::ET } else { What::empty() };
                let (adds, dels) = (bits - now, bits & now);
                for (add, events) in [(false, dels), (true, adds)] {
                    if events.is_empty() {
                        continue;
                    }
                    let old = model.get(&fd).copied().unwrap_or_default();
                    let word = words.entry(fd).or_default();
                    let change = if add {
                        Change::add(fd, old, events | extra)
                    } else {
                        Change::del(fd, old, events | extra)
                    };
                    record(&mut cl, change, word, &mut backend);
                    let new = if add { old | events } else { old - events };
                    model.insert(fd, new);
                    ops += 1;
                }
            }
            Step::Dispatch => flush(&mut cl, &mut backend),
        }
    }
    flush(&mut cl, &mut backend);
    model.retain(|_, w| !w.is_empty());
    backend.interest.retain(|_, w| !w.is_empty());
    assert_eq!(backend.interest, model);
    (backend.interest, backend.calls, ops)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn coalescing_matches_immediate_application(
        steps in prop::collection::vec(step(24), 1..300),
    ) {
        let mut results = Vec::new();
        results.push(run(Grow::<Change>::default(), &steps));
        results.push(run(heapless::Vec::<Change, 1>::new(), &steps));
        results.push(run(heapless::Vec::<Change, 3>::new(), &steps));
        let mut buf = [Change::default(); 7];
        results.push(run(&mut buf[..], &steps));
        for (interest, calls, ops) in &results {
            prop_assert!(calls <= ops, "{calls} backend calls for {ops} operations");
            prop_assert_eq!(interest, &results[0].0);
        }
    }
}

#[test]
fn del_read_add_read_del_write_is_one_call() {
    // libevent, observed with strace: three epoll_ctl MOD without the changelist, one with it.
    let mut cl = Changelist::new(Grow::<Change>::default());
    let mut backend = Recorder::default();
    backend.interest.insert(9, What::READ | What::WRITE);
    let mut word = FdInfo::default();
    let rw = What::READ | What::WRITE;
    for change in [
        Change::del(9, rw, What::READ),
        Change::add(9, What::WRITE, What::READ),
        Change::del(9, rw, What::WRITE),
    ] {
        cl.record(change, &mut word).unwrap();
    }
    flush(&mut cl, &mut backend);
    assert_eq!(backend.calls, 1);
    assert_eq!(backend.interest[&9], What::READ);
}
