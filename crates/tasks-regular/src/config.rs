//! [`RegularConfig`]: how a regular turn talks to the model, and the [`TaskRegistration`]
//! built from it.

use std::sync::Arc;
use std::time::Duration;

use turnkit_exec::{DEFAULT_DRAIN_TIMEOUT, DEFAULT_KILL_GRACE};
use turnkit_protocol::TaskKind;
use turnkit_session_core::{SessionTask, TaskRegistration};

use crate::RegularTask;

/// The instructions a regular turn sends unless configured otherwise.
pub const DEFAULT_INSTRUCTIONS: &str = "\
You are a coding agent working in the user's project directory.
Use the tools you are given to inspect and change the project; do not invent their results.
Keep going until the user's request is done, then answer briefly with what you did.
When a tool fails, read its output and correct the call instead of repeating it.
If the user interrupted you, wait for their next instruction rather than resuming on your own.";

/// Share of the context window at which a turn compacts when the model names no limit, in
/// percent.
pub const DEFAULT_AUTO_COMPACT_PERCENT: u64 = 80;

/// What the grace period adds to exec's kill grace and drain timeout: time for a killed
/// command's tool to report and for the turn to record its outputs.
const GRACE_MARGIN: Duration = Duration::from_secs(1);

/// The registration of the regular kind with the default [`RegularConfig`].
///
/// ```
/// use turnkit_protocol::TaskKind;
///
/// assert_eq!(turnkit_tasks_regular::registration().kind(), &TaskKind::REGULAR);
/// ```
pub fn registration() -> TaskRegistration {
    RegularConfig::default().registration()
}

/// How a regular turn talks to the model: its instructions, and whether the model may call
/// several tools at once.
///
/// The registration carries one; a session (or a sub-session) that offers a `RegularConfig`
/// as a service overrides it, so a parent can give a child other instructions.
///
/// ```
/// use turnkit_tasks_regular::RegularConfig;
///
/// let config = RegularConfig::new()
///     .instructions("You review Rust code; never change files.")
///     .parallel_tool_calls(false);
/// assert!(!config.get_parallel_tool_calls());
/// let registration = config.registration();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegularConfig {
    instructions: String,
    parallel_tool_calls: bool,
    auto_compact_percent: u64,
}

impl Default for RegularConfig {
    fn default() -> Self {
        Self {
            instructions: DEFAULT_INSTRUCTIONS.to_owned(),
            parallel_tool_calls: true,
            auto_compact_percent: DEFAULT_AUTO_COMPACT_PERCENT,
        }
    }
}

impl RegularConfig {
    /// The defaults: [`DEFAULT_INSTRUCTIONS`], parallel tool calls allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends these instructions with every request.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = instructions.into();
        self
    }

    /// Whether the model may call several tools in one response (they then run in parallel
    /// when every tool called allows it); `true` by default.
    pub fn parallel_tool_calls(mut self, allowed: bool) -> Self {
        self.parallel_tool_calls = allowed;
        self
    }

    /// Compacts at this share of the context window (in percent, at most 100) when the model
    /// names no limit of its own; [`DEFAULT_AUTO_COMPACT_PERCENT`] by default.
    pub fn auto_compact_percent(mut self, percent: u64) -> Self {
        self.auto_compact_percent = percent.min(100);
        self
    }

    /// The instructions.
    pub fn get_instructions(&self) -> &str {
        &self.instructions
    }

    /// Whether the model may call several tools in one response.
    pub fn get_parallel_tool_calls(&self) -> bool {
        self.parallel_tool_calls
    }

    /// The share of the context window at which a turn compacts, in percent.
    pub fn get_auto_compact_percent(&self) -> u64 {
        self.auto_compact_percent
    }

    /// How long an interrupted turn may take to stop: exec's kill grace and drain timeout and
    /// a margin, so a tool's command that ignores SIGTERM is still killed and reported by the
    /// turn itself rather than cut off.
    pub fn grace_period() -> Duration {
        DEFAULT_KILL_GRACE
            .saturating_add(DEFAULT_DRAIN_TIMEOUT)
            .saturating_add(GRACE_MARGIN)
    }

    /// The registration of [`TaskKind::REGULAR`] with this configuration: it takes steered
    /// input and has [`grace_period`](Self::grace_period) to stop.
    pub fn registration(self) -> TaskRegistration {
        TaskRegistration::new(TaskKind::REGULAR, move |_op| {
            Ok(Arc::new(RegularTask::new(self.clone())) as Arc<dyn SessionTask>)
        })
        .accepts_input(true)
        .grace_period(Self::grace_period())
    }
}
