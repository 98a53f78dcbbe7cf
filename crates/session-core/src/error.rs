//! Errors of building and driving a session.

use std::path::PathBuf;

/// What can go wrong when building a session or submitting to it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The session has shut down and takes no more submissions.
    #[error("the session has shut down; start a new session to submit more work")]
    ShutDown,
    /// The rollout file to resume from does not exist.
    #[error("no rollout at {path}: check the path, or start a new session instead of resuming")]
    RolloutMissing {
        /// The path asked for.
        path: PathBuf,
    },
    /// The rollout file could not be opened, read or created.
    #[error("cannot use the rollout file {path}")]
    RolloutIo {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Another session (in this process or another) is writing to the rollout.
    #[error(
        "the rollout {path} is in use by another session: close that session first, or start a new session instead of resuming"
    )]
    RolloutLocked {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a turnkit rollout.
    #[error("{path} is not a turnkit rollout: its first line is not a session_meta record")]
    NotARollout {
        /// The file.
        path: PathBuf,
    },
    /// The session was built outside a tokio runtime.
    #[error("a session needs a tokio runtime: build it from inside one")]
    NoRuntime,
}
