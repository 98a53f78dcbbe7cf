//! Why a command cannot be sandboxed; every message says how to fix it or how to choose
//! `full_access` knowingly.

use std::io;
use std::path::PathBuf;

/// Why a sandboxed command was not run.
///
/// The sandbox fails closed: each of these means the command did not run at all, neither
/// confined nor unconfined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The helper binary that confines commands was not found.
    #[error(
        "the sandbox helper `{name}` was not found (looked for {}): build it with `cargo build --release -p turnkit-sandbox --bin {name}` (or `cargo install turnkit-sandbox`) and put it next to this program or on PATH, or set {env} to its path; to run commands without a sandbox, choose the full_access sandbox policy knowingly",
        searched.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", "),
        name = crate::HELPER_NAME,
        env = crate::HELPER_ENV,
    )]
    HelperMissing {
        /// Every place that was looked at, in order.
        searched: Vec<PathBuf>,
    },
    /// The kernel cannot confine the file system (no Landlock, or Landlock is switched off).
    #[error(
        "this system cannot confine commands ({reason}), so sandboxed commands do not run: use a Linux kernel with Landlock enabled (5.13 or newer, `landlock` in the `lsm=` boot list), or choose the full_access sandbox policy knowingly"
    )]
    Unsupported {
        /// What is missing.
        reason: String,
    },
    /// The session's directory or a writable root cannot be resolved.
    #[error("the sandbox cannot use {}: {what}; give an existing absolute directory", path.display())]
    Path {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        what: &'static str,
        /// What the operating system said, when it said something.
        #[source]
        source: Option<io::Error>,
    },
    /// The helper could not apply a restriction to itself; the command was not run.
    #[error(
        "could not confine the command ({step}), so it was not run; choose the full_access sandbox policy knowingly to run it without a sandbox"
    )]
    Confine {
        /// The step that failed and why.
        step: String,
    },
    /// The helper was started with arguments it does not understand.
    #[error("usage: {name} --confinement <json> -- <program> [args...] ({problem})", name = crate::HELPER_NAME)]
    Usage {
        /// What is wrong with the arguments.
        problem: String,
    },
}
