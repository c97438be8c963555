//! The base's line to its backend: interest changes, at once or through the changelist.

use crate::backend::{Backend, Change, ChangeOp, FdInfo};
use crate::changelist::Changelist;
use crate::storage::Storage;
use crate::{Error, RawFd, Resource, What};

/// The backend, the changelist in front of it when it takes one, and the error of a batch that
/// failed after the `add` that caused it had returned.
pub(super) struct Io<B, S> {
    pub(super) backend: B,
    pub(super) changes: Changelist<S>,
    /// Whether changes go through the changelist ([`Info::changelist`](crate::Info::changelist)).
    pub(super) changelist: bool,
    /// A deferred backend error (a changelist batch that failed), kept for the caller.
    pub(super) deferred: Option<Error>,
}

impl<B: Backend, S: Storage<Change>> Io<B, S> {
    pub(super) fn new(backend: B, changes: S) -> Self {
        Io {
            changelist: backend.info().changelist,
            backend,
            changes: Changelist::new(changes),
            deferred: None,
        }
    }

    /// Tells the backend that `fd`, watched for `old`, gains (`op` is [`ChangeOp::ADD`]) or
    /// loses ([`ChangeOp::DEL`]) `events`: at once ([`Backend::add`], [`Backend::del`]) or
    /// through the changelist.
    #[inline]
    pub(super) fn change(
        &mut self,
        op: ChangeOp,
        fd: RawFd,
        old: What,
        events: What,
        info: &mut FdInfo,
    ) -> Result<(), Error> {
        let add = op.contains(ChangeOp::ADD);
        match (self.changelist, add) {
            (false, true) => self.backend.add(fd, old, events, info),
            (false, false) => self.backend.del(fd, old, events, info),
            (true, true) => self.record(Change::add(fd, old, events), info),
            (true, false) => self.record(Change::del(fd, old, events), info),
        }
    }

    /// Hands the pending changes to the backend and clears them; an error is deferred, not
    /// returned: it belongs to the calls that recorded them, which have returned.
    pub(super) fn flush(&mut self) {
        if self.changes.is_empty() {
            return;
        }
        if let Err(e) = self.backend.apply(self.changes.changes()) {
            self.deferred = Some(e);
        }
        self.changes.clear();
    }

    /// Records `change`; when the changelist is full, flushes it first.
    fn record(&mut self, change: Change, info: &mut FdInfo) -> Result<(), Error> {
        let Err(change) = self.changes.record(change, info) else {
            return Ok(());
        };
        self.flush();
        self.changes
            .record(change, info)
            .map_err(|_| Error::Full(Resource::Changelist))
    }
}
