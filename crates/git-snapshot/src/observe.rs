//! Looking at the working tree the way git does: what each path holds now, hashed with the
//! user's filters so it compares with a snapshot's blobs.
//!
//! A regular file is hashed with `git hash-object`, which applies the same clean filters,
//! end-of-line conversion and `working-tree-encoding` that `update-index` applied when the
//! snapshot was taken, so a file compares equal exactly when git would record the same blob.
//! A symlink's target is compared byte for byte with the blob git stored for it. A path below
//! a symlink or a file does not exist for git, and is never followed.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::git::{batch_records, split_lines};
use crate::object::{FileMode, TreeEntry};
use crate::platform::{Fingerprint, is_executable, path_to_git};
use crate::{Error, ObjectId, Repository};

/// What a path holds in the working tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Observed {
    /// Nothing, or something git does not see (it lies below a symlink or a file).
    Absent,
    /// A directory, which git does not record by itself.
    Directory,
    /// A regular file, hashed.
    File {
        executable: bool,
        oid: ObjectId,
        /// For a file holding a CR, the blob of its exact bytes: git keeps a file's CRLF as it
        /// is when the index blob has CRLF, which `hash-object` cannot see.
        raw_oid: Option<ObjectId>,
        fingerprint: Fingerprint,
    },
    /// A symlink and its target.
    Symlink {
        target: Vec<u8>,
        fingerprint: Fingerprint,
    },
    /// Anything else: a special file, a file that cannot be read or that changed while read.
    Other,
}

impl Observed {
    /// Whether the working tree holds exactly `entry` (`None`: no file) at this path.
    pub(crate) fn matches(
        &self,
        entry: Option<&TreeEntry>,
        symlink_targets: &HashMap<ObjectId, Vec<u8>>,
    ) -> bool {
        match (self, entry) {
            (Self::Absent | Self::Directory, None) => true,
            (
                Self::File {
                    executable,
                    oid,
                    raw_oid,
                    ..
                },
                Some(entry),
            ) => {
                let mode_matches = match entry.mode {
                    FileMode::Regular => !executable,
                    FileMode::Executable => *executable,
                    FileMode::Symlink | FileMode::Submodule => false,
                };
                mode_matches && (*oid == entry.oid || raw_oid.as_ref() == Some(&entry.oid))
            }
            (Self::Symlink { target, .. }, Some(entry)) => {
                entry.mode == FileMode::Symlink
                    && symlink_targets
                        .get(&entry.oid)
                        .is_some_and(|stored| stored == target)
            }
            _ => false,
        }
    }

    pub(crate) fn fingerprint(&self) -> Option<&Fingerprint> {
        match self {
            Self::File { fingerprint, .. } | Self::Symlink { fingerprint, .. } => Some(fingerprint),
            _ => None,
        }
    }
}

/// Whether a path from a snapshot is safe to write: relative, plain components only, and not
/// inside any `.git`.
pub(crate) fn is_safe_path(path: &Path) -> bool {
    let mut any = false;
    for component in path.components() {
        let Component::Normal(name) = component else {
            return false;
        };
        if name.eq_ignore_ascii_case(".git") {
            return false;
        }
        any = true;
    }
    any
}

/// The first ancestor of `path` (inside the work tree) that exists and is not a real
/// directory: a symlink or a file that hides `path` from git.
pub(crate) fn blocking_ancestor(work_tree: &Path, path: &Path) -> Option<PathBuf> {
    let mut prefix = PathBuf::new();
    let parent = path.parent()?;
    for component in parent.components() {
        prefix.push(component);
        match std::fs::symlink_metadata(work_tree.join(&prefix)) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Some(prefix),
            Err(_) => return None,
        }
    }
    None
}

