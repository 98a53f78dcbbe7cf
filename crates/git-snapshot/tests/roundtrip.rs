//! The basic cycle: snapshot, a turn changes files, snapshot, undo brings them back.

mod support;

use support::TestRepo;
use tokio_util::sync::CancellationToken;
use turnkit_git_snapshot::{ChangeKind, apply_undo, diff, plan_undo};

#[tokio::test]
async fn undo_restores_modified_deleted_and_removes_created_files() {
    let test = TestRepo::new();
    test.write("a.txt", "one\n");
    test.write("dir/b.txt", "two\n");
    test.write("gone.txt", "bye\n");
    test.commit_all("initial");
    test.write("untracked.txt", "mine\n");
    let repo = test.open().await;
    let state = test.state();

    let before = test.snapshot(&repo).await;
    test.write("a.txt", "changed\n");
    std::fs::remove_file(test.path("gone.txt")).unwrap();
    test.write("new/deep/c.txt", "new\n");
    test.write("untracked.txt", "edited by the turn\n");
    let after = test.snapshot(&repo).await;

    let cancel = CancellationToken::new();
    let changes = diff(&repo, &before, &after, &cancel).await.unwrap();
    let kinds: Vec<_> = changes
        .iter()
        .map(|c| (c.path.to_str().unwrap().to_owned(), c.kind()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("a.txt".to_owned(), ChangeKind::Modified),
            ("gone.txt".to_owned(), ChangeKind::Deleted),
            ("new/deep/c.txt".to_owned(), ChangeKind::Added),
            ("untracked.txt".to_owned(), ChangeKind::Modified),
        ]
    );

    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    assert_eq!(plan.steps.len(), 4);
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(test.read("a.txt").unwrap(), b"one\n");
    assert_eq!(test.read("gone.txt").unwrap(), b"bye\n");
    assert_eq!(test.read("untracked.txt").unwrap(), b"mine\n");
    assert!(
        !test.path("new").exists(),
        "directories the turn created are removed"
    );
    assert_eq!(test.state(), state);
}
