//! MCP servers' tools in a session (the client side).
//!
//! [`McpServerConfig`] says how to reach a server (a stdio command, or a streamable HTTP URL);
//! [`McpClients::connect`] starts a set of them at once and lists their tools;
//! [`McpClients::register`] offers every tool to a session, named `server__tool`, and ties the
//! servers' lives to the session's. A server that does not start is an
//! [`McpStartupFailure`]: the others work, and the failure reaches the user both from
//! [`McpClients::failures`] and as a `warning` event when the session starts.
//!
//! Each call goes through the session's approval policy (an MCP tool is taken to change
//! things unless its server marks it read-only with `readOnlyHint`) and shows as
//! `mcp_tool_call_begin` then exactly one `mcp_tool_call_end`, also when the server times out,
//! crashes, or the turn is cancelled (the server is then told with `notifications/cancelled`).
//!
//! ```no_run
//! use turnkit_mcp::client::{McpClients, McpServerConfig};
//! use turnkit_session_core::Session;
//!
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! let servers = [
//!     McpServerConfig::stdio("files", "npx", ["-y", "@modelcontextprotocol/server-filesystem", "."]),
//!     McpServerConfig::streamable_http("docs", "http://127.0.0.1:8000/mcp"),
//! ];
//! let clients = McpClients::connect(servers, std::env::current_dir()?).await;
//! for failure in clients.failures() {
//!     eprintln!("warning: {failure}");
//! }
//! // Register after any `tool_registry(..)`, which replaces every tool registered before it.
//! let session = clients.register(Session::builder()).build()?;
//! # drop(session);
//! # Ok(())
//! # }
//! ```

mod connection;
mod failure;
mod names;
mod output;
mod process;
mod tool;

pub use connection::McpClients;
pub use failure::McpStartupFailure;
pub use names::tool_name;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a server may take to start and list its tools, unless configured otherwise.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one tool call may take, unless configured otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// One MCP server a session uses: its name and how to reach it.
///
/// The name prefixes its tools' names (`name__tool`), so it must be non-empty and made of
/// ASCII letters, digits, `-` and `_`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerConfig {
    /// The server's name in this session.
    pub name: String,
    /// How to reach it.
    pub transport: McpTransport,
    /// How long it may take to start and list its tools.
    pub startup_timeout: Duration,
    /// How long one tool call may take.
    pub call_timeout: Duration,
}

/// How to reach an MCP server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum McpTransport {
    /// A child process speaking MCP on its stdin and stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        #[serde(default)]
        args: Vec<String>,
        /// Variables added to the environment it inherits.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Where it runs (the session's directory when absent).
        #[serde(default)]
        cwd: Option<PathBuf>,
    },
    /// A server reached over streamable HTTP.
    StreamableHttp {
        /// The endpoint, such as `http://127.0.0.1:8000/mcp`.
        url: String,
        /// Headers sent with every request (an `Authorization` header, say).
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
}

impl McpServerConfig {
    /// A stdio server with the default timeouts.
    pub fn stdio(
        name: impl Into<String>,
        command: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            name: name.into(),
            transport: McpTransport::Stdio {
                command: command.into(),
                args: args.into_iter().map(Into::into).collect(),
                env: BTreeMap::new(),
                cwd: None,
            },
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// This configuration with `key=value` added to a stdio server's environment (no effect
    /// on an HTTP server).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let McpTransport::Stdio { env, .. } = &mut self.transport {
            env.insert(key.into(), value.into());
        }
        self
    }

    /// This configuration with a stdio server started in `dir` (no effect on an HTTP server).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        if let McpTransport::Stdio { cwd, .. } = &mut self.transport {
            *cwd = Some(dir.into());
        }
        self
    }

    /// This configuration with `name: value` sent with every request to an HTTP server (no
    /// effect on a stdio server).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let McpTransport::StreamableHttp { headers, .. } = &mut self.transport {
            headers.insert(name.into(), value.into());
        }
        self
    }

    /// This configuration with another startup timeout.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// This configuration with another timeout for each tool call.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// A streamable HTTP server with the default timeouts.
    pub fn streamable_http(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            transport: McpTransport::StreamableHttp {
                url: url.into(),
                headers: BTreeMap::new(),
            },
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }
}
