//! [`Session`]: build it, submit ops, read events.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use turnkit_protocol::{
    Event, EventMsg, Op, ResponseItem, Submission, TaskKind, TurnAbortReason, UserInput,
};

use crate::events::{EventSink, TaskGate};
use crate::rollout::{self, ROLLOUT_VERSION, RolloutRecord, RolloutWriter};
use crate::state::{Origin, Shared, State};
use crate::subsession::{ParentSeed, TreeOptions};
use crate::{
    DEFAULT_GRACE_PERIOD, Error, Services, SessionTask, TaskRegistration, Tool, ToolRegistry,
};

/// How long a task's `abort` hook may run before the session stops waiting for it.
const DEFAULT_ABORT_HOOK_TIMEOUT: Duration = Duration::from_secs(5);

enum RolloutMode {
    InMemory,
    Create(PathBuf),
    Resume(PathBuf),
}

/// Configures and builds a [`Session`].
pub struct SessionBuilder {
    session_id: Option<String>,
    cwd: Option<PathBuf>,
    registrations: Vec<TaskRegistration>,
    services: Services,
    tools: ToolRegistry,
    rollout: RolloutMode,
    default_grace: Duration,
    abort_hook_timeout: Duration,
    tree: TreeOptions,
}

impl Default for SessionBuilder {
    fn default() -> Self {
        Self {
            session_id: None,
            cwd: None,
            registrations: Vec::new(),
            services: Services::new(),
            tools: ToolRegistry::new(),
            rollout: RolloutMode::InMemory,
            default_grace: DEFAULT_GRACE_PERIOD,
            abort_hook_timeout: DEFAULT_ABORT_HOOK_TIMEOUT,
            tree: TreeOptions::default(),
        }
    }
}

impl SessionBuilder {
    /// Names the session; by default a fresh id is made up.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Sets the working directory tasks work in; by default the process's.
    pub fn cwd(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// Registers a task kind; a later registration of the same kind replaces an earlier one.
    pub fn task(mut self, registration: TaskRegistration) -> Self {
        self.registrations.push(registration);
        self
    }

    /// Whether a task kind has been registered.
    pub fn has_task(&self, kind: &TaskKind) -> bool {
        self.registrations
            .iter()
            .any(|registration| &registration.kind == kind)
    }

    /// Offers a service to every task, found by its type with `TaskContext::service`.
    pub fn service<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.services.insert(value);
        self
    }

    /// Offers a tool to the model in every turn; a later tool of the same name replaces an
    /// earlier one in its place, so the order a model sees is the order of first registration.
    pub fn tool(mut self, tool: impl Tool) -> Self {
        self.tools.register(tool);
        self
    }

    /// Offers exactly the tools of `tools`, replacing any registered before.
    pub fn tool_registry(mut self, tools: ToolRegistry) -> Self {
        self.tools = tools;
        self
    }

    /// Offers every service of `services`, replacing those of the same types given earlier.
    pub fn services(mut self, services: Services) -> Self {
        self.services.extend(services);
        self
    }

    /// Sets the approval policy of the session (by default `on_request`); its sub-sessions
    /// run under it or a stricter one.
    pub fn approval_policy(mut self, policy: turnkit_protocol::ApprovalPolicy) -> Self {
        self.tree.policy = Some(policy);
        self
    }

    /// Sets the sandbox policy the session's commands run under (by default `read_only`);
    /// its sub-sessions run under it or a stricter one.
    ///
    /// The session only carries the policy: a task that runs commands reads it with
    /// [`TaskContext::sandbox_policy`](crate::TaskContext::sandbox_policy) and applies it.
    pub fn sandbox_policy(mut self, policy: turnkit_protocol::SandboxPolicy) -> Self {
        self.tree.sandbox = Some(policy);
        self
    }

    /// How deep the session tree may grow below this session (by default
    /// [`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH)): the root is 0, its children 1, ….
    pub fn max_depth(mut self, max_depth: u32) -> Self {
        self.tree.max_depth = Some(max_depth);
        self
    }

