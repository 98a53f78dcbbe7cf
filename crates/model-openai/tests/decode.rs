//! `decode_sse` on its own: the same events however the body is split into chunks, line-ending
//! variants, and streams that end early.

mod support;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use support::{ChatSse, ResponsesSse};
use turnkit_model::{ModelError, ResponseEvent};
use turnkit_model_openai::{WireApi, decode_sse};

async fn decode_chunks(
    wire_api: WireApi,
    chunks: Vec<Vec<u8>>,
) -> Vec<Result<ResponseEvent, ModelError>> {
    let chunks = chunks.into_iter().map(|chunk| Ok(Bytes::from(chunk)));
    decode_sse(wire_api, stream::iter(chunks)).collect().await
}

fn summary(events: &[Result<ResponseEvent, ModelError>]) -> Vec<String> {
    events
        .iter()
        .map(|event| match event {
            Ok(event) => serde_json::to_string(event).expect("events serialise"),
            Err(error) => format!("error: {error}"),
        })
        .collect()
}

fn responses_body() -> String {
    ResponsesSse::new()
        .created("resp_split")
        .message("msg_1", &["Grüße", " 👋", " done"])
        .function_call("fc_1", "call_1", "shell", &["{\"command\":", "[\"ls\"]}"])
        .completed("resp_split", 10, 0, 5, 0)
        .build()
}

fn chat_body() -> String {
    ChatSse::new("chatcmpl-split")
        .content("Grüße 👋")
        .call_start(0, "call_1", "shell")
        .call_arguments(0, "{\"command\":")
        .call_arguments(0, "[\"ls\"]}")
        .finish("tool_calls")
        .usage(10, 0, 5, 0)
        .done()
        .build()
}

#[tokio::test]
async fn any_chunking_gives_the_same_events() {
    for (wire_api, body) in [
        (WireApi::Responses, responses_body()),
        (WireApi::ChatCompletions, chat_body()),
    ] {
        let bytes = body.into_bytes();
        let whole = summary(&decode_chunks(wire_api, vec![bytes.clone()]).await);
        assert!(whole.last().unwrap().contains("\"completed\""), "{whole:?}");

        let single_bytes =
            summary(&decode_chunks(wire_api, bytes.iter().map(|byte| vec![*byte]).collect()).await);
        assert_eq!(single_bytes, whole, "{wire_api:?} split into single bytes");

        // Every split point, including inside multi-byte characters and `\n\n` boundaries.
        for split in (1..bytes.len()).step_by(7) {
            let halves = vec![bytes[..split].to_vec(), bytes[split..].to_vec()];
            assert_eq!(
                summary(&decode_chunks(wire_api, halves).await),
                whole,
                "{wire_api:?} split at {split}"
            );
        }
    }
}

#[tokio::test]
async fn crlf_line_endings_decode_like_lf() {
    let body = chat_body();
    let lf =
        summary(&decode_chunks(WireApi::ChatCompletions, vec![body.clone().into_bytes()]).await);
    let crlf = summary(
        &decode_chunks(
            WireApi::ChatCompletions,
            vec![body.replace('\n', "\r\n").into_bytes()],
        )
        .await,
    );
    assert_eq!(crlf, lf);
}

#[tokio::test]
async fn unknown_events_and_comments_are_ignored() {
    let body = format!(
        ": OPENROUTER PROCESSING\n\nevent: response.future_feature\ndata: {{\"type\":\"response.future_feature\",\"x\":1}}\n\nretry: 1000\n\n{}",
        responses_body()
    );
    let with_noise = summary(&decode_chunks(WireApi::Responses, vec![body.into_bytes()]).await);
    let plain =
        summary(&decode_chunks(WireApi::Responses, vec![responses_body().into_bytes()]).await);
    assert_eq!(with_noise, plain);
}

#[tokio::test]
async fn nothing_after_the_final_event_is_read() {
    let body = format!("{}data: not json at all\n\n", responses_body());
    let events = decode_chunks(WireApi::Responses, vec![body.into_bytes()]).await;
    assert!(
        matches!(events.last(), Some(Ok(ResponseEvent::Completed { .. }))),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_empty_body_ended_early() {
    for wire_api in [WireApi::Responses, WireApi::ChatCompletions] {
        let events = decode_chunks(wire_api, vec![]).await;
        assert_eq!(events.len(), 1);
        assert!(
            matches!(events[0], Err(ModelError::StreamEndedEarly)),
            "{events:?}"
        );
    }
}

#[tokio::test]
async fn a_transport_error_is_passed_through() {
    let chunks = vec![
        Ok(Bytes::from(ResponsesSse::new().created("r").build())),
        Err(ModelError::IdleTimeout {
            after: std::time::Duration::from_secs(3),
        }),
    ];
    let events: Vec<_> = decode_sse(WireApi::Responses, stream::iter(chunks))
        .collect()
        .await;
    assert_eq!(events.len(), 2);
    assert!(
        matches!(events[1], Err(ModelError::IdleTimeout { .. })),
        "{events:?}"
    );
}

#[tokio::test]
async fn responses_events_without_event_lines_decode_from_their_type_field() {
    let body = responses_body();
    let without: String = body
        .split_inclusive('\n')
        .filter(|line| !line.starts_with("event:"))
        .collect();
    assert_ne!(without, body);
    let plain = summary(&decode_chunks(WireApi::Responses, vec![body.into_bytes()]).await);
    let bare = summary(&decode_chunks(WireApi::Responses, vec![without.into_bytes()]).await);
    assert_eq!(bare, plain);
}
