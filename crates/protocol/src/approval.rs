//! Approvals: what is asked, the client's decision, the policy that decides when to ask, and
//! which sub-session a request came from.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::TaskKind;

/// The client's answer to an approval request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Do it this once.
    Approved,
    /// Do it, and the same thing again without asking, for the rest of the session that asked.
    ApprovedForSession,
    /// Do not do it; the model is told so and may try something else.
    Denied,
    /// Do not do it and stop the turn. Also what a pending request resolves to when its
    /// turn is aborted; never shown to the model as a denial.
    Abort,
}

/// What a session asks the client to approve, with the call that wants it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// The tool call that wants it, when a tool call does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// What would happen if approved.
    pub subject: ApprovalSubject,
    /// Why the agent wants it, when it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ApprovalRequest {
    /// A request to run `command` (argv) in `cwd`.
    pub fn command(command: Vec<String>, cwd: impl Into<PathBuf>) -> Self {
        Self::new(ApprovalSubject::Command {
            command,
            cwd: cwd.into(),
            without_sandbox: false,
        })
    }

    /// A request to run `command` (argv) in `cwd` outside the sandbox: a wider permission than
    /// running it confined, so approving one never approves the other for the session.
    pub fn command_without_sandbox(command: Vec<String>, cwd: impl Into<PathBuf>) -> Self {
        Self::new(ApprovalSubject::Command {
            command,
            cwd: cwd.into(),
            without_sandbox: true,
        })
    }

    /// A task's own question: a short title and details the client may render.
    pub fn question(title: impl Into<String>, details: serde_json::Value) -> Self {
        Self::new(ApprovalSubject::Question {
            title: title.into(),
            details,
        })
    }

    /// A request with no call id and no reason.
    pub fn new(subject: ApprovalSubject) -> Self {
        Self {
            call_id: None,
            subject,
            reason: None,
        }
    }

    /// Names the tool call that wants it.
    pub fn with_call_id(mut self, call_id: impl Into<String>) -> Self {
        self.call_id = Some(call_id.into());
        self
    }

    /// Says why.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// What an approval request is about, tagged by `type` on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ApprovalSubject {
    /// Run a command.
    Command {
        /// The command, as argv.
        command: Vec<String>,
        /// Where it would run.
        cwd: PathBuf,
        /// Whether it would run outside the session's sandbox (a rerun of a command the
        /// sandbox refused); absent on the wire when false.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        without_sandbox: bool,
    },
    /// Apply a patch to files.
    Patch {
        /// The files it changes, relative to `cwd` or absolute.
        files: Vec<PathBuf>,
        /// The change as a unified diff.
        diff: String,
        /// The directory the paths are relative to.
        cwd: PathBuf,
    },
    /// Call a tool of a tool server (MCP).
    ToolCall {
        /// The server that offers the tool.
        server: String,
        /// The tool's name.
        tool: String,
        /// The arguments the tool would get.
        #[serde(default)]
        arguments: serde_json::Value,
    },
    /// A task's own question ("deploy to production?").
    Question {
        /// A short title to show.
        title: String,
        /// Anything else the client may render, as the task defines it.
        #[serde(default)]
        details: serde_json::Value,
    },
}

/// When a session asks the client before it acts, from the most trusting to the strictest.
///
/// The order of the variants is their strictness: `Never < OnRequest < Untrusted < Always`.
/// A sub-session's policy is never less strict than its parent's.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// Nothing is asked: for trusted automation.
    Never,
    /// Ask only when the model asks for approval itself.
    #[default]
    OnRequest,
    /// Ask unless a command is known to be read-only.
    Untrusted,
    /// Ask before every action.
    Always,
}

impl ApprovalPolicy {
    /// The stricter of two policies.
    #[must_use]
    pub fn stricter_of(self, other: Self) -> Self {
        self.max(other)
    }

    /// Whether this policy asks at least as often as `other`.
    pub fn is_at_least_as_strict_as(self, other: Self) -> bool {
        self >= other
    }

    /// The policy's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalPolicy::Never => "never",
            ApprovalPolicy::OnRequest => "on_request",
            ApprovalPolicy::Untrusted => "untrusted",
            ApprovalPolicy::Always => "always",
        }
    }
}

impl std::fmt::Display for ApprovalPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which sub-session something on a parent's stream came from.
///
/// A sub-session is known by its own id, its parent's id and its depth (1 for a child of the
/// root session); `task_kind` and `turn_id` name the parent's task that started it, in the
/// parent session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalOrigin {
    /// The id of the sub-session.
    pub sub_session_id: String,
    /// The id of the session that started it.
    pub parent_session_id: String,
    /// How deep it is: 1 for a child of the root session.
    pub depth: u32,
    /// The kind of the parent's task that started it.
    pub task_kind: TaskKind,
    /// The submission id of the parent's task that started it.
    pub turn_id: String,
}

/// How a sub-session ended, as `sub_session_ended` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubSessionOutcome {
    /// Its last task completed.
    Completed,
    /// Its last task was aborted (its parent was cancelled, or it was interrupted).
    Aborted,
    /// Its last task failed (an error or a panic).
    Failed,
    /// It did not stop within its bound and was shut down hard, or its handle vanished.
    Lost,
}
