//! The trait every task kind implements: [`SessionTask`].

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use turnkit_protocol::{TaskKind, UserInput};

use crate::TaskContext;

/// Why a task failed; the session turns it into an `error` event and completes the task.
pub type TaskError = Box<dyn std::error::Error + Send + Sync>;

/// What a task's run returns: the final agent message, if any, or the failure.
pub type TaskResult = Result<Option<String>, TaskError>;

/// One kind of work a session can run: a model turn, a review, an undo, a shell command, ….
///
/// The session owns the lifecycle: it emits `task_started` before calling [`run`] and exactly
/// one terminal event after it, whatever the task does. A task only does its work, sends its
/// own events through the [`TaskContext`], and stops when its cancellation token fires.
///
/// [`run`]: SessionTask::run
#[async_trait]
pub trait SessionTask: Send + Sync + 'static {
    /// The kind reported in `task_started`.
    fn kind(&self) -> TaskKind;

    /// Does the work and returns the final agent message.
    ///
    /// An `Err` becomes an `error` event followed by `task_complete`; a panic is treated the
    /// same way. When `cancellation_token` fires the task should stop promptly: the session
    /// waits for it up to the kind's grace period and then drops this future.
    ///
    /// # Cancel safety
    ///
    /// The session may drop this future at any await point after the grace period. Work that
    /// must not be lost (an exec's end event, leaving a mode) belongs in [`abort`], which the
    /// session runs exactly once after the task has stopped.
    ///
    /// [`abort`]: SessionTask::abort
    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult;

    /// Cleans up after an abort; runs exactly once, after `run` has stopped and before the
    /// `turn_aborted` event, within a bounded time. The default does nothing.
    async fn abort(&self, ctx: Arc<TaskContext>) {
        let _ = ctx;
    }
}
