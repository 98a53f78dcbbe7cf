//! Undo on a repository set up the way real ones are, through the facade alone: a split
//! index, a file committed with CRLF before `* text=auto`, a tracked `build/` folder, a
//! private untracked file and a long name all come back as they were, and the git directory
//! is left alone.

#![cfg(all(
    feature = "undo",
    feature = "ghost-snapshot",
    feature = "testkit",
    unix
))]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use turnkit::tasks_ghost_snapshot::Snapshot;
use turnkit::tasks_ghost_snapshot::git_snapshot::{OpenOptions, Repository};
use turnkit::testkit::git::git;
use turnkit::testkit::{FnTask, TestSession};
use turnkit::{CancellationToken, EventMsg, Op, ResponseItem, TaskKind, TurnSnapshots};

/// Sizes and times of every file under `.git` but turnkit's store.
fn git_dir_files(dir: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.join(".git")];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("readable") {
            let path = entry.expect("an entry").path();
            if path.ends_with(".git/turnkit") {
                continue;
            }
            let metadata = std::fs::symlink_metadata(&path).expect("metadata");
            if metadata.is_dir() {
                pending.push(path);
            } else {
                let modified = metadata.modified().expect("a time");
                files.push((path.display().to_string(), metadata.len(), modified));
            }
        }
    }
    files.sort();
    files
}

/// A split index, a file committed with CRLF before `* text=auto` (stat-dirty now), a tracked
/// `build/` folder with an untracked file beside, a private `.env` and a long name.
fn real_shaped_repository(cwd: &Path, long: &str) {
    git(cwd, &["init", "-q", "-b", "main"]);
    git(cwd, &["config", "user.name", "Test User"]);
    git(cwd, &["config", "user.email", "test@example.invalid"]);
    git(cwd, &["config", "core.splitIndex", "true"]);
    std::fs::write(cwd.join("dos.txt"), "one\r\ntwo\r\n").expect("write");
    std::fs::create_dir(cwd.join("build")).expect("mkdir");
    std::fs::write(cwd.join("build/lib.rs"), "tracked\n").expect("write");
    git(cwd, &["add", "-A"]);
    git(cwd, &["commit", "-q", "-m", "initial"]);
    std::fs::write(cwd.join(".gitattributes"), "* text=auto\n").expect("write");
    git(cwd, &["add", ".gitattributes"]);
    git(cwd, &["commit", "-q", "-m", "text=auto"]);
    std::fs::write(cwd.join(".env"), "SECRET=1\n").expect("write");
    std::fs::set_permissions(cwd.join(".env"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    std::fs::write(cwd.join(long), "long\n").expect("write");
    std::fs::write(cwd.join("build/untracked.rs"), "beside\n").expect("write");
    // Stat-dirty, as after an editor's save without a change.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(cwd.join("dos.txt"))
        .and_then(|file| file.set_modified(later))
        .expect("touch");
    git(cwd, &["status", "--porcelain"]);
}

#[tokio::test]
async fn undo_gives_back_crlf_modes_build_folders_and_long_names_with_a_split_index() {
    let long = "𝄞".repeat(61);
    let long_for_turn = long.clone();
    let turn = Arc::new(FnTask::new(
        TaskKind::REGULAR,
        move |ctx, _input, _token| {
            let long = long_for_turn.clone();
            async move {
                let snapshots = ctx
                    .service::<Arc<dyn TurnSnapshots>>()
                    .ok_or("the facade offers no snapshot service")?;
                snapshots.before_change(&ctx).await?;
                let cwd = ctx.cwd().to_path_buf();
                std::fs::write(cwd.join("dos.txt"), "one\r\nthree\r\n")?;
                std::fs::write(cwd.join("build/lib.rs"), "edited by the turn\n")?;
                std::fs::write(cwd.join("build/new.rs"), "created by the turn\n")?;
                std::fs::remove_file(cwd.join(".env"))?;
                std::fs::remove_file(cwd.join(&long))?;
                snapshots.after_turn(&ctx).await?;
                Ok(None)
            }
        },
    ));
    let mut session = TestSession::from_builder(turnkit::builder()).build();
    let cwd = session.cwd().to_path_buf();
    real_shaped_repository(&cwd, &long);
    let before_files = git_dir_files(&cwd);

    let id = session
        .session()
        .spawn_task(turn, Vec::new())
        .expect("the session takes the task");
    session.events_until_terminal(&id).await;
    let events = session.run(Op::Undo).await;

    let completed = events
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::UndoCompleted(completed) => Some(completed.clone()),
            _ => None,
        })
        .expect("undo completes");
    assert!(completed.success, "{}", completed.message);
    assert_eq!(
        std::fs::read(cwd.join("dos.txt")).expect("read"),
        b"one\r\ntwo\r\n"
    );
    assert_eq!(
        std::fs::read(cwd.join("build/lib.rs")).expect("read"),
        b"tracked\n"
    );
    assert!(!cwd.join("build/new.rs").exists());
    assert_eq!(std::fs::read(cwd.join(&long)).expect("read"), b"long\n");
    let mode = std::fs::metadata(cwd.join(".env"))
        .expect("restored")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    // Before any git of the test's own, which would refresh the index.
    assert_eq!(git_dir_files(&cwd)[..], before_files[..]);
    assert_eq!(
        git(&cwd, &["status", "--porcelain", "--untracked-files=no"]),
        ""
    );

    // "Give me the old version of this file", from the turn's first snapshot.
    let before: Snapshot = session
        .history()
        .into_iter()
        .find_map(|item| match item {
            ResponseItem::GhostSnapshot {
                phase, snapshot, ..
            } if phase == "before" => serde_json::from_value(snapshot).ok(),
            _ => None,
        })
        .expect("a before snapshot");
    let cancel = CancellationToken::new();
    let repo = Repository::open_with(&cwd, OpenOptions::default(), &cancel)
        .await
        .expect("the repository opens");
    let old = before
        .read_file(&repo, Path::new("build/lib.rs"), &cancel)
        .await
        .expect("the snapshot reads");
    assert_eq!(old.as_deref(), Some(&b"tracked\n"[..]));
}
