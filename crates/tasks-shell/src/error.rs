//! Why a user's shell command cannot become a task.

/// Why a [`UserShellCommandTask`](crate::UserShellCommandTask) cannot be built.
///
/// A command that starts and then fails (a typo, a missing program) is not an `Error`: it is a
/// command with a non-zero exit code, reported in its `exec_command_end` like any other.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line is empty or only whitespace.
    #[error("the shell command is empty: type a command to run")]
    EmptyCommand,
    /// The registration's factory was handed an op other than `run_user_shell_command`.
    #[error(
        "the user shell task runs only `run_user_shell_command`, not `{op}`: send the command line as `run_user_shell_command`"
    )]
    WrongOp {
        /// The name of the op it was given.
        op: &'static str,
    },
}
