//! Registers the built-in task kinds whose cargo features are on.

use crate::{Session, SessionBuilder};

/// A session builder with every enabled built-in task kind registered.
pub fn builder() -> SessionBuilder {
    Session::builder().with_enabled_kinds()
}

/// Adds the facade's registrations to a [`SessionBuilder`].
pub trait SessionBuilderExt {
    /// Registers every built-in task kind whose cargo feature is on, except kinds already
    /// registered (so a caller's own registration of a kind wins).
    fn with_enabled_kinds(self) -> SessionBuilder;
}

impl SessionBuilderExt for SessionBuilder {
    #[allow(clippy::let_and_return)]
    fn with_enabled_kinds(self) -> SessionBuilder {
        let builder = self;
        #[cfg(feature = "shell")]
        let builder = if builder.has_task(&crate::TaskKind::USER_SHELL) {
            builder
        } else {
            builder.task(turnkit_tasks_shell::registration())
        };
        #[cfg(feature = "ghost-snapshot")]
        let builder = if builder.has_task(&crate::TaskKind::GHOST_SNAPSHOT) {
            builder
        } else {
            turnkit_tasks_ghost_snapshot::install(
                builder,
                turnkit_tasks_ghost_snapshot::GhostSnapshotConfig::default(),
            )
        };
        #[cfg(feature = "undo")]
        let builder = if builder.has_task(&crate::TaskKind::UNDO) {
            builder
        } else {
            builder.task(turnkit_tasks_undo::registration())
        };
        builder
    }
}
