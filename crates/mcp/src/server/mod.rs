//! A turnkit session served as an MCP server (the server side).
//!
//! [`McpServer`] offers two tools to any MCP client: `turnkit` starts a session in a
//! directory and runs one regular turn on a prompt; `turnkit_reply` continues a session by
//! its id. Each call returns the agent's final message and the session id, as text and as
//! structured content.
//!
//! While a call runs, the session's events go to the client as progress notifications (when
//! the call carried a progress token) and log messages. Approvals the session asks for
//! (a sub-session's too, with its origin) are put to the client as elicitations when it
//! declared that capability, and answered by [`ServerOptions::approval_fallback`] (deny,
//! unless configured) when it did not; the result lists every approval and who answered it.
//! A cancelled call interrupts its turn, whose commands' process trees are killed. When the
//! connection ends every session is shut down. A long-lived server whose factory can resume
//! what it started keeps at most [`ServerOptions::idle_sessions`] idle sessions: the least
//! recently used is shut down and comes back from its rollout, with its own policies and
//! model, when a reply names it.
//!
//! The server knows no model, tool or store: sessions come from a [`SessionFactory`] the
//! program implements (the CLI's `turnkit mcp-server` uses its own model flags and session
//! store).
//!
//! ```no_run
//! # async fn example(factory: impl turnkit_mcp::server::SessionFactory) -> Result<(), turnkit_mcp::server::Error> {
//! use tokio_util::sync::CancellationToken;
//! use turnkit_mcp::server::{ApprovalFallback, McpServer, ServerOptions};
//!
//! // Cancel the token on SIGTERM to interrupt running turns and shut every session down.
//! let stop = CancellationToken::new();
//! let options = ServerOptions::default().approval_fallback(ApprovalFallback::Deny);
//! McpServer::new(factory, options).serve_stdio(stop).await
//! # }
//! ```
//!
//! [`McpServer::serve`] takes any rmcp server transport instead (the tests use an in-memory
//! duplex pipe).

// MCP logging (levels, `logging/setLevel`, log notifications) is deprecated by the
// protocol's 2026-07-28 revision (SEP-2577), which this server does not speak; on the
// revisions it speaks, logging is how a call streams what it does.
mod approval;
mod error;
mod factory;
#[allow(deprecated)]
mod handler;
#[allow(deprecated)]
mod notify;
mod options;
mod tools;
#[allow(deprecated)]
mod turn;

pub use error::Error;
pub use factory::{FactoryError, ResumeRequest, SessionFactory, StartRequest};
pub use handler::McpServer;
pub use options::{ApprovalFallback, DEFAULT_IDLE_SESSIONS, DEFAULT_STOP_BOUND, ServerOptions};
pub use tools::{REPLY_TOOL, START_TOOL};
