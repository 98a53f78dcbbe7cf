//! Carrying out an undo plan: each file written beside its place and renamed into it, after
//! one last check that it is still as the turn left it.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::git::split_lines;
use crate::object::{FileMode, TreeEntry};
use crate::observe::{Observed, blocking_ancestor, observe};
use crate::platform::{Fingerprint, create_restored_file, create_symlink, path_to_git};
use crate::undo::{Conflict, ConflictReason, UndoAction, UndoPlan, UndoStep};
use crate::{Error, Repository};

/// What [`apply_undo`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoReport {
    /// Paths written back to their state before the turn.
    pub restored: Vec<PathBuf>,
    /// Paths the turn created, deleted.
    pub deleted: Vec<PathBuf>,
    /// Paths that were already back to their state before the turn.
    pub already_undone: Vec<PathBuf>,
    /// Paths left alone: the plan's conflicts and those found changed while undoing.
    pub conflicts: Vec<Conflict>,
    /// Paths whose undo failed with an error; each is left either untouched or fully undone.
    pub failed: Vec<Failure>,
    /// Paths not reached because undo was cancelled; each is untouched.
    pub not_done: Vec<PathBuf>,
    /// Whether undo was cancelled before it finished.
    pub cancelled: bool,
}

impl UndoReport {
    /// Whether every path the turn changed is back to its state before the turn.
    pub fn is_complete(&self) -> bool {
        self.conflicts.is_empty() && self.failed.is_empty() && self.not_done.is_empty()
    }
}

/// A path whose undo failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The path, relative to the top of the working tree.
    pub path: PathBuf,
    /// What went wrong, for a person to read.
    pub message: String,
}

