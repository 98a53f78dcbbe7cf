//! Shared test helpers: realistic SSE bodies of both APIs, a client pointed at a loopback
//! server, and event collection as JSON for snapshots.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use turnkit_model::{ModelClient, ModelError, Prompt, ResponseEvent, ToolSpec};
use turnkit_model_openai::{OpenAiClient, OpenAiConfig, RetryPolicy, WireApi};
use turnkit_protocol::{ContentItem, ResponseItem, Role};
use wiremock::{MockServer, ResponseTemplate};

/// The key every test client sends; tests check it never leaks.
pub(crate) const SECRET_KEY: &str = "sk-test-4f9c2d71e8a3b6c5-do-not-leak";

/// A client for `base_url` with the test key and backoffs short enough to keep tests fast.
pub(crate) fn config(base_url: &str, wire_api: WireApi) -> OpenAiConfig {
    OpenAiConfig::new("gpt-4.1")
        .with_base_url(base_url)
        .with_api_key(SECRET_KEY)
        .with_wire_api(wire_api)
        .with_idle_timeout(Duration::from_secs(10))
        .with_retry(RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        })
}

pub(crate) fn client(server: &MockServer, wire_api: WireApi) -> OpenAiClient {
    OpenAiClient::new(config(&server.uri(), wire_api)).expect("the test config is valid")
}

/// Runs one request to its end.
pub(crate) async fn collect(
    client: &OpenAiClient,
    prompt: &Prompt,
) -> Vec<Result<ResponseEvent, ModelError>> {
    client
        .stream(prompt, CancellationToken::new())
        .collect()
        .await
}

/// Events as JSON: each `Ok` as the event, each `Err` as its kind and message.
pub(crate) fn events_json(events: &[Result<ResponseEvent, ModelError>]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|event| match event {
                Ok(event) => serde_json::to_value(event).expect("events serialise"),
                Err(error) => {
                    json!({ "error": { "kind": error.kind(), "message": error.to_string() } })
                }
            })
            .collect(),
    )
}

/// The last event, which must be an error.
pub(crate) fn last_error(events: &[Result<ResponseEvent, ModelError>]) -> &ModelError {
    match events.last() {
        Some(Err(error)) => error,
        other => panic!("expected the stream to end with an error, got {other:?}"),
    }
}

/// The JSON bodies the server received, in order.
pub(crate) async fn received_bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .map(|request| request.body_json::<Value>().expect("requests are JSON"))
        .collect()
}

/// A 200 response with this SSE body.
pub(crate) fn sse(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("cache-control", "no-cache")
        .set_body_raw(body, "text/event-stream; charset=utf-8")
}

/// An error response in the usual `{"error": {...}}` envelope.
pub(crate) fn api_error(
    status: u16,
    error_type: &str,
    code: Option<&str>,
    message: &str,
) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": { "message": message, "type": error_type, "param": null, "code": code }
    }))
}

/// A prompt with every kind of history item, one invisible, and two tools.
pub(crate) fn full_prompt() -> Prompt {
    Prompt {
        instructions: "You are a coding agent. Be concise.".into(),
        input: vec![
            ResponseItem::Message {
                role: Role::Developer,
                content: vec![ContentItem::InputText {
                    text: "Sandbox: workspace-write.".into(),
                }],
            },
            ResponseItem::user_text("List the files, then read Cargo.toml."),
            ResponseItem::GhostSnapshot {
                commit: "0123abcd".into(),
                phase: "before".into(),
                turn_id: "turn-1".into(),
                snapshot: serde_json::Value::Null,
            },
            ResponseItem::Reasoning {
                summary: vec!["Plan: ls then cat.".into()],
                content: None,
            },
            ResponseItem::assistant_text("Looking."),
            ResponseItem::FunctionCall {
                call_id: "call_ls".into(),
                name: "shell".into(),
                arguments: r#"{"command":["ls"]}"#.into(),
            },
            ResponseItem::FunctionCall {
                call_id: "call_cat".into(),
                name: "shell".into(),
                arguments: r#"{"command":["cat","Cargo.toml"]}"#.into(),
            },
            ResponseItem::FunctionCallOutput {
                call_id: "call_ls".into(),
                output: "Cargo.toml\nsrc\n".into(),
                success: Some(true),
            },
            ResponseItem::FunctionCallOutput {
                call_id: "call_cat".into(),
                output: "[package]\nname = \"demo\"\n".into(),
                success: Some(true),
            },
            ResponseItem::Message {
                role: Role::User,
                content: vec![
                    ContentItem::InputText {
                        text: "And this screenshot?".into(),
                    },
                    ContentItem::InputImage {
                        image_url: "data:image/png;base64,iVBORw0KGgo=".into(),
                    },
                ],
            },
        ]
        .into(),
        tools: vec![
            ToolSpec::function(
                "shell",
                "Run a command and return its output.",
                json!({
                    "type": "object",
                    "properties": { "command": { "type": "array", "items": { "type": "string" } } },
                    "required": ["command"],
                    "additionalProperties": false
                }),
            ),
            ToolSpec {
                name: "apply_patch".into(),
                description: "Apply a patch to the working tree.".into(),
                parameters: json!({
                    "type": "object",
                    "properties": { "patch": { "type": "string" } },
                    "required": ["patch"],
                    "additionalProperties": false
                }),
                strict: true,
            },
        ]
        .into(),
        parallel_tool_calls: true,
        output_schema: None,
    }
}

