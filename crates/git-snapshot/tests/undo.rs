//! Undo: what it restores, what it leaves alone, and how it treats symlinks, modes, filters
//! and cancellation.

mod support;

#[cfg(unix)]
use std::os::unix::fs::{PermissionsExt, symlink};

use support::TestRepo;
use tokio_util::sync::CancellationToken;
use turnkit_git_snapshot::{ConflictReason, UndoAction, apply_undo, plan_undo};

#[tokio::test]
async fn a_file_changed_by_hand_since_the_turn_is_a_conflict_and_left_alone() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.write("b.txt", "1\n");
    test.commit_all("initial");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    test.write("a.txt", "turn\n");
    test.write("b.txt", "turn\n");
    test.write("c.txt", "turn\n");
    let after = test.snapshot(&repo).await;
    test.write("a.txt", "the user's edit\n");
    test.write("c.txt", "the user's edit\n");

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    let conflicts: Vec<_> = plan
        .conflicts
        .iter()
        .map(|c| (c.path.to_str().unwrap(), c.reason))
        .collect();
    assert_eq!(
        conflicts,
        [
            ("a.txt", ConflictReason::ChangedSince),
            ("c.txt", ConflictReason::ChangedSince)
        ]
    );
    assert_eq!(
        test.read("b.txt").unwrap(),
        b"turn\n",
        "planning touches nothing"
    );
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert_eq!(report.restored.len(), 1);
    assert_eq!(test.read("a.txt").unwrap(), b"the user's edit\n");
    assert_eq!(test.read("b.txt").unwrap(), b"1\n");
    assert_eq!(test.read("c.txt").unwrap(), b"the user's edit\n");
}

#[tokio::test]
async fn a_change_between_plan_and_apply_is_caught_at_apply() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.commit_all("initial");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    test.write("a.txt", "turn\n");
    let after = test.snapshot(&repo).await;
    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert_eq!(plan.steps.len(), 1);
    test.write("a.txt", "late edit\n");

    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].reason, ConflictReason::ChangedSince);
    assert_eq!(test.read("a.txt").unwrap(), b"late edit\n");
}

#[tokio::test]
async fn undo_twice_finds_nothing_left_to_do() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.commit_all("initial");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    test.write("a.txt", "turn\n");
    let after = test.snapshot(&repo).await;
    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    apply_undo(&plan, &cancel).await.unwrap();

    let again = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(again.is_empty());
    assert!(!again.has_conflicts());
    assert_eq!(again.already_undone.len(), 1);
}

