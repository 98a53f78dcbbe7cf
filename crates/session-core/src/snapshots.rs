//! [`TurnSnapshots`]: the service a turn calls around its file changes, so undo is possible.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{TaskContext, TaskError};

/// Snapshots of the working tree around a turn's file changes.
///
/// A turn that is about to run its first tool that can change files calls
/// [`before_change`](TurnSnapshots::before_change) and waits for it; a turn that only reads
/// never calls it and pays nothing. When such a turn ends it calls
/// [`after_turn`](TurnSnapshots::after_turn). Whoever provides snapshots (the
/// `ghost-snapshot` task kind) registers an `Arc<dyn TurnSnapshots>` as a session service;
/// turns look it up with `ctx.service::<Arc<dyn TurnSnapshots>>()` and go on without
/// snapshots when there is none.
#[async_trait]
pub trait TurnSnapshots: Send + Sync + 'static {
    /// Takes the "before" snapshot of this turn, once; later calls in the same turn return
    /// at once.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the snapshot with no side effect on the user's repository.
    async fn before_change(&self, ctx: &Arc<TaskContext>) -> Result<(), TaskError>;

    /// Takes the "after" snapshot of this turn, if it took a "before" one.
    ///
    /// # Cancel safety
    ///
    /// As for [`before_change`](TurnSnapshots::before_change).
    async fn after_turn(&self, ctx: &Arc<TaskContext>) -> Result<(), TaskError>;
}
