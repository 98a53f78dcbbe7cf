//! Ghost snapshots of a session's working tree, taken around the file changes of a turn so
//! the turn can be undone.
//!
//! - [`GhostSnapshots`] is the session's
//!   [`TurnSnapshots`](turnkit_session_core::TurnSnapshots) service. A turn calls
//!   `before_change` before its first tool that can change files (the "before" snapshot, once
//!   per turn) and `after_turn` when it ends (the "after" snapshot, only if there was a
//!   "before" one); a turn that only reads never calls it and costs nothing. Each snapshot
//!   leaves a `ResponseItem::GhostSnapshot { commit, phase, turn_id, snapshot }` in the
//!   history, which the undo task reads.
//! - [`GhostSnapshotTask`] is the `ghost_snapshot` task kind: a snapshot taken now because a
//!   client asked (`Op::Custom { name: "ghost_snapshot", .. }`), recorded with phase `manual`.
//! - [`GhostSnapshotConfig`] switches snapshots on or off and sets their limits.
//! - [`install`] registers both on a session builder around one shared instance;
//!   [`registration`] and [`service`] do each half.
//!
//! A snapshot never fails the user's turn. Paths left out (large untracked files, crowded
//! folders, dependency folders) and slow snapshots are `warning` events; a directory where
//! snapshots are impossible (not a git repository, no git, a bare repository) is one
//! `background_event` per session, after which snapshots are not tried again; any other
//! failure is a `warning` and the turn goes on without undo. The git work itself is
//! `turnkit-git-snapshot`'s.
//!
//! ```
//! use turnkit_session_core::Session;
//! use turnkit_tasks_ghost_snapshot::{GhostSnapshotConfig, install};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), turnkit_session_core::Error> {
//! let builder = install(Session::builder(), GhostSnapshotConfig::default());
//! assert!(builder.has_task(&turnkit_protocol::TaskKind::GHOST_SNAPSHOT));
//! let _session = builder.build()?;
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod install;
mod record;
mod report;
mod service;
mod task;

pub use config::{DEFAULT_KEEP_DAYS, DEFAULT_SLOW_THRESHOLD, GhostSnapshotConfig};
pub use error::Error;
pub use install::{install, registration, service};
pub use service::GhostSnapshots;
pub use task::GhostSnapshotTask;
pub use turnkit_git_snapshot as git_snapshot;
pub use turnkit_git_snapshot::{OpenOptions, Snapshot, SnapshotOptions};
