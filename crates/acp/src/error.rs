//! What can go wrong serving ACP, and what a [`SessionFactory`](crate::SessionFactory) reports.

/// An error of the ACP agent, or of a session factory answering it.
///
/// A factory's error becomes the JSON-RPC error of the request that asked for the session, so
/// its message is what the editor shows: say what happened and what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No stored session has this id (`session/load`), or no live one (`session/prompt`).
    #[error("no session has the id `{session_id}`; {hint}")]
    SessionNotFound {
        /// The id the client gave.
        session_id: String,
        /// What the client can do instead.
        hint: String,
    },
    /// The request's parameters cannot be used (a relative `cwd`, an MCP server the agent
    /// cannot reach).
    #[error("{message}")]
    InvalidParams {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The session could not be built or resumed.
    #[error("cannot start the session: {message}")]
    Session {
        /// Why.
        message: String,
    },
    /// The connection to the client failed (its transport broke, or it sent something the SDK
    /// refused).
    #[error("the ACP connection failed")]
    Connection(#[source] agent_client_protocol::Error),
}

impl Error {
    /// The session could not be built or resumed, for this reason.
    pub fn session(message: impl std::fmt::Display) -> Self {
        Error::Session {
            message: message.to_string(),
        }
    }

    /// The request's parameters cannot be used, for this reason.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Error::InvalidParams {
            message: message.into(),
        }
    }

    /// The JSON-RPC error a client receives for this error.
    pub(crate) fn to_rpc(&self) -> agent_client_protocol::Error {
        use agent_client_protocol::{Error as RpcError, ErrorCode};
        match self {
            Error::SessionNotFound { session_id, .. } => {
                RpcError::new(ErrorCode::RESOURCE_NOT_FOUND, self.to_string())
                    .data(serde_json::json!({ "sessionId": session_id }))
            }
            Error::InvalidParams { .. } => {
                RpcError::new(ErrorCode::INVALID_PARAMS, self.to_string())
            }
            Error::Session { .. } | Error::Connection(_) => {
                RpcError::new(ErrorCode::INTERNAL_ERROR, self.to_string())
            }
        }
    }
}
