//! The index a snapshot starts from: turnkit's own refreshed copy of the user's index, never
//! sharing a file with it.
//!
//! Two things make a plain copy of the user's index the wrong starting point.
//!
//! - A split index (`core.splitIndex`, or an index some git wrote that way) names a shared
//!   index file in the git directory. Any git that reads it looks for that file in the git
//!   directory first and bumps its modification time, and a git that writes it may write a
//!   new shared index there. So a split index is first turned into a whole one, by a git
//!   pointed at a scratch git directory holding copies of the shared index files; from then on
//!   every git this crate runs sees only whole indexes, written with `core.splitIndex=false`.
//! - Right after a clone or a checkout, the user's index entries are "racily clean" (written
//!   in the same instant as their files), so every git that reads that index rehashes them.
//!   turnkit never rewrites the user's index, so it keeps its own refreshed copy in its store
//!   (`turnkit/index/`), named after the user's index file's identity (size, times, inode):
//!   while the user's index is the same file, the copy holds the same entries with fresher
//!   stat data, and a snapshot starts from it.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::object::ObjectFormat;
use crate::platform::Fingerprint;
use crate::{Error, Repository};

/// Config every git that writes a temporary index runs with: a whole index, never split, so
/// no shared index file is written or read in the user's git directory, whatever the user's
/// `core.splitIndex`, `index.skipHash` or `feature.manyFiles` say.
pub(crate) const WHOLE_INDEX: &[&str] = &["-c", "core.splitIndex=false"];

/// Puts a whole, refreshed copy of the user's index at `to`, from turnkit's store when the
/// user's index has not changed since the copy there was made.
///
/// The copy keeps the modification time git gave it, which is what makes git's check for
/// racily clean entries sound. An absent user's index leaves `to` absent.
///
/// # Cancel safety
///
/// Dropping the future kills the git children; the store only ever receives a complete copy
/// (by rename).
pub(crate) async fn prepare(
    repo: &Repository,
    workspace: &Path,
    to: &Path,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let Some(source) = fingerprint(&repo.index_file) else {
        return Ok(());
    };
    let cached = cache_path(repo, &source);
    if copy_keeping_time(&cached, to).is_ok() {
        return Ok(());
    }
    whole_copy(repo, workspace, to, cancel).await?;
    let unchanged = fingerprint(&repo.index_file).as_ref() == Some(&source);
    // Refreshing rehashes the racily clean entries once and records fresh stat data; git
    // writes the result with its own time, smudging any entry as new as the write.
    repo.git()
        .env("GIT_INDEX_FILE", to)
        .args(WHOLE_INDEX)
        .args(["update-index", "-q", "--refresh", "--unmerged"])
        .args(["--ignore-missing", "--ignore-submodules"])
        .allow_code(1)
        .run(cancel)
        .await?;
    if unchanged {
        // A store that cannot be written only costs the next snapshot the same refresh.
        let _ = store_copy(repo, to, &cached);
    }
    Ok(())
}

/// A path to an index git can read without touching the user's git directory: the user's own
/// when it is whole, otherwise a whole copy made in `workspace`.
///
/// # Cancel safety
///
/// Dropping the future kills the git child; nothing of the user's is written.
pub(crate) async fn readable(
    repo: &Repository,
    workspace: &Path,
    cancel: &CancellationToken,
) -> Result<PathBuf, Error> {
    if !may_be_split(&repo.git_dir) {
        return Ok(repo.index_file.clone());
    }
    let to = workspace.join("readable-index");
    whole_copy(repo, workspace, &to, cancel).await?;
    Ok(to)
}

