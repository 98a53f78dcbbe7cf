//! Undo through a real session in a real git repository: what it restores, what it leaves
//! alone, what it tells the user and records for the model, and how repeated undo walks back.

mod support;

use insta::assert_json_snapshot;
use serde_json::json;
use support::{
    Edits, Fixture, before_commit, completed, developer_messages, developer_text, undone_markers,
};

/// A repository with three committed files and an ignored one.
fn project() -> Fixture {
    let fixture = Fixture::new();
    fixture.write(".gitignore", "*.log\n");
    fixture.write("a.txt", "a before\n");
    fixture.write("b.txt", "b before\n");
    fixture.write("src/c.txt", "c before\n");
    fixture.commit_all("initial");
    fixture.write("debug.log", "the user's log\n");
    fixture
}

#[tokio::test]
async fn undo_restores_modified_and_deleted_files_and_removes_created_ones() {
    let mut fixture = project();
    let before_turn = fixture.files();
    let turn = fixture
        .turn(
            &Edits::new()
                .write("a.txt", "a by the turn\n")
                .delete("b.txt")
                .write("new.txt", "created by the turn\n")
                .write("newdir/deep/d.txt", "created by the turn\n")
                .write("debug.log", "the turn's log\n"),
        )
        .await;
    let git_before_undo = fixture.git_state();

    let events = fixture.undo().await;

    let mut expected = before_turn;
    expected.insert("debug.log".into(), "the turn's log\n".into());
    assert_eq!(
        fixture.files(),
        expected,
        "every tracked or untracked file is back as before the turn; the ignored log is left as it is"
    );
    assert!(
        !fixture.cwd().join("newdir").exists(),
        "directories the turn created are removed"
    );
    assert_eq!(
        fixture.git_state(),
        git_before_undo,
        "undo changes no index, HEAD, ref or stash"
    );
    let done = completed(&events);
    assert!(done.success);

    let history = fixture.history();
    assert_eq!(
        undone_markers(&history),
        [(turn.clone(), before_commit(&history, &turn))]
    );
    let messages = developer_messages(&history);
    assert_eq!(messages.len(), 1);
    assert!(
        history.last().and_then(developer_text).is_some(),
        "the model's note is the last item"
    );
    assert_json_snapshot!(json!({
        "events": fixture.normalize(&events),
        "developer_message": messages[0],
    }));
}

#[tokio::test]
async fn a_file_edited_after_the_turn_is_a_conflict_left_as_the_user_left_it() {
    let mut fixture = project();
    let turn = fixture
        .turn(
            &Edits::new()
                .write("a.txt", "a by the turn\n")
                .write("b.txt", "b by the turn\n")
                .write("new.txt", "created by the turn\n"),
        )
        .await;
    fixture.write("a.txt", "a edited by the user\n");
    fixture.write("new.txt", "kept by the user\n");

    let events = fixture.undo().await;

    assert_eq!(fixture.read("a.txt").unwrap(), "a edited by the user\n");
    assert_eq!(fixture.read("new.txt").unwrap(), "kept by the user\n");
    assert_eq!(fixture.read("b.txt").unwrap(), "b before\n");
    let done = completed(&events);
    assert!(!done.success);
    assert_eq!(done.conflicts, ["a.txt", "new.txt"]);
    assert_eq!(done.restored, ["b.txt"]);
    assert!(
        done.message.starts_with("left 2 files of turn"),
        "conflicts come first: {}",
        done.message
    );
    let history = fixture.history();
    assert_eq!(
        undone_markers(&history).len(),
        1,
        "the rest of the turn was undone, so the next undo moves on"
    );
    let messages = developer_messages(&history);
    assert!(
        messages[0]
            .contains("left as the user has them now (changed after that turn): a.txt, new.txt")
    );
    assert_eq!(turn, "sub-1");
    assert_json_snapshot!(json!({
        "events": fixture.normalize(&events),
        "developer_message": messages[0],
    }));
}

#[tokio::test]
async fn nothing_to_undo_without_a_turn_with_snapshots_changes_nothing() {
    let mut fixture = project();
    let files = fixture.files();
    let git = fixture.git_state();

    let events = fixture.undo().await;

    assert_eq!(fixture.files(), files);
    assert_eq!(fixture.git_state(), git);
    assert!(fixture.history().is_empty(), "nothing is recorded");
    let done = completed(&events);
    assert!(!done.success);
    assert!(
        done.message
            .starts_with("nothing to undo: no turn with file snapshots")
    );
    assert_json_snapshot!(fixture.normalize(&events));
}

#[tokio::test]
async fn not_a_git_repository_is_reported_and_nothing_changes() {
    let mut fixture = Fixture::without_git();
    fixture.write("notes.txt", "mine\n");

    let events = fixture.undo().await;

    assert_eq!(
        fixture.files().into_iter().collect::<Vec<_>>(),
        [("notes.txt".to_owned(), "mine\n".to_owned())]
    );
    assert!(fixture.history().is_empty());
    let done = completed(&events);
    assert!(!done.success);
    assert!(done.message.contains("is not inside a git repository"));
    assert_json_snapshot!(fixture.normalize(&events));
}