/// A one-message prompt.
pub(crate) fn simple_prompt() -> Prompt {
    Prompt::new("Be brief.", vec![ResponseItem::user_text("Say hi.")])
}

/// Builds a Responses API event stream the way the reference server writes it.
#[derive(Default)]
pub(crate) struct ResponsesSse {
    body: String,
    sequence: u64,
    output_index: u64,
}

impl ResponsesSse {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn event(&mut self, kind: &str, mut data: Value) -> &mut Self {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        write!(self.body, "event: {kind}\ndata: {data}\n\n").expect("writing to a String");
        self
    }

    fn response(id: &str, status: &str, usage: &Value) -> Value {
        json!({
            "id": id, "object": "response", "created_at": 1_741_290_958, "status": status,
            "background": false, "error": null, "incomplete_details": null,
            "instructions": "Be brief.", "max_output_tokens": null, "model": "gpt-4.1-2025-04-14",
            "output": [], "parallel_tool_calls": true, "previous_response_id": null,
            "reasoning": { "effort": null, "summary": null }, "store": false, "temperature": 1.0,
            "text": { "format": { "type": "text" } }, "tool_choice": "auto", "tools": [],
            "top_p": 1.0, "truncation": "disabled", "usage": usage, "user": null, "metadata": {}
        })
    }

    /// `response.created` and `response.in_progress`.
    pub(crate) fn created(&mut self, id: &str) -> &mut Self {
        let response = Self::response(id, "in_progress", &Value::Null);
        self.event("response.created", json!({ "response": response.clone() }));
        self.event("response.in_progress", json!({ "response": response }))
    }

    /// A keep-alive comment, as proxies and some servers send.
    pub(crate) fn comment(&mut self, text: &str) -> &mut Self {
        write!(self.body, ": {text}\n\n").expect("writing to a String");
        self
    }

    /// An assistant message streamed as these deltas.
    pub(crate) fn message(&mut self, item_id: &str, deltas: &[&str]) -> &mut Self {
        let output_index = self.output_index;
        self.output_index += 1;
        let text: String = deltas.concat();
        self.event("response.output_item.added", json!({
            "output_index": output_index,
            "item": { "id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": [] }
        }));
        self.event(
            "response.content_part.added",
            json!({
                "item_id": item_id, "output_index": output_index, "content_index": 0,
                "part": { "type": "output_text", "annotations": [], "logprobs": [], "text": "" }
            }),
        );
        for delta in deltas {
            self.delta(item_id, output_index, delta);
        }
        self.event("response.output_text.done", json!({
            "item_id": item_id, "output_index": output_index, "content_index": 0, "text": text, "logprobs": []
        }));
        self.event(
            "response.content_part.done",
            json!({
                "item_id": item_id, "output_index": output_index, "content_index": 0,
                "part": { "type": "output_text", "annotations": [], "logprobs": [], "text": text }
            }),
        );
        self.event("response.output_item.done", json!({
            "output_index": output_index,
            "item": {
                "id": item_id, "type": "message", "status": "completed", "role": "assistant",
                "content": [{ "type": "output_text", "annotations": [], "logprobs": [], "text": text }]
            }
        }))
    }

    /// One `response.output_text.delta`.
    pub(crate) fn delta(&mut self, item_id: &str, output_index: u64, delta: &str) -> &mut Self {
        self.event(
            "response.output_text.delta",
            json!({
                "item_id": item_id, "output_index": output_index, "content_index": 0,
                "delta": delta, "logprobs": [], "obfuscation": "x1y2"
            }),
        )
    }

    /// A reasoning item with a streamed summary.
    pub(crate) fn reasoning(&mut self, item_id: &str, summary: &[&str]) -> &mut Self {
        let output_index = self.output_index;
        self.output_index += 1;
        self.event(
            "response.output_item.added",
            json!({
                "output_index": output_index,
                "item": { "id": item_id, "type": "reasoning", "summary": [] }
            }),
        );
        for delta in summary {
            self.event("response.reasoning_summary_text.delta", json!({
                "item_id": item_id, "output_index": output_index, "summary_index": 0, "delta": delta
            }));
        }
        self.event(
            "response.output_item.done",
            json!({
                "output_index": output_index,
                "item": {
                    "id": item_id, "type": "reasoning", "encrypted_content": "gAAAAB-opaque",
                    "summary": [{ "type": "summary_text", "text": summary.concat() }]
                }
            }),
        )
    }

