//! The MCP server over an in-memory duplex pipe, with rmcp's own client on the other end and
//! sessions whose `regular` kind is a small task of the test's (no model): arguments, the
//! result's shape, history across replies, approvals through elicitation and by fallback,
//! cancellation, and shutdown when the connection closes.

// The log notifications the server sends are deprecated by the newest protocol revision,
// which the server does not speak.
#![allow(deprecated)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation, LoggingMessageNotificationParam,
    NumberOrString, ProgressNotificationParam, ProgressToken, RequestMetaObject,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use turnkit_mcp::server::{
    ApprovalFallback, FactoryError, McpServer, ResumeRequest, ServerOptions, SessionFactory,
    StartRequest,
};
use turnkit_protocol::{ApprovalRequest, ResponseItem, TaskKind, UserInput};
use turnkit_session_core::Session;
use turnkit_testkit::FnTask;

/// Generous: the CI machine is slow.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The test's `regular` kind: the prompt says what to do.
///
/// - `count`: answers how many `count` prompts the history holds;
/// - `ask`: asks to run `touch approved` and answers with the decision;
/// - `wait`: waits until the turn is cancelled;
/// - `delegate`: runs `ask` in a sub-session.
fn regular_task(aborts: Arc<AtomicUsize>) -> FnTask {
    FnTask::new(TaskKind::REGULAR, |ctx, input, cancellation| async move {
        let text: String = input
            .iter()
            .filter_map(|item| match item {
                UserInput::Text { text } => Some(text.clone()),
                _ => None,
            })
            .collect();
        ctx.record_items([ResponseItem::user_text(text.clone())]);
        let answer = match text.as_str() {
            "ask" => {
                let decision = ctx
                    .request_approval(
                        ApprovalRequest::command(
                            vec!["touch".to_owned(), "approved".to_owned()],
                            ctx.cwd(),
                        )
                        .with_reason("the test wants a file"),
                    )
                    .await;
                format!("decision: {decision:?}")
            }
            "wait" => {
                cancellation.cancelled().await;
                "cancelled".to_owned()
            }
            "delegate" => {
                let mut child = ctx.sub_session().start().expect("a sub-session starts");
                let outcome = child
                    .run_once_forwarded(turnkit_protocol::Op::UserInput {
                        items: vec![UserInput::text("ask")],
                    })
                    .await
                    .expect("the child runs");
                child.close().await;
                format!("child: {outcome:?}")
            }
            _ => {
                let users = ctx.with_history(|items| {
                    items
                        .iter()
                        .filter(|item| **item == ResponseItem::user_text("count"))
                        .count()
                });
                format!("user messages so far: {users}")
            }
        };
        ctx.record_items([ResponseItem::assistant_text(answer.clone())]);
        Ok(Some(answer))
    })
    .on_abort(move |_| {
        aborts.fetch_add(1, Ordering::SeqCst);
    })
}

#[derive(Clone)]
struct Factory {
    aborts: Arc<AtomicUsize>,
    starts: Arc<Mutex<Vec<StartRequest>>>,
    resumes: Arc<Mutex<Vec<ResumeRequest>>>,
    /// Where the sessions' rollouts go.
    store: Arc<tempfile::TempDir>,
}

impl Default for Factory {
    fn default() -> Self {
        Self {
            aborts: Arc::default(),
            starts: Arc::default(),
            resumes: Arc::default(),
            store: Arc::new(tempfile::tempdir().expect("a temp dir")),
        }
    }
}

#[async_trait]
impl SessionFactory for Factory {
    async fn start(&self, request: StartRequest) -> Result<Session, FactoryError> {
        if request.model.as_deref() == Some("nope") {
            return Err(FactoryError::BadRequest(
                "this server has no model `nope`; leave `model` out".to_owned(),
            ));
        }
        let number = {
            let mut starts = self.starts.lock().expect("lock");
            starts.push(request.clone());
            starts.len()
        };
        Session::builder()
            .session_id(format!("session-{number}"))
            .rollout(self.rollout(&format!("session-{number}")))
            .task(regular_task(self.aborts.clone()).registration())
            .cwd(&request.cwd)
            .approval_policy(request.approval_policy)
            .sandbox_policy(request.sandbox_policy)
            .build()
            .map_err(|error| FactoryError::Failed(Box::new(error)))
    }

