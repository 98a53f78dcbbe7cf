//! [`ServerOptions`]: the defaults a server applies to the sessions it starts, and what it
//! does with an approval its client cannot answer.

use std::time::Duration;

use turnkit_protocol::{ApprovalPolicy, ReviewDecision, SandboxPolicy};

/// How long a cancelled or stopping turn may take to reach its terminal event before the
/// server stops waiting for it.
pub const DEFAULT_STOP_BOUND: Duration = Duration::from_secs(30);

/// How many idle sessions a server holds by default before it shuts the least recently used
/// down (when its factory can resume them).
pub const DEFAULT_IDLE_SESSIONS: usize = 16;

/// The defaults of a server and its fallback for approvals.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ServerOptions {
    /// The approval policy of a session whose `turnkit` call names none.
    pub approval_policy: ApprovalPolicy,
    /// The sandbox of a session whose `turnkit` call names none.
    pub sandbox_policy: SandboxPolicy,
    /// The decision for an approval request when the client cannot be asked (it declared no
    /// elicitation capability, or the elicitation failed): `denied` unless configured.
    pub approval_fallback: ApprovalFallback,
    /// How long a cancelled turn, or a session shutting down, may take.
    pub stop_bound: Duration,
    /// How many sessions with no turn running the server holds; past it, the least recently
    /// used is shut down and resumed from its rollout, with the policies and model it was
    /// started with, when a reply names it. Applies only when the factory
    /// [stores sessions](super::SessionFactory::stores_sessions); otherwise every session is
    /// held until the connection ends.
    pub idle_sessions: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            approval_policy: ApprovalPolicy::OnRequest,
            sandbox_policy: SandboxPolicy::workspace_write(),
            approval_fallback: ApprovalFallback::Deny,
            stop_bound: DEFAULT_STOP_BOUND,
            idle_sessions: DEFAULT_IDLE_SESSIONS,
        }
    }
}

impl ServerOptions {
    /// Sets the default approval policy.
    #[must_use]
    pub fn approval_policy(mut self, policy: ApprovalPolicy) -> Self {
        self.approval_policy = policy;
        self
    }

    /// Sets the default sandbox.
    #[must_use]
    pub fn sandbox_policy(mut self, policy: SandboxPolicy) -> Self {
        self.sandbox_policy = policy;
        self
    }

    /// Sets what an approval the client cannot answer resolves to.
    #[must_use]
    pub fn approval_fallback(mut self, fallback: ApprovalFallback) -> Self {
        self.approval_fallback = fallback;
        self
    }

    /// Sets how long a cancelled turn or a stopping session may take.
    #[must_use]
    pub fn stop_bound(mut self, bound: Duration) -> Self {
        self.stop_bound = bound;
        self
    }

    /// Sets how many idle sessions the server holds (see [`ServerOptions::idle_sessions`]).
    #[must_use]
    pub fn idle_sessions(mut self, count: usize) -> Self {
        self.idle_sessions = count;
        self
    }
}

/// What an approval request resolves to when the MCP client cannot be asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ApprovalFallback {
    /// The model is told the user declined and may try something else (the default).
    #[default]
    Deny,
    /// The turn stops.
    Abort,
    /// Approved without asking: for trusted automation only (then an approval policy of
    /// `never` says the same more plainly).
    Approve,
}

impl ApprovalFallback {
    /// The session's decision for this fallback.
    pub fn decision(self) -> ReviewDecision {
        match self {
            ApprovalFallback::Deny => ReviewDecision::Denied,
            ApprovalFallback::Abort => ReviewDecision::Abort,
            ApprovalFallback::Approve => ReviewDecision::Approved,
        }
    }

    /// The fallback's name: `deny`, `abort` or `approve`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalFallback::Deny => "deny",
            ApprovalFallback::Abort => "abort",
            ApprovalFallback::Approve => "approve",
        }
    }
}

impl std::fmt::Display for ApprovalFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
