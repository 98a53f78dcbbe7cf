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
//!   in the same second as their files), so every git that reads that index rehashes them.
//!   turnkit never rewrites the user's index, so it keeps its own refreshed copy in its store
//!   (`turnkit/index/`), named after the user's index file's identity (size, times, inode):
//!   the snapshot's `git status` refreshes and rewrites the copy it scans, which is kept;
//!   while the user's index is the same file, the next snapshot starts from it.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::object::ObjectFormat;
use crate::platform::Fingerprint;
use crate::{Error, Repository};

/// Config every git that writes a temporary index runs with: a whole index, never split, so
/// no shared index file is written or read in the user's git directory, whatever the user's
/// `core.splitIndex`, `index.skipHash` or `feature.manyFiles` say.
pub(crate) const WHOLE_INDEX: &[&str] = &["-c", "core.splitIndex=false"];

/// Puts a whole copy of the user's index at `to`: turnkit's refreshed copy when the user's
/// index has not changed since it was made, else a copy of the user's (made whole if split).
///
/// The copy keeps its modification time, which is what makes git's check for racily clean
/// entries sound. An absent user's index leaves `to` absent.
///
/// # Cancel safety
///
/// Dropping the future kills the git child; nothing is written outside the workspace.
pub(crate) async fn prepare(
    repo: &Repository,
    workspace: &Path,
    to: &Path,
    cancel: &CancellationToken,
) -> Result<Prepared, Error> {
    let Some(source) = fingerprint(&repo.index_file) else {
        return Ok(Prepared::default());
    };
    let cached = cache_path(repo, &source);
    if let Ok(modified) = copy_keeping_time(&cached, to) {
        return Ok(Prepared {
            source: Some(source),
            cached,
            modified: Some(modified),
        });
    }
    whole_copy(repo, workspace, to, cancel).await?;
    // A copy of an index that was replaced meanwhile must not be kept under the old one's name.
    let unchanged = fingerprint(&repo.index_file).as_ref() == Some(&source);
    Ok(Prepared {
        source: unchanged.then_some(source),
        cached,
        modified: modified_time(to),
    })
}

/// Where a snapshot's copy of the index came from, so that git's refresh of it can be kept.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    /// The identity of the user's index the copy holds the entries of.
    source: Option<Fingerprint>,
    /// Where turnkit keeps its refreshed copy of that index.
    cached: PathBuf,
    /// The copy's modification time when it was made.
    modified: Option<std::time::SystemTime>,
}

impl Prepared {
    /// Keeps `index` as turnkit's refreshed copy of the user's index, when a git (the scan's
    /// `status`) rewrote it and the user's index is still the one it came from.
    ///
    /// git rewrites an index it refreshed: entries it had to rehash (racily clean after a
    /// clone, or stat-dirty with unchanged content) are clean in the new file, unless they are
    /// as new as the write itself, which git marks to be checked again. So the next snapshot
    /// starts from fresher stat data, and one in a later second clears what is left.
    pub(crate) fn keep(&self, repo: &Repository, index: &Path) {
        let Some(source) = &self.source else {
            return;
        };
        if modified_time(index) == self.modified
            || fingerprint(&repo.index_file).as_ref() != Some(source)
        {
            return;
        }
        // A store that cannot be written only costs the next snapshot the same rehashing.
        let _ = store_copy(repo, index, &self.cached);
    }
}

fn modified_time(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
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
