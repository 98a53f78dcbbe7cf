//! MCP for turnkit sessions, on the official Rust SDK (`rmcp`).
//!
//! Two directions, one crate:
//!
//! - [`client`]: a session is given MCP servers (a stdio command, or a streamable HTTP URL);
//!   their tools join the session's tool registry as `server__tool`, and each call goes through
//!   the session's approval policy and shows as `mcp_tool_call_begin` / `mcp_tool_call_end`.
//! - [`server`]: a session served as an MCP server, so another agent or an MCP client can
//!   start and continue turnkit sessions as tools.

pub mod client;
pub mod server;
