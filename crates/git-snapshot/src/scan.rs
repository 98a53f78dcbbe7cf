//! Finding what a snapshot must record: changed tracked paths and the untracked files worth
//! keeping, with everything left out and why.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::git::split_nul;
use crate::observe::blocking_ancestor;
use crate::platform::path_from_git;
use crate::snapshot::{SkipReason, Skipped, SnapshotOptions};
use crate::{Error, Repository};

/// The paths whose entries in the temporary index must be refreshed from the working tree.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Tracked paths that differ from the index, unmerged paths, and untracked files kept.
    pub(crate) update: Vec<Vec<u8>>,
    /// Deleted tracked paths that now lie beyond a symlink or a file, which `update-index
    /// --remove` refuses to look at.
    pub(crate) force_remove: Vec<Vec<u8>>,
    /// Everything left out, in path order.
    pub(crate) skipped: Vec<Skipped>,
}

/// What the working tree holds beside the index, before untracked entries are sorted out.
#[derive(Debug, Default)]
struct Status {
    changed: Vec<Vec<u8>>,
    deleted: Vec<Vec<u8>>,
    untracked_files: Vec<Vec<u8>>,
    untracked_dirs: Vec<Vec<u8>>,
}

/// Finds what differs from the temporary index and sorts out the untracked entries.
///
/// # Cancel safety
///
/// Dropping the future kills the git children; nothing is written.
pub(crate) async fn scan(
    repo: &Repository,
    options: &SnapshotOptions,
    index_env: &[(OsString, OsString)],
    cancel: &CancellationToken,
) -> Result<Scan, Error> {
    let status = status(repo, index_env, cancel).await?;
    let excluded: BTreeSet<&[u8]> = options.excluded_dirs.iter().map(String::as_bytes).collect();
    let mut scan = Scan {
        update: status.changed,
        ..Scan::default()
    };
    let mut skipped_dirs: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut candidates = Vec::new();
    let mut untracked_dirs = status.untracked_dirs;
    for path in status.deleted {
        let relative = path_from_git(&path);
        if blocking_ancestor(&repo.work_tree, &relative).is_some() {
            scan.force_remove.push(path);
            continue;
        }
        // `status -unormal` does not report the untracked content of a directory that took
        // the place of a tracked file; it must be listed like any untracked directory.
        let now_dir = std::fs::symlink_metadata(repo.work_tree.join(&relative))
            .is_ok_and(|metadata| metadata.is_dir());
        if now_dir {
            let mut dir = path.clone();
            dir.push(b'/');
            untracked_dirs.push(dir);
        }
        scan.update.push(path);
    }

    for file in status.untracked_files {
        if let Some(folder) = excluded_folder(&file, false, &excluded) {
            skipped_dirs.insert(folder);
        } else {
            candidates.push(file);
        }
    }
    let mut to_list = Vec::new();
    untracked_dirs.sort_unstable();
    untracked_dirs.dedup();
    for dir in untracked_dirs {
        if let Some(folder) = excluded_folder(&dir, true, &excluded) {
            skipped_dirs.insert(folder);
        } else if repo
            .work_tree
            .join(path_from_git(&dir))
            .join(".git")
            .exists()
        {
            scan.skipped
                .push(Skipped::new(&dir, SkipReason::NestedRepository));
        } else {
            to_list.push(dir);
        }
    }
    if !to_list.is_empty() {
        let listing = list_untracked(repo, options, &to_list, index_env, cancel).await?;
        candidates.extend(listing.files);
        scan.skipped.extend(listing.skipped);
        skipped_dirs.extend(listing.excluded_dirs);
    }
    for folder in skipped_dirs {
        scan.skipped
            .push(Skipped::new(&folder, SkipReason::DependencyFolder));
    }
    for file in candidates {
        match classify(&repo.work_tree, &file, options.max_untracked_file_size) {
            Verdict::Keep => scan.update.push(file),
            Verdict::Gone => {}
            Verdict::Skip(reason) => scan.skipped.push(Skipped::new(&file, reason)),
        }
    }
    scan.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scan)
}

