//! [`SessionFactory`]: how the server gets its sessions, implemented by the program that runs
//! it (the CLI supplies its model, tools and session store).

use std::path::PathBuf;

use async_trait::async_trait;
use turnkit_protocol::{ApprovalPolicy, SandboxPolicy};
use turnkit_session_core::Session;

/// Builds the sessions an MCP client starts with the `turnkit` tool and continues with
/// `turnkit_reply`.
///
/// The server checks the arguments it can check (the directory exists, the policies are
/// known) before it calls the factory; the factory decides everything else: which model
/// answers, which tools and task kinds are registered, and where the rollout is stored.
///
/// # Implementing it
///
/// `start` builds a new session (`SessionBuilder::build`) with the request's directory and
/// policies. `resume` rebuilds a session the server does not hold (a stored one, from an
/// earlier run of the server or from another program); a factory that stores nothing
/// returns [`FactoryError::UnknownSession`].
///
/// Both run on the server's async runtime while an MCP request waits: they must not block
/// for long (reading a rollout file is fine).
///
/// A factory whose `resume` brings back every session its `start` built (each has a rollout
/// it can find by id) says so with [`SessionFactory::stores_sessions`]; only then does the
/// server shut idle sessions down past [`ServerOptions::idle_sessions`](super::ServerOptions)
/// and resume them when a reply comes.
#[async_trait]
pub trait SessionFactory: Send + Sync + 'static {
    /// A new session for this request.
    async fn start(&self, request: StartRequest) -> Result<Session, FactoryError>;

    /// The stored session with exactly this id, to continue it.
    async fn resume(&self, request: ResumeRequest) -> Result<Session, FactoryError>;

    /// Whether [`SessionFactory::resume`] can bring back any session [`SessionFactory::start`]
    /// built once it has been shut down; `false` unless the factory says so, and then the
    /// server holds every session until the connection ends.
    fn stores_sessions(&self) -> bool {
        false
    }
}

/// What the `turnkit` tool asks for, checked by the server.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StartRequest {
    /// The session's working directory: an existing directory, canonical.
    pub cwd: PathBuf,
    /// When the session asks before it acts.
    pub approval_policy: ApprovalPolicy,
    /// What the agent's commands may touch.
    pub sandbox_policy: SandboxPolicy,
    /// The model the client asked for, if any (a name the factory understands).
    pub model: Option<String>,
}

impl StartRequest {
    /// A request for a session in `cwd` with these policies and the factory's own model.
    pub fn new(
        cwd: impl Into<PathBuf>,
        approval_policy: ApprovalPolicy,
        sandbox_policy: SandboxPolicy,
    ) -> Self {
        Self {
            cwd: cwd.into(),
            approval_policy,
            sandbox_policy,
            model: None,
        }
    }

    /// Asks for this model.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
}

/// What `turnkit_reply` asks for when the server does not hold the session.
///
/// For a session this server started and shut down while idle, the policies and model are
/// the ones its `turnkit` call chose. For a session stored by an earlier run or another
/// program they are `None`: the session keeps the policies its rollout recorded (a
/// `SessionBuilder` given none does), and the factory picks the model.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ResumeRequest {
    /// The session's id, exactly as the `turnkit` tool returned it.
    pub session_id: String,
    /// The policy the resumed session runs under; `None` for the one it recorded.
    pub approval_policy: Option<ApprovalPolicy>,
    /// The sandbox the resumed session runs under; `None` for the one it recorded.
    pub sandbox_policy: Option<SandboxPolicy>,
    /// The model its `turnkit` call asked for, if any.
    pub model: Option<String>,
}

impl ResumeRequest {
    /// A request to resume `session_id` under the policies it recorded.
    pub fn new(session_id: impl Into<String>) -> Self {
        Self {
            session_id: session_id.into(),
            approval_policy: None,
            sandbox_policy: None,
            model: None,
        }
    }

    /// Asks for these policies instead of the recorded ones.
    #[must_use]
    pub fn with_policies(
        mut self,
        approval_policy: ApprovalPolicy,
        sandbox_policy: SandboxPolicy,
    ) -> Self {
        self.approval_policy = Some(approval_policy);
        self.sandbox_policy = Some(sandbox_policy);
        self
    }

    /// Asks for this model (the one the session was started with).
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
}

/// Why a factory could not give a session; the MCP client reads it as a tool error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FactoryError {
    /// The request cannot be served as given; the message says what to change.
    #[error("{0}")]
    BadRequest(String),
    /// No session has this id.
    #[error("no session has the id `{0}`")]
    UnknownSession(String),
    /// Building the session failed.
    #[error("cannot start the session")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}
