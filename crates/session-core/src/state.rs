//! The session's mutable state and the rules that change it, all under one short-held lock.
//!
//! Every decision about which turn is active, where input goes and what starts next is made
//! here, synchronously, under `Shared::state`.
//!
//! Invariants of this file:
//!
//! - Lock order: `Shared::state`, then a turn's steered input, then the event sink's lock (and
//!   the history's). No lock is held across an await.
//! - No user code runs under `Shared::state`: task factories and `SessionTask::kind` are
//!   called before the lock is taken, and turns and tasks that leave the state are dropped
//!   after it is released (their drop may run a task's own code).
//! - Only `start_turn_locked` makes a turn active, and only `finish_turn` forgets one, after
//!   its driver has sent the terminal event. A replaced turn moves to `retiring` until then,
//!   so its side work and the input steered into it are still settled by its driver.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use turnkit_protocol::{
    EventMsg, ItemList, Op, TaskKind, TokenUsageInfo, TurnAbortReason, UserInput,
};

use crate::approvals::ApprovalBroker;
use crate::driver::{self, TurnStart};
use crate::events::{EventSink, TaskGate};
use crate::rollout::RolloutRecord;
use crate::{Services, SessionTask, TaskContext, TaskRegistration, ToolRegistry};

/// Input steered into a turn and not yet taken, by submission, in the order it came.
pub(crate) type Steered = Arc<Mutex<Vec<(String, Vec<UserInput>)>>>;

/// Everything a session's drivers, contexts and handles share.
pub(crate) struct Shared {
    pub(crate) session_id: String,
    pub(crate) cwd: PathBuf,
    pub(crate) services: Services,
    pub(crate) tools: ToolRegistry,
    pub(crate) registry: HashMap<TaskKind, TaskRegistration>,
    /// The cargo features the session's builder said are compiled in (`None`: not known).
    pub(crate) compiled_features: Option<Vec<String>>,
    pub(crate) sink: EventSink,
    pub(crate) approvals: ApprovalBroker,
    pub(crate) tree: crate::subsession::Tree,
    pub(crate) history: Mutex<ItemList>,
    /// The tally of the last `token_count` event, restored from the rollout on resume.
    pub(crate) token_usage: Mutex<Option<TokenUsageInfo>>,
    pub(crate) state: Mutex<State>,
    pub(crate) root: CancellationToken,
    /// Cancelled with `root` when the session ends (`SessionBuilder::cancel_on_end`).
    pub(crate) end_tokens: Vec<CancellationToken>,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) span: tracing::Span,
    pub(crate) default_grace: Duration,
    pub(crate) abort_hook_timeout: Duration,
}

/// Which turn runs, what waits, and the drivers in flight.
pub(crate) struct State {
    pub(crate) active: Option<ActiveTurn>,
    /// Replaced turns whose drivers have not yet sent their terminal event.
    pub(crate) retiring: Vec<ActiveTurn>,
    /// Input that arrived while a task that takes none ran; it starts the next turn.
    pub(crate) queued_input: VecDeque<(String, Vec<UserInput>)>,
    /// A turn for queued input is being built outside the lock; new input queues behind it.
    pub(crate) starting: bool,
    /// Fires when the newest driver has sent its terminal event: the next one waits on it.
    pub(crate) last_done: CancellationToken,
    pub(crate) shutting_down: bool,
    pub(crate) next_task_id: u64,
    pub(crate) next_submission: u64,
    pub(crate) drivers: JoinSet<()>,
}

/// A turn that owns the session now (it may still wait for its predecessor to end), or one
/// that was replaced and has not ended yet.
pub(crate) struct ActiveTurn {
    pub(crate) task_id: u64,
    pub(crate) control: Arc<TaskControl>,
    /// Where steered input goes; `None` once the task cannot take input (or never could).
    pub(crate) pending_input: Option<Steered>,
    pub(crate) token: CancellationToken,
    pub(crate) gate: Arc<TaskGate>,
    /// Fires once the turn's `task_started` is out; side work waits for it.
    pub(crate) started: CancellationToken,
    pub(crate) auxiliary: Vec<Auxiliary>,
    /// The driver has collected the last auxiliary work; new work may not join this turn.
    pub(crate) closing: bool,
}