/// Looks at every path (relative to the work tree) and hashes the regular files.
///
/// # Cancel safety
///
/// Dropping the future kills the git child; nothing is written.
pub(crate) async fn observe(
    repo: &Repository,
    paths: &[PathBuf],
    cancel: &CancellationToken,
) -> Result<Vec<Observed>, Error> {
    let mut observed = vec![Observed::Absent; paths.len()];
    let mut to_hash: Vec<(usize, bool, Fingerprint)> = Vec::new();
    for (position, path) in paths.iter().enumerate() {
        if blocking_ancestor(&repo.work_tree, path).is_some() {
            continue;
        }
        let full = repo.work_tree.join(path);
        let Ok(metadata) = std::fs::symlink_metadata(&full) else {
            continue;
        };
        let kind = metadata.file_type();
        observed[position] = if kind.is_symlink() {
            match std::fs::read_link(&full) {
                Ok(target) => Observed::Symlink {
                    target: path_to_git(&target),
                    fingerprint: Fingerprint::of(&metadata),
                },
                Err(_) => Observed::Other,
            }
        } else if kind.is_dir() {
            Observed::Directory
        } else if kind.is_file() && std::fs::File::open(&full).is_ok() {
            to_hash.push((
                position,
                is_executable(&metadata),
                Fingerprint::of(&metadata),
            ));
            continue;
        } else {
            Observed::Other
        };
    }
    if to_hash.is_empty() {
        return Ok(observed);
    }

    let with_cr: Vec<(usize, bool, Fingerprint)> = to_hash
        .iter()
        .filter(|(position, ..)| {
            std::fs::read(repo.work_tree.join(&paths[*position]))
                .is_ok_and(|content| content.contains(&b'\r'))
        })
        .cloned()
        .collect();
    let (hashes, raw_hashes) = tokio::try_join!(
        hash_files(repo, paths, &to_hash, &[], cancel),
        hash_files(repo, paths, &with_cr, &["--no-filters"], cancel),
    )?;
    let raw: HashMap<usize, ObjectId> = with_cr
        .iter()
        .zip(raw_hashes)
        .filter_map(|((position, ..), oid)| Some((*position, oid?)))
        .collect();
    for ((position, executable, fingerprint), oid) in to_hash.into_iter().zip(hashes) {
        // A file that changed while git read it is in no state anyone can rely on.
        let still = std::fs::symlink_metadata(repo.work_tree.join(&paths[position]))
            .is_ok_and(|metadata| Fingerprint::of(&metadata) == fingerprint);
        observed[position] = match oid {
            Some(oid) if still => Observed::File {
                executable,
                oid,
                raw_oid: raw.get(&position).cloned(),
                fingerprint,
            },
            _ => Observed::Other,
        };
    }
    Ok(observed)
}

async fn hash_files(
    repo: &Repository,
    paths: &[PathBuf],
    to_hash: &[(usize, bool, Fingerprint)],
    flags: &[&str],
    cancel: &CancellationToken,
) -> Result<Vec<Option<ObjectId>>, Error> {
    let mut hashes = vec![None; to_hash.len()];
    let mut batch = Vec::new();
    let mut batch_positions = Vec::new();
    for (slot, (position, ..)) in to_hash.iter().enumerate() {
        let bytes = path_to_git(&paths[*position]);
        if bytes.contains(&b'\n') {
            // `--stdin-paths` reads lines, so a name with a newline goes on its own.
            let output = repo
                .git()
                .args(["-c", "core.safecrlf=false", "hash-object"])
                .args(flags)
                .arg("--")
                .arg(&paths[*position])
                .run(cancel)
                .await?;
            hashes[slot] = split_lines(&output.stdout)
                .next()
                .and_then(ObjectId::from_hex_bytes);
        } else {
            batch.extend_from_slice(&bytes);
            batch.push(b'\n');
            batch_positions.push(slot);
        }
    }
    if !batch_positions.is_empty() {
        let output = repo
            .git()
            .args(["-c", "core.safecrlf=false", "hash-object", "--stdin-paths"])
            .args(flags)
            .stdin(batch)
            .run(cancel)
            .await?;
        for (slot, line) in batch_positions.into_iter().zip(split_lines(&output.stdout)) {
            hashes[slot] = ObjectId::from_hex_bytes(line);
        }
    }
    Ok(hashes)
}

/// Reads small blobs (symlink targets) from the repository and the snapshots.
///
/// # Cancel safety
///
/// Dropping the future kills the git child; nothing is written.
pub(crate) async fn read_blobs(
    repo: &Repository,
    oids: &[ObjectId],
    cancel: &CancellationToken,
) -> Result<HashMap<ObjectId, Vec<u8>>, Error> {
    let mut blobs = HashMap::new();
    if oids.is_empty() {
        return Ok(blobs);
    }
    let mut question = Vec::new();
    for oid in oids {
        question.extend_from_slice(oid.as_str().as_bytes());
        question.push(b'\n');
    }
    let command = repo
        .git_reading_snapshots()?
        .args(["cat-file", "--batch"])
        .stdin(question);
    let output = command.run(cancel).await?;
    for (header, content) in batch_records(&output.stdout) {
        let oid = header
            .split(|byte| *byte == b' ')
            .next()
            .unwrap_or_default();
        if let (Some(oid), Some(content)) = (ObjectId::from_hex_bytes(oid), content) {
            blobs.insert(oid, content.to_vec());
        }
    }
    Ok(blobs)
}