    async fn resume(&self, request: ResumeRequest) -> Result<Session, FactoryError> {
        // Ids are `session-<number of its start>`; anything else was never started here.
        let start = request
            .session_id
            .strip_prefix("session-")
            .and_then(|number| number.parse::<usize>().ok())
            .and_then(|number| {
                let starts = self.starts.lock().expect("lock");
                starts.get(number.checked_sub(1)?).cloned()
            })
            .ok_or_else(|| FactoryError::UnknownSession(request.session_id.clone()))?;
        self.resumes.lock().expect("lock").push(request.clone());
        let mut builder = Session::builder()
            .resume(self.rollout(&request.session_id))
            .task(regular_task(self.aborts.clone()).registration())
            .cwd(&start.cwd);
        if let Some(policy) = request.approval_policy {
            builder = builder.approval_policy(policy);
        }
        if let Some(sandbox) = request.sandbox_policy {
            builder = builder.sandbox_policy(sandbox);
        }
        builder
            .build()
            .map_err(|error| FactoryError::Failed(Box::new(error)))
    }

    fn stores_sessions(&self) -> bool {
        true
    }
}

impl Factory {
    fn rollout(&self, session_id: &str) -> std::path::PathBuf {
        self.store.path().join(format!("{session_id}.jsonl"))
    }

