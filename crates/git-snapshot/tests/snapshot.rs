//! Taking snapshots in the situations a user's repository is really in, and what they leave
//! alone.

mod support;

use std::time::Duration;

use support::TestRepo;
use tokio_util::sync::CancellationToken;
use turnkit_git_snapshot::{
    ChangeKind, Error, PruneOptions, SkipReason, Snapshot, SnapshotOptions, apply_undo, diff,
    plan_undo, prune, snapshot,
};

/// The object directories of turnkit's snapshot store, one per day.
fn snapshot_generations(test: &TestRepo) -> Vec<String> {
    let store = test.git_dir().join("turnkit/objects");
    std::fs::read_dir(&store)
        .expect("the snapshot store exists")
        .map(|entry| {
            let path = entry.expect("a store entry").path();
            path.to_str().expect("a UTF-8 temp path").to_owned()
        })
        .collect()
}

/// The objects a snapshot reaches that no object store can provide.
fn missing_objects(test: &TestRepo, snapshot: &Snapshot) -> Vec<String> {
    let generations = snapshot_generations(test);
    let mut command = test.command_in(
        &test.work,
        &[
            "rev-list",
            "--objects",
            "--missing=print",
            snapshot.commit.as_str(),
        ],
    );
    command.env("GIT_ALTERNATE_OBJECT_DIRECTORIES", generations.join(":"));
    let output = command.output().expect("fixture step");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("fixture step")
        .lines()
        .filter(|line| line.starts_with('?'))
        .map(str::to_owned)
        .collect()
}

fn tree_paths(test: &TestRepo, snapshot: &Snapshot) -> Vec<String> {
    let generations = snapshot_generations(test);
    let mut command = test.command_in(
        &test.work,
        &["ls-tree", "-r", "--name-only", snapshot.tree.as_str()],
    );
    command.env("GIT_ALTERNATE_OBJECT_DIRECTORIES", generations.join(":"));
    let output = command.output().expect("fixture step");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("fixture step")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn unborn_branch_snapshot_has_no_parent_and_undoes() {
    let test = TestRepo::new();
    test.write("staged.txt", "staged\n");
    test.git(&["add", "staged.txt"]);
    test.write("loose.txt", "loose\n");
    let repo = test.open().await;
    let state = test.state();

    let before = test.snapshot(&repo).await;
    assert_eq!(before.head, None);
    assert_eq!(tree_paths(&test, &before), ["loose.txt", "staged.txt"]);
    test.write("staged.txt", "turn\n");
    test.write("new.txt", "turn\n");
    let after = test.snapshot(&repo).await;

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(test.read("staged.txt").unwrap(), b"staged\n");
    assert!(test.read("new.txt").is_none());
    assert_eq!(test.state(), state);
    assert!(missing_objects(&test, &before).is_empty());
}

#[tokio::test]
async fn detached_head_is_the_parent_and_stays_detached() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.commit_all("one");
    test.write("a.txt", "2\n");
    test.commit_all("two");
    test.git(&["checkout", "-q", "--detach", "HEAD~1"]);
    let head = test.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let repo = test.open().await;
    let state = test.state();

    let snap = test.snapshot(&repo).await;
    assert_eq!(
        snap.head.as_ref().map(|id| id.as_str().to_owned()),
        Some(head)
    );
    assert_eq!(test.state(), state);
}

#[tokio::test]
async fn staged_changes_survive_snapshot_and_undo() {
    let test = TestRepo::new();
    test.write("a.txt", "committed\n");
    test.commit_all("initial");
    test.write("a.txt", "staged\n");
    test.git(&["add", "a.txt"]);
    test.write("a.txt", "staged, then edited\n");
    let repo = test.open().await;
    let state = test.state();

    let before = test.snapshot(&repo).await;
    test.write("a.txt", "the turn's version\n");
    let after = test.snapshot(&repo).await;
    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(apply_undo(&plan, &cancel).await.unwrap().is_complete());

    assert_eq!(test.read("a.txt").unwrap(), b"staged, then edited\n");
    assert_eq!(test.git(&["show", ":a.txt"]), "staged\n");
    assert_eq!(test.state(), state);
}

