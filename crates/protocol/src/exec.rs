//! Types of the exec events: where a command came from, its streams and its end.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Who asked for a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecSource {
    /// The user typed it (`!cmd`, `turnkit shell`).
    UserShell,
    /// The model called a tool.
    Agent,
}

/// One of a process's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a command ended, as reported by `exec_command_end`.
// Each flag is an independent fact on the wire; an enum would not let them combine.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecCommandEnd {
    /// The call this ends.
    pub call_id: String,
    /// The exit code; `None` when a signal ended the process or it never started.
    pub exit_code: Option<i32>,
    /// The signal that ended the process, if one did.
    #[serde(default)]
    pub signal: Option<i32>,
    /// Wall time from spawn to reap.
    pub duration_ms: u64,
    /// Retained standard output (lossy UTF-8; head and tail kept when capped).
    pub stdout: String,
    /// Retained standard error.
    pub stderr: String,
    /// Both streams in the order they arrived.
    pub aggregated_output: String,
    /// What the model is shown: the exit status and the aggregated output.
    pub formatted_output: String,
    /// The command was cancelled (interrupt or shutdown).
    #[serde(default)]
    pub cancelled: bool,
    /// The command ran past its timeout and was killed.
    #[serde(default)]
    pub timed_out: bool,
    /// Retained output was cut to its cap.
    #[serde(default)]
    pub output_truncated: bool,
    /// The live output deltas reached their cap; the rest is only in the retained output.
    #[serde(default)]
    pub deltas_capped: bool,
    /// The cwd the command ran in.
    #[serde(default)]
    pub cwd: PathBuf,
}
