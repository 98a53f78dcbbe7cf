//! A state-machine property test of ACP cancellation conformance, in process: the agent serves
//! real sessions over in-memory pipes, and the SDK's real client side drives it.
//!
//! Each session's regular turn is a stand-in task (the testkit's `FnTask`) that the test steps
//! through a gate of its own: it streams `agent_message_delta`s, asks approvals with
//! `ctx.request_approval`, and waits cancellably; once cancelled it keeps streaming until the
//! test lets it end, so the stretch between `session/cancel` and the prompt's answer is
//! exercised too. The transitions: send a prompt (a second one while one runs), cancel, answer
//! a permission request (allow, allow always, reject, or the `cancelled` outcome; a withdrawn
//! one too), answer and cancel at once, and let the turn stream, ask or finish.
//!
//! After every step, on the JSON-RPC traffic recorded on the client's side: no request is
//! answered twice, and no `session/update` of a prompt follows its answer. Along the way: a
//! prompt cancelled before it finished answers `cancelled`, one never cancelled `end_turn`; a
//! prompt while one runs is refused with a JSON-RPC error, starts no turn and leaves the
//! running one undisturbed; a cancel withdraws the pending permission request. At the end every
//! prompt was answered exactly once and the session takes a new prompt and finishes it.
//!
//! Cases default to 24; set `PROPTEST_CASES` for more.

// The checker is test code; panics are its assertions.
#![allow(clippy::too_many_lines, clippy::needless_pass_by_value)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_client_protocol::schema::ProtocolVersion;
use agent_client_protocol::v1::schema::{
    CancelNotification, ContentBlock, InitializeRequest, NewSessionRequest, PromptRequest,
    PromptResponse, RequestPermissionOutcome, RequestPermissionRequest, RequestPermissionResponse,
    SelectedPermissionOutcome, SessionNotification, StopReason, TextContent,
};
use agent_client_protocol::v1::{ConnectionTo, Responder};
use agent_client_protocol::{Agent, Client, ErrorCode, Lines};
use futures_util::{Sink, Stream};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::{mpsc, oneshot};
use turnkit_acp::{AcpAgent, Error, LoadedSession, SessionFactory, SessionSetup};
use turnkit_protocol::{ApprovalRequest, EventMsg, ReviewDecision, TaskKind, UserInput};
use turnkit_session_core::Session;
use turnkit_testkit::FnTask;

