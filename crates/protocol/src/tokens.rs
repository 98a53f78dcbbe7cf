//! What the model's responses cost: [`TokenUsage`] and the running tally [`TokenUsageInfo`].

use serde::{Deserialize, Serialize};

/// Tokens a response cost, as the server counted them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Tokens of the prompt.
    pub input_tokens: u64,
    /// Of the prompt's tokens, those served from the server's cache.
    #[serde(default)]
    pub cached_input_tokens: u64,
    /// Tokens the model produced, reasoning included.
    pub output_tokens: u64,
    /// Of the output tokens, those spent on reasoning.
    #[serde(default)]
    pub reasoning_output_tokens: u64,
    /// Input plus output.
    pub total_tokens: u64,
}

impl TokenUsage {
    /// Usage with the given input and output counts and nothing cached or reasoned.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        TokenUsage {
            input_tokens,
            output_tokens,
            total_tokens: input_tokens + output_tokens,
            ..TokenUsage::default()
        }
    }

    /// The field-wise sum of two usages, saturating rather than overflowing.
    pub fn plus(self, other: TokenUsage) -> Self {
        TokenUsage {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            cached_input_tokens: self
                .cached_input_tokens
                .saturating_add(other.cached_input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .saturating_add(other.reasoning_output_tokens),
            total_tokens: self.total_tokens.saturating_add(other.total_tokens),
        }
    }
}

/// A session's token tally after a response: that response's usage, the sum over the
/// session, and the model's context window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsageInfo {
    /// What the last response cost; its `total_tokens` is how much of the context is in use.
    pub last: TokenUsage,
    /// What every response of the session cost, added up (across resumes).
    pub total: TokenUsage,
    /// How many tokens the model can take, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
}
