//! The errors of running a command: what the caller asked for cannot be run at all.

use std::io;
use std::path::PathBuf;

/// Why a command could not be run.
///
/// A program that is missing or not executable is not an `Error`: like a shell, [`run`]
/// reports it as an [`ExecOutput`] with exit code 127 or 126 and a
/// [`SpawnFailure`](crate::SpawnFailure), so the user or the model sees it as a failed command.
/// An `Error` means the request itself was wrong (no command, a working directory that is not
/// there) or the operating system failed in a way the command is not responsible for.
///
/// [`run`]: crate::run
/// [`ExecOutput`]: crate::ExecOutput
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The argv was empty, its program was an empty string, or the shell script was blank.
    #[error("empty command: give a program to run or a non-blank shell script")]
    EmptyCommand,
    /// The working directory does not exist.
    #[error("working directory {} does not exist: create it or run the command elsewhere", path.display())]
    WorkingDirectoryMissing {
        /// The directory asked for.
        path: PathBuf,
    },
    /// The working directory exists but is not a directory.
    #[error("working directory {} is not a directory: choose a directory to run the command in", path.display())]
    WorkingDirectoryNotADirectory {
        /// The path asked for.
        path: PathBuf,
    },
    /// The working directory exists but this user may not enter it.
    #[error("working directory {} cannot be entered: check its permissions", path.display())]
    WorkingDirectoryInaccessible {
        /// The directory asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The operating system refused to start the process for a reason other than a missing or
    /// non-executable program (too many processes, out of memory, ...).
    #[error("could not start {program}: try again, or check the system's process limits")]
    Spawn {
        /// The program that was to run.
        program: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Waiting for the process failed; it has been killed with its process group.
    #[error("could not wait for {program} to exit; its process group was killed")]
    Wait {
        /// The program that ran.
        program: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The command was to run in a sandbox that cannot be set up, so it did not run at all.
    #[error("the command did not run: its sandbox cannot be set up")]
    Sandbox {
        /// Why, and what to do about it.
        #[source]
        source: turnkit_sandbox::Error,
    },
}
