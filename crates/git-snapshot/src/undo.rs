//! Planning an undo: which paths go back to their state before the turn, and which are left
//! alone because someone changed them since.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::diff::{Change, diff};
use crate::git::split_nul;
use crate::index;
use crate::object::{FileMode, TreeEntry};
use crate::observe::{Observed, blocking_ancestor, is_safe_path, observe, read_blobs};
use crate::platform::{path_from_git, path_to_git};
use crate::read::tree_entries;
use crate::{Error, ObjectId, Repository, Snapshot};

/// What undo would do, worked out without touching anything; carry it out with
/// [`apply_undo`](crate::apply_undo).
#[derive(Clone, Debug)]
pub struct UndoPlan {
    /// The snapshot taken before the turn, which undo goes back to.
    pub before: ObjectId,
    /// The snapshot taken after the turn, which the working tree must still match.
    pub after: ObjectId,
    /// The paths undo will restore or delete: deletions first, deepest first, then
    /// restorations, shallowest first.
    pub steps: Vec<UndoStep>,
    /// The paths the turn changed that undo will leave alone, and why.
    pub conflicts: Vec<Conflict>,
    /// The paths the turn changed that are already back to their state before it.
    pub already_undone: Vec<PathBuf>,
    pub(crate) repo: Repository,
    pub(crate) symlink_targets: HashMap<ObjectId, Vec<u8>>,
}

impl UndoPlan {
    /// Whether undo has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether every path the turn changed can be undone.
    pub fn has_conflicts(&self) -> bool {
        !self.conflicts.is_empty()
    }
}

/// One path undo will change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UndoStep {
    /// The path, relative to the top of the working tree.
    pub path: PathBuf,
    /// What undo does to it.
    pub action: UndoAction,
    /// The state the turn left it in, which it must still be in when undo touches it.
    pub(crate) expected: TreeEntryOrAbsent,
    /// The permission bits the earlier snapshot saw, when git does not record them.
    pub(crate) permissions: Option<u32>,
    /// Whether the earlier snapshot stored the file byte for byte, to be written back so.
    pub(crate) unfiltered: bool,
}

/// The state the turn left a path in: an entry, or no file.
pub(crate) type TreeEntryOrAbsent = Option<TreeEntry>;

/// What undo does to one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UndoAction {
    /// Write the entry back: its content, its mode, a symlink as a symlink.
    Restore {
        /// The path's entry before the turn.
        entry: TreeEntry,
    },
    /// Delete the file or symlink the turn created.
    Delete,
}

/// A path the turn changed that undo leaves alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The path, relative to the top of the working tree.
    pub path: PathBuf,
    /// Why it is left alone.
    pub reason: ConflictReason,
}

/// Why undo leaves a path alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConflictReason {
    /// The file was changed (edited, deleted, created, chmodded) since the turn ended.
    ChangedSince,
    /// The file is ignored by git now, and undo never touches ignored files.
    Ignored,
    /// A submodule, whose checkout undo does not change.
    Submodule,
    /// The path is not a plain relative path inside the working tree.
    UnsafePath,
    /// The path was left out of one of the snapshots, so its earlier state is unknown.
    NotCaptured,
    /// A symlink, a file or a non-empty directory stands where the path or one of its parent
    /// directories must go.
    Blocked,
    /// This platform cannot restore it (a symlink outside Unix).
    Unsupported,
}

