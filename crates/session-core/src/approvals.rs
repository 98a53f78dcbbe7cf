//! The approvals broker of a session tree: ids unique across the tree, decisions routed back
//! to the session that asked, and `ApprovedForSession` remembered per session.
//!
//! One [`TreeApprovals`] serves a root session and all its sub-sessions; each session holds an
//! [`ApprovalBroker`], its own view of it, so a decision submitted to any session of the tree
//! (normally the root, whose client sees every request) reaches the asker, while aborting a
//! task or remembering a session-wide approval stays within the session it belongs to.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;
use turnkit_protocol::{ApprovalRequest, ReviewDecision};

type Remembered = Arc<Mutex<HashSet<String>>>;

struct Pending {
    session: u64,
    task_id: u64,
    key: String,
    remember_in: Remembered,
    reply: oneshot::Sender<ReviewDecision>,
}

struct TreeState {
    next_id: u64,
    pending: HashMap<String, Pending>,
}

/// The requests of a whole session tree that wait for the client.
struct TreeApprovals {
    next_session: AtomicU64,
    state: Mutex<TreeState>,
}

/// One session's view of its tree's approvals.
pub(crate) struct ApprovalBroker {
    tree: Arc<TreeApprovals>,
    session: u64,
    approved_for_session: Remembered,
}

impl Default for ApprovalBroker {
    fn default() -> Self {
        Self::root()
    }
}

/// What the broker says about a new request.
pub(crate) enum Registered {
    /// Approved earlier for the whole session; no need to ask.
    AlreadyApproved,
    /// Ask the client with this id and wait on the receiver.
    Ask(String, oneshot::Receiver<ReviewDecision>),
}

impl ApprovalBroker {
    /// The broker of a root session: a new tree.
    pub(crate) fn root() -> Self {
        let tree = TreeApprovals {
            next_session: AtomicU64::new(1),
            state: Mutex::new(TreeState {
                next_id: 0,
                pending: HashMap::new(),
            }),
        };
        Self {
            tree: Arc::new(tree),
            session: 0,
            approved_for_session: Remembered::default(),
        }
    }

    /// Numbers the tree's next requests after `last`, the highest id a resumed journal holds.
    pub(crate) fn continue_after(&self, last: u64) {
        let mut state = self
            .tree
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.next_id = state.next_id.max(last);
    }

    /// The broker of a sub-session: the same tree, its own session-wide approvals.
    pub(crate) fn child(&self) -> Self {
        Self {
            tree: Arc::clone(&self.tree),
            session: self.tree.next_session.fetch_add(1, Ordering::Relaxed),
            approved_for_session: Remembered::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TreeState> {
        self.tree
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn register(&self, task_id: u64, request: &ApprovalRequest) -> Registered {
        // The subject's JSON is what "the same thing again" means for `ApprovedForSession`.
        let key = serde_json::to_string(&request.subject).unwrap_or_default();
        let remembered = self
            .approved_for_session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key);
        if remembered {
            return Registered::AlreadyApproved;
        }
        let mut state = self.lock();
        state.next_id += 1;
        // One counter for the whole tree makes an id unique across every session in it.
        let id = format!("approval-{}", state.next_id);
        let (reply, rx) = oneshot::channel();
        state.pending.insert(
            id.clone(),
            Pending {
                session: self.session,
                task_id,
                key,
                remember_in: Arc::clone(&self.approved_for_session),
                reply,
            },
        );
        Registered::Ask(id, rx)
    }

    /// Routes the client's decision to whichever session of the tree asked; `false` when no
    /// request has this id.
    pub(crate) fn decide(&self, id: &str, decision: ReviewDecision) -> bool {
        let Some(pending) = self.lock().pending.remove(id) else {
            return false;
        };
        if decision == ReviewDecision::ApprovedForSession {
            pending
                .remember_in
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(pending.key);
        }
        // The asking task may have stopped meanwhile; then nobody needs the answer.
        let _ = pending.reply.send(decision);
        true
    }

    /// Forgets a request whose asker stopped waiting.
    pub(crate) fn withdraw(&self, id: &str) {
        self.lock().pending.remove(id);
    }

    /// Resolves every request of an aborted task of this session as `Abort`.
    pub(crate) fn abort_task(&self, task_id: u64) {
        let mut state = self.lock();
        let ids: Vec<String> = state
            .pending
            .iter()
            .filter(|(_, pending)| pending.session == self.session && pending.task_id == task_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(pending) = state.pending.remove(&id) {
                let _ = pending.reply.send(ReviewDecision::Abort);
            }
        }
    }

    /// How many requests of the whole tree wait for the client.
    pub(crate) fn pending_count(&self) -> usize {
        self.lock().pending.len()
    }
}
