//! One task per session that owns it: reads its events, sends the client `session/update`s and
//! permission requests, and answers `session/prompt` when the turn ends.
//!
//! Everything about a session's prompt lives in this one task (the running turn, whether it
//! was cancelled, the permission requests waiting for the client), so the rules that make a
//! cancel end a prompt exactly once need no lock: the request handlers only send [`Command`]s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use agent_client_protocol::v1::schema::{
    Notice, NoticeSeverity, PermissionOption, PermissionOptionKind, PromptResponse,
    RequestPermissionOutcome, RequestPermissionRequest, RequestPermissionResponse,
    SessionNotification, SessionUpdate, StopReason,
};
use agent_client_protocol::v1::{ConnectionTo, Responder};
use agent_client_protocol::{Client, ErrorCode, RequestCancellationHandle};
use tokio::sync::mpsc;
use turnkit_protocol::{
    ApprovalOrigin, ApprovalRequest, Event, EventMsg, Op, ReviewDecision, Submission, UserInput,
};
use turnkit_session_core::Session;

use crate::updates::{Mode, Translator};

/// How long a session may take to shut down when the connection closes.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(10);

/// The permission options every request offers, with the decision each stands for.
const OPTIONS: [(&str, &str, PermissionOptionKind, ReviewDecision); 3] = [
    (
        "approved",
        "Allow",
        PermissionOptionKind::AllowOnce,
        ReviewDecision::Approved,
    ),
    (
        "approved_for_session",
        "Allow for this session",
        PermissionOptionKind::AllowAlways,
        ReviewDecision::ApprovedForSession,
    ),
    (
        "denied",
        "Reject",
        PermissionOptionKind::RejectOnce,
        ReviewDecision::Denied,
    ),
];

/// What the request handlers ask of a session's task.
pub(crate) enum Command {
    /// `session/prompt`: run a turn on this input and answer `responder` when it ends.
    Prompt {
        items: Vec<UserInput>,
        responder: Responder<PromptResponse>,
    },
    /// `session/cancel`.
    Cancel,
    /// The client answered a permission request (sent by the task itself).
    PermissionAnswered {
        turn: Option<u64>,
        approval_id: String,
        result: Result<RequestPermissionResponse, agent_client_protocol::Error>,
    },
    /// The connection closed: shut the session down.
    Shutdown,
}

/// The prompt being answered.
struct Turn {
    number: u64,
    submission_id: String,
    responder: Option<Responder<PromptResponse>>,
    cancelled: bool,
    started: bool,
    error: Option<String>,
}

struct Waiting {
    request: ApprovalRequest,
    origin: Option<ApprovalOrigin>,
    cancellation: RequestCancellationHandle,
}

pub(crate) struct Pump {
    session: Session,
    session_id: String,
    cx: ConnectionTo<Client>,
    notices: bool,
    translator: Translator,
    commands: mpsc::UnboundedSender<Command>,
    turn: Option<Turn>,
    turns: u64,
    waiting: HashMap<String, Waiting>,
}

impl Pump {
    /// Starts the task of `session`; returns where to send it commands.
    pub(crate) fn spawn(
        session: Session,
        cwd: PathBuf,
        cx: ConnectionTo<Client>,
        notices: bool,
    ) -> (mpsc::UnboundedSender<Command>, tokio::task::JoinHandle<()>) {
        let (commands, received) = mpsc::unbounded_channel();
        let pump = Pump {
            session_id: session.id().to_owned(),
            session,
            cx,
            notices,
            translator: Translator::new(cwd, Mode::Live),
            commands: commands.clone(),
            turn: None,
            turns: 0,
            waiting: HashMap::new(),
        };
        let handle = tokio::spawn(pump.run(received));
        (commands, handle)
    }

