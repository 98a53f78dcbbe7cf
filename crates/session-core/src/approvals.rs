//! The approvals broker: per-request ids, routing decisions back, and session-wide approvals.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;
use turnkit_protocol::ReviewDecision;

/// What a task asks the client to approve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// The tool call that wants to run the command.
    pub call_id: String,
    /// The command, as argv.
    pub command: Vec<String>,
    /// Where it would run.
    pub cwd: PathBuf,
    /// Why, when the agent said.
    pub reason: Option<String>,
}

struct Pending {
    task_id: u64,
    command: Vec<String>,
    reply: oneshot::Sender<ReviewDecision>,
}

#[derive(Default)]
struct BrokerState {
    next_id: u64,
    pending: HashMap<String, Pending>,
    approved_for_session: HashSet<Vec<String>>,
}

/// Holds the approval requests that wait for the client.
#[derive(Default)]
pub(crate) struct ApprovalBroker {
    state: Mutex<BrokerState>,
}

/// What the broker says about a new request.
pub(crate) enum Registered {
    /// Approved earlier for the whole session; no need to ask.
    AlreadyApproved,
    /// Ask the client with this id and wait on the receiver.
    Ask(String, oneshot::Receiver<ReviewDecision>),
}

impl ApprovalBroker {
    fn lock(&self) -> std::sync::MutexGuard<'_, BrokerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn register(&self, task_id: u64, command: &[String]) -> Registered {
        let mut state = self.lock();
        if state.approved_for_session.contains(command) {
            return Registered::AlreadyApproved;
        }
        state.next_id += 1;
        let id = format!("approval-{}", state.next_id);
        let (reply, rx) = oneshot::channel();
        state.pending.insert(
            id.clone(),
            Pending {
                task_id,
                command: command.to_vec(),
                reply,
            },
        );
        Registered::Ask(id, rx)
    }

    /// Routes the client's decision; `false` when no request has this id.
    pub(crate) fn decide(&self, id: &str, decision: ReviewDecision) -> bool {
        let mut state = self.lock();
        let Some(pending) = state.pending.remove(id) else {
            return false;
        };
        if decision == ReviewDecision::ApprovedForSession {
            state.approved_for_session.insert(pending.command);
        }
        // The asking task may have stopped meanwhile; then nobody needs the answer.
        let _ = pending.reply.send(decision);
        true
    }

    /// Forgets a request whose asker stopped waiting.
    pub(crate) fn withdraw(&self, id: &str) {
        self.lock().pending.remove(id);
    }

    /// Resolves every request of an aborted task as `Abort`.
    pub(crate) fn abort_task(&self, task_id: u64) {
        let mut state = self.lock();
        let ids: Vec<String> = state
            .pending
            .iter()
            .filter(|(_, pending)| pending.task_id == task_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(pending) = state.pending.remove(&id) {
                let _ = pending.reply.send(ReviewDecision::Abort);
            }
        }
    }

    /// How many requests wait for the client.
    pub(crate) fn pending_count(&self) -> usize {
        self.lock().pending.len()
    }
}
