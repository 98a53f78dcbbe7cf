//! The work of a compaction outside the model: budgets, chunks, the summary check and the new
//! history. Pure functions, so a downstream [`Compactor`](turnkit_session_core::Compactor)
//! can reuse them with a summary written some other way.

use turnkit_model::{BYTES_PER_TOKEN, estimate_item_tokens, estimate_text_tokens};
use turnkit_protocol::{ContentItem, ResponseItem, Role};

use crate::CompactConfig;
use crate::prompt::{HANDOFF_INSTRUCTIONS, summary_count, summary_message_text};

/// How a compaction divides one model's context window, in tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    /// The most history one summarising request carries.
    pub chunk: u64,
    /// The largest summary accepted (also the room left for the answer).
    pub summary: u64,
    /// The newest user messages kept verbatim.
    pub user_messages: u64,
}

impl Budgets {
    /// The budgets for a window of `context_window` tokens: each request reserves room for the
    /// turn's instructions, the hand-off instructions and the answer, and carries the rest.
    ///
    /// ```
    /// use turnkit_tasks_compact::{Budgets, CompactConfig};
    ///
    /// let budgets = Budgets::for_window(&CompactConfig::default(), 128_000);
    /// assert!(budgets.chunk + budgets.summary < 128_000);
    /// ```
    pub fn for_window(config: &CompactConfig, context_window: u64) -> Self {
        let eighth = (context_window / 8).max(1);
        let summary = config.get_summary_tokens().min(eighth);
        let headroom = summary
            + config.get_instructions_reserve().min(eighth)
            + estimate_text_tokens(HANDOFF_INSTRUCTIONS)
            + ITEM_MARGIN;
        Self {
            // A window too small for the headroom still gets chunks of a quarter of it, so
            // compaction makes progress instead of refusing.
            chunk: context_window
                .saturating_sub(headroom)
                .max(context_window / 4)
                .max(1),
            summary,
            user_messages: config.get_user_message_tokens().min(context_window / 4),
        }
    }
}

/// Tokens kept free in every request for the message wrappers our estimate does not see.
const ITEM_MARGIN: u64 = 16;

