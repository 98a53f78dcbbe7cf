//! Wiring a session: the task kind and the service, sharing one [`GhostSnapshots`].

use std::sync::Arc;

use turnkit_protocol::TaskKind;
use turnkit_session_core::{SessionBuilder, SessionTask, TaskRegistration, TurnSnapshots};

use crate::{GhostSnapshotConfig, GhostSnapshotTask, GhostSnapshots};

/// Adds the `ghost_snapshot` task kind and the `Arc<dyn TurnSnapshots>` service to `builder`,
/// both backed by one new [`GhostSnapshots`] made from `config`.
///
/// Call it once per session builder: the service's state (the open repository, what the
/// user was told) belongs to the session it is built into.
pub fn install(builder: SessionBuilder, config: GhostSnapshotConfig) -> SessionBuilder {
    let snapshots = GhostSnapshots::new(config);
    builder
        .task(registration(&snapshots))
        .service(service(&snapshots))
}

/// The registration of the `ghost_snapshot` task kind; each task it builds shares `snapshots`.
pub fn registration(snapshots: &Arc<GhostSnapshots>) -> TaskRegistration {
    let snapshots = Arc::clone(snapshots);
    TaskRegistration::new(TaskKind::GHOST_SNAPSHOT, move |_op| {
        let task: Arc<dyn SessionTask> = Arc::new(GhostSnapshotTask::new(Arc::clone(&snapshots)));
        Ok(task)
    })
}

/// `snapshots` as the session service turns look up with
/// `ctx.service::<Arc<dyn TurnSnapshots>>()`.
pub fn service(snapshots: &Arc<GhostSnapshots>) -> Arc<dyn TurnSnapshots> {
    Arc::clone(snapshots) as Arc<dyn TurnSnapshots>
}