/// Every wait; CI is a slow two-core machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// The JSON-RPC traffic seen by the client, in order, each line with its sender.
type Wire = Arc<Mutex<Vec<(&'static str, Value)>>>;

type PermissionAsked = (
    RequestPermissionRequest,
    Responder<RequestPermissionResponse>,
);

// ---- the stand-in turn ----------------------------------------------------------------

/// What the test lets a running turn do next.
#[derive(Debug)]
enum Step {
    Delta(u32),
    Ask(u32),
    Finish,
}

/// A turn that started: its label (the prompt's text), its gate, and word that it saw its
/// cancellation.
struct TurnHandle {
    label: String,
    gate: mpsc::UnboundedSender<Step>,
    cancel_seen: oneshot::Receiver<()>,
}

/// The regular turn's stand-in; see the module docs.
fn stand_in(turns: mpsc::UnboundedSender<TurnHandle>) -> FnTask {
    FnTask::new(TaskKind::REGULAR, move |ctx, input, token| {
        let turns = turns.clone();
        async move {
            let label = input
                .iter()
                .find_map(|item| match item {
                    UserInput::Text { text } => Some(text.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            let (gate_tx, mut gate) = mpsc::unbounded_channel();
            let (seen_tx, cancel_seen) = oneshot::channel();
            let _ = turns.send(TurnHandle {
                label: label.clone(),
                gate: gate_tx,
                cancel_seen,
            });
            let say = |text: String| {
                ctx.send_event(EventMsg::AgentMessageDelta { delta: text });
            };
            say(format!("{label}:start"));
            loop {
                let step = tokio::select! {
                    biased;
                    () = token.cancelled() => break,
                    step = gate.recv() => step,
                };
                match step {
                    Some(Step::Delta(k)) => say(format!("{label}:delta-{k}")),
                    Some(Step::Ask(k)) => {
                        let request = ApprovalRequest::command(
                            vec!["ask".to_owned(), format!("{label}-{k}")],
                            ctx.cwd(),
                        )
                        .with_call_id(format!("{label}-ask-{k}"));
                        match ctx.request_approval(request).await {
                            ReviewDecision::Approved | ReviewDecision::ApprovedForSession => {
                                say(format!("{label}:approved-{k}"));
                            }
                            ReviewDecision::Denied => say(format!("{label}:denied-{k}")),
                            ReviewDecision::Abort => {
                                // As the regular turn's tools do: an abort stops the turn.
                                ctx.interrupt_turn();
                                token.cancelled().await;
                                break;
                            }
                        }
                    }
                    Some(Step::Finish) => return Ok(Some(format!("{label}:done"))),
                    None => break,
                }
            }
            let _ = seen_tx.send(());
            // Cancelled: the turn winds down, still streaming, until the test ends it.
            while let Some(step) = gate.recv().await {
                match step {
                    Step::Delta(k) => say(format!("{label}:late-{k}")),
                    Step::Finish => break,
                    Step::Ask(_) => {}
                }
            }
            Ok(None)
        }
    })
}

struct Factory {
    turns: mpsc::UnboundedSender<TurnHandle>,
}

#[turnkit_session_core::async_trait]
impl SessionFactory for Factory {
    async fn new_session(&self, setup: SessionSetup) -> Result<Session, Error> {
        Session::builder()
            .cwd(setup.cwd)
            .task(
                stand_in(self.turns.clone())
                    .registration()
                    .accepts_input(true)
                    // The test, not a timer, ends a cancelled turn.
                    .grace_period(Duration::from_secs(600)),
            )
            .build()
            .map_err(Error::session)
    }

    async fn load_session(
        &self,
        session_id: &str,
        _: SessionSetup,
    ) -> Result<LoadedSession, Error> {
        Err(Error::SessionNotFound {
            session_id: session_id.to_owned(),
            hint: "this test stores no sessions".to_owned(),
        })
    }
}

// ---- the reference model ----------------------------------------------------------------

/// How the client answers a permission request.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Allow,
    AllowAlways,
    Reject,
    /// The `cancelled` outcome (the user dismissed the question).
    Dismiss,
}

#[derive(Clone, Copy, Debug)]
enum Progress {
    Delta,
    Ask,
    Finish,
}

#[derive(Clone, Debug)]
enum Transition {
    Prompt,
    Cancel,
    /// Answers the n-th unanswered permission request (modulo their number).
    Answer(usize, Outcome),
    /// Answers the live permission request and sends `session/cancel` right after.
    AnswerThenCancel(Outcome),
    Progress(Progress),
    /// Lets the turn finish and sends `session/cancel` at once: the two race, so either stop
    /// reason is right, but the prompt is still answered exactly once.
    FinishThenCancel,
}

#[derive(Clone, Debug)]
struct TurnModel {
    /// The stop reason must be `cancelled`.
    cancelled: bool,
    /// The turn waits for the last unanswered permission request.
    asking: bool,
}

#[derive(Clone, Debug, Default)]
struct Model {
    turn: Option<TurnModel>,
    /// Permission requests the client has not answered (live or withdrawn).
    unanswered: usize,
}

impl Model {
    fn asking(&self) -> bool {
        self.turn.as_ref().is_some_and(|turn| turn.asking)
    }

    /// Whether answering request `index` decides the running turn's approval.
    fn is_live(&self, index: usize) -> bool {
        self.asking() && index % self.unanswered.max(1) == self.unanswered - 1
    }
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Allow),
        Just(Outcome::AllowAlways),
        Just(Outcome::Reject),
        Just(Outcome::Dismiss),
    ]
}

struct Cancellation;

impl ReferenceStateMachine for Cancellation {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Transition> {
        let mut choices: Vec<(u32, BoxedStrategy<Transition>)> = vec![
            (3, Just(Transition::Prompt).boxed()),
            (2, Just(Transition::Cancel).boxed()),
        ];
        if state.unanswered > 0 {
            choices.push((
                3,
                (0..8usize, outcome())
                    .prop_map(|(index, outcome)| Transition::Answer(index, outcome))
                    .boxed(),
            ));
        }
        if let Some(turn) = &state.turn {
            if turn.asking {
                choices.push((1, outcome().prop_map(Transition::AnswerThenCancel).boxed()));
            } else {
                if !turn.cancelled {
                    choices.push((1, Just(Transition::FinishThenCancel).boxed()));
                }
                let mut progress = vec![Progress::Delta, Progress::Finish];
                if !turn.cancelled {
                    progress.push(Progress::Ask);
                    progress.push(Progress::Ask);
                }
                choices.push((
                    4,
                    proptest::sample::select(progress)
                        .prop_map(Transition::Progress)
                        .boxed(),
                ));
            }
        }
        proptest::strategy::Union::new_weighted(choices).boxed()
    }

    fn preconditions(state: &Model, transition: &Transition) -> bool {
        match transition {
            Transition::Prompt | Transition::Cancel => true,
            Transition::Answer(..) => state.unanswered > 0,
            Transition::AnswerThenCancel(_) => state.asking(),
            Transition::FinishThenCancel => state
                .turn
                .as_ref()
                .is_some_and(|turn| !turn.asking && !turn.cancelled),
            Transition::Progress(progress) => match &state.turn {
                Some(turn) if !turn.asking => !matches!(progress, Progress::Ask) || !turn.cancelled,
                _ => false,
            },
        }
    }

    fn apply(mut state: Model, transition: &Transition) -> Model {
        match transition {
            Transition::Prompt => {
                if state.turn.is_none() {
                    state.turn = Some(TurnModel {
                        cancelled: false,
                        asking: false,
                    });
                }
            }
            Transition::Cancel => {
                if let Some(turn) = &mut state.turn {
                    turn.cancelled = true;
                    turn.asking = false;
                }
            }
            Transition::Answer(index, outcome) => {
                let live = state.is_live(*index);
                state.unanswered -= 1;
                if live && let Some(turn) = &mut state.turn {
                    turn.asking = false;
                    turn.cancelled |= matches!(outcome, Outcome::Dismiss);
                }
            }
            Transition::AnswerThenCancel(_) => {
                state.unanswered -= 1;
                if let Some(turn) = &mut state.turn {
                    turn.asking = false;
                    turn.cancelled = true;
                }
            }
            Transition::Progress(Progress::Delta) => {}
            Transition::Progress(Progress::Ask) => {
                state.unanswered += 1;
                if let Some(turn) = &mut state.turn {
                    turn.asking = true;
                }
            }
            Transition::Progress(Progress::Finish) | Transition::FinishThenCancel => {
                state.turn = None;
            }
        }
        state
    }
}

// ---- the system under test ----------------------------------------------------------------

/// The running prompt, as the client knows it.
struct Current {
    label: String,
    response: tokio::task::JoinHandle<Result<PromptResponse, agent_client_protocol::Error>>,
    gate: mpsc::UnboundedSender<Step>,
    cancel_seen: Option<oneshot::Receiver<()>>,
    cancelled: bool,
    steps: u32,
}

/// A permission request the client has not answered.
struct Unanswered {
    label: String,
    step: u32,
    responder: Responder<RequestPermissionResponse>,
}

struct Sut {
    runtime: tokio::runtime::Runtime,
    cx: ConnectionTo<Agent>,
    session: String,
    wire: Wire,
    updates: mpsc::UnboundedReceiver<SessionNotification>,
    permissions: mpsc::UnboundedReceiver<PermissionAsked>,
    turns: mpsc::UnboundedReceiver<TurnHandle>,
    current: Option<Current>,
    unanswered: Vec<Unanswered>,
    prompts: u32,
    close: oneshot::Sender<()>,
    client: tokio::task::JoinHandle<Result<(), agent_client_protocol::Error>>,
    agent: tokio::task::JoinHandle<Result<(), Error>>,
}

/// A line transport over one end of an in-memory pipe, recording each line on `wire`.
fn transport(
    stream: DuplexStream,
    wire: Wire,
    sender: &'static str,
    recipient: &'static str,
) -> Lines<
    impl Sink<String, Error = std::io::Error> + Send + 'static,
    impl Stream<Item = std::io::Result<String>> + Send + 'static,
> {
    let (read, write) = tokio::io::split(stream);
    let sent = Arc::clone(&wire);
    let outgoing = futures_util::sink::unfold(write, move |mut write, line: String| {
        let sent = Arc::clone(&sent);
        async move {
            record(&sent, sender, &line);
            write.write_all(line.as_bytes()).await?;
            write.write_all(b"\n").await?;
            write.flush().await?;
            Ok::<_, std::io::Error>(write)
        }
    });
    let incoming = futures_util::stream::unfold(BufReader::new(read).lines(), move |mut lines| {
        let received = Arc::clone(&wire);
        async move {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    record(&received, recipient, &line);
                    Some((Ok(line), lines))
                }
                Ok(None) => None,
                Err(error) => Some((Err(error), lines)),
            }
        }
    });
    Lines::new(outgoing, incoming)
}