/// A task built outside the lock, ready to be placed.
pub(crate) struct Built {
    pub(crate) task: Arc<dyn SessionTask>,
    pub(crate) kind: TaskKind,
    pub(crate) accepts_input: bool,
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

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// The turn with `task_id`, whether it is active or replaced and still ending.
    fn turn_mut(&mut self, task_id: u64) -> Option<&mut ActiveTurn> {
        self.active
            .as_mut()
            .filter(|active| active.task_id == task_id)
            .or_else(|| {
                self.retiring
                    .iter_mut()
                    .find(|turn| turn.task_id == task_id)
            })
    }
}

impl Shared {
    /// Ends the session's work: cancels its root token, and the tokens its builder was asked
    /// to cancel when it ends.
    pub(crate) fn end(&self) {
        self.root.cancel();
        for token in &self.end_tokens {
            token.cancel();
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn grace_for(&self, kind: &TaskKind) -> Duration {
        self.registry
            .get(kind)
            .map_or(self.default_grace, |registration| registration.grace_period)
    }

    /// Makes `built` the active turn, asking the running one (if any) to stop with `Replaced`.
    ///
    /// `input_ids` names the submissions whose input it starts with (user input only).
    pub(crate) fn start_turn_locked(
        self: &Arc<Self>,
        state: &mut State,
        sub_id: String,
        built: Built,
        input: Vec<UserInput>,
        input_ids: Vec<String>,
    ) {
        let Built {
            task,
            kind,
            accepts_input,
        } = built;
        if let Some(replaced) = state.active.take() {
            replaced.control.request(TurnAbortReason::Replaced);
            state.retiring.push(replaced);
        }
        state.next_task_id += 1;
        let task_id = state.next_task_id;
        let done = CancellationToken::new();
        let prev_done = std::mem::replace(&mut state.last_done, done.clone());
        let token = self.root.child_token();
        let gate = Arc::new(TaskGate::new());
        let control = Arc::new(TaskControl::default());
        let started = CancellationToken::new();
        let pending_input: Option<Steered> = accepts_input.then(Steered::default);
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
            token,
            gate,
            started: started.clone(),
            auxiliary: Vec::new(),
            closing: false,
        });
        let start = TurnStart {
            task_id,
            sub_id,
            grace: self.grace_for(&kind),
            kind,
            task,
            ctx,
            input,
            input_ids,
            control,
            prev_done,
            done,
            started,
        };
        while state.drivers.try_join_next().is_some() {}
        state
            .drivers
            .spawn_on(driver::drive(Arc::clone(self), start), &self.runtime);
    }

