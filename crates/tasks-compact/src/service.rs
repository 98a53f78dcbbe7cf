//! [`ChildCompactor`]: this crate's strategy as the session's [`Compactor`] service, and
//! [`install`], which registers it with the `compact` task kind.

use std::sync::Arc;

use turnkit_model::estimate_tokens;
use turnkit_session_core::{
    CancellationToken, CompactionReport, Compactor, SessionBuilder, TaskContext, TaskError,
    async_trait,
};

use crate::{CompactConfig, compact_session, registration};

/// Compaction by summary: [`compact_session`] as a [`Compactor`], what a regular turn calls
/// when its context fills up.
///
/// A downstream strategy (a provider's own compaction endpoint, say) implements [`Compactor`]
/// itself and can fall back to this one, or call [`compact_session`] directly.
#[derive(Clone, Debug, Default)]
pub struct ChildCompactor {
    config: CompactConfig,
}

impl ChildCompactor {
    /// A compactor with these budgets.
    pub fn new(config: CompactConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl Compactor for ChildCompactor {
    async fn compact(
        &self,
        ctx: &Arc<TaskContext>,
        cancellation_token: CancellationToken,
    ) -> Result<CompactionReport, TaskError> {
        let compacted = compact_session(ctx, &self.config, &cancellation_token).await?;
        Ok(compacted.map_or_else(
            || {
                let tokens = estimate_tokens(&ctx.history());
                CompactionReport {
                    tokens_before: tokens,
                    tokens_after: tokens,
                }
            },
            |compacted| CompactionReport {
                tokens_before: compacted.tokens_before,
                tokens_after: compacted.tokens_after,
            },
        ))
    }
}

/// `ChildCompactor::new(config)` as the session service turns look up with
/// `ctx.service::<Arc<dyn Compactor>>()`.
pub fn compactor(config: CompactConfig) -> Arc<dyn Compactor> {
    Arc::new(ChildCompactor::new(config))
}

/// Adds the `compact` task kind and the `Arc<dyn Compactor>` service, both with `config`.
///
/// A downstream strategy registered afterwards (`builder.service(my_compactor)`) replaces the
/// service, and `Op::Compact` then runs it too.
pub fn install(builder: SessionBuilder, config: CompactConfig) -> SessionBuilder {
    builder
        .task(registration(config.clone()))
        .service(compactor(config))
}