    pub(crate) fn child_of(mut self, parent: ParentSeed) -> Self {
        self.tree.parent = Some(parent);
        self
    }

    /// Journals the session to a new rollout file at `path` (it must not exist yet).
    pub fn rollout(mut self, path: impl Into<PathBuf>) -> Self {
        self.rollout = RolloutMode::Create(path.into());
        self
    }

    /// Resumes the session journalled at `path`, and goes on appending to it.
    pub fn resume(mut self, path: impl Into<PathBuf>) -> Self {
        self.rollout = RolloutMode::Resume(path.into());
        self
    }

    /// The grace period of tasks whose kind is not registered (those given to `spawn_task`).
    pub fn default_grace_period(mut self, grace_period: Duration) -> Self {
        self.default_grace = grace_period;
        self
    }

    /// How long an `abort` hook may run before the session gives up on it.
    pub fn abort_hook_timeout(mut self, timeout: Duration) -> Self {
        self.abort_hook_timeout = timeout;
        self
    }

    /// Builds the session; call it from inside a tokio runtime.
    pub fn build(self) -> Result<Session, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let cwd = match self.cwd {
            Some(cwd) => cwd,
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        let mut session_id = self.session_id.unwrap_or_else(fresh_session_id);
        let mut history = Vec::new();
        let mut next_seq = 0;
        let mut next_submission = 0;
        let mut warnings = Vec::new();
        let rollout_path = match &self.rollout {
            RolloutMode::InMemory => None,
            RolloutMode::Create(path) | RolloutMode::Resume(path) => Some(path.clone()),
        };
        let parent_session_id = self.tree.parent.as_ref().map(ParentSeed::parent_session_id);
        let rollout = match self.rollout {
            RolloutMode::InMemory => None,
            RolloutMode::Create(path) => {
                let file = rollout::create(&path)?;
                let writer = RolloutWriter::start(file, &runtime);
                writer.append(&RolloutRecord::SessionMeta {
                    session_id: session_id.clone(),
                    cwd: cwd.clone(),
                    version: ROLLOUT_VERSION,
                    parent_session_id,
                });
                Some(writer)
            }
            RolloutMode::Resume(path) => {
                let resumed = rollout::resume(&path)?;
                session_id = resumed.session_id;
                history = resumed.history;
                next_seq = resumed.next_seq;
                next_submission = resumed.last_submission;
                warnings = resumed.warnings;
                Some(RolloutWriter::start(resumed.file, &runtime))
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let registry: HashMap<TaskKind, TaskRegistration> = self
            .registrations
            .into_iter()
            .map(|registration| (registration.kind.clone(), registration))
            .collect();
        let span = tracing::info_span!("session", session.id = %session_id);
        let done = CancellationToken::new();
        done.cancel();
        let (tree, approvals) = self.tree.build(rollout_path);
        let shared = Arc::new(Shared {
            session_id: session_id.clone(),
            cwd,
            services: self.services,
            tools: self.tools,
            registry,
            sink: EventSink::new(next_seq, tx, rollout),
            approvals,
            tree,
            history: Mutex::new(history),
            state: Mutex::new(State {
                active: None,
                queued_input: VecDeque::new(),
                last_done: done,
                shutting_down: false,
                next_task_id: 0,
                next_submission,
                drivers: JoinSet::new(),
            }),
            root: CancellationToken::new(),
            runtime,
            span,
            default_grace: self.default_grace,
            abort_hook_timeout: self.abort_hook_timeout,
        });
        for message in warnings {
            shared.sink.emit(&session_id, EventMsg::Warning { message });
        }
        Ok(Session {
            handle: SessionHandle { shared },
            events: rx,
        })
    }
}

/// A running session: submit ops, read its events.
///
/// Dropping a session ends it at once: every task is aborted without waiting, and no tokio
/// task or child process it started outlives it. Submit [`Op::Shutdown`] for an orderly end.
pub struct Session {
    handle: SessionHandle,
    events: mpsc::UnboundedReceiver<Event>,
}

impl Session {
    /// Starts configuring a session.
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// Submits an op under a fresh submission id, which it returns.
    pub fn submit(&self, op: Op) -> Result<String, Error> {
        self.handle.submit(op)
    }

    /// Submits an op under the client's own id.
    pub fn submit_with_id(&self, submission: Submission) -> Result<(), Error> {
        self.handle.submit_with_id(submission)
    }

    /// Runs `task` as the new turn, replacing the running one; returns its submission id.
    pub fn spawn_task(
        &self,
        task: Arc<dyn SessionTask>,
        input: Vec<UserInput>,
    ) -> Result<String, Error> {
        self.handle.spawn_task(task, input)
    }

    /// The next event; `None` after `shutdown_complete`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an event is never lost by dropping this future.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The next event if one is ready now.
    pub fn try_next_event(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// A handle that submits to this session from elsewhere.
    pub fn handle(&self) -> SessionHandle {
        self.handle.clone()
    }

    /// The session's id.
    pub fn id(&self) -> &str {
        &self.handle.shared.session_id
    }

    /// A copy of the history.
    pub fn history(&self) -> Vec<ResponseItem> {
        self.handle.history()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// How many approval requests of the session tree wait for the client's decision.
    pub fn pending_approvals(&self) -> usize {
        self.handle.shared.approvals.pending_count()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        let mut state = shared.state();
        state.shutting_down = true;
        // Aborting a driver drops its run handle, which aborts the run; dropping the active
        // turn drops its auxiliary handles, which aborts them.
        state.drivers.abort_all();
        state.active = None;
        drop(state);
        shared.root.cancel();
        shared.sink.close();
    }
}

/// Submits to a session from anywhere; cheap to clone.
#[derive(Clone)]
pub struct SessionHandle {
    shared: Arc<Shared>,
}

impl SessionHandle {
    /// Submits an op under a fresh submission id, which it returns.
    pub fn submit(&self, op: Op) -> Result<String, Error> {
        let id = {
            let mut state = self.shared.state();
            state.next_submission += 1;
            format!("sub-{}", state.next_submission)
        };
        self.submit_with_id(Submission { id: id.clone(), op })?;
        Ok(id)
    }

    /// Submits an op under the client's own id.
    ///
    /// Nothing here waits: control ops (interrupt, approvals, shutdown) take effect at once,
    /// and work is handed to its own tokio task.
    pub fn submit_with_id(&self, submission: Submission) -> Result<(), Error> {
        let shared = &self.shared;
        let Submission { id, op } = submission;
        let mut state = shared.state();
        if state.shutting_down {
            return Err(Error::ShutDown);
        }
        tracing::debug!(parent: &shared.span, submission.id = %id, op = op.name(), "submission");
        match op {
            Op::Interrupt => {
                if let Some(active) = &state.active {
                    active.control.request(TurnAbortReason::Interrupted);
                }
            }
            Op::DecideApproval {
                id: approval_id,
                decision,
            } => {
                if !shared.approvals.decide(&approval_id, decision) {
                    shared.sink.emit(&id, EventMsg::Warning {
                        message: format!(
                            "no approval request `{approval_id}` is waiting (it may have been decided already or its turn ended); the decision was ignored"
                        ),
                    });
                }
            }
            Op::Shutdown => {
                state.shutting_down = true;
                if let Some(active) = &state.active {
                    active.control.request(TurnAbortReason::Interrupted);
                }
                let last_done = state.last_done.clone();
                let unstarted: Vec<_> = state.queued_input.drain(..).collect();
                let shared = Arc::clone(shared);
                state.drivers.spawn_on(
                    shutdown(shared, id, last_done, unstarted),
                    &self.shared.runtime,
                );
            }
            Op::UserInput { items } => self.user_input_locked(&mut state, id, items),
            op => self.task_op_locked(&mut state, id, &op),
        }
        Ok(())
    }

    /// Steers input into the running turn, queues it for the next one, or starts a turn.
    fn user_input_locked(&self, state: &mut State, id: String, items: Vec<UserInput>) {
        let shared = &self.shared;
        shared.journal(&RolloutRecord::UserInput {
            id: id.clone(),
            items: items.clone(),
        });
        let steer_into = state.active.as_mut().and_then(|active| {
            let pending = active.pending_input.clone()?;
            Some((pending, &mut active.steered_from))
        });
        if let Some((pending, steered_from)) = steer_into {
            let mut pending = crate::state::lock(&pending);
            if pending.is_empty() {
                *steered_from = Some(id);
            }
            pending.extend(items);
        } else if state.active.is_some() {
            state.queued_input.push_back((id, items));
        } else {
            match shared.regular_task(&id, &items) {
                Ok((task, accepts_input)) => {
                    shared.start_turn_locked(
                        state,
                        id,
                        task,
                        items,
                        accepts_input,
                        Origin::UserInput,
                    );
                }
                Err(message) => shared.sink.emit(&id, EventMsg::Error { message }),
            }
        }
    }

    /// Starts the task an op asks for, beside the turn or in its place.
    fn task_op_locked(&self, state: &mut State, id: String, op: &Op) {
        let shared = &self.shared;
        let Some(kind) = op.task_kind() else {
            return;
        };
        let registration = match shared.registration(&kind, op) {
            Ok(registration) => registration,
            Err(message) => {
                shared.sink.emit(&id, EventMsg::Error { message });
                return;
            }
        };
        let task = match (registration.factory)(op) {
            Ok(task) => task,
            Err(error) => {
                let message = format!("cannot start `{}`: {error}", op.name());
                shared.sink.emit(&id, EventMsg::Error { message });
                return;
            }
        };
        let accepts_input = registration.accepts_input;
        let task = if registration.runs_beside_turn {
            match shared.start_auxiliary_locked(state, id.clone(), task, Vec::new()) {
                Ok(()) => return,
                Err(task) => task,
            }
        } else {
            task
        };
        shared.start_turn_locked(state, id, task, Vec::new(), accepts_input, Origin::Other);
    }

    /// Runs `task` as the new turn, replacing the running one; returns its submission id.
    pub fn spawn_task(
        &self,
        task: Arc<dyn SessionTask>,
        input: Vec<UserInput>,
    ) -> Result<String, Error> {
        let shared = &self.shared;
        let mut state = shared.state();
        if state.shutting_down {
            return Err(Error::ShutDown);
        }
        state.next_submission += 1;
        let id = format!("sub-{}", state.next_submission);
        let accepts_input = shared
            .registry
            .get(&task.kind())
            .is_some_and(|registration| registration.accepts_input);
        shared.start_turn_locked(
            &mut state,
            id.clone(),
            task,
            input,
            accepts_input,
            Origin::Other,
        );
        Ok(id)
    }

    /// A copy of the history.
    pub fn history(&self) -> Vec<ResponseItem> {
        crate::state::lock(&self.shared.history).clone()
    }
}

async fn shutdown(
    shared: Arc<Shared>,
    id: String,
    last_done: CancellationToken,
    unstarted: Vec<(String, Vec<UserInput>)>,
) {
    last_done.cancelled().await;
    if !unstarted.is_empty() {
        let ids: Vec<&str> = unstarted.iter().map(|(id, _)| id.as_str()).collect();
        shared.sink.emit(
            &id,
            EventMsg::Warning {
                message: format!(
                    "the session shut down before queued input ran ({}); it is kept in the rollout",
                    ids.join(", ")
                ),
            },
        );
    }
    shared.root.cancel();
    let gate = TaskGate::new();
    let flush = shared.flush_rollout(&gate, &id);
    shared
        .sink
        .emit_last(&id, EventMsg::ShutdownComplete, flush)
        .await;
}

fn fresh_session_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "{:x}-{:x}-{}",
        nanos,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