#[tokio::test]
async fn merge_in_progress_is_snapshotted_and_left_in_progress() {
    let test = TestRepo::new();
    test.write("a.txt", "base\n");
    test.commit_all("base");
    test.git(&["checkout", "-q", "-b", "other"]);
    test.write("a.txt", "other\n");
    test.commit_all("other");
    test.git(&["checkout", "-q", "main"]);
    test.write("a.txt", "main\n");
    test.commit_all("main");
    let merge = test
        .command_in(&test.work, &["merge", "-q", "other"])
        .output()
        .unwrap();
    assert!(!merge.status.success(), "the merge conflicts");
    let merge_head = std::fs::read(test.git_dir().join("MERGE_HEAD")).unwrap();
    let repo = test.open().await;
    let state = test.state();

    let before = test.snapshot(&repo).await;
    test.write("a.txt", "resolved by the turn\n");
    let after = test.snapshot(&repo).await;
    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(apply_undo(&plan, &cancel).await.unwrap().is_complete());

    assert!(
        String::from_utf8(test.read("a.txt").unwrap())
            .unwrap()
            .contains("<<<<<<<")
    );
    assert_eq!(
        std::fs::read(test.git_dir().join("MERGE_HEAD")).unwrap(),
        merge_head
    );
    assert_eq!(test.state(), state);
}

#[tokio::test]
async fn submodule_is_recorded_and_never_undone() {
    let library = TestRepo::new();
    library.write("lib.txt", "v1\n");
    library.commit_all("v1");
    let test = TestRepo::new();
    test.write("main.txt", "main\n");
    test.commit_all("initial");
    let url = library.work.to_str().unwrap();
    test.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        url,
        "lib",
    ]);
    test.commit_all("add submodule");
    let repo = test.open().await;

    let before = test.snapshot(&repo).await;
    library.write("lib.txt", "v2\n");
    library.commit_all("v2");
    let sub = test.work.join("lib");
    test.git_in(
        &sub,
        &[
            "-c",
            "protocol.file.allow=always",
            "pull",
            "-q",
            "origin",
            "main",
        ],
    );
    test.write("main.txt", "turn\n");
    let after = test.snapshot(&repo).await;

    let cancel = CancellationToken::new();
    let changes = diff(&repo, &before, &after, &cancel).await.unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].path.to_str(), Some("lib"));
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert_eq!(report.restored.len(), 1);
    assert_eq!(test.read("main.txt").unwrap(), b"main\n");
    assert_eq!(
        std::fs::read(sub.join("lib.txt")).unwrap(),
        b"v2\n",
        "the submodule is untouched"
    );
}

#[tokio::test]
async fn index_lock_held_by_the_users_git_is_left_alone() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.commit_all("initial");
    test.write("a.txt", "2\n");
    let lock = test.git_dir().join("index.lock");
    std::fs::write(&lock, b"held by another git").unwrap();
    let repo = test.open().await;

    let snap = test.snapshot(&repo).await;
    assert_eq!(snap.paths_read, 1);
    assert_eq!(std::fs::read(&lock).unwrap(), b"held by another git");
}

#[tokio::test]
async fn budget_exceeded_abandons_the_snapshot_without_a_trace() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.commit_all("initial");
    test.write("b.txt", "untracked\n");
    let repo = test.open().await;
    let state = test.state();
    let options = SnapshotOptions {
        time_budget: Duration::from_nanos(1),
        ..test.options()
    };

    let error = snapshot(&repo, &options, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::BudgetExceeded { .. }), "{error}");
    assert!(error.to_string().contains("time budget"));
    let store = repo.snapshot_store();
    let generations = std::fs::read_dir(&store).map_or(0, Iterator::count);
    assert_eq!(generations, 0, "nothing was kept");
    let quarantines = std::fs::read_dir(test.git_dir().join("turnkit/tmp"))
        .unwrap()
        .count();
    assert_eq!(quarantines, 0);
    assert_eq!(test.state(), state);
}

#[tokio::test]
async fn cancelled_snapshot_keeps_nothing() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    let repo = test.open().await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let error = snapshot(&repo, &test.options(), &cancel).await.unwrap_err();
    assert!(error.is_cancelled());
    assert!(!repo.snapshot_store().exists());
}

