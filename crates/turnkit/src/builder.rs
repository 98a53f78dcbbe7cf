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
        #[cfg(feature = "regular")]
        let builder = if builder.has_task(&crate::TaskKind::REGULAR) {
            builder
        } else {
            with_builtin_tools(builder.task(turnkit_tasks_regular::registration()))
        };
        builder
    }
}

/// Offers the built-in tools of the agent turn, ahead of any tool the caller registers later
/// (a later tool of the same name replaces a built-in one in its place).
#[cfg(feature = "regular")]
fn with_builtin_tools(builder: SessionBuilder) -> SessionBuilder {
    // The built-in tools (`shell`, `apply_patch`, `update_plan`, `subagent`) are registered
    // here, each unless `builder.has_tool(name)`, so a tool the caller registered under the
    // same name wins, as a caller's own task registration does. tasks-regular does not offer
    // them yet, so there is nothing to register.
    builder
}
