//! The wire types of a turnkit session, with serde and nothing else.
//!
//! A client sends [`Submission`]s, each an [`Op`] with an id, and reads an ordered stream of
//! [`Event`]s, each an [`EventMsg`] tagged with the id of the submission that caused it and a
//! per-session sequence number. Work is done by tasks, named by an open-ended [`TaskKind`].
//! The conversation a model sees is a list of [`ResponseItem`]s.
//!
//! Every enum is serialised with a `type` tag in snake case, and readers ignore fields they do
//! not know; an event or history item of an unknown type reads as `Unknown`, so an old client
//! keeps working against a newer session.
//!
//! This crate sits at the bottom of the workspace: every other turnkit crate depends on it and
//! it depends on no async runtime.
//!
//! ```
//! use turnkit_protocol::{Event, EventMsg, Op, Submission, TaskKind, UserInput};
//!
//! let submission = Submission {
//!     id: "sub-1".into(),
//!     op: Op::UserInput { items: vec![UserInput::text("fix the failing test")] },
//! };
//! let wire = serde_json::to_string(&submission).unwrap();
//! assert_eq!(
//!     wire,
//!     r#"{"id":"sub-1","op":{"type":"user_input","items":[{"type":"text","text":"fix the failing test"}]}}"#
//! );
//! assert_eq!(submission.op.task_kind(), Some(TaskKind::REGULAR));
//!
//! let event: Event = serde_json::from_str(
//!     r#"{"id":"sub-1","seq":0,"msg":{"type":"task_started","kind":"regular","added_later":1}}"#,
//! )
//! .unwrap();
//! assert_eq!(event.msg, EventMsg::TaskStarted { kind: TaskKind::REGULAR });
//! ```

mod approval;
mod bytes;
mod event;
mod exec;
mod history;
mod items;
mod patch;
mod plan;
mod review;
mod sandbox;
mod submission;
mod task_kind;
mod tokens;
mod tool;
mod undo;

pub use approval::{
    ApprovalOrigin, ApprovalPolicy, ApprovalRequest, ApprovalSubject, ReviewDecision,
    SubSessionOutcome,
};
pub use event::{Event, EventMsg, TurnAbortReason};
pub use exec::{ExecCommandEnd, ExecSource, ExecStream};
pub use history::{ContentItem, ResponseItem, Role};
pub use items::ItemList;
pub use patch::FileChange;
pub use plan::{PlanStep, StepStatus};
pub use review::{
    CodeLocation, ReviewFinding, ReviewOutput, ReviewRequest, ReviewTarget, ReviewVerdict,
};
pub use sandbox::SandboxPolicy;
pub use submission::{Op, Submission, UserInput};
pub use task_kind::TaskKind;
pub use tokens::{TokenUsage, TokenUsageInfo};
pub use tool::ToolSpec;
pub use undo::UndoCompleted;
