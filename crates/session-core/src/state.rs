//! The session's mutable state and the rules that change it, all under one short-held lock.
//!
//! Every decision about which turn is active, where input goes and what starts next is made
//! here, synchronously, under `Shared::state`; no lock in this file is held across an await.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use turnkit_protocol::{
    EventMsg, ResponseItem, TaskKind, TokenUsageInfo, TurnAbortReason, UserInput,
};

use crate::approvals::ApprovalBroker;
use crate::driver::{self, TurnStart};
use crate::events::{EventSink, TaskGate};
use crate::rollout::RolloutRecord;
use crate::{Services, SessionTask, TaskContext, TaskRegistration, ToolRegistry};

/// Everything a session's drivers, contexts and handles share.
pub(crate) struct Shared {
    pub(crate) session_id: String,
    pub(crate) cwd: PathBuf,
    pub(crate) services: Services,
    pub(crate) tools: ToolRegistry,
    pub(crate) registry: HashMap<TaskKind, TaskRegistration>,
    pub(crate) sink: EventSink,
    pub(crate) approvals: ApprovalBroker,
    pub(crate) tree: crate::subsession::Tree,
    pub(crate) history: Mutex<Vec<ResponseItem>>,
    /// The tally of the last `token_count` event, restored from the rollout on resume.
    pub(crate) token_usage: Mutex<Option<TokenUsageInfo>>,
    pub(crate) state: Mutex<State>,
    pub(crate) root: CancellationToken,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) span: tracing::Span,
    pub(crate) default_grace: Duration,
    pub(crate) abort_hook_timeout: Duration,
}

/// Which turn runs, what waits, and the drivers in flight.
pub(crate) struct State {
    pub(crate) active: Option<ActiveTurn>,
    /// Input that arrived while a task that takes none ran; it starts the next turn.
    pub(crate) queued_input: VecDeque<(String, Vec<UserInput>)>,
    /// Fires when the newest driver has sent its terminal event: the next one waits on it.
    pub(crate) last_done: CancellationToken,
    pub(crate) shutting_down: bool,
    pub(crate) next_task_id: u64,
    pub(crate) next_submission: u64,
    pub(crate) drivers: JoinSet<()>,
}

/// The turn that owns the session now (it may still wait for its predecessor to end).
pub(crate) struct ActiveTurn {
    pub(crate) task_id: u64,
    pub(crate) control: Arc<TaskControl>,
    /// Where steered input goes; `None` once the task cannot take input (or never could).
    pub(crate) pending_input: Option<Arc<Mutex<Vec<UserInput>>>>,
    /// The submission whose input is first among the pending input (names a turn it starts).
    pub(crate) steered_from: Option<String>,
    pub(crate) token: CancellationToken,
    pub(crate) gate: Arc<TaskGate>,
    pub(crate) auxiliary: Vec<Auxiliary>,
    /// The driver has collected the last auxiliary work; new work may not join this turn.
    pub(crate) closing: bool,
}

/// Work running beside a turn, under the turn's cancellation.
pub(crate) struct Auxiliary {
    pub(crate) sub_id: String,
    pub(crate) handle: AbortOnDropHandle<()>,
    pub(crate) grace: Duration,
    /// The task whose `abort` hook runs if the turn is aborted while this work runs.
    pub(crate) hook: Option<(Arc<dyn SessionTask>, Arc<TaskContext>)>,
}

/// An abort request for one task: the first reason wins.
#[derive(Default)]
pub(crate) struct TaskControl {
    reason: Mutex<Option<TurnAbortReason>>,
    pub(crate) requested: CancellationToken,
}

impl TaskControl {
    pub(crate) fn request(&self, reason: TurnAbortReason) {
        let mut current = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        current.get_or_insert(reason);
        self.requested.cancel();
    }

