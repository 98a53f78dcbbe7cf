//! Compaction through the facade alone, as a new user meets it: `Op::Compact` after a
//! conversation, a turn that compacts on its own when the context fills up, and undo of a turn
//! from before a compaction.
#![cfg(all(feature = "compact", feature = "regular", feature = "testkit"))]

use std::sync::Arc;

use turnkit::model::{ModelClient, ModelInfo, ScriptedModel, ScriptedTurn, TokenUsage};
use turnkit::testkit::TestSession;
use turnkit::{
    CancellationToken, ContentItem, EventMsg, Op, ResponseItem, Role, TaskContext, Tool,
    ToolOutput, ToolSpec, UserInput,
};

const SUMMARY: &str = "Goal: rename the project.\nNext steps: update the README.";

fn user(text: &str) -> Op {
    Op::UserInput {
        items: vec![UserInput::text(text)],
    }
}

fn client(model: &ScriptedModel) -> Arc<dyn ModelClient> {
    Arc::new(model.clone())
}

/// The last message of the history, as text.
fn last_text(history: &[ResponseItem]) -> String {
    match history.last() {
        Some(ResponseItem::Message { content, .. }) => content
            .iter()
            .filter_map(|part| match part {
                ContentItem::InputText { text } | ContentItem::OutputText { text } => {
                    Some(text.as_str())
                }
                ContentItem::InputImage { .. } => None,
            })
            .collect(),
        other => format!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn compacting_a_conversation_keeps_the_request_and_a_summary() {
    let model = ScriptedModel::new([
        ScriptedTurn::new().message("I renamed it in Cargo.toml."),
        ScriptedTurn::new().message(SUMMARY),
    ]);
    let mut session = TestSession::from_builder(turnkit::builder().service(client(&model))).build();
    session.run(user("rename the project to turnkit")).await;

    let events = session.run(Op::Compact).await;

    assert!(
        events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::ContextCompacted { .. })),
        "{events:#?}"
    );
    let history = session.history();
    assert_eq!(history.len(), 2, "{history:#?}");
    assert!(matches!(
        &history[0],
        ResponseItem::Message {
            role: Role::User,
            ..
        }
    ));
    assert!(last_text(&history).ends_with(SUMMARY));
    // The next turn starts from the compacted history.
    model.push_turn(ScriptedTurn::new().message("The README is updated."));
    session.run(user("go on")).await;
    let prompt = model.last_prompt().expect("a third request");
    assert!(format!("{:?}", prompt.input).contains("Next steps: update the README."));
}

/// A tool of the user's own: does nothing, so a turn has a reason to go on.
struct Noop;

#[turnkit::async_trait]
impl Tool for Noop {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "noop",
            "Does nothing.",
            serde_json::json!({"type": "object"}),
        )
    }

    async fn call(
        &self,
        _ctx: Arc<TaskContext>,
        _call_id: &str,
        _arguments: serde_json::Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        ToolOutput::success("done")
    }
}

#[tokio::test(start_paused = true)]
async fn a_turn_compacts_inline_when_the_context_fills_up_and_goes_on() {
    let usage = TokenUsage {
        total_tokens: 9_500,
        ..TokenUsage::default()
    };
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("call-1", "noop", serde_json::json!({}))
            .completed(Some(usage)),
        ScriptedTurn::new().message(SUMMARY),
        ScriptedTurn::new().message("All done."),
    ])
    .with_info(ModelInfo::with_context_window(10_000));
    let mut session =
        TestSession::from_builder(turnkit::builder().service(client(&model)).tool(Noop)).build();

    let events = session.run(user("do the thing")).await;

    let compacted = events
        .iter()
        .position(|event| matches!(event.msg, EventMsg::ContextCompacted { .. }))
        .expect("the turn compacted");
    let done = events
        .iter()
        .position(|event| matches!(&event.msg, EventMsg::TaskComplete { last_agent_message } if last_agent_message.as_deref() == Some("All done.")))
        .expect("the turn went on after compacting");
    assert!(compacted < done);
    // The request after the compaction carries the summary, not the call.
    let prompts = model.prompts();
    let last = format!("{:?}", prompts[2].input);
    assert!(last.contains("Goal: rename the project."), "{last}");
    assert!(!last.contains("call-1"), "{last}");
}

/// A tool of the user's own that changes a file, so the turn takes ghost snapshots.
struct WriteNotes;

#[turnkit::async_trait]
impl Tool for WriteNotes {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "write_notes",
            "Writes notes.txt.",
            serde_json::json!({"type": "object"}),
        )
    }

    fn can_change_files(&self) -> bool {
        true
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        _call_id: &str,
        _arguments: serde_json::Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        match std::fs::write(ctx.cwd().join("notes.txt"), "remember the milk\n") {
            Ok(()) => ToolOutput::success("wrote notes.txt"),
            Err(error) => ToolOutput::failure(error.to_string()),
        }
    }
}

#[cfg(all(feature = "ghost-snapshot", feature = "undo"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_from_before_a_compaction_can_still_be_undone() {
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call("call-1", "write_notes", serde_json::json!({})),
        ScriptedTurn::new().message("I wrote the notes."),
        ScriptedTurn::new().message(SUMMARY),
    ]);
    let mut session =
        TestSession::from_builder(turnkit::builder().service(client(&model)).tool(WriteNotes))
            .build();
    let dir = session.cwd().to_owned();
    turnkit::testkit::git::init_repo(&dir);
    std::fs::write(dir.join("README.md"), "turnkit\n").expect("write");
    turnkit::testkit::git::git(&dir, &["add", "."]);
    turnkit::testkit::git::git(&dir, &["commit", "-q", "-m", "start"]);
    session.run(user("write down the milk")).await;
    assert!(dir.join("notes.txt").exists());

    let compaction = session.run(Op::Compact).await;
    assert!(
        compaction
            .iter()
            .any(|event| matches!(event.msg, EventMsg::ContextCompacted { .. })),
        "{compaction:#?}"
    );
    assert!(
        session
            .history()
            .iter()
            .any(|item| matches!(item, ResponseItem::GhostSnapshot { .. }))
    );
    let undo = session.run(Op::Undo).await;

    let completed = undo
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::UndoCompleted(completed) => Some(completed.clone()),
            _ => None,
        })
        .expect("an undo_completed");
    assert!(completed.success, "{}", completed.message);
    assert_eq!(completed.deleted, ["notes.txt"]);
    assert!(!dir.join("notes.txt").exists());
}
