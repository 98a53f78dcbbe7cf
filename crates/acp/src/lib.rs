//! An Agent Client Protocol (ACP) agent for turnkit sessions, so editors such as Zed drive
//! them over stdio.
//!
//! [`AcpAgent`] speaks ACP version 1 on the official SDK (`agent-client-protocol`): an editor
//! opens sessions with `session/new` or `session/load`, sends `session/prompt`s (each a regular
//! turn, `Op::UserInput`), watches `session/update`s (message and thought chunks, tool calls
//! with their kind, status, output and diffs, plans), answers `session/request_permission`
//! (each approval a session asks, a sub-session's with its origin in the title) and sends
//! `session/cancel`.
//!
//! The agent builds no session itself: the application implements [`SessionFactory`] (model
//! client, tools, policies, where rollouts are stored) and hands it to [`AcpAgent::new`]. The
//! editor's MCP servers arrive as `turnkit_mcp::client::McpServerConfig`s in the
//! [`SessionSetup`].
//!
//! Cancellation follows the protocol to the letter: a `session/cancel` during streaming, a
//! command or a permission request interrupts the turn, withdraws its permission requests
//! (the pending approvals resolve as `abort`, never as a denial the model sees), and the prompt
//! is answered with stop reason `cancelled` exactly once, after every update of the turn; the
//! session then takes the next prompt.
//!
//! This crate sits beside the `turnkit` facade (feature `acp`): it depends on
//! `turnkit-session-core` and `turnkit-protocol`, never on the facade, and the `turnkit acp`
//! command is its stdio front end.

mod agent;
mod error;
mod factory;
mod mcp;
mod pump;
mod updates;

pub use agent::AcpAgent;
pub use error::Error;
pub use factory::{LoadedSession, SessionFactory, SessionSetup};
pub use mcp::mcp_servers_from_acp;

/// The SDK this agent is built on, re-exported so a caller names its types (the transport of
/// [`AcpAgent::serve`]) without a dependency of its own.
pub use agent_client_protocol;
