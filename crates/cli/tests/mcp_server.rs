//! `turnkit mcp-server` as a process, driven by rmcp's own client over the child process's
//! stdin and stdout: the tool list, a scripted session and its continuation, a call
//! cancelled mid-command (its command killed), approvals answered through elicitation or
//! declined without it, and a clean shutdown when stdin closes.

// The log notifications the server sends are deprecated by the newest protocol revision,
// which the server does not speak.
#![allow(deprecated)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    ClientRequest, ElicitRequestParams, ElicitResult, ElicitationAction, Implementation,
    LoggingMessageNotificationParam, NumberOrString, ProgressNotificationParam, ProgressToken,
    RequestMetaObject,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use support::{Project, wait_for_pid};
use turnkit::protocol::{ContentItem, Role};
use turnkit::testkit::process::process_alive;
use turnkit::{EventMsg, ResponseItem, RolloutRecord};

/// Generous: the CI machine is a slow two-core one.
const TIMEOUT: Duration = Duration::from_secs(120);

/// What the client saw besides results.
#[derive(Default)]
struct Seen {
    progress: Vec<String>,
    logs: Vec<Value>,
    questions: Vec<String>,
}

/// rmcp's client; with a `decision` it declares elicitation and answers every question
/// with it.
#[derive(Clone)]
struct Client {
    decision: Option<&'static str>,
    seen: Arc<Mutex<Seen>>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.decision.is_some() {
            ClientCapabilities::builder().enable_elicitation().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(capabilities, Implementation::new("turnkit-test", "0.0.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.seen.lock().expect("lock").questions.push(message);
        }
        Ok(match self.decision {
            Some(decision) => ElicitResult::new(ElicitationAction::Accept)
                .with_content(json!({ "decision": decision })),
            None => ElicitResult::new(ElicitationAction::Decline),
        })
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Some(message) = params.message {
            self.seen.lock().expect("lock").progress.push(message);
        }
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.seen.lock().expect("lock").logs.push(params.data);
    }
}

/// A running `turnkit mcp-server` and the client connected to it.
struct Server {
    client: RunningService<RoleClient, Client>,
    seen: Arc<Mutex<Seen>>,
}

impl Server {
    /// Starts `turnkit mcp-server --scripted SCRIPT` in the project, connected over the
    /// child-process transport.
    async fn start(project: &Project, script: &Value, decision: Option<&'static str>) -> Self {
        Self::start_with(project, script, decision, &[]).await
    }

    /// [`Server::start`] with more flags.
    async fn start_with(
        project: &Project,
        script: &Value,
        decision: Option<&'static str>,
        flags: &[&str],
    ) -> Self {
        let script = project.script(script);
        let mut args = vec!["mcp-server", "--scripted", script.to_str().expect("utf-8")];
        args.extend_from_slice(flags);
        let command = tokio::process::Command::from(project.command(&args)).configure(|_| {});
        let transport = TokioChildProcess::new(command).expect("start turnkit mcp-server");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let client = tokio::time::timeout(
            TIMEOUT,
            Client {
                decision,
                seen: seen.clone(),
            }
            .serve(transport),
        )
        .await
        .expect("the handshake ends in time")
        .expect("the client connects");
        Server { client, seen }
    }

