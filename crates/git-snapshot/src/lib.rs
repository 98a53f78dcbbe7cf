//! Ghost snapshots of a git working tree and their safe undo, through the git CLI.
//!
//! A [`Snapshot`] is a commit of the working tree below a session's directory: tracked files
//! as they are on disk (staged or not) and untracked files that are not ignored. It is built
//! with git itself (so the user's configuration, attributes, filters, fsmonitor and untracked
//! cache all apply) in a temporary index and written into an object store turnkit owns. No
//! ref, index, stash or config of the user's changes, and no lock the user's git could trip
//! over is taken.
//!
//! - [`Repository::open`] finds the repository around a directory (worktrees and
//!   subdirectories included) and refuses, with a message that says what to do, a directory
//!   outside any repository, a bare repository, or a missing git.
//! - [`snapshot`] takes a snapshot within [`SnapshotOptions`]' limits, leaving out large
//!   untracked files, crowded untracked directories and dependency folders, listed in
//!   [`Snapshot::skipped`].
//! - [`diff`] lists the [`Change`]s between two snapshots; [`Snapshot::list_files`] and
//!   [`Snapshot::read_file`] read one back ("give me the old version of this file").
//! - [`plan_undo`] works out, touching nothing, how to bring every path a turn changed back to
//!   its earlier state, and which paths were changed by hand since ([`Conflict`]s).
//! - [`apply_undo`] carries out an [`UndoPlan`] on the working tree only, one atomic rename per
//!   file, and reports what it did in an [`UndoReport`].
//! - [`prune`] deletes old snapshots.
//!
//! Every operation takes a [`CancellationToken`](tokio_util::sync::CancellationToken); every
//! git child is killed when it is cancelled or dropped.
//!
//! ```no_run
//! use tokio_util::sync::CancellationToken;
//! use turnkit_git_snapshot::{Repository, SnapshotOptions, apply_undo, plan_undo, snapshot};
//!
//! # async fn turn() -> Result<(), turnkit_git_snapshot::Error> {
//! let cancel = CancellationToken::new();
//! let repo = Repository::open("path/to/project").await?;
//! let options = SnapshotOptions::default();
//! let before = snapshot(&repo, &options, &cancel).await?;
//! // ... the turn edits files ...
//! let after = snapshot(&repo, &options, &cancel).await?;
//!
//! let plan = plan_undo(&repo, &before, &after, &cancel).await?;
//! for conflict in &plan.conflicts {
//!     println!("left alone: {} ({:?})", conflict.path.display(), conflict.reason);
//! }
//! let report = apply_undo(&plan, &cancel).await?;
//! assert!(report.conflicts.len() >= plan.conflicts.len());
//! # Ok(())
//! # }
//! ```
//!
//! This crate knows nothing of sessions: `turnkit-tasks-ghost-snapshot` and
//! `turnkit-tasks-undo` call it.
//!
//! # Where snapshot objects live, and for how long
//!
//! Objects go to `<git common dir>/turnkit/objects/<YYYY-MM-DD>/`, one git object directory
//! per UTC day (a "generation"), never into the repository's own `objects/`:
//!
//! - the user's repository does not grow, and `git count-objects` does not change;
//! - the user's `git gc` never sees them, so it cannot prune them;
//! - git reads them through `GIT_ALTERNATE_OBJECT_DIRECTORIES` only when this crate asks.
//!
//! A snapshot is written with `GIT_OBJECT_DIRECTORY` set to a quarantine directory (under
//! `turnkit/tmp/`) and only the current generation as an alternate, so every blob and tree it
//! hashes or builds lands in turnkit's store even when the repository holds a copy that only
//! its index or its garbage reaches. Unchanged entries are referenced, not copied: those HEAD
//! reaches stay in the repository; the rest (staged changes, a merge in progress, entries
//! outside a scope narrower than the work tree) are found with `diff-tree` against HEAD, which
//! reads only the trees that differ, and copied into the quarantine too, because the user's
//! `git gc` may delete them once the index moves on. When the snapshot is complete the
//! quarantine's objects move into the generation; an abandoned snapshot leaves nothing. What a snapshot still borrows from the repository is
//! reachable from the commit HEAD pointed at when it was taken, which git keeps for as long as
//! a branch or the reflog reaches it (by default at least 30 days after it becomes
//! unreachable).
//!
//! [`prune`] deletes whole generations older than [`PruneOptions::keep_days`] (default 7): as
//! each generation holds everything its snapshots need beyond the repository, deleting an old
//! one never breaks a newer one. A snapshot in a deleted generation reports
//! [`Error::SnapshotMissing`] and cannot be undone.
//!
//! # How undo compares files
//!
//! A file counts as unchanged when `git hash-object` (which applies the same clean filters and
//! end-of-line conversion as `git add`) gives the blob the snapshot recorded, or, for a file
//! holding a CR, its exact bytes do, and its executable bit matches; a symlink when its
//! target's bytes equal the recorded blob. Files are restored through
//! `git cat-file --filters`, so they get the user's smudge filters and line endings just as a
//! checkout would, except those listed in [`Snapshot::unfiltered`] (which the conversion would
//! not give back as they were), which are written byte for byte, and with the permission
//! bits in [`Snapshot::modes`] when the snapshot recorded some.
//!
//! # The user's index
//!
//! A snapshot never reads or writes the user's index in place when it is split, and never
//! writes a split index of its own, so no file of the git directory outside `turnkit/` is
//! written or touched, whatever `core.splitIndex`, `index.skipHash`, `feature.manyFiles`,
//! `core.untrackedCache` or `core.fsmonitor` say. It starts from turnkit's own refreshed copy
//! of the index (under `turnkit/index/`), which it makes again whenever the user's index file
//! changes.

mod apply;
mod diff;
mod error;
mod exact;
mod git;
mod index;
mod object;
mod observe;
mod platform;
mod read;
mod repository;
mod scan;
mod snapshot;
mod store;
mod undo;

pub use apply::{Failure, UndoReport, apply_undo};
pub use diff::{Change, ChangeKind, diff};
pub use error::Error;
pub use object::{FileMode, InvalidObjectId, ObjectId, TreeEntry};
pub use repository::{OpenOptions, Repository};
pub use snapshot::{
    DEFAULT_EXCLUDED_DIRS, SkipReason, Skipped, Snapshot, SnapshotOptions, snapshot,
};
pub use store::{PruneOptions, PruneReport, prune};
pub use undo::{Conflict, ConflictReason, UndoAction, UndoPlan, UndoStep, plan_undo};