    pub(crate) fn requested_reason(&self) -> Option<TurnAbortReason> {
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where a new turn's input comes from, which decides whether the rollout is synced first.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    UserInput,
    Other,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn grace_for(&self, kind: &TaskKind) -> Duration {
        self.registry
            .get(kind)
            .map_or(self.default_grace, |registration| registration.grace_period)
    }

    /// Makes `task` the active turn, asking the running one (if any) to stop with `Replaced`.
    pub(crate) fn start_turn_locked(
        self: &Arc<Self>,
        state: &mut State,
        sub_id: String,
        task: Arc<dyn SessionTask>,
        input: Vec<UserInput>,
        accepts_input: bool,
        origin: Origin,
    ) {
        if let Some(active) = &state.active {
            active.control.request(TurnAbortReason::Replaced);
        }
        state.next_task_id += 1;
        let task_id = state.next_task_id;
        let done = CancellationToken::new();
        let prev_done = std::mem::replace(&mut state.last_done, done.clone());
        let token = self.root.child_token();
        let gate = Arc::new(TaskGate::new());
        let control = Arc::new(TaskControl::default());
        let pending_input = accepts_input.then(|| Arc::new(Mutex::new(Vec::new())));
        let kind = task.kind();
        let ctx = Arc::new(TaskContext::new(
            Arc::clone(self),
            sub_id.clone(),
            kind.clone(),
            task_id,
            Arc::clone(&gate),
            token.clone(),
            pending_input.clone(),
        ));
        state.active = Some(ActiveTurn {
            task_id,
            control: Arc::clone(&control),
            pending_input,
            steered_from: None,
            token,
            gate,
            auxiliary: Vec::new(),
            closing: false,
        });
        let start = TurnStart {
            task_id,
            sub_id,
            grace: self.grace_for(&kind),
            task,
            ctx,
            input,
            control,
            prev_done,
            done,
            flush_first: origin == Origin::UserInput,
        };
        while state.drivers.try_join_next().is_some() {}
        state
            .drivers
            .spawn_on(driver::drive(Arc::clone(self), start), &self.runtime);
    }

    /// Runs `task` beside the active turn; returns it back when no turn can take it.
    pub(crate) fn start_auxiliary_locked(
        self: &Arc<Self>,
        state: &mut State,
        sub_id: String,
        task: Arc<dyn SessionTask>,
        input: Vec<UserInput>,
    ) -> Result<(), Arc<dyn SessionTask>> {
        let Some(active) = state.active.as_mut().filter(|active| !active.closing) else {
            return Err(task);
        };
        let kind = task.kind();
        let token = active.token.child_token();
        let ctx = Arc::new(TaskContext::new(
            Arc::clone(self),
            sub_id.clone(),
            kind.clone(),
            active.task_id,
            Arc::clone(&active.gate),
            token.clone(),
            None,
        ));
        let run = {
            let task = Arc::clone(&task);
            let ctx = Arc::clone(&ctx);
            let span = tracing::info_span!(parent: &self.span, "task", turn.id = %sub_id, task.kind = %kind, auxiliary = true);
            tracing::Instrument::instrument(
                async move {
                    let sub_id = ctx.sub_id().to_owned();
                    if let Err(error) = task.run(Arc::clone(&ctx), input, token).await {
                        ctx.shared().sink.emit_gated(
                            &ctx.gate,
                            &sub_id,
                            EventMsg::Error {
                                message: error.to_string(),
                            },
                        );
                    }
                },
                span,
            )
        };
        let handle = AbortOnDropHandle::new(self.runtime.spawn(run));
        active.auxiliary.push(Auxiliary {
            sub_id,
            handle,
            grace: self.grace_for(&kind),
            hook: Some((task, ctx)),
        });
        Ok(())
    }

    /// Takes the turn's auxiliary work; when there is none left, closes the turn to new work.
    pub(crate) fn take_auxiliary(&self, task_id: u64) -> Vec<Auxiliary> {
        let mut state = self.state();
        let Some(active) = state
            .active
            .as_mut()
            .filter(|active| active.task_id == task_id)
        else {
            return Vec::new();
        };
        let taken = std::mem::take(&mut active.auxiliary);
        if taken.is_empty() {
            active.closing = true;
        }
        taken
    }

    /// The task's run has ended: input that arrives from now on starts the next turn, and
    /// input it never took is kept for that turn, ahead of anything queued later.
    pub(crate) fn end_steering(&self, task_id: u64) {
        let mut state = self.state();
        let Some(active) = state
            .active
            .as_mut()
            .filter(|active| active.task_id == task_id)
        else {
            return;
        };
        let Some(pending) = active.pending_input.take() else {
            return;
        };
        let left = std::mem::take(&mut *lock(&pending));
        if let (false, Some(sub_id)) = (left.is_empty(), active.steered_from.take()) {
            state.queued_input.push_front((sub_id, left));
        }
    }

    /// The turn's terminal event is out: clear it and start queued input if the session idles.
    pub(crate) fn finish_turn(self: &Arc<Self>, task_id: u64) {
        let mut state = self.state();
        if state
            .active
            .as_ref()
            .is_some_and(|active| active.task_id == task_id)
        {
            state.active = None;
        }
        if state.shutting_down && !state.queued_input.is_empty() {
            // Input the aborted turn never took: the shutdown has already reported the queue,
            // so report this too rather than let it vanish.
            let ids: Vec<String> = state.queued_input.drain(..).map(|(id, _)| id).collect();
            self.sink.emit(&ids[0], EventMsg::Warning {
                message: format!(
                    "the session shut down before this input ran ({}); it is kept in the rollout",
                    ids.join(", ")
                ),
            });
        }
        if state.active.is_some() || state.shutting_down {
            return;
        }
        let Some((sub_id, mut items)) = state.queued_input.pop_front() else {
            return;
        };
        // Everything queued behind it joins the same turn, in order, as one input.
        while let Some((_, more)) = state.queued_input.pop_front() {
            items.extend(more);
        }
        match self.regular_task(&sub_id, &items) {
            Ok((task, accepts_input)) => {
                self.start_turn_locked(
                    &mut state,
                    sub_id,
                    task,
                    items,
                    accepts_input,
                    Origin::UserInput,
                );
            }
            Err(message) => self.sink.emit(&sub_id, EventMsg::Error { message }),
        }
    }

    /// Builds the task for user input: the registered `regular` kind.
    pub(crate) fn regular_task(
        &self,
        sub_id: &str,
        items: &[UserInput],
    ) -> Result<(Arc<dyn SessionTask>, bool), String> {
        let op = turnkit_protocol::Op::UserInput {
            items: items.to_vec(),
        };
        let registration = self.registration(&TaskKind::REGULAR, &op)?;
        let task = (registration.factory)(&op)
            .map_err(|error| format!("cannot start a regular turn for {sub_id}: {error}"))?;
        Ok((task, registration.accepts_input))
    }

    /// The registration for `kind`, or a message naming the feature that would provide it.
    pub(crate) fn registration(
        &self,
        kind: &TaskKind,
        op: &turnkit_protocol::Op,
    ) -> Result<&TaskRegistration, String> {
        self.registry.get(kind).ok_or_else(|| match kind.cargo_feature() {
            Some(feature) => format!(
                "this session cannot run `{}`: the `{kind}` task kind is not registered; build turnkit with the `{feature}` feature (or register the kind on the session builder)",
                op.name()
            ),
            None => format!(
                "this session cannot run `{}`: no task kind `{kind}` is registered; register it with `SessionBuilder::task`",
                op.name()
            ),
        })
    }

    /// Appends records to the journal, if there is one.
    pub(crate) fn journal(&self, record: &RolloutRecord) {
        if let Some(rollout) = self.sink.rollout() {
            rollout.append(record);
        }
    }

    /// Syncs the journal; a failure is reported once per call as an `error` event.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the sync to finish on its own.
    pub(crate) async fn flush_rollout(&self, gate: &TaskGate, sub_id: &str) {
        let Some(rollout) = self.sink.rollout() else {
            return;
        };
        if let Err(error) = rollout.flush().await {
            self.sink.emit_gated(gate, sub_id, EventMsg::Error {
                message: format!(
                    "the rollout could not be written ({error}); this session may not resume completely: check the disk and the file's permissions"
                ),
            });
        }
    }
}
