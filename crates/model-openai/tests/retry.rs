//! Failures over a loopback server: what is retried (and announced), what is not, and what the
//! caller is told, with the API key kept out of every message.

mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{
    ChatSse, ResponsesSse, SECRET_KEY, api_error, client, collect, events_json, last_error,
    simple_prompt, sse,
};
use turnkit_model::{ErrorKind, ModelError, ResponseEvent};
use turnkit_model_openai::{OpenAiClient, RetryPolicy, WireApi};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn good_responses_body() -> String {
    ResponsesSse::new()
        .created("resp_ok")
        .message("msg_1", &["Hello"])
        .completed("resp_ok", 10, 0, 2, 0)
        .build()
}

fn retrying_events(events: &[Result<ResponseEvent, ModelError>]) -> Vec<(u32, u32, u64)> {
    events
        .iter()
        .filter_map(|event| match event {
            Ok(ResponseEvent::Retrying {
                attempt,
                max_attempts,
                delay_ms,
                ..
            }) => Some((*attempt, *max_attempts, *delay_ms)),
            _ => None,
        })
        .collect()
}

async fn request_count(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .len()
}

#[tokio::test]
async fn rate_limited_with_retry_after_waits_that_long_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/responses"))
        .respond_with(
            api_error(
                429,
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for gpt-4.1.",
            )
            .insert_header("retry-after", "1"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/responses"))
        .respond_with(sse(good_responses_body()))
        .mount(&server)
        .await;

    let started = Instant::now();
    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    let elapsed = started.elapsed();

    assert_eq!(retrying_events(&events), vec![(1, 3, 1_000)]);
    let Ok(ResponseEvent::Retrying { message, .. }) = &events[0] else {
        panic!("{events:?}")
    };
    assert!(message.contains("Rate limit reached"), "{message}");
    assert!(
        elapsed >= Duration::from_millis(950),
        "Retry-After was not honoured: {elapsed:?}"
    );
    assert!(matches!(
        events.last(),
        Some(Ok(ResponseEvent::Completed { .. }))
    ));
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn server_errors_twice_then_success_is_retried_and_announced() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(api_error(
            500,
            "server_error",
            None,
            "The server had an error while processing your request.",
        ))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(sse(good_responses_body()))
        .mount(&server)
        .await;

    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    insta::assert_json_snapshot!(events_json(&events), {
        "[].delay_ms" => "[delay]",
    });
    let retries = retrying_events(&events);
    assert_eq!(
        retries.iter().map(|retry| retry.0).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(
        retries.iter().all(|retry| retry.2 <= 6),
        "short test backoffs: {retries:?}"
    );
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn server_errors_beyond_the_retry_budget_end_with_a_retryable_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream connect error"))
        .mount(&server)
        .await;

    let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
    assert_eq!(retrying_events(&events).len(), 3);
    let error = last_error(&events);
    assert!(
        matches!(error, ModelError::Server { status: 503, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(
        error.to_string().contains("upstream connect error"),
        "{error}"
    );
    assert_eq!(request_count(&server).await, 4);
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_never_shows_the_key() {
    let server = MockServer::start().await;
    // A careless server that echoes the key back.
    let message = format!(
        "Incorrect API key provided: {SECRET_KEY}. You can find your API key at the dashboard."
    );
    Mock::given(method("POST"))
        .respond_with(api_error(
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            &message,
        ))
        .mount(&server)
        .await;

    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    assert_eq!(events.len(), 1, "no retry: {events:?}");
    let error = last_error(&events);
    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    let shown = error.to_string();
    assert!(shown.contains("Incorrect API key provided"), "{shown}");
    assert!(shown.contains("check the API key"), "{shown}");
    assert!(!shown.contains(SECRET_KEY), "the key leaked: {shown}");
    assert!(
        !format!("{error:?}").contains(SECRET_KEY),
        "the key leaked into Debug"
    );
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_the_server_message() {
    for (status, expected) in [
        (400, ErrorKind::BadRequest),
        (403, ErrorKind::Unauthorized),
        (404, ErrorKind::BadRequest),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(api_error(
                status,
                "invalid_request_error",
                None,
                "The model `gpt-nope` does not exist.",
            ))
            .mount(&server)
            .await;
        let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
        let error = last_error(&events);
        assert_eq!(error.kind(), expected, "http {status}");
        assert!(
            error.to_string().contains("`gpt-nope` does not exist"),
            "{error}"
        );
        assert!(
            error.to_string().contains(&format!("http {status}")),
            "{error}"
        );
        assert_eq!(request_count(&server).await, 1, "http {status} was retried");
    }
}

#[tokio::test]
async fn ollama_style_plain_error_bodies_keep_their_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                json!({ "error": "model \"qwen9\" not found, try pulling it first" }),
            ),
        )
        .mount(&server)
        .await;
    let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
    assert!(
        last_error(&events)
            .to_string()
            .contains("try pulling it first")
    );
}

#[tokio::test]
async fn context_window_exceeded_is_recognised_on_both_apis() {
    for wire_api in [WireApi::Responses, WireApi::ChatCompletions] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(api_error(
                400,
                "invalid_request_error",
                Some("context_length_exceeded"),
                "Your input exceeds the context window of this model.",
            ))
            .mount(&server)
            .await;
        let events = collect(&client(&server, wire_api), &simple_prompt()).await;
        assert_eq!(
            last_error(&events).kind(),
            ErrorKind::ContextWindowExceeded,
            "{wire_api:?}"
        );
        assert_eq!(request_count(&server).await, 1);
    }

    // vLLM and llama.cpp say it without OpenAI's code.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "object": "error", "type": "BadRequestError", "code": 400,
            "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens."
        })))
        .mount(&server)
        .await;
    let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
    assert_eq!(last_error(&events).kind(), ErrorKind::ContextWindowExceeded);
}

