//! Change planning, pure: the kevents that make one coalesced change take effect.

use core::ptr;

use super::ffi::{blank, Event, EVFILT_READ, EVFILT_WRITE, EV_ADD, EV_CLEAR, EV_DELETE};
use crate::backend::{Change, ChangeOp};
use crate::What;

/// The two filters an fd's interest maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Filter {
    /// `EVFILT_READ`: `READ` and `CLOSED`.
    Read,
    /// `EVFILT_WRITE`: `WRITE`.
    Write,
}

impl Filter {
    /// The interest bits this filter watches.
    fn bits(self) -> What {
        match self {
            Filter::Read => What::READ.union(What::CLOSED),
            Filter::Write => What::WRITE,
        }
    }

    /// Whether an fd with `interest` has this filter registered.
    fn watched(self, interest: What) -> bool {
        interest.intersects(self.bits())
    }
}

/// What a kevent does to its filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    /// `EV_ADD`, with `EV_CLEAR` when edge-triggered.
    Add {
        /// Edge-triggered.
        clear: bool,
    },
    /// `EV_DELETE`.
    Delete,
}

/// The kevents of one change, in the order they are submitted (at most four: two per filter).
pub(super) type Plan = [Option<(Filter, Action)>; 4];

/// The kevents that make `c` take effect, in this order:
///
/// 1. `EV_DELETE` for each filter no bit of which remains.
/// 2. `EV_ADD` (with `EV_CLEAR` when edge-triggered) for each filter with an added bit, even when
///    the filter is registered already: `EV_ADD` on a live filter only modifies it. When the add
///    re-adds a bit that was in `old` (the batch deleted it and added it again: the fd may have
///    been closed and its number reused since), an `EV_DELETE` goes first: libkqueue keeps the
///    knote of the old file and turns a lone `EV_ADD` into a modify of it, which never reaches the
///    new file (a kernel that kept the knote past the close would do the same), so the new file
///    would never be reported. The delete's `ENOENT` (the kernels drop knotes at the close) is
///    ignored, as every `ENOENT` is.
/// 3. When step 1 deleted a filter and the change carries `ET`, the remaining filter again, as
///    `EV_DELETE` then `EV_ADD | EV_CLEAR`: libkqueue keeps one epoll registration per fd for both
///    filters and drops `EPOLLET` from it when one filter is deleted, so the remaining one would
///    turn level-triggered. A lone `EV_ADD` would only modify the knote (leaving epoll as it is),
///    and this must come after the delete of step 1. The kernels keep the filters apart and need
///    none of it; there the new knote reports a pending edge once more, which the contract allows
///    after a change of interest.
///
/// The batch is coalesced, so all this costs kevents only when a batch deletes and re-adds, or
/// deletes part of an edge-triggered fd's interest; the dispatch loop is untouched.
pub(super) fn plan(c: &Change) -> Plan {
    let new = c.new_interest();
    let filters = [
        (
            Filter::Read,
            [(c.read, What::READ), (c.closed, What::CLOSED)],
        ),
        (
            Filter::Write,
            [(c.write, What::WRITE), (ChangeOp::empty(), What::empty())],
        ),
    ];
    let mut out: Plan = [None; 4];
    let mut n = 0;
    let mut push = |step: (Filter, Action)| {
        if let Some(slot) = out.get_mut(n) {
            *slot = Some(step);
            n += 1;
        }
    };
    let mut removed = false;
    let mut sent = [false; 2];
    for (filter, ops) in filters {
        if !ops.iter().any(|(op, _)| op.contains(ChangeOp::ADD))
            && ops.iter().any(|(op, _)| op.contains(ChangeOp::DEL))
            && filter.watched(c.old)
            && !filter.watched(new)
        {
            push((filter, Action::Delete));
            removed = true;
        }
    }
    for ((filter, ops), sent) in filters.into_iter().zip(&mut sent) {
        let mut clear = false;
        let mut readd = false;
        for &(op, bit) in ops.iter().filter(|(op, _)| op.contains(ChangeOp::ADD)) {
            *sent = true;
            clear |= op.contains(ChangeOp::ET);
            readd |= c.old.contains(bit);
        }
        if readd {
            push((filter, Action::Delete));
        }
        if *sent {
            push((filter, Action::Add { clear }));
        }
    }
    if removed && c.edge_triggered() {
        for ((filter, _), sent) in filters.into_iter().zip(sent) {
            if !sent && filter.watched(new) {
                push((filter, Action::Delete));
                push((filter, Action::Add { clear: true }));
            }
        }
    }
    out
}

/// The kevent for one step on `ident`, its flags copied into `udata` to tell an add's failure
/// from a delete's.
pub(super) fn kev(ident: usize, filter: Filter, action: Action) -> Event {
    let mut ev = blank();
    ev.ident = ident;
    ev.filter = match filter {
        Filter::Read => EVFILT_READ,
        Filter::Write => EVFILT_WRITE,
    };
    ev.flags = match action {
        Action::Add { clear: false } => EV_ADD,
        Action::Add { clear: true } => EV_ADD | EV_CLEAR,
        Action::Delete => EV_DELETE,
    };
    ev.udata = ptr::without_provenance_mut(ev.flags as usize);
    ev
}

