//! Shared helpers of the compaction tests: a scripted model, a stand-in for the `regular`
//! kind (the real agent turn lives in another task crate, which this one never depends on)
//! and a `seed` kind that fills the history.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use turnkit_model::{
    ModelClient, ModelInfo, Prompt, ResponseEvent, ScriptedModel, ScriptedTurn, StreamExt,
};
use turnkit_protocol::{ContentItem, Op, ResponseItem, Role, TaskKind, UserInput};
use turnkit_session_core::{SessionTask, TaskRegistration, TurnOverrides};
use turnkit_tasks_compact::CompactConfig;
use turnkit_testkit::{FnTask, TestSession};

/// Instructions the stand-in turn sends, so recorded prompts show whose request it was.
pub const STAND_IN_INSTRUCTIONS: &str = "stand-in regular turn";

/// A `regular` kind that records the user's input, sends the history to the session's model
/// and records and returns its message: just enough of an agent turn for a summarising child.
pub fn stand_in_regular() -> FnTask {
    FnTask::new(TaskKind::REGULAR, |ctx, input, token| async move {
        let model = ctx
            .service::<Arc<dyn ModelClient>>()
            .ok_or("no model client is registered")?;
        let text: String = input
            .iter()
            .filter_map(|part| match part {
                UserInput::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        ctx.record_items([ResponseItem::user_text(text)]);
        let instructions = ctx
            .service::<TurnOverrides>()
            .and_then(|overrides| overrides.instructions)
            .unwrap_or_else(|| STAND_IN_INSTRUCTIONS.to_owned());
        let prompt = Prompt::new(instructions, ctx.history());
        let mut stream = model.stream(&prompt, token.clone());
        let mut last = None;
        while let Some(event) = stream.next().await {
            match event? {
                ResponseEvent::OutputItemDone { item } => {
                    if let ResponseItem::Message {
                        role: Role::Assistant,
                        content,
                    } = &item
                    {
                        last = Some(
                            content
                                .iter()
                                .filter_map(|part| match part {
                                    ContentItem::OutputText { text } => Some(text.as_str()),
                                    _ => None,
                                })
                                .collect::<String>(),
                        );
                    }
                    ctx.record_items([item]);
                }
                ResponseEvent::Completed { .. } => break,
                _ => {}
            }
        }
        Ok(last)
    })
}

/// A `seed` kind (`Op::Custom { name: "seed", payload: [items] }`) that appends the items of
/// its payload to the history.
pub fn seed_kind() -> TaskRegistration {
    TaskRegistration::new(TaskKind::new("seed"), |op| {
        let items: Vec<ResponseItem> = match op {
            Op::Custom { payload, .. } => serde_json::from_value(payload.clone())?,
            _ => Vec::new(),
        };
        let task = FnTask::new(TaskKind::new("seed"), move |ctx, _input, _token| {
            let items = items.clone();
            async move {
                ctx.record_items(items);
                Ok(None)
            }
        });
        Ok(Arc::new(task) as Arc<dyn SessionTask>)
    })
}

/// The seeding op for `items`.
pub fn seed(items: &[ResponseItem]) -> Op {
    Op::Custom {
        name: "seed".into(),
        payload: serde_json::to_value(items).expect("history items always serialise"),
    }
}

/// A session with the stand-in `regular`, `compact` with `config`, and `model`.
pub fn session(model: &ScriptedModel, config: CompactConfig) -> TestSession {
    let client: Arc<dyn ModelClient> = Arc::new(model.clone());
    TestSession::builder()
        .task(stand_in_regular().registration().accepts_input(true))
        .task(turnkit_tasks_compact::registration(config))
        .task(seed_kind())
        .service(client)
        .build()
}

/// A scripted model with a context window of `window` tokens answering `answers` in order.
pub fn model(window: u64, answers: &[&str]) -> ScriptedModel {
    ScriptedModel::new(
        answers
            .iter()
            .map(|answer| ScriptedTurn::new().message(*answer)),
    )
    .with_info(ModelInfo::with_context_window(window))
}
