//! What to review.

use serde::{Deserialize, Serialize};

/// A request for a code review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRequest {
    /// Instructions for the reviewer.
    pub prompt: String,
    /// A short description to show the user while the review runs.
    #[serde(default)]
    pub user_facing_hint: String,
}
