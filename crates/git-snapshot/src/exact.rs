//! Files that git's end-of-line conversion would not give back as they were, stored byte for
//! byte instead.
//!
//! `git add` stores a CRLF file under `text=auto` with LF (unless its index blob already has
//! CRLF), and a checkout writes it back with LF: fine for a commit, a silent change for undo.
//! Every file the snapshot reads that holds a CR is checked: when checking its stored blob out
//! again would not give its bytes, the blob is replaced by the exact bytes, and the path is
//! listed in [`Snapshot::unfiltered`](crate::Snapshot::unfiltered) so undo writes it back
//! without filters.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::git::{batch_records, split_lines, split_nul};
use crate::index::WHOLE_INDEX;
use crate::platform::{is_executable, path_from_git};
use crate::{Error, ObjectId, Repository};

/// The paths among `paths` whose regular file holds a CR.
pub(crate) fn files_with_cr(work_tree: &Path, paths: &[Vec<u8>]) -> BTreeSet<Vec<u8>> {
    paths
        .iter()
        .filter(|path| {
            let full = work_tree.join(path_from_git(path));
            std::fs::symlink_metadata(&full).is_ok_and(|metadata| metadata.is_file())
                && std::fs::read(&full).is_ok_and(|content| content.contains(&b'\r'))
        })
        .cloned()
        .collect()
}

/// Stores byte for byte those of `paths` whose stored blob would not check out as the file is,
/// and returns them.
///
/// `read_env` must see the temporary index and every object it names; `write_env` writes
/// into the quarantine.
///
/// # Cancel safety
///
/// Dropping the future kills the git children; only the temporary index and the quarantine
/// are written.
pub(crate) async fn keep_unconverted(
    repo: &Repository,
    read_env: &[(OsString, OsString)],
    write_env: &[(OsString, OsString)],
    paths: &BTreeSet<Vec<u8>>,
    cancel: &CancellationToken,
) -> Result<Vec<PathBuf>, Error> {
    // `cat-file --batch` reads one path a line.
    let paths: Vec<&Vec<u8>> = paths.iter().filter(|path| !path.contains(&b'\n')).collect();
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let stored = stored_blobs(repo, read_env, &paths, cancel).await?;
    let mut question = Vec::new();
    let mut asked = Vec::new();
    for path in &paths {
        if let Some(oid) = stored
            .iter()
            .find(|(found, _)| found == *path)
            .map(|(_, oid)| oid)
        {
            question.extend_from_slice(oid.as_str().as_bytes());
            question.push(b' ');
            question.extend_from_slice(path);
            question.push(b'\n');
            asked.push(*path);
        }
    }
    let output = repo
        .git()
        .envs(read_env)
        .args(["cat-file", "--batch", "--filters"])
        .stdin(question)
        .run(cancel)
        .await?;
    let checked_out: Vec<Option<&[u8]>> = batch_records(&output.stdout)
        .into_iter()
        .map(|(_, content)| content)
        .collect();
    let lossy: Vec<&Vec<u8>> = asked
        .into_iter()
        .zip(checked_out.into_iter().chain(std::iter::repeat(None)))
        .filter(|(path, content)| {
            let now = std::fs::read(repo.work_tree.join(path_from_git(path))).ok();
            content.is_none() || now.as_deref() != *content
        })
        .map(|(path, _)| path)
        .collect();
    if lossy.is_empty() {
        return Ok(Vec::new());
    }

    let mut names = Vec::new();
    for path in &lossy {
        names.extend_from_slice(path);
        names.push(b'\n');
    }
    let output = repo
        .git()
        .envs(write_env)
        .args(["hash-object", "-w", "--no-filters", "--stdin-paths"])
        .stdin(names)
        .run(cancel)
        .await?;
    let mut info = Vec::new();
    let mut kept = Vec::new();
    for (path, line) in lossy.into_iter().zip(split_lines(&output.stdout)) {
        let Some(oid) = ObjectId::from_hex_bytes(line) else {
            continue;
        };
        let relative = path_from_git(path);
        let executable = std::fs::metadata(repo.work_tree.join(&relative))
            .is_ok_and(|metadata| is_executable(&metadata));
        let mode = if executable { "100755" } else { "100644" };
        info.extend_from_slice(format!("{mode} {oid}\t").as_bytes());
        info.extend_from_slice(path);
        info.push(0);
        kept.push(relative);
    }
    repo.git()
        .envs(write_env)
        .args(WHOLE_INDEX)
        .args(["update-index", "-z", "--index-info"])
        .stdin(info)
        .run(cancel)
        .await?;
    Ok(kept)
}

/// The blobs the temporary index holds for `paths` (stage 0).
async fn stored_blobs(
    repo: &Repository,
    read_env: &[(OsString, OsString)],
    paths: &[&Vec<u8>],
    cancel: &CancellationToken,
) -> Result<Vec<(Vec<u8>, ObjectId)>, Error> {
    let mut stored = Vec::new();
    for chunk in paths.chunks(500) {
        let output = repo
            .git()
            .envs(read_env)
            .env("GIT_LITERAL_PATHSPECS", "1")
            .args(["ls-files", "-s", "-z", "--"])
            .args(chunk.iter().map(|path| path_from_git(path)))
            .run(cancel)
            .await?;
        for record in split_nul(&output.stdout) {
            let Some(tab) = record.iter().position(|byte| *byte == b'\t') else {
                continue;
            };
            let fields: Vec<&[u8]> = record[..tab].split(|byte| *byte == b' ').collect();
            if let [_, oid, b"0"] = fields.as_slice()
                && let Some(oid) = ObjectId::from_hex_bytes(oid)
            {
                stored.push((record[tab + 1..].to_vec(), oid));
            }
        }
    }
    Ok(stored)
}