/// A change of `fd`'s `READ` and `WRITE` interest, for tests.
#[cfg(test)]
pub(super) fn change(fd: crate::RawFd, old: What, read: ChangeOp, write: ChangeOp) -> Change {
    Change {
        fd,
        old,
        read,
        write,
        closed: ChangeOp::empty(),
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;

    /// The kevents of `plan(c)`, in order.
    fn steps(c: &Change) -> Vec<(Filter, Action)> {
        plan(c).into_iter().flatten().collect()
    }

    const ADD: Action = Action::Add { clear: false };
    const ADD_ET: Action = Action::Add { clear: true };
    const DEL: Action = Action::Delete;

    #[test]
    fn plan_maps_interest_to_filters() {
        let add = ChangeOp::ADD;
        let c = change(3, What::empty(), add | ChangeOp::ET, add);
        assert_eq!(steps(&c), [(Filter::Read, ADD_ET), (Filter::Write, ADD)]);
        // Deleting READ while CLOSED stays keeps the read filter.
        let c = Change {
            fd: 3,
            old: What::READ | What::CLOSED,
            read: ChangeOp::DEL,
            write: ChangeOp::empty(),
            closed: ChangeOp::empty(),
        };
        assert_eq!(steps(&c), []);
        // CLOSED alone is watched with the read filter, and deleted with it.
        let c = Change {
            closed: ChangeOp::ADD,
            ..change(3, What::empty(), ChangeOp::empty(), ChangeOp::empty())
        };
        assert_eq!(steps(&c), [(Filter::Read, ADD)]);
        let c = Change {
            closed: ChangeOp::DEL,
            ..change(3, What::CLOSED, ChangeOp::empty(), ChangeOp::DEL)
        };
        assert_eq!(steps(&c), [(Filter::Read, DEL)]);
        // A new bit on a registered filter is a plain add (a modify): nothing was deleted.
        let c = Change {
            read: ChangeOp::ADD,
            ..change(3, What::CLOSED, ChangeOp::empty(), ChangeOp::empty())
        };
        assert_eq!(steps(&c), [(Filter::Read, ADD)]);
    }

    #[test]
    fn plan_deletes_before_a_re_add() {
        // An add replacing a delete (the bit was in `old`) deletes the filter first.
        let c = change(3, What::WRITE, ChangeOp::empty(), ChangeOp::ADD);
        assert_eq!(steps(&c), [(Filter::Write, DEL), (Filter::Write, ADD)]);
        let c = change(
            3,
            What::READ,
            ChangeOp::ADD | ChangeOp::ET,
            ChangeOp::empty(),
        );
        assert_eq!(steps(&c), [(Filter::Read, DEL), (Filter::Read, ADD_ET)]);
        // Both filters: still at most four kevents, each filter deleted before it is added.
        let c = change(3, What::READ | What::WRITE, ChangeOp::ADD, ChangeOp::ADD);
        assert_eq!(
            steps(&c),
            [
                (Filter::Read, DEL),
                (Filter::Read, ADD),
                (Filter::Write, DEL),
                (Filter::Write, ADD)
            ]
        );
    }

    #[test]
    fn plan_re_arms_what_an_edge_triggered_partial_delete_leaves() {
        let io = What::READ | What::WRITE;
        let et_del = ChangeOp::DEL | ChangeOp::ET;
        // WRITE deleted, READ left: the delete first, then READ deleted and added with EV_CLEAR.
        let c = change(3, io, ChangeOp::empty(), et_del);
        assert_eq!(
            steps(&c),
            [
                (Filter::Write, DEL),
                (Filter::Read, DEL),
                (Filter::Read, ADD_ET)
            ]
        );
        let c = change(3, io, et_del, ChangeOp::empty());
        assert_eq!(
            steps(&c),
            [
                (Filter::Read, DEL),
                (Filter::Write, DEL),
                (Filter::Write, ADD_ET)
            ]
        );
        // Level-triggered: nothing to re-arm.
        let c = change(3, io, ChangeOp::empty(), ChangeOp::DEL);
        assert_eq!(steps(&c), [(Filter::Write, DEL)]);
        // Everything deleted: nothing left to re-arm.
        let c = change(3, io, et_del, et_del);
        assert_eq!(steps(&c), [(Filter::Read, DEL), (Filter::Write, DEL)]);
        // A delete of READ that CLOSED keeps on the read filter deletes no filter.
        let c = change(
            3,
            What::READ | What::CLOSED | What::WRITE,
            et_del,
            ChangeOp::empty(),
        );
        assert_eq!(steps(&c), []);
        // The remaining filter re-added in the same batch is not sent twice; the delete of the
        // other filter still goes first.
        let c = change(3, io, ChangeOp::ADD | ChangeOp::ET, et_del);
        assert_eq!(
            steps(&c),
            [
                (Filter::Write, DEL),
                (Filter::Read, DEL),
                (Filter::Read, ADD_ET)
            ]
        );
    }
}
