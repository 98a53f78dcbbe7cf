//! Finding what a snapshot must record: changed tracked paths and the untracked files worth
//! keeping, with everything left out and why.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::git::split_nul;
use crate::index::WHOLE_INDEX;
use crate::object::FileMode;
use crate::observe::blocking_ancestor;
use crate::platform::{is_special, path_from_git, path_to_git, private_mode};
use crate::snapshot::{SkipReason, Skipped, SnapshotOptions};
use crate::{Error, ObjectId, Repository};

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
    /// Changed tracked regular files and the blob their index entry names, which git reads
    /// to decide whether CRLF stays as it is.
    pub(crate) index_blobs: Vec<(Vec<u8>, ObjectId)>,
    /// The commit HEAD points at (`None` on an unborn branch), as the scan saw it.
    pub(crate) head: Option<ObjectId>,
    /// Index entries that differ from HEAD in the scope, with their objects.
    pub(crate) staged: Vec<(Vec<u8>, ObjectId)>,
    /// Permission bits git does not record, of the files read.
    pub(crate) modes: BTreeMap<PathBuf, u32>,
}

/// What the working tree holds beside the index, before untracked entries are sorted out.
#[derive(Debug, Default)]
struct Status {
    /// The commit HEAD points at; `None` on an unborn branch.
    head: Option<ObjectId>,
    /// Whether status said what HEAD is.
    head_seen: bool,
    staged: Vec<(Vec<u8>, ObjectId)>,
    changed: Vec<Vec<u8>>,
    index_blobs: Vec<(Vec<u8>, ObjectId)>,
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
    if !status.head_seen {
        return Err(Error::UnexpectedOutput {
            command: "git status --porcelain=v2 --branch".to_owned(),
            detail: "no `# branch.oid` line".to_owned(),
        });
    }
    let mut scan = Scan {
        head: status.head,
        update: status.changed,
        index_blobs: status.index_blobs,
        staged: status.staged,
        ..Scan::default()
    };
    for path in &scan.update {
        record_mode(&repo.work_tree, path, &mut scan.modes);
    }
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

    // git lists an untracked file on its own only when its folder holds tracked files, and
    // collapses a wholly untracked folder to one entry: so only that entry's own name decides
    // whether it is a dependency or build folder, and a tracked file is always captured.
    candidates.extend(status.untracked_files);
    let mut to_list = Vec::new();
    untracked_dirs.sort_unstable();
    untracked_dirs.dedup();
    for dir in untracked_dirs {
        if is_excluded_dir(&dir, &excluded) {
            skipped_dirs.insert(dir.strip_suffix(b"/").unwrap_or(&dir).to_vec());
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
    let mut looked_in: BTreeSet<Vec<u8>> = BTreeSet::new();
    looked_in.insert(path_to_git(&repo.scope));
    for path in &scan.update {
        looked_in.insert(parent(path).to_vec());
    }
    for file in candidates {
        looked_in.insert(parent(&file).to_vec());
        match classify(&repo.work_tree, &file, options.max_untracked_file_size) {
            Verdict::Keep => {
                record_mode(&repo.work_tree, &file, &mut scan.modes);
                scan.update.push(file);
            }
            Verdict::Gone => {}
            Verdict::Skip(reason) => scan.skipped.push(Skipped::new(&file, reason)),
        }
    }
    let special = special_files(repo, &looked_in, index_env, cancel).await?;
    scan.skipped.extend(
        special
            .iter()
            .filter(|path| !scan.skipped.iter().any(|s| s.covers(&path_from_git(path))))
            .map(|path| Skipped::new(path, SkipReason::SpecialFile))
            .collect::<Vec<_>>(),
    );
    scan.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scan)
}

/// The folder part of a path git printed; empty at the top.
fn parent(path: &[u8]) -> &[u8] {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    path.iter()
        .rposition(|byte| *byte == b'/')
        .map_or(&b""[..], |slash| &path[..slash])
}

fn record_mode(work_tree: &Path, path: &[u8], modes: &mut BTreeMap<PathBuf, u32>) {
    let relative = path_from_git(path);
    if let Ok(metadata) = std::fs::symlink_metadata(work_tree.join(&relative))
        && let Some(mode) = private_mode(&metadata)
    {
        modes.insert(relative, mode);
    }
}

/// Sockets, FIFOs and devices in the folders the scan read, which git passes over in
/// silence; ignored ones are not reported.
async fn special_files(
    repo: &Repository,
    dirs: &BTreeSet<Vec<u8>>,
    index_env: &[(OsString, OsString)],
    cancel: &CancellationToken,
) -> Result<Vec<Vec<u8>>, Error> {
    let mut found = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(repo.work_tree.join(path_from_git(dir))) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(is_special) {
                let mut path = dir.clone();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(&path_to_git(Path::new(&entry.file_name())));
                found.push(path);
            }
        }
    }
    if found.is_empty() {
        return Ok(found);
    }
    let mut question = Vec::new();
    for path in &found {
        question.extend_from_slice(path);
        question.push(0);
    }
    let output = repo
        .git()
        .envs(index_env)
        .args(["check-ignore", "-z", "--stdin"])
        .allow_code(1)
        .stdin(question)
        .run(cancel)
        .await?;
    let ignored: BTreeSet<&[u8]> = split_nul(&output.stdout).collect();
    found.retain(|path| !ignored.contains(path.as_slice()));
    Ok(found)
}

