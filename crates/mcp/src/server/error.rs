//! [`Error`]: why serving stopped abnormally.

/// Why [`McpServer::serve`](super::McpServer::serve) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection never got past the MCP handshake.
    #[error("the MCP client did not complete the handshake")]
    Handshake(#[source] Box<rmcp::service::ServerInitializeError>),
    /// The task serving the connection panicked or was aborted.
    #[error("the MCP service stopped abnormally")]
    Service(#[source] tokio::task::JoinError),
}