    /// Runs `built` beside the active turn; returns it back when no turn can take it.
    ///
    /// The work waits for the turn's `task_started`, so nothing of it comes before that.
    pub(crate) fn start_auxiliary_locked(
        self: &Arc<Self>,
        state: &mut State,
        sub_id: String,
        built: Built,
    ) -> Result<(), Built> {
        let Some(active) = state.active.as_mut().filter(|active| !active.closing) else {
            return Err(built);
        };
        let Built { task, kind, .. } = built;
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
        let started = active.started.clone();
        let run = {
            let task = Arc::clone(&task);
            let ctx = Arc::clone(&ctx);
            let span = tracing::info_span!(parent: &self.span, "task", turn.id = %sub_id, task.kind = %kind, auxiliary = true);
            tracing::Instrument::instrument(
                async move {
                    started.cancelled().await;
                    if token.is_cancelled() {
                        // The turn was aborted before it began: the work never runs, but the
                        // driver still runs its hook.
                        return;
                    }
                    if let Err(error) = task.run(Arc::clone(&ctx), Vec::new(), token).await {
                        ctx.send_event(EventMsg::Error {
                            message: error.to_string(),
                        });
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
        let Some(turn) = state.turn_mut(task_id) else {
            return Vec::new();
        };
        let taken = std::mem::take(&mut turn.auxiliary);
        if taken.is_empty() {
            turn.closing = true;
        }
        taken
    }

    /// The task's run has ended: input that arrives from now on starts the next turn, and
    /// input it never took is kept for that turn, ahead of anything queued later.
    pub(crate) fn end_steering(&self, task_id: u64) {
        let mut state = self.state();
        let Some(pending) = state
            .turn_mut(task_id)
            .and_then(|turn| turn.pending_input.take())
        else {
            return;
        };
        let left = std::mem::take(&mut *lock(&pending));
        for entry in left.into_iter().rev() {
            state.queued_input.push_front(entry);
        }
    }

    /// The turn's terminal event is out: forget it and start queued input if the session idles.
    pub(crate) fn finish_turn(self: &Arc<Self>, task_id: u64) {
        let mut state = self.state();
        let ended = if state
            .active
            .as_ref()
            .is_some_and(|active| active.task_id == task_id)
        {
            state.active.take()
        } else {
            state
                .retiring
                .iter()
                .position(|turn| turn.task_id == task_id)
                .map(|index| state.retiring.swap_remove(index))
        };
        let unrun: Vec<_> = if state.shutting_down {
            state.queued_input.drain(..).collect()
        } else {
            Vec::new()
        };
        let start_queued = state.active.is_none() && !state.queued_input.is_empty();
        drop(state);
        drop(ended);
        // Input the aborted turn never took: the shutdown has already reported the queue, so
        // report this too rather than let it vanish.
        self.report_not_run(&unrun, "the session shut down before this input ran");
        if start_queued {
            self.start_queued_if_idle();
        }
    }

    /// Starts a turn for the queued input when no turn is active, building its task outside
    /// the lock; input that arrives meanwhile is steered into it or waits behind it.
    pub(crate) fn start_queued_if_idle(self: &Arc<Self>) {
        loop {
            let entries: Vec<(String, Vec<UserInput>)> = {
                let mut state = self.state();
                if state.active.is_some()
                    || state.shutting_down
                    || state.starting
                    || state.queued_input.is_empty()
                {
                    return;
                }
                state.starting = true;
                state.queued_input.drain(..).collect()
            };
            let sub_id = entries[0].0.clone();
            let items: Vec<UserInput> = entries
                .iter()
                .flat_map(|(_, items)| items.iter().cloned())
                .collect();
            let built = self.regular_task(&items);
            let mut state = self.state();
            state.starting = false;
            let built = match built {
                Ok(built) => built,
                Err(message) => {
                    drop(state);
                    self.sink.emit(&sub_id, EventMsg::Error { message });
                    self.journal_not_run(&entries);
                    continue;
                }
            };
            if state.shutting_down {
                drop(state);
                drop(built);
                self.report_not_run(&entries, "the session shut down before this input ran");
                return;
            }
            if state.active.is_some() {
                // Another op started a turn meanwhile: this input waits for it, ahead of newer.
                for entry in entries.into_iter().rev() {
                    state.queued_input.push_front(entry);
                }
                drop(state);
                drop(built);
                return;
            }
            let ids = entries.into_iter().map(|(id, _)| id).collect();
            self.start_turn_locked(&mut state, sub_id, built, items, ids);
            let newer: Vec<_> = state.queued_input.drain(..).collect();
            let pending = state
                .active
                .as_ref()
                .and_then(|active| active.pending_input.clone());
            match pending {
                Some(pending) => lock(&pending).extend(newer),
                None => state.queued_input.extend(newer),
            }
            return;
        }
    }

    /// Builds the task for user input (the registered `regular` kind), outside the lock.
    pub(crate) fn regular_task(&self, items: &[UserInput]) -> Result<Built, String> {
        let op = Op::UserInput {
            items: items.to_vec(),
        };
        self.build_task(&TaskKind::REGULAR, &op)
    }

    /// Builds a task of `kind` for `op` with its registered factory; never under the lock.
    pub(crate) fn build_task(&self, kind: &TaskKind, op: &Op) -> Result<Built, String> {
        let registration = self.registration(kind, op)?;
        let task = (registration.factory)(op)
            .map_err(|error| format!("cannot start `{kind}`: {error}"))?;
        let kind = task.kind();
        Ok(Built {
            task,
            kind,
            accepts_input: registration.accepts_input,
        })
    }

    /// The registration for `kind`, or a message saying how to get one.
    pub(crate) fn registration(
        &self,
        kind: &TaskKind,
        op: &Op,
    ) -> Result<&TaskRegistration, String> {
        let name = op.name();
        self.registry.get(kind).ok_or_else(|| {
            let Some(feature) = kind.cargo_feature() else {
                return format!(
                    "this session cannot run `{name}`: no task kind `{kind}` is registered; register it with `SessionBuilder::task`"
                );
            };
            match &self.compiled_features {
                Some(features) if features.iter().any(|on| on == feature) => format!(
                    "this session cannot run `{name}`: the `{kind}` task kind is not registered, although turnkit's `{feature}` feature is on; register it on the session builder (`turnkit::builder()` registers every enabled kind unless you registered the kind yourself)"
                ),
                Some(_) => format!(
                    "this session cannot run `{name}`: the `{kind}` task kind is not registered; build turnkit with the `{feature}` feature (or register the kind on the session builder)"
                ),
                None => format!(
                    "this session cannot run `{name}`: the `{kind}` task kind is not registered; build the session with `turnkit::builder()`, which registers every built-in kind whose feature is on (this one needs turnkit's `{feature}` feature), or register the kind on the session builder"
                ),
            }
        })
    }

    /// Tells the client that input never ran, and journals that it was told.
    pub(crate) fn report_not_run(&self, entries: &[(String, Vec<UserInput>)], why: &str) {
        let Some((first, _)) = entries.first() else {
            return;
        };
        let said: Vec<String> = entries
            .iter()
            .map(|(id, items)| format!("{id} {}", summarise(items)))
            .collect();
        self.sink.emit(
            first,
            EventMsg::Warning {
                message: format!(
                    "{why} ({}); it is kept in the rollout: submit it again to run it",
                    said.join(", ")
                ),
            },
        );
        self.journal_not_run(entries);
    }

    fn journal_not_run(&self, entries: &[(String, Vec<UserInput>)]) {
        self.journal(&RolloutRecord::InputNotRun {
            ids: entries.iter().map(|(id, _)| id.clone()).collect(),
        });
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
        if let Err(message) = self.sync_rollout().await {
            self.sink
                .emit_gated(gate, sub_id, EventMsg::Error { message });
        }
    }

    /// Syncs the journal; the error says what to do about a failure.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the sync to finish on its own.
    pub(crate) async fn sync_rollout(&self) -> Result<(), String> {
        let Some(rollout) = self.sink.rollout() else {
            return Ok(());
        };
        rollout.flush().await.map_err(|error| {
            format!(
                "the rollout could not be written ({error}); this session may not resume completely: check the disk and the file's permissions"
            )
        })
    }
}

/// The text of user input, shortened for a message.
pub(crate) fn summarise(items: &[UserInput]) -> String {
    const LIMIT: usize = 120;
    let text: Vec<&str> = items
        .iter()
        .filter_map(|item| match item {
            UserInput::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let text = text.join(" ");
    if text.chars().count() <= LIMIT {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(LIMIT).collect();
        format!("{cut:?}…")
    }
}
