//! turnkit's agent turn, [`RegularTask`], and the building blocks of its tools.
//!
//! [`registration`] (or [`RegularConfig::registration`] for other instructions) registers the
//! `regular` kind: `Op::UserInput` with no turn running starts a [`RegularTask`], and input
//! that arrives while it runs is steered into it. The turn streams from the session's model
//! client (a service of type `Arc<dyn ModelClient>`), offers the session's tools in registry
//! order, runs the calls of each response (side by side when the model and every tool called
//! allow it), and loops while the model calls tools or input is pending. It compacts through
//! the session's `Compactor` service when the context fills up, takes snapshots through the
//! `TurnSnapshots` service around file changes, and can be interrupted at any instant with
//! the history left valid: every call answered, a note that the user interrupted.
//! [`prompt_input`] is the rule that makes any history valid for a model.
//!
//! ```
//! use std::sync::Arc;
//!
//! use turnkit_model::{ModelClient, ScriptedModel, ScriptedTurn};
//! use turnkit_protocol::{EventMsg, Op, UserInput};
//! use turnkit_session_core::Session;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = ScriptedModel::new([ScriptedTurn::new().message("Hello!")]);
//! let mut session = Session::builder()
//!     .task(turnkit_tasks_regular::registration())
//!     .service(Arc::new(model) as Arc<dyn ModelClient>)
//!     .build()?;
//! session.submit(Op::UserInput { items: vec![UserInput::text("hi")] })?;
//! while let Some(event) = session.next_event().await {
//!     if let EventMsg::TaskComplete { last_agent_message } = event.msg {
//!         assert_eq!(last_agent_message.as_deref(), Some("Hello!"));
//!         break;
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The tools' building blocks, each usable and tested alone:
//!
//! - [`apply_patch`] and [`PatchPlan`]: the `apply_patch` tool's engine, our own parser of the
//!   `*** Begin Patch` format ([`parse_patch`]) and an applier that checks every hunk of every
//!   file before writing any, forgives whitespace but never content, writes each file through
//!   a temporary file and a rename, refuses paths outside the session's directory, and
//!   describes each file's change as a [`FileChange`] with a unified diff.
//! - [`classify_command`] and [`classify_script`]: whether a command is known to be read-only,
//!   for the `untrusted` approval policy, from a real shell parse of the command.
//! - [`format_exec_output`]: what the model is shown of a command's run, head and tail kept
//!   within a cap.
//!
//! ```
//! use turnkit_tasks_regular::{CommandSafety, apply_patch, classify_script};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("hello.txt"), "hello\nworld\n").unwrap();
//! let patch = "*** Begin Patch\n*** Update File: hello.txt\n@@\n hello\n-world\n+there\n*** End Patch\n";
//! let changes = apply_patch(patch, dir.path()).unwrap();
//! assert_eq!(std::fs::read_to_string(dir.path().join("hello.txt")).unwrap(), "hello\nthere\n");
//! assert_eq!(changes.len(), 1);
//!
//! assert_eq!(classify_script("git status && rg -n TODO src | head"), CommandSafety::ReadOnly);
//! assert!(matches!(classify_script("cat notes > out.txt"), CommandSafety::NeedsApproval { .. }));
//! ```

mod compact;
mod config;
mod error;
mod exec_output;
mod ledger;
mod patch;
mod prompt;
mod safety;
mod tools;
mod turn;

pub use config::{DEFAULT_AUTO_COMPACT_PERCENT, DEFAULT_INSTRUCTIONS, RegularConfig, registration};
pub use error::{Error, TurnError};
pub use exec_output::{ModelOutputLimits, format_exec_output};
pub use ledger::{ABORTED_BEFORE_START, ABORTED_WHILE_RUNNING, INTERRUPTED_NOTE, RESPONSE_FAILED};
pub use patch::{FileOperation, Hunk, HunkLine, Patch, PatchPlan, apply_patch, parse_patch};
pub use prompt::{MISSING_OUTPUT, build_prompt, prompt_input, user_message, with_overrides};
pub use safety::{CommandSafety, classify_command, classify_script};
pub use tools::{
    ApplyPatchTool, BuiltinTools, DEFAULT_MAX_PARALLEL_SUBAGENTS, DEFAULT_SHELL_TIMEOUT, ShellTool,
    SubagentTool, UpdatePlanTool, builtin_tools,
};
pub use turn::RegularTask;
pub use turnkit_protocol::FileChange;
