//! What a tool looks like to a model: [`ToolSpec`].
//!
//! The spec lives here, not in the model crate, so a task crate or a downstream tool can
//! describe itself without depending on a model client.

use serde::{Deserialize, Serialize};

/// A function the model may call, described by a JSON schema of its arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    #[serde(default)]
    pub description: String,
    /// A JSON schema of its arguments (an `object` schema).
    pub parameters: serde_json::Value,
    /// Whether the server must hold the model's arguments to the schema exactly.
    #[serde(default)]
    pub strict: bool,
}

impl ToolSpec {
    /// A non-strict function tool.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: serde_json::Value,
    ) -> Self {
        ToolSpec {
            name: name.into(),
            description: description.into(),
            parameters,
            strict: false,
        }
    }
}
