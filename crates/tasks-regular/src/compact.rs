//! Compaction inside a turn: when the tokens in use reach the model's limit, and once when
//! the model says the conversation no longer fits, through the session's [`Compactor`].

use std::sync::Arc;

use turnkit_model::{ModelInfo, Prompt, TokenUsage};
use turnkit_protocol::EventMsg;
use turnkit_session_core::{CancellationToken, Compactor, TaskContext};

use crate::RegularConfig;

/// When a turn compacts on its own, and whether it already said it cannot.
pub(crate) struct AutoCompact {
    limit: Option<u64>,
    warned_unavailable: bool,
}

impl AutoCompact {
    /// The model's own limit, or the config's share of its context window.
    pub(crate) fn new(info: ModelInfo, config: &RegularConfig) -> Self {
        let limit = info.auto_compact_token_limit.or_else(|| {
            info.context_window.map(|window| {
                window / 100 * config.get_auto_compact_percent()
                    + window % 100 * config.get_auto_compact_percent() / 100
            })
        });
        Self {
            limit,
            warned_unavailable: false,
        }
    }

    /// The tokens in use after a response, when they reached the limit: the response's own
    /// count, or an estimate of its prompt when the server reported none.
    pub(crate) fn due(&self, usage: Option<TokenUsage>, prompt: &Prompt) -> Option<(u64, u64)> {
        let limit = self.limit?;
        let in_use = usage.map_or_else(|| prompt.estimated_tokens(), |usage| usage.total_tokens);
        (in_use >= limit).then_some((in_use, limit))
    }
}

/// Whether the session offers compaction.
pub(crate) fn has_compactor(ctx: &TaskContext) -> bool {
    ctx.service::<Arc<dyn Compactor>>().is_some()
}

/// Compacts because the tokens in use reached the limit, saying so; without a compactor, says
/// once per turn that the turn goes on uncompacted. `Err` when the turn was cancelled.
pub(crate) async fn run_auto(
    ctx: &Arc<TaskContext>,
    token: &CancellationToken,
    auto: &mut AutoCompact,
    (in_use, limit): (u64, u64),
) -> Result<(), ()> {
    if !has_compactor(ctx) {
        if !auto.warned_unavailable {
            auto.warned_unavailable = true;
            ctx.send_event(EventMsg::Warning {
                message: format!(
                    "the conversation uses {in_use} tokens, past the auto-compaction limit of {limit}, and this session has no compactor; the turn goes on uncompacted (register the compact task kind to compact automatically)"
                ),
            });
        }
        return Ok(());
    }
    ctx.send_event(EventMsg::Warning {
        message: format!(
            "the conversation uses {in_use} tokens, past the auto-compaction limit of {limit}; compacting the history to go on"
        ),
    });
    run(ctx, token).await
}

/// Compacts the history through the session's compactor, inline; a failure is a warning and
/// the turn goes on. `Err` when the turn was cancelled.
///
/// # Cancel safety
///
/// As the compactor's own `compact`: the history is either as it was or fully replaced.
pub(crate) async fn run(ctx: &Arc<TaskContext>, token: &CancellationToken) -> Result<(), ()> {
    let Some(compactor) = ctx.service::<Arc<dyn Compactor>>() else {
        return Ok(());
    };
    let result = tokio::select! {
        biased;
        () = token.cancelled() => return Err(()),
        result = compactor.compact(ctx, token.child_token()) => result,
    };
    if token.is_cancelled() {
        return Err(());
    }
    match result {
        Ok(report) => {
            ctx.send_event(EventMsg::BackgroundEvent {
                message: format!(
                    "compacted the history from {} to {} tokens",
                    report.tokens_before, report.tokens_after
                ),
            });
        }
        Err(error) => {
            ctx.send_event(EventMsg::Warning {
                message: format!("compacting the history failed: {error}; the turn goes on"),
            });
        }
    }
    Ok(())
}
