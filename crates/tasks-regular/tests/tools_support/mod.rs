//! A stand-in for the agent turn that drives the built-in tools the way a turn does: it reads
//! its input as a script of model responses (each a list of tool calls), dispatches every call
//! through the session's `ToolRegistry`, in parallel when every tool of the response allows it,
//! records calls and outputs in the history, and shows each output as a `tool_output` custom
//! event, so snapshots show what the model would read.

#![allow(
    dead_code,
    reason = "each test file uses a different subset of the helpers"
)]

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use turnkit_protocol::{
    ApprovalPolicy, Event, EventMsg, Op, ResponseItem, SandboxPolicy, TaskKind, TurnAbortReason,
    UserInput,
};
use turnkit_session_core::{
    CancellationToken, SessionTask, TaskContext, TaskRegistration, TaskResult, ToolOutput,
    ToolRegistry,
};
use turnkit_tasks_regular::BuiltinTools;
use turnkit_testkit::{TestSession, TestSessionBuilder};

/// One tool call of a scripted response.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Call {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) arguments: Value,
}

/// The scripted turn: input text that is a JSON list of responses runs them; any other text
/// is echoed as the final message.
pub(crate) struct ScriptedTurn;

#[async_trait::async_trait]
impl SessionTask for ScriptedTurn {
    fn kind(&self) -> TaskKind {
        TaskKind::REGULAR
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        let text: String = input
            .iter()
            .filter_map(|item| match item {
                UserInput::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let Ok(responses) = serde_json::from_str::<Vec<Vec<Call>>>(&text) else {
            return Ok(Some(format!("done: {text}")));
        };
        let mut last = None;
        for (response, calls) in responses.into_iter().enumerate() {
            let ids: Vec<String> = (0..calls.len())
                .map(|index| format!("{}:{response}.{index}", ctx.session_id()))
                .collect();
            ctx.record_items(
                calls
                    .iter()
                    .zip(&ids)
                    .map(|(call, id)| ResponseItem::FunctionCall {
                        call_id: id.clone(),
                        name: call.name.clone(),
                        arguments: call.arguments.to_string(),
                    }),
            );
            let tools = ctx.tools().clone();
            let parallel = calls.iter().all(|call| {
                tools
                    .get(&call.name)
                    .is_some_and(|tool| tool.supports_parallel())
            });
            let outputs: Vec<ToolOutput> = if parallel {
                futures_util::future::join_all(
                    calls
                        .iter()
                        .zip(&ids)
                        .map(|(call, id)| dispatch(&tools, &ctx, call, id, &cancellation_token)),
                )
                .await
            } else {
                let mut outputs = Vec::new();
                for (call, id) in calls.iter().zip(&ids) {
                    if cancellation_token.is_cancelled() {
                        break;
                    }
                    outputs.push(dispatch(&tools, &ctx, call, id, &cancellation_token).await);
                }
                outputs
            };
            for (output, id) in outputs.into_iter().zip(&ids) {
                ctx.send_event(EventMsg::Custom {
                    name: "tool_output".into(),
                    payload: json!({ "call_id": id, "success": output.success, "text": output.text }),
                });
                last = Some(output.text.clone());
                ctx.record_items([output.into_item(id.clone())]);
            }
            if cancellation_token.is_cancelled() {
                return Ok(None);
            }
        }
        Ok(last)
    }
}

/// Runs one call as a turn does: through the registry, under a child of the turn's token.
async fn dispatch(
    tools: &ToolRegistry,
    ctx: &Arc<TaskContext>,
    call: &Call,
    id: &str,
    cancellation_token: &CancellationToken,
) -> ToolOutput {
    tools
        .dispatch(
            Arc::clone(ctx),
            id,
            &call.name,
            &call.arguments.to_string(),
            cancellation_token.child_token(),
        )
        .await
}

/// The scripted turn's registration: takes steered input, and waits long enough for an
/// interrupted command to be killed and reported (exec's kill grace and drain, and a margin).
pub(crate) fn registration() -> TaskRegistration {
    TaskRegistration::new(TaskKind::REGULAR, |_op| Ok(Arc::new(ScriptedTurn)))
        .accepts_input(true)
        .grace_period(Duration::from_secs(4))
}

/// A test session with the scripted turn, the built-in tools (subagents on) and `policy`.
pub(crate) fn session(policy: ApprovalPolicy) -> TestSession {
    builder(policy, BuiltinTools::new().subagents(true)).build()
}

/// A test session builder with the scripted turn, `tools` and `policy`.
pub(crate) fn builder(policy: ApprovalPolicy, tools: BuiltinTools) -> TestSessionBuilder {
    TestSession::builder()
        .task(registration())
        .configure(move |builder| {
            builder
                .tool_registry(tools.registry())
                .approval_policy(policy)
                // These tests are about the tools and approvals; tests/sandbox.rs confines.
                .sandbox_policy(SandboxPolicy::FullAccess)
        })
        .event_timeout(Duration::from_secs(60))
}

/// User input that runs `responses` (each a list of `(tool, arguments)`) in the scripted turn.
pub(crate) fn script(responses: &[&[(&str, Value)]]) -> Op {
    Op::UserInput {
        items: vec![UserInput::text(script_text(responses))],
    }
}

/// The script text itself (a subagent's task, for a child running the scripted turn).
pub(crate) fn script_text(responses: &[&[(&str, Value)]]) -> String {
    let responses: Vec<Vec<Value>> = responses
        .iter()
        .map(|calls| {
            calls
                .iter()
                .map(|(name, arguments)| json!({ "name": name, "arguments": arguments }))
                .collect()
        })
        .collect();
    serde_json::to_string(&responses).expect("a script serialises")
}

/// The `type` of each event.
pub(crate) fn types(events: &[Event]) -> Vec<String> {
    events.iter().map(|event| type_of(&event.msg)).collect()
}

pub(crate) fn type_of(msg: &EventMsg) -> String {
    serde_json::to_value(msg).expect("events serialise")["type"]
        .as_str()
        .expect("every event has a type")
        .to_owned()
}

/// The `tool_output` payloads, in order.
pub(crate) fn tool_outputs(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::Custom { name, payload } if name == "tool_output" => Some(payload.clone()),
            _ => None,
        })
        .collect()
}

/// The session's normalised events, with the wall time a command took made stable too.
pub(crate) fn normalize(session: &TestSession, events: &[Event]) -> Value {
    let mut value = session.normalize(events);
    stabilise_wall_time(&mut value);
    value
}

pub(crate) fn stabilise_wall_time(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Some(start) = text.find("Wall time: ") {
                let rest = &text[start + "Wall time: ".len()..];
                if let Some(end) = rest.find(" seconds") {
                    let number = start + "Wall time: ".len();
                    text.replace_range(number..number + end, "<duration>");
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(stabilise_wall_time),
        Value::Object(fields) => fields.values_mut().for_each(stabilise_wall_time),
        _ => {}
    }
}

/// The approval id of an `approval_requested` event.
pub(crate) fn approval_id(event: &Event) -> String {
    match &event.msg {
        EventMsg::ApprovalRequested { approval_id, .. } => approval_id.clone(),
        other => panic!("expected an approval request, got {other:?}"),
    }
}

pub(crate) fn is_approval(event: &Event) -> bool {
    matches!(event.msg, EventMsg::ApprovalRequested { .. })
}

/// Asserts the turn's last event is `turn_aborted { interrupted }`.
pub(crate) fn assert_interrupted(events: &[Event]) {
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TurnAborted {
            reason: TurnAbortReason::Interrupted
        }),
        "{events:#?}"
    );
}
