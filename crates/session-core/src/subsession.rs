//! Sub-sessions: a task runs a whole child session and talks to it through a [`SubSession`].
//!
//! The session tree's invariants, and where they are kept:
//!
//! - A child's approval requests go to the root's stream, never to the parent task
//!   (`TaskContext::request_approval` sends them through the child's [`RootOutlet`]); the
//!   tree shares one approvals broker, so the root's decision reaches the child.
//! - The root's stream says which children exist: `sub_session_started` when one is built,
//!   `sub_session_ended` exactly once when it is gone. Each child writes to the root's stream
//!   through its own gate, closed in the same step as `sub_session_ended` is sent, so nothing of
//!   a child shows up there after it ended.
//! - A parent's turn never ends before its children: its driver interrupts them before it
//!   cancels the parent's token ([`interrupt_children`]) and waits for each to be gone, within
//!   its stop bound, before the parent's terminal event ([`settle_children`]). A child that does
//!   not stop in time is shut down hard: its drivers are aborted, which drops its runs and kills
//!   their processes.
//! - Dropping a [`SubSession`] shuts its child down (in the background, within the bound) and
//!   the parent's turn waits for that too, so no tokio task outlives the tree.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use turnkit_protocol::{
    ApprovalOrigin, ApprovalPolicy, Event, EventMsg, Op, ResponseItem, SandboxPolicy,
    SubSessionOutcome, TaskKind, TurnAbortReason, UserInput,
};

use crate::approvals::ApprovalBroker;
use crate::events::TaskGate;
use crate::rollout::RolloutRecord;
use crate::state::{Shared, lock};
use crate::{Error, Services, Session, TaskContext, ToolRegistry};

/// How deep a session tree may grow by default: the root is 0, its children 1, ….
pub const DEFAULT_MAX_DEPTH: u32 = 3;

/// How long a sub-session may take to stop once asked, by default, before it is shut down hard.
pub const DEFAULT_SUB_SESSION_STOP_BOUND: Duration = Duration::from_secs(10);

/// The tree settings a session builder collects.
#[derive(Default)]
pub(crate) struct TreeOptions {
    pub(crate) max_depth: Option<u32>,
    pub(crate) policy: Option<ApprovalPolicy>,
    pub(crate) sandbox: Option<SandboxPolicy>,
    pub(crate) parent: Option<ParentSeed>,
}

/// What a child session inherits from the task that starts it.
pub(crate) struct ParentSeed {
    depth: u32,
    max_depth: u32,
    origin: ApprovalOrigin,
    outlet: Arc<RootOutlet>,
    broker: ApprovalBroker,
    stop_bound: Duration,
}

impl ParentSeed {
    pub(crate) fn parent_session_id(&self) -> String {
        self.origin.parent_session_id.clone()
    }
}

impl TreeOptions {
    /// The session's place in its tree, and its view of the tree's approvals.
    pub(crate) fn build(self, rollout_path: Option<PathBuf>) -> (Tree, ApprovalBroker) {
        let policy = self.policy.unwrap_or_default();
        // A root may write its own workspace unless told otherwise: an agent that cannot edit
        // the files it was asked to change is of no use, and the sandbox still keeps it inside.
        let sandbox = self.sandbox.unwrap_or_else(SandboxPolicy::workspace_write);
        match self.parent {
            None => (
                Tree {
                    depth: 0,
                    max_depth: self.max_depth.unwrap_or(DEFAULT_MAX_DEPTH),
                    policy,
                    sandbox,
                    origin: None,
                    outlet: None,
                    rollout_path,
                    next_child: AtomicU64::new(0),
                    stop_bound: DEFAULT_SUB_SESSION_STOP_BOUND,
                },
                ApprovalBroker::root(),
            ),
            Some(seed) => (
                Tree {
                    depth: seed.depth,
                    max_depth: seed.max_depth,
                    policy,
                    sandbox,
                    origin: Some(seed.origin),
                    outlet: Some(seed.outlet),
                    rollout_path,
                    next_child: AtomicU64::new(0),
                    stop_bound: seed.stop_bound,
                },
                seed.broker,
            ),
        }
    }
}