    /// Waits until the session's rollout records its shutdown.
    async fn wait_for_shutdown(&self, session_id: &str) {
        let path = self.rollout(session_id);
        tokio::time::timeout(TIMEOUT, async {
            while !std::fs::read_to_string(&path)
                .unwrap_or_default()
                .contains("shutdown_complete")
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the session shuts down in time");
    }
}

/// What the client saw besides results.
#[derive(Default)]
struct Seen {
    progress: Vec<String>,
    logs: Vec<Value>,
    questions: Vec<String>,
}

/// rmcp's client, answering elicitations with `decision` when it has one (and then declaring
/// the capability).
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
        ClientConfig::new(capabilities, Implementation::new("test-client", "0.0.0"))
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

struct Harness {
    client: RunningService<RoleClient, Client>,
    /// A clone of the server the client talks to.
    mcp: McpServer,
    seen: Arc<Mutex<Seen>>,
    server: tokio::task::JoinHandle<Result<(), turnkit_mcp::server::Error>>,
    factory: Factory,
    dir: tempfile::TempDir,
}

async fn connect(decision: Option<&'static str>, options: ServerOptions) -> Harness {
    let factory = Factory::default();
    let (server_end, client_end) = tokio::io::duplex(64 * 1024);
    let mcp = McpServer::new(factory.clone(), options);
    let server = tokio::spawn(mcp.clone().serve(server_end));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let client = Client {
        decision,
        seen: seen.clone(),
    }
    .serve(client_end)
    .await
    .expect("the client connects");
    Harness {
        client,
        mcp,
        seen,
        server,
        factory,
        dir: tempfile::tempdir().expect("a temp dir"),
    }
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

impl Harness {
    fn cwd(&self) -> String {
        self.dir.path().to_str().expect("utf-8").to_owned()
    }

    async fn call(&self, value: Value) -> CallToolResult {
        tokio::time::timeout(TIMEOUT, self.client.call_tool(call_of(value)))
            .await
            .expect("the call ends in time")
            .expect("the call succeeds")
    }

    async fn start(&self, prompt: &str) -> CallToolResult {
        self.call(json!({ "tool": "turnkit", "prompt": prompt, "cwd": self.cwd() }))
            .await
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_starts_and_a_reply_continues_its_history() {
    let harness = connect(None, ServerOptions::default()).await;
    let first = harness.start("count").await;
    assert_eq!(first.is_error, Some(false), "{}", text(&first));
    let first = structured(&first).clone();
    assert_eq!(first["status"], "completed");
    assert_eq!(first["message"], "user messages so far: 1");
    let session_id = first["session_id"].as_str().expect("an id").to_owned();

    let second = harness
        .call(json!({ "tool": "turnkit_reply", "session_id": session_id, "prompt": "count" }))
        .await;
    assert_eq!(second.is_error, Some(false), "{}", text(&second));
    assert_eq!(
        structured(&second)["message"],
        "user messages so far: 2",
        "the reply runs in the same session, with the first turn in its history"
    );
    assert_eq!(structured(&second)["session_id"], session_id.as_str());
    assert!(
        text(&second).contains(&session_id),
        "the text names the id too"
    );

    let starts = harness.factory.starts.lock().expect("lock").clone();
    assert_eq!(starts.len(), 1);
    assert_eq!(
        starts[0].cwd,
        harness.dir.path().canonicalize().expect("canonical")
    );
    assert_eq!(
        starts[0].approval_policy,
        turnkit_protocol::ApprovalPolicy::OnRequest,
        "the server's default policy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_tool_errors_that_say_what_to_do() {
    let harness = connect(None, ServerOptions::default()).await;
    let cases = [
        (
            json!({ "tool": "turnkit", "prompt": "hi", "cwd": "/no/such/dir/anywhere" }),
            "give an existing directory",
        ),
        (
            json!({ "tool": "turnkit", "prompt": "hi", "cwd": harness.cwd(), "approval_policy": "sometimes" }),
            "use one of never, on_request, untrusted, always",
        ),
        (
            json!({ "tool": "turnkit", "prompt": "hi", "cwd": harness.cwd(), "sandbox": "none" }),
            "use one of read_only, workspace_write, full_access",
        ),
        (
            json!({ "tool": "turnkit", "cwd": harness.cwd() }),
            "needs the argument `prompt`",
        ),
        (
            json!({ "tool": "turnkit", "prompt": "hi", "cwd": harness.cwd(), "model": "nope" }),
            "leave `model` out",
        ),
        (
            json!({ "tool": "turnkit_reply", "session_id": "no-such-session", "prompt": "hi" }),
            "no session has the id `no-such-session`",
        ),
    ];
    for (call, expected) in cases {
        let result = harness.call(call.clone()).await;
        assert_eq!(result.is_error, Some(true), "{call}");
        assert!(
            text(&result).contains(expected),
            "{call}: {} lacks {expected:?}",
            text(&result)
        );
    }
    assert!(
        harness.factory.starts.lock().expect("lock").is_empty(),
        "no session was started for bad arguments"
    );
    let unknown = harness
        .client
        .call_tool(CallToolRequestParams::new("deploy"))
        .await
        .expect_err("no such tool");
    assert!(unknown.to_string().contains("deploy"), "{unknown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_asked_through_elicitation_and_the_answer_reaches_the_session() {
    let harness = connect(Some("approve"), ServerOptions::default()).await;
    let result = harness.start("ask").await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(structured(&result)["message"], "decision: Approved");
    assert_eq!(
        structured(&result)["approvals"],
        json!([{
            "request": format!("run `touch approved` in {}", harness.dir.path().canonicalize().expect("canonical").display()),
            "decision": "approved",
            "answered_by": "client",
        }])
    );
    let seen = harness.seen.lock().expect("lock");
    assert_eq!(seen.questions.len(), 1);
    assert!(
        seen.questions[0].contains("touch approved"),
        "{:?}",
        seen.questions
    );
    assert!(seen.questions[0].contains("reason: the test wants a file"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_sessions_approval_is_asked_with_its_origin() {
    let harness = connect(Some("deny"), ServerOptions::default()).await;
    let result = harness.start("delegate").await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let message = structured(&result)["message"].as_str().expect("a message");
    assert!(message.contains("decision: Denied"), "{message}");
    let request = structured(&result)["approvals"][0]["request"]
        .as_str()
        .expect("a request");
    assert!(
        request.contains("asked by sub-session") && request.contains("at depth 1"),
        "{request}"
    );
    assert_eq!(structured(&result)["approvals"][0]["answered_by"], "client");
    let seen = harness.seen.lock().expect("lock");
    assert!(
        seen.questions[0].contains("asked by sub-session"),
        "{:?}",
        seen.questions
    );
    assert!(
        text(&result).contains("the client's user declined"),
        "{}",
        text(&result)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_elicitation_the_fallback_denies_and_the_result_says_what_was_declined() {
    let harness = connect(None, ServerOptions::default()).await;
    let result = harness.start("ask").await;
    assert_eq!(structured(&result)["message"], "decision: Denied");
    assert_eq!(
        structured(&result)["approvals"][0]["answered_by"],
        "fallback"
    );
    assert_eq!(structured(&result)["approvals"][0]["decision"], "denied");
    let text = text(&result);
    assert!(text.contains("Declined:"), "{text}");
    assert!(text.contains("touch approved"), "{text}");
    assert!(
        text.contains("declared no elicitation capability"),
        "{text}"
    );
    assert!(harness.seen.lock().expect("lock").questions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_is_configurable() {
    let harness = connect(
        None,
        ServerOptions::default().approval_fallback(ApprovalFallback::Approve),
    )
    .await;
    let result = harness.start("ask").await;
    assert_eq!(structured(&result)["message"], "decision: Approved");
    assert_eq!(
        structured(&result)["approvals"][0]["answered_by"],
        "fallback"
    );
    assert!(!text(&result).contains("Declined:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_interrupts_its_turn_and_the_session_takes_the_next_reply() {
    let harness = connect(None, ServerOptions::default()).await;
    let first = harness.start("count").await;
    let session_id = session_id(&first);

    let mut params =
        call_of(json!({ "tool": "turnkit_reply", "session_id": session_id, "prompt": "wait" }));
    let mut meta = RequestMetaObject::new();
    meta.set_progress_token(ProgressToken(NumberOrString::Number(7)));
    params.meta = Some(meta);
    // Dropping the call's future sends `notifications/cancelled`.
    let timed_out =
        tokio::time::timeout(Duration::from_millis(500), harness.client.call_tool(params)).await;
    assert!(
        timed_out.is_err(),
        "the waiting turn does not end by itself"
    );

    // Replied to at once: the reply waits for the cancelled turn to end instead of
    // finding the session busy.
    let next = harness
        .call(json!({ "tool": "turnkit_reply", "session_id": session_id, "prompt": "count" }))
        .await;
    assert_eq!(
        structured(&next)["message"],
        "user messages so far: 2",
        "the session takes the next prompt after the cancelled one"
    );
    assert_eq!(harness.factory.aborts.load(Ordering::SeqCst), 1);
    let seen = harness.seen.lock().expect("lock");
    assert!(
        seen.logs.iter().any(|log| log["message"]
            .as_str()
            .is_some_and(|text| text.contains("interrupting"))),
        "{:?}",
        seen.logs
    );
    assert!(
        seen.progress
            .iter()
            .any(|text| text.contains("interrupting")),
        "the call carried a progress token: {:?}",
        seen.progress
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_connection_shuts_every_session_down_and_ends_serve() {
    let harness = connect(None, ServerOptions::default()).await;
    for _ in 0..2 {
        let result = harness.start("count").await;
        assert_eq!(result.is_error, Some(false));
    }
    let Harness {
        client,
        server,
        factory,
        ..
    } = harness;
    client.cancel().await.expect("the client stops");
    let served = tokio::time::timeout(TIMEOUT, server)
        .await
        .expect("serve ends when the connection closes")
        .expect("serve did not panic");
    assert!(served.is_ok(), "{served:?}");
    for number in 1..=2 {
        let path = factory.store.path().join(format!("session-{number}.jsonl"));
        let (records, _) = turnkit_session_core::read_rollout(&path).expect("a rollout");
        assert!(
            matches!(
                records.last(),
                Some(turnkit_session_core::RolloutRecord::Event { event })
                    if event.msg == turnkit_protocol::EventMsg::ShutdownComplete
            ),
            "session {number} was shut down in order: {:?}",
            records.last()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_past_the_limit_are_shut_down_and_resumed_with_their_own_setup() {
    let harness = connect(None, ServerOptions::default().idle_sessions(1)).await;
    let first = harness
        .call(json!({
            "tool": "turnkit", "prompt": "count", "cwd": harness.cwd(),
            "approval_policy": "never", "sandbox": "read_only",
        }))
        .await;
    let first_id = session_id(&first);
    let second = harness.start("count").await;
    let second_id = session_id(&second);

    // Two idle sessions, one allowed: the least recently used one is shut down.
    harness.factory.wait_for_shutdown(&first_id).await;
    assert_eq!(harness.mcp.session_count(), 1);

    // A reply brings it back from its rollout, with the policies it was started with.
    let reply = harness
        .call(json!({ "tool": "turnkit_reply", "session_id": first_id, "prompt": "count" }))
        .await;
    assert_eq!(reply.is_error, Some(false), "{}", text(&reply));
    assert_eq!(
        structured(&reply)["message"],
        "user messages so far: 2",
        "the resumed session has the first turn in its history"
    );
    harness.factory.wait_for_shutdown(&second_id).await;
    assert_eq!(harness.mcp.session_count(), 1);
    let resumes = harness.factory.resumes.lock().expect("lock").clone();
    assert_eq!(resumes.len(), 1);
    assert_eq!(resumes[0].session_id, first_id);
    assert_eq!(
        resumes[0].approval_policy,
        Some(turnkit_protocol::ApprovalPolicy::Never)
    );
    assert_eq!(
        resumes[0].sandbox_policy,
        Some(turnkit_protocol::SandboxPolicy::read_only())
    );

    // The other one, resumed in turn, has its own history and the server's defaults it was
    // started with.
    let reply = harness
        .call(json!({ "tool": "turnkit_reply", "session_id": second_id, "prompt": "count" }))
        .await;
    assert_eq!(structured(&reply)["message"], "user messages so far: 2");
    let resumes = harness.factory.resumes.lock().expect("lock").clone();
    assert_eq!(resumes.len(), 2);
    assert_eq!(
        resumes[1].approval_policy,
        Some(turnkit_protocol::ApprovalPolicy::OnRequest)
    );
    assert_eq!(harness.factory.starts.lock().expect("lock").len(), 2);
}
