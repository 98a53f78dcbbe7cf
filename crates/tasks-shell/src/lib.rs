//! The user's own shell command as a turnkit task: run through their shell, streamed live,
//! recorded for the model, and killed with its whole process tree when interrupted.
//!
//! [`registration`] (or [`ShellConfig::registration`] for other limits) registers the
//! `user_shell` kind, which runs `Op::RunUserShellCommand` as a [`UserShellCommandTask`]:
//!
//! - With no turn running, the command is a turn of its own (`task_started` …
//!   `task_complete`). While a turn runs, it runs beside it as that turn's auxiliary work: its
//!   events carry its own submission id, the turn's terminal event waits for it, and its
//!   history record lands in the running turn, so the model's next request sees it.
//! - Events: `exec_command_begin` with the argv as run (`<shell> -c <command>`) and source
//!   `user_shell`; `exec_command_output_delta`s as the output arrives, up to
//!   [`ShellConfig::max_deltas`] and [`ShellConfig::max_delta_bytes`]; exactly one
//!   `exec_command_end` with the exit status, the retained output and
//!   `deltas_capped` when the live stream stopped early.
//! - Interrupted, the command's process group gets SIGTERM, then SIGKILL after the kill
//!   grace; its end event (with `cancelled: true` and the output so far) still comes before
//!   `turn_aborted`, from the abort hook when the run was dropped.
//! - A blank command is rejected by the factory: the session reports an `error` naming the op
//!   and nothing runs. A program the shell cannot find is just exit code 127 with the
//!   shell's message.
//!
//! This crate sits between `turnkit-session-core` (the lifecycle) and `turnkit-exec` (the
//! process); the `turnkit` facade registers it under its `shell` feature.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use turnkit_protocol::{EventMsg, Op};
//! use turnkit_session_core::Session;
//!
//! let mut session = Session::builder()
//!     .task(turnkit_tasks_shell::ShellConfig::new().shell("/bin/sh").registration())
//!     .build()?;
//! session.submit(Op::RunUserShellCommand { command: "echo hello".into() })?;
//! while let Some(event) = session.next_event().await {
//!     if let EventMsg::ExecCommandEnd(end) = &event.msg {
//!         assert_eq!(end.exit_code, Some(0));
//!         assert_eq!(end.stdout, "hello\n");
//!     }
//!     if event.msg.is_terminal() {
//!         break;
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod capture;
mod config;
mod error;
mod progress;
mod report;
mod task;

pub use config::{
    DEFAULT_HISTORY_CAP, DEFAULT_MAX_DELTA_BYTES, DEFAULT_MAX_DELTAS, ShellConfig, registration,
};
pub use error::Error;
pub use task::UserShellCommandTask;