/// A session's place in its tree.
pub(crate) struct Tree {
    pub(crate) depth: u32,
    pub(crate) max_depth: u32,
    pub(crate) policy: ApprovalPolicy,
    pub(crate) sandbox: SandboxPolicy,
    /// Which sub-session this is; `None` for the root.
    pub(crate) origin: Option<ApprovalOrigin>,
    /// Where this sub-session's approval requests and its own children's start and end go.
    pub(crate) outlet: Option<Arc<RootOutlet>>,
    pub(crate) rollout_path: Option<PathBuf>,
    next_child: AtomicU64,
    stop_bound: Duration,
}

/// One sub-session's way onto the root session's stream, under the root turn's id.
pub(crate) struct RootOutlet {
    root: Weak<Shared>,
    turn_id: String,
    gate: TaskGate,
}

impl RootOutlet {
    /// Sends `msg` on the root's stream; `false` once the sub-session has ended (or the root
    /// is gone).
    pub(crate) fn emit(&self, msg: EventMsg) -> bool {
        self.root
            .upgrade()
            .is_some_and(|root| root.sink.emit_gated(&self.gate, &self.turn_id, msg))
    }

    fn close_with(&self, msg: EventMsg) {
        if let Some(root) = self.root.upgrade() {
            root.sink.close_gate_with(&self.gate, &self.turn_id, msg);
        }
    }
}

/// How a sub-session's task ended, as [`SubSession::run_once`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildOutcome {
    /// It completed, with its final message if it had one.
    Completed {
        /// The task's final agent message.
        message: Option<String>,
    },
    /// It was aborted.
    Aborted {
        /// Why.
        reason: TurnAbortReason,
    },
    /// It failed (an error, a panic), or the sub-session ended before the task did.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// The parent's record of one child: how to stop it and how to report its end.
pub(crate) struct ChildLink {
    origin: ApprovalOrigin,
    child: Weak<Shared>,
    outlet: Arc<RootOutlet>,
    /// How the child ended, once `sub_session_ended` has been sent.
    reported: Mutex<Option<SubSessionOutcome>>,
    gone: CancellationToken,
    observed: Mutex<Observed>,
    reaper: Mutex<Option<AbortOnDropHandle<()>>>,
    stop_bound: Duration,
}

#[derive(Default)]
struct Observed {
    last: Option<SubSessionOutcome>,
    failed_turn: Option<String>,
}

impl ChildLink {
    /// Notes how the child's tasks end, for `sub_session_ended`.
    fn observe(&self, event: &Event) {
        let mut observed = lock(&self.observed);
        match &event.msg {
            EventMsg::Error { .. } => observed.failed_turn = Some(event.id.clone()),
            EventMsg::TaskComplete { .. } => {
                let failed = observed.failed_turn.take() == Some(event.id.clone());
                observed.last = Some(if failed {
                    SubSessionOutcome::Failed
                } else {
                    SubSessionOutcome::Completed
                });
            }
            EventMsg::TurnAborted { .. } => observed.last = Some(SubSessionOutcome::Aborted),
            _ => {}
        }
    }

    fn observed_outcome(&self) -> SubSessionOutcome {
        lock(&self.observed)
            .last
            .unwrap_or(SubSessionOutcome::Completed)
    }

    /// Reports the child's end on the root's stream, once.
    fn end(&self, outcome: SubSessionOutcome) {
        let mut reported = lock(&self.reported);
        if reported.is_some() {
            return;
        }
        *reported = Some(outcome);
        self.outlet.close_with(EventMsg::SubSessionEnded {
            origin: self.origin.clone(),
            outcome,
        });
        drop(reported);
        self.gone.cancel();
    }

    fn is_ended(&self) -> bool {
        lock(&self.reported).is_some()
    }
}

/// Configures a sub-session; made by [`TaskContext::sub_session`].
///
/// By default the child has an empty history, the parent's task kinds, services and tools, the
/// parent's approval policy, and a rollout file beside the parent's (when the parent has one).
pub struct SubSessionBuilder<'a> {
    ctx: &'a TaskContext,
    history: Vec<ResponseItem>,
    kinds: Option<Vec<TaskKind>>,
    services: Option<Services>,
    tools: Option<ToolRegistry>,
    policy: Option<ApprovalPolicy>,
    sandbox: Option<SandboxPolicy>,
    stop_bound: Option<Duration>,
}

