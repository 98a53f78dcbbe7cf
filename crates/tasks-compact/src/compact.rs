//! One compaction, shared by the `compact` task and the session's compactor: the summary
//! written by one-shot child sessions, checked, then the history replaced in one step.

use std::sync::Arc;

use turnkit_model::{ModelClient, estimate_text_tokens, estimate_tokens};
use turnkit_protocol::{EventMsg, ResponseItem, UserInput};
use turnkit_session_core::{
    CancellationToken, ChildOutcome, Services, TaskContext, ToolRegistry, TurnOverrides,
};

use crate::plan::{chunk_history, compacted_history, previous_compactions};
use crate::prompt::{
    COMBINE_INSTRUCTIONS, HANDOFF_INSTRUCTIONS, SUMMARISER_INSTRUCTIONS, partial_note_text,
};
use crate::{Budgets, CompactConfig, Error, check_summary};

/// How much one compaction shrank the history, in estimated tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// The history's size before.
    pub tokens_before: u64,
    /// The new history's size.
    pub tokens_after: u64,
    /// The summary's size.
    pub summary_tokens: u64,
    /// How many compactions this session has had, this one included.
    pub count: u32,
}

/// Rounds of merging partial notes before the last merge is made whatever its size; each
/// round divides the notes by at least two, so this covers any history a session can hold.
const MAX_MERGE_ROUNDS: u32 = 8;

/// Compacts `ctx`'s session: summarises its history in child sessions, checks the summary,
/// replaces the history in one step and sends `context_compacted` (and a `warning` past
/// [`CompactConfig::warn_after`] compactions). `Ok(None)` when there is nothing to compact.
///
/// # Cancel safety
///
/// Cancel safe: the history is replaced by one synchronous call after every await, so
/// cancelling the token or dropping the future leaves it exactly as it was.
pub async fn compact_session(
    ctx: &Arc<TaskContext>,
    config: &CompactConfig,
    token: &CancellationToken,
) -> Result<Option<Compacted>, Error> {
    let model = ctx
        .service::<Arc<dyn ModelClient>>()
        .ok_or(Error::NoModelClient)?;
    let window = model
        .info()
        .context_window
        .unwrap_or_else(|| config.get_default_context_window());
    let budgets = Budgets::for_window(config, window);
    let history = ctx.history();
    if !history.iter().any(ResponseItem::is_model_visible) {
        return Ok(None);
    }
    let tokens_before = estimate_tokens(&history);
    let summary = summarise(ctx, &model, &history, budgets, token).await?;
    let summary =
        check_summary(&summary, budgets.summary).map_err(|reason| Error::Rejected { reason })?;
    if token.is_cancelled() {
        return Err(Error::Cancelled);
    }
    // Work beside the turn (a user's shell command) may have recorded items while the summary
    // was written; they are newer than the summary and follow it. Any other change means the
    // summary no longer describes the history, so it is not used.
    let current = ctx.history();
    let appended = match current.get(..history.len()) {
        Some(prefix) if prefix == history.as_slice() => current[history.len()..].to_vec(),
        _ => {
            return Err(Error::Rejected {
                reason: "the history changed while the summary was written".to_owned(),
            });
        }
    };
    let count = previous_compactions(&history) + 1;
    let mut new_history = compacted_history(&history, &summary, count, budgets.user_messages);
    new_history.extend(appended);
    let compacted = Compacted {
        tokens_before,
        tokens_after: estimate_tokens(&new_history),
        summary_tokens: estimate_text_tokens(&summary),
        count,
    };
    ctx.replace_history(new_history);
    ctx.send_event(EventMsg::ContextCompacted {
        tokens_before: compacted.tokens_before,
        tokens_after: compacted.tokens_after,
        summary_tokens: compacted.summary_tokens,
    });
    if count > config.get_warn_after() {
        ctx.send_event(EventMsg::Warning {
            message: format!(
                "this session's history has been compacted {count} times; answers lose detail with every summary, so consider starting a new session"
            ),
        });
    }
    Ok(Some(compacted))
}

/// The summary of `history`: one child when it fits one request, else one child per chunk and
/// children merging their notes until one note is left.
async fn summarise(
    ctx: &Arc<TaskContext>,
    model: &Arc<dyn ModelClient>,
    history: &[ResponseItem],
    budgets: Budgets,
    token: &CancellationToken,
) -> Result<String, Error> {
    let mut chunks = chunk_history(history, budgets.chunk);
    if chunks.len() <= 1 {
        let chunk = chunks.pop().unwrap_or_default();
        return write_note(ctx, model, chunk, HANDOFF_INSTRUCTIONS, token).await;
    }
    let mut notes = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let note = write_note(ctx, model, chunk, HANDOFF_INSTRUCTIONS, token).await?;
        notes.push(checked_part(&note, budgets)?);
    }
    let mut round = 0;
    loop {
        let total = notes.len();
        let merged: Vec<ResponseItem> = notes
            .iter()
            .enumerate()
            .map(|(index, note)| ResponseItem::user_text(partial_note_text(index, total, note)))
            .collect();
        round += 1;
        let groups = chunk_history(&merged, budgets.chunk);
        if groups.len() <= 1 || round >= MAX_MERGE_ROUNDS {
            return write_note(ctx, model, merged, COMBINE_INSTRUCTIONS, token).await;
        }
        notes.clear();
        for group in groups {
            let note = write_note(ctx, model, group, COMBINE_INSTRUCTIONS, token).await?;
            notes.push(checked_part(&note, budgets)?);
        }
    }
}

/// A partial note passes the same check as the final summary, so a refusal is never merged.
fn checked_part(note: &str, budgets: Budgets) -> Result<String, Error> {
    check_summary(note, budgets.summary).map_err(|reason| Error::Rejected {
        reason: format!("a partial summary was rejected: {reason}"),
    })
}

/// Runs one one-shot child session seeded with `items`, with no tools and only the model as a
/// service (so it cannot compact itself) with [`SUMMARISER_INSTRUCTIONS`] in place of the
/// turn's own, asked `instructions`; returns its final message.
///
/// # Cancel safety
///
/// Dropping it drops the child's handle, which shuts the child down.
async fn write_note(
    ctx: &Arc<TaskContext>,
    model: &Arc<dyn ModelClient>,
    items: Vec<ResponseItem>,
    instructions: &str,
    token: &CancellationToken,
) -> Result<String, Error> {
    let mut services = Services::new();
    services.insert(Arc::clone(model));
    services.insert(TurnOverrides::new().instructions(SUMMARISER_INSTRUCTIONS));
    let mut child = ctx
        .sub_session()
        .history(items)
        .services(services)
        .tools(ToolRegistry::new())
        .start()
        .map_err(Error::Child)?;
    let outcome = tokio::select! {
        biased;
        () = token.cancelled() => None,
        outcome = child.run_input(vec![UserInput::text(instructions)]) => Some(outcome),
    };
    child.close().await;
    match outcome {
        None => Err(Error::Cancelled),
        Some(Err(error)) => Err(Error::Child(error)),
        Some(Ok(ChildOutcome::Completed { message })) => Ok(message.unwrap_or_default()),
        Some(Ok(ChildOutcome::Aborted { .. })) if token.is_cancelled() => Err(Error::Cancelled),
        Some(Ok(ChildOutcome::Aborted { reason })) => Err(Error::ChildFailed {
            reason: format!("its turn was aborted ({reason:?})"),
        }),
        Some(Ok(ChildOutcome::Failed { error })) => Err(Error::ChildFailed { reason: error }),
    }
}