/// What `git status --untracked-files=normal` would report about the working tree, found by
/// its two halves run side by side: `diff-files` (working tree against the index, no HEAD
/// trees read) and `ls-files --others` (the untracked walk, which honours the untracked cache).
async fn status(
    repo: &Repository,
    index_env: &[(OsString, OsString)],
    cancel: &CancellationToken,
) -> Result<Status, Error> {
    let mut tracked = repo.git().envs(index_env).args([
        "diff-files",
        "-z",
        "--name-status",
        "--no-renames",
        "--ignore-submodules=dirty",
    ]);
    // The flags `status -unormal` walks with: untracked directories collapsed, directories
    // holding nothing but ignored files hidden.
    let mut untracked = repo.git().envs(index_env).args([
        "ls-files",
        "-z",
        "--others",
        "--exclude-standard",
        "--directory",
        "--no-empty-directory",
    ]);
    if !repo.scope.as_os_str().is_empty() {
        tracked = tracked
            .env("GIT_LITERAL_PATHSPECS", "1")
            .arg("--")
            .arg(&repo.scope);
        untracked = untracked
            .env("GIT_LITERAL_PATHSPECS", "1")
            .arg("--")
            .arg(&repo.scope);
    }
    let described = tracked.describe();
    let (tracked, untracked) = tokio::join!(tracked.run(cancel), untracked.run(cancel));
    let (tracked, untracked) = (tracked?, untracked?);
    let mut status = Status::default();
    let mut records = split_nul(&tracked.stdout);
    while let Some(letter) = records.next() {
        let Some(path) = records.next() else {
            return Err(Error::UnexpectedOutput {
                command: described,
                detail: "a status letter without a path".to_owned(),
            });
        };
        // `U` (unmerged), `M`, `T` and `A` (intent to add) all need the working tree's content.
        if letter == b"D" {
            status.deleted.push(path.to_vec());
        } else {
            status.changed.push(path.to_vec());
        }
    }
    for path in split_nul(&untracked.stdout) {
        if path.ends_with(b"/") {
            status.untracked_dirs.push(path.to_vec());
        } else {
            status.untracked_files.push(path.to_vec());
        }
    }
    Ok(status)
}

/// The files inside wholly untracked directories, and what was left out of them.
#[derive(Debug, Default)]
struct Listing {
    files: Vec<Vec<u8>>,
    skipped: Vec<Skipped>,
    excluded_dirs: Vec<Vec<u8>>,
}

/// Lists the files inside wholly untracked directories, pruning dependency folders as git
/// walks (so a fresh `node_modules` costs nothing) and giving up on a directory past
/// [`SnapshotOptions::max_untracked_dir_files`].
async fn list_untracked(
    repo: &Repository,
    options: &SnapshotOptions,
    dirs: &[Vec<u8>],
    index_env: &[(OsString, OsString)],
    cancel: &CancellationToken,
) -> Result<Listing, Error> {
    let excludes: Vec<OsString> = options
        .excluded_dirs
        .iter()
        .map(|name| OsString::from(format!("--exclude={name}/")))
        .collect();
    let pathspecs: Vec<_> = dirs.iter().map(|dir| path_from_git(dir)).collect();

    let files_command = repo
        .git()
        .envs(index_env)
        .env("GIT_LITERAL_PATHSPECS", "1")
        .args(["ls-files", "-z", "--others", "--exclude-standard"])
        .args(&excludes)
        .arg("--")
        .args(&pathspecs);
    let excluded_command = repo
        .git()
        .envs(index_env)
        .env("GIT_LITERAL_PATHSPECS", "1")
        .args(["ls-files", "-z", "--others", "--ignored", "--directory"])
        .args(&excludes)
        .arg("--")
        .args(&pathspecs);

    let (listing, excluded_output) = tokio::join!(
        stream_files(
            &files_command,
            dirs,
            options.max_untracked_dir_files,
            cancel
        ),
        excluded_command.run(cancel),
    );
    let mut listing = listing?;
    listing.excluded_dirs = split_nul(&excluded_output?.stdout)
        .map(|dir| dir.strip_suffix(b"/").unwrap_or(dir).to_vec())
        .collect();
    Ok(listing)
}

