//! `turnkit acp` as a process, driven by a real ACP client (the SDK's client side): a prompt
//! with a shell call and an approved permission request, cancels during a command, a
//! permission request and streaming (each answered `cancelled` exactly once, then the next
//! prompt works), and a stored session loaded by a second process. The JSON-RPC traffic is
//! recorded on the wire and snapshotted, normalised.

mod support;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_client_protocol::schema::ProtocolVersion;
use agent_client_protocol::v1::schema::{
    CancelNotification, ContentBlock, InitializeRequest, LoadSessionRequest, McpServer,
    McpServerStdio, NewSessionRequest, PromptRequest, RequestPermissionOutcome,
    RequestPermissionRequest, RequestPermissionResponse, SelectedPermissionOutcome,
    SessionNotification, SessionUpdate, StopReason, TextContent, ToolCallStatus,
};
use agent_client_protocol::v1::{ConnectionTo, Responder};
use agent_client_protocol::{Agent, Client, Lines};
use serde_json::{Value, json};
use support::{Project, mcp_test_server, wait_for_pid};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Every wait in these tests; CI is a slow two-core machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// What went over the wire, in order, each line with its direction.
type Wire = Arc<Mutex<Vec<(&'static str, Value)>>>;

/// What the client's handlers pass on to the test.
struct Inbox {
    updates: mpsc::UnboundedReceiver<SessionNotification>,
    permissions: mpsc::UnboundedReceiver<(
        RequestPermissionRequest,
        Responder<RequestPermissionResponse>,
    )>,
}

impl Inbox {
    /// Waits for an update that `matches`, skipping others.
    async fn update(&mut self, what: &str, matches: impl Fn(&SessionUpdate) -> bool) {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let notification = self.updates.recv().await.expect("the agent is connected");
                if matches(&notification.update) {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}"));
    }

    async fn permission(
        &mut self,
    ) -> (
        RequestPermissionRequest,
        Responder<RequestPermissionResponse>,
    ) {
        tokio::time::timeout(PATIENCE, self.permissions.recv())
            .await
            .expect("a permission request in time")
            .expect("the agent is connected")
    }
}

/// Runs `turnkit acp ARGS` in the project and drives it with `drive` as an ACP client; returns
/// what `drive` returns and the recorded traffic, once the process has exited.
async fn with_agent<R: Send + 'static>(
    project: &Project,
    args: &[&str],
    drive: impl AsyncFnOnce(ConnectionTo<Agent>, Inbox) -> R + Send + 'static,
) -> (R, Vec<(&'static str, Value)>) {
    let mut command = tokio::process::Command::from(project.command(&[&["acp"], args].concat()));
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("start turnkit acp");
    let wire: Wire = Arc::default();

    let stdin = child.stdin.take().expect("piped stdin");
    let sent = Arc::clone(&wire);
    let outgoing = futures_util::sink::unfold(stdin, move |mut stdin, line: String| {
        let sent = Arc::clone(&sent);
        async move {
            record(&sent, "client", &line);
            stdin.write_all(line.as_bytes()).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await?;
            Ok::<_, std::io::Error>(stdin)
        }
    });
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let received = Arc::clone(&wire);
    let incoming = futures_util::stream::unfold(stdout, move |mut lines| {
        let received = Arc::clone(&received);
        async move {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    record(&received, "agent", &line);
                    Some((Ok(line), lines))
                }
                Ok(None) => None,
                Err(error) => Some((Err(error), lines)),
            }
        }
    });

    let (updates_tx, updates) = mpsc::unbounded_channel();
    let (permissions_tx, permissions) = mpsc::unbounded_channel();
    let inbox = Inbox {
        updates,
        permissions,
    };
    let result = tokio::time::timeout(
        PATIENCE * 3,
        Client
            .v1()
            .name("turnkit-acp-test")
            .on_receive_notification(
                async move |notification: SessionNotification, _cx| {
                    let _ = updates_tx.send(notification);
                    Ok(())
                },
                agent_client_protocol::on_receive_notification!(),
            )
            .on_receive_request(
                async move |request: RequestPermissionRequest, responder, _cx| {
                    let _ = permissions_tx.send((request, responder));
                    Ok(())
                },
                agent_client_protocol::on_receive_request!(),
            )
            .connect_with(Lines::new(outgoing, incoming), async move |cx| {
                Ok(drive(cx, inbox).await)
            }),
    )
    .await
    .expect("the client finished in time")
    .expect("the ACP connection worked");
    // The connection is closed: the agent shuts its sessions down and exits.
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("turnkit acp exits once stdin closes")
        .expect("wait for turnkit acp");
    assert!(status.success(), "turnkit acp exited with {status}");
    let wire = wire.lock().expect("the wire log").clone();
    (result, wire)
}

