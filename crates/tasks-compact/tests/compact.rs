//! `Op::Compact` through a real session: the summary written by a child, the new history, the
//! budgets that make any history fit, and the compactions that must leave history alone.

mod support;

use std::time::Duration;

use insta::assert_json_snapshot;
use turnkit_model::{
    ModelInfo, ScriptedModel, ScriptedTurn, estimate_item_tokens, estimate_tokens,
};
use turnkit_protocol::{ContentItem, EventMsg, Op, ResponseItem, Role};
use turnkit_tasks_compact::{CompactConfig, HANDOFF_INSTRUCTIONS, SUMMARY_HEADER};

use support::{model, seed, session};

const SUMMARY: &str = "Goal: make the parser accept tabs.\nNext steps: run the tests.";

fn developer(text: &str) -> ResponseItem {
    ResponseItem::Message {
        role: Role::Developer,
        content: vec![ContentItem::InputText { text: text.into() }],
    }
}

fn snapshot(phase: &str, turn: &str) -> ResponseItem {
    ResponseItem::GhostSnapshot {
        commit: format!("{phase}-{turn}"),
        phase: phase.into(),
        turn_id: turn.into(),
        snapshot: serde_json::Value::Null,
    }
}

/// A short session: instructions, two user requests with a tool call between, and the ghost
/// snapshots of the turn that changed a file.
fn history() -> Vec<ResponseItem> {
    vec![
        developer("Project rules: indent with tabs."),
        ResponseItem::user_text("make the parser accept tabs"),
        snapshot("before", "turn-1"),
        ResponseItem::FunctionCall {
            call_id: "call-1".into(),
            name: "shell".into(),
            arguments: r#"{"command":["cat","src/parser.rs"]}"#.into(),
        },
        ResponseItem::FunctionCallOutput {
            call_id: "call-1".into(),
            output: "fn parse() {}".into(),
            success: Some(true),
        },
        ResponseItem::assistant_text("I changed the parser."),
        snapshot("after", "turn-1"),
        ResponseItem::user_text("now run the tests"),
        ResponseItem::assistant_text("The tests pass."),
    ]
}

