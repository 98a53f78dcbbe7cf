//! [`CompactTask`]: `Op::Compact`, and the registration of its kind.

use std::sync::Arc;

use turnkit_protocol::{EventMsg, ResponseItem, TaskKind, UserInput};
use turnkit_session_core::{
    CancellationToken, Compactor, SessionTask, TaskContext, TaskRegistration, TaskResult,
    async_trait,
};

use crate::{ChildCompactor, CompactConfig};

/// Compacts the session's history on request (`Op::Compact`).
///
/// It runs the session's [`Compactor`] service (this crate's [`ChildCompactor`], or a
/// downstream strategy registered in its place), so a manual compaction and one inside a turn
/// use the same strategy; without a service it runs a [`ChildCompactor`] with its own budgets.
/// Whatever happens, the history is either fully replaced (`context_compacted`) or exactly as
/// it was, with a `warning` saying why; it never fails the session.
#[derive(Debug, Default)]
pub struct CompactTask {
    config: CompactConfig,
}

impl CompactTask {
    /// A compaction with these budgets (used when the session has no compactor service).
    pub fn new(config: CompactConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl SessionTask for CompactTask {
    fn kind(&self) -> TaskKind {
        TaskKind::COMPACT
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        if !ctx.history().iter().any(ResponseItem::is_model_visible) {
            ctx.send_event(EventMsg::BackgroundEvent {
                message: "nothing to compact: the history has nothing a model reads".to_owned(),
            });
            return Ok(None);
        }
        let compactor = ctx
            .service::<Arc<dyn Compactor>>()
            .unwrap_or_else(|| Arc::new(ChildCompactor::new(self.config.clone())));
        if let Err(error) = compactor.compact(&ctx, cancellation_token.clone()).await {
            let message = if cancellation_token.is_cancelled() {
                "the compaction was cancelled; the history is unchanged".to_owned()
            } else {
                format!("{error}; the history is unchanged")
            };
            ctx.send_event(EventMsg::Warning { message });
        }
        Ok(None)
    }
}

/// The registration of [`TaskKind::COMPACT`] with `config`.
pub fn registration(config: CompactConfig) -> TaskRegistration {
    TaskRegistration::new(TaskKind::COMPACT, move |_op| {
        Ok(Arc::new(CompactTask::new(config.clone())) as Arc<dyn SessionTask>)
    })
}