impl<'a> SubSessionBuilder<'a> {
    pub(crate) fn new(ctx: &'a TaskContext) -> Self {
        Self {
            ctx,
            history: Vec::new(),
            kinds: None,
            services: None,
            tools: None,
            policy: None,
            sandbox: None,
            stop_bound: None,
        }
    }

    /// Seeds the child's history with items the parent chooses.
    pub fn history(mut self, items: Vec<ResponseItem>) -> Self {
        self.history = items;
        self
    }

    /// Offers the child only these of the parent's task kinds.
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = TaskKind>) -> Self {
        self.kinds = Some(kinds.into_iter().collect());
        self
    }

    /// Offers the child these services instead of the parent's.
    pub fn services(mut self, services: Services) -> Self {
        self.services = Some(services);
        self
    }

    /// Offers the child these tools instead of the parent's (usually
    /// [`ToolRegistry::subset`] of [`TaskContext::tools`], so a child never gets more).
    pub fn tools(mut self, tools: ToolRegistry) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Runs the child under `policy`, which must be at least as strict as the parent's.
    pub fn approval_policy(mut self, policy: ApprovalPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Runs the child's commands under `policy`, which must be at least as strict as the
    /// parent's sandbox policy (by default the child gets the parent's; a review's child
    /// asks for `read_only`).
    pub fn sandbox_policy(mut self, policy: SandboxPolicy) -> Self {
        self.sandbox = Some(policy);
        self
    }

    /// How long the child may take to stop once asked before it is shut down hard.
    pub fn stop_bound(mut self, bound: Duration) -> Self {
        self.stop_bound = Some(bound);
        self
    }

    /// Starts the child session and announces it on the root's stream.
    ///
    /// Fails past the tree's depth limit, for an approval or sandbox policy broader than the
    /// parent's, once the
    /// parent's task has ended, and when the child's rollout cannot be created.
    pub fn start(self) -> Result<SubSession, Error> {
        let ctx = self.ctx;
        let parent = ctx.shared();
        let tree = &parent.tree;
        let (depth, policy) = self.allowed()?;
        let sandbox = self.allowed_sandbox()?;
        let (number, rollout) = child_slot(tree, &parent.session_id);
        let origin = ApprovalOrigin {
            sub_session_id: format!("{}.{number}", parent.session_id),
            parent_session_id: parent.session_id.clone(),
            depth,
            task_kind: ctx.kind().clone(),
            turn_id: ctx.sub_id().to_owned(),
        };
        let (root, turn_id) = match &tree.outlet {
            Some(outlet) => (outlet.root.clone(), outlet.turn_id.clone()),
            None => (Arc::downgrade(parent), ctx.sub_id().to_owned()),
        };
        let outlet = Arc::new(RootOutlet {
            root,
            turn_id,
            gate: TaskGate::new(),
        });
        let stop_bound = self.stop_bound.unwrap_or(tree.stop_bound);
        let mut builder = Session::builder()
            .session_id(origin.sub_session_id.clone())
            .cwd(parent.cwd.clone())
            .services(self.services.unwrap_or_else(|| parent.services.clone()))
            .tool_registry(self.tools.unwrap_or_else(|| parent.tools.clone()))
            .default_grace_period(parent.default_grace)
            .abort_hook_timeout(parent.abort_hook_timeout)
            .approval_policy(policy)
            .sandbox_policy(sandbox)
            .child_of(ParentSeed {
                depth,
                max_depth: tree.max_depth,
                origin: origin.clone(),
                outlet: Arc::clone(&outlet),
                broker: parent.approvals.child(),
                stop_bound,
            });
        for registration in parent.registry.values() {
            let offered = self
                .kinds
                .as_ref()
                .is_none_or(|kinds| kinds.contains(&registration.kind));
            if offered {
                builder = builder.task(registration.clone());
            }
        }
        if let Some(path) = rollout {
            builder = builder.rollout(path);
        }
        let session = builder.build()?;
        if !self.history.is_empty() {
            let child = session.shared();
            let mut history = lock(&child.history);
            for item in self.history {
                child.journal(&RolloutRecord::ResponseItem { item: item.clone() });
                history.push(item);
            }
        }
        let link = Arc::new(ChildLink {
            origin: origin.clone(),
            child: Arc::downgrade(session.shared()),
            outlet: Arc::clone(&outlet),
            reported: Mutex::new(None),
            gone: CancellationToken::new(),
            observed: Mutex::default(),
            reaper: Mutex::new(None),
            stop_bound,
        });
        {
            // Registered and announced under the lock the driver takes to settle children, so
            // a child either is waited for or never starts.
            let mut children = lock(&ctx.children);
            let Some(children) = children.as_mut() else {
                return Err(Error::ParentEnded);
            };
            let started = outlet.emit(EventMsg::SubSessionStarted {
                origin,
                approval_policy: policy,
            });
            if !started {
                return Err(Error::ParentEnded);
            }
            children.push(Arc::clone(&link));
        }
        Ok(SubSession {
            session: Some(session),
            link,
            parent: Arc::clone(parent),
            parent_gate: Arc::clone(&ctx.gate),
            parent_turn: ctx.sub_id().to_owned(),
        })
    }
}

