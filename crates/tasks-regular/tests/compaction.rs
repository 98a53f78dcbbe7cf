//! Compaction inside a turn through a test `Compactor`, and the token tally across a resume.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use support::{Log, Probe, assert_history_valid, builder, prompts_json, say};
use turnkit_model::{ErrorKind, ModelClient, ModelInfo, ScriptedModel, ScriptedTurn, TokenUsage};
use turnkit_protocol::{EventMsg, ResponseItem};
use turnkit_session_core::{
    CancellationToken, CompactionReport, Compactor, Session, TaskContext, TaskError,
};
use turnkit_testkit::TestSession;

/// Replaces the history with one summary message and counts its calls.
#[derive(Default)]
struct Summariser {
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl Compactor for Summariser {
    async fn compact(
        &self,
        ctx: &Arc<TaskContext>,
        _cancellation_token: CancellationToken,
    ) -> Result<CompactionReport, TaskError> {
        let number = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let before = ctx.history().len() as u64;
        ctx.replace_history(vec![ResponseItem::user_text(format!(
            "summary {number} of {before} items"
        ))]);
        Ok(CompactionReport {
            tokens_before: 1000,
            tokens_after: 100,
        })
    }
}

#[tokio::test(start_paused = true)]
async fn reaching_the_limit_mid_turn_compacts_inline_and_goes_on() {
    let log = Log::default();
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("look", "probe", json!({}))
            .completed(Some(TokenUsage::new(900, 50))),
        ScriptedTurn::new()
            .message("Done after compacting.")
            .completed(Some(TokenUsage::new(120, 10))),
    ])
    .with_info(ModelInfo::with_context_window(1000).with_auto_compact_token_limit(800));
    let summariser = Arc::new(Summariser::default());
    let mut session = builder(&model)
        .service(Arc::clone(&summariser) as Arc<dyn Compactor>)
        .configure(|builder| builder.tool(Probe::new("probe", true, &log)))
        .build();

    let events = session.run(say("look around")).await;
    assert_eq!(summariser.calls.load(Ordering::SeqCst), 1);
    insta::assert_json_snapshot!(session.normalize(&events));
    insta::assert_json_snapshot!("auto_compaction_prompts", prompts_json(&model));
}

#[tokio::test(start_paused = true)]
async fn without_a_limit_from_the_model_the_turn_compacts_at_80_percent_of_the_window() {
    let log = Log::default();
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("look", "probe", json!({}))
            .completed(Some(TokenUsage::new(790, 9))),
        ScriptedTurn::new()
            .function_call("again", "probe", json!({}))
            .completed(Some(TokenUsage::new(795, 5))),
        ScriptedTurn::new().message("Done."),
    ])
    .with_info(ModelInfo {
        context_window: Some(1000),
        auto_compact_token_limit: None,
    });
    let summariser = Arc::new(Summariser::default());
    let mut session = builder(&model)
        .service(Arc::clone(&summariser) as Arc<dyn Compactor>)
        .configure(|builder| builder.tool(Probe::new("probe", true, &log)))
        .build();

    session.run(say("look")).await;
    // 799 tokens stay under 800; 800 reach it.
    assert_eq!(summariser.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn context_window_exceeded_compacts_once_and_retries_once() {
    let model = ScriptedModel::new([
        ScriptedTurn::new().error(ErrorKind::ContextWindowExceeded, "maximum context length"),
        ScriptedTurn::new().message("Fits now."),
        ScriptedTurn::new().error(ErrorKind::ContextWindowExceeded, "maximum context length"),
        ScriptedTurn::new().error(ErrorKind::ContextWindowExceeded, "still too long"),
    ]);
    let summariser = Arc::new(Summariser::default());
    let mut session = builder(&model)
        .service(Arc::clone(&summariser) as Arc<dyn Compactor>)
        .build();

    let events = session.run(say("a long story")).await;
    insta::assert_json_snapshot!(session.normalize(&events));
    assert_eq!(summariser.calls.load(Ordering::SeqCst), 1);

    // A second overflow in the same turn is an error: one compaction, one retry.
    let events = session.run(say("more")).await;
    assert_eq!(summariser.calls.load(Ordering::SeqCst), 2);
    assert_eq!(model.request_count(), 4);
    assert!(
        matches!(&events[events.len() - 2].msg, EventMsg::Error { message } if message.contains("still too long"))
    );
    assert_history_valid(&session.history());
}

#[tokio::test(start_paused = true)]
async fn context_window_exceeded_without_a_compactor_is_an_error() {
    let model = ScriptedModel::new([
        ScriptedTurn::new().error(ErrorKind::ContextWindowExceeded, "maximum context length")
    ]);
    let mut session = builder(&model).build();
    let events = session.run(say("a long story")).await;
    assert!(
        matches!(&events[1].msg, EventMsg::Error { message } if message.contains("compact the history"))
    );
    assert_eq!(model.request_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn token_count_survives_resume() {
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .message("One.")
            .completed(Some(TokenUsage::new(100, 10))),
        ScriptedTurn::new()
            .message("Two.")
            .completed(Some(TokenUsage::new(200, 20))),
    ])
    .with_info(ModelInfo::with_context_window(5000));
    let mut session = builder(&model).with_rollout().build();
    session.run(say("first")).await;
    let rollout = session.rollout_path().expect("a rollout").to_owned();
    let cwd = session.cwd().to_owned();
    session.shutdown().await;

    let resumed = Session::builder()
        .task(turnkit_tasks_regular::registration())
        .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
        .cwd(&cwd)
        .resume(&rollout);
    let mut resumed = TestSession::from_builder(resumed).build();
    let events = resumed.run(say("second")).await;
    let info = events
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::TokenCount(info) => Some(*info),
            _ => None,
        })
        .expect("a token count");
    assert_eq!(info.last.total_tokens, 220);
    assert_eq!(
        info.total.total_tokens, 330,
        "the total before the resume is kept"
    );
    assert_eq!(info.total.input_tokens, 300);
}
