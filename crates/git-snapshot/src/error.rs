//! The crate's error type: what can go wrong while taking, comparing or undoing snapshots.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::ObjectId;

/// Everything that can make a snapshot, diff, undo plan or prune fail.
///
/// Each failure leaves the working tree, the user's index, refs and object store unchanged; the
/// messages say what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The git program could not be found.
    #[error(
        "git was not found (tried `{}`); install git or point `OpenOptions::git_program` at it",
        program.display()
    )]
    GitNotFound {
        /// The program that was tried.
        program: PathBuf,
        /// Why starting it failed.
        #[source]
        source: io::Error,
    },

    /// The git program exists but could not be started.
    #[error("could not start `{}`", program.display())]
    Spawn {
        /// The program that was tried.
        program: PathBuf,
        /// Why starting it failed.
        #[source]
        source: io::Error,
    },

    /// The directory is not inside a git repository.
    #[error(
        "`{}` is not inside a git repository, so there is nothing to snapshot; \
         run `git init` there, or turn snapshots off for this session",
        path.display()
    )]
    NotARepository {
        /// The directory that was opened.
        path: PathBuf,
    },

    /// The directory belongs to a bare repository, which has no working tree.
    #[error(
        "`{}` is a bare git repository with no working tree; open a directory of a checkout instead",
        path.display()
    )]
    BareRepository {
        /// The directory that was opened.
        path: PathBuf,
    },

    /// The directory is inside a `.git` directory rather than in a working tree.
    #[error(
        "`{}` is inside a git directory, not a working tree; open a directory of the checkout instead",
        path.display()
    )]
    InsideGitDir {
        /// The directory that was opened.
        path: PathBuf,
    },

    /// The session's directory does not exist or is not a directory.
    #[error("`{}` is not a directory; check the session's working directory", path.display())]
    NotADirectory {
        /// The path that was opened.
        path: PathBuf,
    },

    /// Snapshots refuse to scan a home directory or a filesystem root.
    #[error(
        "refusing to snapshot `{}`, which is {what}; start the session in a project directory",
        path.display()
    )]
    RefusedDirectory {
        /// The directory that would have been scanned.
        path: PathBuf,
        /// What the directory is ("the home directory", "a filesystem root").
        what: &'static str,
    },

    /// The snapshot took longer than its time budget and was abandoned.
    #[error(
        "snapshot abandoned after its time budget of {budget:?}; nothing was changed. \
         raise `SnapshotOptions::time_budget`, add big folders to `.gitignore`, or turn snapshots off"
    )]
    BudgetExceeded {
        /// The budget that was exceeded.
        budget: Duration,
    },

    /// The operation was cancelled through its cancellation token; nothing was changed.
    #[error("cancelled before it finished; nothing was changed")]
    Cancelled,

    /// A git command failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Git {
        /// The command line, for a person to read.
        command: String,
        /// How it exited.
        status: String,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },

    /// A git command printed something this crate cannot read.
    #[error("unexpected output from `{command}`: {detail}; is git older than 2.31?")]
    UnexpectedOutput {
        /// The command line, for a person to read.
        command: String,
        /// What was wrong with the output.
        detail: String,
    },

    /// A snapshot's commit is no longer in turnkit's object store.
    #[error(
        "snapshot {commit} is no longer available (its objects were pruned or deleted); \
         it cannot be compared or undone"
    )]
    SnapshotMissing {
        /// The commit of the snapshot.
        commit: ObjectId,
    },

    /// The two snapshots belong to different repositories or scopes that do not overlap.
    #[error("snapshots {before} and {after} cover scopes that do not overlap")]
    ScopeMismatch {
        /// The earlier snapshot's commit.
        before: ObjectId,
        /// The later snapshot's commit.
        after: ObjectId,
    },

    /// A file system operation failed.
    #[error("i/o error on `{}`", path.display())]
    Io {
        /// The path that was being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Whether this error means the operation was cancelled rather than failed.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled)
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