fn record(wire: &Wire, from: &'static str, line: &str) {
    let value = serde_json::from_str(line)
        .unwrap_or_else(|error| panic!("{from} sent a line that is not JSON ({error}): {line}"));
    wire.lock().expect("the wire log").push((from, value));
}

async fn initialize(cx: &ConnectionTo<Agent>) {
    let response = cx
        .send_request(InitializeRequest::new(ProtocolVersion::V1))
        .block_task()
        .await
        .expect("initialize");
    assert!(response.agent_capabilities.load_session);
}

async fn new_session(cx: &ConnectionTo<Agent>, project: &std::path::Path) -> String {
    let response = cx
        .send_request(NewSessionRequest::new(project))
        .block_task()
        .await
        .expect("session/new");
    response.session_id.0.to_string()
}

fn prompt(session_id: &str, text: &str) -> PromptRequest {
    PromptRequest::new(
        session_id.to_owned(),
        vec![ContentBlock::Text(TextContent::new(text))],
    )
}

async fn stop_reason(
    request: agent_client_protocol::v1::SentRequest<
        agent_client_protocol::v1::schema::PromptResponse,
    >,
) -> StopReason {
    tokio::time::timeout(PATIENCE, request.block_task())
        .await
        .expect("the prompt is answered in time")
        .expect("the prompt succeeds")
        .stop_reason
}

fn select(option: &str) -> RequestPermissionResponse {
    RequestPermissionResponse::new(RequestPermissionOutcome::Selected(
        SelectedPermissionOutcome::new(option.to_owned()),
    ))
}

/// The traffic as reviewable data: each direction on its own (their interleaving depends on
/// timing), JSON-RPC ids numbered by first use, the session id, the project's path and
/// durations replaced.
fn normalise(wire: &[(&'static str, Value)], project: &Project) -> Value {
    let project_path = project.path().display().to_string();
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut sessions: HashMap<String, usize> = HashMap::new();
    // Session ids also appear inside messages (an error naming the session).
    let mut session_texts: Vec<(String, String)> = Vec::new();
    for (_, message) in wire {
        if let Some(Value::String(id)) = message
            .pointer("/params/sessionId")
            .or_else(|| message.pointer("/result/sessionId"))
        {
            let name = placeholder(&mut sessions, &Value::String(id.clone()), "session");
            if !session_texts.iter().any(|(seen, _)| seen == id) {
                session_texts.push((id.clone(), name.as_str().unwrap_or_default().to_owned()));
            }
        }
    }
    let mut by_side: HashMap<&str, Vec<Value>> = HashMap::new();
    for (from, message) in wire {
        let mut message = message.clone();
        for key in ["id"] {
            if let Some(id) = message.get_mut(key) {
                *id = placeholder(&mut ids, id, "id");
            }
        }
        if let Some(id) = message.pointer_mut("/params/requestId") {
            *id = placeholder(&mut ids, id, "id");
        }
        rewrite(&mut message, &mut sessions, &project_path, &session_texts);
        by_side.entry(from).or_default().push(message);
    }
    json!({
        "client_to_agent": by_side.remove("client").unwrap_or_default(),
        "agent_to_client": by_side.remove("agent").unwrap_or_default(),
    })
}

fn placeholder(seen: &mut HashMap<String, usize>, value: &Value, name: &str) -> Value {
    let key = value.to_string();
    let next = seen.len() + 1;
    let number = *seen.entry(key).or_insert(next);
    Value::String(format!("<{name}-{number}>"))
}

fn rewrite(
    value: &mut Value,
    sessions: &mut HashMap<String, usize>,
    project: &str,
    session_texts: &[(String, String)],
) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if key == "sessionId" {
                    *field = placeholder(sessions, field, "session");
                } else if key == "duration_ms" {
                    *field = json!("<ms>");
                } else {
                    rewrite(field, sessions, project, session_texts);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite(item, sessions, project, session_texts)),
        Value::String(text) => {
            *text = text.replace(project, "<project>");
            for (id, name) in session_texts {
                *text = text.replace(id.as_str(), name);
            }
        }
        _ => {}
    }
}

