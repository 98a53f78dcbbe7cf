//! Confine the commands a model runs: Landlock for the file system and a seccomp filter for
//! network sockets, applied by a helper process that stays the command's parent; fail closed.
//!
//! A [`Sandbox`] is a [`SandboxPolicy`] for one session's directory. [`Sandbox::command`]
//! turns a program and its arguments into the command to start instead: the helper binary
//! `turnkit-sandbox-exec` (found by [`locate_helper`]) with the resolved confinement and the
//! original argv. The helper
//!
//! 1. becomes a child subreaper, so every descendant of the command, also one that called
//!    `setsid` or forked twice, stays below it;
//! 2. under `workspace_write`, makes each writable root's `.git/hooks` and `.git/config`
//!    read-only in a private mount namespace of an unprivileged user namespace;
//! 3. restricts itself with Landlock (read anywhere, write only a private temporary
//!    directory and the writable roots) and, unless the policy allows the network, a seccomp
//!    filter that refuses every new socket but Unix sockets;
//! 4. starts the command, which inherits every restriction, passes SIGTERM, SIGINT, SIGHUP
//!    and SIGQUIT on to all descendants, and once the command has exited ends every
//!    descendant left (SIGTERM, then SIGKILL after the kill grace) before it exits the way
//!    the command did.
//!
//! It fails closed: without Landlock, or without the helper, [`Sandbox::command`] returns an
//! [`Error`] saying why and how to choose `full_access` knowingly, and nothing runs.
//! [`recognise_refusal`] tells whether a failed command's output looks like the sandbox
//! refused it, so a turn can offer to rerun it unsandboxed.
//!
//! `turnkit-exec` runs a command through the helper when its `CommandSpec` has a sandbox;
//! this crate knows nothing of sessions. Linux only: on other systems every confined policy
//! is refused as unsupported, and a Seatbelt backend for macOS can take the same seam.

mod error;
mod locate;
mod plan;
mod refusal;

#[cfg(target_os = "linux")]
mod confine;
#[cfg(target_os = "linux")]
mod helper;
#[cfg(target_os = "linux")]
mod reaper;

pub use turnkit_protocol::SandboxPolicy;

pub use crate::error::Error;
#[cfg(target_os = "linux")]
pub use crate::helper::helper_main;
pub use crate::locate::{HELPER_ENV, HELPER_NAME, locate_helper};
pub use crate::plan::{Sandbox, SandboxedCommand, check_support};
pub use crate::refusal::{Refusal, recognise_refusal};
