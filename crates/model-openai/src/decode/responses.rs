//! The Responses API's stream: `response.*` events, each with its `type` in the data.

use std::borrow::Cow;
use std::collections::VecDeque;

use serde::Deserialize;
use turnkit_model::{ModelError, ResponseEvent, TokenUsage};
use turnkit_protocol::{ContentItem, ResponseItem, Role};

use super::{Flow, malformed};
use crate::api_error::{ErrorObject, classify_stream_error};

/// Stateless apart from the response id: the server sends every item whole when it is done.
#[derive(Debug, Default)]
pub(super) struct ResponsesDecoder {
    response_id: Option<String>,
}

/// The one field a delta event needs; most of a stream is these, so they skip the rest.
#[derive(Deserialize)]
struct DeltaEvent<'a> {
    #[serde(borrow, default)]
    delta: Option<Cow<'a, str>>,
}

/// Every field any handled event carries; serde skips the rest of each event cheaply.
#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    item: Option<WireItem>,
    #[serde(default)]
    response: Option<WireResponse>,
    #[serde(default)]
    error: Option<ErrorObject>,
    #[serde(default)]
    code: Option<crate::api_error::CodeValue>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireItem {
    Message {
        #[serde(default)]
        content: Vec<WireContent>,
    },
    FunctionCall {
        call_id: String,
        name: String,
        #[serde(default)]
        arguments: String,
    },
    Reasoning {
        #[serde(default)]
        summary: Vec<WireText>,
        #[serde(default)]
        content: Option<Vec<WireText>>,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireContent {
    OutputText {
        text: String,
    },
    Refusal {
        refusal: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct WireText {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize, Default)]
struct WireResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<ErrorObject>,
    #[serde(default)]
    incomplete_details: Option<WireIncomplete>,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<WireInputDetails>,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    output_tokens_details: Option<WireOutputDetails>,
    #[serde(default)]
    total_tokens: u64,
}

#[derive(Deserialize, Default)]
struct WireInputDetails {
    #[serde(default)]
    cached_tokens: u64,
}

#[derive(Deserialize, Default)]
struct WireOutputDetails {
    #[serde(default)]
    reasoning_tokens: u64,
}

#[derive(Deserialize, Default)]
struct WireIncomplete {
    #[serde(default)]
    reason: Option<String>,
}

impl ResponsesDecoder {
    pub(super) fn event(
        &mut self,
        sse_event: Option<&str>,
        data: &str,
        out: &mut VecDeque<ResponseEvent>,
    ) -> Result<Flow, ModelError> {
        // Some compatible servers end with Chat Completions' sentinel; the final event decides.
        if data.trim() == "[DONE]" {
            return Ok(Flow::Continue);
        }
        // The `event:` line names the type before any JSON is read, so the deltas that make up
        // most of a stream take a parse of one field.
        match sse_event {
            Some("response.output_text.delta") => return delta(data, out, Delta::Text),
            Some("response.reasoning_summary_text.delta" | "response.reasoning_text.delta") => {
                return delta(data, out, Delta::Reasoning);
            }
            _ => {}
        }
        let event: WireEvent<'_> = serde_json::from_str(data)
            .map_err(|error| malformed("a Responses API event", data, &error))?;
        let kind = event.kind.as_deref().or(sse_event).unwrap_or_default();
        match kind {
            "response.output_text.delta" => {
                if let Some(delta) = event.delta.filter(|delta| !delta.is_empty()) {
                    out.push_back(ResponseEvent::OutputTextDelta {
                        delta: delta.into_owned(),
                    });
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                if let Some(delta) = event.delta.filter(|delta| !delta.is_empty()) {
                    out.push_back(ResponseEvent::ReasoningDelta {
                        delta: delta.into_owned(),
                    });
                }
            }
            "response.output_item.done" => {
                if let Some(item) = event.item.and_then(history_item) {
                    out.push_back(ResponseEvent::OutputItemDone { item });
                }
            }
            "response.created" => {
                self.response_id = event.response.and_then(|response| response.id);
                out.push_back(ResponseEvent::Created {
                    response_id: self.response_id.clone(),
                });
            }
            "response.completed" | "response.incomplete" => {
                let response = event.response.unwrap_or_default();
                out.push_back(ResponseEvent::Completed {
                    response_id: response.id.or_else(|| self.response_id.take()),
                    usage: response.usage.map(token_usage),
                    incomplete_reason: response
                        .incomplete_details
                        .and_then(|details| details.reason),
                });
                return Ok(Flow::Finished);
            }
            "response.failed" => {
                let error = event
                    .response
                    .and_then(|response| response.error)
                    .unwrap_or_default();
                return Err(classify_stream_error(error.into_parts()));
            }
            "error" => {
                let error = event.error.unwrap_or(ErrorObject {
                    message: event.message,
                    code: event.code,
                    error_type: None,
                });
                return Err(classify_stream_error(error.into_parts()));
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
}

#[derive(Clone, Copy)]
enum Delta {
    Text,
    Reasoning,
}

fn delta(data: &str, out: &mut VecDeque<ResponseEvent>, kind: Delta) -> Result<Flow, ModelError> {
    let event: DeltaEvent<'_> = serde_json::from_str(data)
        .map_err(|error| malformed("a Responses API event", data, &error))?;
    if let Some(delta) = event.delta.filter(|delta| !delta.is_empty()) {
        let delta = delta.into_owned();
        out.push_back(match kind {
            Delta::Text => ResponseEvent::OutputTextDelta { delta },
            Delta::Reasoning => ResponseEvent::ReasoningDelta { delta },
        });
    }
    Ok(Flow::Continue)
}

fn history_item(item: WireItem) -> Option<ResponseItem> {
    match item {
        WireItem::Message { content } => {
            let content: Vec<ContentItem> = content
                .into_iter()
                .filter_map(|part| match part {
                    WireContent::OutputText { text } => Some(ContentItem::OutputText { text }),
                    WireContent::Refusal { refusal } => {
                        Some(ContentItem::OutputText { text: refusal })
                    }
                    WireContent::Other => None,
                })
                .collect();
            (!content.is_empty()).then_some(ResponseItem::Message {
                role: Role::Assistant,
                content,
            })
        }
        WireItem::FunctionCall {
            call_id,
            name,
            arguments,
        } => Some(ResponseItem::FunctionCall {
            call_id,
            name,
            arguments,
        }),
        WireItem::Reasoning { summary, content } => Some(ResponseItem::Reasoning {
            summary: summary.into_iter().map(|part| part.text).collect(),
            content: content.map(|parts| {
                parts
                    .into_iter()
                    .map(|part| part.text)
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
        }),
        // Built-in tools (web search, file search, …) are never requested, so their items
        // have no place in turnkit's history.
        WireItem::Other => None,
    }
}

fn token_usage(usage: WireUsage) -> TokenUsage {
    TokenUsage {
        input_tokens: usage.input_tokens,
        cached_input_tokens: usage
            .input_tokens_details
            .map_or(0, |details| details.cached_tokens),
        output_tokens: usage.output_tokens,
        reasoning_output_tokens: usage
            .output_tokens_details
            .map_or(0, |details| details.reasoning_tokens),
        total_tokens: usage
            .total_tokens
            .max(usage.input_tokens + usage.output_tokens),
    }
}
