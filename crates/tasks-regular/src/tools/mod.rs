//! The built-in tools of the agent turn, as [`Tool`]s a session registers: `shell`,
//! `apply_patch`, `update_plan` and (when the session allows it) `subagent`.
//!
//! [`BuiltinTools`] says which are on and with which limits; [`builtin_tools`] gives the default
//! set. Every tool applies the session's approval policy itself, before it runs a command or
//! changes a file, so a turn calls them all the same way (`ToolRegistry::dispatch`).
//!
//! # Approval policy, per tool
//!
//! | policy | `shell` | `apply_patch` |
//! |---|---|---|
//! | `never` | runs | applies |
//! | `on_request` | asks only when the call sets `with_escalated_permissions` | asks only when the call sets `with_escalated_permissions` |
//! | `untrusted` | asks unless the command is known read-only (and not escalated) | asks |
//! | `always` | asks | asks |
//!
//! `update_plan` changes nothing and never asks; `subagent` does not ask either, but its child
//! runs under the same policy, so each of the child's own tools asks as it would here (the
//! request reaches the root's client with the child's origin).
//!
//! The answers: `approved` runs the call; `approved_for_session` runs it and the session
//! remembers that exact request (same argv and directory, or same patch), so it is not asked
//! again; `denied` gives the model a failed output saying the user declined; `abort` gives a
//! failed output saying the user aborted, and stops the turn.
//!
//! # The abort convention
//!
//! A tool whose request is answered `abort` calls [`TaskContext::interrupt_turn`] and waits
//! until the turn's cancellation token is cancelled before it returns its output. The turn
//! therefore needs no special reading of the output: when the call returns, the turn is
//! already being interrupted, exactly as if the client had sent `Op::Interrupt` at that
//! moment (it records the call's output, or its aborted note, and ends with `turn_aborted`).
//! A subagent whose child turn was aborted while its parent's turn was not (the user aborted
//! one of the child's actions) interrupts the parent's turn the same way, so an `abort`
//! anywhere in the tree stops the root's turn.

mod apply_patch;
mod approval;
mod shell;
mod subagent;
mod update_plan;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use turnkit_session_core::{Tool, ToolRegistry};

use crate::ModelOutputLimits;

pub use apply_patch::ApplyPatchTool;
pub use shell::{DEFAULT_SHELL_TIMEOUT, ShellTool};
pub use subagent::{DEFAULT_MAX_PARALLEL_SUBAGENTS, SubagentTool};
pub use update_plan::UpdatePlanTool;

/// Which built-in tools a session offers, and their limits.
///
/// ```
/// use turnkit_tasks_regular::BuiltinTools;
///
/// let tools = BuiltinTools::new().subagents(true).registry();
/// assert_eq!(
///     tools.names().collect::<Vec<_>>(),
///     ["shell", "apply_patch", "update_plan", "subagent"]
/// );
/// ```
#[derive(Clone, Debug)]
pub struct BuiltinTools {
    subagents: bool,
    max_parallel_subagents: usize,
    shell_timeout: Duration,
    output_limits: ModelOutputLimits,
    sandbox_helper: Option<PathBuf>,
}

impl Default for BuiltinTools {
    fn default() -> Self {
        Self {
            subagents: false,
            max_parallel_subagents: DEFAULT_MAX_PARALLEL_SUBAGENTS,
            shell_timeout: DEFAULT_SHELL_TIMEOUT,
            output_limits: ModelOutputLimits::default(),
            sandbox_helper: None,
        }
    }
}

impl BuiltinTools {
    /// `shell`, `apply_patch` and `update_plan` with their default limits; no `subagent`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers the `subagent` tool too (off by default: a subagent multiplies what a turn costs).
    #[must_use]
    pub fn subagents(mut self, on: bool) -> Self {
        self.subagents = on;
        self
    }

    /// How many subagents one session runs at once; more calls wait their turn.
    /// Defaults to [`DEFAULT_MAX_PARALLEL_SUBAGENTS`]; at least 1.
    #[must_use]
    pub fn max_parallel_subagents(mut self, count: usize) -> Self {
        self.max_parallel_subagents = count.max(1);
        self
    }

    /// How long a `shell` command may run when the call names no timeout.
    /// Defaults to [`DEFAULT_SHELL_TIMEOUT`].
    #[must_use]
    pub fn shell_timeout(mut self, timeout: Duration) -> Self {
        self.shell_timeout = timeout;
        self
    }

    /// How much of a command's output the model is shown.
    #[must_use]
    pub fn output_limits(mut self, limits: ModelOutputLimits) -> Self {
        self.output_limits = limits;
        self
    }

    /// The sandbox helper binary `shell` confines commands with, instead of searching for it
    /// (see `turnkit_sandbox::locate_helper`); a path that is not an executable file makes
    /// every sandboxed command fail closed.
    #[must_use]
    pub fn sandbox_helper(mut self, path: impl Into<PathBuf>) -> Self {
        self.sandbox_helper = Some(path.into());
        self
    }

    /// The tools, in the order a prompt lists them.
    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        let mut shell = ShellTool::new()
            .default_timeout(self.shell_timeout)
            .output_limits(self.output_limits);
        if let Some(path) = &self.sandbox_helper {
            shell = shell.sandbox_helper(path);
        }
        let mut tools: Vec<Arc<dyn Tool>> = vec![
            Arc::new(shell),
            Arc::new(ApplyPatchTool::new()),
            Arc::new(UpdatePlanTool::new()),
        ];
        if self.subagents {
            tools.push(Arc::new(SubagentTool::new(self.max_parallel_subagents)));
        }
        tools
    }

    /// The tools as a registry, for `SessionBuilder::tool_registry`.
    pub fn registry(&self) -> ToolRegistry {
        let mut registry = ToolRegistry::new();
        for tool in self.tools() {
            registry.register_shared(tool);
        }
        registry
    }
}

/// The default built-in tools (`shell`, `apply_patch`, `update_plan`), in prompt order.
pub fn builtin_tools() -> Vec<Arc<dyn Tool>> {
    BuiltinTools::new().tools()
}

/// Runs a closure when dropped, unless disarmed: how a tool still sends its end event when
/// its call is dropped midway (a turn aborted hard after its grace period).
pub(crate) struct OnDrop<F: FnOnce()> {
    action: Option<F>,
}

impl<F: FnOnce()> OnDrop<F> {
    pub(crate) fn new(action: F) -> Self {
        Self {
            action: Some(action),
        }
    }

    /// The call reached its end normally; nothing runs on drop.
    pub(crate) fn disarm(mut self) {
        self.action = None;
    }
}

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(action) = self.action.take() {
            action();
        }
    }
}
