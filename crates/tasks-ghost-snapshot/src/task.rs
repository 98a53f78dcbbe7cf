//! [`GhostSnapshotTask`]: a snapshot taken now because a client asked for one.

use std::sync::Arc;

use async_trait::async_trait;
use turnkit_protocol::{EventMsg, TaskKind, UserInput};
use turnkit_session_core::{CancellationToken, SessionTask, TaskContext, TaskResult};

use crate::{GhostSnapshots, report};

/// The `ghost_snapshot` task kind, run by `Op::Custom { name: "ghost_snapshot", .. }` (the
/// CLI's `turnkit snapshot`).
///
/// It takes a snapshot of the working tree now, records it in the history with phase
/// `manual`, sends a `background_event` naming the commit and what was left out, and ends
/// with the message `snapshot <commit>`. Outside a git repository it fails with an error that
/// says what to do; with snapshots switched off it says so and takes none.
#[derive(Debug)]
pub struct GhostSnapshotTask {
    snapshots: Arc<GhostSnapshots>,
}

impl GhostSnapshotTask {
    /// A task that snapshots through the session's shared `snapshots`.
    pub fn new(snapshots: Arc<GhostSnapshots>) -> Self {
        Self { snapshots }
    }
}

#[async_trait]
impl SessionTask for GhostSnapshotTask {
    fn kind(&self) -> TaskKind {
        TaskKind::GHOST_SNAPSHOT
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        if !self.snapshots.is_enabled() {
            return Ok(Some(
                "ghost snapshots are switched off for this session; no snapshot was taken"
                    .to_owned(),
            ));
        }
        let Some(taken) = self
            .snapshots
            .take_requested(&ctx, &cancellation_token)
            .await?
        else {
            return Ok(None);
        };
        let left_out = report::left_out(&taken.skipped).map_or_else(
            || "nothing was left out".to_owned(),
            |summary| format!("left out, so undo will not restore them: {summary}"),
        );
        ctx.send_event(EventMsg::BackgroundEvent {
            message: format!("took snapshot {}; {left_out}", taken.commit),
        });
        Ok(Some(format!("snapshot {}", taken.commit)))
    }
}