/// Carries out `plan` on the working tree (never the index).
///
/// Each path is checked once more just before it is touched and left alone (reported as a
/// conflict) when it is no longer as the turn left it. A restored file is written to a
/// temporary name in its own directory and renamed into place, so a reader sees either the old
/// or the new file; a file that must not exist yet is linked into place, never over a file
/// someone just created. Symlinks are written as symlinks and never followed; nothing is
/// written below a symlink or outside the working tree. Directories the turn created and undo
/// emptied are removed.
///
/// # Cancel safety
///
/// Cancelling `cancel` stops before the next path: every path is either fully old or fully
/// new, and the report lists the untouched ones in [`UndoReport::not_done`]. Dropping the
/// future has the same effect on files, without the report.
pub async fn apply_undo(plan: &UndoPlan, cancel: &CancellationToken) -> Result<UndoReport, Error> {
    let repo = &plan.repo;
    let mut report = UndoReport {
        already_undone: plan.already_undone.clone(),
        conflicts: plan.conflicts.clone(),
        ..UndoReport::default()
    };
    let paths: Vec<PathBuf> = plan.steps.iter().map(|step| step.path.clone()).collect();
    let observed = match observe(repo, &paths, cancel).await {
        Ok(observed) => observed,
        Err(Error::Cancelled) => {
            report.cancelled = true;
            report.not_done = paths;
            return Ok(report);
        }
        Err(error) => return Err(error),
    };

    let mut emptied = BTreeSet::new();
    let mut remaining = plan.steps.iter().zip(observed).peekable();
    while let Some((step, observed)) = remaining.next() {
        if cancel.is_cancelled() {
            report.cancelled = true;
        }
        if report.cancelled {
            report.not_done.push(step.path.clone());
            continue;
        }
        if !observed.matches(step.expected.as_ref(), &plan.symlink_targets) {
            report.conflict(step, ConflictReason::ChangedSince);
            continue;
        }
        let outcome = match &step.action {
            UndoAction::Delete => delete(repo, step, &observed),
            UndoAction::Restore { entry } => restore(plan, step, entry, &observed, cancel).await,
        };
        match outcome {
            Ok(Outcome::Done) => match step.action {
                UndoAction::Delete => {
                    report.deleted.push(step.path.clone());
                    emptied.extend(step.path.ancestors().skip(1).map(Path::to_path_buf));
                }
                UndoAction::Restore { .. } => report.restored.push(step.path.clone()),
            },
            Ok(Outcome::Conflict(reason)) => report.conflict(step, reason),
            Ok(Outcome::Cancelled) => {
                report.cancelled = true;
                report.not_done.push(step.path.clone());
            }
            Err(error) => report.failed.push(Failure {
                path: step.path.clone(),
                message: error_chain(&error),
            }),
        }
        // Directories the turn created are removed once all deletions are done, before a
        // restoration may need a directory of the same name.
        let deletions_over = remaining
            .peek()
            .is_none_or(|(next, _)| !matches!(next.action, UndoAction::Delete));
        if deletions_over && !emptied.is_empty() {
            remove_created_dirs(plan, std::mem::take(&mut emptied), cancel).await?;
        }
    }
    report.conflicts.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

impl UndoReport {
    fn conflict(&mut self, step: &UndoStep, reason: ConflictReason) {
        self.conflicts.push(Conflict {
            path: step.path.clone(),
            reason,
        });
    }
}

enum Outcome {
    Done,
    Conflict(ConflictReason),
    Cancelled,
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Whether the path still holds exactly what was observed when undo started.
fn unchanged_since(full: &Path, observed: &Observed) -> bool {
    match std::fs::symlink_metadata(full) {
        Ok(metadata) => observed.fingerprint() == Some(&Fingerprint::of(&metadata)),
        Err(error) => {
            error.kind() == std::io::ErrorKind::NotFound && observed.fingerprint().is_none()
        }
    }
}

fn delete(repo: &Repository, step: &UndoStep, observed: &Observed) -> Result<Outcome, Error> {
    if blocking_ancestor(&repo.work_tree, &step.path).is_some() {
        return Ok(Outcome::Conflict(ConflictReason::ChangedSince));
    }
    let full = repo.work_tree.join(&step.path);
    if !unchanged_since(&full, observed) {
        return Ok(Outcome::Conflict(ConflictReason::ChangedSince));
    }
    std::fs::remove_file(&full).map_err(|error| Error::io(&full, error))?;
    Ok(Outcome::Done)
}

async fn restore(
    plan: &UndoPlan,
    step: &UndoStep,
    entry: &TreeEntry,
    observed: &Observed,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    let repo = &plan.repo;
    let Some(parent) = prepare_parent(&repo.work_tree, &step.path)? else {
        return Ok(Outcome::Conflict(ConflictReason::Blocked));
    };
    let full = repo.work_tree.join(&step.path);
    let replaced = std::fs::symlink_metadata(&full).ok();
    if replaced.as_ref().is_some_and(std::fs::Metadata::is_dir) {
        // The turn put a directory where a file was; undo has removed what it could of it.
        if std::fs::remove_dir(&full).is_err() {
            return Ok(Outcome::Conflict(ConflictReason::Blocked));
        }
    }
    let temporary = match entry.mode {
        FileMode::Symlink => {
            let Some(target) = plan.symlink_targets.get(&entry.oid) else {
                return Err(Error::SnapshotMissing {
                    commit: plan.before.clone(),
                });
            };
            match create_temporary(&parent, |path| create_symlink(target, path)) {
                Ok(path) => path,
                Err(error) if error.kind() == std::io::ErrorKind::Unsupported => {
                    return Ok(Outcome::Conflict(ConflictReason::Unsupported));
                }
                Err(error) => return Err(Error::io(&parent, error)),
            }
        }
        FileMode::Regular | FileMode::Executable => {
            let executable = entry.mode == FileMode::Executable;
            let mut file = None;
            let path = create_temporary(&parent, |path| {
                file = Some(create_restored_file(
                    path,
                    executable,
                    replaced.as_ref(),
                    step.permissions,
                )?);
                Ok(())
            })
            .map_err(|error| Error::io(&parent, error))?;
            let guard = RemoveOnDrop(Some(path.clone()));
            let Some(file) = file else {
                return Err(Error::io(
                    &path,
                    std::io::Error::other("temporary file not created"),
                ));
            };
            match write_blob(repo, step, entry, file, &path, cancel).await {
                Ok(()) => {}
                Err(Error::Cancelled) => return Ok(Outcome::Cancelled),
                Err(error) => return Err(error),
            }
            guard.keep();
            path
        }
        FileMode::Submodule => return Ok(Outcome::Conflict(ConflictReason::Submodule)),
    };
    let guard = RemoveOnDrop(Some(temporary.clone()));

    // The last look: anything that changed the path since undo started wins over undo.
    if blocking_ancestor(&repo.work_tree, &step.path).is_some() {
        return Ok(Outcome::Conflict(ConflictReason::Blocked));
    }
    let directory_was_there = matches!(observed, Observed::Directory);
    let still = if directory_was_there {
        std::fs::symlink_metadata(&full).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    } else {
        unchanged_since(&full, observed)
    };
    if !still {
        return Ok(Outcome::Conflict(ConflictReason::ChangedSince));
    }
    let outcome = if observed.fingerprint().is_some() {
        std::fs::rename(&temporary, &full).map_err(|error| Error::io(&full, error))?;
        Outcome::Done
    } else {
        place_new(&temporary, &full)?
    };
    if matches!(outcome, Outcome::Done) {
        guard.keep();
    }
    Ok(outcome)
}

/// Puts a file where none is, failing rather than replacing one that appeared meanwhile.
fn place_new(temporary: &Path, full: &Path) -> Result<Outcome, Error> {
    match std::fs::hard_link(temporary, full) {
        Ok(()) => {
            std::fs::remove_file(temporary).map_err(|error| Error::io(temporary, error))?;
            Ok(Outcome::Done)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(Outcome::Conflict(ConflictReason::ChangedSince))
        }
        // Some file systems have no hard links; a rename is the next best thing.
        Err(_) if std::fs::symlink_metadata(full).is_err() => {
            std::fs::rename(temporary, full).map_err(|error| Error::io(full, error))?;
            Ok(Outcome::Done)
        }
        Err(error) => Err(Error::io(full, error)),
    }
}

/// Creates the missing directories above `path`, never through a symlink; `None` when
/// something other than a directory is in the way.
fn prepare_parent(work_tree: &Path, path: &Path) -> Result<Option<PathBuf>, Error> {
    let mut current = work_tree.to_path_buf();
    let Some(parent) = path.parent() else {
        return Ok(Some(current));
    };
    for component in parent.components() {
        current.push(component);
        match std::fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&current) {
                    Ok(()) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(error) => return Err(Error::io(&current, error)),
                }
                if !std::fs::symlink_metadata(&current).is_ok_and(|metadata| metadata.is_dir()) {
                    return Ok(None);
                }
            }
            Err(error) => return Err(Error::io(&current, error)),
        }
    }
    Ok(Some(current))
}

