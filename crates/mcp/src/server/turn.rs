//! One turn of a session on behalf of one `tools/call`: submit the prompt, report the
//! session's events, answer its approvals, interrupt it when the call is cancelled, and
//! collect what the result says.

use std::collections::HashMap;
use std::time::Duration;

use rmcp::model::LoggingLevel;
use rmcp::{Peer, RoleServer};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use turnkit_protocol::{
    ApprovalOrigin, ApprovalRequest, Event, EventMsg, Op, ReviewDecision, TurnAbortReason,
    UserInput,
};
use turnkit_session_core::Session;

use super::approval::{Answer, decide, describe};
use super::notify::Reporter;
use super::options::ApprovalFallback;

/// How long approval questions still open when a turn ends get to be withdrawn.
const WITHDRAW_BOUND: Duration = Duration::from_secs(1);

/// How a turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// `task_complete` without an `error`.
    Completed,
    /// `turn_aborted`: the client cancelled the call, or an approval answered `abort`.
    Interrupted,
    /// An `error` ended it, or the session refused the prompt or went away.
    Failed,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::Interrupted => "interrupted",
            Status::Failed => "failed",
        }
    }
}

/// What a turn did, for the tool's result.
#[derive(Debug)]
pub(crate) struct TurnOutcome {
    pub(crate) status: Status,
    /// The final agent message.
    pub(crate) message: Option<String>,
    /// Every approval asked, with its answer, in the order they were answered.
    pub(crate) approvals: Vec<Answer>,
    /// Every error the turn reported.
    pub(crate) errors: Vec<String>,
    /// Whether the client's cancellation stopped it.
    pub(crate) cancelled_by_client: bool,
}

/// What a turn needs besides the session.
pub(crate) struct TurnContext<'a> {
    pub(crate) peer: Peer<RoleServer>,
    pub(crate) reporter: &'a mut Reporter,
    pub(crate) fallback: ApprovalFallback,
    /// Cancelled when the client cancels the call or the server stops.
    pub(crate) cancellation: CancellationToken,
    /// How long an interrupted turn may take to end.
    pub(crate) stop_bound: Duration,
}

/// Runs one regular turn on `prompt` to its terminal event.
///
/// # Cancel safety
///
/// Not cancel safe: dropped midway, the turn keeps running in the session and its
/// approvals stay unanswered; cancel `cx.cancellation` instead, which interrupts the turn.
pub(crate) async fn run_turn(
    session: &mut Session,
    prompt: String,
    cx: TurnContext<'_>,
) -> TurnOutcome {
    let mut outcome = TurnOutcome {
        status: Status::Failed,
        message: None,
        approvals: Vec::new(),
        errors: Vec::new(),
        cancelled_by_client: false,
    };
    abort_leftovers(session);
    let submission_id = match session.submit(Op::UserInput {
        items: vec![UserInput::text(prompt)],
    }) {
        Ok(id) => id,
        Err(error) => {
            outcome
                .errors
                .push(format!("the session refused the prompt: {error}"));
            return outcome;
        }
    };
    let mut turn = Turn {
        session_id: session.id().to_owned(),
        session,
        cx,
        submission_id,
        outcome,
        withdraw: CancellationToken::new(),
        questions: JoinSet::new(),
        asked: HashMap::new(),
        started: false,
        last_message: None,
    };
    turn.drive().await;
    // Questions still open belong to a turn that has ended: withdraw them from the client.
    turn.withdraw.cancel();
    let _ = tokio::time::timeout(WITHDRAW_BOUND, async {
        while turn.questions.join_next().await.is_some() {}
    })
    .await;
    turn.outcome
}

/// One turn in progress.
struct Turn<'a, 'r> {
    session: &'a mut Session,
    session_id: String,
    cx: TurnContext<'r>,
    submission_id: String,
    outcome: TurnOutcome,
    /// Cancelled when the turn ends, to withdraw the questions still open.
    withdraw: CancellationToken,
    questions: JoinSet<Answer>,
    /// What each question task asks: its approval id and summary.
    asked: HashMap<tokio::task::Id, (String, String)>,
    started: bool,
    last_message: Option<String>,
}

/// Whether the turn goes on after an event.
enum Flow {
    Continue,
    Done,
}

