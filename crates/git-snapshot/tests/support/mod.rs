//! Shared test fixture: real git repositories in temporary directories, isolated from the
//! developer's own git configuration.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use turnkit_git_snapshot::{
    OpenOptions, Repository, SkipReason, Snapshot, SnapshotOptions, apply_undo, plan_undo, snapshot,
};

/// A git repository in a temporary directory with its own empty global configuration.
pub struct TestRepo {
    root: TempDir,
    pub work: PathBuf,
    pub home: PathBuf,
}

/// Everything of the user's repository a snapshot or undo must leave alone.
#[derive(Debug, PartialEq, Eq)]
pub struct GitState {
    pub head: Vec<u8>,
    pub refs: String,
    pub index: Option<Vec<u8>>,
    pub stash: String,
    pub config: Vec<u8>,
}

impl TestRepo {
    /// `git init` with a local identity, an empty global config and signing off.
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let work = root.path().join("work");
        let home = root.path().join("home");
        std::fs::create_dir_all(&work).expect("work dir");
        std::fs::create_dir_all(&home).expect("home dir");
        std::fs::write(home.join(".gitconfig"), "").expect("global config");
        let repo = Self { root, work, home };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Test User"]);
        repo.git(&["config", "user.email", "test@example.invalid"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("GIT_CONFIG_NOSYSTEM", PathBuf::from("1")),
            ("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig")),
            ("HOME", self.home.clone()),
        ]
    }

    /// Options that point the library's git at the same isolated configuration.
    pub fn open_options(&self) -> OpenOptions {
        let mut options = OpenOptions::default();
        for (key, value) in self.env() {
            options = options.env(key, value);
        }
        options
    }

    pub fn command_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command.current_dir(dir).args(args);
        for name in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY",
        ] {
            command.env_remove(name);
        }
        for (key, value) in self.env() {
            command.env(key, value);
        }
        command.env("GIT_AUTHOR_DATE", "1600000000 +0000");
        command.env("GIT_COMMITTER_DATE", "1600000000 +0000");
        command
    }

    /// Runs git in the work tree and returns its stdout; panics when it fails.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.work.clone(), args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let output = self.command_in(dir, args).output().expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.work.join(relative)
    }

    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("parent dirs");
        std::fs::write(path, content).expect("write");
    }

    pub fn read(&self, relative: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(relative)).ok()
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    pub async fn open(&self) -> Repository {
        self.open_at(&self.work.clone()).await
    }

    pub async fn open_at(&self, dir: &Path) -> Repository {
        Repository::open_with(dir, self.open_options(), &CancellationToken::new())
            .await
            .expect("repository opens")
    }

    /// Snapshot options with the test's own home directory.
    pub fn options(&self) -> SnapshotOptions {
        SnapshotOptions {
            home_dir: Some(self.home.clone()),
            ..SnapshotOptions::default()
        }
    }

    pub async fn snapshot(&self, repo: &Repository) -> Snapshot {
        snapshot(repo, &self.options(), &CancellationToken::new())
            .await
            .expect("snapshot")
    }

    pub fn git_dir(&self) -> PathBuf {
        PathBuf::from(self.git(&["rev-parse", "--absolute-git-dir"]).trim())
    }

    pub fn state(&self) -> GitState {
        let git_dir = self.git_dir();
        GitState {
            head: std::fs::read(git_dir.join("HEAD")).expect("HEAD"),
            refs: self.git(&["for-each-ref", "--format=%(refname) %(objectname)"]),
            index: std::fs::read(git_dir.join("index")).ok(),
            stash: self.git(&["stash", "list", "--format=%H"]),
            config: std::fs::read(git_dir.join("config")).expect("config"),
        }
    }

    /// Every file under the git directory with its size and modification time, except
    /// turnkit's own store.
    pub fn git_dir_files(&self) -> BTreeMap<PathBuf, (u64, SystemTime)> {
        let git_dir = self.git_dir();
        let mut files = BTreeMap::new();
        let mut pending = vec![git_dir.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("a readable git dir") {
                let path = entry.expect("a directory entry").path();
                let relative = path.strip_prefix(&git_dir).expect("inside").to_path_buf();
                if relative.starts_with("turnkit") {
                    continue;
                }
                let metadata = std::fs::symlink_metadata(&path).expect("metadata");
                if metadata.is_dir() {
                    pending.push(path);
                } else {
                    let modified = metadata.modified().expect("an mtime");
                    files.insert(relative, (metadata.len(), modified));
                }
            }
        }
        files
    }

    /// The number of objects in the repository's own store, loose and packed.
    pub fn object_count(&self) -> u64 {
        let text = self.git(&["count-objects", "-v"]);
        text.lines()
            .filter_map(|line| line.split_once(": "))
            .filter(|(key, _)| *key == "count" || *key == "in-pack")
            .map(|(_, value)| value.parse::<u64>().expect("a count"))
            .sum()
    }
}

/// What a snapshot left out, as (path, reason) pairs in its order.
#[allow(dead_code)]
pub fn skipped(snap: &Snapshot) -> Vec<(String, SkipReason)> {
    snap.skipped
        .iter()
        .map(|skip| {
            (
                skip.path.to_string_lossy().into_owned(),
                skip.reason.clone(),
            )
        })
        .collect()
}

/// Undoes the turn between `before` and `after`, asserting it plans no conflict and
/// completes.
#[allow(dead_code)]
pub async fn undo_completely(repo: &Repository, before: &Snapshot, after: &Snapshot) {
    let cancel = CancellationToken::new();
    let plan = plan_undo(repo, before, after, &cancel)
        .await
        .expect("the undo plans");
    assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    let report = apply_undo(&plan, &cancel).await.expect("the undo applies");
    assert!(report.is_complete(), "{report:?}");
}
