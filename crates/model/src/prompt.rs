//! What a model is asked: [`Prompt`], with the tools it may call as [`ToolSpec`]s.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use turnkit_protocol::{ItemList, ResponseItem, ToolSpec};

use crate::tokens::{estimate_item_tokens, estimate_text_tokens};

/// One request to a model: instructions, the conversation so far, and the tools it may call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// The system or developer instructions that frame the conversation.
    #[serde(default)]
    pub instructions: String,
    /// The conversation so far; items that are not model-visible are never sent.
    ///
    /// An [`ItemList`] shares its items with the history it was copied from, so a request
    /// late in a long session costs no copy of the conversation.
    #[serde(default)]
    pub input: ItemList,
    /// The tools the model may call, shared with the session's tool registry (so a request
    /// costs no copy of their schemas); build one with `vec![...].into()`.
    #[serde(default)]
    pub tools: Arc<[ToolSpec]>,
    /// Whether the model may call several tools in one response.
    #[serde(default)]
    pub parallel_tool_calls: bool,
    /// A JSON schema the final answer must follow, when the caller needs structured output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<serde_json::Value>,
}

impl Prompt {
    /// A prompt with the given instructions and input, no tools, and free-form output.
    pub fn new(instructions: impl Into<String>, input: impl Into<ItemList>) -> Self {
        Prompt {
            instructions: instructions.into(),
            input: input.into(),
            ..Prompt::default()
        }
    }

    /// The input items a model is actually sent, in order.
    pub fn model_visible_input(&self) -> impl Iterator<Item = &ResponseItem> {
        self.input.iter().filter(|item| item.is_model_visible())
    }

    /// A rough count of the tokens this prompt costs, for when the server reports no usage.
    pub fn estimated_tokens(&self) -> u64 {
        let tools: u64 = self
            .tools
            .iter()
            .map(|tool| {
                estimate_text_tokens(&tool.name)
                    + estimate_text_tokens(&tool.description)
                    + estimate_text_tokens(&tool.parameters.to_string())
            })
            .sum();
        let input: u64 = self.model_visible_input().map(estimate_item_tokens).sum();
        estimate_text_tokens(&self.instructions) + tools + input
    }
}
