//! Checking a whole patch against the files before anything is written ([`PatchPlan`]), and
//! then writing it, each file through a temporary file and a rename.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use turnkit_protocol::FileChange;

use super::parse::{FileOperation, Hunk, HunkLine, Patch, parse_patch};
use super::paths::Root;
use super::seek::{find_anchor, find_lines};
use crate::Error;

/// The mode of a file a patch creates (a new file's usual mode under the common umask 022).
const NEW_FILE_MODE: u32 = 0o644;

/// A patch checked against the files, ready to write: nothing has been written yet.
///
/// Building the plan reads every file the patch touches and applies every hunk in memory, so
/// a patch that does not apply is refused as a whole, before any file changes.
#[derive(Debug)]
pub struct PatchPlan {
    changes: Vec<FileChange>,
    /// The final state of each touched file, in the order the patch first touched it.
    files: Vec<PlannedFile>,
}

#[derive(Debug)]
struct PlannedFile {
    absolute: PathBuf,
    relative: PathBuf,
    /// `None` when the file did not exist before the patch.
    original: Option<Original>,
    /// `None` when the file does not exist after the patch.
    content: Option<String>,
}

#[derive(Debug)]
struct Original {
    content: String,
    mode: u32,
}

impl PatchPlan {
    /// Parses `patch` and checks it against the files below `root`.
    pub fn new(patch: &str, root: &Path) -> Result<Self, Error> {
        Self::from_patch(&parse_patch(patch)?, root)
    }

    /// Checks a parsed patch against the files below `root`.
    pub fn from_patch(patch: &Patch, root: &Path) -> Result<Self, Error> {
        let root = Root::new(root)?;
        let mut planner = Planner::default();
        let mut changes = Vec::with_capacity(patch.operations.len());
        for operation in &patch.operations {
            changes.push(planner.apply(&root, operation)?);
        }
        Ok(PatchPlan {
            changes,
            files: planner.files,
        })
    }

    /// What the patch does, one entry per operation, in patch order.
    pub fn changes(&self) -> &[FileChange] {
        &self.changes
    }

