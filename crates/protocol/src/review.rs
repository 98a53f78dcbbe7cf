//! What to review ([`ReviewRequest`], [`ReviewTarget`]) and what a review found
//! ([`ReviewOutput`], [`ReviewFinding`]).

use serde::{Deserialize, Serialize};

/// A request for a code review.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRequest {
    /// What to review; the uncommitted changes when absent.
    #[serde(default)]
    pub target: ReviewTarget,
    /// Instructions for the reviewer on top of turnkit's rubric (what to look at closely, for
    /// example); may be empty.
    #[serde(default)]
    pub prompt: String,
    /// A short description to show the user while the review runs.
    #[serde(default)]
    pub user_facing_hint: String,
}

/// What a review looks at, tagged by `type` on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReviewTarget {
    /// Staged, unstaged and untracked changes against `HEAD`.
    #[default]
    UncommittedChanges,
    /// The current branch's changes since it left `branch` (the diff from their merge base).
    BaseBranch {
        /// The branch to compare with, for example `main`.
        branch: String,
    },
    /// The changes of one commit.
    Commit {
        /// The commit, as anything `git rev-parse` reads.
        sha: String,
        /// Its title, to show the user.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    /// No diff: the reviewer follows these instructions and explores on its own.
    Custom {
        /// What to review and how.
        instructions: String,
    },
}

/// The result of a review: its findings and an overall verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewOutput {
    /// The problems found, most important first; empty when there are none.
    #[serde(default)]
    pub findings: Vec<ReviewFinding>,
    /// Whether the change is correct as it stands.
    #[serde(default)]
    pub overall_correctness: ReviewVerdict,
    /// Why, in a few sentences; the reviewer's whole answer when it could not be read as
    /// structured output.
    #[serde(default)]
    pub overall_explanation: String,
    /// How sure the reviewer is of the verdict, from 0 to 1.
    #[serde(default)]
    pub overall_confidence: f64,
}

/// The overall verdict of a review.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    /// The change is correct: no finding blocks it.
    Correct,
    /// The change has at least one problem that should be fixed first.
    Incorrect,
    /// The reviewer gave no readable verdict.
    #[default]
    #[serde(other)]
    Unknown,
}

/// One discrete, actionable problem a change introduced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewFinding {
    /// One line naming the problem.
    pub title: String,
    /// Why it is a problem and what to do, in a short paragraph.
    pub body: String,
    /// 0 (must fix before merging) to 3 (nice to have).
    pub priority: u8,
    /// How sure the reviewer is, from 0 to 1.
    pub confidence: f64,
    /// Where: a file and a line range that overlaps the change.
    pub location: CodeLocation,
}

/// A line range of one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLocation {
    /// The file, relative to the repository's top.
    pub path: String,
    /// The first line, from 1.
    pub start_line: u32,
    /// The last line (inclusive).
    pub end_line: u32,
}
