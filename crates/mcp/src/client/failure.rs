//! [`McpStartupFailure`]: an MCP server that could not be used, said so a person can act on it.

use std::fmt;
use std::time::Duration;

/// An MCP server that did not start, or started but could not list its tools; its tools are
/// not offered, and every other server still works.
///
/// Its `Display` is one sentence for a person: which server, what went wrong, what to do
/// (`MCP server `files` did not start: the command `npx` was not found; install it or put its
/// full path in `command`. Its tools are not available in this session.`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpStartupFailure {
    server: String,
    problem: String,
}

impl McpStartupFailure {
    pub(crate) fn new(server: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn timed_out(server: &str, after: Duration) -> Self {
        Self::new(
            server,
            format!(
                "it did not start and list its tools within {}; check that it runs on its own, or raise its startup timeout (`startup_timeout_secs`)",
                seconds(after)
            ),
        )
    }

    /// The server's name, as configured.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// What went wrong and what to do, without the server's name.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for McpStartupFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MCP server `{}` did not start: {}. Its tools are not available in this session.",
            self.server, self.problem
        )
    }
}

impl std::error::Error for McpStartupFailure {}

/// A duration as a person reads it: `10 s`, `1.5 s`, `250 ms`.
pub(crate) fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}
