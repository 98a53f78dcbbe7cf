//! The one place a task runs and ends: `task_started`, the run, the abort, the terminal event.
//!
//! Two phases make "exactly one terminal event" hold by construction. In the first, the
//! driver waits for whichever comes first, the run's own end or an abort request, and that
//! choice fixes the outcome. In the second, only the driver, which alone may send a terminal
//! event, settles auxiliary work, runs hooks and sends the one terminal event. A natural finish
//! racing an abort is decided by the `select!` and cannot produce a second terminal.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;
use turnkit_protocol::{EventMsg, TurnAbortReason, UserInput};

use crate::state::{Auxiliary, Shared, TaskControl};
use crate::{SessionTask, TaskContext, TaskResult};

/// What a driver needs to run one turn.
pub(crate) struct TurnStart {
    pub(crate) task_id: u64,
    pub(crate) sub_id: String,
    pub(crate) task: Arc<dyn SessionTask>,
    pub(crate) ctx: Arc<TaskContext>,
    pub(crate) input: Vec<UserInput>,
    pub(crate) control: Arc<TaskControl>,
    pub(crate) prev_done: CancellationToken,
    pub(crate) done: CancellationToken,
    pub(crate) grace: Duration,
    pub(crate) flush_first: bool,
}

enum Outcome {
    Finished(Result<TaskResult, JoinError>),
    Aborted(TurnAbortReason),
}

/// Drives one turn from its `task_started` to its terminal event.
pub(crate) async fn drive(shared: Arc<Shared>, start: TurnStart) {
    let TurnStart {
        task_id,
        sub_id,
        task,
        ctx,
        input,
        control,
        prev_done,
        done,
        grace,
        flush_first,
    } = start;
    let kind = task.kind();
    let span =
        tracing::info_span!(parent: &shared.span, "task", turn.id = %sub_id, task.kind = %kind);

    async {
        // The previous turn's terminal event comes before this turn's first event.
        prev_done.cancelled().await;
        if flush_first {
            shared.flush_rollout(&ctx.gate, &sub_id).await;
        }
        ctx.send_event(EventMsg::TaskStarted { kind: kind.clone() });
        tracing::debug!("task started");

        let token = ctx.cancellation_token().clone();
        let outcome = if let Some(reason) = control.requested_reason() {
            // Aborted before it began: it never runs, but its hook still runs once.
            token.cancel();
            Outcome::Aborted(reason)
        } else {
            let run = task.clone().run(Arc::clone(&ctx), input, token.clone());
            let mut run = AbortOnDropHandle::new(shared.runtime.spawn(run.in_current_span()));
            tokio::select! {
                biased;
                result = &mut run => Outcome::Finished(result),
                () = control.requested.cancelled() => {
                    let reason = control.requested_reason().unwrap_or(TurnAbortReason::Interrupted);
                    crate::subsession::interrupt_children(&ctx);
                    token.cancel();
                    shared.approvals.abort_task(task_id);
                    stop_within(&mut run, Instant::now() + grace).await;
                    Outcome::Aborted(reason)
                }
            }
        };

        shared.end_steering(task_id);
        let aborted = matches!(outcome, Outcome::Aborted(_));
        settle_auxiliary(&shared, task_id, &control, &token, aborted).await;
        crate::subsession::settle_children(&ctx).await;
        if aborted {
            run_hook(&shared, task.as_ref(), &ctx).await;
        }

        let terminal = match outcome {
            Outcome::Aborted(reason) => EventMsg::TurnAborted { reason },
            Outcome::Finished(Ok(Ok(last_agent_message))) => {
                EventMsg::TaskComplete { last_agent_message }
            }
            Outcome::Finished(Ok(Err(error))) => {
                ctx.send_event(EventMsg::Error {
                    message: error.to_string(),
                });
                EventMsg::TaskComplete {
                    last_agent_message: None,
                }
            }
            Outcome::Finished(Err(join_error)) => {
                ctx.send_event(EventMsg::Error {
                    message: describe_failure(&kind.to_string(), join_error),
                });
                EventMsg::TaskComplete {
                    last_agent_message: None,
                }
            }
        };
        shared.flush_rollout(&ctx.gate, &sub_id).await;
        shared.sink.emit_terminal(&ctx.gate, &sub_id, terminal);
        tracing::debug!(aborted, "task ended");
        shared.finish_turn(task_id);
        done.cancel();
    }
    .instrument(span)
    .await;
}

/// Waits for a cancelled run until `deadline`, then aborts it and waits for it to go.
async fn stop_within<T>(run: &mut AbortOnDropHandle<T>, deadline: Instant) -> bool {
    if tokio::time::timeout_at(deadline, &mut *run).await.is_ok() {
        return true;
    }
    tracing::debug!("grace period over: aborting hard");
    run.abort();
    let _ = (&mut *run).await;
    false
}

/// Lets the turn's auxiliary work finish, or stops it when the turn is aborted.
async fn settle_auxiliary(
    shared: &Shared,
    task_id: u64,
    control: &TaskControl,
    token: &CancellationToken,
    mut aborted: bool,
) {
    loop {
        let mut work = shared.take_auxiliary(task_id);
        if work.is_empty() {
            return;
        }
        if !aborted {
            while let Some(mut item) = work.pop() {
                tokio::select! {
                    biased;
                    result = &mut item.handle => report_auxiliary(shared, &item, result),
                    () = control.requested.cancelled() => {
                        // The task itself completed; only its auxiliary work is cut short.
                        work.push(item);
                        aborted = true;
                        token.cancel();
                        shared.approvals.abort_task(task_id);
                        break;
                    }
                }
            }
        }
        if aborted {
            token.cancel();
            let start = Instant::now();
            for item in &mut work {
                if item.handle.is_finished() {
                    continue;
                }
                stop_within(&mut item.handle, start + item.grace).await;
            }
            for item in &work {
                if let Some((task, ctx)) = &item.hook {
                    run_hook(shared, task.as_ref(), ctx).await;
                }
            }
        }
    }
}

fn report_auxiliary(shared: &Shared, item: &Auxiliary, result: Result<(), JoinError>) {
    if let Err(join_error) = result {
        if let Some((task, ctx)) = &item.hook {
            let message = describe_failure(&task.kind().to_string(), join_error);
            shared
                .sink
                .emit_gated(&ctx.gate, &item.sub_id, EventMsg::Error { message });
        } else {
            tracing::error!(error = %join_error, "auxiliary work failed");
        }
    }
}

/// Runs a task's abort hook once, giving up after the session's bound.
async fn run_hook(shared: &Shared, task: &dyn SessionTask, ctx: &Arc<TaskContext>) {
    let hook = task.abort(Arc::clone(ctx));
    if tokio::time::timeout(shared.abort_hook_timeout, hook)
        .await
        .is_err()
    {
        tracing::warn!(limit = ?shared.abort_hook_timeout, "abort hook did not finish in time");
        ctx.send_event(EventMsg::Warning {
            message: format!(
                "the `{}` task's cleanup did not finish within {:?} and was stopped",
                task.kind(),
                shared.abort_hook_timeout
            ),
        });
    }
}

fn describe_failure(kind: &str, join_error: JoinError) -> String {
    if join_error.is_panic() {
        let payload = join_error.into_panic();
        let detail = payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        format!(
            "the `{kind}` task panicked: {detail}; the session goes on, and this is a bug worth reporting"
        )
    } else {
        format!("the `{kind}` task was cancelled unexpectedly")
    }
}
