//! [`Error`]: why a compaction left the history as it was.

/// Why a compaction did not replace the history; the history is exactly as it was.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The session offers no model client to write the summary with.
    #[error("no model client is registered: add an `Arc<dyn ModelClient>` service to the session")]
    NoModelClient,
    /// The child session that writes the summary could not start.
    #[error("could not start the session that writes the summary")]
    Child(#[source] turnkit_session_core::Error),
    /// The child session ended without a summary.
    #[error("the summary was not written: {reason}")]
    ChildFailed {
        /// How the child ended.
        reason: String,
    },
    /// The summary was written but failed the check.
    #[error("the summary was rejected: {reason}")]
    Rejected {
        /// What was wrong with it.
        reason: String,
    },
    /// The compaction was cancelled.
    #[error("the compaction was cancelled")]
    Cancelled,
}
