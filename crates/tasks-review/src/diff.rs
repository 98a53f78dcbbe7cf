//! The change under review, from the user's own `git` CLI: [`collect_diff`] and the cut that
//! keeps it within the context ([`cut_diff`]).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;

use turnkit_protocol::ReviewTarget;

use crate::Error;

/// The diff of one file, as `git diff` printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDiff {
    /// The file's path (the new one for a rename), relative to the repository's top.
    pub path: String,
    /// Its part of the diff, from its `diff --git` line.
    pub text: String,
}

/// What a review looks at: the diff, split per file, and how it was made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReviewDiff {
    /// The files changed, in git's order.
    pub files: Vec<FileDiff>,
    /// The commands that produced it, to tell the reviewer how to look again.
    pub commands: Vec<String>,
    /// For a base-branch review, the merge base the diff starts from.
    pub merge_base: Option<String>,
}

impl ReviewDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Options every diff is made with: no colour, no external diff tool or text conversion, no
/// pager, paths printed as they are.
const DIFF_OPTIONS: &[&str] = &[
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--find-renames",
];

/// The diff `target` names, in the repository at `cwd`; empty for a custom review, which looks
/// at no diff.
///
/// # Cancel safety
///
/// Cancel safe: every git child is killed when its future is dropped.
pub async fn collect_diff(cwd: &Path, target: &ReviewTarget) -> Result<ReviewDiff, Error> {
    match target {
        ReviewTarget::UncommittedChanges => uncommitted(cwd).await,
        ReviewTarget::BaseBranch { branch } => {
            let merge_base = git(cwd, &["merge-base", "HEAD", branch]).await?;
            let merge_base = merge_base.trim().to_owned();
            let mut args = vec!["diff"];
            args.extend(DIFF_OPTIONS);
            args.push(&merge_base);
            let text = git(cwd, &args).await?;
            Ok(ReviewDiff {
                files: split_files(&text),
                commands: vec![format!("git diff {merge_base}")],
                merge_base: Some(merge_base),
            })
        }
        ReviewTarget::Commit { sha, .. } => {
            let mut args = vec!["show", "--format="];
            args.extend(DIFF_OPTIONS);
            args.push(sha);
            let text = git(cwd, &args).await?;
            Ok(ReviewDiff {
                files: split_files(&text),
                commands: vec![format!("git show {sha}")],
                merge_base: None,
            })
        }
        ReviewTarget::Custom { .. } => Ok(ReviewDiff::default()),
    }
}

/// Staged and unstaged changes against `HEAD` (or against nothing before the first commit),
/// then each untracked file as an addition.
async fn uncommitted(cwd: &Path) -> Result<ReviewDiff, Error> {
    let has_head = git(cwd, &["rev-parse", "--verify", "--quiet", "HEAD"])
        .await
        .is_ok();
    let mut args = vec!["diff"];
    args.extend(DIFF_OPTIONS);
    // Before the first commit only the index has anything to compare with.
    args.push(if has_head { "HEAD" } else { "--cached" });
    let text = git(cwd, &args).await?;
    let mut files = split_files(&text);
    let untracked = git(cwd, &["ls-files", "--others", "--exclude-standard", "-z"]).await?;
    for path in untracked.split('\0').filter(|path| !path.is_empty()) {
        let mut args = vec!["diff", "--no-index"];
        args.extend(DIFF_OPTIONS);
        args.extend(["--", "/dev/null", path]);
        // `--no-index` exits 1 when the files differ, which they always do here.
        let text = git_allowing(cwd, &args, &[0, 1]).await?;
        files.extend(split_files(&text));
    }
    Ok(ReviewDiff {
        files,
        commands: vec![
            format!("git diff {}", if has_head { "HEAD" } else { "--cached" }),
            "git ls-files --others --exclude-standard".to_owned(),
        ],
        merge_base: None,
    })
}

/// Splits a diff at its `diff --git` lines.
fn split_files(text: &str) -> Vec<FileDiff> {
    let mut files: Vec<FileDiff> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(header) = line.strip_prefix("diff --git ") {
            files.push(FileDiff {
                path: path_of(header.trim_end()),
                text: String::new(),
            });
        }
        if let Some(file) = files.last_mut() {
            file.text.push_str(line);
        }
    }
    files
}

/// The new path of a `diff --git a/<old> b/<new>` header.
fn path_of(header: &str) -> String {
    match header.rfind(" b/") {
        Some(at) => header[at + 3..].to_owned(),
        None => header.to_owned(),
    }
}

/// The diff as the reviewer is given it: whole files in git's order within `budget_bytes`,
/// then a note naming every file left out.
pub fn cut_diff(diff: &ReviewDiff, budget_bytes: usize) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut left_out = Vec::new();
    for file in &diff.files {
        if left_out.is_empty() && text.len() + file.text.len() <= budget_bytes {
            text.push_str(&file.text);
        } else {
            left_out.push(file.path.clone());
        }
    }
    if !left_out.is_empty() {
        let _ = write!(
            text,
            "\n[The diff was cut to fit the context; these files were left out: {}. Inspect them with the commands above if they matter.]\n",
            left_out.join(", ")
        );
    }
    (text, left_out)
}

async fn git(cwd: &Path, args: &[&str]) -> Result<String, Error> {
    git_allowing(cwd, args, &[0]).await
}

/// Runs the user's git in `cwd` (killed if the future is dropped) and returns its stdout when
/// it exits with one of `ok_codes`.
async fn git_allowing(cwd: &Path, args: &[&str], ok_codes: &[i32]) -> Result<String, Error> {
    let output = tokio::process::Command::new("git")
        .args(["-c", "core.quotepath=false", "-c", "diff.noprefix=false"])
        .args(args)
        .current_dir(cwd)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| Error::GitMissing {
            dir: cwd.to_owned(),
            source,
        })?;
    if output
        .status
        .code()
        .is_some_and(|code| ok_codes.contains(&code))
    {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_diff_names_the_files_left_out() {
        let diff = ReviewDiff {
            files: vec![
                FileDiff {
                    path: "a.rs".into(),
                    text: "x".repeat(10),
                },
                FileDiff {
                    path: "b.rs".into(),
                    text: "y".repeat(100),
                },
                FileDiff {
                    path: "c.rs".into(),
                    text: "z".repeat(5),
                },
            ],
            ..ReviewDiff::default()
        };
        let (text, left_out) = cut_diff(&diff, 50);
        assert_eq!(left_out, ["b.rs", "c.rs"]);
        assert!(text.starts_with("xxxxxxxxxx\n[The diff was cut"));
        assert!(text.contains("b.rs, c.rs"));
    }
}
