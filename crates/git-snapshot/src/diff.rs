//! Comparing two snapshots: the paths a turn added, deleted and modified, with their modes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::git::{split_lines, split_nul};
use crate::object::{FileMode, TreeEntry};
use crate::platform::path_from_git;
use crate::{Error, ObjectId, Repository, Snapshot};

/// One path that differs between two snapshots.
///
/// A rename shows as a deletion and an addition. A path that changed kind (a file became a
/// symlink) is a modification with both entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The path, relative to the top of the working tree.
    pub path: PathBuf,
    /// Its entry in the earlier snapshot; `None` when the turn created it.
    pub before: Option<TreeEntry>,
    /// Its entry in the later snapshot; `None` when the turn deleted it.
    pub after: Option<TreeEntry>,
}

/// What happened to a path between two snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The path is new.
    Added,
    /// The path is gone.
    Deleted,
    /// The content, the mode or the kind of entry changed.
    Modified,
}

impl Change {
    /// Whether the path was added, deleted or modified.
    pub fn kind(&self) -> ChangeKind {
        match (&self.before, &self.after) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Deleted,
            _ => ChangeKind::Modified,
        }
    }
}

/// The paths that differ from `before` to `after`, in path order, limited to the scope both
/// snapshots cover.
///
/// Fails with [`Error::SnapshotMissing`] when either snapshot's objects are gone.
///
/// # Cancel safety
///
/// Dropping the future kills the git children; nothing is written.
pub async fn diff(
    repo: &Repository,
    before: &Snapshot,
    after: &Snapshot,
    cancel: &CancellationToken,
) -> Result<Vec<Change>, Error> {
    let scope = common_scope(&before.scope, &after.scope).ok_or_else(|| Error::ScopeMismatch {
        before: before.commit.clone(),
        after: after.commit.clone(),
    })?;
    ensure_present(repo, &[&before.commit, &after.commit], cancel).await?;
    let mut command = repo
        .git_reading_snapshots()?
        // `diff-tree` loads the index, for attributes raw output never uses; the user's may be
        // split, and reading a split index touches its shared file.
        .env("GIT_INDEX_FILE", repo.no_index())
        .args(["diff-tree", "-r", "-z", "--no-renames", "--raw"])
        .args([before.commit.as_str(), after.commit.as_str()]);
    if !scope.as_os_str().is_empty() {
        command = command
            .env("GIT_LITERAL_PATHSPECS", "1")
            .arg("--")
            .arg(scope);
    }
    let described = command.describe();
    let output = command.run(cancel).await?;
    let unexpected = |detail: &str| Error::UnexpectedOutput {
        command: described.clone(),
        detail: detail.to_owned(),
    };
    let mut changes = Vec::new();
    let mut records = split_nul(&output.stdout);
    while let Some(record) = records.next() {
        let header = record
            .strip_prefix(b":")
            .ok_or_else(|| unexpected("record without ':'"))?;
        let path = records
            .next()
            .ok_or_else(|| unexpected("record without a path"))?;
        let fields: Vec<&[u8]> = header.split(|byte| *byte == b' ').collect();
        let [old_mode, new_mode, old_oid, new_oid, _status] = fields.as_slice() else {
            return Err(unexpected("record with the wrong number of fields"));
        };
        let entry = |mode: &[u8], oid: &[u8]| -> Result<Option<TreeEntry>, Error> {
            let Some(mode) = FileMode::from_octal(mode) else {
                return Ok(None);
            };
            let oid = ObjectId::from_hex_bytes(oid).ok_or_else(|| unexpected("bad object id"))?;
            Ok((!oid.is_null()).then_some(TreeEntry { mode, oid }))
        };
        changes.push(Change {
            path: path_from_git(path),
            before: entry(old_mode, old_oid)?,
            after: entry(new_mode, new_oid)?,
        });
    }
    Ok(changes)
}

/// The narrower of two nested scopes; `None` when neither contains the other.
fn common_scope<'a>(first: &'a Path, second: &'a Path) -> Option<&'a Path> {
    if first.starts_with(second) {
        Some(first)
    } else if second.starts_with(first) {
        Some(second)
    } else {
        None
    }
}

/// Fails with [`Error::SnapshotMissing`] unless every commit is readable.
pub(crate) async fn ensure_present(
    repo: &Repository,
    commits: &[&ObjectId],
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let mut question = Vec::new();
    for commit in commits {
        question.extend_from_slice(commit.as_str().as_bytes());
        question.push(b'\n');
    }
    let output = repo
        .git_reading_snapshots()?
        .args(["cat-file", "--batch-check=%(objectname) %(objecttype)"])
        .stdin(question)
        .run(cancel)
        .await?;
    let mut lines = split_lines(&output.stdout);
    for commit in commits {
        if !lines.next().is_some_and(|line| line.ends_with(b" commit")) {
            return Err(Error::SnapshotMissing {
                commit: (*commit).clone(),
            });
        }
    }
    Ok(())
}
