//! `ScriptedModel`: what it plays, what it records, its gates, cancellation and JSON loading.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use turnkit_model::{
    Error, ErrorKind, ModelClient, ModelInfo, Prompt, ResponseEvent, ScriptedModel, ScriptedTurn,
    TokenUsage, ToolSpec,
};
use turnkit_protocol::ResponseItem;

fn prompt(text: &str) -> Prompt {
    Prompt::new("you are a test", vec![ResponseItem::user_text(text)])
}

/// An item a model must never see.
fn ghost_snapshot() -> ResponseItem {
    ResponseItem::GhostSnapshot {
        commit: "abc".into(),
        phase: "before".into(),
        turn_id: "t1".into(),
        snapshot: serde_json::Value::Null,
    }
}

async fn collect(model: &dyn ModelClient, prompt: &Prompt) -> Vec<Result<ResponseEvent, Error>> {
    model
        .stream(prompt, CancellationToken::new())
        .collect()
        .await
}

fn ok_events(events: Vec<Result<ResponseEvent, Error>>) -> Vec<ResponseEvent> {
    events
        .into_iter()
        .map(|event| event.expect("scripted step should succeed"))
        .collect()
}

#[tokio::test]
async fn plays_turns_in_order_with_created_and_completed_added() {
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .reasoning("thinking")
            .message_in_deltas(["Hel", "lo"])
            .function_call("call_1", "shell", json!({ "command": ["ls"] }))
            .function_call("call_2", "shell", json!("{\"command\":[\"pwd\"]}"))
            .completed(Some(TokenUsage::new(10, 5))),
        ScriptedTurn::new().message("second"),
    ]);

    let first = ok_events(collect(&model, &prompt("one")).await);
    insta::assert_json_snapshot!("plays_turns_in_order_first", first);

    let second = ok_events(collect(&model, &prompt("two")).await);
    assert_eq!(
        second,
        vec![
            ResponseEvent::Created {
                response_id: Some("scripted-2".into())
            },
            ResponseEvent::OutputTextDelta {
                delta: "second".into()
            },
            ResponseEvent::OutputItemDone {
                item: ResponseItem::assistant_text("second")
            },
            ResponseEvent::Completed {
                response_id: Some("scripted-2".into()),
                usage: None,
                incomplete_reason: None,
            },
        ]
    );
    assert_eq!(model.remaining_turns(), 0);
}

#[tokio::test]
async fn records_every_prompt_without_model_invisible_items() {
    let model = ScriptedModel::new([ScriptedTurn::new(), ScriptedTurn::new()]);
    let mut first = prompt("look at the repo");
    first.input.push(ghost_snapshot());
    first.tools = vec![ToolSpec::function(
        "shell",
        "run a command",
        json!({ "type": "object" }),
    )]
    .into();
    first.parallel_tool_calls = true;
    let second = prompt("and now?");

    collect(&model, &first).await;
    collect(&model, &second).await;

    let prompts = model.prompts();
    assert_eq!(prompts.len(), 2);
    assert_eq!(model.request_count(), 2);
    assert_eq!(
        prompts[0].input,
        vec![ResponseItem::user_text("look at the repo")]
    );
    assert_eq!(prompts[0].tools, first.tools);
    assert!(prompts[0].parallel_tool_calls);
    assert_eq!(model.last_prompt(), Some(second));
}

#[tokio::test]
async fn a_shared_prompt_is_recorded_without_a_copy_and_read_back_as_the_model_saw_it() {
    let model = ScriptedModel::new([ScriptedTurn::new().message("ok")]);
    let mut shared = prompt("look at the repo");
    shared.input.push(ghost_snapshot());
    let shared = Arc::new(shared);

    let events: Vec<_> = model
        .stream_shared(Arc::clone(&shared), CancellationToken::new())
        .collect()
        .await;

    assert!(matches!(
        events.last(),
        Some(Ok(ResponseEvent::Completed { .. }))
    ));
    // The model holds the caller's prompt itself: recording it copied nothing.
    assert_eq!(Arc::strong_count(&shared), 2);
    assert_eq!(
        model.last_prompt().map(|seen| seen.input.to_vec()),
        Some(vec![ResponseItem::user_text("look at the repo")])
    );
}

#[tokio::test]
async fn a_request_beyond_the_script_fails_with_a_clear_message() {
    let model = ScriptedModel::new([]);
    let events = collect(&model, &prompt("hi")).await;
    assert_eq!(events.len(), 1);
    let error = events.into_iter().next().unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Fatal);
    assert!(
        error.to_string().contains("no scripted turn left"),
        "{error}"
    );
}

#[tokio::test]
async fn an_error_step_ends_the_stream_with_that_kind() {
    let model = ScriptedModel::new([ScriptedTurn::new()
        .text_delta("partial")
        .error(ErrorKind::ContextWindowExceeded, "too long")
        .message("never sent")]);
    let events = collect(&model, &prompt("hi")).await;
    assert_eq!(events.len(), 3);
    assert!(matches!(
        events[1],
        Ok(ResponseEvent::OutputTextDelta { .. })
    ));
    let Err(error) = &events[2] else {
        panic!("the last event should be the error")
    };
    assert_eq!(error.kind(), ErrorKind::ContextWindowExceeded);
    assert!(!error.is_retryable());

    let retryable = Error::from_kind(ErrorKind::Retryable, "flaky");
    assert!(retryable.is_retryable());
}