impl SubSessionBuilder<'_> {
    /// The child's sandbox policy, when it is at least as strict as the parent's.
    fn allowed_sandbox(&self) -> Result<SandboxPolicy, Error> {
        let parent = &self.ctx.shared().tree.sandbox;
        let Some(asked) = &self.sandbox else {
            return Ok(parent.clone());
        };
        if asked.is_at_least_as_strict_as(parent) {
            Ok(asked.clone())
        } else {
            Err(Error::BroaderSandbox {
                asked: asked.clone(),
                parent: parent.clone(),
            })
        }
    }

    /// The child's depth and policy, when the tree allows them.
    fn allowed(&self) -> Result<(u32, ApprovalPolicy), Error> {
        let tree = &self.ctx.shared().tree;
        let depth = tree.depth + 1;
        if depth > tree.max_depth {
            return Err(Error::DepthLimit {
                depth,
                limit: tree.max_depth,
            });
        }
        let policy = self.policy.unwrap_or(tree.policy);
        if !policy.is_at_least_as_strict_as(tree.policy) {
            return Err(Error::BroaderPolicy {
                asked: policy,
                parent: tree.policy,
            });
        }
        if self.ctx.cancellation_token().is_cancelled() {
            return Err(Error::ParentEnded);
        }
        Ok((depth, policy))
    }
}

/// The next free child number and, when the parent journals, the child's rollout path beside
/// the parent's (`<parent stem>.<n>.jsonl`); a number whose file exists (an earlier run of a
/// resumed session) is skipped, so a child id is never reused.
fn child_slot(tree: &Tree, session_id: &str) -> (u64, Option<PathBuf>) {
    loop {
        let number = tree.next_child.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(parent_path) = &tree.rollout_path else {
            return (number, None);
        };
        let path = sibling(parent_path, session_id, number);
        if !path.exists() {
            return (number, Some(path));
        }
    }
}

