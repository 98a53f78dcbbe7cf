//! Drives one operation on a session to its end: shows its events, answers approvals, and
//! turns Ctrl-C, SIGTERM and a closed terminal into an interrupt or a clean shutdown.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};
use turnkit::{ApprovalPolicy, Event, EventMsg, Op, ReviewDecision, Session, TurnAbortReason};

use crate::render::Output;

/// A second Ctrl-C within this time quits instead of only interrupting.
const DOUBLE_INTERRUPT: Duration = Duration::from_secs(3);
/// How long a shutdown may take before the process leaves anyway.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(10);

/// How an operation ended, and so the process's exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `task_complete` without an `error`.
    Completed,
    /// An `error` ended the task.
    Failed,
    /// Ctrl-C: the turn was interrupted, or the session shut down on a second one.
    Interrupted,
    /// SIGTERM or a closed terminal (SIGHUP): the session shut down.
    Terminated(i32),
}

impl Outcome {
    /// The exit code the README documents.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Outcome::Completed => 0,
            Outcome::Failed => 1,
            Outcome::Interrupted => 130,
            Outcome::Terminated(signal) => 128 + signal as u8,
        }
    }
}

/// How approval requests are answered.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Approvals {
    /// Asked on the terminal.
    Ask,
    /// Nobody can answer (no terminal): every request gets this decision, and the output
    /// says why and how to allow such calls.
    Unattended(ReviewDecision),
    /// Every request answered with this decision on the person's behalf (the demo), said on
    /// the output.
    Automatic(ReviewDecision),
}

impl Approvals {
    /// Ask when stdin is a terminal and the output is for a person; else deny, since nobody
    /// can answer and a hidden prompt would hang a script.
    pub(crate) fn for_terminal(json: bool) -> Self {
        if !json && std::io::stdin().is_terminal() {
            Approvals::Ask
        } else {
            Approvals::Unattended(ReviewDecision::Denied)
        }
    }
}

/// The signals the command reacts to while a session runs.
pub(crate) struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
    last_interrupt: Option<Instant>,
}

enum SignalEvent {
    Interrupt,
    Quit(Outcome),
}

impl Signals {
    /// Installs the handlers; before this, Ctrl-C kills the process outright.
    pub(crate) fn install() -> anyhow::Result<Self> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot handle Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            hangup: signal(SignalKind::hangup()).context("cannot handle SIGHUP")?,
            last_interrupt: None,
        })
    }

    /// How the command ends when a signal comes before its session runs (while its MCP
    /// servers start): any signal stops it, Ctrl-C as an interrupt.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as the handlers it reads.
    pub(crate) async fn before_session(&mut self) -> Outcome {
        match self.next().await {
            SignalEvent::Interrupt => Outcome::Interrupted,
            SignalEvent::Quit(outcome) => outcome,
        }
    }

    /// # Cancel safety
    ///
    /// Cancel safe: a signal not yet received stays queued in tokio's handler.
    async fn next(&mut self) -> SignalEvent {
        tokio::select! {
            _ = self.interrupt.recv() => {
                let now = Instant::now();
                let again = self.last_interrupt.is_some_and(|last| now.duration_since(last) < DOUBLE_INTERRUPT);
                self.last_interrupt = Some(now);
                if again { SignalEvent::Quit(Outcome::Interrupted) } else { SignalEvent::Interrupt }
            }
            _ = self.terminate.recv() => SignalEvent::Quit(Outcome::Terminated(15)),
            _ = self.hangup.recv() => {
                SignalEvent::Quit(Outcome::Terminated(1))
            }
        }
    }
}

/// A session with its output, approval answers and signals.
pub(crate) struct Driver {
    /// The session.
    pub(crate) session: Session,
    /// Where its events go.
    pub(crate) output: Output,
    /// How approvals are answered.
    pub(crate) approvals: Approvals,
    /// The policy, named when a request is denied for want of a terminal.
    pub(crate) policy: ApprovalPolicy,
    signals: Signals,
}

impl Driver {
    /// A driver for this session.
    pub(crate) fn new(
        session: Session,
        output: Output,
        approvals: Approvals,
        policy: ApprovalPolicy,
        signals: Signals,
    ) -> Self {
        Driver {
            session,
            output,
            approvals,
            policy,
            signals,
        }
    }

    /// Submits `op` and shows its events until its terminal event.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped midway, the operation keeps running in the session.
    pub(crate) async fn run(&mut self, op: Op) -> anyhow::Result<Outcome> {
        self.run_with(op, |_, _| None).await
    }