/// The texts of a history's messages, by role, for assertions that read well.
fn texts(history: &[ResponseItem]) -> Vec<String> {
    history
        .iter()
        .map(|item| match item {
            ResponseItem::Message { role, content } => format!(
                "{role:?}: {}",
                content
                    .iter()
                    .map(|part| match part {
                        ContentItem::InputText { text } | ContentItem::OutputText { text } =>
                            text.as_str(),
                        ContentItem::InputImage { .. } => "<image>",
                    })
                    .collect::<String>()
            ),
            ResponseItem::GhostSnapshot { commit, .. } => format!("snapshot {commit}"),
            other => format!("{other:?}"),
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn manual_compact_keeps_instructions_snapshots_newest_user_messages_and_the_summary() {
    let model = model(128_000, &[SUMMARY]);
    let mut session = session(&model, CompactConfig::default());
    session.run(seed(&history())).await;

    let events = session.run(Op::Compact).await;

    assert_json_snapshot!(session.normalize(&events));
    let new_history = session.history();
    assert_eq!(
        texts(&new_history),
        [
            "Developer: Project rules: indent with tabs.",
            "snapshot before-turn-1",
            "snapshot after-turn-1",
            "User: make the parser accept tabs",
            "User: now run the tests",
            &format!("User: {SUMMARY_HEADER} (compaction 1):\n\n{SUMMARY}"),
        ]
    );
    // The child saw the whole history and our hand-off instructions, and nothing else.
    let prompts = model.prompts();
    assert_eq!(prompts.len(), 1);
    assert!(prompts[0].tools.is_empty());
    assert_json_snapshot!("manual_compact_prompts", prompts);
    let compacted = events
        .iter()
        .find_map(|event| match event.msg {
            EventMsg::ContextCompacted {
                tokens_before,
                tokens_after,
                summary_tokens,
            } => Some((tokens_before, tokens_after, summary_tokens)),
            _ => None,
        })
        .expect("a compaction that replaced the history says so");
    assert_eq!(compacted.0, estimate_tokens(&history()));
    assert_eq!(compacted.1, estimate_tokens(&new_history));
}

#[tokio::test(start_paused = true)]
async fn an_oversized_history_is_summarised_in_chunks_and_the_notes_merged() {
    let window = 4_000;
    // About 12,000 tokens: three windows' worth.
    let history: Vec<ResponseItem> = (0..24)
        .map(|turn| {
            if turn % 2 == 0 {
                ResponseItem::user_text(format!("request {turn}: {}", "word ".repeat(400)))
            } else {
                ResponseItem::assistant_text(format!("answer {turn}: {}", "done ".repeat(400)))
            }
        })
        .collect();
    let notes = [
        "note one",
        "note two",
        "note three",
        "note four",
        "note five",
    ];
    let model = ScriptedModel::new(
        notes
            .iter()
            .map(|note| ScriptedTurn::new().message(*note))
            .chain([ScriptedTurn::new().message(SUMMARY)]),
    )
    .with_info(ModelInfo::with_context_window(window));
    let mut session = session(&model, CompactConfig::default());
    session.run(seed(&history)).await;

    let events = session.run(Op::Compact).await;

    let prompts = model.prompts();
    assert!(prompts.len() >= 3, "{} requests", prompts.len());
    for prompt in &prompts {
        assert!(
            prompt.estimated_tokens() <= window,
            "a request of {} tokens does not fit a window of {window}",
            prompt.estimated_tokens()
        );
    }
    let last = prompts.last().expect("at least three requests");
    let merged = texts(&last.input.to_vec());
    assert!(
        merged[0].starts_with("User: Hand-off note for part 1 of"),
        "{merged:?}"
    );
    assert!(
        events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::ContextCompacted { .. }))
    );
    let new_history = session.history();
    assert!(
        texts(&new_history)
            .last()
            .is_some_and(|text| text.ends_with(SUMMARY))
    );
    assert!(estimate_tokens(&new_history) < window);
    assert_eq!(model.remaining_turns(), notes.len() + 1 - prompts.len());
}

#[tokio::test(start_paused = true)]
async fn a_history_at_the_full_window_still_compacts() {
    let window = 8_000;
    let mut history = vec![ResponseItem::user_text("the one request")];
    while estimate_tokens(&history) < window {
        history.push(ResponseItem::FunctionCallOutput {
            call_id: "call-1".into(),
            output: "log line ".repeat(100),
            success: Some(true),
        });
    }
    history.insert(
        1,
        ResponseItem::FunctionCall {
            call_id: "call-1".into(),
            name: "shell".into(),
            arguments: "{}".into(),
        },
    );
    // One item as large as the whole window, which must be cut to fit a request.
    history.push(ResponseItem::user_text(
        "x".repeat(usize::try_from(window * 4).expect("small")),
    ));
    assert!(estimate_tokens(&history) >= 2 * window);
    let answers = vec!["part"; 8];
    let mut answers: Vec<&str> = answers;
    answers.push(SUMMARY);
    let model = model(window, &answers);
    let mut session = session(&model, CompactConfig::default());
    session.run(seed(&history)).await;

    let events = session.run(Op::Compact).await;

    for prompt in model.prompts() {
        assert!(prompt.estimated_tokens() <= window);
    }
    assert!(
        events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::ContextCompacted { .. })),
        "{events:#?}"
    );
    let new_history = session.history();
    assert!(estimate_tokens(&new_history) < window / 2);
    for item in &new_history {
        assert!(estimate_item_tokens(item) <= window / 4);
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_compaction_leaves_the_history_exactly_as_it_was() {
    let model = ScriptedModel::new([ScriptedTurn::new().gate("writing").message(SUMMARY)]);
    let mut session = session(&model, CompactConfig::default());
    session.run(seed(&history())).await;
    let before = session.history();

    let id = session.submit(Op::Compact);
    model.gate("writing").reached().await;
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;

    assert_json_snapshot!(session.normalize(&events));
    assert_eq!(session.history(), before);
}

#[tokio::test(start_paused = true)]
async fn a_refused_summary_leaves_the_history_exactly_as_it_was() {
    let model = model(
        128_000,
        &["I'm sorry, but I can't summarise this conversation."],
    );
    let mut session = session(&model, CompactConfig::default());
    session.run(seed(&history())).await;
    let before = session.history();

    let events = session.run(Op::Compact).await;

    assert_json_snapshot!(session.normalize(&events));
    assert_eq!(session.history(), before);
}

#[tokio::test(start_paused = true)]
async fn an_empty_or_oversized_summary_is_rejected() {
    let long = "word ".repeat(400);
    let model = model(128_000, &["   ", &long]);
    let mut session = session(&model, CompactConfig::default().summary_tokens(100));
    session.run(seed(&history())).await;
    let before = session.history();

    let empty = session.run(Op::Compact).await;
    let oversized = session.run(Op::Compact).await;

    let warnings: Vec<String> = empty
        .iter()
        .chain(&oversized)
        .filter_map(|event| match &event.msg {
            EventMsg::Warning { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        warnings,
        [
            "the summary was rejected: it is empty; the history is unchanged",
            "the summary was rejected: it is 500 tokens long, over its budget of 100; the history is unchanged",
        ]
    );
    assert_eq!(session.history(), before);
}

#[tokio::test(start_paused = true)]
async fn many_compactions_of_one_session_warn_that_answers_degrade() {
    let model = model(128_000, &["one", "two", "three"]);
    let mut session = session(&model, CompactConfig::default().warn_after(2));
    session.run(seed(&history())).await;

    session.run(Op::Compact).await;
    let second = session.run(Op::Compact).await;
    let third = session.run(Op::Compact).await;

    let warned = |events: &[turnkit_protocol::Event]| {
        events
            .iter()
            .any(|event| matches!(&event.msg, EventMsg::Warning { message } if message.contains("compacted 3 times")))
    };
    assert!(!warned(&second));
    assert!(warned(&third));
    // Each compaction summarises the one before: one summary message, numbered.
    let new_history = session.history();
    let summaries: Vec<String> = texts(&new_history)
        .into_iter()
        .filter(|text| text.contains(SUMMARY_HEADER))
        .collect();
    assert_eq!(
        summaries,
        [format!("User: {SUMMARY_HEADER} (compaction 3):\n\nthree")]
    );
    // The second child saw the first summary, not the user messages twice.
    assert!(
        texts(&model.prompts()[1].input.to_vec())
            .iter()
            .any(|text| text.contains("(compaction 1)"))
    );
    assert_eq!(
        texts(&model.prompts()[1].input.to_vec())
            .last()
            .map(String::as_str),
        Some(format!("User: {HANDOFF_INSTRUCTIONS}").as_str())
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_model_client_compaction_warns_and_changes_nothing() {
    let mut session = turnkit_testkit::TestSession::builder()
        .task(turnkit_tasks_compact::registration(CompactConfig::default()))
        .task(support::seed_kind())
        .event_timeout(Duration::from_secs(30))
        .build();
    session.run(seed(&history())).await;

    let events = session.run(Op::Compact).await;

    assert_json_snapshot!(session.normalize(&events));
    assert_eq!(session.history(), history());
}
