//! Reading a snapshot back: the files it holds and the content of one of them.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::diff::ensure_present;
use crate::git::split_nul;
use crate::object::{FileMode, TreeEntry};
use crate::platform::path_from_git;
use crate::{Error, ObjectId, Repository, Snapshot};

impl Snapshot {
    /// Every file, symlink and submodule the snapshot holds below its scope, in path order,
    /// with paths relative to the top of the working tree.
    ///
    /// Fails with [`Error::SnapshotMissing`] when the snapshot's objects are gone.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills the git child; nothing is written.
    pub async fn list_files(
        &self,
        repo: &Repository,
        cancel: &CancellationToken,
    ) -> Result<Vec<(PathBuf, TreeEntry)>, Error> {
        ensure_present(repo, &[&self.commit], cancel).await?;
        let mut command = repo
            .git_reading_snapshots()?
            .env("GIT_LITERAL_PATHSPECS", "1")
            .args(["ls-tree", "-r", "-z", "--full-tree", self.tree.as_str()]);
        if !self.scope.as_os_str().is_empty() {
            command = command.arg("--").arg(&self.scope);
        }
        let described = command.describe();
        let output = command.run(cancel).await?;
        let mut files = Vec::new();
        for record in split_nul(&output.stdout) {
            let entry = parse_ls_tree(record).ok_or_else(|| Error::UnexpectedOutput {
                command: described.clone(),
                detail: "a record that is not `<mode> <type> <object>\\t<path>`".to_owned(),
            })?;
            files.push(entry);
        }
        Ok(files)
    }

    /// The content `path` (relative to the top of the working tree) had when the snapshot was
    /// taken, as a checkout would write it (smudge filters and line endings applied); a
    /// symlink gives its target. `None` when the snapshot holds no file there.
    ///
    /// Fails with [`Error::SnapshotMissing`] when the snapshot's objects are gone.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills the git children; nothing is written.
    pub async fn read_file(
        &self,
        repo: &Repository,
        path: &Path,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<u8>>, Error> {
        ensure_present(repo, &[&self.commit], cancel).await?;
        let found = tree_entries(repo, &self.tree, &[path.to_path_buf()], cancel).await?;
        let Some((_, entry)) = found.into_iter().next() else {
            return Ok(None);
        };
        let mut read = repo.git_reading_snapshots()?.arg("cat-file");
        read = match entry.mode {
            FileMode::Regular | FileMode::Executable
                if !self.unfiltered.iter().any(|p| p == path) =>
            {
                let mut path_arg = std::ffi::OsString::from("--path=");
                path_arg.push(path.as_os_str());
                read.arg("--filters").arg(path_arg).arg(entry.oid.as_str())
            }
            FileMode::Regular | FileMode::Executable | FileMode::Symlink => {
                read.args(["blob", entry.oid.as_str()])
            }
            FileMode::Submodule => return Ok(None),
        };
        Ok(Some(read.run(cancel).await?.stdout))
    }
}

/// The entries of `tree` at `paths` (relative to the top of the working tree); a path the tree
/// holds no file at is left out.
///
/// # Cancel safety
///
/// Dropping the future kills the git child; nothing is written.
pub(crate) async fn tree_entries(
    repo: &Repository,
    tree: &ObjectId,
    paths: &[PathBuf],
    cancel: &CancellationToken,
) -> Result<Vec<(PathBuf, TreeEntry)>, Error> {
    let mut entries = Vec::new();
    for chunk in paths.chunks(500) {
        let output = repo
            .git_reading_snapshots()?
            .env("GIT_LITERAL_PATHSPECS", "1")
            .args(["ls-tree", "-z", "--full-tree", tree.as_str(), "--"])
            .args(chunk)
            .run(cancel)
            .await?;
        entries.extend(
            split_nul(&output.stdout)
                .filter_map(parse_ls_tree)
                .filter(|(found, _)| chunk.contains(found)),
        );
    }
    Ok(entries)
}

/// One record of `ls-tree -z`: `<mode> SP <type> SP <object> TAB <path>`; `None` for a tree.
fn parse_ls_tree(record: &[u8]) -> Option<(PathBuf, TreeEntry)> {
    let tab = record.iter().position(|byte| *byte == b'\t')?;
    let (header, path) = (&record[..tab], &record[tab + 1..]);
    let mut fields = header.split(|byte| *byte == b' ');
    let mode = FileMode::from_octal(fields.next()?)?;
    let _kind = fields.next()?;
    let oid = ObjectId::from_hex_bytes(fields.next()?)?;
    Some((path_from_git(path), TreeEntry { mode, oid }))
}