/// How many answers went to the client's request `id`, and their results.
fn answers_to(wire: &[(&'static str, Value)], id: &Value) -> Vec<Value> {
    wire.iter()
        .filter(|(from, message)| {
            *from == "agent" && message.get("id") == Some(id) && message.get("method").is_none()
        })
        .map(|(_, message)| message.clone())
        .collect()
}

/// The JSON-RPC id of the client's `n`th `session/prompt` (from 0).
fn prompt_id(wire: &[(&'static str, Value)], n: usize) -> Value {
    wire.iter()
        .filter(|(from, message)| *from == "client" && message["method"] == "session/prompt")
        .nth(n)
        .map(|(_, message)| message["id"].clone())
        .expect("the prompt was sent")
}

fn assert_cancelled_exactly_once(wire: &[(&'static str, Value)], prompt: usize) {
    let answers = answers_to(wire, &prompt_id(wire, prompt));
    assert_eq!(
        answers.len(),
        1,
        "one answer to the cancelled prompt: {answers:?}"
    );
    assert_eq!(
        answers[0]["result"]["stopReason"], "cancelled",
        "{answers:?}"
    );
}

fn process_is_gone(pid: u32) -> bool {
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::time::Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // A zombie has run its course; only its parent's reaping is left.
            Ok(stat)
                if !stat
                    .rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')) =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => return true,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_runs_a_shell_call_after_an_approved_permission_request() {
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [
        { "steps": [
            { "type": "reasoning", "text": "I should look first." },
            { "type": "function_call", "call_id": "call-1", "name": "shell",
              "arguments": { "command": ["sh", "-c", "echo hello > greeting.txt && cat greeting.txt"] } }
        ] },
        { "steps": [{ "type": "message", "text": "I wrote the greeting.", "deltas": ["I wrote ", "the greeting."] }] }
    ]}));
    let dir = project.path();
    let ((stop, permission), wire) = with_agent(
        &project,
        &[
            "--approval-policy",
            "always",
            "--scripted",
            script.to_str().expect("utf-8"),
        ],
        async move |cx, mut inbox| {
            initialize(&cx).await;
            let session = new_session(&cx, &dir).await;
            let running = cx.send_request(prompt(&session, "write a greeting"));
            let (request, responder) = inbox.permission().await;
            assert!(
                !dir.join("greeting.txt").exists(),
                "nothing runs before the approval"
            );
            responder
                .respond(select("approved"))
                .expect("answer the permission request");
            (stop_reason(running).await, request)
        },
    )
    .await;
    assert_eq!(stop, StopReason::EndTurn);
    assert_eq!(permission.tool_call.tool_call_id.0.as_ref(), "call-1");
    assert_eq!(
        std::fs::read_to_string(project.path().join("greeting.txt")).expect("the command ran"),
        "hello\n"
    );
    insta::assert_json_snapshot!(normalise(&wire, &project));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_command_kills_it_and_answers_cancelled_once() {
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["sh", "-c", "echo $$ > pid.txt; exec sleep 30"] } }] },
        { "steps": [{ "type": "message", "text": "Still here." }] }
    ]}));
    let dir = project.path();
    let ((first, second, pid), wire) = with_agent(
        &project,
        &["--approval-policy", "never", "--scripted", script.to_str().expect("utf-8")],
        async move |cx, mut inbox| {
            initialize(&cx).await;
            let session = new_session(&cx, &dir).await;
            let running = cx.send_request(prompt(&session, "wait a while"));
            inbox
                .update("the command's tool call", |update| matches!(update, SessionUpdate::ToolCall(call) if call.status == ToolCallStatus::InProgress))
                .await;
            let pid_file = dir.join("pid.txt");
            let pid = tokio::task::spawn_blocking(move || wait_for_pid(&pid_file))
                .await
                .expect("the pid");
            cx.send_notification(CancelNotification::new(session.clone()))
                .expect("send session/cancel");
            let first = stop_reason(running).await;
            let second = stop_reason(cx.send_request(prompt(&session, "are you there?"))).await;
            (first, second, pid)
        },
    )
    .await;
    assert_eq!(first, StopReason::Cancelled);
    assert_eq!(second, StopReason::EndTurn);
    assert!(
        process_is_gone(pid),
        "the cancelled command {pid} is still running"
    );
    assert_cancelled_exactly_once(&wire, 0);
    insta::assert_json_snapshot!(normalise(&wire, &project));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_permission_request_answers_cancelled_once_and_runs_nothing() {
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["touch", "made.txt"] } }] },
        { "steps": [{ "type": "message", "text": "Nothing was made." }] }
    ]}));
    let dir = project.path();
    let ((first, second), wire) = with_agent(
        &project,
        &[
            "--approval-policy",
            "always",
            "--scripted",
            script.to_str().expect("utf-8"),
        ],
        async move |cx, mut inbox| {
            initialize(&cx).await;
            let session = new_session(&cx, &dir).await;
            let running = cx.send_request(prompt(&session, "make a file"));
            let (_request, responder) = inbox.permission().await;
            cx.send_notification(CancelNotification::new(session.clone()))
                .expect("send session/cancel");
            // The agent withdraws the request ($/cancel_request)...
            tokio::time::timeout(PATIENCE, responder.cancellation().cancelled())
                .await
                .expect("the agent withdraws its permission request");
            // ...and the protocol asks the client to answer its pending permission requests
            // `cancelled` once it has sent session/cancel.
            responder
                .respond(RequestPermissionResponse::new(
                    RequestPermissionOutcome::Cancelled,
                ))
                .expect("answer the permission request");
            let first = stop_reason(running).await;
            let second = stop_reason(cx.send_request(prompt(&session, "and now?"))).await;
            (first, second)
        },
    )
    .await;
    assert_eq!(first, StopReason::Cancelled);
    assert_eq!(second, StopReason::EndTurn);
    assert!(
        !project.path().join("made.txt").exists(),
        "the command never ran"
    );
    assert_cancelled_exactly_once(&wire, 0);
    insta::assert_json_snapshot!(normalise(&wire, &project));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_streaming_answers_cancelled_once_and_a_second_prompt_is_refused_meanwhile()
{
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [
        { "steps": [
            { "type": "text_delta", "delta": "Let me think" },
            { "type": "sleep", "ms": 30000 },
            { "type": "message", "text": "never said" }
        ] },
        { "steps": [{ "type": "message", "text": "Back again." }] }
    ]}));
    let dir = project.path();
    let ((first, busy, unknown, second), wire) = with_agent(
        &project,
        &["--scripted", script.to_str().expect("utf-8")],
        async move |cx, mut inbox| {
            initialize(&cx).await;
            let session = new_session(&cx, &dir).await;
            let running = cx.send_request(prompt(&session, "think hard"));
            inbox
                .update("the first chunk", |update| {
                    matches!(update, SessionUpdate::AgentMessageChunk(_))
                })
                .await;
            let busy = cx
                .send_request(prompt(&session, "me too"))
                .block_task()
                .await
                .expect_err("a second prompt while one runs is refused");
            let unknown = cx
                .send_request(prompt("no-such-session", "hello?"))
                .block_task()
                .await
                .expect_err("an unknown session is refused");
            cx.send_notification(CancelNotification::new(session.clone()))
                .expect("send session/cancel");
            let first = stop_reason(running).await;
            let second = stop_reason(cx.send_request(prompt(&session, "again"))).await;
            (first, busy, unknown, second)
        },
    )
    .await;
    assert_eq!(first, StopReason::Cancelled);
    assert_eq!(second, StopReason::EndTurn);
    assert_eq!(
        busy.code,
        agent_client_protocol::ErrorCode::INVALID_REQUEST,
        "{busy:?}"
    );
    assert!(busy.message.contains("already running"), "{busy:?}");
    assert_eq!(
        unknown.code,
        agent_client_protocol::ErrorCode::RESOURCE_NOT_FOUND,
        "{unknown:?}"
    );
    assert!(unknown.message.contains("no-such-session"), "{unknown:?}");
    assert_cancelled_exactly_once(&wire, 0);
    insta::assert_json_snapshot!(normalise(&wire, &project));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_session_is_loaded_with_its_history_replayed_and_goes_on() {
    let project = Project::new(&[]);
    let first_script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "message", "text": "The answer is 42." }] }
    ]}));
    let dir = project.path();
    let (session, _) = with_agent(
        &project,
        &["--scripted", first_script.to_str().expect("utf-8")],
        async move |cx, _inbox| {
            initialize(&cx).await;
            let session = new_session(&cx, &dir).await;
            assert_eq!(
                stop_reason(cx.send_request(prompt(&session, "what is the answer?"))).await,
                StopReason::EndTurn
            );
            session
        },
    )
    .await;
    assert_eq!(project.rollouts().len(), 1, "the session is stored");

    let second_script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "message", "text": "Still 42." }] }
    ]}));
    let dir = project.path();
    let loaded_id = session.clone();
    let (stop, wire) = with_agent(
        &project,
        &["--scripted", second_script.to_str().expect("utf-8")],
        async move |cx, _inbox| {
            initialize(&cx).await;
            cx.send_request(LoadSessionRequest::new(loaded_id.clone(), &dir))
                .block_task()
                .await
                .expect("session/load");
            let missing = cx
                .send_request(LoadSessionRequest::new("0-000000", &dir))
                .block_task()
                .await
                .expect_err("an unknown id is refused");
            assert_eq!(
                missing.code,
                agent_client_protocol::ErrorCode::RESOURCE_NOT_FOUND
            );
            stop_reason(cx.send_request(prompt(&loaded_id, "sure?"))).await
        },
    )
    .await;
    assert_eq!(stop, StopReason::EndTurn);
    // The replay comes before the answer to session/load.
    let load_id = wire
        .iter()
        .find(|(from, message)| *from == "client" && message["method"] == "session/load")
        .map(|(_, message)| message["id"].clone())
        .expect("session/load was sent");
    let load_answer = wire
        .iter()
        .position(|(from, message)| {
            *from == "agent" && message["id"] == load_id && message.get("result").is_some()
        })
        .expect("session/load was answered");
    let replayed: Vec<&Value> = wire[..load_answer]
        .iter()
        .filter(|(from, message)| *from == "agent" && message["method"] == "session/update")
        .map(|(_, message)| &message["params"]["update"])
        .collect();
    assert_eq!(
        replayed,
        [
            &json!({ "sessionUpdate": "user_message_chunk", "content": { "type": "text", "text": "what is the answer?" } }),
            &json!({ "sessionUpdate": "agent_message_chunk", "content": { "type": "text", "text": "The answer is 42." } }),
        ]
    );
    insta::assert_json_snapshot!(normalise(&wire, &project));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editors_mcp_server_offers_its_tools_and_a_writing_call_asks_permission_first() {
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "files__write_file",
                      "arguments": { "path": "note.txt", "text": "from the editor's server" } }] },
        { "steps": [{ "type": "message", "text": "Wrote note.txt." }] }
    ]}));
    let dir = project.path();
    let server = mcp_test_server();
    let ((stop, permission, finished), _wire) = with_agent(
        &project,
        &[
            "--approval-policy",
            "untrusted",
            "--scripted",
            script.to_str().expect("utf-8"),
        ],
        async move |cx, mut inbox| {
            initialize(&cx).await;
            let request = NewSessionRequest::new(dir.clone())
                .mcp_servers(vec![McpServer::Stdio(McpServerStdio::new("files", server))]);
            let session = cx
                .send_request(request)
                .block_task()
                .await
                .expect("session/new with the editor's MCP server")
                .session_id
                .0
                .to_string();
            let running = cx.send_request(prompt(&session, "write a note"));
            let (permission, responder) = inbox.permission().await;
            assert!(
                !dir.join("note.txt").exists(),
                "the MCP tool is not called before the permission"
            );
            responder
                .respond(select("approved"))
                .expect("answer the permission request");
            let finished = tokio::time::timeout(PATIENCE, async {
                loop {
                    let notification = inbox.updates.recv().await.expect("connected");
                    if let SessionUpdate::ToolCallUpdate(update) = &notification.update
                        && update.fields.status == Some(ToolCallStatus::Completed)
                    {
                        return update.tool_call_id.0.to_string();
                    }
                }
            })
            .await
            .expect("the MCP call completes");
            (stop_reason(running).await, permission, finished)
        },
    )
    .await;
    assert_eq!(stop, StopReason::EndTurn);
    assert_eq!(permission.tool_call.tool_call_id.0.as_ref(), "call-1");
    assert_eq!(finished, "call-1");
    assert_eq!(
        std::fs::read_to_string(project.path().join("note.txt")).expect("the MCP tool wrote"),
        "from the editor's server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_to_a_file_is_shown_as_the_whole_file_before_and_after() {
    let before: String = (1..=30)
        .map(|n| format!("line {n}\n"))
        .collect::<Vec<_>>()
        .concat();
    let after = before.replace("line 15\n", "line fifteen\n");
    let project = Project::new(&[("notes.txt", before.as_str())]);
    let patch =
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n-line 15\n+line fifteen\n*** End Patch\n";
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "apply_patch",
                      "arguments": { "input": patch } }] },
        { "steps": [{ "type": "message", "text": "Renamed line 15." }] }
    ]}));
    let dir = project.path();
    let (stop, wire) = with_agent(
        &project,
        &[
            "--approval-policy",
            "never",
            "--scripted",
            script.to_str().expect("utf-8"),
        ],
        async move |cx, _inbox| {
            initialize(&cx).await;
            let session = new_session(&cx, &dir).await;
            stop_reason(cx.send_request(prompt(&session, "rename line 15"))).await
        },
    )
    .await;
    assert_eq!(stop, StopReason::EndTurn);
    assert_eq!(
        std::fs::read_to_string(project.path().join("notes.txt")).expect("patched"),
        after
    );
    // Every diff the editor got for the call is the whole file, not the hunk's few lines.
    let diffs: Vec<&Value> = wire
        .iter()
        .filter(|(from, message)| *from == "agent" && message["method"] == "session/update")
        .filter_map(|(_, message)| message["params"]["update"]["content"].as_array())
        .flatten()
        .filter(|content| content["type"] == "diff")
        .collect();
    assert!(!diffs.is_empty(), "the edit was shown as a diff");
    for diff in diffs {
        assert_eq!(diff["oldText"], before.as_str(), "{diff}");
        assert_eq!(diff["newText"], after.as_str(), "{diff}");
        assert!(
            diff["path"]
                .as_str()
                .is_some_and(|path| path.ends_with("notes.txt")),
            "{diff}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_session_keeps_the_approval_policy_it_was_started_with() {
    let project = Project::new(&[]);
    // Started from the terminal under `untrusted`, where every command but a read-only one
    // asks first.
    let first = project.script(&json!({ "turns": [
        { "steps": [{ "type": "message", "text": "Ready." }] }
    ]}));
    let output = project.run(&[
        "exec",
        "--approval-policy",
        "untrusted",
        "--scripted",
        first.to_str().expect("utf-8"),
        "get ready",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let rollouts = project.rollouts();
    let session_id = rollouts[0]
        .file_stem()
        .and_then(|stem| stem.to_str())
        .expect("a session id")
        .to_owned();

    // Loaded by an editor that gives no policy: `touch` asks permission, which `on-request`
    // (the policy of a new session) would not.
    let second = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["touch", "asked.txt"] } }] },
        { "steps": [{ "type": "message", "text": "You said no." }] }
    ]}));
    let dir = project.path();
    let ((stop, asked), _wire) = with_agent(
        &project,
        &["--scripted", second.to_str().expect("utf-8")],
        async move |cx, mut inbox| {
            initialize(&cx).await;
            cx.send_request(LoadSessionRequest::new(session_id.clone(), &dir))
                .block_task()
                .await
                .expect("session/load");
            let running = cx.send_request(prompt(&session_id, "touch it"));
            let (request, responder) = inbox.permission().await;
            responder
                .respond(select("denied"))
                .expect("answer the permission request");
            (stop_reason(running).await, request)
        },
    )
    .await;
    assert_eq!(stop, StopReason::EndTurn);
    assert_eq!(asked.tool_call.tool_call_id.0.as_ref(), "call-1");
    assert!(!project.path().join("asked.txt").exists());
}
