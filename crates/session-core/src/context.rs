//! [`TaskContext`]: what a running task can see and do.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use turnkit_protocol::{
    ApprovalPolicy, ApprovalRequest, EventMsg, ItemList, ResponseItem, ReviewDecision,
    SandboxPolicy, TaskKind, TokenUsage, TokenUsageInfo, TurnAbortReason, UserInput,
};

use crate::ToolRegistry;
use crate::approvals::Registered;
use crate::events::TaskGate;
use crate::rollout::RolloutRecord;
use crate::state::{Auxiliary, Shared, Steered, lock};
use crate::subsession::{ChildLink, SubSessionBuilder};

/// A running task's view of its session: events, history, approvals, input and services.
pub struct TaskContext {
    shared: Arc<Shared>,
    sub_id: String,
    kind: TaskKind,
    task_id: u64,
    pub(crate) gate: Arc<TaskGate>,
    token: CancellationToken,
    pending_input: Option<Steered>,
    /// The sub-sessions this task started; its driver waits for them before its terminal event,
    /// and sets `None` when it does, so no child starts after that.
    pub(crate) children: Mutex<Option<Vec<Arc<ChildLink>>>>,
}

impl TaskContext {
    pub(crate) fn new(
        shared: Arc<Shared>,
        sub_id: String,
        kind: TaskKind,
        task_id: u64,
        gate: Arc<TaskGate>,
        token: CancellationToken,
        pending_input: Option<Steered>,
    ) -> Self {
        Self {
            shared,
            sub_id,
            kind,
            task_id,
            gate,
            token,
            pending_input,
            children: Mutex::new(Some(Vec::new())),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The id of the submission this task runs for; every event it sends carries it.
    pub fn sub_id(&self) -> &str {
        &self.sub_id
    }

    /// The kind of this task.
    pub fn kind(&self) -> &TaskKind {
        &self.kind
    }

    /// The session's id.
    pub fn session_id(&self) -> &str {
        &self.shared.session_id
    }

    /// The session's working directory.
    pub fn cwd(&self) -> &Path {
        &self.shared.cwd
    }

    /// This task's cancellation token (the one `run` was given).
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.token
    }

    /// Sends an event with this task's submission id.
    ///
    /// Returns `false`, and sends nothing, once the task's terminal event has been sent.
    pub fn send_event(&self, msg: EventMsg) -> bool {
        self.shared.sink.emit_gated(&self.gate, &self.sub_id, msg)
    }

    /// A clone of the session's service of type `T`, if it has one.
    pub fn service<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.shared.services.get::<T>()
    }

    /// The session's tools, in the order a prompt lists them.
    pub fn tools(&self) -> &ToolRegistry {
        &self.shared.tools
    }

    /// A copy of the session's history.
    pub fn history(&self) -> Vec<ResponseItem> {
        lock(&self.shared.history).to_vec()
    }

    /// The session's history as an [`ItemList`], which shares its items with the session's
    /// own: what it costs does not grow with the history (a model request takes one).
    pub fn history_items(&self) -> ItemList {
        lock(&self.shared.history).clone()
    }

    /// Runs `f` on the session's history in place, without copying it.
    ///
    /// The history is locked while `f` runs, so `f` must not record, replace or read the
    /// history through this context (that would deadlock); use it for a quick pass such as
    /// building a prompt, and [`history`](Self::history) or
    /// [`history_items`](Self::history_items) for a copy to keep.
    pub fn with_history<R>(&self, f: impl FnOnce(&ItemList) -> R) -> R {
        f(&lock(&self.shared.history))
    }

    /// Appends items to the history (and the rollout).
    pub fn record_items(&self, items: impl IntoIterator<Item = ResponseItem>) {
        let mut history = lock(&self.shared.history);
        let journalled = self.shared.sink.rollout().is_some();
        for item in items {
            if journalled {
                self.shared
                    .journal(&RolloutRecord::ResponseItem { item: item.clone() });
            }
            history.push(item);
        }
    }

    /// Replaces the whole history (and records that in the rollout).
    pub fn replace_history(&self, items: Vec<ResponseItem>) {
        let mut history = lock(&self.shared.history);
        if self.shared.sink.rollout().is_some() {
            self.shared.journal(&RolloutRecord::HistoryReplaced {
                items: items.clone(),
            });
        }
        *history = items.into();
    }

    /// The session's token tally after its last model response (restored on resume), if any
    /// response reported its usage.
    pub fn token_usage(&self) -> Option<TokenUsageInfo> {
        *lock(&self.shared.token_usage)
    }

    /// Adds a model response's usage to the session's tally, sends the new tally as a
    /// `token_count` event (which the rollout keeps, so the tally survives a resume), and
    /// returns it.
    pub fn record_token_usage(
        &self,
        last: TokenUsage,
        context_window: Option<u64>,
    ) -> TokenUsageInfo {
        let mut tally = lock(&self.shared.token_usage);
        let total = tally.map_or(last, |info| info.total.plus(last));
        let info = TokenUsageInfo {
            last,
            total,
            context_window: context_window.or(tally.and_then(|info| info.context_window)),
        };
        *tally = Some(info);
        // Sent under the tally's lock, so two turns' counts reach the stream in tally order.
        self.send_event(EventMsg::TokenCount(info));
        info
    }

    /// How deep this task's session is in its tree: 0 for the root, 1 for its children, ….
    pub fn depth(&self) -> u32 {
        self.shared.tree.depth
    }