#[cfg(unix)]
#[tokio::test]
async fn modes_and_symlinks_are_restored_without_following_links() {
    let test = TestRepo::new();
    test.write("run.sh", "#!/bin/sh\n");
    std::fs::set_permissions(test.path("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    symlink("run.sh", test.path("link")).unwrap();
    test.write("plain.txt", "plain\n");
    test.commit_all("initial");
    let outside = test.root().join("outside.txt");
    std::fs::write(&outside, "outside\n").unwrap();
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;

    std::fs::set_permissions(test.path("run.sh"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(test.path("link")).unwrap();
    test.write("link", "now a file\n");
    std::fs::remove_file(test.path("plain.txt")).unwrap();
    symlink(&outside, test.path("plain.txt")).unwrap();
    let after = test.snapshot(&repo).await;

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.is_complete(), "{report:?}");

    let mode = std::fs::metadata(test.path("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o100, 0o100, "the executable bit is back");
    assert_eq!(
        std::fs::read_link(test.path("link")).unwrap().to_str(),
        Some("run.sh")
    );
    let plain_file = std::fs::symlink_metadata(test.path("plain.txt")).unwrap();
    assert!(
        plain_file.is_file(),
        "the symlink is replaced, not written through"
    );
    assert_eq!(test.read("plain.txt").unwrap(), b"plain\n");
    assert_eq!(std::fs::read(&outside).unwrap(), b"outside\n");
}

#[cfg(unix)]
#[tokio::test]
async fn a_directory_replaced_by_a_symlink_is_restored_inside_the_repository() {
    let test = TestRepo::new();
    test.write("dir/a.txt", "a\n");
    test.commit_all("initial");
    let outside = test.root().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;

    std::fs::remove_dir_all(test.path("dir")).unwrap();
    symlink(&outside, test.path("dir")).unwrap();
    let after = test.snapshot(&repo).await;

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(matches!(plan.steps[0].action, UndoAction::Delete));
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert!(
        std::fs::symlink_metadata(test.path("dir"))
            .unwrap()
            .is_dir()
    );
    assert_eq!(test.read("dir/a.txt").unwrap(), b"a\n");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written through the link"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_parent_left_by_the_user_blocks_the_restore() {
    let test = TestRepo::new();
    test.write("dir/a.txt", "a\n");
    test.commit_all("initial");
    let outside = test.root().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    std::fs::remove_dir_all(test.path("dir")).unwrap();
    let after = test.snapshot(&repo).await;
    symlink(&outside, test.path("dir")).unwrap();

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].reason, ConflictReason::Blocked);
    apply_undo(&plan, &cancel).await.unwrap();
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[tokio::test]
async fn a_file_that_became_ignored_is_not_deleted() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.commit_all("initial");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    test.write("notes.log", "the turn's notes\n");
    let after = test.snapshot(&repo).await;
    std::fs::write(test.git_dir().join("info/exclude"), "*.log\n").unwrap();

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].reason, ConflictReason::Ignored);
    apply_undo(&plan, &cancel).await.unwrap();
    assert!(test.read("notes.log").is_some());
}

#[tokio::test]
async fn line_endings_are_restored_through_the_users_attributes() {
    let test = TestRepo::new();
    test.write(".gitattributes", "*.txt text eol=crlf\n");
    test.write("a.txt", "one\r\ntwo\r\n");
    test.commit_all("initial");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    test.write("a.txt", "three\r\n");
    let after = test.snapshot(&repo).await;

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(apply_undo(&plan, &cancel).await.unwrap().is_complete());
    assert_eq!(test.read("a.txt").unwrap(), b"one\r\ntwo\r\n");
}

#[tokio::test]
async fn a_cancelled_undo_touches_nothing_and_says_so() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.write("b.txt", "1\n");
    test.commit_all("initial");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    test.write("a.txt", "turn\n");
    test.write("b.txt", "turn\n");
    let after = test.snapshot(&repo).await;
    let plan = plan_undo(&repo, &before, &after, &CancellationToken::new())
        .await
        .unwrap();

    let cancel = CancellationToken::new();
    cancel.cancel();
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.cancelled);
    assert_eq!(report.not_done.len(), 2);
    assert!(report.restored.is_empty());
    assert_eq!(test.read("a.txt").unwrap(), b"turn\n");
    assert_eq!(test.read("b.txt").unwrap(), b"turn\n");
}

#[tokio::test]
async fn a_file_replaced_by_a_directory_comes_back() {
    let test = TestRepo::new();
    test.write("thing", "a file\n");
    test.commit_all("initial");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    std::fs::remove_file(test.path("thing")).unwrap();
    test.write("thing/inner.txt", "inner\n");
    let after = test.snapshot(&repo).await;

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(test.read("thing").unwrap(), b"a file\n");
}

#[tokio::test]
async fn a_large_file_left_out_before_the_turn_is_never_deleted() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.commit_all("initial");
    test.write("data.bin", vec![1_u8; 4096]);
    let repo = test.open().await;
    let options = turnkit_git_snapshot::SnapshotOptions {
        max_untracked_file_size: 1024,
        ..test.options()
    };
    let cancel = CancellationToken::new();
    let before = turnkit_git_snapshot::snapshot(&repo, &options, &cancel)
        .await
        .unwrap();
    test.write("data.bin", "small now\n");
    let after = turnkit_git_snapshot::snapshot(&repo, &options, &cancel)
        .await
        .unwrap();

    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].reason, ConflictReason::NotCaptured);
    apply_undo(&plan, &cancel).await.unwrap();
    assert_eq!(test.read("data.bin").unwrap(), b"small now\n");
}
