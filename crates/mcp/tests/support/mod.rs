//! What the MCP client's tests share: the test server's program, sessions with a scripted
//! model and the servers' tools, and event helpers.

#![allow(
    dead_code,
    reason = "each test file uses a different subset of the helpers"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use turnkit::model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit::testkit::TestSession;
use turnkit::{ApprovalPolicy, Event, EventMsg, Op, ReviewDecision};
use turnkit_mcp::client::{McpClients, McpServerConfig};

/// The test MCP server (`examples/mcp_test_server`), which `cargo test` and `cargo nextest`
/// build beside the test binaries (`target/<profile>/examples/`).
pub(crate) fn server_program() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let program = profile_dir
        .join("examples")
        .join(format!("mcp_test_server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        program.exists(),
        "{} is missing: build it with `cargo build -p turnkit-mcp --examples` (cargo test does)",
        program.display()
    );
    program
}

/// The test server as a stdio server named `name`, started with `args`.
pub(crate) fn server(name: &str, args: &[&str]) -> McpServerConfig {
    McpServerConfig::stdio(
        name,
        server_program().to_string_lossy().into_owned(),
        args.iter().copied(),
    )
}

/// A test session running the regular turn with `model`, under `policy`, with the tools of
/// `clients` registered the way a user does it.
///
/// Only the regular kind is registered (not `turnkit::builder()`'s every enabled kind), so the
/// events are the same whichever features the workspace build turns on: ghost snapshots, on
/// with `full`, would add a notice that the temporary directory is not a git repository.
pub(crate) fn session(
    clients: McpClients,
    model: &ScriptedModel,
    policy: ApprovalPolicy,
) -> TestSession {
    let builder = turnkit::Session::builder()
        .task(turnkit::tasks_regular::registration())
        .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
        .approval_policy(policy);
    TestSession::from_builder(clients.register(builder))
        .event_timeout(Duration::from_secs(60))
        .build()
}

/// A model turn that calls `name` with `arguments`.
pub(crate) fn call(call_id: &str, name: &str, arguments: Value) -> ScriptedTurn {
    ScriptedTurn::new().function_call(call_id, name, arguments)
}

/// A model turn that ends with `text`.
pub(crate) fn say(text: &str) -> ScriptedTurn {
    ScriptedTurn::new().message(text)
}

/// The `type` of each event.
pub(crate) fn types(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            serde_json::to_value(&event.msg).expect("events serialise")["type"]
                .as_str()
                .expect("every event has a type")
                .to_owned()
        })
        .collect()
}

/// The approval requests among `events`.
pub(crate) fn approvals(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .collect()
}

/// The approval id of an `approval_requested` event.
pub(crate) fn approval_id(event: &Event) -> String {
    match &event.msg {
        EventMsg::ApprovalRequested { approval_id, .. } => approval_id.clone(),
        other => panic!("expected an approval request, got {other:?}"),
    }
}

/// Whether `event` is an approval request.
pub(crate) fn is_approval(event: &Event) -> bool {
    matches!(event.msg, EventMsg::ApprovalRequested { .. })
}

/// Waits for the session's next approval request and answers it with `decision`.
pub(crate) async fn answer_next_approval(session: &mut TestSession, decision: ReviewDecision) {
    let asked = session.events_until(is_approval).await;
    session.submit(Op::DecideApproval {
        id: approval_id(asked.last().expect("an approval request")),
        decision,
    });
}

/// The warnings' messages among `events`.
pub(crate) fn warnings(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::Warning { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// The `mcp_tool_call_end` events, as JSON.
pub(crate) fn call_ends(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .filter(|event| matches!(event.msg, EventMsg::McpToolCallEnd { .. }))
        .map(|event| serde_json::to_value(&event.msg).expect("events serialise"))
        .collect()
}

/// The output the model read for `call_id` in its next request, from the history.
pub(crate) fn output_of(session: &TestSession, call_id: &str) -> (String, Option<bool>) {
    session
        .history()
        .into_iter()
        .find_map(|item| match item {
            turnkit::ResponseItem::FunctionCallOutput {
                call_id: id,
                output,
                success,
            } if id == call_id => Some((output, success)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no output for {call_id} in the history"))
}

/// Waits until `check` holds, polling, for at most `limit`.
pub(crate) async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// The pids the test server wrote with `--pid-file` (itself and its `sleep` child).
pub(crate) async fn read_pids(path: &Path) -> (u32, u32) {
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some((server, child)) = text.trim().split_once(' ')
            && let (Ok(server), Ok(child)) = (server.parse(), child.parse())
        {
            return (server, child);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the test server wrote no pid file at {}", path.display());
}