#[tokio::test]
async fn a_gate_holds_the_stream_until_released() {
    let model = ScriptedModel::new([ScriptedTurn::new()
        .text_delta("before")
        .gate("hold")
        .message("after")]);
    let gate = model.gate("hold");
    assert_eq!(gate.arrivals(), 0);
    let mut stream = model.stream(&prompt("hi"), CancellationToken::new());

    assert!(matches!(
        stream.next().await,
        Some(Ok(ResponseEvent::Created { .. }))
    ));
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        ResponseEvent::OutputTextDelta {
            delta: "before".into()
        }
    );
    let held = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
    assert!(
        held.is_err(),
        "the stream should wait at the gate, got {held:?}"
    );
    gate.reached().await;
    assert_eq!(gate.arrivals(), 1);

    gate.release();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        ResponseEvent::OutputTextDelta {
            delta: "after".into()
        }
    );
    let rest: Vec<_> = stream.collect().await;
    assert_eq!(rest.len(), 2, "item done and completed: {rest:?}");
}

#[tokio::test]
async fn a_release_before_arrival_lets_the_next_stream_through() {
    let model = ScriptedModel::new([ScriptedTurn::new().gate("open").message("through")]);
    model.gate("open").release();
    let events = ok_events(collect(&model, &prompt("hi")).await);
    assert_eq!(events.len(), 4);
}

#[tokio::test]
async fn cancelling_at_a_gate_ends_the_stream_promptly() {
    let model = Arc::new(ScriptedModel::new([ScriptedTurn::new()
        .text_delta("first")
        .gate("never-released")
        .message("unreachable")]));
    let cancellation = CancellationToken::new();
    let mut stream = model.stream(&prompt("hi"), cancellation.clone());
    stream.next().await;
    stream.next().await;

    let waiter = tokio::spawn(async move { stream.collect::<Vec<_>>().await });
    model.gate("never-released").reached().await;
    cancellation.cancel();
    let rest = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the stream should end soon after cancellation")
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert!(matches!(rest[0], Err(Error::Cancelled)));
}

#[tokio::test]
async fn a_stream_cancelled_before_its_first_poll_sends_nothing() {
    let model = ScriptedModel::new([ScriptedTurn::new().message("unsent")]);
    let cancellation = CancellationToken::new();
    cancellation.cancel();
    let events: Vec<_> = model.stream(&prompt("hi"), cancellation).collect().await;
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], Err(Error::Cancelled)));
}

#[tokio::test(start_paused = true)]
async fn a_sleep_step_waits_on_tokio_time() {
    let model = ScriptedModel::new([ScriptedTurn::new()
        .sleep(Duration::from_secs(30))
        .message("late")]);
    let started = tokio::time::Instant::now();
    let events = ok_events(collect(&model, &prompt("hi")).await);
    assert_eq!(events.len(), 4);
    assert!(started.elapsed() >= Duration::from_secs(30));
}

const SCRIPT: &str = r#"{
  "model_info": { "context_window": 128000, "auto_compact_token_limit": 100000 },
  "turns": [
    { "steps": [
      { "type": "created", "response_id": "resp_a" },
      { "type": "reasoning_delta", "delta": "hmm" },
      { "type": "message", "text": "Let me look.", "deltas": ["Let me ", "look."] },
      { "type": "function_call", "call_id": "call_1", "name": "shell",
        "arguments": { "command": ["ls"] } },
      { "type": "completed",
        "usage": { "input_tokens": 120, "output_tokens": 30, "total_tokens": 150 } }
    ] },
    { "steps": [
      { "type": "retrying", "attempt": 1, "max_attempts": 4, "message": "http 500" },
      { "type": "item", "item": { "type": "message", "role": "assistant",
        "content": [{ "type": "output_text", "text": "raw item" }] } },
      { "type": "error", "kind": "retryable", "message": "stream cut" }
    ] }
  ]
}"#;

#[tokio::test]
async fn loads_a_script_from_a_json_file() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(SCRIPT.as_bytes()).unwrap();
    let model = ScriptedModel::from_json_file(file.path()).unwrap();
    assert_eq!(
        model.info(),
        ModelInfo {
            context_window: Some(128_000),
            auto_compact_token_limit: Some(100_000)
        }
    );

    let first = ok_events(collect(&model, &prompt("one")).await);
    let second: Vec<_> = collect(&model, &prompt("two"))
        .await
        .into_iter()
        .map(|event| event.map_err(|error| (error.kind(), error.to_string())))
        .collect();
    let second: Vec<_> = second
        .iter()
        .map(|event| match event {
            Ok(event) => json!({ "ok": event }),
            Err((kind, message)) => json!({ "err": { "kind": kind, "message": message } }),
        })
        .collect();
    let played = json!({ "first": first, "second": second });
    insta::assert_json_snapshot!("loads_a_script_from_a_json_file", played);
}

#[test]
fn a_script_with_an_unknown_field_is_rejected_with_its_origin() {
    let error = ScriptedModel::from_json_str(
        r#"{ "turns": [ { "steps": [ { "type": "message", "txt": "typo" } ] } ] }"#,
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("JSON text"), "{message}");
    let source = std::error::Error::source(&error).expect("the serde error is the source");
    assert!(source.to_string().contains("txt"), "{source}");

    let missing = ScriptedModel::from_json_file("no-such-script.json").unwrap_err();
    assert!(
        missing.to_string().contains("no-such-script.json"),
        "{missing}"
    );
}

#[test]
fn model_info_compacts_at_ninety_percent_by_default() {
    let info = ModelInfo::with_context_window(200_000);
    assert_eq!(info.auto_compact_token_limit, Some(180_000));
    assert_eq!(
        ModelInfo::with_context_window(1_001).auto_compact_token_limit,
        Some(900)
    );
    assert_eq!(
        info.with_auto_compact_token_limit(5)
            .auto_compact_token_limit,
        Some(5)
    );
    let model = ScriptedModel::new([]).with_info(info);
    assert_eq!(model.clone().info(), info);
}
