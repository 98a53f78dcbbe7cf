//! The `undo` task kind: reverts the file changes of the last turn, and of the turns before it
//! when repeated, from the ghost snapshots the `ghost-snapshot` task kind keeps in the history.
//!
//! - [`registration`] (or [`registration_with`], to choose how git runs) registers
//!   [`UndoTask`] for `Op::Undo`; the session makes it replace a running turn.
//! - [`find_undoable_turn`] picks the turn an undo reverts next, as an [`UndoableTurn`], from
//!   the `ResponseItem::GhostSnapshot` items both kinds agree on ([`PHASE_BEFORE`],
//!   [`PHASE_AFTER`], [`PHASE_UNDONE`]).
//!
//! An undo sends `undo_started`, then exactly one `undo_completed` with the paths it restored,
//! deleted and left alone (relative to the top of the repository, sorted), also when it is
//! interrupted. It is built on `turnkit-git-snapshot`: a path changed since the turn (by hand,
//! now ignored by git, behind a symlink, …) is a conflict and is never touched; every other path
//! is restored one atomic write at a time, in the working tree only, never the index.
//!
//! What it records in the history:
//!
//! - an `undone` marker for the turn when every path the turn changed is back as before it or
//!   left alone as a conflict (also when every path was already back before the undo ran), so
//!   the next undo moves on to the turn before; not when the undo was interrupted or a path
//!   failed, so the next undo finishes the job, and not when it changed nothing because every
//!   path conflicts, so the next undo reports those conflicts again rather than skipping them;
//! - a developer message for the model naming what was restored, deleted and left alone
//!   whenever the undo changed a file (marked as partial when it was interrupted) or confirmed
//!   that the turn's changes were already gone.
//!
//! ```
//! use turnkit_protocol::{EventMsg, Op};
//! use turnkit_session_core::Session;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let project = tempfile::tempdir()?;
//! let mut session = Session::builder()
//!     .cwd(project.path())
//!     .task(turnkit_tasks_undo::registration())
//!     .build()?;
//! session.submit(Op::Undo)?;
//! loop {
//!     let event = session.next_event().await.expect("the session is running");
//!     if let EventMsg::UndoCompleted(completed) = event.msg {
//!         // A fresh session has no turn with snapshots yet.
//!         assert!(!completed.success);
//!         assert!(completed.message.starts_with("nothing to undo"));
//!         break;
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! This crate knows the ghost-snapshot kind only through that history contract; it does not
//! depend on it.

mod error;
mod history;
mod report;
mod task;

pub use error::Error;
pub use history::{
    PHASE_AFTER, PHASE_BEFORE, PHASE_MANUAL, PHASE_UNDONE, UndoableTurn, find_undoable_turn,
};
pub use task::{GRACE_PERIOD, UndoTask, registration, registration_with};
