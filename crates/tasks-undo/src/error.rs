//! The crate's error type: why an undo could not be carried out.

use std::path::PathBuf;

/// Why an undo stopped before it finished; reported to the user in `undo_completed`, never as
/// a task failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A snapshot item in the history cannot be read back into a snapshot.
    #[error(
        "the `{phase}` snapshot of turn `{turn_id}` in the history cannot be read, so that turn \
         cannot be undone (the history may come from another turnkit version)"
    )]
    UnreadableSnapshot {
        /// The turn the snapshot belongs to.
        turn_id: String,
        /// Which of its snapshots it is.
        phase: String,
        /// Why it cannot be read.
        #[source]
        source: serde_json::Error,
    },

    /// The repository of the session's directory cannot be opened.
    #[error("cannot open the git repository of `{}`", dir.display())]
    Open {
        /// The session's directory.
        dir: PathBuf,
        /// Why it cannot be opened.
        #[source]
        source: turnkit_git_snapshot::Error,
    },

    /// Working out what to undo failed.
    #[error("cannot compare the working tree with the snapshots of turn `{turn_id}`")]
    Plan {
        /// The turn being undone.
        turn_id: String,
        /// Why the comparison failed.
        #[source]
        source: turnkit_git_snapshot::Error,
    },

    /// Undoing one path failed in a way that stops the undo.
    #[error("undoing `{}` failed", path.display())]
    Apply {
        /// The path being undone, relative to the top of the working tree.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: turnkit_git_snapshot::Error,
    },
}

impl Error {
    /// The message and every cause, joined, for a person to read.
    pub(crate) fn chain(&self) -> String {
        turnkit_session_core::error_chain(self)
    }
}
