//! The one place a task runs and ends: `task_started`, the run, the abort, the terminal event.
//!
//! Two phases make "exactly one terminal event" hold by construction. In the first, the
//! driver waits for whichever comes first, the run's own end or an abort request, and that
//! choice fixes the outcome. In the second, only the driver, which alone may send a terminal
//! event, settles auxiliary work, runs hooks and sends the one terminal event. A natural finish
//! racing an abort is decided by the `select!` and cannot produce a second terminal.
//!
//! No task code runs in the driver's own future: the run, each abort hook and each piece of
//! side work is its own tokio task, so a panic or a hang there is an outcome the driver
//! reports. What could still panic in the driver (formatting a task's error) is caught, and
//! the turn still gets its terminal event.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;
use turnkit_protocol::{EventMsg, TaskKind, TurnAbortReason, UserInput};

use crate::rollout::RolloutRecord;
use crate::state::{Auxiliary, Shared, TaskControl};
use crate::{SessionTask, TaskContext, TaskResult};

/// What a driver needs to run one turn.
pub(crate) struct TurnStart {
    pub(crate) task_id: u64,
    pub(crate) sub_id: String,
    pub(crate) kind: TaskKind,
    pub(crate) task: Arc<dyn SessionTask>,
    pub(crate) ctx: Arc<TaskContext>,
    pub(crate) input: Vec<UserInput>,
    /// The submissions whose user input this turn starts with; empty for other ops.
    pub(crate) input_ids: Vec<String>,
    pub(crate) control: Arc<TaskControl>,
    pub(crate) prev_done: CancellationToken,
    pub(crate) done: CancellationToken,
    /// Fired once `task_started` is out, so side work may begin.
    pub(crate) started: CancellationToken,
    pub(crate) grace: Duration,
}

enum Outcome {
    Finished(Result<TaskResult, JoinError>),
    Aborted(TurnAbortReason),
}

/// Drives one turn from its `task_started` to its terminal event.
///
/// # Cancel safety
///
/// Dropped only when the session is dropped: the run, hooks and side work it owns are
/// aborted with it, and no terminal event is sent (the stream is closed by then).
pub(crate) async fn drive(shared: Arc<Shared>, start: TurnStart) {
    let span = tracing::info_span!(parent: &shared.span, "task", turn.id = %start.sub_id, task.kind = %start.kind);
    let task_id = start.task_id;
    let ctx = Arc::clone(&start.ctx);
    let control = Arc::clone(&start.control);
    let done = start.done.clone();
    let started = start.started.clone();
    async {
        let turn = AssertUnwindSafe(run_turn(&shared, start)).catch_unwind();
        if let Err(panic) = turn.await {
            report_driver_panic(&shared, &ctx, &control, &panic_message(&*panic)).await;
        }
        // Work the task left behind (a detached future, a late approval request) stops now.
        ctx.cancellation_token().cancel();
        started.cancel();
        shared.finish_turn(task_id);
        done.cancel();
    }
    .instrument(span)
    .await;
}

/// Everything of one turn up to and including its terminal event.
async fn run_turn(shared: &Shared, start: TurnStart) {
    let TurnStart {
        task_id,
        sub_id,
        kind,
        task,
        ctx,
        input,
        input_ids,
        control,
        prev_done,
        started,
        grace,
        ..
    } = start;
    // The previous turn's terminal event comes before this turn's first event.
    prev_done.cancelled().await;
    if !input_ids.is_empty() {
        shared.journal(&RolloutRecord::InputStarted { ids: input_ids });
        shared.flush_rollout(&ctx.gate, &sub_id).await;
    }
    ctx.send_event(EventMsg::TaskStarted { kind: kind.clone() });
    started.cancel();
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
                stop_within(shared, &ctx, &mut run, Instant::now() + grace).await;
                Outcome::Aborted(reason)
            }
        }
    };

    shared.end_steering(task_id);
    let aborted = matches!(outcome, Outcome::Aborted(_));
    settle_auxiliary(shared, task_id, &control, &token, aborted).await;
    crate::subsession::settle_children(&ctx).await;
    if aborted {
        run_hook(shared, &task, &ctx).await;
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
                message: describe_failure(&kind, join_error),
            });
            EventMsg::TaskComplete {
                last_agent_message: None,
            }
        }
    };
    send_terminal(shared, &ctx, terminal).await;
    tracing::debug!(aborted, "task ended");
}

/// Stamps and journals the terminal event, syncs the rollout, then delivers the event.
async fn send_terminal(shared: &Shared, ctx: &TaskContext, terminal: EventMsg) {
    let sync = async {
        if let Err(message) = shared.sync_rollout().await {
            // The task's gate is closed by now; the journal is the session's concern.
            shared
                .sink
                .emit(&shared.session_id, EventMsg::Error { message });
        }
    };
    shared
        .sink
        .emit_terminal(&ctx.gate, ctx.sub_id(), terminal, sync)
        .await;
}

