//! Errors of building and driving a session.

use std::path::PathBuf;

/// An error and each of its causes, joined by `: `, for a person or a model to read (a
/// failed tool output, a warning, an MCP tool error).
///
/// ```
/// let io = std::io::Error::other("disk full");
/// let error = turnkit_session_core::Error::RolloutIo { path: "s.jsonl".into(), source: io };
/// assert_eq!(
///     turnkit_session_core::error_chain(&error),
///     "cannot use the rollout file s.jsonl: disk full"
/// );
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// What can go wrong when building a session or submitting to it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The session has shut down and takes no more submissions.
    #[error("the session has shut down; start a new session to submit more work")]
    ShutDown,
    /// A tool was asked for by name (a sub-session's subset) and the session has none by that name.
    #[error("no tool is named `{name}`; the session's tools are: {available}")]
    UnknownTool {
        /// The name asked for.
        name: String,
        /// The names of the tools there are.
        available: String,
    },
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
    /// A sub-session would be deeper than the tree allows.
    #[error(
        "a sub-session at depth {depth} would pass the session tree's depth limit of {limit}: finish the work in this session, or raise the limit with `SessionBuilder::max_depth`"
    )]
    DepthLimit {
        /// The depth the sub-session would have.
        depth: u32,
        /// The tree's limit.
        limit: u32,
    },
    /// A sub-session asked for an approval policy broader than its parent's.
    #[error(
        "a sub-session cannot run under the `{asked}` approval policy when its parent runs under `{parent}`: choose `{parent}` or a stricter one"
    )]
    BroaderPolicy {
        /// The policy asked for.
        asked: turnkit_protocol::ApprovalPolicy,
        /// The parent's policy.
        parent: turnkit_protocol::ApprovalPolicy,
    },
    /// A sub-session asked for a sandbox policy broader than its parent's.
    #[error(
        "a sub-session cannot run under the `{asked}` sandbox policy when its parent runs under `{parent}`: choose `{parent}` or a stricter one"
    )]
    BroaderSandbox {
        /// The policy asked for.
        asked: turnkit_protocol::SandboxPolicy,
        /// The parent's policy.
        parent: turnkit_protocol::SandboxPolicy,
    },
    /// The task that would start a sub-session has already ended or is being cancelled.
    #[error("the task has ended or is being cancelled, so it cannot start a sub-session")]
    ParentEnded,
    /// The session was built outside a tokio runtime.
    #[error("a session needs a tokio runtime: build it from inside one")]
    NoRuntime,
}
