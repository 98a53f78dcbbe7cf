//! A cheap token estimate for history items, used when a server reports no usage.
//!
//! Four bytes of UTF-8 to a token is the usual rule of thumb for English text and code with
//! byte-pair tokenisers; it errs high for plain ASCII prose and low for dense symbols, which
//! is good enough to decide when to compact.

use turnkit_protocol::{ContentItem, ResponseItem};

/// Bytes of text counted as one token.
pub const BYTES_PER_TOKEN: u64 = 4;

/// Tokens charged for one image, whatever its size: a data URL's length says nothing useful.
pub const IMAGE_TOKENS: u64 = 765;

/// Tokens charged for every item on top of its text: role markers and separators.
pub const ITEM_OVERHEAD_TOKENS: u64 = 4;

/// A rough token count of a text: its UTF-8 length divided by four, rounded up.
pub fn estimate_text_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(BYTES_PER_TOKEN)
}

/// A rough token count of one history item; items a model never sees cost nothing.
pub fn estimate_item_tokens(item: &ResponseItem) -> u64 {
    let body = match item {
        ResponseItem::Message { content, .. } => content
            .iter()
            .map(|part| match part {
                ContentItem::InputText { text } | ContentItem::OutputText { text } => {
                    estimate_text_tokens(text)
                }
                ContentItem::InputImage { .. } => IMAGE_TOKENS,
            })
            .sum(),
        ResponseItem::Reasoning { summary, content } => {
            summary
                .iter()
                .map(|text| estimate_text_tokens(text))
                .sum::<u64>()
                + content.as_deref().map_or(0, estimate_text_tokens)
        }
        ResponseItem::FunctionCall {
            call_id,
            name,
            arguments,
        } => {
            estimate_text_tokens(call_id)
                + estimate_text_tokens(name)
                + estimate_text_tokens(arguments)
        }
        ResponseItem::FunctionCallOutput {
            call_id, output, ..
        } => estimate_text_tokens(call_id) + estimate_text_tokens(output),
        ResponseItem::GhostSnapshot { .. } | ResponseItem::Unknown => return 0,
    };
    body + ITEM_OVERHEAD_TOKENS
}

/// A rough token count of a history: the sum over its items.
pub fn estimate_tokens<'a>(items: impl IntoIterator<Item = &'a ResponseItem>) -> u64 {
    items.into_iter().map(estimate_item_tokens).sum()
}
