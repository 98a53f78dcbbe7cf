//! The seam between the ACP agent and whoever builds sessions: [`SessionFactory`].

use std::path::PathBuf;

use turnkit_mcp::client::McpServerConfig;
use turnkit_session_core::{RolloutRecord, Session};

use crate::Error;

/// What the editor asked for when it opened a session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionSetup {
    /// The session's working directory, absolute (the agent refuses a relative one).
    pub cwd: PathBuf,
    /// The MCP servers the editor wants the session to use, converted from ACP's form.
    pub mcp_servers: Vec<McpServerConfig>,
}

impl SessionSetup {
    /// A setup for `cwd` with these MCP servers.
    pub fn new(cwd: impl Into<PathBuf>, mcp_servers: Vec<McpServerConfig>) -> Self {
        SessionSetup {
            cwd: cwd.into(),
            mcp_servers,
        }
    }
}

/// A stored session brought back to life, with what it did before.
#[non_exhaustive]
pub struct LoadedSession {
    /// The resumed session (built with `SessionBuilder::resume`).
    pub session: Session,
    /// The rollout's records as they were before the session was resumed; the agent replays
    /// their user input and events to the client as `session/update` notifications.
    pub transcript: Vec<RolloutRecord>,
}

impl LoadedSession {
    /// A resumed session and the records to replay.
    pub fn new(session: Session, transcript: Vec<RolloutRecord>) -> Self {
        LoadedSession {
            session,
            transcript,
        }
    }
}

/// Builds the sessions an editor opens; the application implements it.
///
/// The agent knows nothing of models, tools or where sessions are stored: a factory builds
/// each [`Session`] with its task kinds, model client, tools, policies and rollout file, and
/// finds stored sessions by id. The session's id ([`Session::id`]) is the ACP session id, so a
/// factory that stores rollouts should name them by it, so that `session/load` finds them.
///
/// # Implementing it
///
/// - `new_session` builds a fresh session in `setup.cwd` and gives it `setup.mcp_servers`.
/// - `load_session` reads the stored rollout of `session_id` *before* resuming it (a resumed
///   session appends to the file), resumes it, and returns both.
/// - Errors reach the editor as JSON-RPC errors: [`Error::SessionNotFound`] for an unknown id,
///   [`Error::InvalidParams`] for a bad directory or server, [`Error::Session`] otherwise.
///
/// # Be careful
///
/// Both methods run on the agent's runtime while the client waits for the response; a slow
/// one (MCP servers that start slowly) delays only that request, never other sessions.
#[turnkit_session_core::async_trait]
pub trait SessionFactory: Send + Sync + 'static {
    /// Builds a new session.
    async fn new_session(&self, setup: SessionSetup) -> Result<Session, Error>;

    /// Resumes the stored session `session_id` and returns it with its transcript.
    async fn load_session(
        &self,
        session_id: &str,
        setup: SessionSetup,
    ) -> Result<LoadedSession, Error>;
}