fn record(wire: &Wire, from: &'static str, line: &str) {
    let value = serde_json::from_str(line)
        .unwrap_or_else(|error| panic!("{from} sent a line that is not JSON ({error}): {line}"));
    wire.lock().expect("the wire log").push((from, value));
}

fn prompt(session: &str, text: &str) -> PromptRequest {
    PromptRequest::new(
        session.to_owned(),
        vec![ContentBlock::Text(TextContent::new(text))],
    )
}

fn answer(outcome: Outcome) -> RequestPermissionResponse {
    let option = match outcome {
        Outcome::Allow => "approved",
        Outcome::AllowAlways => "approved_for_session",
        Outcome::Reject => "denied",
        Outcome::Dismiss => {
            return RequestPermissionResponse::new(RequestPermissionOutcome::Cancelled);
        }
    };
    RequestPermissionResponse::new(RequestPermissionOutcome::Selected(
        SelectedPermissionOutcome::new(option.to_owned()),
    ))
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {PATIENCE:?}"))
}

impl Sut {
    fn start() -> Sut {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (client_end, agent_end) = tokio::io::duplex(64 * 1024);
        let wire: Wire = Arc::default();
        let (turns_tx, turns) = mpsc::unbounded_channel();
        let agent = runtime.spawn(AcpAgent::new(Factory { turns: turns_tx }).serve(transport(
            agent_end,
            Wire::default(),
            "agent",
            "client",
        )));
        let (updates_tx, updates) = mpsc::unbounded_channel();
        let (permissions_tx, permissions) = mpsc::unbounded_channel();
        let (cx_tx, cx_rx) = oneshot::channel();
        let (close, closed) = oneshot::channel::<()>();
        let client = runtime.spawn(
            Client
                .v1()
                .name("cancel-props")
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
                .connect_with(
                    transport(client_end, Arc::clone(&wire), "client", "agent"),
                    async move |cx| {
                        let _ = cx_tx.send(cx);
                        let _ = closed.await;
                        Ok(())
                    },
                ),
        );
        let (cx, session) = runtime.block_on(async {
            let cx: ConnectionTo<Agent> = within("the client connects", cx_rx)
                .await
                .expect("the client runs");
            within(
                "initialize",
                cx.send_request(InitializeRequest::new(ProtocolVersion::V1))
                    .block_task(),
            )
            .await
            .expect("initialize");
            let created = within(
                "session/new",
                cx.send_request(NewSessionRequest::new(std::env::temp_dir()))
                    .block_task(),
            )
            .await
            .expect("session/new");
            (cx, created.session_id.0.to_string())
        });
        Sut {
            runtime,
            cx,
            session,
            wire,
            updates,
            permissions,
            turns,
            current: None,
            unanswered: Vec::new(),
            prompts: 0,
            close,
            client,
            agent,
        }
    }

