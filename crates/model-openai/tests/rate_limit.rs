//! A rate limit is one condition however the server reports it: HTTP 429 or an error event
//! inside the stream both become `RateLimited` with the delay the server asked for.
//!
//! Every type here comes from `turnkit_model_openai` alone, as a client written from the docs
//! would import them.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{ResponsesSse, api_error, client, collect, config, last_error, sse};
use turnkit_model_openai::{
    CancellationToken, ErrorKind, ModelClient, ModelError, OpenAiClient, Prompt, ResponseEvent,
    ResponseItem, RetryPolicy, StreamExt, WireApi,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const OPENAI_WORDING: &str = "Rate limit reached for gpt-4.1 in organization org-x on tokens per min (TPM): Limit 30000, Used 29800, Requested 900. Please try again in 0.042s. Visit https://platform.openai.com/account/rate-limits to learn more.";

fn no_retries(server: &MockServer, wire_api: WireApi) -> OpenAiClient {
    OpenAiClient::new(config(&server.uri(), wire_api).with_retry(RetryPolicy {
        max_retries: 0,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
    }))
    .expect("the test config is valid")
}

fn prompt() -> Prompt {
    Prompt::new("be brief", vec![ResponseItem::user_text("hi")])
}

fn in_stream_rate_limit() -> String {
    ResponsesSse::new()
        .created("resp_1")
        .failed("resp_1", "rate_limit_exceeded", OPENAI_WORDING)
        .build()
}

fn chat_in_stream_rate_limit() -> String {
    let chunk = json!({
        "error": { "message": "Please try again in 35ms.", "type": "rate_limit_error", "code": null }
    });
    format!("data: {chunk}\n\n")
}

fn assert_rate_limited(error: &ModelError, millis: u64) {
    let ModelError::RateLimited {
        retry_after,
        message,
    } = error
    else {
        panic!("expected RateLimited, got {error:?}");
    };
    assert_eq!(
        *retry_after,
        Some(Duration::from_millis(millis)),
        "{message}"
    );
    assert_eq!(error.kind(), ErrorKind::Retryable);
    assert_eq!(error.retry_after(), Some(Duration::from_millis(millis)));
}

#[tokio::test]
async fn in_stream_rate_limit_is_the_same_variant_as_http_429_with_the_delay_parsed() {
    let streamed = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(in_stream_rate_limit()))
        .mount(&streamed)
        .await;
    let http = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(api_error(
            429,
            "tokens",
            Some("rate_limit_exceeded"),
            OPENAI_WORDING,
        ))
        .mount(&http)
        .await;

    let from_stream = collect(&no_retries(&streamed, WireApi::Responses), &prompt()).await;
    let from_status = collect(&no_retries(&http, WireApi::Responses), &prompt()).await;

    assert_rate_limited(last_error(&from_stream), 42);
    assert_rate_limited(last_error(&from_status), 42);
    assert_eq!(
        last_error(&from_stream).to_string(),
        last_error(&from_status).to_string()
    );
}

#[tokio::test]
async fn chat_completions_in_stream_rate_limit_is_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(chat_in_stream_rate_limit()))
        .mount(&server)
        .await;

    let events = collect(&no_retries(&server, WireApi::ChatCompletions), &prompt()).await;

    assert_rate_limited(last_error(&events), 35);
}

#[tokio::test]
async fn in_stream_rate_limit_is_retried_after_the_delay_it_names() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(in_stream_rate_limit()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(sse(ResponsesSse::new()
            .created("resp_2")
            .message("msg_1", &["Hello"])
            .completed("resp_2", 10, 0, 2, 0)
            .build()))
        .mount(&server)
        .await;

    let model = client(&server, WireApi::Responses);
    let mut stream = model.stream(&prompt(), CancellationToken::new());
    let mut retries = Vec::new();
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event.expect("the retry succeeds") {
            ResponseEvent::Retrying { delay_ms, .. } => retries.push(delay_ms),
            ResponseEvent::OutputTextDelta { delta } => text.push_str(&delta),
            _ => {}
        }
    }

    assert_eq!(retries, vec![42]);
    assert_eq!(text, "Hello");
}

#[tokio::test]
async fn http_429_without_retry_after_takes_the_delay_from_its_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "error": { "message": "Slow down; try again in 1m2s", "type": "requests" }
        })))
        .mount(&server)
        .await;

    let events = collect(&no_retries(&server, WireApi::Responses), &prompt()).await;

    assert_rate_limited(last_error(&events), 62_000);
}
