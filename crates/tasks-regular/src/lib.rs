//! The building blocks of turnkit's agent turn (`RegularTask`), each usable and tested alone.
//!
//! The turn itself (streaming from the model, running tool calls under the approval policy,
//! looping until the model is done) lands with issue 9 on top of these modules, once the
//! session tree (sub-sessions, approval policy, generalised approval requests) is in
//! session-core. What is here does not depend on it:
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

mod error;
mod exec_output;
mod patch;
mod safety;
mod tools;

pub use error::Error;
pub use exec_output::{ModelOutputLimits, format_exec_output};
pub use patch::{FileOperation, Hunk, HunkLine, Patch, PatchPlan, apply_patch, parse_patch};
pub use safety::{CommandSafety, classify_command, classify_script};
pub use tools::{
    ApplyPatchTool, BuiltinTools, DEFAULT_MAX_PARALLEL_SUBAGENTS, DEFAULT_SHELL_TIMEOUT, ShellTool,
    SubagentTool, UpdatePlanTool, builtin_tools,
};
pub use turnkit_protocol::FileChange;