    /// The approval policy of this task's session.
    pub fn approval_policy(&self) -> ApprovalPolicy {
        self.shared.tree.policy
    }

    /// The sandbox policy this task's commands run under (see
    /// [`SessionBuilder::sandbox_policy`](crate::SessionBuilder::sandbox_policy)).
    pub fn sandbox_policy(&self) -> &SandboxPolicy {
        &self.shared.tree.sandbox
    }

    /// Starts configuring a sub-session: a child session this task runs and talks to.
    ///
    /// See [`SubSessionBuilder`] for what the child inherits, and [`SubSession`] for the handle.
    ///
    /// [`SubSession`]: crate::SubSession
    pub fn sub_session(&self) -> SubSessionBuilder<'_> {
        SubSessionBuilder::new(self)
    }

    /// Asks the client to approve something (a command, a patch, a tool call or the task's own
    /// question) and waits for the decision.
    ///
    /// The request goes to the root session's client, also from a sub-session (with its
    /// origin); the task's parent never sees it. Something approved earlier in this session
    /// with `ApprovedForSession` is approved at once without asking. When this task is aborted
    /// the request resolves as [`ReviewDecision::Abort`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future withdraws the request; a later decision for it is a warning.
    pub async fn request_approval(&self, request: ApprovalRequest) -> ReviewDecision {
        if self.token.is_cancelled() {
            return ReviewDecision::Abort;
        }
        let (approval_id, reply) = match self.shared.approvals.register(self.task_id, &request) {
            Registered::AlreadyApproved => return ReviewDecision::Approved,
            Registered::Ask(approval_id, reply) => (approval_id, reply),
        };
        let withdraw = Withdraw {
            shared: &self.shared,
            approval_id: &approval_id,
        };
        let msg = EventMsg::ApprovalRequested {
            approval_id: approval_id.clone(),
            request,
            origin: self.shared.tree.origin.clone(),
        };
        let delivered = match &self.shared.tree.outlet {
            Some(outlet) => outlet.emit(msg),
            None => self.send_event(msg),
        };
        if !delivered {
            // Nobody can answer a request that never reached the client.
            return ReviewDecision::Abort;
        }
        let decision = tokio::select! {
            decision = reply => decision.unwrap_or(ReviewDecision::Abort),
            () = self.token.cancelled() => ReviewDecision::Abort,
        };
        drop(withdraw);
        decision
    }

    /// Asks the session to abort this task's turn with `interrupted`, as `Op::Interrupt` does;
    /// returns whether it was asked (`false` once the turn is ending or has ended).
    ///
    /// The turn then goes the usual way of an interrupt: its children are interrupted, its
    /// token is cancelled, and it ends with `turn_aborted`. A tool calls this when the user
    /// answers one of its approval requests with [`ReviewDecision::Abort`], so an abort stops
    /// the turn whichever tool asked.
    pub fn interrupt_turn(&self) -> bool {
        let state = self.shared.state();
        let Some(active) = state
            .active
            .as_ref()
            .filter(|active| active.task_id == self.task_id && !active.closing)
        else {
            return false;
        };
        active.control.request(TurnAbortReason::Interrupted);
        true
    }

    /// Whether user input has been steered into this turn and not yet taken.
    pub fn has_pending_input(&self) -> bool {
        self.pending_input
            .as_ref()
            .is_some_and(|pending| !lock(pending).is_empty())
    }

    /// Takes the input the user steered into this turn since the last call.
    ///
    /// The input is in the rollout, synced to disk, before this returns it.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped the input is put back, ahead of anything newer.
    pub async fn take_pending_input(&self) -> Vec<UserInput> {
        let Some(pending) = &self.pending_input else {
            return Vec::new();
        };
        let entries = std::mem::take(&mut *lock(pending));
        if entries.is_empty() {
            return Vec::new();
        }
        self.shared.journal(&RolloutRecord::InputStarted {
            ids: entries.iter().map(|(id, _)| id.clone()).collect(),
        });
        let mut restore = Restore {
            pending,
            entries: Some(entries),
        };
        self.shared.flush_rollout(&self.gate, &self.sub_id).await;
        restore
            .entries
            .take()
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(_, items)| items)
            .collect()
    }

    /// Runs `work` beside this turn, under its cancellation; the turn's terminal event waits
    /// for it. Returns `false`, and drops `work`, when the turn has already ended.
    pub fn spawn_auxiliary<F>(&self, work: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut state = self.shared.state();
        let Some(active) = state
            .active
            .as_mut()
            .filter(|active| active.task_id == self.task_id && !active.closing)
        else {
            return false;
        };
        let handle = AbortOnDropHandle::new(self.shared.runtime.spawn(work));
        active.auxiliary.push(Auxiliary {
            sub_id: self.sub_id.clone(),
            handle,
            grace: self.shared.grace_for(&self.kind),
            hook: None,
        });
        true
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("session_id", &self.shared.session_id)
            .field("sub_id", &self.sub_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

struct Withdraw<'a> {
    shared: &'a Shared,
    approval_id: &'a str,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.shared.approvals.withdraw(self.approval_id);
    }
}

struct Restore<'a> {
    pending: &'a Mutex<Vec<(String, Vec<UserInput>)>>,
    entries: Option<Vec<(String, Vec<UserInput>)>>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        if let Some(entries) = self.entries.take() {
            let mut pending = lock(self.pending);
            let newer = std::mem::replace(&mut *pending, entries);
            pending.extend(newer);
        }
    }
}
