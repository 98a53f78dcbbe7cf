//! Request bodies: a [`Prompt`] as the Responses API and as Chat Completions want it.
//!
//! Both send the whole model-visible history every time (`store: false` for Responses), so any
//! server works statelessly. Reasoning items are not sent back: the Responses API accepts them
//! only with the ids and encrypted content that a stateless client does not keep, and Chat
//! Completions has no place for them.

use serde_json::{Map, Value, json};
use turnkit_model::Prompt;
use turnkit_protocol::{ContentItem, ResponseItem, Role};

/// The name given to the output schema, which both APIs require.
const OUTPUT_SCHEMA_NAME: &str = "final_answer";

/// The JSON body of `POST {base}/responses`.
pub(crate) fn responses_body(model: &str, prompt: &Prompt) -> Value {
    let input: Vec<Value> = prompt
        .model_visible_input()
        .filter_map(responses_input_item)
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    if !prompt.instructions.is_empty() {
        body.insert("instructions".into(), json!(prompt.instructions));
    }
    body.insert("input".into(), Value::Array(input));
    if !prompt.tools.is_empty() {
        let tools: Vec<Value> = prompt
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                    "strict": tool.strict,
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        body.insert("tool_choice".into(), json!("auto"));
        body.insert(
            "parallel_tool_calls".into(),
            json!(prompt.parallel_tool_calls),
        );
    }
    if let Some(schema) = &prompt.output_schema {
        body.insert(
            "text".into(),
            json!({
                "format": {
                    "type": "json_schema",
                    "name": OUTPUT_SCHEMA_NAME,
                    "schema": schema,
                    "strict": true,
                }
            }),
        );
    }
    body.insert("stream".into(), json!(true));
    body.insert("store".into(), json!(false));
    Value::Object(body)
}

fn responses_input_item(item: &ResponseItem) -> Option<Value> {
    match item {
        ResponseItem::Message { role, content } => {
            let parts: Vec<Value> = content
                .iter()
                .map(|part| match (part, role) {
                    (
                        ContentItem::InputText { text } | ContentItem::OutputText { text },
                        Role::Assistant,
                    ) => {
                        json!({ "type": "output_text", "text": text })
                    }
                    (ContentItem::InputText { text } | ContentItem::OutputText { text }, _) => {
                        json!({ "type": "input_text", "text": text })
                    }
                    (ContentItem::InputImage { image_url }, _) => {
                        json!({ "type": "input_image", "image_url": image_url })
                    }
                })
                .collect();
            Some(json!({ "type": "message", "role": role_name(*role), "content": parts }))
        }
        ResponseItem::FunctionCall {
            call_id,
            name,
            arguments,
        } => Some(json!({
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
        })),
        ResponseItem::FunctionCallOutput {
            call_id, output, ..
        } => Some(json!({
            "type": "function_call_output",
            "call_id": call_id,
            "output": output,
        })),
        ResponseItem::Reasoning { .. }
        | ResponseItem::GhostSnapshot { .. }
        | ResponseItem::Unknown => None,
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Developer => "developer",
        Role::System => "system",
    }
}

/// The JSON body of `POST {base}/chat/completions`.
pub(crate) fn chat_body(model: &str, prompt: &Prompt) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    if !prompt.instructions.is_empty() {
        messages.push(json!({ "role": "system", "content": prompt.instructions }));
    }
    for item in prompt.model_visible_input() {
        push_chat_message(&mut messages, item);
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    if !prompt.tools.is_empty() {
        let tools: Vec<Value> = prompt
            .tools
            .iter()
            .map(|tool| {
                let mut function = json!({
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                });
                // Many compatible servers reject fields they do not know, so `strict` is sent
                // only when it asks for something.
                if tool.strict {
                    function["strict"] = json!(true);
                }
                json!({ "type": "function", "function": function })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        body.insert("tool_choice".into(), json!("auto"));
        body.insert(
            "parallel_tool_calls".into(),
            json!(prompt.parallel_tool_calls),
        );
    }
    if let Some(schema) = &prompt.output_schema {
        body.insert(
            "response_format".into(),
            json!({
                "type": "json_schema",
                "json_schema": { "name": OUTPUT_SCHEMA_NAME, "schema": schema, "strict": true },
            }),
        );
    }
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({ "include_usage": true }));
    Value::Object(body)
}

fn push_chat_message(messages: &mut Vec<Value>, item: &ResponseItem) {
    match item {
        ResponseItem::Message { role, content } => {
            // `developer` is OpenAI-only; `system` means the same to every compatible server.
            let role = match role {
                Role::Developer | Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            messages.push(json!({ "role": role, "content": chat_content(content) }));
        }
        ResponseItem::FunctionCall {
            call_id,
            name,
            arguments,
        } => {
            let call = json!({
                "id": call_id,
                "type": "function",
                "function": { "name": name, "arguments": arguments },
            });
            // The calls of one response belong to one assistant message, after its text.
            if let Some(last) = messages
                .last_mut()
                .filter(|last| last["role"] == "assistant")
            {
                match last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                    Some(calls) => calls.push(call),
                    None => last["tool_calls"] = json!([call]),
                }
            } else {
                messages
                    .push(json!({ "role": "assistant", "content": null, "tool_calls": [call] }));
            }
        }
        ResponseItem::FunctionCallOutput {
            call_id, output, ..
        } => {
            messages.push(json!({ "role": "tool", "tool_call_id": call_id, "content": output }));
        }
        ResponseItem::Reasoning { .. }
        | ResponseItem::GhostSnapshot { .. }
        | ResponseItem::Unknown => {}
    }
}

/// Plain text as a string, which every server reads; a list of parts only when there is an image.
fn chat_content(content: &[ContentItem]) -> Value {
    let has_image = content
        .iter()
        .any(|part| matches!(part, ContentItem::InputImage { .. }));
    if !has_image {
        let texts: Vec<&str> = content
            .iter()
            .filter_map(|part| match part {
                ContentItem::InputText { text } | ContentItem::OutputText { text } => {
                    Some(text.as_str())
                }
                ContentItem::InputImage { .. } => None,
            })
            .collect();
        return json!(texts.join("\n"));
    }
    let parts: Vec<Value> = content
        .iter()
        .map(|part| match part {
            ContentItem::InputText { text } | ContentItem::OutputText { text } => {
                json!({ "type": "text", "text": text })
            }
            ContentItem::InputImage { image_url } => {
                json!({ "type": "image_url", "image_url": { "url": image_url } })
            }
        })
        .collect();
    Value::Array(parts)
}