fn sibling(parent_path: &Path, session_id: &str, number: u64) -> PathBuf {
    let stem = parent_path.file_stem().map_or_else(
        || session_id.to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    parent_path.with_file_name(format!("{stem}.{number}.jsonl"))
}

/// A parent task's handle on a running sub-session.
///
/// Dropping it shuts the child down (within its stop bound, then hard); [`close`] does the same
/// and waits. Either way the parent's turn does not end before the child is gone.
///
/// A downstream task that hands its input to a child session and relays what the child does:
///
/// ```
/// use std::sync::Arc;
///
/// use turnkit_protocol::{EventMsg, Op, TaskKind, UserInput};
/// use turnkit_session_core::{
///     CancellationToken, ChildOutcome, Session, SessionTask, TaskContext, TaskRegistration,
///     TaskResult,
/// };
///
/// /// The child's work: here, an echo.
/// struct Echo;
///
/// #[async_trait::async_trait]
/// impl SessionTask for Echo {
///     fn kind(&self) -> TaskKind {
///         TaskKind::REGULAR
///     }
///
///     async fn run(
///         self: Arc<Self>,
///         _ctx: Arc<TaskContext>,
///         input: Vec<UserInput>,
///         _cancellation_token: CancellationToken,
///     ) -> TaskResult {
///         Ok(Some(format!("echoed {} item(s)", input.len())))
///     }
/// }
///
/// /// The parent: runs the same input in a child with a fresh history.
/// struct Delegate;
///
/// #[async_trait::async_trait]
/// impl SessionTask for Delegate {
///     fn kind(&self) -> TaskKind {
///         TaskKind::new("delegate")
///     }
///
///     async fn run(
///         self: Arc<Self>,
///         ctx: Arc<TaskContext>,
///         input: Vec<UserInput>,
///         _cancellation_token: CancellationToken,
///     ) -> TaskResult {
///         let mut child = ctx.sub_session().kinds([TaskKind::REGULAR]).start()?;
///         // Every child event reaches this stream as `sub_session_event`; the child's
///         // approval requests go straight to the root's client.
///         let outcome = child.run_once_forwarded(Op::UserInput { items: input }).await?;
///         child.close().await;
///         match outcome {
///             ChildOutcome::Completed { message } => Ok(message),
///             other => Err(format!("the child did not complete: {other:?}").into()),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut session = Session::builder()
///     .task(TaskRegistration::new(TaskKind::REGULAR, |_op| Ok(Arc::new(Echo))))
///     .task(TaskRegistration::new(TaskKind::new("delegate"), |_op| Ok(Arc::new(Delegate))))
///     .build()?;
/// session.spawn_task(Arc::new(Delegate), vec![UserInput::text("hi")])?;
/// let mut types = Vec::new();
/// while let Some(event) = session.next_event().await {
///     let done = event.msg.is_terminal();
///     types.push(serde_json::to_value(&event.msg)?["type"].as_str().unwrap_or("").to_owned());
///     if done {
///         assert_eq!(event.msg, EventMsg::TaskComplete {
///             last_agent_message: Some("echoed 1 item(s)".into()),
///         });
///         break;
///     }
/// }
/// assert_eq!(types, [
///     "task_started",
///     "sub_session_started",
///     "sub_session_event", // the child's task_started
///     "sub_session_event", // the child's task_complete
///     "sub_session_ended",
///     "task_complete",
/// ]);
/// # Ok(())
/// # }
/// ```
///
/// [`close`]: SubSession::close
pub struct SubSession {
    session: Option<Session>,
    link: Arc<ChildLink>,
    parent: Arc<Shared>,
    parent_gate: Arc<TaskGate>,
    parent_turn: String,
}

impl SubSession {
    fn session(&self) -> &Session {
        self.session
            .as_ref()
            .expect("a sub-session's session is only taken by close or drop")
    }

    /// The child session's id.
    pub fn id(&self) -> &str {
        &self.link.origin.sub_session_id
    }

    /// Where the child sits in the tree, as its events on the root's stream name it.
    pub fn origin(&self) -> &ApprovalOrigin {
        &self.link.origin
    }

    /// Submits an op to the child under a fresh submission id, which it returns.
    pub fn submit(&self, op: Op) -> Result<String, Error> {
        self.session().submit(op)
    }

    /// Interrupts the child's running turn; a no-op when it is idle.
    pub fn interrupt(&self) {
        // The only refusal is a child that has shut down, which has nothing left to interrupt.
        let _ = self.session().submit(Op::Interrupt);
    }

    /// The child's next event; `None` once its stream has ended.
    ///
    /// Approval requests of the child never appear here: they go to the root's client.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an event is never lost by dropping this future.
    pub async fn next_event(&mut self) -> Option<Event> {
        let event = self.session.as_mut()?.next_event().await?;
        self.link.observe(&event);
        Some(event)
    }

    /// Re-emits a child event on the parent's stream, under the parent's turn id, wrapped with
    /// the child's origin; returns `false` (and sends nothing) once the child or the parent's
    /// task has ended.
    pub fn forward(&self, event: Event) -> bool {
        if self.link.is_ended() {
            return false;
        }
        let msg = EventMsg::SubSessionEvent {
            origin: self.link.origin.clone(),
            event: Box::new(event),
        };
        self.parent
            .sink
            .emit_gated(&self.parent_gate, &self.parent_turn, msg)
    }

    /// Submits one op (usually user input) and waits for the task it starts to end.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the child's task running; events read so far are gone.
    pub async fn run_once(&mut self, op: Op) -> Result<ChildOutcome, Error> {
        self.run_once_with(op, |_child, _event| {}).await
    }

    /// As [`run_once`](SubSession::run_once), re-emitting every child event on the parent's
    /// stream as [`forward`](SubSession::forward) does, so a client sees the nested work.
    ///
    /// # Cancel safety
    ///
    /// As for [`run_once`](SubSession::run_once).
    pub async fn run_once_forwarded(&mut self, op: Op) -> Result<ChildOutcome, Error> {
        self.run_once_with(op, |child, event| {
            child.forward(event);
        })
        .await
    }

    async fn run_once_with(
        &mut self,
        op: Op,
        mut each: impl FnMut(&Self, Event),
    ) -> Result<ChildOutcome, Error> {
        let id = self.submit(op)?;
        let mut error = None;
        loop {
            let Some(event) = self.next_event().await else {
                return Ok(ChildOutcome::Failed {
                    error: "the sub-session ended before its task did".to_owned(),
                });
            };
            let msg = (event.id == id).then(|| event.msg.clone());
            each(self, event);
            match msg {
                Some(EventMsg::Error { message }) => error = Some(message),
                Some(EventMsg::TaskComplete { last_agent_message }) => {
                    return Ok(match error {
                        Some(error) => ChildOutcome::Failed { error },
                        None => ChildOutcome::Completed {
                            message: last_agent_message,
                        },
                    });
                }
                Some(EventMsg::TurnAborted { reason }) => {
                    return Ok(ChildOutcome::Aborted { reason });
                }
                _ => {}
            }
        }
    }

    /// Submits user input and waits for the turn it starts to end.
    ///
    /// # Cancel safety
    ///
    /// As for [`run_once`](SubSession::run_once).
    pub async fn run_input(&mut self, items: Vec<UserInput>) -> Result<ChildOutcome, Error> {
        self.run_once(Op::UserInput { items }).await
    }

    /// Shuts the child down and returns how it ended; always returns, within the stop bound.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the shutdown to finish in the background; the parent's
    /// turn still waits for it before its terminal event.
    pub async fn close(mut self) -> SubSessionOutcome {
        let link = Arc::clone(&self.link);
        if let Some(session) = self.session.take() {
            // Shut down right here rather than in a reaper task (one spawn fewer on the path
            // every one-shot child takes); if this future is dropped midway, the guard hands
            // the session to a reaper after all.
            let mut closing = Closing {
                session: Some(session),
                link: Arc::clone(&link),
                parent: Arc::clone(&self.parent),
            };
            let session = closing
                .session
                .as_mut()
                .expect("the session was put there just above");
            let outcome = shut_down(session, &link).await;
            drop(closing.session.take());
            link.end(outcome);
        }
        link.gone.cancelled().await;
        lock(&link.reported).unwrap_or(SubSessionOutcome::Lost)
    }

    fn start_reaper(&mut self) {
        if let Some(session) = self.session.take() {
            spawn_reaper(&self.parent, session, &self.link);
        }
    }
}

/// A child being closed by [`SubSession::close`]; hands it to a reaper if the close is dropped.
struct Closing {
    session: Option<Session>,
    link: Arc<ChildLink>,
    parent: Arc<Shared>,
}

impl Drop for Closing {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            spawn_reaper(&self.parent, session, &self.link);
        }
    }
}

