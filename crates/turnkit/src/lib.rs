//! turnkit runs an AI coding agent's session: every piece of work is a cancellable task with
//! one lifecycle that never loses an event.
//!
//! This facade re-exports the crates a client or a downstream task kind needs and registers
//! the built-in task kinds whose cargo features are on:
//!
//! - [`protocol`]: the wire types ([`Op`], [`Event`], [`EventMsg`], [`TaskKind`], …);
//! - the session ([`Session`], [`SessionTask`], [`TaskContext`], [`TaskRegistration`]) from
//!   `turnkit-session-core`;
//! - `model` (features `openai` and `regular`) and `model_openai` (feature `openai`): the
//!   model interface and the OpenAI-compatible HTTP client;
//! - `tasks_regular` (feature `regular`): the agent turn (`Op::UserInput`), which streams
//!   from the session's model client (a service of type `Arc<dyn model::ModelClient>`), runs
//!   the session's tools and loops until the model is done, and its built-in tools (`shell`,
//!   `apply_patch`, `update_plan`, `subagent`), each applying the session's approval policy;
//! - [`tasks_shell`] (feature `shell`): the user's own shell command
//!   (`Op::RunUserShellCommand`), streamed live and recorded for the model;
//! - [`mcp`] (feature `mcp`, not part of `full`, so an agent that uses no MCP server links no
//!   rmcp): MCP servers' tools in a session, `mcp::client::McpClients::connect` then
//!   `register` on the builder, each tool named `server__tool` and called under the session's
//!   approval policy;
//! - [`testkit`] (feature `testkit`, not part of `full`): run ops against a real session in a
//!   temp dir and snapshot the normalised events; enable it in your dev-dependencies only,
//!   `turnkit = { version = "0.1", features = ["testkit"] }`;
//! - `tasks_ghost_snapshot` (feature `ghost-snapshot`): ghost snapshots of the working tree
//!   around a turn's file changes, offered to turns as the [`TurnSnapshots`] service, and the
//!   `ghost_snapshot` task kind that takes one on request;
//! - [`sandbox`] and [`exec`] (feature `sandbox`): confine a command under a
//!   [`SandboxPolicy`] (Landlock and a socket filter, applied by the `turnkit-sandbox-exec`
//!   helper, failing closed), and run commands with exec's process-group handling;
//! - [`tasks_compact`] (feature `compact`): the `compact` task kind (`Op::Compact`) and the
//!   session's compactor, which summarise the history in a child session and replace it;
//! - [`tasks_review`] (feature `review`): the `review` task kind (`Op::Review`), a code review
//!   in a child session with structured findings;
//! - [`tasks_undo`] (feature `undo`): the `undo` task kind, which reverts the file changes of
//!   the last turn from its ghost snapshots (`Op::Undo`);
//! - `acp` (feature `acp`, not part of `full`): an Agent Client Protocol agent that lets
//!   editors such as Zed drive sessions over stdio, built around a session factory you
//!   implement;
//! - [`async_trait`] and [`serde_json`], re-exported because the facade's own signatures need
//!   them (`SessionTask` is an `#[async_trait]` trait; `Op::Custom` carries a JSON payload), so
//!   a downstream crate needs no dependency of its own for them.
//!
//! Each built-in task kind is its own crate behind a feature named after the kind; `full`
//! (the default) enables all of them, and `default-features = false` plus the kinds you want
//! links only those crates.
//!
//! # Which builder
//!
//! Start a session with [`builder()`]: it is [`Session::builder`] with every built-in kind
//! whose feature is on already registered (and it tells the session which features are on,
//! so an error for a missing kind says whether to enable a feature). [`Session::builder`]
//! alone registers nothing, which is what you want for a session that runs only your own
//! kinds; add the built-in ones later with [`SessionBuilderExt::with_enabled_kinds`].
//!
//! ```
//! use std::sync::Arc;
//!
//! use turnkit::{CancellationToken, EventMsg, Op, SessionTask, TaskContext, TaskKind, TaskRegistration, TaskResult, UserInput};
//!
//! /// A downstream task kind: counts the words of its payload.
//! struct CountWords(String);
//!
//! #[turnkit::async_trait]
//! impl SessionTask for CountWords {
//!     fn kind(&self) -> TaskKind {
//!         TaskKind::new("count_words")
//!     }
//!
//!     async fn run(
//!         self: Arc<Self>,
//!         _ctx: Arc<TaskContext>,
//!         _input: Vec<UserInput>,
//!         _cancellation_token: CancellationToken,
//!     ) -> TaskResult {
//!         Ok(Some(self.0.split_whitespace().count().to_string()))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut session = turnkit::builder()
//!     .task(TaskRegistration::new(TaskKind::new("count_words"), |op| match op {
//!         Op::Custom { payload, .. } => Ok(Arc::new(CountWords(payload.as_str().unwrap_or("").to_owned()))),
//!         _ => Err("count_words takes a string payload".into()),
//!     }))
//!     .build()?;
//! session.submit(Op::Custom { name: "count_words".into(), payload: "one two three".into() })?;
//! loop {
//!     let event = session.next_event().await.expect("the session is running");
//!     if let EventMsg::TaskComplete { last_agent_message } = event.msg {
//!         assert_eq!(last_agent_message.as_deref(), Some("3"));
//!         break;
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod builder;

