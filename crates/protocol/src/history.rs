//! The conversation as a model sees it: [`ResponseItem`].

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The user.
    User,
    /// The model.
    Assistant,
    /// Instructions from the agent's developer.
    Developer,
    /// System instructions.
    System,
}

/// A piece of a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentItem {
    /// Text the model reads.
    InputText {
        /// The text.
        text: String,
    },
    /// An image the model reads.
    InputImage {
        /// The image's URL (including `data:` URLs).
        image_url: String,
    },
    /// Text the model wrote.
    OutputText {
        /// The text.
        text: String,
    },
}

/// One item of a session's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseItem {
    /// A message.
    Message {
        /// Who wrote it.
        role: Role,
        /// What it says.
        content: Vec<ContentItem>,
    },
    /// The model's reasoning.
    Reasoning {
        /// A summary the model produced, if any.
        #[serde(default)]
        summary: Vec<String>,
        /// The raw reasoning text, when the server sends it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
    },
    /// The model called a tool.
    FunctionCall {
        /// Ties the call to its output.
        call_id: String,
        /// The tool's name.
        name: String,
        /// The arguments, as the JSON text the model wrote.
        arguments: String,
    },
    /// A tool's result.
    FunctionCallOutput {
        /// The call this answers.
        call_id: String,
        /// What the model is shown.
        output: String,
        /// Whether the tool succeeded, when it says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        success: Option<bool>,
    },
    /// A ghost snapshot of the working tree; kept for undo, never sent to a model.
    GhostSnapshot {
        /// The snapshot's commit id.
        commit: String,
        /// When in the turn it was taken: `before` or `after`.
        phase: String,
        /// The submission id of the turn it belongs to.
        turn_id: String,
        /// What the snapshotter needs to undo from it (which files it left out, …), as it
        /// serialises it; `null` when there is nothing more.
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        snapshot: serde_json::Value,
    },
    /// An item of a type this build does not know; produced only when reading.
    #[serde(other)]
    Unknown,
}

impl ResponseItem {
    /// A user message of one text item.
    pub fn user_text(text: impl Into<String>) -> Self {
        ResponseItem::Message {
            role: Role::User,
            content: vec![ContentItem::InputText { text: text.into() }],
        }
    }

    /// An assistant message of one text item.
    pub fn assistant_text(text: impl Into<String>) -> Self {
        ResponseItem::Message {
            role: Role::Assistant,
            content: vec![ContentItem::OutputText { text: text.into() }],
        }
    }

    /// Whether this item is part of what a model is sent.
    pub fn is_model_visible(&self) -> bool {
        !matches!(
            self,
            ResponseItem::GhostSnapshot { .. } | ResponseItem::Unknown
        )
    }
}
