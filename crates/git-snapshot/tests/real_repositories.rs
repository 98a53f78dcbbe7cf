//! The defects found on real repositories (issue 14), each in a real temporary repository:
//! index settings that must not leak into the user's git directory, CRLF kept, tracked build
//! folders captured, private modes kept, long names restored; and the extras (special files
//! listed, plans that apply does not contradict, reading a snapshot back).

#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;

use support::TestRepo;
use tokio_util::sync::CancellationToken;
use turnkit_git_snapshot::{ConflictReason, FileMode, SkipReason, apply_undo, plan_undo};

/// When the user's git writes its index: under the settings, or before they are made (git
/// 2.47 itself loses entries when it writes a split index with `feature.manyFiles`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Written {
    Under,
    Before,
}

/// A repository with committed, modified, staged and untracked files, in which the user's own
/// git has already written its index.
fn repository_with(settings: &[(&str, &str)], written: Written) -> TestRepo {
    let test = TestRepo::new();
    let configure = || {
        for (key, value) in settings {
            test.git(&["config", key, value]);
        }
    };
    if written == Written::Under {
        configure();
    }
    for dir in 0..4 {
        for file in 0..5 {
            test.write(&format!("d{dir}/f{file}.txt"), format!("{dir} {file}\n"));
        }
    }
    test.commit_all("initial");
    test.write("d0/f0.txt", "changed\n");
    test.write("d1/staged.txt", "staged\n");
    test.git(&["add", "d1/staged.txt"]);
    test.write("untracked.txt", "new\n");
    // The user's own status writes the index the way their settings say.
    test.git(&["status", "--porcelain"]);
    if written == Written::Before {
        configure();
    }
    // Let a second pass any time-of-day rounding in the comparison.
    std::thread::sleep(std::time::Duration::from_millis(20));
    test
}

/// Snapshots before and after a turn, then undo, and checks that no file under the git
/// directory changed (beyond turnkit's store) and that git still lists every tracked file.
async fn snapshots_and_undo_leave_the_git_dir_alone(settings: &[(&str, &str)], written: Written) {
    let test = repository_with(settings, written);
    let listed = test.git(&["ls-files"]);
    let files = test.git_dir_files();
    let repo = test.open().await;

    let before = test.snapshot(&repo).await;
    test.write("d2/f2.txt", "the turn\n");
    test.write("d3/new.txt", "the turn\n");
    let after = test.snapshot(&repo).await;
    let again = test.snapshot(&repo).await;
    assert_eq!(after.tree, again.tree, "{settings:?}");
    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel)
        .await
        .expect("an undo plan");
    let report = apply_undo(&plan, &cancel).await.expect("an undo");
    assert!(report.is_complete(), "{settings:?}: {report:?}");

    let now = test.git_dir_files();
    for (path, (size, modified)) in &now {
        assert_eq!(
            files.get(path),
            Some(&(*size, *modified)),
            "{settings:?}: {} was created or changed",
            path.display()
        );
    }
    assert_eq!(files.len(), now.len(), "{settings:?}: a file went missing");
    assert_eq!(test.git(&["ls-files"]), listed, "{settings:?}");
    assert_eq!(test.read("d2/f2.txt").as_deref(), Some(&b"2 2\n"[..]));
    assert!(test.read("d3/new.txt").is_none());
}

#[tokio::test]
async fn split_index_repository_is_left_unchanged() {
    snapshots_and_undo_leave_the_git_dir_alone(&[("core.splitIndex", "true")], Written::Under)
        .await;
}

#[tokio::test]
async fn skip_hash_index_repository_is_left_unchanged() {
    snapshots_and_undo_leave_the_git_dir_alone(&[("index.skipHash", "true")], Written::Under).await;
}

#[tokio::test]
async fn many_files_repository_is_left_unchanged() {
    snapshots_and_undo_leave_the_git_dir_alone(&[("feature.manyFiles", "true")], Written::Under)
        .await;
}

#[tokio::test]
async fn split_index_with_many_files_repository_is_left_unchanged() {
    snapshots_and_undo_leave_the_git_dir_alone(
        &[("core.splitIndex", "true"), ("feature.manyFiles", "true")],
        Written::Before,
    )
    .await;
}