impl Turn<'_, '_> {
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`run_turn`].
    async fn drive(&mut self) {
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let until_deadline = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.cx.cancellation.cancelled(), if !self.outcome.cancelled_by_client => {
                    self.outcome.cancelled_by_client = true;
                    deadline = Some(tokio::time::Instant::now() + self.cx.stop_bound);
                    // An interrupt also resolves every pending approval as `abort`.
                    let _ = self.session.submit(Op::Interrupt);
                    self.cx
                        .reporter
                        .note(LoggingLevel::Notice, "the client cancelled the call: interrupting the turn")
                        .await;
                }
                Some(joined) = self.questions.join_next_with_id(), if !self.questions.is_empty() => {
                    let answer = match joined {
                        Ok((id, answer)) => {
                            self.asked.remove(&id);
                            answer
                        }
                        Err(error) => {
                            // A question's task that failed still owes the session a decision.
                            let (approval_id, request) =
                                self.asked.remove(&error.id()).unwrap_or_default();
                            Answer {
                                approval_id,
                                request,
                                decision: ReviewDecision::Abort,
                                by_client: false,
                                why_fallback: Some("asking the client failed inside the server".to_owned()),
                            }
                        }
                    };
                    self.answered(answer).await;
                }
                () = until_deadline => {
                    self.outcome.errors.push(format!(
                        "the turn did not stop within {} s of the interrupt; the session may still be busy",
                        self.cx.stop_bound.as_secs()
                    ));
                    self.outcome.status = Status::Interrupted;
                    return;
                }
                event = self.session.next_event() => {
                    let Some(event) = event else {
                        self.outcome.errors.push("the session ended unexpectedly".to_owned());
                        return;
                    };
                    self.cx.reporter.event(&event).await;
                    if let Flow::Done = self.on_event(event).await {
                        return;
                    }
                }
            }
        }
    }

    /// # Cancel safety
    ///
    /// Not cancel safe: dropped midway, an approval request may stay unanswered.
    async fn on_event(&mut self, event: Event) -> Flow {
        let ours = event.id == self.submission_id;
        match event.msg {
            EventMsg::ApprovalRequested {
                approval_id,
                request,
                origin,
            } => self.ask(approval_id, request, origin).await,
            EventMsg::TaskStarted { .. } if ours => self.started = true,
            // An error before the turn started is the session refusing the prompt; no
            // terminal event follows.
            EventMsg::Error { message } if ours && !self.started => {
                self.outcome.errors.push(message);
                return Flow::Done;
            }
            EventMsg::Error { message } if ours => self.outcome.errors.push(message),
            EventMsg::AgentMessage { message } if ours => self.last_message = Some(message),
            EventMsg::TaskComplete { last_agent_message } if ours => {
                self.outcome.message = last_agent_message.or_else(|| self.last_message.take());
                self.outcome.status = if self.outcome.errors.is_empty() {
                    Status::Completed
                } else {
                    Status::Failed
                };
                return Flow::Done;
            }
            EventMsg::TurnAborted { reason } if ours => {
                self.outcome.message = self.last_message.take();
                self.outcome.status = Status::Interrupted;
                if reason != TurnAbortReason::Interrupted {
                    self.outcome
                        .errors
                        .push(format!("the turn was aborted ({reason:?})"));
                }
                return Flow::Done;
            }
            EventMsg::ShutdownComplete => {
                self.outcome.errors.push("the session shut down".to_owned());
                return Flow::Done;
            }
            _ => {}
        }
        Flow::Continue
    }

    /// Puts an approval request to the client (or the fallback) in a task of its own, so
    /// the session's other events keep flowing while a person decides.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`Turn::on_event`].
    async fn ask(
        &mut self,
        approval_id: String,
        request: ApprovalRequest,
        origin: Option<ApprovalOrigin>,
    ) {
        let summary = describe(&request, origin.as_ref());
        if self.outcome.cancelled_by_client {
            let answer = Answer {
                approval_id,
                request: summary,
                decision: ReviewDecision::Abort,
                by_client: false,
                why_fallback: Some("the client had cancelled the call".to_owned()),
            };
            self.answered(answer).await;
            return;
        }
        self.cx
            .reporter
            .note(
                LoggingLevel::Notice,
                &format!("waiting for approval: {summary}"),
            )
            .await;
        let handle = self.questions.spawn(decide(
            self.cx.peer.clone(),
            self.session_id.clone(),
            approval_id.clone(),
            request,
            origin,
            self.cx.fallback,
            self.withdraw.child_token(),
        ));
        self.asked.insert(handle.id(), (approval_id, summary));
    }

    /// # Cancel safety
    ///
    /// Cancel safe: the decision is submitted before the first await.
    async fn answered(&mut self, answer: Answer) {
        answered(self.session, self.cx.reporter, &mut self.outcome, answer).await;
    }
}

/// Sends the decision to the session and records it.
///
/// # Cancel safety
///
/// Cancel safe: the decision is submitted before the first await.
async fn answered(
    session: &Session,
    reporter: &mut Reporter,
    outcome: &mut TurnOutcome,
    answer: Answer,
) {
    // A decision for a request the session already resolved (its turn ended) is only a
    // warning on its stream.
    let _ = session.submit(Op::DecideApproval {
        id: answer.approval_id.clone(),
        decision: answer.decision,
    });
    let by = if answer.by_client {
        "the client"
    } else {
        "the server's fallback"
    };
    reporter
        .note(
            LoggingLevel::Notice,
            &format!(
                "{}: {} (answered by {by})",
                super::approval::decision_name(answer.decision),
                answer.request
            ),
        )
        .await;
    outcome.approvals.push(answer);
}

/// Events left over from an earlier call that stopped waiting: an approval still pending
/// there is answered `abort`, so the new turn does not wait behind it.
fn abort_leftovers(session: &mut Session) {
    while let Some(event) = session.try_next_event() {
        if let EventMsg::ApprovalRequested { approval_id, .. } = event.msg {
            let _ = session.submit(Op::DecideApproval {
                id: approval_id,
                decision: ReviewDecision::Abort,
            });
        }
    }
}