    /// A short report for the model: one line per file, `A`dded, `M`odified or `D`eleted.
    pub fn summary(&self) -> String {
        let mut text = String::from("Success. Updated the following files:\n");
        for change in &self.changes {
            let line = match change {
                FileChange::Add { path, .. } => format!("A {}", path.display()),
                FileChange::Delete { path, .. } => format!("D {}", path.display()),
                FileChange::Update {
                    move_path: Some(to),
                    ..
                } => format!("M {}", to.display()),
                FileChange::Update { path, .. } => format!("M {}", path.display()),
            };
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    /// Writes the planned files: new and changed files first (each through a temporary file in
    /// its directory, renamed into place), then deletions, so a moved file is never lost.
    ///
    /// A failure here (a full disk, a permission) stops at that file; the error names the
    /// files already changed.
    pub fn commit(self) -> Result<Vec<FileChange>, Error> {
        let mut changed: Vec<PathBuf> = Vec::new();
        let fail = |file: &PlannedFile, changed: &[PathBuf], source: io::Error| Error::Write {
            path: file.relative.clone(),
            changed: changed.to_vec(),
            source,
        };
        for file in &self.files {
            let Some(content) = &file.content else {
                continue;
            };
            if file.original.as_ref().map(|original| &original.content) == Some(content) {
                continue;
            }
            let mode = file
                .original
                .as_ref()
                .map_or(NEW_FILE_MODE, |original| original.mode);
            write_through_rename(&file.absolute, content, mode)
                .map_err(|source| fail(file, &changed, source))?;
            changed.push(file.relative.clone());
        }
        for file in &self.files {
            if file.content.is_none() && file.original.is_some() {
                fs::remove_file(&file.absolute).map_err(|source| fail(file, &changed, source))?;
                changed.push(file.relative.clone());
            }
        }
        Ok(self.changes)
    }
}

/// Parses `patch`, checks it against the files below `root`, and writes it.
///
/// Nothing is written unless every hunk of every file applies.
pub fn apply_patch(patch: &str, root: &Path) -> Result<Vec<FileChange>, Error> {
    PatchPlan::new(patch, root)?.commit()
}

/// The files as the patch leaves them so far, read from disk the first time each is touched.
#[derive(Default)]
struct Planner {
    files: Vec<PlannedFile>,
    index: HashMap<PathBuf, usize>,
}

impl Planner {
    fn apply(&mut self, root: &Root, operation: &FileOperation) -> Result<FileChange, Error> {
        match operation {
            FileOperation::Add { path, content } => {
                let (absolute, relative) = root.resolve(path)?;
                let file = self.file(absolute, &relative)?;
                if file.content.is_some() {
                    return Err(Error::AlreadyExists { path: relative });
                }
                file.content = Some(content.clone());
                Ok(FileChange::Add {
                    path: relative,
                    content: content.clone(),
                })
            }
            FileOperation::Delete { path } => {
                let (absolute, relative) = root.resolve(path)?;
                let file = self.file(absolute, &relative)?;
                let content = file.content.take().ok_or_else(|| Error::FileMissing {
                    path: relative.clone(),
                    action: "deleted",
                })?;
                Ok(FileChange::Delete {
                    path: relative,
                    content,
                })
            }
            FileOperation::Update {
                path,
                move_to,
                hunks,
            } => {
                let (absolute, relative) = root.resolve(path)?;
                let before = self
                    .file(absolute, &relative)?
                    .content
                    .clone()
                    .ok_or_else(|| Error::FileMissing {
                        path: relative.clone(),
                        action: "updated",
                    })?;
                let after = apply_hunks(&relative, &before, hunks)?;
                let target = match move_to {
                    Some(to) => {
                        let (to_absolute, to_relative) = root.resolve(to)?;
                        if to_relative == relative {
                            None
                        } else {
                            let target = self.file(to_absolute, &to_relative)?;
                            if target.content.is_some() {
                                return Err(Error::AlreadyExists { path: to_relative });
                            }
                            target.content = Some(after.clone());
                            Some(to_relative)
                        }
                    }
                    None => None,
                };
                let source = self.index[&relative];
                self.files[source].content = if target.is_some() {
                    None
                } else {
                    Some(after.clone())
                };
                let unified_diff = unified_diff(
                    &relative,
                    target.as_deref().unwrap_or(&relative),
                    &before,
                    &after,
                );
                Ok(FileChange::Update {
                    path: relative,
                    move_path: target,
                    unified_diff,
                })
            }
        }
    }

    /// The planned state of a file, read from disk the first time it is touched.
    fn file(&mut self, absolute: PathBuf, relative: &Path) -> Result<&mut PlannedFile, Error> {
        if let Some(&position) = self.index.get(relative) {
            return Ok(&mut self.files[position]);
        }
        let original = read_original(&absolute, relative)?;
        self.index.insert(relative.to_path_buf(), self.files.len());
        self.files.push(PlannedFile {
            content: original.as_ref().map(|original| original.content.clone()),
            absolute,
            relative: relative.to_path_buf(),
            original,
        });
        Ok(self.files.last_mut().expect("a file was pushed above"))
    }
}

fn read_original(absolute: &Path, relative: &Path) -> Result<Option<Original>, Error> {
    let metadata = match fs::symlink_metadata(absolute) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Read {
                path: relative.to_path_buf(),
                source,
            });
        }
    };
    if !metadata.is_file() {
        return Err(Error::NotAFile {
            path: relative.to_path_buf(),
        });
    }
    let bytes = fs::read(absolute).map_err(|source| Error::Read {
        path: relative.to_path_buf(),
        source,
    })?;
    let content = String::from_utf8(bytes).map_err(|_| Error::NotText {
        path: relative.to_path_buf(),
    })?;
    Ok(Some(Original {
        content,
        mode: metadata.permissions().mode() & 0o7777,
    }))
}

