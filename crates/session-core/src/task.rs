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
/// # Implementing it
///
/// It is an `#[async_trait]` trait: put the attribute on your impl. It is re-exported here as
/// `turnkit_session_core::async_trait` and by the facade as `turnkit::async_trait`, so you need
/// no dependency of your own.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use turnkit_protocol::{EventMsg, TaskKind, UserInput};
/// use turnkit_session_core::{
///     CancellationToken, SessionTask, TaskContext, TaskResult, async_trait,
/// };
///
/// /// Deploys a service; rolls back when it is aborted.
/// struct Deploy {
///     service: String,
/// }
///
/// #[async_trait]
/// impl SessionTask for Deploy {
///     fn kind(&self) -> TaskKind {
///         TaskKind::new("deploy")
///     }
///
///     async fn run(
///         self: Arc<Self>,
///         ctx: Arc<TaskContext>,
///         _input: Vec<UserInput>,
///         cancellation_token: CancellationToken,
///     ) -> TaskResult {
///         ctx.send_event(EventMsg::BackgroundEvent {
///             message: format!("deploying {}", self.service),
///         });
///         tokio::select! {
///             () = cancellation_token.cancelled() => Ok(None),
///             () = tokio::time::sleep(Duration::from_secs(1)) => {
///                 Ok(Some(format!("{} deployed", self.service)))
///             }
///         }
///     }
///
///     async fn abort(&self, ctx: Arc<TaskContext>) {
///         ctx.send_event(EventMsg::BackgroundEvent {
///             message: format!("rolled {} back", self.service),
///         });
///     }
/// }
/// ```
///
/// # Be careful
///
/// - `kind` is called once per task, when it is built; keep it cheap and side-effect free.
/// - `run` and `abort` each run in a tokio task of their own: a panic there becomes an `error`
///   event and the turn still ends; nothing they do can stop the session taking the next op.
/// - Do not block the thread (no `std::thread::sleep`, no blocking I/O outside
///   `spawn_blocking`): a hard abort takes effect only at an await point.
/// - Work you spawn yourself should watch the cancellation token: the session cancels it once
///   the task's terminal event is out, and events sent after that are dropped.
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
    ///
    /// It also runs when the task was aborted before `run` began (replaced while it waited
    /// for the turn before it to end), so it must not assume `run` did anything.
    async fn abort(&self, ctx: Arc<TaskContext>) {
        let _ = ctx;
    }
}