    /// Waits for the update whose text is `text`, skipping others.
    async fn update(updates: &mut mpsc::UnboundedReceiver<SessionNotification>, text: &str) {
        within(&format!("the update `{text}`"), async {
            loop {
                let notification = updates.recv().await.expect("the agent is connected");
                if update_text(&serde_json::to_value(&notification.update).expect("JSON"))
                    .as_deref()
                    == Some(text)
                {
                    return;
                }
            }
        })
        .await;
    }

    fn send_prompt(
        &mut self,
        label: &str,
    ) -> tokio::task::JoinHandle<Result<PromptResponse, agent_client_protocol::Error>> {
        let sent = self.cx.send_request(prompt(&self.session, label));
        self.runtime.spawn(sent.block_task())
    }

    fn send_cancel(&self) {
        self.cx
            .send_notification(CancelNotification::new(self.session.clone()))
            .expect("send session/cancel");
    }

    fn apply(&mut self, transition: &Transition) {
        match transition {
            Transition::Prompt => self.prompt(),
            Transition::Cancel => {
                self.send_cancel();
                self.cancelled();
            }
            Transition::Answer(index, outcome) => self.answer(*index, *outcome),
            Transition::AnswerThenCancel(outcome) => {
                let last = self.unanswered.pop().expect("a live permission request");
                let _ = last.responder.respond(answer(*outcome));
                self.send_cancel();
                self.cancelled();
            }
            Transition::Progress(progress) => self.progress(*progress),
            Transition::FinishThenCancel => {
                let current = self.current.take().expect("a running prompt");
                let _ = current.gate.send(Step::Finish);
                self.send_cancel();
                let answered = self
                    .runtime
                    .block_on(within("the prompt's answer", current.response))
                    .expect("the request task")
                    .expect("the prompt succeeds");
                assert!(
                    matches!(
                        answered.stop_reason,
                        StopReason::EndTurn | StopReason::Cancelled
                    ),
                    "{answered:?}"
                );
            }
        }
    }