#[tokio::test]
async fn insufficient_quota_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(api_error(
            429,
            "insufficient_quota",
            Some("insufficient_quota"),
            "You exceeded your current quota.",
        ))
        .mount(&server)
        .await;
    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    let error = last_error(&events);
    assert!(
        matches!(error, ModelError::QuotaExceeded { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn a_malformed_event_after_output_fails_the_stream_without_retry() {
    let body = ResponsesSse::new()
        .created("resp_bad")
        .delta("msg_1", 0, "Hel")
        .raw("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"lo\n\n")
        .completed("resp_bad", 1, 0, 1, 0)
        .build();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(body))
        .mount(&server)
        .await;

    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    assert_eq!(events.len(), 3, "{events:?}");
    let error = last_error(&events);
    assert!(
        matches!(error, ModelError::InvalidResponse { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("not valid JSON"), "{error}");
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn a_malformed_chunk_before_any_output_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(
            "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\n\n".into(),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(sse(ChatSse::new("chatcmpl-2")
            .content("ok")
            .finish("stop")
            .done()
            .build()))
        .mount(&server)
        .await;
    let events = collect(&client(&server, WireApi::ChatCompletions), &simple_prompt()).await;
    assert_eq!(retrying_events(&events).len(), 1, "{events:?}");
    assert!(matches!(
        events.last(),
        Some(Ok(ResponseEvent::Completed { .. }))
    ));
}

#[tokio::test]
async fn a_stream_cut_after_output_is_a_retryable_error_for_the_caller() {
    for (wire_api, body) in [
        (
            WireApi::Responses,
            ResponsesSse::new()
                .created("resp_cut")
                .delta("msg_1", 0, "Hel")
                .build(),
        ),
        (
            WireApi::ChatCompletions,
            ChatSse::new("chatcmpl-cut").content("Hel").build(),
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(sse(body))
            .mount(&server)
            .await;
        let events = collect(&client(&server, wire_api), &simple_prompt()).await;
        let error = last_error(&events);
        assert!(
            matches!(error, ModelError::StreamEndedEarly),
            "{wire_api:?}: {error:?}"
        );
        assert!(error.is_retryable());
        assert!(
            events
                .iter()
                .any(|event| matches!(event, Ok(ResponseEvent::OutputTextDelta { .. })))
        );
        assert_eq!(
            request_count(&server).await,
            1,
            "{wire_api:?}: output was yielded, so no retry"
        );
    }
}

#[tokio::test]
async fn a_stream_cut_before_any_output_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(ResponsesSse::new().created("resp_cut").build()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(sse(good_responses_body()))
        .mount(&server)
        .await;

    let events = collect(&client(&server, WireApi::Responses), &simple_prompt()).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| match event {
            Ok(ResponseEvent::Created { .. }) => "created",
            Ok(ResponseEvent::Retrying { .. }) => "retrying",
            Ok(ResponseEvent::OutputTextDelta { .. }) => "delta",
            Ok(ResponseEvent::OutputItemDone { .. }) => "item",
            Ok(ResponseEvent::Completed { .. }) => "completed",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "retrying",
            "created",
            "delta",
            "item",
            "completed"
        ]
    );
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_reported_without_the_key() {
    // Bind then drop a listener: the port is free and nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = support::config(&format!("http://127.0.0.1:{port}/v1"), WireApi::Responses)
        .with_retry(RetryPolicy {
            max_retries: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        });
    let client = OpenAiClient::new(config).unwrap();
    let events = collect(&client, &simple_prompt()).await;
    assert_eq!(retrying_events(&events).len(), 1);
    let error = last_error(&events);
    assert!(matches!(error, ModelError::Connection { .. }), "{error:?}");
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        write!(chain, ": {cause}").unwrap();
        source = cause.source();
    }
    assert!(chain.contains("could not be sent"), "{chain}");
    assert!(!chain.contains(SECRET_KEY) && !format!("{error:?}").contains(SECRET_KEY));
}