/// Applies every hunk to `text` in memory, in order, each after the previous one.
fn apply_hunks(path: &Path, text: &str, hunks: &[Hunk]) -> Result<String, Error> {
    let ends_with_newline = text.is_empty() || text.ends_with('\n');
    // Split on `\n` only, so a CRLF file keeps its `\r`s: lines the hunk does not change are
    // written back byte for byte, and added lines get the file's line ending.
    let lines: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.strip_suffix('\n')
            .unwrap_or(text)
            .split('\n')
            .collect()
    };
    let crlf = lines.first().is_some_and(|line| line.ends_with('\r'));
    let mut output: Vec<String> = Vec::with_capacity(lines.len());
    let mut cursor = 0;
    for (index, hunk) in hunks.iter().enumerate() {
        let fail = |reason: String| Error::HunkFailed {
            path: path.to_path_buf(),
            hunk: index + 1,
            hunks: hunks.len(),
            patch_line: hunk.patch_line,
            reason,
        };
        let mut search_from = cursor;
        if let Some(anchor) = &hunk.anchor {
            let found = find_anchor(&lines, anchor, cursor).ok_or_else(|| {
                fail(format!(
                    "the line `{anchor}` given after `@@` was not found after line {cursor} of the file"
                ))
            })?;
            search_from = found + 1;
        }
        let old: Vec<&str> = hunk.old_lines().collect();
        let start = if old.is_empty() {
            // Only additions: they go right after the anchor, or at the end of the file.
            if hunk.anchor.is_some() {
                search_from
            } else {
                lines.len()
            }
        } else {
            find_lines(&lines, &old, search_from, hunk.at_end_of_file)
                .or_else(|| {
                    // Models often repeat the anchor as the hunk's first context line.
                    (hunk.anchor.is_some() && search_from > cursor)
                        .then(|| find_lines(&lines, &old, search_from - 1, hunk.at_end_of_file))
                        .flatten()
                })
                .ok_or_else(|| fail(not_found(&old, search_from)))?
        };
        output.extend(lines[cursor..start].iter().map(|line| (*line).to_owned()));
        let mut at = start;
        for line in &hunk.lines {
            match line {
                // The file's own text is kept for context, so forgiven whitespace is not rewritten.
                HunkLine::Context(_) => {
                    output.push(lines[at].to_owned());
                    at += 1;
                }
                HunkLine::Remove(_) => at += 1,
                HunkLine::Add(text) if crlf => output.push(format!("{text}\r")),
                HunkLine::Add(text) => output.push(text.clone()),
            }
        }
        cursor = at;
    }
    output.extend(lines[cursor..].iter().map(|line| (*line).to_owned()));
    let mut result = output.join("\n");
    if ends_with_newline && !result.is_empty() {
        result.push('\n');
    }
    Ok(result)
}

fn not_found(old: &[&str], from: usize) -> String {
    const SHOWN: usize = 8;
    let mut reason =
        format!("these lines were not found in the file after line {from} (whitespace aside):");
    for line in old.iter().take(SHOWN) {
        reason.push_str("\n  ");
        reason.push_str(line);
    }
    if old.len() > SHOWN {
        let _ = write!(reason, "\n  … and {} more", old.len() - SHOWN);
    }
    reason.push_str("\nread the file again and write the hunk from its current text");
    reason
}

fn unified_diff(from: &Path, to: &Path, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("a/{}", from.display()),
            &format!("b/{}", to.display()),
        )
        .to_string()
}

/// Writes `content` to a short-named temporary file beside `path` and renames it over `path`,
/// so a reader sees the old file or the new one, never half of one.
fn write_through_rename(path: &Path, content: &str, mode: u32) -> io::Result<()> {
    let directory = path
        .parent()
        .expect("a planned path is below the session's directory, so it has a parent");
    fs::create_dir_all(directory)?;
    let mut temporary = tempfile::Builder::new()
        .prefix(".tk")
        .suffix(".tmp")
        .rand_bytes(6)
        .tempfile_in(directory)?;
    temporary.write_all(content.as_bytes())?;
    temporary.as_file().sync_all()?;
    fs::set_permissions(temporary.path(), fs::Permissions::from_mode(mode))?;
    temporary.persist(path).map_err(|error| error.error)?;
    // The rename is durable only once the directory entry is synced too.
    fs::File::open(directory)?.sync_all()
}
