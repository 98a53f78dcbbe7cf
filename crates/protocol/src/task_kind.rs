//! [`TaskKind`]: the open-ended name of a kind of task.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of a task, as reported in `TaskStarted` and used to register task factories.
///
/// Kinds are open-ended strings so downstream crates can name their own; the built-in kinds
/// are the associated constants. On the wire a kind is a plain string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskKind(Cow<'static, str>);

impl TaskKind {
    /// A model turn: stream, run tools, loop until done.
    pub const REGULAR: TaskKind = TaskKind::from_static("regular");
    /// A code review run as a sub-session.
    pub const REVIEW: TaskKind = TaskKind::from_static("review");
    /// Summarise the history and replace it.
    pub const COMPACT: TaskKind = TaskKind::from_static("compact");
    /// Undo the file changes of the last turn.
    pub const UNDO: TaskKind = TaskKind::from_static("undo");
    /// The user's own shell command.
    pub const USER_SHELL: TaskKind = TaskKind::from_static("user_shell");
    /// A ghost snapshot of the working tree.
    pub const GHOST_SNAPSHOT: TaskKind = TaskKind::from_static("ghost_snapshot");

    /// A kind named by a string known at compile time.
    pub const fn from_static(name: &'static str) -> Self {
        TaskKind(Cow::Borrowed(name))
    }

    /// A kind with the given name.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        TaskKind(name.into())
    }

    /// The kind's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cargo feature of the `turnkit` facade that links this kind, for built-in kinds.
    pub fn cargo_feature(&self) -> Option<&'static str> {
        Some(match self.as_str() {
            "regular" => "regular",
            "review" => "review",
            "compact" => "compact",
            "undo" => "undo",
            "user_shell" => "shell",
            "ghost_snapshot" => "ghost-snapshot",
            _ => return None,
        })
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for TaskKind {
    fn from(name: &'static str) -> Self {
        TaskKind::from_static(name)
    }
}

impl From<String> for TaskKind {
    fn from(name: String) -> Self {
        TaskKind(Cow::Owned(name))
    }
}
