//! What the model reads of an MCP tool's answer: its content as text, capped.

use std::fmt::Write as _;

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

/// The most of one answer the model reads; the rest is cut with a note.
const MAX_OUTPUT_BYTES: usize = 32 * 1024;

/// The text of an answer: text blocks as they are, other blocks described in a line, and the
/// structured content as JSON when there is no block at all.
pub(crate) fn model_text(result: &CallToolResult) -> String {
    let mut parts = Vec::new();
    for block in &result.content {
        parts.push(match block {
            ContentBlock::Text(text) => text.text.clone(),
            ContentBlock::Image(image) => format!("[image: {}]", image.mime_type),
            ContentBlock::Audio(audio) => format!("[audio: {}]", audio.mime_type),
            ContentBlock::Resource(embedded) => match &embedded.resource {
                ResourceContents::TextResourceContents { uri, text, .. } => {
                    format!("[resource {uri}]\n{text}")
                }
                ResourceContents::BlobResourceContents { uri, .. } => {
                    format!("[resource {uri}: binary]")
                }
                other => serde_json::to_string(other).unwrap_or_default(),
            },
            ContentBlock::ResourceLink(resource) => format!("[resource link: {}]", resource.uri),
            other => serde_json::to_string(other).unwrap_or_default(),
        });
    }
    if parts.is_empty()
        && let Some(structured) = &result.structured_content
    {
        parts.push(structured.to_string());
    }
    cap(parts.join("\n"))
}

fn cap(mut text: String) -> String {
    if text.len() <= MAX_OUTPUT_BYTES {
        return text;
    }
    let total = text.len();
    let mut end = MAX_OUTPUT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    let _ = write!(
        text,
        "\n[… {} more bytes of the tool's answer were cut]",
        total - end
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_answer_is_cut_with_a_note() {
        let result =
            CallToolResult::success(vec![ContentBlock::text("é".repeat(MAX_OUTPUT_BYTES))]);
        let text = model_text(&result);
        assert!(text.len() < MAX_OUTPUT_BYTES + 100);
        assert!(
            text.ends_with("more bytes of the tool's answer were cut]"),
            "{text}"
        );
    }

    #[test]
    fn structured_content_is_read_when_there_is_no_block() {
        let mut result = CallToolResult::success(Vec::new());
        result.structured_content = Some(serde_json::json!({ "answer": 42 }));
        assert_eq!(model_text(&result), r#"{"answer":42}"#);
    }
}
