//! Priorities over real kernels: deleting one active event of a queue leaves the rest of that
//! queue to run, on every hosted backend.

use std::os::fd::AsRawFd;
use std::time::Duration;

use eventop_core::base::{EventBase, Fixed, Handle, Parts, Spec, Step};
use eventop_core::sys::clock::Monotonic;
use eventop_core::sys::hosted::{FixedBuffers, Hosted};
use eventop_core::{LoopFlags, What};
use eventop_tests::bounded::within;
use eventop_tests::fds::{pair, put};
use eventop_tests::kinds::Kind;
use eventop_tests::per_kind;

type Base = EventBase<Hosted<FixedBuffers<64>>, Monotonic, Fixed<64>>;

/// Three readable sockets watched at priority `pri` and one at priority 0 whose callback
/// deletes the `victim`-th of the three, active by then: the other two still run, in order.
/// (A mutant of `Queues::remove` that clears the queue's bit leaves them stranded.)
fn delete_one_active_of_a_queue(kind: Kind) {
    within(Duration::from_secs(20), move || delete_one_active(kind));
}

fn delete_one_active(kind: Kind) {
    for pri in [1u8, 2] {
        for victim in 0..3usize {
            let mut b: Base =
                EventBase::new(kind.hosted(), Monotonic, Parts::default(), kind.flags());
            b.set_priorities(3).unwrap();
            let pairs: Vec<_> = (0..4).map(|_| pair()).collect();
            let mut hs: Vec<Handle> = Vec::new();
            for (i, (r, w)) in pairs.iter().enumerate() {
                put(w);
                let spec = Spec {
                    fd: r.as_raw_fd(),
                    // The deleter runs once; the others stay (level-triggered, so they
                    // may be reported again: still one activation each).
                    events: if i == 3 {
                        What::READ
                    } else {
                        What::READ | What::PERSIST
                    },
                    priority: if i == 3 { 0 } else { pri },
                    token: i,
                };
                hs.push(b.add(None, &spec, None).unwrap());
            }
            let mut ran = Vec::new();
            b.start(LoopFlags::ONCE).unwrap();
            // Bounded, so a loop that strands its queue fails instead of spinning.
            for _ in 0..20 {
                let Step::Run(r) = b.step().unwrap() else {
                    break;
                };
                ran.push(r.token);
                if r.token == 3 {
                    b.del(hs[victim], victim).unwrap();
                }
            }
            assert!(
                !b.is_running(),
                "{kind:?}: the loop did not end: ran {ran:?}"
            );
            // The deleter first; the rest in the order the backend reported their fds (select
            // reports by fd number, which need not be the order the pairs were made in).
            let want: Vec<usize> = [0, 1, 2].into_iter().filter(|&t| t != victim).collect();
            let mut rest = ran.get(1..).unwrap_or_default().to_vec();
            rest.sort_unstable();
            assert_eq!(
                (ran.first(), rest),
                (Some(&3), want),
                "{kind:?}: priority {pri}, deleted {victim}: ran {ran:?}"
            );
            assert_eq!(b.counts().active, 0);
            assert_eq!(b.counts().added, 2, "the two left, still watched");
        }
    }
}

per_kind!(delete_one_active_of_a_queue);