/// Works out how to undo what a turn changed between `before` and `after`, touching nothing.
///
/// For each path the turn changed: when the working tree still holds what the turn left, the
/// path will be restored to `before` (or deleted, when the turn created it); when it holds
/// `before` already, it is listed as already undone; otherwise it is a [`Conflict`] and will
/// be left alone. Submodules, ignored files, paths left out of either snapshot and paths
/// behind a symlink are conflicts too.
///
/// # Cancel safety
///
/// Dropping the future kills the git children; nothing is written.
pub async fn plan_undo(
    repo: &Repository,
    before: &Snapshot,
    after: &Snapshot,
    cancel: &CancellationToken,
) -> Result<UndoPlan, Error> {
    let changes = diff(repo, before, after, cancel).await?;
    let mode_only = mode_changes(repo, &changes, before, after, cancel).await?;
    let (mut candidates, mut conflicts) = sort_out(changes, before, after);
    candidates.extend(mode_only);
    candidates.sort_by(|a, b| a.path.cmp(&b.path));

    let symlink_oids: Vec<ObjectId> = candidates
        .iter()
        .flat_map(|change| [&change.before, &change.after])
        .flatten()
        .filter(|entry| entry.mode == FileMode::Symlink)
        .map(|entry| entry.oid.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let paths: Vec<PathBuf> = candidates
        .iter()
        .map(|change| change.path.clone())
        .collect();
    let (observed, symlink_targets) = tokio::join!(
        observe(repo, &paths, cancel),
        read_blobs(repo, &symlink_oids, cancel)
    );
    let (observed, symlink_targets) = (observed?, symlink_targets?);

    let mut steps = Vec::new();
    let mut already_undone = Vec::new();
    let mut existing = Vec::new();
    for (change, observed) in candidates.into_iter().zip(observed) {
        if observed.matches(change.after.as_ref(), &symlink_targets) {
            if matches!(observed, Observed::File { .. } | Observed::Symlink { .. }) {
                existing.push(change.path.clone());
            }
            let action = match change.before {
                Some(entry) => UndoAction::Restore { entry },
                None => UndoAction::Delete,
            };
            let permissions = before.modes.get(&change.path).copied();
            let unfiltered = before.unfiltered.contains(&change.path);
            steps.push(UndoStep {
                path: change.path,
                action,
                expected: change.after,
                permissions,
                unfiltered,
            });
        } else if observed.matches(change.before.as_ref(), &symlink_targets) {
            already_undone.push(change.path);
        } else {
            conflicts.push(Conflict {
                path: change.path,
                reason: ConflictReason::ChangedSince,
            });
        }
    }

    let ignored = ignored_paths(repo, &existing, cancel).await?;
    // Ignored paths first: a file undo will not delete keeps its directory in place.
    let mut left_alone = |step: &UndoStep, reason: Option<ConflictReason>| {
        if let Some(reason) = reason {
            conflicts.push(Conflict {
                path: step.path.clone(),
                reason,
            });
        }
        reason.is_none()
    };
    steps.retain(|step| {
        left_alone(
            step,
            ignored
                .contains(&step.path)
                .then_some(ConflictReason::Ignored),
        )
    });
    let deleted: BTreeSet<PathBuf> = steps
        .iter()
        .filter(|step| step.action == UndoAction::Delete)
        .map(|step| step.path.clone())
        .collect();
    steps.retain(|step| {
        let blocked = matches!(step.action, UndoAction::Restore { .. })
            && (blocking_ancestor(&repo.work_tree, &step.path)
                .is_some_and(|ancestor| !deleted.contains(&ancestor))
                || !empties(&repo.work_tree, &step.path, &deleted));
        left_alone(step, blocked.then_some(ConflictReason::Blocked))
    });
    order_steps(&mut steps);
    conflicts.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(UndoPlan {
        before: before.commit.clone(),
        after: after.commit.clone(),
        steps,
        conflicts,
        already_undone,
        repo: repo.clone(),
        symlink_targets,
    })
}

/// Whether the directory (if any) at `path` holds nothing but files undo deletes, so that it
/// can go and a file take its place.
fn empties(work_tree: &Path, path: &Path, deleted: &BTreeSet<PathBuf>) -> bool {
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let full = work_tree.join(&dir);
        if !std::fs::symlink_metadata(&full).is_ok_and(|metadata| metadata.is_dir()) {
            if dir == path {
                return true;
            }
            if !deleted.contains(&dir) {
                return false;
            }
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&full) else {
            return false;
        };
        for entry in entries.flatten() {
            pending.push(dir.join(entry.file_name()));
        }
    }
    true
}