    async fn call(&self, arguments: Value) -> CallToolResult {
        call_in_time(&self.client, arguments).await
    }
}

/// Starts `turnkit mcp-server --scripted` with pipes of the test's own, so the test can
/// close its stdin, signal it and wait for it; the client is connected over the pipes.
async fn spawn_on_pipes(
    project: &Project,
    script: &Value,
) -> (tokio::process::Child, RunningService<RoleClient, Client>) {
    let script = project.script(script);
    let mut child = tokio::process::Command::from(project.command(&[
        "mcp-server",
        "--scripted",
        script.to_str().expect("utf-8"),
    ]))
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .expect("start turnkit mcp-server");
    let stdout = child.stdout.take().expect("stdout");
    let stdin = child.stdin.take().expect("stdin");
    let client = Client {
        decision: None,
        seen: Arc::default(),
    }
    .serve((stdout, stdin))
    .await
    .expect("the client connects");
    (child, client)
}

/// Calls `{"tool": NAME, ...arguments}` and waits for its answer, within [`TIMEOUT`].
async fn call_in_time(
    client: &RunningService<RoleClient, Client>,
    arguments: Value,
) -> CallToolResult {
    tokio::time::timeout(TIMEOUT, client.call_tool(call_of(arguments)))
        .await
        .expect("the call ends in time")
        .expect("the call is answered")
}

/// `{"tool": NAME, ...arguments}` as a call.
fn call_of(value: Value) -> CallToolRequestParams {
    let Value::Object(mut map) = value else {
        panic!("an object");
    };
    let name = map
        .remove("tool")
        .and_then(|name| name.as_str().map(str::to_owned))
        .expect("a tool name");
    CallToolRequestParams::new(name).with_arguments(map)
}

fn with_progress_token(mut params: CallToolRequestParams, token: i64) -> CallToolRequestParams {
    let mut meta = RequestMetaObject::new();
    meta.set_progress_token(ProgressToken(NumberOrString::Number(token)));
    params.meta = Some(meta);
    params
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn structured(result: &CallToolResult) -> &Value {
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}

/// The id of the session a call's result names.
fn session_id(result: &CallToolResult) -> String {
    structured(result)["session_id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

fn cwd(project: &Project) -> String {
    project.path().to_str().expect("utf-8").to_owned()
}

/// The records of the one rollout in the store.
fn rollout(project: &Project) -> Vec<RolloutRecord> {
    let rollouts = project.rollouts();
    assert_eq!(rollouts.len(), 1, "one stored session: {rollouts:?}");
    turnkit::read_rollout(&rollouts[0])
        .expect("a readable rollout")
        .0
}

/// The text of a user message in the history.
fn user_text(record: &RolloutRecord) -> Option<String> {
    match record {
        RolloutRecord::ResponseItem {
            item:
                ResponseItem::Message {
                    role: Role::User,
                    content,
                },
        } => Some(
            content
                .iter()
                .filter_map(|item| match item {
                    ContentItem::InputText { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_the_turnkit_and_turnkit_reply_tools() {
    let project = Project::new(&[]);
    let server = Server::start(&project, &json!({ "turns": [] }), None).await;
    let info = server
        .client
        .peer_info()
        .expect("the server introduced itself");
    assert_eq!(
        info.server_info.as_ref().map(|server| server.name.as_str()),
        Some("turnkit")
    );
    assert_eq!(info.protocol_version.to_string(), "2025-11-25");
    let tools = server
        .client
        .list_all_tools()
        .await
        .expect("the tools are listed");
    insta::assert_json_snapshot!(serde_json::to_value(&tools).expect("json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_session_runs_and_a_reply_continues_it_with_its_history() {
    let project = Project::new(&[("notes.txt", "remember the milk\n")]);
    let server = Server::start(
        &project,
        &json!({ "turns": [
            { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                          "arguments": { "command": ["cat", "notes.txt"] } }] },
            { "steps": [{ "type": "message", "text": "The note says: remember the milk." }] },
            { "steps": [{ "type": "message", "text": "Earlier I read notes.txt for you." }] }
        ]}),
        None,
    )
    .await;
    let first = tokio::time::timeout(
        TIMEOUT,
        server.client.call_tool(with_progress_token(
            call_of(json!({ "tool": "turnkit", "prompt": "what does notes.txt say?", "cwd": cwd(&project) })),
            1,
        )),
    )
    .await
    .expect("in time")
    .expect("answered");
    assert_eq!(first.is_error, Some(false), "{}", text(&first));
    let answer = structured(&first).clone();
    assert_eq!(answer["status"], "completed");
    assert_eq!(answer["message"], "The note says: remember the milk.");
    assert!(text(&first).starts_with("The note says: remember the milk."));
    let session_id = answer["session_id"].as_str().expect("an id").to_owned();
    {
        let seen = server.seen.lock().expect("lock");
        assert!(
            seen.progress
                .iter()
                .any(|step| step == "running `cat notes.txt`"),
            "{:?}",
            seen.progress
        );
        assert!(
            seen.progress
                .iter()
                .any(|step| step.starts_with("`cat notes.txt` exited 0")),
            "{:?}",
            seen.progress
        );
        assert!(
            seen.logs
                .iter()
                .any(|log| log["type"] == "agent_message"
                    && log["session_id"] == session_id.as_str()),
            "{:?}",
            seen.logs
        );
    }

    let second = server
        .call(json!({ "tool": "turnkit_reply", "session_id": session_id, "prompt": "what did you do before?" }))
        .await;
    assert_eq!(second.is_error, Some(false), "{}", text(&second));
    assert_eq!(
        structured(&second)["message"],
        "Earlier I read notes.txt for you."
    );
    assert_eq!(structured(&second)["session_id"], session_id.as_str());

    // One stored session holds both turns: the reply ran with the first turn's history
    // (the command and its output come before the second prompt).
    let records = rollout(&project);
    assert!(matches!(
        &records[0],
        RolloutRecord::SessionMeta { session_id: id, .. } if *id == session_id
    ));
    assert_eq!(
        records.iter().filter_map(user_text).collect::<Vec<_>>(),
        ["what does notes.txt say?", "what did you do before?"]
    );
    let output_at = records
        .iter()
        .position(|record| matches!(record, RolloutRecord::ResponseItem { item: ResponseItem::FunctionCallOutput { output, .. } } if output.contains("remember the milk")))
        .expect("the command's output is in the history");
    let second_prompt_at = records
        .iter()
        .position(|record| user_text(record).as_deref() == Some("what did you do before?"))
        .expect("the second prompt is in the history");
    assert!(output_at < second_prompt_at);

    // `turnkit sessions` sees the session the server stored.
    let listed = project.run(&["sessions", "--json"]);
    let listed = support::text(&listed.stdout);
    assert!(listed.contains(&session_id), "{listed}");
    assert!(
        listed.contains("Earlier I read notes.txt for you."),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_call_mid_command_kills_the_command_and_the_session_goes_on() {
    let project = Project::new(&[]);
    let server = Server::start(
        &project,
        &json!({ "turns": [
            { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                          "arguments": { "command": ["bash", "-c", "echo $$ > sleep.pid; exec sleep 30"] } }] },
            { "steps": [{ "type": "message", "text": "Still here." }] }
        ]}),
        None,
    )
    .await;
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(call_of(json!({
        "tool": "turnkit", "prompt": "sleep a while", "cwd": cwd(&project)
    }))));
    let handle = server
        .client
        .send_request_with_option(request, PeerRequestOptions::no_options())
        .await
        .expect("the call is sent");
    let pid = tokio::task::spawn_blocking({
        let path = project.path().join("sleep.pid");
        move || wait_for_pid(&path)
    })
    .await
    .expect("waited");
    assert!(process_alive(pid), "the command runs");
    let session_id = {
        let rollouts = project.rollouts();
        assert_eq!(rollouts.len(), 1);
        rollouts[0]
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("a file name")
            .to_owned()
    };

    handle
        .cancel(Some("the test changed its mind".to_owned()))
        .await
        .expect("the cancellation is sent");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while process_alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the command {pid} outlived the cancelled call"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The session takes the next prompt: the interrupted turn has ended.
    let next = server
        .call(json!({ "tool": "turnkit_reply", "session_id": session_id, "prompt": "are you there?" }))
        .await;
    assert_eq!(next.is_error, Some(false), "{}", text(&next));
    assert_eq!(structured(&next)["message"], "Still here.");
    let records = rollout(&project);
    assert!(
        records.iter().any(|record| matches!(
            record,
            RolloutRecord::Event { event } if matches!(event.msg, EventMsg::TurnAborted { .. })
        )),
        "the cancelled turn was aborted"
    );
    assert!(
        records.iter().any(|record| matches!(
            record,
            RolloutRecord::Event { event } if matches!(&event.msg, EventMsg::ExecCommandEnd(end) if end.cancelled)
        )),
        "the command ended as cancelled"
    );
    let seen = server.seen.lock().expect("lock");
    assert!(
        seen.logs.iter().any(|log| log["message"]
            .as_str()
            .is_some_and(|text| text.contains("interrupting the turn"))),
        "{:?}",
        seen.logs
    );
}

/// A script whose first turn runs `touch approved.txt`, which asks under `always`.
fn touching_script() -> Value {
    json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["touch", "approved.txt"] } }] },
        { "steps": [{ "type": "message", "text": "Done." }] }
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_answered_through_elicitation() {
    let project = Project::new(&[]);
    let server = Server::start(&project, &touching_script(), Some("approve")).await;
    let result = server
        .call(json!({ "tool": "turnkit", "prompt": "make a file", "cwd": cwd(&project), "approval_policy": "always" }))
        .await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(structured(&result)["approvals"][0]["decision"], "approved");
    assert_eq!(structured(&result)["approvals"][0]["answered_by"], "client");
    assert!(
        project.path().join("approved.txt").exists(),
        "the approved command ran"
    );
    let seen = server.seen.lock().expect("lock");
    assert_eq!(seen.questions.len(), 1, "{:?}", seen.questions);
    assert!(
        seen.questions[0].contains("run `touch approved.txt`"),
        "{}",
        seen.questions[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_elicitation_an_approval_is_declined_and_the_result_says_so() {
    let project = Project::new(&[]);
    let server = Server::start(&project, &touching_script(), None).await;
    let result = server
        .call(json!({ "tool": "turnkit", "prompt": "make a file", "cwd": cwd(&project), "approval_policy": "always" }))
        .await;
    assert_eq!(structured(&result)["approvals"][0]["decision"], "denied");
    assert_eq!(
        structured(&result)["approvals"][0]["answered_by"],
        "fallback"
    );
    let text = text(&result);
    assert!(text.contains("Declined:"), "{text}");
    assert!(text.contains("run `touch approved.txt`"), "{text}");
    assert!(
        !project.path().join("approved.txt").exists(),
        "the declined command did not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_tool_errors_naming_the_problem() {
    let project = Project::new(&[]);
    let server = Server::start(&project, &json!({ "turns": [] }), None).await;
    let missing = server
        .call(json!({ "tool": "turnkit", "prompt": "hi", "cwd": project.path().join("missing").to_str().expect("utf-8") }))
        .await;
    assert_eq!(missing.is_error, Some(true));
    assert!(
        text(&missing).contains("give an existing directory"),
        "{}",
        text(&missing)
    );
    let model = server
        .call(json!({ "tool": "turnkit", "prompt": "hi", "cwd": cwd(&project), "model": "gpt-5" }))
        .await;
    assert_eq!(model.is_error, Some(true));
    assert!(text(&model).contains("--scripted"), "{}", text(&model));
    let unknown = server
        .call(json!({ "tool": "turnkit_reply", "session_id": "0-nothing", "prompt": "hi" }))
        .await;
    assert_eq!(unknown.is_error, Some(true));
    assert!(
        text(&unknown).contains("no session has the id `0-nothing`"),
        "{}",
        text(&unknown)
    );
    assert!(project.rollouts().is_empty(), "no session was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_stdin_shuts_the_sessions_down_and_exits_0() {
    let project = Project::new(&[]);
    let script = json!({ "turns": [
        { "steps": [{ "type": "message", "text": "Hello." }] }
    ]});
    let (mut child, client) = spawn_on_pipes(&project, &script).await;
    let result = call_in_time(
        &client,
        json!({ "tool": "turnkit", "prompt": "hi", "cwd": cwd(&project) }),
    )
    .await;
    assert_eq!(structured(&result)["message"], "Hello.");

    // Closing the client closes the server's stdin.
    client.cancel().await.expect("the client stops");
    let status = tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .expect("the server exits once stdin is closed")
        .expect("waited");
    assert_eq!(status.code(), Some(0));
    let records = rollout(&project);
    assert!(
        matches!(
            records.last(),
            Some(RolloutRecord::Event { event }) if matches!(event.msg, EventMsg::ShutdownComplete)
        ),
        "the session was shut down in order: {:?}",
        records.last()
    );
}

#[test]
fn stdout_carries_only_json_rpc_messages() {
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [] }));
    let mut child = project
        .command(&["mcp-server", "--scripted", script.to_str().expect("utf-8")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start turnkit mcp-server");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        for message in [
            json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": { "name": "raw", "version": "0" } } }),
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
            json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }),
        ] {
            writeln!(stdin, "{message}").expect("write a message");
        }
        // Dropping stdin closes it: the server answers what it read, then exits.
    }
    let output = child.wait_with_output().expect("the server exits");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::text(&output.stderr)
    );
    let lines: Vec<Value> = support::text(&output.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
        })
        .collect();
    assert!(
        lines.iter().all(|line| line["jsonrpc"] == "2.0"),
        "{lines:?}"
    );
    let ids: Vec<&Value> = lines.iter().map(|line| &line["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(2)], "{lines:?}");
    assert_eq!(lines[0]["result"]["protocolVersion"], "2025-06-18");
    assert!(
        support::text(&output.stderr).contains("serving MCP on stdin and stdout"),
        "notes for a person go to stderr"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_command_kills_the_command_and_shuts_the_session_down() {
    let project = Project::new(&[]);
    let script = json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["bash", "-c", "echo $$ > sleep.pid; exec sleep 30"] } }] }
    ]});
    let (mut child, client) = spawn_on_pipes(&project, &script).await;
    let server_pid = child.id().expect("a pid");
    let call = tokio::spawn({
        let peer = client.peer().clone();
        let params = call_of(json!({ "tool": "turnkit", "prompt": "sleep", "cwd": cwd(&project) }));
        async move { peer.call_tool(params).await }
    });
    let pid = tokio::task::spawn_blocking({
        let path = project.path().join("sleep.pid");
        move || wait_for_pid(&path)
    })
    .await
    .expect("waited");
    assert!(process_alive(pid));

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server_pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let status = tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .expect("the server exits after SIGTERM")
        .expect("waited");
    assert_eq!(status.code(), Some(0));
    assert!(!process_alive(pid), "the command {pid} outlived the server");
    let records = rollout(&project);
    assert!(
        matches!(
            records.last(),
            Some(RolloutRecord::Event { event }) if matches!(event.msg, EventMsg::ShutdownComplete)
        ),
        "the session was shut down in order: {:?}",
        records.last()
    );
    call.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_resumes_a_session_an_earlier_server_stored() {
    let project = Project::new(&[]);
    let (mut first, client) = spawn_on_pipes(
        &project,
        &json!({ "turns": [{ "steps": [{ "type": "message", "text": "Hello." }] }] }),
    )
    .await;
    let started = call_in_time(
        &client,
        json!({ "tool": "turnkit", "prompt": "hi", "cwd": cwd(&project), "approval_policy": "never" }),
    )
    .await;
    let session_id = session_id(&started);
    client.cancel().await.expect("the client stops");
    tokio::time::timeout(TIMEOUT, first.wait())
        .await
        .expect("the first server exits")
        .expect("waited");

    // The second server asks before every command and, without elicitation, declines; the
    // session keeps the `never` its rollout recorded, so its command runs.
    let second = Server::start_with(
        &project,
        &json!({ "turns": [
            { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                          "arguments": { "command": ["touch", "made-after-restart"] } }] },
            { "steps": [{ "type": "message", "text": "Welcome back." }] }
        ]}),
        None,
        &["--approval-policy", "untrusted"],
    )
    .await;
    let replied = second
        .call(json!({ "tool": "turnkit_reply", "session_id": session_id, "prompt": "again" }))
        .await;
    assert_eq!(replied.is_error, Some(false), "{}", text(&replied));
    assert_eq!(structured(&replied)["message"], "Welcome back.");
    assert!(
        project.path().join("made-after-restart").exists(),
        "the resumed session ran under the policy it was started with"
    );
    let records = rollout(&project);
    assert_eq!(
        records.iter().filter_map(user_text).collect::<Vec<_>>(),
        ["hi", "again"],
        "the reply continued the stored session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_closed_and_a_reply_resumes_it_with_the_policy_it_started_with() {
    let project = Project::new(&[]);
    // The server asks before every command and, with no elicitation, declines; the session
    // is started with `never`, so its command runs only if the resumed session keeps that.
    let server = Server::start_with(
        &project,
        &json!({ "turns": [
            { "steps": [{ "type": "message", "text": "Ready." }] },
            { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                          "arguments": { "command": ["touch", "made-after-resume"] } }] },
            { "steps": [{ "type": "message", "text": "Made it." }] }
        ]}),
        None,
        &["--approval-policy", "untrusted", "--idle-sessions", "0"],
    )
    .await;
    let started = server
        .call(json!({ "tool": "turnkit", "prompt": "get ready", "cwd": cwd(&project), "approval_policy": "never" }))
        .await;
    assert_eq!(started.is_error, Some(false), "{}", text(&started));
    let session_id = session_id(&started);

    let replied = server
        .call(
            json!({ "tool": "turnkit_reply", "session_id": session_id, "prompt": "make the file" }),
        )
        .await;
    assert_eq!(replied.is_error, Some(false), "{}", text(&replied));
    assert_eq!(structured(&replied)["message"], "Made it.");
    assert!(
        project.path().join("made-after-resume").exists(),
        "the command ran without asking, under the session's own policy"
    );
    // With no idle session allowed, the session was shut down after its first turn and
    // resumed for the reply: one rollout holds both, with the shutdown between them.
    let records = rollout(&project);
    let shutdown_at = records
        .iter()
        .position(|record| matches!(record, RolloutRecord::Event { event } if event.msg == EventMsg::ShutdownComplete))
        .expect("the idle session was shut down");
    let reply_at = records
        .iter()
        .position(|record| user_text(record).as_deref() == Some("make the file"))
        .expect("the reply is in the history");
    assert!(shutdown_at < reply_at);
}