/// What differs between HEAD, the index and the working tree, from one
/// `git status --porcelain=v2 --untracked-files=normal` on the temporary index: the working
/// tree against the index (stat data first, content only where stat data cannot tell), the
/// untracked walk (with the untracked cache), and the index against HEAD (with the cache tree,
/// so only the trees that differ are read).
async fn status(
    repo: &Repository,
    index_env: &[(OsString, OsString)],
    cancel: &CancellationToken,
) -> Result<Status, Error> {
    // The scan's copy of the index is turnkit's own: `status` may refresh and rewrite it
    // (whole, never split), which is how turnkit's refreshed copy stays fresh.
    let mut command = repo
        .git()
        .envs(index_env)
        .env("GIT_OPTIONAL_LOCKS", "1")
        .args(WHOLE_INDEX)
        .args([
            "status",
            "--porcelain=v2",
            "-z",
            "--untracked-files=normal",
            "--ignore-submodules=dirty",
            "--no-renames",
            // HEAD's commit, without counting commits against an upstream.
            "--branch",
            "--no-ahead-behind",
        ]);
    if !repo.scope.as_os_str().is_empty() {
        command = command
            .env("GIT_LITERAL_PATHSPECS", "1")
            .arg("--")
            .arg(&repo.scope);
    }
    let described = command.describe();
    let output = command.run(cancel).await?;
    let unexpected = || Error::UnexpectedOutput {
        command: described.clone(),
        detail: "a record that is not of `--porcelain=v2`".to_owned(),
    };
    let mut status = Status::default();
    for record in split_nul(&output.stdout) {
        match record.first() {
            Some(b'1') => {
                // `1 <XY> <sub> <mH> <mI> <mW> <hH> <hI> <path>`; the path may hold spaces.
                let fields: Vec<&[u8]> = record.splitn(9, |byte| *byte == b' ').collect();
                let [_, xy, _, _, index_mode, _, _, index_oid, path] = fields.as_slice() else {
                    return Err(unexpected());
                };
                let (staged, worktree) = match xy {
                    [staged, worktree] => (*staged, *worktree),
                    _ => return Err(unexpected()),
                };
                let index_oid = ObjectId::from_hex_bytes(index_oid).filter(|oid| !oid.is_null());
                let index_mode = FileMode::from_octal(index_mode);
                if staged != b'.'
                    && index_mode != Some(FileMode::Submodule)
                    && let Some(oid) = &index_oid
                {
                    status.staged.push((path.to_vec(), oid.clone()));
                }
                match worktree {
                    b'.' => {}
                    b'D' => status.deleted.push(path.to_vec()),
                    // `M`, `T` and `A` (intent to add) need the working tree's content.
                    _ => {
                        if let Some(oid) = index_oid.filter(|_| {
                            matches!(index_mode, Some(FileMode::Regular | FileMode::Executable))
                        }) {
                            status.index_blobs.push((path.to_vec(), oid));
                        }
                        status.changed.push(path.to_vec());
                    }
                }
            }
            Some(b'u') => {
                let path = record
                    .splitn(11, |byte| *byte == b' ')
                    .nth(10)
                    .ok_or_else(unexpected)?;
                status.changed.push(path.to_vec());
            }
            Some(b'?') => {
                let path = record.get(2..).ok_or_else(unexpected)?;
                if path.ends_with(b"/") {
                    status.untracked_dirs.push(path.to_vec());
                } else {
                    status.untracked_files.push(path.to_vec());
                }
            }
            Some(b'#') => {
                if let Some(oid) = record.strip_prefix(b"# branch.oid ") {
                    status.head = ObjectId::from_hex_bytes(oid);
                    status.head_seen = true;
                }
            }
            Some(b'!') => {}
            _ => return Err(unexpected()),
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
    let excludes = exclude_patterns(&options.excluded_dirs, dirs);
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

/// `--exclude` options that leave out the dependency and build folders inside `dirs`.
///
/// A plain `name/` pattern matches at any depth, also a folder above a listed one, which git
/// refuses ("directory entry not superset of prefix") and which may well be tracked: when a
/// listed folder lies inside one so named, the patterns are anchored below each listed folder.
fn exclude_patterns(names: &[String], dirs: &[Vec<u8>]) -> Vec<OsString> {
    let set: BTreeSet<&[u8]> = names.iter().map(String::as_bytes).collect();
    let inside_named = dirs.iter().any(|dir| {
        let dir = dir.strip_suffix(b"/").unwrap_or(dir);
        let components: Vec<&[u8]> = dir.split(|byte| *byte == b'/').collect();
        components[..components.len().saturating_sub(1)]
            .iter()
            .any(|component| set.contains(component))
    });
    if !inside_named {
        return names
            .iter()
            .map(|name| OsString::from(format!("--exclude={name}/")))
            .collect();
    }
    let mut patterns = Vec::new();
    for dir in dirs {
        let dir = dir.strip_suffix(b"/").unwrap_or(dir);
        let mut escaped = Vec::with_capacity(dir.len());
        for byte in dir {
            if matches!(byte, b'*' | b'?' | b'[' | b'\\' | b'!' | b'#') {
                escaped.push(b'\\');
            }
            escaped.push(*byte);
        }
        for name in names {
            let mut pattern = b"--exclude=/".to_vec();
            pattern.extend_from_slice(&escaped);
            pattern.extend_from_slice(b"/**/");
            pattern.extend_from_slice(name.as_bytes());
            pattern.push(b'/');
            patterns.push(path_from_git(&pattern).into_os_string());
        }
    }
    patterns
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

/// Whether a wholly untracked folder (as git lists it, with a trailing `/`) is a dependency
/// or build folder by its own name.
fn is_excluded_dir(dir: &[u8], excluded: &BTreeSet<&[u8]>) -> bool {
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    let name = dir
        .iter()
        .rposition(|byte| *byte == b'/')
        .map_or(dir, |slash| &dir[slash + 1..]);
    excluded.contains(name)
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
    fn only_the_folders_own_name_counts() {
        let names: BTreeSet<&[u8]> = [&b"node_modules"[..], b"target"].into_iter().collect();
        assert!(is_excluded_dir(b"a/node_modules/", &names));
        assert!(is_excluded_dir(b"target/", &names));
        assert!(!is_excluded_dir(b"target/fresh/", &names));
        assert!(!is_excluded_dir(b"src/lib/", &names));
    }

    #[test]
    fn parent_of_top_level_paths_is_empty() {
        assert_eq!(parent(b"a/b/c"), b"a/b");
        assert_eq!(parent(b"a/"), b"");
        assert_eq!(parent(b"top"), b"");
    }
}
