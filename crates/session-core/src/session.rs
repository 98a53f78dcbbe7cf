//! [`Session`]: build it, submit ops, read events.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use turnkit_protocol::{
    Event, EventMsg, Op, ResponseItem, Submission, TaskKind, TurnAbortReason, UserInput,
};

use crate::events::{EventSink, TaskGate};
use crate::rollout::{self, ROLLOUT_VERSION, RolloutRecord, RolloutWriter};
use crate::state::{Built, Shared, State};
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

/// What a session takes over from its journal: nothing for a new one, the rest for a resume.
struct Carried {
    session_id: String,
    history: Vec<ResponseItem>,
    token_usage: Option<turnkit_protocol::TokenUsageInfo>,
    next_seq: u64,
    next_submission: u64,
    last_approval: u64,
    warnings: Vec<String>,
    open_turns: Vec<String>,
    unrun_input: Vec<(String, Vec<UserInput>)>,
    /// The policies the journal last recorded.
    policies: Option<(
        turnkit_protocol::ApprovalPolicy,
        turnkit_protocol::SandboxPolicy,
    )>,
}

impl RolloutMode {
    /// Creates or resumes the journal and says what the session carries over from it.
    fn open(
        self,
        session_id: String,
        cwd: &std::path::Path,
        parent_session_id: Option<String>,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(Option<RolloutWriter>, Carried), Error> {
        let fresh = |session_id| Carried {
            session_id,
            history: Vec::new(),
            token_usage: None,
            next_seq: 0,
            next_submission: 0,
            last_approval: 0,
            warnings: Vec::new(),
            open_turns: Vec::new(),
            unrun_input: Vec::new(),
            policies: None,
        };
        match self {
            RolloutMode::InMemory => Ok((None, fresh(session_id))),
            RolloutMode::Create(path) => {
                let file = rollout::create(&path)?;
                let writer = RolloutWriter::start(file, runtime);
                writer.append(&RolloutRecord::SessionMeta {
                    session_id: session_id.clone(),
                    cwd: cwd.to_owned(),
                    version: ROLLOUT_VERSION,
                    parent_session_id,
                });
                Ok((Some(writer), fresh(session_id)))
            }
            RolloutMode::Resume(path) => {
                let resumed = rollout::resume(&path)?;
                let writer = RolloutWriter::start(resumed.file, runtime);
                Ok((
                    Some(writer),
                    Carried {
                        session_id: resumed.session_id,
                        history: resumed.history,
                        token_usage: resumed.token_usage,
                        next_seq: resumed.next_seq,
                        next_submission: resumed.last_submission,
                        last_approval: resumed.last_approval,
                        warnings: resumed.warnings,
                        open_turns: resumed.open_turns,
                        unrun_input: resumed.unrun_input,
                        policies: resumed.policies,
                    },
                ))
            }
        }
    }
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
    compiled_features: Option<Vec<String>>,
    startup_warnings: Vec<String>,
    end_tokens: Vec<CancellationToken>,
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
            compiled_features: None,
            startup_warnings: Vec::new(),
            end_tokens: Vec::new(),
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

    /// Offers a tool already behind an `Arc` (a tool shared with other sessions), as
    /// [`tool`](Self::tool) does.
    pub fn shared_tool(mut self, tool: Arc<dyn Tool>) -> Self {
        self.tools.register_shared(tool);
        self
    }

    /// Whether a tool of this name has been registered.
    pub fn has_tool(&self, name: &str) -> bool {
        self.tools.get(name).is_some()
    }

    /// A warning the session sends as soon as it is built, before any turn (a tool server
    /// that did not start, say), so a client reading the events sees it.
    ///
    /// It goes out as a `warning` event under the session's id and, with a rollout, is
    /// journalled like any event.
    pub fn warning(mut self, message: impl Into<String>) -> Self {
        self.startup_warnings.push(message.into());
        self
    }

    /// Cancels `token` when the session ends: when `Op::Shutdown` has stopped every task
    /// (before `shutdown_complete`), or when the session is dropped.
    ///
    /// What a session's tools hold beyond its tasks (an MCP server's process, a connection)
    /// listens on such a token to end with the session.
    pub fn cancel_on_end(mut self, token: CancellationToken) -> Self {
        self.end_tokens.push(token);
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

    /// Sets the approval policy of the session (by default `on_request`, and for a resume the
    /// policy its rollout recorded); its sub-sessions run under it or a stricter one.
    pub fn approval_policy(mut self, policy: turnkit_protocol::ApprovalPolicy) -> Self {
        self.tree.policy = Some(policy);
        self
    }

    /// Sets the sandbox policy the session's commands run under (by default `workspace_write`:
    /// write below the session's directory, nowhere else, no network; for a resume, the policy
    /// its rollout recorded);
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

    /// Tells the session which of turnkit's cargo features are compiled in, so the error for
    /// a built-in kind that is not registered says whether to enable its feature or to
    /// register the kind. `turnkit::builder()` calls this; you need not.
    pub fn compiled_features<I, S>(mut self, features: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.compiled_features = Some(features.into_iter().map(Into::into).collect());
        self
    }

    /// Builds the session; call it from inside a tokio runtime.
    ///
    /// Resuming reports what the journal left unfinished: a turn that was still running gets
    /// its `turn_aborted` (reason `interrupted`: the session ended under it), and user input
    /// that never ran is named in a `warning`. Both are journalled, so each is said once.
    pub fn build(self) -> Result<Session, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let cwd = match self.cwd {
            Some(cwd) => cwd,
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        let rollout_path = match &self.rollout {
            RolloutMode::InMemory => None,
            RolloutMode::Create(path) | RolloutMode::Resume(path) => Some(path.clone()),
        };
        let parent_session_id = self.tree.parent.as_ref().map(ParentSeed::parent_session_id);
        let session_id = self.session_id.unwrap_or_else(fresh_session_id);
        let (rollout, carried) =
            self.rollout
                .open(session_id, &cwd, parent_session_id, &runtime)?;
        let Carried {
            session_id,
            history,
            token_usage,
            next_seq,
            next_submission,
            last_approval,
            warnings,
            open_turns,
            unrun_input,
            policies,
        } = carried;
        let (tx, rx) = mpsc::unbounded_channel();
        let registry: HashMap<TaskKind, TaskRegistration> = self
            .registrations
            .into_iter()
            .map(|registration| (registration.kind.clone(), registration))
            .collect();
        let span = tracing::info_span!("session", session.id = %session_id);
        let done = CancellationToken::new();
        done.cancel();
        // A resume that sets no policy of its own keeps the ones the journal recorded.
        let mut tree_options = self.tree;
        if let Some((approval, sandbox)) = &policies {
            tree_options.policy.get_or_insert(*approval);
            tree_options.sandbox.get_or_insert_with(|| sandbox.clone());
        }
        let (tree, approvals) = tree_options.build(rollout_path);
        approvals.continue_after(last_approval);
        if let Some(rollout) = &rollout
            && policies.as_ref() != Some(&(tree.policy, tree.sandbox.clone()))
        {
            rollout.append(&RolloutRecord::Policies {
                approval_policy: tree.policy,
                sandbox_policy: tree.sandbox.clone(),
            });
        }
        let shared = Arc::new(Shared {
            session_id: session_id.clone(),
            cwd,
            services: self.services,
            tools: self.tools,
            registry,
            compiled_features: self.compiled_features,
            sink: EventSink::new(next_seq, tx, rollout),
            approvals,
            tree,
            history: Mutex::new(history.into()),
            token_usage: Mutex::new(token_usage),
            state: Mutex::new(State {
                active: None,
                retiring: Vec::new(),
                queued_input: VecDeque::new(),
                starting: false,
                last_done: done,
                shutting_down: false,
                next_task_id: 0,
                next_submission,
                drivers: JoinSet::new(),
            }),
            root: CancellationToken::new(),
            end_tokens: self.end_tokens,
            runtime,
            span,
            default_grace: self.default_grace,
            abort_hook_timeout: self.abort_hook_timeout,
        });
        for message in warnings.into_iter().chain(self.startup_warnings) {
            shared.sink.emit(&session_id, EventMsg::Warning { message });
        }
        for turn in open_turns {
            shared.sink.emit(
                &turn,
                EventMsg::TurnAborted {
                    reason: TurnAbortReason::Interrupted,
                },
            );
        }
        shared.report_not_run(
            &unrun_input,
            "this input was journalled but never ran: the session ended before it started",
        );
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
    /// Starts configuring a session with no task kind registered.
    ///
    /// Register your own kinds with [`SessionBuilder::task`]. Through the `turnkit` facade,
    /// start from `turnkit::builder()` instead: it registers the built-in kinds whose cargo
    /// features are on.
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

    /// When the session asks before it acts: the builder's policy, or for a resume that set
    /// none the one its journal recorded, else the default.
    pub fn approval_policy(&self) -> turnkit_protocol::ApprovalPolicy {
        self.handle.shared.tree.policy
    }

    /// What the session's commands may touch, chosen as [`Session::approval_policy`] is.
    pub fn sandbox_policy(&self) -> &turnkit_protocol::SandboxPolicy {
        &self.handle.shared.tree.sandbox
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
        let active = state.active.take();
        let retiring = std::mem::take(&mut state.retiring);
        drop(state);
        // Dropped outside the lock: a task's own `Drop` may run here.
        drop(active);
        drop(retiring);
        shared.end();
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
            Op::UserInput { items } => self.user_input(state, id, items),
            op => {
                drop(state);
                return self.task_op(id, &op);
            }
        }
        Ok(())
    }

    /// Steers input into the running turn, or queues it for the next one (which it starts
    /// at once when the session is idle).
    fn user_input(&self, mut state: MutexGuard<'_, State>, id: String, items: Vec<UserInput>) {
        let shared = &self.shared;
        shared.journal(&RolloutRecord::UserInput {
            id: id.clone(),
            items: items.clone(),
        });
        let steer_into = state
            .active
            .as_ref()
            .and_then(|active| active.pending_input.clone());
        if let Some(pending) = steer_into {
            crate::state::lock(&pending).push((id, items));
            return;
        }
        state.queued_input.push_back((id, items));
        drop(state);
        shared.start_queued_if_idle();
    }

    /// Starts the task an op asks for, beside the turn or in its place.
    ///
    /// The factory runs before the state lock is taken, so it may submit to this session,
    /// and a slow one never holds up `Interrupt`.
    fn task_op(&self, id: String, op: &Op) -> Result<(), Error> {
        let shared = &self.shared;
        let Some(kind) = op.task_kind() else {
            return Ok(());
        };
        let built = match shared.build_task(&kind, op) {
            Ok(built) => built,
            Err(message) => {
                shared.sink.emit(&id, EventMsg::Error { message });
                return Ok(());
            }
        };
        let beside = shared
            .registry
            .get(&kind)
            .is_some_and(|registration| registration.runs_beside_turn);
        let mut state = shared.state();
        if state.shutting_down {
            drop(state);
            drop(built);
            return Err(Error::ShutDown);
        }
        let built = if beside {
            match shared.start_auxiliary_locked(&mut state, id.clone(), built) {
                Ok(()) => return Ok(()),
                Err(built) => built,
            }
        } else {
            built
        };
        shared.start_turn_locked(&mut state, id, built, Vec::new(), Vec::new());
        Ok(())
    }

    /// Runs `task` as the new turn, replacing the running one; returns its submission id.
    pub fn spawn_task(
        &self,
        task: Arc<dyn SessionTask>,
        input: Vec<UserInput>,
    ) -> Result<String, Error> {
        let shared = &self.shared;
        let kind = task.kind();
        let accepts_input = shared
            .registry
            .get(&kind)
            .is_some_and(|registration| registration.accepts_input);
        let built = Built {
            task,
            kind,
            accepts_input,
        };
        let mut state = shared.state();
        if state.shutting_down {
            drop(state);
            drop(built);
            return Err(Error::ShutDown);
        }
        state.next_submission += 1;
        let id = format!("sub-{}", state.next_submission);
        shared.start_turn_locked(&mut state, id.clone(), built, input, Vec::new());
        Ok(id)
    }

    /// A copy of the history.
    pub fn history(&self) -> Vec<ResponseItem> {
        crate::state::lock(&self.shared.history).to_vec()
    }
}

async fn shutdown(
    shared: Arc<Shared>,
    id: String,
    last_done: CancellationToken,
    unstarted: Vec<(String, Vec<UserInput>)>,
) {
    last_done.cancelled().await;
    shared.report_not_run(&unstarted, "the session shut down before queued input ran");
    shared.end();
    let gate = TaskGate::new();
    // The journal is complete and closed (its lock released) before the client hears so.
    let close = async {
        shared.flush_rollout(&gate, &id).await;
        if let Some(rollout) = shared.sink.rollout() {
            rollout.close().await;
        }
    };
    shared
        .sink
        .emit_last(&id, EventMsg::ShutdownComplete, close)
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
