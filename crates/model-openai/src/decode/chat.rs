//! Chat Completions' stream: `chat.completion.chunk` objects and a final `[DONE]`.
//!
//! Unlike the Responses API, nothing arrives whole: the message text, the reasoning and each
//! tool call's arguments come in fragments, tool calls keyed by their `index` and possibly
//! interleaved. The decoder assembles them and emits the finished items when the choice
//! finishes (or at `[DONE]` for servers that send no `finish_reason`).

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use serde::Deserialize;
use turnkit_model::{ModelError, ResponseEvent, TokenUsage};
use turnkit_protocol::{ResponseItem, Role};

use super::{Flow, malformed};
use crate::api_error::{ErrorObject, classify_stream_error};

#[derive(Debug, Default)]
pub(super) struct ChatDecoder {
    created: bool,
    response_id: Option<String>,
    text: String,
    reasoning: String,
    /// Tool calls being assembled, by the server's `index`.
    calls: BTreeMap<u32, PartialCall>,
    /// The `finish_reason` of choice 0, once it came; the items are emitted then.
    finish_reason: Option<String>,
    items_emitted: bool,
    usage: Option<TokenUsage>,
}

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    index: u32,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    /// DeepSeek, vLLM and llama.cpp name the reasoning `reasoning_content`.
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    /// OpenRouter and Ollama name it `reasoning`.
    #[serde(borrow, default)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: u64,
}

#[derive(Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: u64,
}

impl ChatDecoder {
    pub(super) fn event(
        &mut self,
        data: &str,
        out: &mut VecDeque<ResponseEvent>,
    ) -> Result<Flow, ModelError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.finish(out);
            return Ok(Flow::Finished);
        }
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        let chunk: Chunk<'_> = serde_json::from_str(data)
            .map_err(|error| malformed("a chat completion chunk", data, &error))?;
        if let Some(error) = chunk.error {
            return Err(classify_stream_error(error.into_parts()));
        }
        if !self.created {
            self.created = true;
            self.response_id = chunk.id.map(Cow::into_owned);
            out.push_back(ResponseEvent::Created {
                response_id: self.response_id.clone(),
            });
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(token_usage(&usage));
        }
        // Only one completion is ever requested; other choices would be a server's mistake.
        for choice in chunk.choices.into_iter().filter(|choice| choice.index == 0) {
            if let Some(delta) = choice.delta {
                self.delta(delta, out);
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
                self.emit_items(out);
            }
        }
        Ok(Flow::Continue)
    }

    /// The body ended: complete if the choice had finished, otherwise the stream was cut.
    pub(super) fn end(&mut self, out: &mut VecDeque<ResponseEvent>) -> Result<(), ModelError> {
        // Some servers close the stream without `[DONE]`; after a `finish_reason` nothing is missing.
        if self.finish_reason.is_some() {
            self.finish(out);
            Ok(())
        } else {
            Err(ModelError::StreamEndedEarly)
        }
    }

    fn delta(&mut self, delta: Delta<'_>, out: &mut VecDeque<ResponseEvent>) {
        for reasoning in [delta.reasoning_content, delta.reasoning]
            .into_iter()
            .flatten()
        {
            if !reasoning.is_empty() {
                self.reasoning.push_str(&reasoning);
                out.push_back(ResponseEvent::ReasoningDelta {
                    delta: reasoning.into_owned(),
                });
            }
        }
        for text in [delta.content, delta.refusal].into_iter().flatten() {
            if !text.is_empty() {
                self.text.push_str(&text);
                out.push_back(ResponseEvent::OutputTextDelta {
                    delta: text.into_owned(),
                });
            }
        }
        for call in delta.tool_calls.into_iter().flatten() {
            let index = call
                .index
                .unwrap_or_else(|| self.index_without_one(call.id.as_deref()));
            let partial = self.calls.entry(index).or_default();
            if let Some(id) = call.id.filter(|id| !id.is_empty()) {
                partial.id.get_or_insert(id);
            }
            if let Some(function) = call.function {
                if let Some(name) = function.name.filter(|name| !name.is_empty())
                    && partial.name.is_empty()
                {
                    partial.name = name;
                }
                if let Some(arguments) = function.arguments {
                    partial.arguments.push_str(&arguments);
                }
            }
        }
    }

    /// Where a fragment without an `index` (some servers omit it) belongs: a new id starts a
    /// new call, anything else continues the last one.
    fn index_without_one(&self, id: Option<&str>) -> u32 {
        let last = self.calls.last_key_value();
        match (id, last) {
            (Some(id), Some((&index, call))) if call.id.as_deref() == Some(id) => index,
            (Some(_), Some((&index, _))) => index + 1,
            (None, Some((&index, _))) => index,
            (_, None) => 0,
        }
    }

    fn emit_items(&mut self, out: &mut VecDeque<ResponseEvent>) {
        if std::mem::replace(&mut self.items_emitted, true) {
            return;
        }
        if !self.reasoning.is_empty() {
            out.push_back(ResponseEvent::OutputItemDone {
                item: ResponseItem::Reasoning {
                    summary: Vec::new(),
                    content: Some(std::mem::take(&mut self.reasoning)),
                },
            });
        }
        if !self.text.is_empty() {
            let text = std::mem::take(&mut self.text);
            out.push_back(ResponseEvent::OutputItemDone {
                item: ResponseItem::Message {
                    role: Role::Assistant,
                    content: vec![turnkit_protocol::ContentItem::OutputText { text }],
                },
            });
        }
        let response_id = self.response_id.as_deref().unwrap_or("chat");
        for (index, call) in std::mem::take(&mut self.calls) {
            let arguments = if call.arguments.trim().is_empty() {
                "{}".to_owned()
            } else {
                call.arguments
            };
            out.push_back(ResponseEvent::OutputItemDone {
                item: ResponseItem::FunctionCall {
                    call_id: call
                        .id
                        .unwrap_or_else(|| format!("{response_id}-call-{index}")),
                    name: call.name,
                    arguments,
                },
            });
        }
    }

    fn finish(&mut self, out: &mut VecDeque<ResponseEvent>) {
        if !self.created {
            self.created = true;
            out.push_back(ResponseEvent::Created { response_id: None });
        }
        self.emit_items(out);
        let incomplete_reason = match self.finish_reason.as_deref() {
            Some("length") => Some("max_output_tokens".to_owned()),
            Some("content_filter") => Some("content_filter".to_owned()),
            _ => None,
        };
        out.push_back(ResponseEvent::Completed {
            response_id: self.response_id.clone(),
            usage: self.usage,
            incomplete_reason,
        });
    }
}

fn token_usage(usage: &WireUsage) -> TokenUsage {
    TokenUsage {
        input_tokens: usage.prompt_tokens,
        cached_input_tokens: usage
            .prompt_tokens_details
            .as_ref()
            .map_or(0, |details| details.cached_tokens),
        output_tokens: usage.completion_tokens,
        reasoning_output_tokens: usage
            .completion_tokens_details
            .as_ref()
            .map_or(0, |details| details.reasoning_tokens),
        total_tokens: usage
            .total_tokens
            .max(usage.prompt_tokens + usage.completion_tokens),
    }
}
