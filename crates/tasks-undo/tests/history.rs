//! Which turn an undo picks from the history items the ghost-snapshot kind records.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use turnkit_git_snapshot::{ObjectId, Snapshot};
use turnkit_protocol::ResponseItem;
use turnkit_tasks_undo::{
    Error, PHASE_AFTER, PHASE_BEFORE, PHASE_MANUAL, PHASE_UNDONE, find_undoable_turn,
};

fn id(digit: char) -> ObjectId {
    digit.to_string().repeat(40).parse().expect("a valid id")
}

fn snapshot(commit: char, tree: char) -> Snapshot {
    Snapshot {
        commit: id(commit),
        tree: id(tree),
        head: None,
        scope: PathBuf::new(),
        skipped: Vec::new(),
        modes: std::collections::BTreeMap::new(),
        unfiltered: Vec::new(),
        paths_read: 0,
        elapsed: Duration::ZERO,
    }
}

fn item(turn: &str, phase: &str, snapshot: &Snapshot) -> ResponseItem {
    ResponseItem::GhostSnapshot {
        commit: snapshot.commit.to_string(),
        phase: phase.to_owned(),
        turn_id: turn.to_owned(),
        snapshot: serde_json::to_value(snapshot).expect("a snapshot serialises"),
    }
}

fn undone(turn: &str) -> ResponseItem {
    ResponseItem::GhostSnapshot {
        commit: id('0').to_string(),
        phase: PHASE_UNDONE.to_owned(),
        turn_id: turn.to_owned(),
        snapshot: serde_json::Value::Null,
    }
}

fn picked(history: &[ResponseItem]) -> Option<String> {
    find_undoable_turn(history)
        .expect("the history is readable")
        .map(|turn| turn.turn_id)
}

#[test]
fn an_empty_history_has_nothing_to_undo() {
    assert_eq!(picked(&[]), None);
    assert_eq!(picked(&[ResponseItem::user_text("hello")]), None);
}

#[test]
fn the_turn_whose_after_snapshot_is_last_is_picked() {
    let history = [
        item("t1", PHASE_BEFORE, &snapshot('1', 'a')),
        item("t1", PHASE_AFTER, &snapshot('2', 'b')),
        ResponseItem::assistant_text("done"),
        item("t2", PHASE_BEFORE, &snapshot('3', 'b')),
        item("t2", PHASE_AFTER, &snapshot('4', 'c')),
    ];
    let turn = find_undoable_turn(&history).unwrap().unwrap();
    assert_eq!(turn.turn_id, "t2");
    assert_eq!(turn.before, snapshot('3', 'b'));
    assert_eq!(turn.after, snapshot('4', 'c'));
}

#[test]
fn undone_turns_are_skipped_so_undo_walks_back() {
    let mut history = vec![
        item("t1", PHASE_BEFORE, &snapshot('1', 'a')),
        item("t1", PHASE_AFTER, &snapshot('2', 'b')),
        item("t2", PHASE_BEFORE, &snapshot('3', 'b')),
        item("t2", PHASE_AFTER, &snapshot('4', 'c')),
        undone("t2"),
    ];
    assert_eq!(picked(&history).as_deref(), Some("t1"));
    history.push(undone("t1"));
    assert_eq!(picked(&history), None);
}

#[test]
fn a_turn_without_both_snapshots_or_with_only_manual_ones_is_not_picked() {
    let history = [
        item("t1", PHASE_BEFORE, &snapshot('1', 'a')),
        item("t1", PHASE_AFTER, &snapshot('2', 'b')),
        item("t2", PHASE_BEFORE, &snapshot('3', 'b')),
        item("t3", PHASE_AFTER, &snapshot('4', 'c')),
        item("t4", PHASE_MANUAL, &snapshot('5', 'd')),
        item("t4", PHASE_MANUAL, &snapshot('6', 'e')),
    ];
    assert_eq!(picked(&history).as_deref(), Some("t1"));
}

#[test]
fn a_turn_whose_snapshots_hold_the_same_tree_is_passed_over() {
    let history = [
        item("t1", PHASE_BEFORE, &snapshot('1', 'a')),
        item("t1", PHASE_AFTER, &snapshot('2', 'b')),
        item("t2", PHASE_BEFORE, &snapshot('3', 'b')),
        item("t2", PHASE_AFTER, &snapshot('4', 'b')),
    ];
    assert_eq!(picked(&history).as_deref(), Some("t1"));
}

#[test]
fn an_unreadable_snapshot_stops_the_search_instead_of_undoing_an_older_turn() {
    let history = [
        item("t1", PHASE_BEFORE, &snapshot('1', 'a')),
        item("t1", PHASE_AFTER, &snapshot('2', 'b')),
        item("t2", PHASE_BEFORE, &snapshot('3', 'b')),
        ResponseItem::GhostSnapshot {
            commit: id('4').to_string(),
            phase: PHASE_AFTER.to_owned(),
            turn_id: "t2".to_owned(),
            snapshot: json!({"commit": "not an id"}),
        },
    ];
    let error = find_undoable_turn(&history).unwrap_err();
    assert!(
        matches!(&error, Error::UnreadableSnapshot { turn_id, phase, .. } if turn_id == "t2" && phase == PHASE_AFTER)
    );
    assert_eq!(
        error.to_string(),
        "the `after` snapshot of turn `t2` in the history cannot be read, so that turn cannot be undone (the history may come from another turnkit version)"
    );
}
