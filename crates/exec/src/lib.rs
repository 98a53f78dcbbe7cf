//! Run a process properly: in its own process group, with its output streamed live and
//! retained within a cap, a timeout, and a kill that reaches the whole process tree.
//!
//! Describe the command with a [`CommandSpec`] (an argv, or a script for the user's shell from
//! [`user_shell`]), then [`run`] it with a [`CancellationToken`]:
//!
//! - Output arrives as [`OutputChunk`]s (raw bytes, at most [`MAX_CHUNK_BYTES`]) on the
//!   channel given to [`CommandSpec::output_sender`], while the command runs; or, with
//!   [`run_streaming`], at a callback. [`DeltaBudget`] caps how much of it a caller passes on.
//! - The outcome is an [`ExecOutput`]: the [`ExitStatus`] (code or signal), whether it timed
//!   out or was cancelled, its duration, and [`CapturedOutput`]s of stdout, stderr and both
//!   interleaved, each keeping its head and tail within the cap.
//!   [`ExecOutput::formatted_output`] renders what a model should be shown.
//! - Cancelling, or the timeout, sends SIGTERM to the process group, then SIGKILL after the
//!   grace period; dropping the future sends SIGKILL at once.
//! - A program that is missing or not executable is an outcome with exit code 127 or 126 and
//!   a [`SpawnFailure`], as in a shell; [`Error`] is for requests that cannot run at all.
//!
//! This crate knows nothing of sessions: `turnkit-tasks-shell` and the regular turn's shell
//! tool build their exec events from what it returns.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), turnkit_exec::Error> {
//! use tokio_util::sync::CancellationToken;
//! use turnkit_exec::{CommandSpec, run};
//!
//! let output = run(CommandSpec::argv(["echo", "hello"]), CancellationToken::new()).await?;
//! assert_eq!(output.exit_code(), Some(0));
//! assert_eq!(output.stdout.to_string_lossy(), "hello\n");
//! # Ok(())
//! # }
//! ```
//!
//! [`CancellationToken`]: tokio_util::sync::CancellationToken

mod capture;
mod error;
mod group;
mod output;
mod pipes;
mod run;
mod spec;
mod stream;
mod supervisor;

pub use bytes::Bytes;

pub use crate::error::Error;
pub use crate::group::process_group_alive;
pub use crate::output::{
    CapturedOutput, EXIT_CODE_NOT_EXECUTABLE, EXIT_CODE_NOT_FOUND, ExecOutput, ExitStatus,
    MAX_CHUNK_BYTES, OutputChunk, OutputStream, SpawnFailure,
};
pub use crate::run::run;
pub use crate::spec::{
    CommandSpec, DEFAULT_DRAIN_TIMEOUT, DEFAULT_KILL_GRACE, DEFAULT_OUTPUT_CAP, FALLBACK_SHELL,
    user_shell,
};
pub use crate::stream::{DeltaBudget, run_streaming};