    fn prompt(&mut self) {
        self.prompts += 1;
        if self.current.is_some() {
            let label = format!("busy{}", self.prompts);
            let response = self.send_prompt(&label);
            let refused = self
                .runtime
                .block_on(within("the busy prompt's answer", response));
            let error = refused
                .expect("the request task")
                .expect_err("a prompt while one runs is refused");
            assert_eq!(error.code, ErrorCode::INVALID_REQUEST, "{error:?}");
            assert!(error.message.contains("already running"), "{error:?}");
            return;
        }
        let label = format!("p{}", self.prompts);
        let response = self.send_prompt(&label);
        let (turns, updates) = (&mut self.turns, &mut self.updates);
        let handle = self.runtime.block_on(async {
            let handle = within("the turn starts", turns.recv())
                .await
                .expect("the factory lives");
            Self::update(updates, &format!("{label}:start")).await;
            handle
        });
        assert_eq!(
            handle.label, label,
            "a refused prompt started no turn of its own"
        );
        self.current = Some(Current {
            label,
            response,
            gate: handle.gate,
            cancel_seen: Some(handle.cancel_seen),
            cancelled: false,
            steps: 0,
        });
    }

    /// After a cancel (or an answer that stops the turn): the turn sees it, and the permission
    /// request it waited for is withdrawn.
    fn cancelled(&mut self) {
        let Some(current) = &mut self.current else {
            return;
        };
        current.cancelled = true;
        let Some(seen) = current.cancel_seen.take() else {
            return;
        };
        let label = current.label.clone();
        self.runtime.block_on(async {
            within("the turn sees its cancellation", seen)
                .await
                .expect("the turn reports its cancellation");
        });
        // Every request of this turn still unanswered was withdrawn with `$/cancel_request`.
        for pending in self
            .unanswered
            .iter()
            .filter(|pending| pending.label == label)
        {
            let cancellation = pending.responder.cancellation();
            self.runtime.block_on(within(
                "the permission request is withdrawn",
                cancellation.cancelled(),
            ));
        }
    }

    fn answer(&mut self, index: usize, outcome: Outcome) {
        let index = index % self.unanswered.len();
        let live = index == self.unanswered.len() - 1
            && self.current.as_ref().is_some_and(|current| {
                !current.cancelled && current.label == self.unanswered[index].label
            });
        let pending = self.unanswered.remove(index);
        let _ = pending.responder.respond(answer(outcome));
        if !live {
            return;
        }
        let text = match outcome {
            Outcome::Allow | Outcome::AllowAlways => {
                format!("{}:approved-{}", pending.label, pending.step)
            }
            Outcome::Reject => format!("{}:denied-{}", pending.label, pending.step),
            Outcome::Dismiss => return self.cancelled(),
        };
        self.runtime
            .block_on(Self::update(&mut self.updates, &text));
    }

    fn progress(&mut self, progress: Progress) {
        let current = self.current.as_mut().expect("a running prompt");
        current.steps += 1;
        let step = current.steps;
        match progress {
            Progress::Delta => {
                let _ = current.gate.send(Step::Delta(step));
                let text = if current.cancelled {
                    format!("{}:late-{step}", current.label)
                } else {
                    format!("{}:delta-{step}", current.label)
                };
                self.runtime
                    .block_on(Self::update(&mut self.updates, &text));
            }
            Progress::Ask => {
                let _ = current.gate.send(Step::Ask(step));
                let label = current.label.clone();
                let (request, responder) = self
                    .runtime
                    .block_on(within("a permission request", self.permissions.recv()))
                    .expect("the client is connected");
                assert_eq!(
                    &*request.tool_call.tool_call_id.0,
                    format!("{label}-ask-{step}")
                );
                self.unanswered.push(Unanswered {
                    label,
                    step,
                    responder,
                });
            }
            Progress::Finish => self.finish(),
        }
    }

    /// Lets the running turn end and checks its stop reason.
    fn finish(&mut self) {
        let current = self.current.take().expect("a running prompt");
        let _ = current.gate.send(Step::Finish);
        let answered = self
            .runtime
            .block_on(within("the prompt's answer", current.response))
            .expect("the request task")
            .expect("the prompt succeeds");
        let expected = if current.cancelled {
            StopReason::Cancelled
        } else {
            StopReason::EndTurn
        };
        assert_eq!(
            answered.stop_reason, expected,
            "prompt {} (cancelled: {})",
            current.label, current.cancelled
        );
    }

