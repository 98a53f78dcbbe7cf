//! What a patch does to one file ([`FileChange`]), as `patch_apply_begin` reports it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a patch does to one file, for the `patch_apply_begin` event and the approval request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FileChange {
    /// A new file.
    Add {
        /// The file, relative to the session's directory.
        path: PathBuf,
        /// Its content.
        content: String,
    },
    /// A deleted file.
    Delete {
        /// The file, relative to the session's directory.
        path: PathBuf,
        /// The content it had.
        content: String,
    },
    /// A changed (and perhaps moved) file.
    Update {
        /// The file, relative to the session's directory.
        path: PathBuf,
        /// Where it moves, when it does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        move_path: Option<PathBuf>,
        /// The change as a unified diff (`--- a/path`, `+++ b/path`, three lines of context).
        unified_diff: String,
    },
}

impl FileChange {
    /// The file the change starts from, relative to the session's directory.
    pub fn path(&self) -> &Path {
        match self {
            FileChange::Add { path, .. }
            | FileChange::Delete { path, .. }
            | FileChange::Update { path, .. } => path,
        }
    }
}
