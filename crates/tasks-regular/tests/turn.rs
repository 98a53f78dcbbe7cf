//! The regular turn with a scripted model: streaming, tools, steering, errors and retries.

mod support;

use std::sync::{Arc, Mutex};

use serde_json::json;
use support::{Log, Probe, assert_history_valid, builder, has, kinds, prompts_json, say};
use turnkit_model::{ErrorKind, ModelInfo, ScriptedModel, ScriptedTurn, TokenUsage};
use turnkit_protocol::{EventMsg, ResponseItem};
use turnkit_session_core::{TaskContext, TaskError, TurnSnapshots};
use turnkit_testkit::TestSession;

#[tokio::test(start_paused = true)]
async fn text_only_turn_streams_and_completes_with_the_message() {
    let model = ScriptedModel::new([ScriptedTurn::new()
        .reasoning("The user greets me.")
        .message_in_deltas(["Hel", "lo!"])
        .completed(Some(TokenUsage::new(40, 8)))])
    .with_info(ModelInfo::with_context_window(1000));
    let mut session = builder(&model).build();

    let events = session.run(say("hi")).await;
    insta::assert_json_snapshot!(session.normalize(&events));
    insta::assert_json_snapshot!("text_only_turn_prompts", prompts_json(&model));
    assert_eq!(
        session.history(),
        [
            ResponseItem::user_text("hi"),
            ResponseItem::Reasoning {
                summary: vec!["The user greets me.".into()],
                content: None
            },
            ResponseItem::assistant_text("Hello!"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_model_client_is_an_error_naming_what_to_register() {
    let mut session = TestSession::builder()
        .task(turnkit_tasks_regular::registration())
        .build();
    let events = session.run(say("hi")).await;
    let EventMsg::Error { message } = &events[1].msg else {
        panic!("expected an error, got {events:#?}");
    };
    assert!(message.contains("Arc<dyn ModelClient>"), "{message}");
    assert!(events[2].msg.is_terminal());
}

#[tokio::test(start_paused = true)]
async fn parallel_calls_run_together_and_outputs_follow_call_order() {
    let log = Log::default();
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("slow", "probe", json!({ "ms": 50 }))
            .function_call("fast", "probe", json!({ "ms": 10 })),
        ScriptedTurn::new().message("Both done."),
    ]);
    let mut session = builder(&model)
        .configure(|builder| builder.tool(Probe::new("probe", true, &log)))
        .build();

    let events = session.run(say("run both")).await;
    // Both started before either ended, and the fast one ended first.
    assert_eq!(
        *log.lock().unwrap(),
        ["start slow", "start fast", "end fast", "end slow"]
    );
    insta::assert_json_snapshot!(session.normalize(&events));
    // The outputs are in call order, not in the order they finished.
    insta::assert_json_snapshot!("parallel_calls_prompts", prompts_json(&model));
}

#[tokio::test(start_paused = true)]
async fn calls_run_in_order_when_a_tool_disallows_parallel() {
    let log = Log::default();
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("first", "probe", json!({ "ms": 50 }))
            .function_call("second", "serial", json!({ "ms": 10 })),
        ScriptedTurn::new().message("Done."),
    ]);
    let mut session = builder(&model)
        .configure(|builder| {
            builder
                .tool(Probe::new("probe", true, &log))
                .tool(Probe::new("serial", false, &log))
        })
        .build();

    session.run(say("run both")).await;
    assert_eq!(
        *log.lock().unwrap(),
        ["start first", "end first", "start second", "end second"]
    );
    assert_history_valid(&session.history());
}

#[tokio::test(start_paused = true)]
async fn unknown_tools_and_malformed_arguments_get_outputs_and_the_turn_goes_on() {
    let log = Log::default();
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("ghost", "no_such_tool", json!({}))
            .function_call("garbled", "probe", json!("{\"ms\": 1")),
        ScriptedTurn::new().message("I will call the right tool next time."),
    ]);
    let mut session = builder(&model)
        .configure(|builder| builder.tool(Probe::new("probe", true, &log)))
        .build();

    let events = session.run(say("try")).await;
    assert!(log.lock().unwrap().is_empty(), "no tool ran");
    assert!(matches!(
        &events.last().unwrap().msg,
        EventMsg::TaskComplete { last_agent_message: Some(message) } if message.starts_with("I will")
    ));
    insta::assert_json_snapshot!("unknown_and_malformed_prompts", prompts_json(&model));
}

#[tokio::test(start_paused = true)]
async fn steered_input_mid_turn_makes_a_follow_up_request() {
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .gate("thinking")
            .message("Looking at it."),
        ScriptedTurn::new().message("Also noted: use tabs."),
    ]);
    let mut session = builder(&model).build();
    let gate = model.gate("thinking");

    let id = session.submit(say("format the code"));
    gate.reached().await;
    let steered = session.submit(say("and use tabs"));
    // The steered input is taken only after the first response; let it be queued first.
    tokio::task::yield_now().await;
    gate.release();
    let events = session.events_until_terminal(&id).await;

    assert_eq!(model.request_count(), 2);
    assert!(
        !events
            .iter()
            .any(|event| event.id == steered && event.msg.is_terminal())
    );
    insta::assert_json_snapshot!(session.normalize(&events));
    insta::assert_json_snapshot!("steered_input_prompts", prompts_json(&model));
}

