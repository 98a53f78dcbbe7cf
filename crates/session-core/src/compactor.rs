//! [`Compactor`]: the service a turn calls to shrink its session's history when it nears the
//! model's context window.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::{TaskContext, TaskError};

/// Shrinks a session's history (usually by summarising it with the model) so a turn can go on.
///
/// A turn calls it inline, between two model requests, when the tokens in use reach the
/// model's auto-compaction limit, and once more when the model refuses a request because the
/// conversation no longer fits. Whoever provides compaction (the `compact` task kind)
/// registers an `Arc<dyn Compactor>` as a session service; turns look it up with
/// `ctx.service::<Arc<dyn Compactor>>()` and go on without compacting when there is none.
///
/// # Implementing it
///
/// Replace the history with `ctx.replace_history`, in one step, so an interrupted compaction
/// leaves either the old history or the new one. Send events with `ctx` as any task does;
/// they belong to the calling turn.
#[async_trait]
pub trait Compactor: Send + Sync + 'static {
    /// Compacts the history of `ctx`'s session and says how much it shrank.
    ///
    /// # Cancel safety
    ///
    /// Cancelling `cancellation_token` or dropping the future must leave the history either as
    /// it was or fully replaced, never half-written.
    async fn compact(
        &self,
        ctx: &Arc<TaskContext>,
        cancellation_token: CancellationToken,
    ) -> Result<CompactionReport, TaskError>;
}

/// How much a compaction shrank the history, in tokens (estimated or counted by the model).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// The history's size before.
    pub tokens_before: u64,
    /// The history's size after.
    pub tokens_after: u64,
}