fn spawn_reaper(parent: &Shared, session: Session, link: &Arc<ChildLink>) {
    let reaper = parent
        .runtime
        .spawn(reap(session, Arc::clone(link), parent.root.clone()));
    *lock(&link.reaper) = Some(AbortOnDropHandle::new(reaper));
}

impl Drop for SubSession {
    fn drop(&mut self) {
        self.start_reaper();
    }
}

impl std::fmt::Debug for SubSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubSession")
            .field("origin", &self.link.origin)
            .finish_non_exhaustive()
    }
}

/// Shuts a child down in order, within its stop bound, then hard; reports its end.
///
/// `parent_gone` fires when the parent session is dropped or has shut down: then nobody waits
/// for an orderly end, and the child is stopped hard at once, so no task outlives the tree.
///
/// # Cancel safety
///
/// Dropping the future drops the child session, which stops it hard; its end is then not
/// reported.
async fn reap(mut session: Session, link: Arc<ChildLink>, parent_gone: CancellationToken) {
    let outcome = tokio::select! {
        outcome = shut_down(&mut session, &link) => outcome,
        () = parent_gone.cancelled() => SubSessionOutcome::Lost,
    };
    drop(session);
    link.end(outcome);
}

/// Asks a child to shut down and reads its stream to the end, within its stop bound; returns
/// how it ended (`Lost` when the bound passed first, and the caller then drops it hard).
///
/// # Cancel safety
///
/// Dropping the future leaves the child shutting down; its events read so far are observed.
async fn shut_down(session: &mut Session, link: &ChildLink) -> SubSessionOutcome {
    let _ = session.submit(Op::Shutdown);
    let drained = tokio::time::timeout(link.stop_bound, async {
        while let Some(event) = session.next_event().await {
            link.observe(&event);
            if matches!(event.msg, EventMsg::ShutdownComplete) {
                break;
            }
        }
    })
    .await;
    if drained.is_ok() {
        link.observed_outcome()
    } else {
        tracing::warn!(sub_session = %link.origin.sub_session_id, "sub-session did not stop in time; shutting it down hard");
        SubSessionOutcome::Lost
    }
}

