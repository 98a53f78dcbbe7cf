//! [`Error`]: why a review could not run.

use std::path::PathBuf;

/// Why a review could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// git could not be started.
    #[error("could not run git in {dir}: is git installed and on PATH?")]
    GitMissing {
        /// Where it was run.
        dir: PathBuf,
        /// Why it did not start.
        #[source]
        source: std::io::Error,
    },
    /// git ran and failed.
    #[error("`git {args}` failed: {stderr}")]
    Git {
        /// The arguments, joined by spaces.
        args: String,
        /// What git said.
        stderr: String,
    },
    /// The session offers no model client to run the review with.
    #[error("no model client is registered: add an `Arc<dyn ModelClient>` service to the session")]
    NoModelClient,
    /// The review's child session ended without an answer.
    #[error("the review did not finish: {reason}")]
    ChildFailed {
        /// How the child ended.
        reason: String,
    },
    /// The child session that runs the review could not start.
    #[error("could not start the session that runs the review")]
    Child(#[source] turnkit_session_core::Error),
}