    /// # Cancel safety
    ///
    /// Not cancel safe, and never dropped midway: it runs as its own tokio task until the
    /// session shuts down.
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            tokio::select! {
                event = self.session.next_event() => match event {
                    Some(event) => self.on_event(&event),
                    None => return,
                },
                command = commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
            }
        }
        self.shutdown().await;
    }

    /// # Cancel safety
    ///
    /// Cancel safe: dropped midway, the session is dropped, which aborts its tasks.
    async fn shutdown(mut self) {
        if self.session.submit(Op::Shutdown).is_err() {
            return;
        }
        let _ = tokio::time::timeout(SHUTDOWN_BOUND, async {
            while self.session.next_event().await.is_some() {}
        })
        .await;
        if let Some(mut turn) = self.turn.take()
            && let Some(responder) = turn.responder.take()
        {
            let _ = responder.respond(PromptResponse::new(StopReason::Cancelled));
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Prompt { items, responder } => self.prompt(items, responder),
            Command::Cancel => self.cancel(),
            Command::PermissionAnswered {
                turn,
                approval_id,
                result,
            } => self.permission_answered(turn, &approval_id, result),
            Command::Shutdown => {}
        }
    }

    fn prompt(&mut self, items: Vec<UserInput>, responder: Responder<PromptResponse>) {
        if self.turn.is_some() {
            let _ = responder.respond_with_error(agent_client_protocol::Error::new(
                ErrorCode::INVALID_REQUEST,
                format!(
                    "a prompt is already running in session `{}`; wait for its response or send session/cancel first",
                    self.session_id
                ),
            ));
            return;
        }
        self.turns += 1;
        let submission_id = format!("acp-prompt-{}", self.turns);
        let submitted = self.session.submit_with_id(Submission {
            id: submission_id.clone(),
            op: Op::UserInput { items },
        });
        if let Err(error) = submitted {
            let _ = responder.respond_with_error(agent_client_protocol::Error::new(
                ErrorCode::INTERNAL_ERROR,
                format!("the session cannot take the prompt: {error}"),
            ));
            return;
        }
        self.turn = Some(Turn {
            number: self.turns,
            submission_id,
            responder: Some(responder),
            cancelled: false,
            started: false,
            error: None,
        });
    }

    /// `session/cancel`: interrupt the turn and withdraw its permission requests. The prompt
    /// is answered `cancelled` when the turn's terminal event arrives, never before, so
    /// every update of the turn precedes the answer.
    fn cancel(&mut self) {
        let Some(turn) = &mut self.turn else {
            return;
        };
        if turn.cancelled {
            return;
        }
        turn.cancelled = true;
        // The interrupt resolves every approval the turn waits for as `abort` (never a
        // model-visible denial); the client's answers to the withdrawn requests are ignored.
        let _ = self.session.submit(Op::Interrupt);
        for waiting in self.waiting.values() {
            let _ = waiting.cancellation.cancel();
        }
    }

    fn permission_answered(
        &mut self,
        turn: Option<u64>,
        approval_id: &str,
        result: Result<RequestPermissionResponse, agent_client_protocol::Error>,
    ) {
        let Some(waiting) = self.waiting.remove(approval_id) else {
            return;
        };
        let current = self.turn.as_ref().map(|turn| turn.number);
        let cancelled = self.turn.as_ref().is_some_and(|turn| turn.cancelled);
        if current != turn || cancelled {
            return;
        }
        let decision = match result {
            Ok(response) => match response.outcome {
                RequestPermissionOutcome::Selected(selected) => OPTIONS
                    .iter()
                    .find(|(id, ..)| *id == &*selected.option_id.0)
                    .map_or(ReviewDecision::Denied, |option| option.3),
                // The client withdrew the question (the user dismissed it): stop the turn,
                // as a cancel would.
                _ => ReviewDecision::Abort,
            },
            Err(error) => {
                tracing::warn!(%error, approval_id, "the client failed to answer a permission request; the turn is stopped");
                ReviewDecision::Abort
            }
        };
        let _ = self.session.submit(Op::DecideApproval {
            id: approval_id.to_owned(),
            decision,
        });
        if decision == ReviewDecision::Denied {
            let update =
                self.translator
                    .declined(&waiting.request, approval_id, waiting.origin.as_ref());
            self.notify(update);
        }
    }

    fn on_event(&mut self, event: &Event) {
        let ours = self
            .turn
            .as_ref()
            .is_some_and(|turn| turn.submission_id == event.id);
        match &event.msg {
            EventMsg::ApprovalRequested {
                approval_id,
                request,
                origin,
            } => self.ask(approval_id, request, origin.as_ref()),
            EventMsg::TaskStarted { .. } if ours => {
                if let Some(turn) = &mut self.turn {
                    turn.started = true;
                }
            }
            EventMsg::Error { message } if ours => {
                let started = self.turn.as_ref().is_some_and(|turn| turn.started);
                if let Some(turn) = &mut self.turn {
                    turn.error.get_or_insert_with(|| message.clone());
                }
                // An error before the task started is the session refusing the input: no
                // terminal event follows.
                if !started {
                    self.finish(false);
                }
            }
            EventMsg::Error { message } => {
                tracing::warn!(message, "an error outside the prompt");
                self.notice(NoticeSeverity::Error, message);
            }
            EventMsg::Warning { message } => self.notice(NoticeSeverity::Warning, message),
            msg if msg.is_terminal() => {
                for update in self.translator.event(msg) {
                    self.notify(update);
                }
                if ours {
                    self.finish(matches!(msg, EventMsg::TurnAborted { .. }));
                }
            }
            msg => {
                for update in self.translator.event(msg) {
                    self.notify(update);
                }
            }
        }
    }

    /// Sends `session/request_permission` and waits for the answer in a task of its own, so
    /// the session's other events keep flowing meanwhile.
    fn ask(
        &mut self,
        approval_id: &str,
        request: &ApprovalRequest,
        origin: Option<&ApprovalOrigin>,
    ) {
        if self.turn.as_ref().is_some_and(|turn| turn.cancelled) {
            // The interrupt already resolved it as `abort`.
            return;
        }
        let (announce, tool_call) = self.translator.approval(approval_id, request, origin);
        for update in announce {
            self.notify(update);
        }
        let options = OPTIONS
            .iter()
            .map(|(id, name, kind, _)| PermissionOption::new(*id, *name, *kind))
            .collect();
        let sent = self.cx.send_request(RequestPermissionRequest::new(
            self.session_id.clone(),
            tool_call,
            options,
        ));
        self.waiting.insert(
            approval_id.to_owned(),
            Waiting {
                request: request.clone(),
                origin: origin.cloned(),
                cancellation: sent.cancellation_handle(),
            },
        );
        let commands = self.commands.clone();
        let turn = self.turn.as_ref().map(|turn| turn.number);
        let approval_id = approval_id.to_owned();
        tokio::spawn(async move {
            let result = sent.block_task().await;
            let _ = commands.send(Command::PermissionAnswered {
                turn,
                approval_id,
                result,
            });
        });
    }

    /// Answers the prompt, once.
    fn finish(&mut self, aborted: bool) {
        let Some(mut turn) = self.turn.take() else {
            return;
        };
        let Some(responder) = turn.responder.take() else {
            return;
        };
        let answered = if turn.cancelled || aborted {
            // The spec asks for `cancelled` whenever the client cancelled, even when the
            // turn happened to finish at the same moment.
            responder.respond(PromptResponse::new(StopReason::Cancelled))
        } else if let Some(message) = turn.error {
            responder.respond_with_error(agent_client_protocol::Error::new(
                ErrorCode::INTERNAL_ERROR,
                message,
            ))
        } else {
            responder.respond(PromptResponse::new(StopReason::EndTurn))
        };
        if let Err(error) = answered {
            tracing::debug!(%error, "the prompt's answer could not be sent");
        }
    }

    fn notify(&self, update: SessionUpdate) {
        if let Err(error) = self
            .cx
            .send_notification(SessionNotification::new(self.session_id.clone(), update))
        {
            tracing::debug!(%error, "a session update could not be sent");
        }
    }

    /// A warning or an error outside the turn: a notice when the client shows them, else the
    /// agent's log (stderr).
    fn notice(&self, severity: NoticeSeverity, message: &str) {
        if self.notices {
            self.notify(SessionUpdate::Notice(Notice::new(severity, message)));
        } else {
            tracing::warn!(message, "session warning");
        }
    }
}

/// Sends the updates of a stored session's transcript.
pub(crate) fn replay(cx: &ConnectionTo<Client>, session_id: &str, updates: Vec<SessionUpdate>) {
    for update in updates {
        if let Err(error) =
            cx.send_notification(SessionNotification::new(session_id.to_owned(), update))
        {
            tracing::debug!(%error, "a replayed update could not be sent");
        }
    }
}
