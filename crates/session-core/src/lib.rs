//! The turnkit session: every piece of work is a task with one lifecycle.
//!
//! A [`Session`] takes [`Op`](turnkit_protocol::Op)s and produces an ordered stream of
//! [`Event`](turnkit_protocol::Event)s. Each op that does work runs a [`SessionTask`], built
//! by the factory of a [`TaskRegistration`] for its [`TaskKind`](turnkit_protocol::TaskKind).
//! The session, not the task, emits `task_started` first and exactly one terminal event last,
//! aborts a running task when another replaces it or the client interrupts, waits a grace
//! period for it to stop, then aborts it hard and runs its [`SessionTask::abort`] hook.
//!
//! A task talks to its session through its [`TaskContext`]: it sends events, reads and
//! appends to the history, asks the client for approvals, takes input the user steered into
//! the turn, runs auxiliary work beside itself, and finds shared [`Services`] such as a model
//! client by type. Everything a session does can be journalled to a rollout file and resumed.
//!
//! This crate knows no task kind by name: the kinds live in their own crates and are
//! registered by whoever builds the session (usually the `turnkit` facade).
//!
//! ```
//! use std::sync::Arc;
//!
//! use turnkit_protocol::{EventMsg, Op, TaskKind, UserInput};
//! use turnkit_session_core::{
//!     CancellationToken, Session, SessionTask, TaskContext, TaskRegistration, TaskResult,
//! };
//!
//! struct Echo;
//!
//! #[async_trait::async_trait]
//! impl SessionTask for Echo {
//!     fn kind(&self) -> TaskKind {
//!         TaskKind::REGULAR
//!     }
//!
//!     async fn run(
//!         self: Arc<Self>,
//!         ctx: Arc<TaskContext>,
//!         input: Vec<UserInput>,
//!         _cancellation_token: CancellationToken,
//!     ) -> TaskResult {
//!         let said = format!("you said {} thing(s)", input.len());
//!         ctx.send_event(EventMsg::AgentMessage { message: said.clone() });
//!         Ok(Some(said))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut session = Session::builder()
//!     .task(TaskRegistration::new(TaskKind::REGULAR, |_op| Ok(Arc::new(Echo))).accepts_input(true))
//!     .build()?;
//! session.submit(Op::UserInput { items: vec![UserInput::text("hi")] })?;
//!
//! let mut kinds = Vec::new();
//! while let Some(event) = session.next_event().await {
//!     let done = event.msg.is_terminal();
//!     kinds.push(event.msg);
//!     if done {
//!         break;
//!     }
//! }
//! assert_eq!(kinds.last(), Some(&EventMsg::TaskComplete {
//!     last_agent_message: Some("you said 1 thing(s)".into()),
//! }));
//! # Ok(())
//! # }
//! ```

mod approvals;
mod compactor;
mod context;
mod driver;
mod error;
mod events;
mod overrides;
mod registry;
mod rollout;
mod services;
mod session;
mod snapshots;
mod state;
mod subsession;
mod task;
mod tool;

pub use async_trait::async_trait;
pub use compactor::{CompactionReport, Compactor};
pub use context::TaskContext;
pub use error::{Error, error_chain};
pub use overrides::TurnOverrides;
pub use registry::{DEFAULT_GRACE_PERIOD, TaskFactory, TaskRegistration};
pub use rollout::{RolloutRecord, read_rollout};
pub use services::Services;
pub use session::{Session, SessionBuilder, SessionHandle};
pub use snapshots::TurnSnapshots;
pub use subsession::{
    ChildOutcome, DEFAULT_MAX_DEPTH, DEFAULT_SUB_SESSION_STOP_BOUND, SubSession, SubSessionBuilder,
};
pub use task::{SessionTask, TaskError, TaskResult};
pub use tokio_util::sync::CancellationToken;
pub use tool::{Tool, ToolOutput, ToolRegistry, parse_arguments};
