//! Reading the `*** Begin Patch` format into a [`Patch`]: file operations and their hunks.
//!
//! The grammar, as OpenAI's coding models write it:
//!
//! ```text
//! *** Begin Patch
//! *** Add File: <path>
//! +<line>                      (every line of the new file)
//! *** Delete File: <path>
//! *** Update File: <path>
//! *** Move to: <path>          (optional, right after Update)
//! @@ <text of a line to find first>   (or a bare @@)
//!  <context line>
//! -<removed line>
//! +<added line>
//! *** End of File              (optional: the hunk ends at the file's end)
//! *** End Patch
//! ```
//!
//! Marker lines may carry surrounding whitespace; hunk lines are taken as written.

use std::path::PathBuf;

use crate::Error;

/// A parsed patch: its file operations, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    /// The operations, in the order the patch lists them.
    pub operations: Vec<FileOperation>,
}

/// One file's part of a patch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileOperation {
    /// Create a file that does not exist yet.
    Add {
        /// The new file's path, as the patch wrote it.
        path: PathBuf,
        /// Its whole content.
        content: String,
    },
    /// Delete an existing file.
    Delete {
        /// The file's path, as the patch wrote it.
        path: PathBuf,
    },
    /// Change an existing file, and optionally move it.
    Update {
        /// The file's path, as the patch wrote it.
        path: PathBuf,
        /// Where the file goes afterwards, when it moves.
        move_to: Option<PathBuf>,
        /// The changes, in file order.
        hunks: Vec<Hunk>,
    },
}

impl FileOperation {
    /// The path the operation starts from.
    pub fn path(&self) -> &PathBuf {
        match self {
            FileOperation::Add { path, .. }
            | FileOperation::Delete { path }
            | FileOperation::Update { path, .. } => path,
        }
    }
}

/// One `@@` section of an update: lines to find and what replaces them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk {
    /// The text after `@@`, when given: a line to find before looking for the hunk's lines
    /// (usually a function or class signature).
    pub anchor: Option<String>,
    /// The hunk's lines, in order.
    pub lines: Vec<HunkLine>,
    /// Whether the hunk must end at the end of the file (`*** End of File`).
    pub at_end_of_file: bool,
    /// The 1-based line of the patch where the hunk starts, for error messages.
    pub patch_line: usize,
}

impl Hunk {
    /// The lines the file must contain: context and removed lines, in order.
    pub fn old_lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|line| match line {
            HunkLine::Context(text) | HunkLine::Remove(text) => Some(text.as_str()),
            HunkLine::Add(_) => None,
        })
    }
}

/// One line of a hunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HunkLine {
    /// A line kept as it is (` ` prefix).
    Context(String),
    /// A line removed (`-` prefix).
    Remove(String),
    /// A line added (`+` prefix).
    Add(String),
}

const BEGIN: &str = "*** Begin Patch";
const END: &str = "*** End Patch";
const ADD: &str = "*** Add File:";
const DELETE: &str = "*** Delete File:";
const UPDATE: &str = "*** Update File:";
const MOVE: &str = "*** Move to:";
const END_OF_FILE: &str = "*** End of File";

/// Parses a patch.
///
/// Fails on the first line that does not fit the grammar, naming it and what was expected.
pub fn parse_patch(text: &str) -> Result<Patch, Error> {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines
        .iter()
        .position(|line| !line.trim().is_empty())
        .ok_or_else(|| {
            parse_error(
                1,
                "the patch is empty; it must start with `*** Begin Patch`",
            )
        })?;
    if lines[first].trim() != BEGIN {
        return Err(parse_error(
            first + 1,
            "the patch must start with `*** Begin Patch`",
        ));
    }
    let mut reader = Reader {
        lines,
        next: first + 1,
    };
    let mut operations = Vec::new();
    loop {
        let Some(line) = reader.peek() else {
            return Err(parse_error(
                reader.next + 1,
                "the patch ended without `*** End Patch`",
            ));
        };
        let marker = line.trim();
        if marker == END {
            reader.next += 1;
            break;
        }
        if marker.is_empty() {
            reader.next += 1;
            continue;
        }
        let line_number = reader.next + 1;
        reader.next += 1;
        if let Some(path) = marker.strip_prefix(ADD) {
            let path = path_of(path, line_number)?;
            operations.push(FileOperation::Add {
                content: reader.added_content(),
                path,
            });
        } else if let Some(path) = marker.strip_prefix(DELETE) {
            operations.push(FileOperation::Delete {
                path: path_of(path, line_number)?,
            });
        } else if let Some(path) = marker.strip_prefix(UPDATE) {
            let path = path_of(path, line_number)?;
            let move_to = match reader.peek().map(str::trim) {
                Some(next) if next.starts_with(MOVE) => {
                    let target = path_of(&next[MOVE.len()..], reader.next + 1)?;
                    reader.next += 1;
                    Some(target)
                }
                _ => None,
            };
            let hunks = reader.hunks(&path)?;
            if hunks.is_empty() && move_to.is_none() {
                return Err(parse_error(
                    line_number,
                    &format!(
                        "`*** Update File: {}` has no hunks; add `@@` hunks or leave the file out",
                        path.display()
                    ),
                ));
            }
            operations.push(FileOperation::Update {
                path,
                move_to,
                hunks,
            });
        } else {
            return Err(parse_error(
                line_number,
                &format!(
                    "expected `*** Add File:`, `*** Delete File:`, `*** Update File:` or `*** End Patch`, found `{}`",
                    shorten(marker)
                ),
            ));
        }
    }
    if let Some(extra) = reader.lines[reader.next..]
        .iter()
        .position(|line| !line.trim().is_empty())
    {
        return Err(parse_error(
            reader.next + extra + 1,
            "text after `*** End Patch`; send one patch at a time",
        ));
    }
    if operations.is_empty() {
        return Err(parse_error(
            first + 1,
            "the patch changes no file; add at least one `*** Add File:`, `*** Delete File:` or `*** Update File:` section",
        ));
    }
    Ok(Patch { operations })
}