#[tokio::test]
async fn a_repository_removed_after_the_turn_is_reported_and_nothing_changes() {
    let mut fixture = project();
    fixture
        .turn(&Edits::new().write("a.txt", "a by the turn\n"))
        .await;
    std::fs::remove_dir_all(fixture.cwd().join(".git")).unwrap();
    let files = fixture.files();

    let events = fixture.undo().await;

    assert_eq!(fixture.files(), files);
    let done = completed(&events);
    assert!(!done.success);
    assert!(
        done.message
            .contains("is no longer inside a git repository"),
        "{}",
        done.message
    );
    assert!(done.message.ends_with("nothing was changed"));
    assert!(undone_markers(&fixture.history()).is_empty());
    assert!(developer_messages(&fixture.history()).is_empty());
}

#[tokio::test]
async fn repeated_undo_walks_back_turn_by_turn() {
    let mut fixture = project();
    let first = fixture
        .turn(&Edits::new().write("a.txt", "a by turn 1\n"))
        .await;
    let second = fixture
        .turn(
            &Edits::new()
                .write("a.txt", "a by turn 2\n")
                .write("x.txt", "created by turn 2\n"),
        )
        .await;

    let undo_second = fixture.undo().await;
    assert_eq!(fixture.read("a.txt").unwrap(), "a by turn 1\n");
    assert_eq!(fixture.read("x.txt"), None);

    let undo_first = fixture.undo().await;
    assert_eq!(fixture.read("a.txt").unwrap(), "a before\n");

    let undo_nothing = fixture.undo().await;
    assert!(!completed(&undo_nothing).success);
    assert_eq!(fixture.read("a.txt").unwrap(), "a before\n");

    let history = fixture.history();
    let markers: Vec<String> = undone_markers(&history)
        .into_iter()
        .map(|(turn, _)| turn)
        .collect();
    assert_eq!(markers, [second, first]);
    assert_eq!(developer_messages(&history).len(), 2);
    assert_json_snapshot!(json!({
        "second": fixture.normalize(&undo_second),
        "first": fixture.normalize(&undo_first),
        "nothing": fixture.normalize(&undo_nothing),
    }));
}

#[tokio::test]
async fn ignored_files_are_never_touched() {
    let mut fixture = project();
    fixture
        .turn(
            &Edits::new()
                .write("debug.log", "the turn's log\n")
                .write("generated.txt", "created by the turn\n")
                .write("a.txt", "a by the turn\n"),
        )
        .await;
    // The user ignores the file the turn created: undo must not delete an ignored file.
    fixture.write(".gitignore", "*.log\ngenerated.txt\n");

    let events = fixture.undo().await;

    assert_eq!(fixture.read("debug.log").unwrap(), "the turn's log\n");
    assert_eq!(
        fixture.read("generated.txt").unwrap(),
        "created by the turn\n"
    );
    let done = completed(&events);
    assert_eq!(done.conflicts, ["generated.txt"]);
    assert!(done.message.contains("generated.txt (ignored by git)"));
    assert!(!done.success);
}

#[tokio::test]
async fn a_turn_already_reverted_by_hand_is_confirmed_and_marked_undone() {
    let mut fixture = project();
    let turn = fixture
        .turn(&Edits::new().write("a.txt", "a by the turn\n"))
        .await;
    fixture.write("a.txt", "a before\n");

    let events = fixture.undo().await;

    let done = completed(&events);
    assert!(done.success);
    assert!(done.restored.is_empty() && done.deleted.is_empty());
    assert_eq!(
        done.message,
        "nothing left to undo for turn sub-1: the 1 file it changed is already as before it"
    );
    let history = fixture.history();
    assert_eq!(undone_markers(&history).len(), 1);
    assert_eq!(turn, "sub-1");
    let messages = developer_messages(&history);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("had already been reverted"));

    let again = fixture.undo().await;
    assert!(completed(&again).message.starts_with("nothing to undo"));
}

#[tokio::test]
async fn a_turn_whose_every_change_conflicts_stays_undoable_and_records_nothing() {
    let mut fixture = project();
    fixture
        .turn(&Edits::new().write("a.txt", "a by the turn\n"))
        .await;
    fixture.write("a.txt", "a edited by the user\n");

    let first = completed(&fixture.undo().await);
    let second = completed(&fixture.undo().await);

    assert_eq!(first.conflicts, ["a.txt"]);
    assert_eq!(first, second, "the same turn is reported again");
    assert_eq!(
        first.message,
        "left 1 file of turn sub-1 alone: a.txt (changed since the turn); nothing else was changed"
    );
    assert_eq!(fixture.read("a.txt").unwrap(), "a edited by the user\n");
    let history = fixture.history();
    assert!(undone_markers(&history).is_empty());
    assert!(developer_messages(&history).is_empty());
}

#[tokio::test]
async fn a_turn_that_changed_no_file_is_passed_over() {
    let mut fixture = project();
    fixture
        .turn(&Edits::new().write("a.txt", "a by turn 1\n"))
        .await;
    fixture
        .turn(&Edits::new().write("b.txt", "b before\n"))
        .await;

    let done = completed(&fixture.undo().await);

    assert!(done.success, "{}", done.message);
    assert!(done.message.contains("turn sub-1"), "{}", done.message);
    assert_eq!(done.restored, ["a.txt"]);
}

#[tokio::test]
async fn undo_only_appends_to_the_history() {
    let mut fixture = project();
    fixture
        .turn(&Edits::new().write("a.txt", "a by the turn\n"))
        .await;
    let history = fixture.history();

    let events = fixture.undo().await;
    assert_eq!(fixture.read("a.txt").unwrap(), "a before\n");
    assert_eq!(
        fixture.history()[..history.len()],
        history[..],
        "undo only appends to the history"
    );
    assert!(completed(&events).success);
}