    /// [`Driver::run`], calling `on_event` with each event; a decision it returns answers an
    /// approval request instead of the driver's own rule (the demo answers its own).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped midway, the operation keeps running in the session.
    pub(crate) async fn run_with(
        &mut self,
        op: Op,
        mut on_event: impl FnMut(&Event, &Session) -> Option<ReviewDecision>,
    ) -> anyhow::Result<Outcome> {
        let turn_id = self
            .session
            .submit(op)
            .context("the session refused the operation")?;
        let mut failed = false;
        let mut started = false;
        loop {
            let event = tokio::select! {
                event = self.session.next_event() => event,
                signal = self.signals.next() => match signal {
                    SignalEvent::Interrupt => {
                        self.output.note("interrupting… (press Ctrl-C again within 3 s to quit)");
                        self.session.submit(Op::Interrupt).context("cannot interrupt the turn")?;
                        continue;
                    }
                    SignalEvent::Quit(outcome) => return self.shutdown(outcome).await,
                },
            };
            let Some(event) = event else {
                self.output.finish();
                anyhow::bail!("the session ended unexpectedly; its rollout has what it did");
            };
            self.output.event(&event);
            let decision = on_event(&event, &self.session);
            match &event.msg {
                EventMsg::ApprovalRequested { approval_id, .. } => {
                    let decision = match decision {
                        Some(decision) => {
                            self.output.note(&format!(
                                "approval answered automatically: {}",
                                decision_word(decision)
                            ));
                            Some(decision)
                        }
                        None => self.decide().await,
                    };
                    match decision {
                        Some(decision) => {
                            self.session.submit(Op::DecideApproval {
                                id: approval_id.clone(),
                                decision,
                            })?;
                        }
                        None => return self.shutdown(Outcome::Interrupted).await,
                    }
                }
                EventMsg::TaskStarted { .. } if event.id == turn_id => started = true,
                // An error before the task started is the session refusing the operation (no
                // task kind for it): no terminal event will follow.
                EventMsg::Error { .. } if event.id == turn_id && !started => {
                    return self.shutdown(Outcome::Failed).await;
                }
                EventMsg::Error { .. } if event.id == turn_id => failed = true,
                EventMsg::TaskComplete { .. } if event.id == turn_id => {
                    self.output.finish();
                    return Ok(if failed {
                        Outcome::Failed
                    } else {
                        Outcome::Completed
                    });
                }
                EventMsg::TurnAborted { reason } if event.id == turn_id => {
                    self.output.finish();
                    return Ok(match reason {
                        TurnAbortReason::Interrupted => Outcome::Interrupted,
                        _ => Outcome::Failed,
                    });
                }
                EventMsg::ShutdownComplete => {
                    self.output.finish();
                    return Ok(Outcome::Failed);
                }
                _ => {}
            }
        }
    }

    /// Asks the person, or answers by the rule; `None` means quit now.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped midway, a question may stay on the terminal.
    async fn decide(&mut self) -> Option<ReviewDecision> {
        match self.approvals {
            Approvals::Automatic(decision) => {
                self.output.note(&format!(
                    "answered automatically: {}",
                    decision_word(decision)
                ));
                Some(decision)
            }
            Approvals::Unattended(decision) => {
                self.output.note(&format!(
                    "{}: nobody can answer here (no terminal); pass --approval-policy never to run such calls without asking (policy now: {})",
                    decision_word(decision),
                    self.policy
                ));
                Some(decision)
            }
            Approvals::Ask => {
                // The spinner would redraw over the question while the person types.
                self.output.finish();
                eprint!("approve? [y] yes  [a] yes for this session  [n] no  [q] abort the turn: ");
                let answer = tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).map(|_| line)
                });
                tokio::select! {
                    answer = answer => {
                        let line = answer.ok().and_then(Result::ok).unwrap_or_default();
                        Some(match line.trim().to_ascii_lowercase().as_str() {
                            "y" | "yes" => ReviewDecision::Approved,
                            "a" => ReviewDecision::ApprovedForSession,
                            "q" | "" => ReviewDecision::Abort,
                            _ => ReviewDecision::Denied,
                        })
                    }
                    signal = self.signals.next() => match signal {
                        SignalEvent::Interrupt => Some(ReviewDecision::Abort),
                        SignalEvent::Quit(_) => None,
                    },
                }
            }
        }
    }

    /// Shuts the session down, showing its last events, and reports `outcome`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped midway, the session is dropped, which aborts its tasks.
    async fn shutdown(&mut self, outcome: Outcome) -> anyhow::Result<Outcome> {
        self.output.note("shutting down");
        self.session
            .submit(Op::Shutdown)
            .context("cannot shut the session down")?;
        let _ = tokio::time::timeout(SHUTDOWN_BOUND, async {
            while let Some(event) = self.session.next_event().await {
                self.output.event(&event);
                if matches!(event.msg, EventMsg::ShutdownComplete) {
                    break;
                }
            }
        })
        .await;
        self.output.finish();
        Ok(outcome)
    }
}

fn decision_word(decision: ReviewDecision) -> &'static str {
    match decision {
        ReviewDecision::Approved => "approved",
        ReviewDecision::ApprovedForSession => "approved for this session",
        ReviewDecision::Denied => "denied",
        ReviewDecision::Abort => "aborted",
    }
}