#[tokio::test(start_paused = true)]
async fn a_model_error_ends_the_turn_with_error_then_task_complete_and_a_valid_history() {
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .message("Let me check.")
            .function_call("orphan", "probe", json!({}))
            .error(ErrorKind::Fatal, "the server had a bad day"),
        ScriptedTurn::new().message("Back."),
    ]);
    let log = Log::default();
    let mut session = builder(&model)
        .configure(|builder| builder.tool(Probe::new("probe", true, &log)))
        .build();

    let events = session.run(say("check")).await;
    insta::assert_json_snapshot!(session.normalize(&events));
    assert!(
        log.lock().unwrap().is_empty(),
        "the call of a failed response never runs"
    );
    assert_history_valid(&session.history());

    session.run(say("again")).await;
    insta::assert_json_snapshot!("model_error_prompts", prompts_json(&model));
}

#[tokio::test(start_paused = true)]
async fn each_retry_of_the_client_is_a_stream_error() {
    let model = ScriptedModel::new([ScriptedTurn::new()
        .step(turnkit_model::ScriptStep::Retrying {
            attempt: 1,
            max_attempts: 5,
            delay_ms: 200,
            message: "the model server failed (http 503)".into(),
        })
        .step(turnkit_model::ScriptStep::Retrying {
            attempt: 2,
            max_attempts: 5,
            delay_ms: 400,
            message: "the model server failed (http 503)".into(),
        })
        .message("Made it.")]);
    let mut session = builder(&model).build();

    let events = session.run(say("hi")).await;
    insta::assert_json_snapshot!(session.normalize(&events));
}

/// Counts its calls; a turn owes it one `after_turn` per `before_change`.
#[derive(Default)]
struct CountingSnapshots {
    calls: Mutex<Vec<&'static str>>,
}

#[async_trait::async_trait]
impl TurnSnapshots for CountingSnapshots {
    async fn before_change(&self, _ctx: &Arc<TaskContext>) -> Result<(), TaskError> {
        self.calls
            .lock()
            .expect("the log is never poisoned")
            .push("before");
        Ok(())
    }

    async fn after_turn(&self, _ctx: &Arc<TaskContext>) -> Result<(), TaskError> {
        self.calls
            .lock()
            .expect("the log is never poisoned")
            .push("after");
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn snapshots_are_taken_before_the_first_tool_that_changes_files_and_after_the_turn() {
    let log = Log::default();
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call("read", "reader", json!({})),
        ScriptedTurn::new()
            .function_call("write-1", "writer", json!({}))
            .function_call("write-2", "writer", json!({})),
        ScriptedTurn::new().message("Edited."),
        ScriptedTurn::new().function_call("read-again", "reader", json!({})),
        ScriptedTurn::new().message("Only read."),
    ]);
    let snapshots = Arc::new(CountingSnapshots::default());
    let mut writer = Probe::new("writer", false, &log);
    writer.changes_files = true;
    let mut session = builder(&model)
        .service(Arc::clone(&snapshots) as Arc<dyn TurnSnapshots>)
        .configure(|builder| builder.tool(Probe::new("reader", true, &log)).tool(writer))
        .build();

    session.run(say("edit")).await;
    assert_eq!(*snapshots.calls.lock().unwrap(), ["before", "after"]);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "start read",
            "end read",
            "start write-1",
            "end write-1",
            "start write-2",
            "end write-2"
        ]
    );
    session.run(say("now only read")).await;
    assert_eq!(
        *snapshots.calls.lock().unwrap(),
        ["before", "after"],
        "a turn that only reads takes no snapshot"
    );
}

#[tokio::test(start_paused = true)]
async fn token_count_follows_each_response_and_accumulates() {
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("a", "probe", json!({}))
            .completed(Some(TokenUsage::new(100, 10))),
        ScriptedTurn::new()
            .message("Done.")
            .completed(Some(TokenUsage::new(130, 5))),
    ])
    .with_info(ModelInfo::with_context_window(10_000));
    let log = Log::default();
    let mut session = builder(&model)
        .configure(|builder| builder.tool(Probe::new("probe", true, &log)))
        .build();

    let events = session.run(say("go")).await;
    let counts: Vec<_> = events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::TokenCount(info) => Some((info.last.total_tokens, info.total.total_tokens)),
            _ => None,
        })
        .collect();
    assert_eq!(counts, [(110, 110), (135, 245)]);
    assert!(has(&events, |msg| matches!(
        msg,
        EventMsg::TokenCount(info) if info.context_window == Some(10_000)
    )));
    assert_eq!(
        kinds(&events)
            .iter()
            .filter(|kind| *kind == "token_count")
            .count(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn a_config_service_overrides_the_registrations_instructions_and_parallel_calls() {
    let log = Log::default();
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("one", "probe", json!({ "ms": 20 }))
            .function_call("two", "probe", json!({ "ms": 10 })),
        ScriptedTurn::new().message("Done."),
    ]);
    let config = turnkit_tasks_regular::RegularConfig::new()
        .instructions("Only review; never edit.")
        .parallel_tool_calls(false);
    let mut session = builder(&model)
        .service(config)
        .configure(|builder| builder.tool(Probe::new("probe", true, &log)))
        .build();

    session.run(say("review")).await;
    let prompt = model.last_prompt().expect("a request");
    assert_eq!(prompt.instructions, "Only review; never edit.");
    assert!(!prompt.parallel_tool_calls);
    assert_eq!(
        *log.lock().expect("never poisoned"),
        ["start one", "end one", "start two", "end two"]
    );
}