    /// The invariants on the traffic so far.
    fn check_wire(&self, finished: bool) {
        let wire = self.wire.lock().expect("the wire log").clone();
        // The client's prompts: request id -> label.
        let mut prompts: HashMap<String, String> = HashMap::new();
        let mut labels: HashMap<String, String> = HashMap::new();
        // The agent's answers to the client's requests: id -> their positions.
        let mut answers: HashMap<String, Vec<usize>> = HashMap::new();
        for (position, (from, message)) in wire.iter().enumerate() {
            let id = message.get("id").map(Value::to_string);
            match (*from, message.get("method").and_then(Value::as_str), id) {
                ("client", Some("session/prompt"), Some(id)) => {
                    let label = message["params"]["prompt"][0]["text"]
                        .as_str()
                        .expect("a text prompt")
                        .to_owned();
                    labels.insert(label.clone(), id.clone());
                    prompts.insert(id, label);
                }
                ("agent", None, Some(id)) => answers.entry(id).or_default().push(position),
                _ => {}
            }
        }
        for (id, positions) in &answers {
            assert_eq!(
                positions.len(),
                1,
                "request {id} answered {} times",
                positions.len()
            );
        }
        if finished {
            for (id, label) in &prompts {
                assert!(
                    answers.contains_key(id),
                    "prompt {label} was never answered"
                );
            }
        }
        for (position, (from, message)) in wire.iter().enumerate() {
            if *from != "agent"
                || message.get("method").and_then(Value::as_str) != Some("session/update")
            {
                continue;
            }
            let text = update_text(&message["params"]["update"])
                .unwrap_or_else(|| panic!("an update that names no prompt: {message}"));
            let label = text
                .split([':', '-'])
                .next()
                .expect("split gives a first part");
            let id = labels
                .get(label)
                .unwrap_or_else(|| panic!("an update of no prompt: {message}"));
            if let Some(answer) = answers.get(id).and_then(|positions| positions.first()) {
                assert!(
                    position < *answer,
                    "an update of prompt {label} after its answer: {message}"
                );
            }
        }
    }

    /// Ends whatever runs, then a new prompt must run to `end_turn`; closes the connection.
    fn finish_up(mut self) {
        if let Some(current) = &self.current
            && !current.cancelled
        {
            self.send_cancel();
            self.cancelled();
        }
        if self.current.is_some() {
            self.finish();
        }
        self.prompt();
        self.progress(Progress::Delta);
        self.finish();
        // As the protocol asks, withdrawn requests are answered `cancelled`.
        for pending in std::mem::take(&mut self.unanswered) {
            let _ = pending.responder.respond(answer(Outcome::Dismiss));
        }
        assert!(
            self.turns.try_recv().is_err(),
            "a turn started that no prompt asked for"
        );
        self.check_wire(true);
        let Sut {
            runtime,
            close,
            client,
            agent,
            cx,
            ..
        } = self;
        drop(cx);
        let _ = close.send(());
        runtime.block_on(async {
            within("the client closes", client)
                .await
                .expect("the client task")
                .expect("the client's connection worked");
            within("the agent stops once the client is gone", agent)
                .await
                .expect("the agent task")
                .expect("the agent served without error");
        });
        runtime.shutdown_timeout(PATIENCE);
    }
}

/// What names an update's prompt: a chunk's text, or a tool call's id.
fn update_text(update: &Value) -> Option<String> {
    update["content"]["text"]
        .as_str()
        .or_else(|| update["toolCallId"].as_str())
        .map(str::to_owned)
}

struct CancellationTest;

impl StateMachineTest for CancellationTest {
    type SystemUnderTest = Sut;
    type Reference = Cancellation;

    fn init_test(_: &Model) -> Sut {
        Sut::start()
    }

    fn apply(mut state: Sut, _: &Model, transition: Transition) -> Sut {
        state.apply(&transition);
        state
    }

    fn check_invariants(state: &Sut, reference: &Model) {
        assert_eq!(state.current.is_some(), reference.turn.is_some());
        assert_eq!(state.unanswered.len(), reference.unanswered);
        state.check_wire(false);
    }

    fn teardown(state: Sut) {
        state.finish_up();
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(24)
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn acp_cancellation_conforms_over_random_sequences(sequential 1..30 => CancellationTest);
}