/// Asks every running child of the task to stop, before the task's own token is cancelled.
pub(crate) fn interrupt_children(ctx: &TaskContext) {
    for link in lock(&ctx.children).iter().flatten() {
        if link.is_ended() {
            continue;
        }
        if let Some(child) = link.child.upgrade()
            && let Some(active) = &child.state().active
        {
            active.control.request(TurnAbortReason::Interrupted);
        }
    }
}

/// Waits until every child of the task is gone, within each child's stop bound; a child whose
/// handle outlived the task's run is stopped here, hard if it must be.
///
/// # Cancel safety
///
/// Dropping the future drops the reapers it was waiting for, which stops those children hard.
pub(crate) async fn settle_children(ctx: &TaskContext) {
    let links = lock(&ctx.children).take().unwrap_or_default();
    for link in links {
        let reaper = lock(&link.reaper).take();
        if let Some(reaper) = reaper {
            // The reaper is bounded by the child's stop bound.
            let _ = reaper.await;
        } else if !link.is_ended() {
            stop_leaked(&link).await;
        }
    }
}

/// Stops a child whose handle is still held somewhere after its parent's run ended.
async fn stop_leaked(link: &ChildLink) {
    let Some(child) = link.child.upgrade() else {
        link.end(SubSessionOutcome::Lost);
        return;
    };
    let done = {
        let state = child.state();
        if let Some(active) = &state.active {
            active.control.request(TurnAbortReason::Interrupted);
        }
        state.last_done.clone()
    };
    let in_time = tokio::time::timeout(link.stop_bound, done.cancelled())
        .await
        .is_ok();
    stop_hard(&child);
    link.end(if in_time {
        SubSessionOutcome::Aborted
    } else {
        SubSessionOutcome::Lost
    });
}

/// Ends a session at once, as dropping it does: its drivers are aborted, which drops every
/// run and kills their processes.
fn stop_hard(shared: &Shared) {
    let mut state = shared.state();
    state.shutting_down = true;
    state.drivers.abort_all();
    state.active = None;
    drop(state);
    shared.end();
    shared.sink.close();
}
