//! One turn with a tool call end to end through turnkit-model-openai, against a loopback
//! server speaking the Responses API, and one speaking Chat Completions.

mod support;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Log, Probe, assert_history_valid, kinds, say};
use turnkit_model_openai::{ModelClient, OpenAiClient, OpenAiConfig, RetryPolicy, WireApi};
use turnkit_protocol::{EventMsg, ResponseItem};
use turnkit_testkit::TestSession;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A Responses API stream: named events.
fn sse(events: &[(&str, Value)]) -> ResponseTemplate {
    let mut body = String::new();
    for (name, data) in events {
        write!(body, "event: {name}\ndata: {data}\n\n").expect("writing to a String");
    }
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

/// A Chat Completions stream: unnamed chunks, then `data: [DONE]`.
fn chat_sse(chunks: &[Value]) -> ResponseTemplate {
    let mut body = String::new();
    for chunk in chunks {
        write!(body, "data: {chunk}\n\n").expect("writing to a String");
    }
    body.push_str("data: [DONE]\n\n");
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

/// Answers the first request with `first` and every later one with `then`.
async fn serve(route: &str, first: ResponseTemplate, then: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(then)
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

fn client(server: &MockServer, wire_api: WireApi) -> Arc<dyn ModelClient> {
    let config = OpenAiConfig::new("gpt-4.1")
        .with_base_url(server.uri())
        .with_api_key("sk-test-loopback")
        .with_wire_api(wire_api)
        .with_retry(RetryPolicy {
            max_retries: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        });
    Arc::new(OpenAiClient::new(config).expect("the test config is valid"))
}

async fn run_turn(
    server: &MockServer,
    wire_api: WireApi,
) -> (Vec<String>, Vec<ResponseItem>, Vec<Value>) {
    let log = Log::default();
    let mut session = TestSession::builder()
        .task(turnkit_tasks_regular::registration())
        .service(client(server, wire_api))
        .configure(|builder| builder.tool(Probe::new("probe", true, &log)))
        .build();
    let events = session.run(say("probe it")).await;
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("Probed.".into())
        }),
        "{events:#?}"
    );
    assert_eq!(
        *log.lock().expect("never poisoned"),
        ["start call_1", "end call_1"]
    );
    let history = session.history();
    assert_history_valid(&history);
    let bodies = server
        .received_requests()
        .await
        .expect("requests are recorded")
        .iter()
        .map(|request| request.body_json::<Value>().expect("requests are JSON"))
        .collect();
    (kinds(&events), history, bodies)
}

#[tokio::test]
async fn a_turn_with_a_tool_call_over_the_responses_api() {
    let call = json!({ "type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "probe", "arguments": "{\"ms\":1}", "status": "completed" });
    let usage = json!({ "input_tokens": 50, "output_tokens": 7, "total_tokens": 57,
        "input_tokens_details": { "cached_tokens": 0 }, "output_tokens_details": { "reasoning_tokens": 0 } });
    let first = sse(&[
        (
            "response.created",
            json!({ "type": "response.created", "response": { "id": "resp_1", "status": "in_progress" } }),
        ),
        (
            "response.output_item.done",
            json!({ "type": "response.output_item.done", "output_index": 0, "item": call }),
        ),
        (
            "response.completed",
            json!({ "type": "response.completed", "response": { "id": "resp_1", "status": "completed", "usage": usage } }),
        ),
    ]);
    let message = json!({ "type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
        "content": [{ "type": "output_text", "text": "Probed.", "annotations": [] }] });
    let then = sse(&[
        (
            "response.created",
            json!({ "type": "response.created", "response": { "id": "resp_2", "status": "in_progress" } }),
        ),
        (
            "response.output_text.delta",
            json!({ "type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Probed." }),
        ),
        (
            "response.output_item.done",
            json!({ "type": "response.output_item.done", "output_index": 0, "item": message }),
        ),
        (
            "response.completed",
            json!({ "type": "response.completed", "response": { "id": "resp_2", "status": "completed", "usage": usage } }),
        ),
    ]);
    let server = serve("/responses", first, then).await;

    let (kinds, _history, bodies) = run_turn(&server, WireApi::Responses).await;
    assert_eq!(
        kinds,
        [
            "task_started",
            "token_count",
            "agent_message_delta",
            "agent_message",
            "token_count",
            "task_complete"
        ]
    );
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["tools"][0]["name"], "probe");
    let input = bodies[1]["input"].as_array().expect("an input list");
    let output = input
        .iter()
        .find(|item| item["type"] == "function_call_output")
        .expect("the call's output is sent back");
    assert_eq!(output["call_id"], "call_1");
    assert_eq!(output["output"], "probe did {\"ms\":1}");
}

#[tokio::test]
async fn a_turn_with_a_tool_call_over_chat_completions() {
    let chunk = |delta: Value, finish: Value| {
        json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
    };
    let first = chat_sse(&[
        chunk(
            json!({ "role": "assistant", "tool_calls": [{ "index": 0, "id": "call_1", "type": "function", "function": { "name": "probe", "arguments": "" } }] }),
            Value::Null,
        ),
        chunk(
            json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "{\"ms\":1}" } }] }),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
    ]);
    let then = chat_sse(&[
        chunk(
            json!({ "role": "assistant", "content": "Probed." }),
            Value::Null,
        ),
        chunk(json!({}), json!("stop")),
    ]);
    let server = serve("/chat/completions", first, then).await;

    let (kinds, _history, bodies) = run_turn(&server, WireApi::ChatCompletions).await;
    assert_eq!(
        kinds,
        [
            "task_started",
            "agent_message_delta",
            "agent_message",
            "task_complete"
        ]
    );
    assert_eq!(bodies.len(), 2);
    let messages = bodies[1]["messages"].as_array().expect("a message list");
    let tool_message = messages
        .iter()
        .find(|message| message["role"] == "tool")
        .expect("the call's output is sent back");
    assert_eq!(tool_message["tool_call_id"], "call_1");
    assert_eq!(tool_message["content"], "probe did {\"ms\":1}");
}