pub use builder::{SessionBuilderExt, builder};
pub use serde_json;
#[cfg(feature = "acp")]
pub use turnkit_acp as acp;
#[cfg(feature = "sandbox")]
pub use turnkit_exec as exec;
#[cfg(feature = "mcp")]
pub use turnkit_mcp as mcp;
#[cfg(any(feature = "openai", feature = "regular"))]
pub use turnkit_model as model;
#[cfg(feature = "openai")]
pub use turnkit_model_openai as model_openai;
pub use turnkit_protocol as protocol;
pub use turnkit_protocol::{
    ApprovalOrigin, ApprovalPolicy, ApprovalRequest, ApprovalSubject, CodeLocation, ContentItem,
    Event, EventMsg, ExecCommandEnd, ExecSource, ExecStream, FileChange, ItemList, Op, PlanStep,
    ResponseItem, ReviewDecision, ReviewFinding, ReviewOutput, ReviewRequest, ReviewTarget,
    ReviewVerdict, Role, SandboxPolicy, StepStatus, SubSessionOutcome, Submission, TaskKind,
    TokenUsage, TokenUsageInfo, ToolSpec, TurnAbortReason, UndoCompleted, UserInput,
};
#[cfg(feature = "sandbox")]
pub use turnkit_sandbox as sandbox;
pub use turnkit_session_core::{
    CancellationToken, ChildOutcome, CompactionReport, Compactor, DEFAULT_GRACE_PERIOD,
    DEFAULT_MAX_DEPTH, DEFAULT_SUB_SESSION_STOP_BOUND, Error, RolloutRecord, Services, Session,
    SessionBuilder, SessionHandle, SessionTask, SubSession, SubSessionBuilder, TaskContext,
    TaskError, TaskFactory, TaskRegistration, TaskResult, Tool, ToolOutput, ToolRegistry,
    TurnOverrides, TurnSnapshots, async_trait, parse_arguments, read_rollout,
};
#[cfg(feature = "compact")]
pub use turnkit_tasks_compact as tasks_compact;
#[cfg(feature = "ghost-snapshot")]
pub use turnkit_tasks_ghost_snapshot as tasks_ghost_snapshot;
#[cfg(feature = "regular")]
pub use turnkit_tasks_regular as tasks_regular;
#[cfg(feature = "review")]
pub use turnkit_tasks_review as tasks_review;
#[cfg(feature = "shell")]
pub use turnkit_tasks_shell as tasks_shell;
#[cfg(feature = "undo")]
pub use turnkit_tasks_undo as tasks_undo;
#[cfg(feature = "testkit")]
pub use turnkit_testkit as testkit;