#[tokio::test]
async fn home_directory_is_refused() {
    let test = TestRepo::new();
    let repo = test.open().await;
    let options = SnapshotOptions {
        home_dir: Some(test.work.clone()),
        ..SnapshotOptions::default()
    };
    let error = snapshot(&repo, &options, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::RefusedDirectory {
                what: "the home directory",
                ..
            }
        ),
        "{error}"
    );
    assert!(!repo.snapshot_store().exists());
}

#[tokio::test]
async fn users_gc_prune_now_does_not_lose_snapshot_objects() {
    let test = TestRepo::new();
    test.write("a.txt", "committed\n");
    test.commit_all("initial");
    test.write("a.txt", "staged only\n");
    test.write("dir/b.txt", "staged too\n");
    test.git(&["add", "-A"]);
    test.write("untracked.txt", "untracked\n");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;

    // The staged blobs and trees become garbage for the user's repository.
    test.write("a.txt", "restaged\n");
    test.git(&["rm", "-q", "--cached", "dir/b.txt"]);
    test.git(&["add", "a.txt"]);
    std::fs::remove_file(test.path("dir/b.txt")).unwrap();
    test.git(&["reflog", "expire", "--expire=now", "--all"]);
    test.git(&["gc", "-q", "--prune=now"]);
    for content in ["staged only\n", "staged too\n"] {
        let mut hash = test.command_in(&test.work, &["hash-object", "--stdin"]);
        hash.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = hash.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), content.as_bytes()).unwrap();
        let blob = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        let exists = test
            .command_in(&test.work, &["cat-file", "-e", blob.trim()])
            .output()
            .unwrap();
        assert!(
            !exists.status.success(),
            "gc deleted the user's copy of {content:?}"
        );
    }

    assert!(
        missing_objects(&test, &before).is_empty(),
        "{:?}",
        missing_objects(&test, &before)
    );
    let after = test.snapshot(&repo).await;
    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(test.read("a.txt").unwrap(), b"staged only\n");
    assert_eq!(test.read("dir/b.txt").unwrap(), b"staged too\n");
}

#[tokio::test]
async fn snapshot_does_not_grow_the_users_object_store() {
    let test = TestRepo::new();
    test.write("a.txt", "committed\n");
    test.commit_all("initial");
    test.write("a.txt", "modified\n");
    test.write("new/b.txt", "untracked\n");
    let before_count = test.object_count();
    let repo = test.open().await;
    let snap = test.snapshot(&repo).await;
    assert_eq!(snap.paths_read, 2);
    assert_eq!(test.object_count(), before_count);
    let output = test
        .command_in(&test.work, &["cat-file", "-e", snap.commit.as_str()])
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "the snapshot commit is not in the user's store"
    );
}

#[tokio::test]
async fn large_files_dependency_folders_and_crowded_directories_are_left_out() {
    let test = TestRepo::new();
    test.write("src/lib.rs", "fn main() {}\n");
    test.commit_all("initial");
    test.write("big.bin", vec![7_u8; 4096]);
    test.write("node_modules/pkg/index.js", "x\n");
    test.write("src/target/debug/out", "x\n");
    test.write("newapp/app.js", "app\n");
    test.write("newapp/node_modules/dep/index.js", "dep\n");
    for index in 0..30 {
        test.write(&format!("crowd/f{index}.txt"), "x\n");
    }
    let repo = test.open().await;
    let options = SnapshotOptions {
        max_untracked_file_size: 1024,
        max_untracked_dir_files: 20,
        ..test.options()
    };
    let snap = snapshot(&repo, &options, &CancellationToken::new())
        .await
        .unwrap();
    let skipped: Vec<(String, SkipReason)> = snap
        .skipped
        .iter()
        .map(|s| (s.path.to_str().unwrap().to_owned(), s.reason.clone()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("big.bin".to_owned(), SkipReason::LargeFile { size: 4096 }),
            (
                "crowd".to_owned(),
                SkipReason::TooManyFiles { at_least: 30 }
            ),
            (
                "newapp/node_modules".to_owned(),
                SkipReason::DependencyFolder
            ),
            ("node_modules".to_owned(), SkipReason::DependencyFolder),
            ("src/target".to_owned(), SkipReason::DependencyFolder),
        ]
    );
    assert_eq!(tree_paths(&test, &snap), ["newapp/app.js", "src/lib.rs"]);
}