/// The history items a summary must cover, in chunks of at most `budget` tokens each.
///
/// Only items a model sees are kept (ghost snapshots stay in the history untouched). A
/// function call and the outputs right after it stay in one chunk when they fit together;
/// an item larger than `budget` on its own is cut in the middle of its text to fit.
pub fn chunk_history(history: &[ResponseItem], budget: u64) -> Vec<Vec<ResponseItem>> {
    let mut chunks = Vec::new();
    let mut chunk: Vec<ResponseItem> = Vec::new();
    let mut used = 0;
    let mut index = 0;
    let visible: Vec<&ResponseItem> = history
        .iter()
        .filter(|item| item.is_model_visible())
        .collect();
    while index < visible.len() {
        // A call and its outputs form one group, so no chunk ends between them when avoidable.
        let mut end = index + 1;
        if matches!(visible[index], ResponseItem::FunctionCall { .. }) {
            while end < visible.len()
                && matches!(
                    visible[end],
                    ResponseItem::FunctionCall { .. } | ResponseItem::FunctionCallOutput { .. }
                )
            {
                end += 1;
            }
        }
        let group: u64 = visible[index..end]
            .iter()
            .map(|item| estimate_item_tokens(item))
            .sum();
        if group <= budget {
            if used + group > budget && !chunk.is_empty() {
                chunks.push(std::mem::take(&mut chunk));
                used = 0;
            }
            chunk.extend(visible[index..end].iter().map(|item| (*item).clone()));
            used += group;
        } else {
            for item in &visible[index..end] {
                let item = fit_item(item, budget);
                let tokens = estimate_item_tokens(&item);
                if used + tokens > budget && !chunk.is_empty() {
                    chunks.push(std::mem::take(&mut chunk));
                    used = 0;
                }
                chunk.push(item);
                used += tokens;
            }
        }
        index = end;
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

/// `item`, its text cut in the middle so its estimate stays within `budget` tokens.
fn fit_item(item: &ResponseItem, budget: u64) -> ResponseItem {
    let tokens = estimate_item_tokens(item);
    if tokens <= budget {
        return item.clone();
    }
    // What the item's texts may keep in all, with room for the cut notes.
    let keep_bytes = usize::try_from(budget.saturating_sub(32) * BYTES_PER_TOKEN).unwrap_or(0);
    match item {
        ResponseItem::Message { role, content } => {
            let parts = content.len().max(1);
            let content = content
                .iter()
                .map(|part| match part {
                    ContentItem::InputText { text } => ContentItem::InputText {
                        text: cut_middle(text, keep_bytes / parts),
                    },
                    ContentItem::OutputText { text } => ContentItem::OutputText {
                        text: cut_middle(text, keep_bytes / parts),
                    },
                    ContentItem::InputImage { .. } => ContentItem::InputText {
                        text: "[an image was left out to fit the summary request]".to_owned(),
                    },
                })
                .collect();
            ResponseItem::Message {
                role: *role,
                content,
            }
        }
        ResponseItem::FunctionCall {
            call_id,
            name,
            arguments,
        } => ResponseItem::FunctionCall {
            call_id: call_id.clone(),
            name: name.clone(),
            arguments: cut_middle(arguments, keep_bytes),
        },
        ResponseItem::FunctionCallOutput {
            call_id,
            output,
            success,
        } => ResponseItem::FunctionCallOutput {
            call_id: call_id.clone(),
            output: cut_middle(output, keep_bytes),
            success: *success,
        },
        ResponseItem::Reasoning { summary, .. } => ResponseItem::Reasoning {
            summary: vec![cut_middle(&summary.join("\n"), keep_bytes)],
            content: None,
        },
        other => other.clone(),
    }
}

/// `text` with its middle replaced by a note when it is longer than `keep` bytes; head and
/// tail are cut at character boundaries.
pub(crate) fn cut_middle(text: &str, keep: usize) -> String {
    if text.len() <= keep {
        return text.to_owned();
    }
    let mut head = keep / 2;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - (keep - head);
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[... {} bytes cut to fit the summary request ...]\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

/// How a refusal or an error text opens, lowercased, with typographic apostrophes made plain.
const REFUSALS: &[&str] = &[
    "i'm sorry",
    "i am sorry",
    "sorry,",
    "i can't",
    "i cannot",
    "i can not",
    "i'm unable",
    "i am unable",
    "i won't",
    "as an ai",
    "error:",
    "error -",
    "an error occurred",
    "internal server error",
];

/// Checks a summary before it replaces anything: not empty, within `budget` tokens, and not a
/// refusal or an error text. Returns the trimmed summary, or why it was rejected.
///
/// ```
/// use turnkit_tasks_compact::check_summary;
///
/// assert!(check_summary("Goal: fix the parser.", 100).is_ok());
/// assert!(check_summary("  ", 100).is_err());
/// assert!(check_summary("I'm sorry, but I can't help with that.", 100).is_err());
/// ```
pub fn check_summary(summary: &str, budget: u64) -> Result<String, String> {
    let summary = summary.trim();
    if summary.is_empty() {
        return Err("it is empty".to_owned());
    }
    let tokens = estimate_text_tokens(summary);
    if tokens > budget {
        return Err(format!(
            "it is {tokens} tokens long, over its budget of {budget}"
        ));
    }
    let opening: String = summary
        .chars()
        .take(80)
        .collect::<String>()
        .to_lowercase()
        .replace('\u{2019}', "'");
    if let Some(refusal) = REFUSALS.iter().find(|start| opening.starts_with(**start)) {
        return Err(format!(
            "it reads as a refusal or an error (it starts with {refusal:?})"
        ));
    }
    Ok(summary.to_owned())
}

/// How many times the history has been compacted before, read from its summary messages.
pub fn previous_compactions(history: &[ResponseItem]) -> u32 {
    history
        .iter()
        .filter_map(user_text)
        .filter_map(|text| summary_count(&text))
        .max()
        .unwrap_or(0)
}

/// The history that replaces `history`: its leading instructions (system and developer
/// messages before anything else the model sees), every ghost snapshot in order, the newest
/// user messages within `user_budget` tokens (verbatim, oldest first; earlier summaries are
/// not user messages), and `summary` as a user message numbered `count`.
pub fn compacted_history(
    history: &[ResponseItem],
    summary: &str,
    count: u32,
    user_budget: u64,
) -> Vec<ResponseItem> {
    let mut new_history: Vec<ResponseItem> = history
        .iter()
        .filter(|item| item.is_model_visible())
        .take_while(|item| {
            matches!(
                item,
                ResponseItem::Message {
                    role: Role::System | Role::Developer,
                    ..
                }
            )
        })
        .cloned()
        .collect();
    new_history.extend(
        history
            .iter()
            .filter(|item| matches!(item, ResponseItem::GhostSnapshot { .. }))
            .cloned(),
    );
    let mut kept = Vec::new();
    let mut used = 0;
    for item in history.iter().rev() {
        let Some(text) = user_text(item) else {
            continue;
        };
        if summary_count(&text).is_some() {
            continue;
        }
        let tokens = estimate_item_tokens(item);
        if used + tokens > user_budget {
            break;
        }
        used += tokens;
        kept.push(item.clone());
    }
    new_history.extend(kept.into_iter().rev());
    new_history.push(ResponseItem::user_text(summary_message_text(
        summary, count,
    )));
    new_history
}

/// The text of a user message, when `item` is one.
fn user_text(item: &ResponseItem) -> Option<String> {
    let ResponseItem::Message {
        role: Role::User,
        content,
    } = item
    else {
        return None;
    };
    Some(
        content
            .iter()
            .filter_map(|part| match part {
                ContentItem::InputText { text } | ContentItem::OutputText { text } => {
                    Some(text.as_str())
                }
                ContentItem::InputImage { .. } => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_middle_keeps_head_and_tail_on_char_boundaries() {
        let text = "ééééééééééxyz";
        let cut = cut_middle(text, 9);
        assert!(cut.starts_with("éé"));
        assert!(cut.ends_with("xyz"));
    }

    #[test]
    fn an_oversized_item_is_cut_to_fit_its_chunk() {
        let history = vec![ResponseItem::user_text("x".repeat(40_000))];
        let chunks = chunk_history(&history, 1_000);
        assert_eq!(chunks.len(), 1);
        assert!(estimate_item_tokens(&chunks[0][0]) <= 1_000);
    }
}