#[tokio::test]
async fn untracked_cache_repository_is_left_unchanged() {
    snapshots_and_undo_leave_the_git_dir_alone(&[("core.untrackedCache", "true")], Written::Under)
        .await;
}

#[tokio::test]
async fn fsmonitor_repository_is_left_unchanged() {
    let hooks = tempfile::tempdir().unwrap();
    let hook = hooks.path().join("fsmonitor");
    // Protocol 2: a new token, then "/" for "anything may have changed".
    std::fs::write(&hook, "#!/bin/sh\nprintf 'token\\0/\\0'\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let hook = hook.to_str().unwrap().to_owned();
    snapshots_and_undo_leave_the_git_dir_alone(
        &[
            ("core.fsmonitor", &hook),
            ("core.fsmonitorHookVersion", "2"),
        ],
        Written::Under,
    )
    .await;
}

#[tokio::test]
async fn undo_keeps_crlf_committed_before_text_auto() {
    let test = TestRepo::new();
    test.write("crlf.txt", "one\r\ntwo\r\n");
    test.commit_all("committed with CRLF");
    test.write(".gitattributes", "* text=auto\n");
    test.commit_all("text=auto");
    // Stat-dirty before the turn: the snapshot must read it, and keep its CRLF as `git add`
    // would.
    let later = SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(test.path("crlf.txt"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let repo = test.open().await;

    let before = test.snapshot(&repo).await;
    test.write("crlf.txt", "one\r\nthree\r\n");
    let after = test.snapshot(&repo).await;
    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(test.read("crlf.txt").unwrap(), b"one\r\ntwo\r\n");
    assert_eq!(test.git(&["status", "--porcelain"]), "");
}

#[tokio::test]
async fn tracked_folder_named_like_a_build_folder_is_captured() {
    let test = TestRepo::new();
    test.write("tests/build/one.rs", "one\n");
    test.write("tests/build/old.rs", "old\n");
    test.write("build/top.rs", "top\n");
    test.commit_all("tracked build folders");
    test.write("tests/build/untracked.rs", "beside\n");
    test.write("build/fresh/new.rs", "new\n");
    let repo = test.open().await;

    let before = test.snapshot(&repo).await;
    assert!(before.skipped.is_empty(), "{:?}", before.skipped);
    test.write("tests/build/one.rs", "edited by the turn\n");
    test.write("tests/build/another.rs", "created by the turn\n");
    std::fs::rename(
        test.path("tests/build/old.rs"),
        test.path("tests/build/new.rs"),
    )
    .unwrap();
    test.write("build/top.rs", "edited by the turn\n");
    let after = test.snapshot(&repo).await;
    support::undo_completely(&repo, &before, &after).await;
    assert_eq!(test.read("tests/build/one.rs").unwrap(), b"one\n");
    assert_eq!(test.read("tests/build/old.rs").unwrap(), b"old\n");
    assert!(test.read("tests/build/new.rs").is_none());
    assert!(test.read("tests/build/another.rs").is_none());
    assert_eq!(test.read("tests/build/untracked.rs").unwrap(), b"beside\n");
    assert_eq!(test.read("build/top.rs").unwrap(), b"top\n");
}

#[tokio::test]
async fn untracked_build_folder_is_still_left_out() {
    let test = TestRepo::new();
    test.write("src/lib.rs", "lib\n");
    test.commit_all("initial");
    test.write("build/out.o", "object\n");
    test.write("src/target/debug.o", "object\n");
    let repo = test.open().await;
    let snap = test.snapshot(&repo).await;
    assert_eq!(
        support::skipped(&snap),
        [
            ("build".to_owned(), SkipReason::DependencyFolder),
            ("src/target".to_owned(), SkipReason::DependencyFolder)
        ]
    );
}

#[tokio::test]
async fn deleted_private_untracked_file_comes_back_private() {
    let test = TestRepo::new();
    test.write("README", "readme\n");
    test.commit_all("initial");
    test.write(".env", "SECRET=1\n");
    test.write("id_key", "key\n");
    test.write("tool", "#!/bin/sh\n");
    for (path, mode) in [(".env", 0o600), ("id_key", 0o400), ("tool", 0o750)] {
        std::fs::set_permissions(test.path(path), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let repo = test.open().await;

    let before = test.snapshot(&repo).await;
    for path in [".env", "id_key", "tool"] {
        std::fs::remove_file(test.path(path)).unwrap();
    }
    let after = test.snapshot(&repo).await;
    support::undo_completely(&repo, &before, &after).await;
    for (path, mode) in [(".env", 0o600), ("id_key", 0o400), ("tool", 0o750)] {
        let found = std::fs::metadata(test.path(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(found, mode, "{path}: {found:o}");
    }
}

#[tokio::test]
async fn private_file_edited_by_the_turn_is_restored_private() {
    let test = TestRepo::new();
    test.write("README", "readme\n");
    test.commit_all("initial");
    test.write(".env", "SECRET=1\n");
    std::fs::set_permissions(test.path(".env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    // An editor that replaces the file by a fresh one with default permissions.
    std::fs::remove_file(test.path(".env")).unwrap();
    test.write(".env", "SECRET=2\n");
    let after = test.snapshot(&repo).await;
    support::undo_completely(&repo, &before, &after).await;
    assert_eq!(test.read(".env").unwrap(), b"SECRET=1\n");
    let mode = std::fs::metadata(test.path(".env"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

/// A legal name of 244 bytes: 61 four-byte characters.
fn long_name() -> String {
    "𝄞".repeat(61)
}

#[tokio::test]
async fn file_with_a_long_name_is_restored() {
    let test = TestRepo::new();
    let name = long_name();
    assert_eq!(name.len(), 244);
    let tracked = format!("dir/{name}");
    test.write(&tracked, "tracked\n");
    test.commit_all("initial");
    test.write(&name, "untracked\n");
    let repo = test.open().await;

    let before = test.snapshot(&repo).await;
    test.write(&tracked, "edited\n");
    std::fs::remove_file(test.path(&name)).unwrap();
    let after = test.snapshot(&repo).await;
    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(test.read(&tracked).unwrap(), b"tracked\n");
    assert_eq!(test.read(&name).unwrap(), b"untracked\n");
    let leftovers: Vec<_> = std::fs::read_dir(test.path("dir"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

/// FIFOs in the folders a snapshot reads: the session's directory, one with a changed file,
/// and a new folder.
#[tokio::test]
async fn fifo_is_listed_as_skipped() {
    let test = TestRepo::new();
    test.write("src/lib.rs", "lib\n");
    test.write("docs/guide.md", "guide\n");
    test.commit_all("initial");
    test.write("src/lib.rs", "changed\n");
    test.write("fresh/data.txt", "x\n");
    for fifo in ["pipe", "src/pipe", "fresh/pipe"] {
        let made = std::process::Command::new("mkfifo")
            .arg(test.path(fifo))
            .status()
            .unwrap();
        assert!(made.success());
    }
    let repo = test.open().await;
    let snap = test.snapshot(&repo).await;
    assert_eq!(
        support::skipped(&snap),
        [
            ("fresh/pipe".to_owned(), SkipReason::SpecialFile),
            ("pipe".to_owned(), SkipReason::SpecialFile),
            ("src/pipe".to_owned(), SkipReason::SpecialFile)
        ]
    );
}

#[tokio::test]
async fn plan_lists_a_directory_that_still_holds_files_as_blocked() {
    let test = TestRepo::new();
    test.write(".gitignore", "*.log\n");
    test.write("thing", "a file\n");
    test.commit_all("initial");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    // The turn replaces the file by a directory; an ignored file appears in it too.
    std::fs::remove_file(test.path("thing")).unwrap();
    test.write("thing/inner.txt", "the turn\n");
    test.write("thing/debug.log", "ignored\n");
    let after = test.snapshot(&repo).await;

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    let blocked: Vec<_> = plan
        .conflicts
        .iter()
        .map(|c| (c.path.to_str().unwrap(), c.reason))
        .collect();
    assert_eq!(blocked, [("thing", ConflictReason::Blocked)]);
    assert!(
        plan.steps
            .iter()
            .all(|step| step.path != Path::new("thing")),
        "{:?}",
        plan.steps
    );
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    let again = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(again.steps.is_empty(), "{:?}", again.steps);
    assert_eq!(again.conflicts, plan.conflicts);
    assert_eq!(test.read("thing/debug.log").unwrap(), b"ignored\n");
}

#[tokio::test]
async fn a_snapshots_files_can_be_listed_and_read() {
    let test = TestRepo::new();
    test.write(".gitattributes", "*.txt text eol=crlf\n");
    test.write("a.txt", "one\ntwo\n");
    test.write("sub/b.bin", b"\x00\x01");
    test.commit_all("initial");
    std::os::unix::fs::symlink("a.txt", test.path("link")).unwrap();
    let repo = test.open().await;
    let snap = test.snapshot(&repo).await;
    test.write("a.txt", "changed after\n");

    let cancel = CancellationToken::new();
    let files = snap.list_files(&repo, &cancel).await.unwrap();
    let listed: Vec<_> = files
        .iter()
        .map(|(path, entry)| (path.to_str().unwrap(), entry.mode))
        .collect();
    assert_eq!(
        listed,
        [
            (".gitattributes", FileMode::Regular),
            ("a.txt", FileMode::Regular),
            ("link", FileMode::Symlink),
            ("sub/b.bin", FileMode::Regular),
        ]
    );
    let read = snap
        .read_file(&repo, Path::new("a.txt"), &cancel)
        .await
        .unwrap();
    assert_eq!(
        read.as_deref(),
        Some(&b"one\r\ntwo\r\n"[..]),
        "as checked out"
    );
    let link = snap
        .read_file(&repo, Path::new("link"), &cancel)
        .await
        .unwrap();
    assert_eq!(link.as_deref(), Some(&b"a.txt"[..]));
    let missing = snap
        .read_file(&repo, Path::new("nope"), &cancel)
        .await
        .unwrap();
    assert_eq!(missing, None);
}

#[tokio::test]
async fn untracked_crlf_file_under_text_auto_comes_back_byte_for_byte() {
    let test = TestRepo::new();
    test.write(".gitattributes", "* text=auto\n");
    test.write("lf.txt", "one\ntwo\n");
    test.commit_all("initial");
    test.write("notes.txt", "untracked\r\nwith CRLF\r\n");
    test.write("lf.txt", "now\r\nCRLF\r\n");
    let repo = test.open().await;

    let before = test.snapshot(&repo).await;
    assert_eq!(
        before.unfiltered,
        [Path::new("lf.txt"), Path::new("notes.txt")]
    );
    std::fs::remove_file(test.path("notes.txt")).unwrap();
    test.write("lf.txt", "the turn\n");
    let after = test.snapshot(&repo).await;
    support::undo_completely(&repo, &before, &after).await;
    assert_eq!(
        test.read("notes.txt").unwrap(),
        b"untracked\r\nwith CRLF\r\n"
    );
    assert_eq!(test.read("lf.txt").unwrap(), b"now\r\nCRLF\r\n");
    let read = before
        .read_file(&repo, Path::new("notes.txt"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(read.as_deref(), Some(&b"untracked\r\nwith CRLF\r\n"[..]));
}

/// Found by `props.rs`: the turn rewrote a private untracked file with the same content and
/// default permissions, which git does not see as a change.
#[tokio::test]
async fn private_file_the_turn_only_made_readable_is_private_again() {
    let test = TestRepo::new();
    test.write("README", "readme\n");
    test.commit_all("initial");
    test.write("dir/secret", "");
    std::fs::set_permissions(
        test.path("dir/secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    std::fs::set_permissions(
        test.path("dir/secret"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let after = test.snapshot(&repo).await;
    assert_eq!(before.tree, after.tree);

    let cancel = CancellationToken::new();
    let plan = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    let report = apply_undo(&plan, &cancel).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.restored, [Path::new("dir/secret")]);
    let mode = std::fs::metadata(test.path("dir/secret"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let again = plan_undo(&repo, &before, &after, &cancel).await.unwrap();
    assert!(again.steps.is_empty(), "{:?}", again.steps);
}
