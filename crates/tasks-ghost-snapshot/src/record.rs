//! The history item a snapshot leaves, as the contract with the undo task defines it.

use turnkit_git_snapshot::Snapshot;
use turnkit_protocol::ResponseItem;
use turnkit_session_core::TaskContext;

use crate::Error;

/// When a snapshot was taken; the `phase` of its history item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Before the turn's first tool that can change files.
    Before,
    /// When a turn that took a "before" snapshot ends.
    After,
    /// On a client's request (`Op::Custom { name: "ghost_snapshot", .. }`).
    Manual,
}

impl Phase {
    /// The `phase` string of the history item.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::After => "after",
            Phase::Manual => "manual",
        }
    }

    /// The snapshot, named for a person.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Phase::Before => "the snapshot before this turn's changes",
            Phase::After => "the snapshot at the end of this turn",
            Phase::Manual => "the snapshot",
        }
    }
}

/// Appends `ResponseItem::GhostSnapshot` for `snapshot` to the history, under this turn's id.
///
/// The payload is the whole [`Snapshot`] as JSON, so undo knows what it left out.
pub(crate) fn record(ctx: &TaskContext, phase: Phase, snapshot: &Snapshot) -> Result<(), Error> {
    let commit = snapshot.commit.to_string();
    let payload = match serde_json::to_value(snapshot) {
        Ok(payload) => payload,
        Err(source) => return Err(Error::Record { commit, source }),
    };
    ctx.record_items([ResponseItem::GhostSnapshot {
        commit,
        phase: phase.as_str().to_owned(),
        turn_id: ctx.sub_id().to_owned(),
        snapshot: payload,
    }]);
    Ok(())
}