/// Copies the user's index to `to` as a whole index, keeping its modification time.
async fn whole_copy(
    repo: &Repository,
    workspace: &Path,
    to: &Path,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    if !may_be_split(&repo.git_dir) {
        copy_keeping_time(&repo.index_file, to)?;
        return Ok(());
    }
    let scratch = workspace.join("unsplit");
    let git_dir = scratch.join("git");
    for dir in [git_dir.join("objects"), git_dir.join("refs")] {
        std::fs::create_dir_all(&dir).map_err(|error| Error::io(dir, error))?;
    }
    write(&git_dir.join("HEAD"), b"ref: refs/heads/turnkit\n")?;
    if repo.object_format == ObjectFormat::Sha256 {
        write(
            &git_dir.join("config"),
            b"[core]\n\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha256\n",
        )?;
    }
    let entries =
        std::fs::read_dir(&repo.git_dir).map_err(|error| Error::io(&repo.git_dir, error))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("sharedindex.") {
            // Copies, never links: git bumps the time of the shared index it reads.
            std::fs::copy(entry.path(), git_dir.join(&name))
                .map_err(|error| Error::io(entry.path(), error))?;
        }
    }
    let index = git_dir.join("index");
    let modified = copy_keeping_time(&repo.index_file, &index)?;
    repo.git
        .command(&scratch)
        .arg("--git-dir")
        .arg(&git_dir)
        .env("GIT_INDEX_FILE", &index)
        .args(WHOLE_INDEX)
        .args(["-c", "index.skipHash=false", "-c", "core.fsmonitor=false"])
        .args(["update-index", "--no-split-index"])
        .run(cancel)
        .await?;
    // The whole index must look as old as the user's, or entries that were racily clean
    // there would pass as clean here.
    set_modified(&index, modified)?;
    std::fs::rename(&index, to).map_err(|error| Error::io(to, error))?;
    Ok(())
}

/// Whether the user's index may be split: a shared index file lies in its git directory.
fn may_be_split(git_dir: &Path) -> bool {
    std::fs::read_dir(git_dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("sharedindex.")
        })
    })
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    std::fs::metadata(path)
        .ok()
        .map(|metadata| Fingerprint::of(&metadata))
}

/// Where the refreshed copy of the user's index with identity `source` lives.
fn cache_path(repo: &Repository, source: &Fingerprint) -> PathBuf {
    repo.store()
        .index_dir()
        .join(format!("{}.{}", worktree_key(repo), source.token()))
}

/// A name for this worktree's index among those of the repository's worktrees.
fn worktree_key(repo: &Repository) -> String {
    let relative = repo
        .git_dir
        .strip_prefix(&repo.common_dir)
        .unwrap_or(Path::new("other"));
    let mut key = String::from("index");
    for component in relative.components() {
        key.push('-');
        key.push_str(&component.as_os_str().to_string_lossy().replace('.', "_"));
    }
    key
}

/// Puts a finished copy into the store by rename and removes this worktree's older copies.
fn store_copy(repo: &Repository, from: &Path, cached: &Path) -> Result<(), Error> {
    let dir = repo.store().index_dir();
    std::fs::create_dir_all(&dir).map_err(|error| Error::io(&dir, error))?;
    let incoming = tempfile::Builder::new()
        .prefix("incoming-")
        .tempfile_in(&dir)
        .map_err(|error| Error::io(&dir, error))?;
    copy_keeping_time(from, incoming.path())?;
    incoming
        .persist(cached)
        .map_err(|error| Error::io(cached, error.error))?;
    let prefix = format!("{}.", worktree_key(repo));
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path != cached && name.starts_with(&prefix) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    Ok(())
}

/// Copies an index file and gives the copy the original's modification time, which it
/// returns; a missing source is an error of kind `NotFound`.
pub(crate) fn copy_keeping_time(from: &Path, to: &Path) -> Result<std::time::SystemTime, Error> {
    let modified = std::fs::metadata(from)
        .and_then(|metadata| metadata.modified())
        .map_err(|error| Error::io(from, error))?;
    std::fs::copy(from, to).map_err(|error| Error::io(from, error))?;
    set_modified(to, modified)?;
    Ok(modified)
}

fn set_modified(path: &Path, modified: std::time::SystemTime) -> Result<(), Error> {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(modified))
        .map_err(|error| Error::io(path, error))
}

fn write(path: &Path, content: &[u8]) -> Result<(), Error> {
    std::fs::write(path, content).map_err(|error| Error::io(path, error))
}
