//! The result of an undo.

use serde::{Deserialize, Serialize};

/// What an undo did, as reported by `undo_completed`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoCompleted {
    /// Every reverted path was restored and no conflict was found.
    pub success: bool,
    /// A sentence for the user.
    pub message: String,
    /// Paths restored to their content before the turn, relative to the repository.
    #[serde(default)]
    pub restored: Vec<String>,
    /// Paths the turn created and the undo deleted.
    #[serde(default)]
    pub deleted: Vec<String>,
    /// Paths changed by hand since the turn, left alone.
    #[serde(default)]
    pub conflicts: Vec<String>,
}