#[tokio::test]
async fn subdirectory_session_records_and_undoes_only_its_scope() {
    let test = TestRepo::new();
    test.write("inside/a.txt", "1\n");
    test.write("outside.txt", "1\n");
    test.commit_all("initial");
    let repo = test.open_at(&test.path("inside")).await;
    assert_eq!(repo.scope().to_str(), Some("inside"));

    let before = test.snapshot(&repo).await;
    test.write("inside/a.txt", "2\n");
    test.write("outside.txt", "2\n");
    let after = test.snapshot(&repo).await;
    let cancel = CancellationToken::new();
    let changes = diff(&repo, &before, &after, &cancel).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path.to_str(), Some("inside/a.txt"));
    assert_eq!(changes[0].kind(), ChangeKind::Modified);
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    apply_undo(&plan, &cancel).await.unwrap();
    assert_eq!(test.read("inside/a.txt").unwrap(), b"1\n");
    assert_eq!(test.read("outside.txt").unwrap(), b"2\n");
}

#[tokio::test]
async fn linked_worktree_snapshots_into_the_common_store() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    test.commit_all("initial");
    let linked = test.root().join("linked");
    test.git(&[
        "worktree",
        "add",
        "-q",
        linked.to_str().unwrap(),
        "-b",
        "side",
    ]);
    let repo = test.open_at(&linked).await;
    assert_ne!(repo.git_dir(), repo.common_dir());

    let before = test.snapshot(&repo).await;
    std::fs::write(linked.join("a.txt"), "turn\n").unwrap();
    let after = test.snapshot(&repo).await;
    assert!(repo.snapshot_store().starts_with(repo.common_dir()));
    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(apply_undo(&plan, &cancel).await.unwrap().is_complete());
    assert_eq!(std::fs::read(linked.join("a.txt")).unwrap(), b"1\n");
}

#[tokio::test]
async fn prune_deletes_old_generations_only() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    let repo = test.open().await;
    let snap = test.snapshot(&repo).await;
    let old = repo.snapshot_store().join("2001-01-01");
    std::fs::create_dir_all(old.join("pack")).unwrap();

    let report = prune(&repo, &PruneOptions::default()).unwrap();
    assert_eq!(report.removed, ["2001-01-01"]);
    assert_eq!(report.kept.len(), 1);
    assert!(!old.exists());
    assert!(missing_objects(&test, &snap).is_empty());
}

#[tokio::test]
async fn a_blob_only_the_users_garbage_holds_is_copied_into_the_snapshot() {
    let test = TestRepo::new();
    test.write("a.txt", "committed\n");
    test.commit_all("initial");
    test.write("a.txt", "staged, then unstaged\n");
    test.git(&["add", "a.txt"]);
    test.git(&["reset", "-q", "a.txt"]);
    let repo = test.open().await;
    let snap = test.snapshot(&repo).await;

    test.git(&["checkout", "-q", "--", "a.txt"]);
    test.git(&["reflog", "expire", "--expire=now", "--all"]);
    test.git(&["gc", "-q", "--prune=now"]);
    assert!(
        missing_objects(&test, &snap).is_empty(),
        "{:?}",
        missing_objects(&test, &snap)
    );
}

#[tokio::test]
async fn intent_to_add_entries_are_recorded_and_left_intent_to_add() {
    let test = TestRepo::new();
    test.write("a.txt", "committed\n");
    test.commit_all("initial");
    test.write("planned.txt", "planned\n");
    test.write("planned-then-deleted.txt", "gone soon\n");
    test.git(&["add", "-N", "planned.txt", "planned-then-deleted.txt"]);
    std::fs::remove_file(test.path("planned-then-deleted.txt")).unwrap();
    let repo = test.open().await;
    let state = test.state();

    let snap = test.snapshot(&repo).await;
    assert_eq!(tree_paths(&test, &snap), ["a.txt", "planned.txt"]);
    assert_eq!(snap.paths_read, 2);
    assert_eq!(
        test.state(),
        state,
        "the index keeps both intent-to-add entries"
    );
    assert_eq!(
        test.git(&["diff", "--name-only"]),
        "planned-then-deleted.txt\nplanned.txt\n"
    );
}
