//! Registers the built-in task kinds whose cargo features are on.

use crate::{Session, SessionBuilder};

/// The facade's cargo features compiled into this build, as the session's errors name them.
const COMPILED_FEATURES: &[&str] = &[
    #[cfg(feature = "compact")]
    "compact",
    #[cfg(feature = "ghost-snapshot")]
    "ghost-snapshot",
    #[cfg(feature = "openai")]
    "openai",
    #[cfg(feature = "regular")]
    "regular",
    #[cfg(feature = "review")]
    "review",
    #[cfg(feature = "sandbox")]
    "sandbox",
    #[cfg(feature = "shell")]
    "shell",
    #[cfg(feature = "testkit")]
    "testkit",
    #[cfg(feature = "undo")]
    "undo",
];

/// A session builder with every enabled built-in task kind registered: where a client starts.
///
/// Unlike [`Session::builder`], which registers nothing, it also tells the session which of
/// turnkit's features are compiled in, so the error for a kind that is not registered says
/// whether to enable a feature or to register the kind.
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
        let builder = self.compiled_features(COMPILED_FEATURES.iter().copied());
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
        #[cfg(feature = "compact")]
        let builder = if builder.has_task(&crate::TaskKind::COMPACT) {
            builder
        } else {
            turnkit_tasks_compact::install(builder, turnkit_tasks_compact::CompactConfig::default())
        };
        #[cfg(feature = "review")]
        let builder = if builder.has_task(&crate::TaskKind::REVIEW) {
            builder
        } else {
            builder.task(turnkit_tasks_review::registration())
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
fn with_builtin_tools(mut builder: SessionBuilder) -> SessionBuilder {
    // A tool the caller registered under the same name before this call wins, as a caller's
    // own task registration does; one registered after it replaces the built-in one in place.
    for tool in turnkit_tasks_regular::builtin_tools() {
        if !builder.has_tool(&tool.spec().name) {
            builder = builder.shared_tool(tool);
        }
    }
    builder
}
