//! What a client sends: [`Submission`], [`Op`] and [`UserInput`].

use serde::{Deserialize, Serialize};

use crate::{ReviewDecision, ReviewRequest, TaskKind};

/// One operation from the client, with the id its events will carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Chosen by the client, or by the session when the client submits a bare [`Op`].
    pub id: String,
    /// What to do.
    pub op: Op,
}

/// An operation a client asks the session to perform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Start a regular turn with this input, or steer it into the running one.
    UserInput {
        /// The user's message.
        items: Vec<UserInput>,
    },
    /// Abort the running turn; a no-op when nothing runs.
    Interrupt,
    /// Decide a pending approval request of this session or of any of its sub-sessions.
    DecideApproval {
        /// The `approval_id` of the `approval_requested` event.
        id: String,
        /// The decision.
        decision: ReviewDecision,
    },
    /// Summarise the history with the model and replace it.
    Compact,
    /// Review code.
    Review {
        /// What to review.
        request: ReviewRequest,
    },
    /// Undo the file changes of the most recent turn that has snapshots.
    Undo,
    /// Run the user's own shell command.
    RunUserShellCommand {
        /// The command line, run through the user's shell.
        command: String,
    },
    /// Abort everything, flush the rollout and end with `shutdown_complete`.
    Shutdown,
    /// Run a task kind that a downstream crate registered under `name`.
    Custom {
        /// The registered task kind.
        name: String,
        /// Arguments for the task, as the task defines them.
        #[serde(default)]
        payload: serde_json::Value,
    },
}

impl Op {
    /// The task kind that runs this op, or `None` for control ops the session handles itself.
    pub fn task_kind(&self) -> Option<TaskKind> {
        match self {
            Op::UserInput { .. } => Some(TaskKind::REGULAR),
            Op::Compact => Some(TaskKind::COMPACT),
            Op::Review { .. } => Some(TaskKind::REVIEW),
            Op::Undo => Some(TaskKind::UNDO),
            Op::RunUserShellCommand { .. } => Some(TaskKind::USER_SHELL),
            Op::Custom { name, .. } => Some(TaskKind::from(name.clone())),
            Op::Interrupt | Op::DecideApproval { .. } | Op::Shutdown => None,
        }
    }

    /// The op's `type` tag, for messages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Op::UserInput { .. } => "user_input",
            Op::Interrupt => "interrupt",
            Op::DecideApproval { .. } => "decide_approval",
            Op::Compact => "compact",
            Op::Review { .. } => "review",
            Op::Undo => "undo",
            Op::RunUserShellCommand { .. } => "run_user_shell_command",
            Op::Shutdown => "shutdown",
            Op::Custom { .. } => "custom",
        }
    }
}

/// One piece of a user's message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserInput {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image by URL (including `data:` URLs).
    Image {
        /// Where the image is.
        image_url: String,
    },
    /// An image file on the user's machine.
    LocalImage {
        /// Its path.
        path: std::path::PathBuf,
    },
}

impl UserInput {
    /// A text item.
    pub fn text(text: impl Into<String>) -> Self {
        UserInput::Text { text: text.into() }
    }
}