async fn stream_files(
    command: &crate::git::GitCommand,
    dirs: &[Vec<u8>],
    limit: usize,
    cancel: &CancellationToken,
) -> Result<Listing, Error> {
    let mut child = command.spawn()?;
    drop(child.stdin.take());
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| command.unexpected("no stdout pipe"))?;
    let mut stderr = child.stderr.take();
    let mut reader = BufReader::new(stdout);

    let mut dirs: Vec<&[u8]> = dirs.iter().map(Vec::as_slice).collect();
    dirs.sort_unstable();
    let mut counts = vec![0_usize; dirs.len()];
    let mut listing = Listing::default();
    let mut record = Vec::new();
    loop {
        record.clear();
        let read = tokio::select! {
            read = reader.read_until(0, &mut record) => read,
            () = cancel.cancelled() => return Err(Error::Cancelled),
        };
        let read = read.map_err(|error| Error::io(command.describe(), error))?;
        if read == 0 {
            break;
        }
        let path = record.strip_suffix(&[0]).unwrap_or(&record);
        if path.is_empty() {
            continue;
        }
        let owner = dirs
            .partition_point(|dir| *dir <= path)
            .checked_sub(1)
            .filter(|position| path.starts_with(dirs[*position]));
        if let Some(position) = owner {
            counts[position] += 1;
            if counts[position] > limit {
                continue;
            }
        }
        if path.ends_with(b"/") {
            let dir = path.strip_suffix(b"/").unwrap_or(path);
            listing
                .skipped
                .push(Skipped::new(dir, SkipReason::NestedRepository));
        } else {
            listing.files.push(path.to_vec());
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|error| Error::io(command.describe(), error))?;
    if !status.success() {
        let mut message = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            use tokio::io::AsyncReadExt;
            let _ = stderr.read_to_end(&mut message).await;
        }
        return Err(command.failure(status, &message));
    }
    for (dir, count) in dirs.iter().zip(counts) {
        if count <= limit {
            continue;
        }
        let dir_path = dir.strip_suffix(b"/").unwrap_or(dir);
        let inside = path_from_git(dir_path);
        listing.files.retain(|file| !file.starts_with(dir));
        listing
            .skipped
            .retain(|skipped| !skipped.path.starts_with(&inside));
        listing.skipped.push(Skipped::new(
            dir_path,
            SkipReason::TooManyFiles { at_least: count },
        ));
    }
    Ok(listing)
}

/// The folder to leave out when a directory on `path` is a dependency or build folder.
///
/// The last component of a file's path is the file itself, so it is not looked at.
fn excluded_folder(path: &[u8], is_dir: bool, excluded: &BTreeSet<&[u8]>) -> Option<Vec<u8>> {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    let components: Vec<&[u8]> = path.split(|byte| *byte == b'/').collect();
    let dir_count = if is_dir {
        components.len()
    } else {
        components.len().saturating_sub(1)
    };
    let mut end = 0;
    for (position, component) in components[..dir_count].iter().enumerate() {
        end += component.len() + usize::from(position > 0);
        if excluded.contains(component) {
            return Some(path[..end].to_vec());
        }
    }
    None
}

enum Verdict {
    Keep,
    Gone,
    Skip(SkipReason),
}

fn classify(work_tree: &Path, file: &[u8], max_size: u64) -> Verdict {
    let path = work_tree.join(path_from_git(file));
    let Ok(metadata) = std::fs::symlink_metadata(&path) else {
        return Verdict::Gone;
    };
    if metadata.file_type().is_symlink() {
        return Verdict::Keep;
    }
    if !metadata.is_file() {
        return Verdict::Skip(SkipReason::SpecialFile);
    }
    if metadata.len() > max_size {
        return Verdict::Skip(SkipReason::LargeFile {
            size: metadata.len(),
        });
    }
    // git would stop the whole snapshot on one file it cannot read.
    if std::fs::File::open(&path).is_err() {
        return Verdict::Skip(SkipReason::Unreadable);
    }
    Verdict::Keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_folder_finds_the_outermost_match() {
        let names: BTreeSet<&[u8]> = [&b"node_modules"[..], b"target"].into_iter().collect();
        assert_eq!(
            excluded_folder(b"a/node_modules/x/target/f", false, &names),
            Some(b"a/node_modules".to_vec())
        );
        assert_eq!(
            excluded_folder(b"target/", true, &names),
            Some(b"target".to_vec())
        );
        assert_eq!(excluded_folder(b"src/target", false, &names), None);
        assert_eq!(excluded_folder(b"src/lib.rs", false, &names), None);
    }
}
