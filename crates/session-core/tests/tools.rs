//! Tools: the registry's order, lookup and subsets, tools registered on the builder and seen
//! by a task, and every way a model's call can be wrong turned into an output, never a panic.

mod support;

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use support::custom;
use turnkit_protocol::{EventMsg, ResponseItem, TaskKind, ToolSpec};
use turnkit_session_core::{
    CancellationToken, Error, TaskContext, Tool, ToolOutput, ToolRegistry, parse_arguments,
};
use turnkit_testkit::{FnTask, TestSession};

/// Echoes `text`, `times` times; a read-only tool that may run in parallel.
struct Repeat {
    name: &'static str,
}

#[derive(Deserialize)]
struct RepeatArguments {
    text: String,
    times: usize,
}

#[async_trait::async_trait]
impl Tool for Repeat {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            self.name,
            "Repeats a text.",
            json!({
                "type": "object",
                "properties": { "text": { "type": "string" }, "times": { "type": "integer" } },
                "required": ["text", "times"]
            }),
        )
    }

    fn supports_parallel(&self) -> bool {
        true
    }

    async fn call(
        &self,
        _ctx: Arc<TaskContext>,
        call_id: &str,
        arguments: serde_json::Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        match parse_arguments::<RepeatArguments>(self.name, arguments) {
            Ok(arguments) => ToolOutput::success(format!(
                "{call_id}: {}",
                arguments.text.repeat(arguments.times)
            )),
            Err(output) => output,
        }
    }
}

/// A tool with a bug.
struct Panics;

#[async_trait::async_trait]
impl Tool for Panics {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function("panics", "Always panics.", json!({ "type": "object" }))
    }

    fn can_change_files(&self) -> bool {
        true
    }

    async fn call(
        &self,
        _ctx: Arc<TaskContext>,
        _call_id: &str,
        _arguments: serde_json::Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        panic!("a bug in the tool")
    }
}

fn repeat(name: &'static str) -> Repeat {
    Repeat { name }
}

/// A task that makes each `(tool, arguments)` call through the session's registry, records
/// the outputs in the history, and finishes with the tool names it saw.
fn caller(calls: Vec<(&'static str, &'static str)>) -> FnTask {
    let calls = Arc::new(calls);
    FnTask::new(
        TaskKind::from_static("caller"),
        move |ctx, _input, token| {
            let calls = Arc::clone(&calls);
            async move {
                for (index, (name, arguments)) in calls.iter().enumerate() {
                    let call_id = format!("call-{index}");
                    let output = ctx
                        .tools()
                        .dispatch(Arc::clone(&ctx), &call_id, name, arguments, token.clone())
                        .await;
                    ctx.record_items([output.into_item(call_id)]);
                }
                Ok(Some(ctx.tools().names().collect::<Vec<_>>().join(",")))
            }
        },
    )
}

fn outputs(history: &[ResponseItem]) -> Vec<(String, bool)> {
    history
        .iter()
        .filter_map(|item| match item {
            ResponseItem::FunctionCallOutput {
                output, success, ..
            } => Some((
                output.clone(),
                success.expect("every output says whether it succeeded"),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn registry_keeps_registration_order_and_replaces_a_name_in_its_place() {
    let tools = ToolRegistry::new()
        .with(repeat("b"))
        .with(repeat("a"))
        .with(Panics)
        .with(repeat("a"));
    assert_eq!(tools.names().collect::<Vec<_>>(), ["b", "a", "panics"]);
    assert_eq!(tools.len(), 3);
    assert!(
        tools
            .get("panics")
            .is_some_and(|tool| tool.can_change_files())
    );
    assert!(tools.get("a").is_some_and(|tool| tool.supports_parallel()));
    assert!(tools.get("nope").is_none());
    let specs: Vec<String> = tools.specs().iter().map(|spec| spec.name.clone()).collect();
    assert_eq!(specs, ["b", "a", "panics"]);
}

#[test]
fn subset_keeps_the_registry_order_and_refuses_a_tool_it_does_not_have() {
    let tools = ToolRegistry::new()
        .with(repeat("one"))
        .with(repeat("two"))
        .with(repeat("three"));
    let subset = tools.subset(["three", "one"]).expect("both exist");
    assert_eq!(subset.names().collect::<Vec<_>>(), ["one", "three"]);

    let error = tools
        .subset(["one", "shell"])
        .expect_err("shell is not there");
    assert!(matches!(&error, Error::UnknownTool { name, .. } if name == "shell"));
    assert_eq!(
        error.to_string(),
        "no tool is named `shell`; the session's tools are: one, two, three"
    );
    assert!(
        ToolRegistry::new()
            .subset(Vec::<String>::new())
            .expect("nothing asked")
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn tools_registered_on_the_builder_are_called_through_the_task_context() {
    let task = caller(vec![
        ("repeat", r#"{"text":"ab","times":3}"#),
        ("noargs", ""),
    ]);
    let mut session = TestSession::builder()
        .task(task.registration())
        .configure(|builder| builder.tool(repeat("repeat")).tool(repeat("noargs")))
        .build();

    let events = session.run(custom("caller")).await;

    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("repeat,noargs".into())
        })
    );
    let outputs = outputs(&session.history());
    assert_eq!(outputs[0], ("call-0: ababab".to_owned(), true));
    // Empty arguments read as `{}`, which lacks the required fields.
    assert!(!outputs[1].1);
    assert!(
        outputs[1].0.contains("missing field `text`"),
        "{}",
        outputs[1].0
    );
}

#[tokio::test(start_paused = true)]
async fn a_model_calling_wrongly_gets_outputs_saying_so_and_the_turn_goes_on() {
    let task = caller(vec![
        ("no_such_tool", "{}"),
        ("repeat", "{not json"),
        ("repeat", "[1, 2]"),
        ("repeat", r#"{"text": 7, "times": 1}"#),
        ("panics", "{}"),
        ("repeat", r#"{"text":"still here","times":1}"#),
    ]);
    let mut session = TestSession::builder()
        .task(task.registration())
        .configure(|builder| builder.tool(repeat("repeat")).tool(Panics))
        .build();

    let events = session.run(custom("caller")).await;

    assert!(
        events
            .iter()
            .all(|event| !matches!(event.msg, EventMsg::Error { .. })),
        "{events:?}"
    );
    let outputs = outputs(&session.history());
    let texts: Vec<&str> = outputs.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(
        texts[0],
        "there is no tool named `no_such_tool`; the tools you can call are: repeat, panics"
    );
    assert!(
        texts[1].starts_with("the arguments of `repeat` are not valid JSON: "),
        "{}",
        texts[1]
    );
    assert_eq!(
        texts[2],
        "the arguments of `repeat` must be a JSON object; call it again with an object that follows its JSON schema"
    );
    assert!(
        texts[3].starts_with("the arguments of `repeat` do not match its parameters: invalid type: integer `7`, expected a string"),
        "{}",
        texts[3]
    );
    assert_eq!(
        texts[4],
        "the tool `panics` failed unexpectedly (it panicked); do not retry the same call"
    );
    assert_eq!(texts[5], "call-5: still here");
    let successes: Vec<bool> = outputs.iter().map(|(_, success)| *success).collect();
    assert_eq!(successes, [false, false, false, false, false, true]);
}

#[test]
fn an_output_becomes_the_history_item_answering_its_call() {
    assert_eq!(
        ToolOutput::failure("nope").into_item("call-9"),
        ResponseItem::FunctionCallOutput {
            call_id: "call-9".into(),
            output: "nope".into(),
            success: Some(false),
        }
    );
}
