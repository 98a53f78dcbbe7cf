//! [`CompactTask`]: `Op::Compact`, and the registration of its kind.

use std::sync::Arc;

use turnkit_protocol::{EventMsg, TaskKind, UserInput};
use turnkit_session_core::{
    CancellationToken, SessionTask, TaskContext, TaskRegistration, TaskResult, async_trait,
};

use crate::{CompactConfig, Error, compact_session};

/// Compacts the session's history on request (`Op::Compact`).
///
/// It replaces a running turn, as every op that changes the history does. Whatever happens,
/// the history is either fully replaced (`context_compacted`) or exactly as it was, with a
/// `warning` saying why; it never fails the session.
#[derive(Debug, Default)]
pub struct CompactTask {
    config: CompactConfig,
}

impl CompactTask {
    /// A compaction with these budgets.
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
        match compact_session(&ctx, &self.config, &cancellation_token).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                ctx.send_event(EventMsg::BackgroundEvent {
                    message: "nothing to compact: the history has nothing a model reads".to_owned(),
                });
            }
            Err(Error::Cancelled) => {
                ctx.send_event(EventMsg::Warning {
                    message: "the compaction was cancelled; the history is unchanged".to_owned(),
                });
            }
            Err(error) => {
                ctx.send_event(EventMsg::Warning {
                    message: format!("{error}; the history is unchanged"),
                });
            }
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

/// Adds the `compact` task kind to `builder`; with the agent turn's compactor service once
/// the session core offers it.
pub fn install(
    builder: turnkit_session_core::SessionBuilder,
    config: crate::CompactConfig,
) -> turnkit_session_core::SessionBuilder {
    builder.task(registration(config))
}