    /// A function call whose arguments stream in these fragments.
    pub(crate) fn function_call(
        &mut self,
        item_id: &str,
        call_id: &str,
        name: &str,
        fragments: &[&str],
    ) -> &mut Self {
        let output_index = self.output_index;
        self.output_index += 1;
        let arguments: String = fragments.concat();
        self.event(
            "response.output_item.added",
            json!({
                "output_index": output_index,
                "item": { "id": item_id, "type": "function_call", "status": "in_progress",
                          "arguments": "", "call_id": call_id, "name": name }
            }),
        );
        for fragment in fragments {
            self.event(
                "response.function_call_arguments.delta",
                json!({
                    "item_id": item_id, "output_index": output_index, "delta": fragment
                }),
            );
        }
        self.event(
            "response.function_call_arguments.done",
            json!({
                "item_id": item_id, "output_index": output_index, "arguments": arguments
            }),
        );
        self.event(
            "response.output_item.done",
            json!({
                "output_index": output_index,
                "item": { "id": item_id, "type": "function_call", "status": "completed",
                          "arguments": arguments, "call_id": call_id, "name": name }
            }),
        )
    }

    /// `response.completed` with usage.
    pub(crate) fn completed(
        &mut self,
        id: &str,
        input: u64,
        cached: u64,
        output: u64,
        reasoning: u64,
    ) -> &mut Self {
        let usage = json!({
            "input_tokens": input, "input_tokens_details": { "cached_tokens": cached },
            "output_tokens": output, "output_tokens_details": { "reasoning_tokens": reasoning },
            "total_tokens": input + output
        });
        let response = Self::response(id, "completed", &usage);
        self.event("response.completed", json!({ "response": response }))
    }

    /// `response.failed` with this error.
    pub(crate) fn failed(&mut self, id: &str, code: &str, message: &str) -> &mut Self {
        let mut response = Self::response(id, "failed", &Value::Null);
        response["error"] = json!({ "code": code, "message": message });
        self.event("response.failed", json!({ "response": response }))
    }

    /// Raw text appended as is.
    pub(crate) fn raw(&mut self, text: &str) -> &mut Self {
        self.body.push_str(text);
        self
    }

    pub(crate) fn build(&self) -> String {
        self.body.clone()
    }
}

/// Builds a Chat Completions event stream the way the reference server writes it.
pub(crate) struct ChatSse {
    body: String,
    id: String,
}

impl ChatSse {
    pub(crate) fn new(id: &str) -> Self {
        let mut chat = ChatSse {
            body: String::new(),
            id: id.to_owned(),
        };
        chat.chunk(
            &json!({ "role": "assistant", "content": "", "refusal": null }),
            None,
        );
        chat
    }

    /// One chunk with this delta for choice 0.
    pub(crate) fn chunk(&mut self, delta: &Value, finish_reason: Option<&str>) -> &mut Self {
        let chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": 1_741_290_958,
            "model": "gpt-4o-mini-2024-07-18", "service_tier": "default", "system_fingerprint": "fp_06737a9306",
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason }],
            "usage": null
        });
        write!(self.body, "data: {chunk}\n\n").expect("writing to a String");
        self
    }

    pub(crate) fn content(&mut self, text: &str) -> &mut Self {
        self.chunk(&json!({ "content": text }), None)
    }

    /// The first fragment of tool call `index`: id, name and empty arguments.
    pub(crate) fn call_start(&mut self, index: u32, id: &str, name: &str) -> &mut Self {
        self.chunk(
            &json!({ "tool_calls": [{ "index": index, "id": id, "type": "function",
                                     "function": { "name": name, "arguments": "" } }] }),
            None,
        )
    }

    /// A later fragment of tool call `index`'s arguments.
    pub(crate) fn call_arguments(&mut self, index: u32, fragment: &str) -> &mut Self {
        self.chunk(
            &json!({ "tool_calls": [{ "index": index, "function": { "arguments": fragment } }] }),
            None,
        )
    }

    pub(crate) fn finish(&mut self, reason: &str) -> &mut Self {
        self.chunk(&json!({}), Some(reason))
    }

    /// The usage chunk sent with `stream_options.include_usage`.
    pub(crate) fn usage(
        &mut self,
        prompt: u64,
        cached: u64,
        completion: u64,
        reasoning: u64,
    ) -> &mut Self {
        let chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": 1_741_290_958,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_06737a9306", "choices": [],
            "usage": {
                "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_tokens_details": { "cached_tokens": cached, "audio_tokens": 0 },
                "completion_tokens_details": { "reasoning_tokens": reasoning, "audio_tokens": 0,
                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0 }
            }
        });
        write!(self.body, "data: {chunk}\n\n").expect("writing to a String");
        self
    }

    pub(crate) fn done(&mut self) -> &mut Self {
        self.body.push_str("data: [DONE]\n\n");
        self
    }

    pub(crate) fn raw(&mut self, text: &str) -> &mut Self {
        self.body.push_str(text);
        self
    }

    pub(crate) fn build(&self) -> String {
        self.body.clone()
    }
}
