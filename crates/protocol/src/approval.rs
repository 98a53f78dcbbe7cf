//! Approval decisions and where a request came from.

use serde::{Deserialize, Serialize};

/// The client's answer to an approval request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Run it this once.
    Approved,
    /// Run it, and the same command again without asking, for the rest of this session.
    ApprovedForSession,
    /// Do not run it; the model is told so and may try something else.
    Denied,
    /// Do not run it and stop the turn. Also what a pending request resolves to when its
    /// turn is aborted; never shown to the model as a denial.
    Abort,
}

/// The sub-session an approval request came from, when it did not come from the root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalOrigin {
    /// The id of the sub-session that asked.
    pub sub_session_id: String,
    /// How deep it is: 1 for a child of the root session.
    pub depth: u32,
}
