//! Shared helpers of the turn tests: a session with a scripted model and test tools, and the
//! model's recorded prompts as JSON for snapshots.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use turnkit_model::{ModelClient, ScriptedModel};
use turnkit_protocol::{Event, EventMsg, Op, ResponseItem, ToolSpec, UserInput};
use turnkit_session_core::{CancellationToken, TaskContext, Tool, ToolOutput};
use turnkit_testkit::{TestSession, TestSessionBuilder};

/// A test session with the regular kind and `model` as its model client.
pub(crate) fn builder(model: &ScriptedModel) -> TestSessionBuilder {
    TestSession::builder()
        .task(turnkit_tasks_regular::registration())
        .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
}

/// `Op::UserInput` of one text.
pub(crate) fn say(text: &str) -> Op {
    Op::UserInput {
        items: vec![UserInput::text(text)],
    }
}

/// The model's prompts as the model saw them, without the instructions (the same in every
/// request): the input items and the tools' names.
pub(crate) fn prompts_json(model: &ScriptedModel) -> Value {
    Value::Array(
        model
            .prompts()
            .iter()
            .map(|prompt| {
                json!({
                    "input": prompt.input,
                    "tools": prompt.tools.iter().map(|tool| tool.name.clone()).collect::<Vec<_>>(),
                    "parallel_tool_calls": prompt.parallel_tool_calls,
                })
            })
            .collect(),
    )
}

/// The messages of the events (their `type` and fields), without ids and `seq`.
pub(crate) fn kinds(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            serde_json::to_value(&event.msg).expect("events serialise")["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Checks that every call in `history` has exactly one output after it, and every output a
/// call before it.
pub(crate) fn assert_history_valid(history: &[ResponseItem]) {
    let mut open: Vec<&str> = Vec::new();
    let mut answered: Vec<&str> = Vec::new();
    for item in history {
        match item {
            ResponseItem::FunctionCall { call_id, .. } => open.push(call_id),
            ResponseItem::FunctionCallOutput { call_id, .. } => {
                let position = open
                    .iter()
                    .position(|open| open == call_id)
                    .unwrap_or_else(|| panic!("output {call_id} without its call: {history:#?}"));
                assert!(
                    !answered.contains(&call_id.as_str()),
                    "two outputs for {call_id}: {history:#?}"
                );
                answered.push(open.remove(position));
            }
            _ => {}
        }
    }
    assert!(
        open.is_empty(),
        "calls without output {open:?}: {history:#?}"
    );
}

/// What a [`Probe`] saw, in order: `start <id>` and `end <id>`.
pub(crate) type Log = Arc<Mutex<Vec<String>>>;

/// A test tool: waits `ms` milliseconds (tokio's clock) from its arguments, logs its start
/// and end, and answers `<name> did <arguments>`.
pub(crate) struct Probe {
    pub(crate) name: &'static str,
    pub(crate) parallel: bool,
    pub(crate) changes_files: bool,
    pub(crate) log: Log,
}

impl Probe {
    pub(crate) fn new(name: &'static str, parallel: bool, log: &Log) -> Self {
        Probe {
            name,
            parallel,
            changes_files: false,
            log: Arc::clone(log),
        }
    }
}

#[async_trait::async_trait]
impl Tool for Probe {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            self.name,
            "Waits, then says what it did.",
            json!({ "type": "object", "properties": { "ms": { "type": "integer" } } }),
        )
    }

    fn supports_parallel(&self) -> bool {
        self.parallel
    }

    fn can_change_files(&self) -> bool {
        self.changes_files
    }

    async fn call(
        &self,
        _ctx: Arc<TaskContext>,
        call_id: &str,
        arguments: Value,
        cancellation_token: CancellationToken,
    ) -> ToolOutput {
        self.log
            .lock()
            .expect("the log is never poisoned")
            .push(format!("start {call_id}"));
        let ms = arguments["ms"].as_u64().unwrap_or(0);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(ms)) => {}
            () = cancellation_token.cancelled() => {
                self.log.lock().expect("the log is never poisoned").push(format!("cancelled {call_id}"));
                return ToolOutput::failure("stopped early");
            }
        }
        self.log
            .lock()
            .expect("the log is never poisoned")
            .push(format!("end {call_id}"));
        ToolOutput::success(format!("{} did {arguments}", self.name))
    }
}

/// Whether `events` hold an event of this type.
pub(crate) fn has(events: &[Event], wanted: impl Fn(&EventMsg) -> bool) -> bool {
    events.iter().any(|event| wanted(&event.msg))
}
