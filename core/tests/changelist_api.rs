//! The changelist through its public API only, for what the property tests leave implicit: the
//! emptiness check the dispatch path relies on, the ET bit of a change, and an fd recorded again
//! after a clear (whose stale index must not be trusted). Pure logic, no kernel.

use eventop_core::{Change, ChangeOp, Changelist, FdInfo, What};

#[test]
fn empty_until_recorded_and_after_clear() {
    let mut buf = [Change::default(); 4];
    let mut cl = Changelist::new(&mut buf[..]);
    assert!(cl.is_empty());
    assert!(cl.changes().is_empty());
    let mut info = FdInfo::default();
    cl.record(Change::add(3, What::empty(), What::READ), &mut info)
        .unwrap();
    assert!(!cl.is_empty());
    let c = cl.changes()[0];
    assert_eq!(
        (c.fd, c.read, c.new_interest()),
        (3, ChangeOp::ADD, What::READ)
    );
    cl.clear();
    assert!(cl.is_empty());
}

#[test]
fn edge_triggered_only_when_asked() {
    let mut buf = [Change::default(); 4];
    let mut cl = Changelist::new(&mut buf[..]);
    let (mut a, mut b) = (FdInfo::default(), FdInfo::default());
    cl.record(Change::add(3, What::empty(), What::READ), &mut a)
        .unwrap();
    cl.record(
        Change::add(4, What::empty(), What::WRITE | What::ET),
        &mut b,
    )
    .unwrap();
    let [lt, et] = cl.changes() else {
        panic!("two changes")
    };
    assert!(!lt.edge_triggered());
    assert!(et.edge_triggered());
    assert!(!Change::default().edge_triggered());
}

/// After a clear, the fd's word still holds its old index; recording the fd again makes a new
/// entry in the new batch, with the interest it has now, instead of reviving the old one.
#[test]
fn an_fd_recorded_again_after_a_clear_gets_a_fresh_entry() {
    let mut buf = [Change::default(); 4];
    let mut cl = Changelist::new(&mut buf[..]);
    let mut info = FdInfo::default();
    cl.record(Change::add(7, What::empty(), What::READ), &mut info)
        .unwrap();
    cl.clear();
    cl.record(Change::del(7, What::READ, What::READ), &mut info)
        .unwrap();
    assert_eq!(cl.changes().len(), 1, "the delete is in the new batch");
    let c = cl.changes()[0];
    assert_eq!((c.fd, c.old, c.read), (7, What::READ, ChangeOp::DEL));
    assert_eq!(c.new_interest(), What::empty());
}
