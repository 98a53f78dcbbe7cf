//! The Responses API over a loopback server: request bodies and headers, and the events each
//! realistic stream decodes to.

mod support;

use serde_json::json;
use support::{
    ResponsesSse, SECRET_KEY, client, collect, events_json, full_prompt, last_error,
    received_bodies, simple_prompt, sse,
};
use turnkit_model::{ErrorKind, ResponseEvent, TokenUsage};
use turnkit_model_openai::WireApi;
use turnkit_protocol::ResponseItem;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer};

async fn serve(body: String) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/responses"))
        .respond_with(sse(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn text_turn_streams_deltas_then_the_message_then_usage() {
    let body = ResponsesSse::new()
        .created("resp_text")
        .comment("keep-alive")
        .message("msg_1", &["Hi", " there", "!"])
        .completed("resp_text", 36, 12, 5, 0)
        .build();
    let server = serve(body).await;

    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    insta::assert_json_snapshot!(events_json(&events));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request.headers["authorization"],
        format!("Bearer {SECRET_KEY}").as_str()
    );
    assert_eq!(request.headers["accept"], "text/event-stream");
    assert_eq!(request.headers["content-type"], "application/json");
    insta::assert_json_snapshot!(
        "text_turn_request",
        request.body_json::<serde_json::Value>().unwrap()
    );
}

#[tokio::test]
async fn tool_call_turn_sends_the_whole_history_and_tools() {
    let body = ResponsesSse::new()
        .created("resp_tool")
        .reasoning("rs_1", &["Need to ", "look at the tests."])
        .function_call(
            "fc_1",
            "call_tests",
            "shell",
            &["{\"command\":", "[\"cargo\",\"test\"]}"],
        )
        .completed("resp_tool", 812, 640, 57, 32)
        .build();
    let server = serve(body).await;

    let events = collect(&client(&server, WireApi::Responses), &full_prompt()).await;
    insta::assert_json_snapshot!(events_json(&events));
    assert!(events.iter().any(|event| matches!(
        event,
        Ok(ResponseEvent::OutputItemDone { item: ResponseItem::FunctionCall { call_id, arguments, .. } })
            if call_id == "call_tests" && arguments == r#"{"command":["cargo","test"]}"#
    )));

    // The ghost snapshot and the reasoning item are not sent; tools and parallel calls are.
    let bodies = received_bodies(&server).await;
    insta::assert_json_snapshot!("tool_call_turn_request", bodies[0]);
}

#[tokio::test]
async fn parallel_tool_calls_each_become_an_item_in_order() {
    let body = ResponsesSse::new()
        .created("resp_par")
        .message("msg_1", &["Running both."])
        .function_call("fc_1", "call_a", "shell", &["{\"command\":[\"ls\"]}"])
        .function_call("fc_2", "call_b", "shell", &["{\"command\":", "[\"pwd\"]}"])
        .function_call(
            "fc_3",
            "call_c",
            "apply_patch",
            &["{\"patch\":\"*** Begin Patch\\n\"}"],
        )
        .completed("resp_par", 100, 0, 40, 0)
        .build();
    let server = serve(body).await;

    let events = collect(&client(&server, WireApi::Responses), &full_prompt()).await;
    let calls: Vec<(String, String, String)> = events
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
        .collect();
    assert_eq!(
        calls,
        vec![
            (
                "call_a".into(),
                "shell".into(),
                r#"{"command":["ls"]}"#.into()
            ),
            (
                "call_b".into(),
                "shell".into(),
                r#"{"command":["pwd"]}"#.into()
            ),
            (
                "call_c".into(),
                "apply_patch".into(),
                r#"{"patch":"*** Begin Patch\n"}"#.into()
            ),
        ]
    );
    assert!(matches!(
        events.last(),
        Some(Ok(ResponseEvent::Completed { .. }))
    ));
}

#[tokio::test]
async fn usage_reports_cached_and_reasoning_tokens() {
    let body = ResponsesSse::new()
        .created("resp_usage")
        .message("msg_1", &["ok"])
        .completed("resp_usage", 2_000, 1_536, 300, 256)
        .build();
    let server = serve(body).await;

    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    let Some(Ok(ResponseEvent::Completed {
        response_id,
        usage,
        incomplete_reason,
    })) = events.last()
    else {
        panic!("the stream should complete: {events:?}");
    };
    assert_eq!(response_id.as_deref(), Some("resp_usage"));
    assert_eq!(incomplete_reason, &None);
    assert_eq!(
        *usage,
        Some(TokenUsage {
            input_tokens: 2_000,
            cached_input_tokens: 1_536,
            output_tokens: 300,
            reasoning_output_tokens: 256,
            total_tokens: 2_300,
        })
    );
}

#[tokio::test]
async fn an_incomplete_response_completes_with_its_reason() {
    let body = ResponsesSse::new()
        .created("resp_inc")
        .message("msg_1", &["Trunc"])
        .raw(&format!(
            "event: response.incomplete\ndata: {}\n\n",
            json!({
                "type": "response.incomplete", "sequence_number": 20,
                "response": { "id": "resp_inc", "status": "incomplete",
                              "incomplete_details": { "reason": "max_output_tokens" },
                              "usage": { "input_tokens": 5, "output_tokens": 1, "total_tokens": 6 } }
            })
        ))
        .build();
    let server = serve(body).await;
    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    let Some(Ok(ResponseEvent::Completed {
        incomplete_reason, ..
    })) = events.last()
    else {
        panic!("the stream should complete: {events:?}");
    };
    assert_eq!(incomplete_reason.as_deref(), Some("max_output_tokens"));
}

#[tokio::test]
async fn structured_output_sends_the_schema_as_text_format() {
    let body = ResponsesSse::new()
        .created("resp_schema")
        .message("msg_1", &["{\"ok\":true}"])
        .completed("resp_schema", 1, 0, 1, 0)
        .build();
    let server = serve(body).await;
    let mut prompt = simple_prompt();
    prompt.output_schema = Some(json!({
        "type": "object", "properties": { "ok": { "type": "boolean" } },
        "required": ["ok"], "additionalProperties": false
    }));
    collect(&client(&server, WireApi::Responses), &prompt).await;
    let bodies = received_bodies(&server).await;
    assert_eq!(
        bodies[0]["text"],
        json!({ "format": { "type": "json_schema", "name": "final_answer", "strict": true,
                            "schema": prompt.output_schema.unwrap() } })
    );
    assert!(
        bodies[0].get("tools").is_none(),
        "no tools, no tool fields: {}",
        bodies[0]
    );
}

#[tokio::test]
async fn extra_headers_and_no_key_for_a_local_server() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(header("x-team", "agents"))
        .respond_with(sse(ResponsesSse::new()
            .created("r")
            .message("m", &["hi"])
            .completed("r", 1, 0, 1, 0)
            .build()))
        .mount(&server)
        .await;
    let mut config = support::config(&format!("{}/v1/", server.uri()), WireApi::Responses)
        .with_header("X-Team", "agents");
    config.api_key = None;
    let client = turnkit_model_openai::OpenAiClient::new(config).unwrap();

    let events = collect(&client, &simple_prompt()).await;
    assert!(
        matches!(events.last(), Some(Ok(ResponseEvent::Completed { .. }))),
        "{events:?}"
    );
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_failed_response_with_context_length_exceeded_is_its_own_kind() {
    let body = ResponsesSse::new()
        .created("resp_ctx")
        .failed(
            "resp_ctx",
            "context_length_exceeded",
            "Your input exceeds the context window of this model. Please adjust your input and try again.",
        )
        .build();
    let server = serve(body).await;
    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    let error = last_error(&events);
    assert_eq!(error.kind(), ErrorKind::ContextWindowExceeded);
    assert!(
        error.to_string().contains("exceeds the context window"),
        "{error}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "never retried"
    );
}

#[tokio::test]
async fn an_error_event_in_the_stream_is_reported_with_its_message() {
    let body = ResponsesSse::new()
        .created("resp_err")
        .message("msg_1", &["partial"])
        .raw(&format!(
            "event: error\ndata: {}\n\n",
            json!({ "type": "error", "sequence_number": 9, "code": "server_error",
                    "message": "The server had an error while processing your request.", "param": null })
        ))
        .build();
    let server = serve(body).await;
    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    let error = last_error(&events);
    assert!(error.is_retryable(), "a server error may pass: {error}");
    assert!(
        error.to_string().contains("had an error while processing"),
        "{error}"
    );
    // Output had been yielded, so the client leaves the retry to its caller.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