/// The files whose content the turn left alone but whose recorded permission bits it changed
/// (git does not see those), as changes from and to the same entry.
async fn mode_changes(
    repo: &Repository,
    changes: &[Change],
    before: &Snapshot,
    after: &Snapshot,
    cancel: &CancellationToken,
) -> Result<Vec<Change>, Error> {
    let diffed: BTreeSet<&PathBuf> = changes.iter().map(|change| &change.path).collect();
    let paths: Vec<PathBuf> = before
        .modes
        .iter()
        .filter(|(path, mode)| {
            !diffed.contains(path)
                && after.modes.get(*path) != Some(*mode)
                && current_mode(&repo.work_tree.join(path)) != Some(**mode)
        })
        .map(|(path, _)| path.clone())
        .collect();
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let entries = tree_entries(repo, &before.tree, &paths, cancel).await?;
    Ok(entries
        .into_iter()
        .filter(|(_, entry)| matches!(entry.mode, FileMode::Regular | FileMode::Executable))
        .map(|(path, entry)| Change {
            path,
            before: Some(entry.clone()),
            after: Some(entry),
        })
        .collect())
}

#[cfg(unix)]
fn current_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|metadata| metadata.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn current_mode(_path: &Path) -> Option<u32> {
    None
}

/// Splits the changes undo can consider from those it must leave alone whatever the working
/// tree holds.
fn sort_out(
    changes: Vec<Change>,
    before: &Snapshot,
    after: &Snapshot,
) -> (Vec<Change>, Vec<Conflict>) {
    let mut conflicts = Vec::new();
    let mut candidates = Vec::new();
    for change in changes {
        let reason = if !is_safe_path(&change.path) {
            Some(ConflictReason::UnsafePath)
        } else if [&change.before, &change.after].iter().any(|entry| {
            entry
                .as_ref()
                .is_some_and(|entry| entry.mode == FileMode::Submodule)
        }) {
            Some(ConflictReason::Submodule)
        } else if before
            .skipped
            .iter()
            .chain(&after.skipped)
            .any(|s| s.covers(&change.path))
        {
            Some(ConflictReason::NotCaptured)
        } else if !cfg!(unix)
            && change
                .before
                .as_ref()
                .is_some_and(|entry| entry.mode == FileMode::Symlink)
        {
            Some(ConflictReason::Unsupported)
        } else {
            None
        };
        match reason {
            Some(reason) => conflicts.push(Conflict {
                path: change.path,
                reason,
            }),
            None => candidates.push(change),
        }
    }

    (candidates, conflicts)
}

/// Deletions first, deepest first (so emptied directories can go), then restorations,
/// shallowest first (so a restored directory exists before its files).
fn order_steps(steps: &mut [UndoStep]) {
    steps.sort_by(|a, b| {
        let rank = |step: &UndoStep| match step.action {
            UndoAction::Delete => 0,
            UndoAction::Restore { .. } => 1,
        };
        let depth = |step: &UndoStep| step.path.components().count();
        rank(a).cmp(&rank(b)).then_with(|| match a.action {
            UndoAction::Delete => depth(b).cmp(&depth(a)).then_with(|| a.path.cmp(&b.path)),
            UndoAction::Restore { .. } => a.path.cmp(&b.path),
        })
    });
}

/// The untracked paths among `paths` that git ignores now.
async fn ignored_paths(
    repo: &Repository,
    paths: &[PathBuf],
    cancel: &CancellationToken,
) -> Result<BTreeSet<PathBuf>, Error> {
    if paths.is_empty() {
        return Ok(BTreeSet::new());
    }
    let mut input = Vec::new();
    for path in paths {
        input.extend_from_slice(&path_to_git(path));
        input.push(0);
    }
    // A workspace only for a whole copy of a split index, which git must not read in place.
    let workspace = tempfile::Builder::new()
        .prefix("turnkit-undo-")
        .tempdir()
        .map_err(|error| Error::io(std::env::temp_dir(), error))?;
    let index_file = index::readable(repo, workspace.path(), cancel).await?;
    let output = repo
        .git()
        .env("GIT_INDEX_FILE", index_file)
        .args(["check-ignore", "-z", "--stdin"])
        .allow_code(1)
        .stdin(input)
        .run(cancel)
        .await?;
    Ok(split_nul(&output.stdout).map(path_from_git).collect())
}