/// The driver itself panicked: say so, and end the turn if its terminal event is still due.
async fn report_driver_panic(
    shared: &Shared,
    ctx: &TaskContext,
    control: &TaskControl,
    detail: &str,
) {
    tracing::error!(%detail, "a turn's driver panicked");
    if !shared.sink.is_open(&ctx.gate) {
        return;
    }
    ctx.send_event(EventMsg::Error {
        message: format!(
            "the session failed while ending the `{}` task ({detail}); the session goes on, and this is a bug worth reporting",
            ctx.kind()
        ),
    });
    let terminal = match control.requested_reason() {
        Some(reason) => EventMsg::TurnAborted { reason },
        None => EventMsg::TaskComplete {
            last_agent_message: None,
        },
    };
    send_terminal(shared, ctx, terminal).await;
}

/// Waits for a cancelled run until `deadline`, then aborts it and waits, within a bound, for
/// it to go; a run that never goes is left behind with a warning.
///
/// # Cancel safety
///
/// Dropping the future drops the handle, which aborts the run.
async fn stop_within<T>(
    shared: &Shared,
    ctx: &TaskContext,
    run: &mut AbortOnDropHandle<T>,
    deadline: Instant,
) {
    if tokio::time::timeout_at(deadline, &mut *run).await.is_ok() {
        return;
    }
    tracing::debug!("grace period over: aborting hard");
    run.abort();
    if tokio::time::timeout(shared.abort_hook_timeout, &mut *run)
        .await
        .is_err()
    {
        tracing::error!(limit = ?shared.abort_hook_timeout, "an aborted task did not stop");
        ctx.send_event(EventMsg::Warning {
            message: format!(
                "the `{}` task did not stop within {:?} of being aborted (it blocks its thread); the session goes on without it",
                ctx.kind(),
                shared.abort_hook_timeout
            ),
        });
    }
}

/// Lets the turn's auxiliary work finish, or stops it when the turn is aborted.
///
/// # Cancel safety
///
/// Dropping the future drops the work it took, which aborts it; hooks not yet run never run.
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
                if let Some((_, ctx)) = &item.hook {
                    stop_within(shared, ctx, &mut item.handle, start + item.grace).await;
                } else if tokio::time::timeout_at(start + item.grace, &mut item.handle)
                    .await
                    .is_err()
                {
                    item.handle.abort();
                }
            }
            for item in &work {
                if let Some((task, ctx)) = &item.hook {
                    run_hook(shared, task, ctx).await;
                }
            }
        }
    }
}

fn report_auxiliary(shared: &Shared, item: &Auxiliary, result: Result<(), JoinError>) {
    if let Err(join_error) = result {
        if let Some((_, ctx)) = &item.hook {
            let message = describe_failure(ctx.kind(), join_error);
            shared
                .sink
                .emit_gated(&ctx.gate, &item.sub_id, EventMsg::Error { message });
        } else {
            tracing::error!(error = %join_error, "auxiliary work failed");
        }
    }
}

/// Runs a task's abort hook once, in its own tokio task, giving up after the session's bound.
///
/// A hook that panics is reported as an `error`; one that hangs as a `warning`. Either way
/// the driver goes on to the terminal event.
///
/// # Cancel safety
///
/// Dropping the future aborts the hook.
async fn run_hook(shared: &Shared, task: &Arc<dyn SessionTask>, ctx: &Arc<TaskContext>) {
    let hook = {
        let task = Arc::clone(task);
        let ctx = Arc::clone(ctx);
        async move { task.abort(ctx).await }
    };
    let mut handle = AbortOnDropHandle::new(shared.runtime.spawn(hook.in_current_span()));
    match tokio::time::timeout(shared.abort_hook_timeout, &mut handle).await {
        Ok(Ok(())) => {}
        Ok(Err(join_error)) => {
            let detail = if join_error.is_panic() {
                panic_message(&*join_error.into_panic())
            } else {
                "it was cancelled".to_owned()
            };
            tracing::error!(%detail, "abort hook failed");
            ctx.send_event(EventMsg::Error {
                message: format!(
                    "the `{}` task's cleanup panicked ({detail}); the turn ends anyway, and this is a bug worth reporting",
                    ctx.kind()
                ),
            });
        }
        Err(_) => {
            handle.abort();
            tracing::warn!(limit = ?shared.abort_hook_timeout, "abort hook did not finish in time");
            ctx.send_event(EventMsg::Warning {
                message: format!(
                    "the `{}` task's cleanup did not finish within {:?} and was stopped",
                    ctx.kind(),
                    shared.abort_hook_timeout
                ),
            });
        }
    }
}

fn describe_failure(kind: &TaskKind, join_error: JoinError) -> String {
    if join_error.is_panic() {
        let detail = panic_message(&*join_error.into_panic());
        format!(
            "the `{kind}` task panicked: {detail}; the session goes on, and this is a bug worth reporting"
        )
    } else {
        format!("the `{kind}` task was cancelled unexpectedly")
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}
