//! Chat Completions over a loopback server: request bodies, and how streamed chunks, tool-call
//! fragments and usage become events.

mod support;

use serde_json::json;
use support::{
    ChatSse, client, collect, events_json, full_prompt, last_error, received_bodies, simple_prompt,
    sse,
};
use turnkit_model::{ErrorKind, ResponseEvent, TokenUsage};
use turnkit_model_openai::WireApi;
use turnkit_protocol::ResponseItem;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

async fn serve(body: String) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(sse(body))
        .mount(&server)
        .await;
    server
}

fn calls(
    events: &[Result<ResponseEvent, turnkit_model::ModelError>],
) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter_map(|event| match event {
            Ok(ResponseEvent::OutputItemDone {
                item:
                    ResponseItem::FunctionCall {
                        call_id,
                        name,
                        arguments,
                    },
            }) => Some((call_id.clone(), name.clone(), arguments.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn text_turn_streams_deltas_then_the_message_then_usage() {
    let body = ChatSse::new("chatcmpl-text")
        .content("Hi")
        .content(" there")
        .content("!")
        .finish("stop")
        .usage(19, 0, 3, 0)
        .done()
        .build();
    let server = serve(body).await;

    let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
    insta::assert_json_snapshot!(events_json(&events));
    insta::assert_json_snapshot!("chat_text_turn_request", received_bodies(&server).await[0]);
}

#[tokio::test]
async fn tool_call_turn_sends_history_as_messages_and_tools_as_functions() {
    let body = ChatSse::new("chatcmpl-tool")
        .call_start(0, "call_tests", "shell")
        .call_arguments(0, "{\"comm")
        .call_arguments(0, "and\": [\"cargo\", ")
        .call_arguments(0, "\"test\"]}")
        .finish("tool_calls")
        .usage(812, 640, 57, 0)
        .done()
        .build();
    let server = serve(body).await;

    let events = collect(&client(&server, WireApi::ChatCompletions), &full_prompt()).await;
    insta::assert_json_snapshot!(events_json(&events));
    // Both earlier calls ride on the assistant message; the developer message becomes `system`.
    insta::assert_json_snapshot!(
        "chat_tool_call_turn_request",
        received_bodies(&server).await[0]
    );
}

#[tokio::test]
async fn interleaved_tool_call_fragments_are_assembled_by_index() {
    let body = ChatSse::new("chatcmpl-par")
        .content("Running both.")
        .call_start(0, "call_a", "shell")
        .call_start(1, "call_b", "apply_patch")
        .call_arguments(1, "{\"patch\":")
        .call_arguments(0, "{\"command\":")
        .call_arguments(0, "[\"ls\"]}")
        .call_arguments(1, "\"*** Begin Patch\\n\"}")
        .call_start(2, "call_c", "shell")
        .finish("tool_calls")
        .usage(10, 0, 20, 0)
        .done()
        .build();
    let server = serve(body).await;

    let events = collect(&client(&server, WireApi::ChatCompletions), &full_prompt()).await;
    assert_eq!(
        calls(&events),
        vec![
            (
                "call_a".into(),
                "shell".into(),
                r#"{"command":["ls"]}"#.into()
            ),
            (
                "call_b".into(),
                "apply_patch".into(),
                r#"{"patch":"*** Begin Patch\n"}"#.into()
            ),
            // A call with no arguments at all gets an empty object, which every tool can parse.
            ("call_c".into(), "shell".into(), "{}".into()),
        ]
    );
    let items: Vec<_> = events
        .iter()
        .filter(|event| matches!(event, Ok(ResponseEvent::OutputItemDone { .. })))
        .collect();
    assert!(
        matches!(
            items[0],
            Ok(ResponseEvent::OutputItemDone {
                item: ResponseItem::Message { .. }
            })
        ),
        "the message comes before the calls: {items:?}"
    );
}

#[tokio::test]
async fn several_calls_in_one_chunk_and_fragments_without_index() {
    // Some servers (older Ollama, some gateways) send whole calls, or omit `index`.
    let body = ChatSse::new("chatcmpl-noindex")
        .chunk(&json!({ "tool_calls": [
                { "index": 0, "id": "call_x", "type": "function",
                  "function": { "name": "shell", "arguments": "{\"command\":[\"ls\"]}" } },
                { "index": 1, "id": "call_y", "type": "function",
                  "function": { "name": "shell", "arguments": "{\"command\":[\"pwd\"]}" } }
            ] }),
            None,
        )
        .chunk(&json!({ "tool_calls": [{ "id": "call_z", "function": { "name": "read", "arguments": "{\"pa" } }] }), None)
        .chunk(&json!({ "tool_calls": [{ "function": { "arguments": "th\":\"a\"}" } }] }), None)
        .finish("tool_calls")
        .done()
        .build();
    let server = serve(body).await;
    let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
    assert_eq!(
        calls(&events),
        vec![
            (
                "call_x".into(),
                "shell".into(),
                r#"{"command":["ls"]}"#.into()
            ),
            (
                "call_y".into(),
                "shell".into(),
                r#"{"command":["pwd"]}"#.into()
            ),
            ("call_z".into(), "read".into(), r#"{"path":"a"}"#.into()),
        ]
    );
}

#[tokio::test]
async fn reasoning_content_streams_as_reasoning_and_becomes_an_item() {
    let body = ChatSse::new("chatcmpl-think")
        .chunk(&json!({ "reasoning_content": "The user " }), None)
        .chunk(&json!({ "reasoning": "wants hi." }), None)
        .content("Hi!")
        .finish("stop")
        .usage(5, 0, 9, 6)
        .done()
        .build();
    let server = serve(body).await;
    let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
    let reasoning: String = events
        .iter()
        .filter_map(|event| match event {
            Ok(ResponseEvent::ReasoningDelta { delta }) => Some(delta.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasoning, "The user wants hi.");
    assert!(events.iter().any(|event| matches!(
        event,
        Ok(ResponseEvent::OutputItemDone { item: ResponseItem::Reasoning { content: Some(content), .. } })
            if content == "The user wants hi."
    )));
    let Some(Ok(ResponseEvent::Completed { usage, .. })) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(
        *usage,
        Some(TokenUsage {
            input_tokens: 5,
            cached_input_tokens: 0,
            output_tokens: 9,
            reasoning_output_tokens: 6,
            total_tokens: 14
        })
    );
}

#[tokio::test]
async fn a_stream_closed_after_finish_reason_without_done_completes() {
    let body = ChatSse::new("chatcmpl-nodone")
        .content("ok")
        .finish("length")
        .build();
    let server = serve(body).await;
    let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
    let Some(Ok(ResponseEvent::Completed {
        usage,
        incomplete_reason,
        ..
    })) = events.last()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*usage, None);
    assert_eq!(incomplete_reason.as_deref(), Some("max_output_tokens"));
}

#[tokio::test]
async fn an_error_chunk_with_context_length_exceeded_is_its_own_kind() {
    let body = ChatSse::new("chatcmpl-err")
        .raw(&format!(
            "data: {}\n\n",
            json!({ "error": { "message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
                               "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded" } })
        ))
        .build();
    let server = serve(body).await;
    let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
    let error = last_error(&events);
    assert_eq!(error.kind(), ErrorKind::ContextWindowExceeded);
    assert!(
        error.to_string().contains("maximum context length is 8192"),
        "{error}"
    );
}

#[tokio::test]
async fn structured_output_sends_a_json_schema_response_format() {
    let body = ChatSse::new("chatcmpl-schema")
        .content("{}")
        .finish("stop")
        .done()
        .build();
    let server = serve(body).await;
    let mut prompt = simple_prompt();
    prompt.output_schema = Some(json!({ "type": "object" }));
    collect(&client(&server, WireApi::ChatCompletions), &prompt).await;
    let bodies = received_bodies(&server).await;
    assert_eq!(
        bodies[0]["response_format"],
        json!({ "type": "json_schema",
                "json_schema": { "name": "final_answer", "schema": { "type": "object" }, "strict": true } })
    );
    assert!(
        bodies[0].get("parallel_tool_calls").is_none(),
        "only sent with tools: {}",
        bodies[0]
    );
}
