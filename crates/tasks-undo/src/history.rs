//! Reading and writing the history items undo agrees on with the ghost-snapshot task kind.
//!
//! The ghost-snapshot task records one `ResponseItem::GhostSnapshot` per snapshot, tagged with
//! the turn's submission id and a phase. Undo looks for the most recent turn with a `before`
//! and an `after` item and no `undone` item, and records an `undone` item once it has undone it,
//! so a repeated undo walks back to the turn before.

use std::collections::HashMap;

use serde::Deserialize;
use turnkit_git_snapshot::Snapshot;
use turnkit_protocol::{ContentItem, ResponseItem, Role};

use crate::Error;

/// The phase of a snapshot taken before a turn's first tool that can change files.
pub const PHASE_BEFORE: &str = "before";
/// The phase of a snapshot taken when a turn that took a `before` snapshot ends.
pub const PHASE_AFTER: &str = "after";
/// The phase of a snapshot a client asked for; undo never picks it.
pub const PHASE_MANUAL: &str = "manual";
/// The phase of the marker undo records once it has undone a turn's file changes.
pub const PHASE_UNDONE: &str = "undone";

/// The turn undo would revert next, with both of its snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UndoableTurn {
    /// The submission id of the turn.
    pub turn_id: String,
    /// The snapshot taken before the turn changed files, which undo goes back to.
    pub before: Snapshot,
    /// The snapshot taken when the turn ended, which the working tree must still match.
    pub after: Snapshot,
}

/// Finds the turn a repeated undo reverts next: the most recent one with a `before` and an
/// `after` snapshot, no `undone` marker, and a change between the two.
///
/// "Most recent" is the turn whose `after` item comes last. A turn whose two snapshots hold the
/// same tree changed nothing that undo could revert, so it is passed over; that needs its
/// snapshots read, and a snapshot that cannot be read stops the search with an error rather
/// than reverting an older turn under a newer one. `Ok(None)` means there is nothing to undo.
pub fn find_undoable_turn(history: &[ResponseItem]) -> Result<Option<UndoableTurn>, Error> {
    let mut turns: HashMap<&str, TurnItems<'_>> = HashMap::new();
    for (position, item) in history.iter().enumerate() {
        let ResponseItem::GhostSnapshot {
            phase,
            turn_id,
            snapshot,
            ..
        } = item
        else {
            continue;
        };
        let turn = turns.entry(turn_id.as_str()).or_default();
        match phase.as_str() {
            // The earliest `before` and the latest `after` span the whole turn.
            PHASE_BEFORE => {
                turn.before.get_or_insert(snapshot);
            }
            PHASE_AFTER => turn.after = Some((position, snapshot)),
            PHASE_UNDONE => turn.undone = true,
            _ => {}
        }
    }

    let mut candidates: Vec<(usize, &str, &serde_json::Value, &serde_json::Value)> = turns
        .iter()
        .filter(|(_, turn)| !turn.undone)
        .filter_map(|(turn_id, turn)| {
            let (position, after) = turn.after?;
            Some((position, *turn_id, turn.before?, after))
        })
        .collect();
    candidates.sort_by_key(|(position, ..)| std::cmp::Reverse(*position));
    for (_, turn_id, before, after) in candidates {
        let before = read_snapshot(turn_id, PHASE_BEFORE, before)?;
        let after = read_snapshot(turn_id, PHASE_AFTER, after)?;
        if before.tree != after.tree {
            return Ok(Some(UndoableTurn {
                turn_id: turn_id.to_owned(),
                before,
                after,
            }));
        }
    }
    Ok(None)
}

#[derive(Default)]
struct TurnItems<'a> {
    before: Option<&'a serde_json::Value>,
    after: Option<(usize, &'a serde_json::Value)>,
    undone: bool,
}

fn read_snapshot(turn_id: &str, phase: &str, value: &serde_json::Value) -> Result<Snapshot, Error> {
    Snapshot::deserialize(value).map_err(|source| Error::UnreadableSnapshot {
        turn_id: turn_id.to_owned(),
        phase: phase.to_owned(),
        source,
    })
}

/// The marker that tells a later undo this turn's file changes are undone.
pub(crate) fn undone_marker(before_commit: String, turn_id: &str) -> ResponseItem {
    ResponseItem::GhostSnapshot {
        commit: before_commit,
        phase: PHASE_UNDONE.to_owned(),
        turn_id: turn_id.to_owned(),
        snapshot: serde_json::Value::Null,
    }
}

/// A message the model reads: what the user's undo did to the files.
pub(crate) fn developer_message(text: String) -> ResponseItem {
    ResponseItem::Message {
        role: Role::Developer,
        content: vec![ContentItem::InputText { text }],
    }
}