struct Reader<'a> {
    lines: Vec<&'a str>,
    /// The 0-based index of the next line to read.
    next: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.next).copied()
    }

    fn at_file_marker(&self) -> bool {
        // Only trailing whitespace is forgiven here: a context line is ` ` plus the file's text,
        // which may itself start with `***`.
        self.peek().is_some_and(|line| {
            let line = line.trim_end();
            line == END
                || line.starts_with(ADD)
                || line.starts_with(DELETE)
                || line.starts_with(UPDATE)
        })
    }

    /// The `+` lines of an added file, up to the next marker.
    fn added_content(&mut self) -> String {
        let mut content = String::new();
        while let Some(line) = self.peek() {
            if self.at_file_marker() {
                break;
            }
            if let Some(text) = line.strip_prefix('+') {
                content.push_str(text);
                content.push('\n');
            } else if !line.trim().is_empty() {
                break;
            }
            self.next += 1;
        }
        content
    }

    /// The hunks of an update, up to the next file marker.
    fn hunks(&mut self, path: &std::path::Path) -> Result<Vec<Hunk>, Error> {
        let mut hunks: Vec<Hunk> = Vec::new();
        while let Some(line) = self.peek() {
            if self.at_file_marker() {
                break;
            }
            let line_number = self.next + 1;
            self.next += 1;
            let trimmed = line.trim_end();
            if let Some(anchor) = trimmed.strip_prefix("@@") {
                let anchor = anchor.trim();
                hunks.push(Hunk {
                    anchor: (!anchor.is_empty()).then(|| anchor.to_owned()),
                    lines: Vec::new(),
                    at_end_of_file: false,
                    patch_line: line_number,
                });
                continue;
            }
            if trimmed == END_OF_FILE {
                match hunks.last_mut() {
                    Some(hunk) => hunk.at_end_of_file = true,
                    None => {
                        return Err(parse_error(
                            line_number,
                            "`*** End of File` must follow a hunk",
                        ));
                    }
                }
                continue;
            }
            if line.starts_with("\\ No newline at end of file") {
                // git's marker, copied from a diff; the file's own last line ending is kept.
                continue;
            }
            let hunk_line = match line.chars().next() {
                Some('+') => HunkLine::Add(line[1..].to_owned()),
                Some('-') => HunkLine::Remove(line[1..].to_owned()),
                Some(' ') => HunkLine::Context(line[1..].to_owned()),
                // An empty line inside a hunk is an empty context line whose space was lost.
                None => HunkLine::Context(String::new()),
                Some(_) => {
                    return Err(parse_error(
                        line_number,
                        &format!(
                            "in `{}`, expected a hunk line starting with ` `, `-` or `+`, or `@@`, found `{}`",
                            path.display(),
                            shorten(line)
                        ),
                    ));
                }
            };
            if hunks.is_empty() {
                // The first hunk may leave out its `@@` line.
                hunks.push(Hunk {
                    anchor: None,
                    lines: Vec::new(),
                    at_end_of_file: false,
                    patch_line: line_number,
                });
            }
            let hunk = hunks.last_mut().expect("a hunk was pushed above");
            if hunk.at_end_of_file {
                return Err(parse_error(
                    line_number,
                    "a hunk line after `*** End of File`; start a new hunk with `@@`",
                ));
            }
            hunk.lines.push(hunk_line);
        }
        if let Some(empty) = hunks.iter().find(|hunk| hunk.lines.is_empty()) {
            return Err(parse_error(
                empty.patch_line,
                &format!("a hunk of `{}` has no lines", path.display()),
            ));
        }
        Ok(hunks)
    }
}

fn path_of(text: &str, line: usize) -> Result<PathBuf, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Err(parse_error(line, "a file marker without a path"));
    }
    Ok(PathBuf::from(text))
}

fn parse_error(line: usize, message: &str) -> Error {
    Error::Parse {
        line,
        message: message.to_owned(),
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