static TEMPORARY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates something at a fresh hidden name in `dir`, retrying on a name clash.
///
/// The name is short and owes nothing to the target's, which may already be as long as a
/// name can be.
fn create_temporary(
    dir: &Path,
    mut create: impl FnMut(&Path) -> std::io::Result<()>,
) -> std::io::Result<PathBuf> {
    let mut last_error = None;
    for _ in 0..16 {
        let unique = TEMPORARY_COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let name = format!(".turnkit-{:x}-{unique:x}-{nanos:x}", std::process::id());
        let path = dir.join(name);
        match create(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                last_error = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// Removes a temporary file unless told to keep it.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Writes a blob into `file` as checkout would: through the user's smudge filters and
/// end-of-line conversion for the step's path, unless the snapshot stored it byte for byte.
async fn write_blob(
    repo: &Repository,
    step: &UndoStep,
    entry: &TreeEntry,
    mut file: std::fs::File,
    temporary: &Path,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let mut command = repo.git_reading_snapshots()?.arg("cat-file");
    if step.unfiltered {
        command = command.arg("blob");
    } else {
        let mut path_arg = std::ffi::OsString::from("--path=");
        path_arg.push(step.path.as_os_str());
        command = command.arg("--filters").arg(path_arg);
    }
    let command = command.arg(entry.oid.as_str());
    let mut child = command.spawn()?;
    drop(child.stdin.take());
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| command.unexpected("no stdout pipe"))?;
    let mut stderr = child.stderr.take();
    let copy = async {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let read = stdout
                .read(&mut buffer)
                .await
                .map_err(|e| Error::io(temporary, e))?;
            if read == 0 {
                break;
            }
            file.write_all(&buffer[..read])
                .map_err(|e| Error::io(temporary, e))?;
        }
        let mut message = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_end(&mut message).await;
        }
        let status = child.wait().await.map_err(|e| Error::io(temporary, e))?;
        if !status.success() {
            return Err(command.failure(status, &message));
        }
        file.sync_all().map_err(|e| Error::io(temporary, e))
    };
    tokio::select! {
        result = copy => result,
        () = cancel.cancelled() => Err(Error::Cancelled),
    }
}

/// Removes directories undo emptied that did not exist before the turn.
async fn remove_created_dirs(
    plan: &UndoPlan,
    candidates: BTreeSet<PathBuf>,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let repo = &plan.repo;
    let mut dirs: Vec<PathBuf> = candidates
        .into_iter()
        .filter(|dir| {
            !dir.as_os_str().is_empty() && dir.starts_with(&repo.scope) && *dir != repo.scope
        })
        .filter(|dir| !path_to_git(dir).contains(&b'\n'))
        .collect();
    if dirs.is_empty() {
        return Ok(());
    }
    let mut question = Vec::new();
    for dir in &dirs {
        question.extend_from_slice(plan.before.as_str().as_bytes());
        question.push(b':');
        question.extend_from_slice(&path_to_git(dir));
        question.push(b'\n');
    }
    let output = match repo
        .git_reading_snapshots()?
        .args(["cat-file", "--batch-check=%(objecttype)"])
        .stdin(question)
        .run(cancel)
        .await
    {
        Ok(output) => output,
        // Leaving empty directories behind loses nothing.
        Err(Error::Cancelled) => return Ok(()),
        Err(error) => return Err(error),
    };
    let existed: Vec<bool> = split_lines(&output.stdout)
        .map(|line| line == b"tree")
        .collect();
    if existed.len() != dirs.len() {
        return Ok(());
    }
    let mut removable: Vec<PathBuf> = dirs
        .drain(..)
        .zip(existed)
        .filter(|(_, existed)| !existed)
        .map(|(dir, _)| dir)
        .collect();
    removable.sort_by_key(|dir| std::cmp::Reverse(dir.components().count()));
    for dir in removable {
        if blocking_ancestor(&repo.work_tree, &dir.join("x")).is_none() {
            // Fails, as it should, when the directory is not empty.
            let _ = std::fs::remove_dir(repo.work_tree.join(&dir));
        }
    }
    Ok(())
}
