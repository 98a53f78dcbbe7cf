//! The token estimate used when a server reports no usage.

use serde_json::json;
use turnkit_model::{
    IMAGE_TOKENS, ITEM_OVERHEAD_TOKENS, Prompt, ToolSpec, estimate_item_tokens,
    estimate_text_tokens, estimate_tokens,
};
use turnkit_protocol::{ContentItem, ResponseItem, Role};

#[test]
fn text_costs_a_token_per_four_bytes_rounded_up() {
    assert_eq!(estimate_text_tokens(""), 0);
    assert_eq!(estimate_text_tokens("abc"), 1);
    assert_eq!(estimate_text_tokens("abcd"), 1);
    assert_eq!(estimate_text_tokens("abcde"), 2);
    assert_eq!(estimate_text_tokens(&"x".repeat(4_000)), 1_000);
    // Counted in UTF-8 bytes, not characters.
    assert_eq!(estimate_text_tokens("éé"), 1);
}

#[test]
fn items_cost_their_text_plus_overhead_and_invisible_items_cost_nothing() {
    let message = ResponseItem::user_text("x".repeat(40));
    assert_eq!(estimate_item_tokens(&message), 10 + ITEM_OVERHEAD_TOKENS);

    let image = ResponseItem::Message {
        role: Role::User,
        content: vec![ContentItem::InputImage {
            image_url: format!("data:{}", "A".repeat(100_000)),
        }],
    };
    assert_eq!(
        estimate_item_tokens(&image),
        IMAGE_TOKENS + ITEM_OVERHEAD_TOKENS
    );

    let call = ResponseItem::FunctionCall {
        call_id: "call".into(),
        name: "shell".into(),
        arguments: "{\"a\":1}".into(),
    };
    assert_eq!(
        estimate_item_tokens(&call),
        1 + 2 + 2 + ITEM_OVERHEAD_TOKENS
    );

    let snapshot = ResponseItem::GhostSnapshot {
        commit: "x".repeat(400),
        phase: "before".into(),
        turn_id: "t".into(),
        snapshot: serde_json::Value::Null,
    };
    assert_eq!(estimate_item_tokens(&snapshot), 0);
    assert_eq!(
        estimate_tokens([&message, &snapshot, &call]),
        estimate_item_tokens(&message) + estimate_item_tokens(&call)
    );
}

#[test]
fn a_prompt_counts_instructions_tools_and_visible_input() {
    let mut prompt = Prompt::new("x".repeat(8), vec![ResponseItem::user_text("y".repeat(8))]);
    assert_eq!(prompt.estimated_tokens(), 2 + 2 + ITEM_OVERHEAD_TOKENS);
    prompt.tools = vec![ToolSpec::function("abcd", "abcd", json!({}))].into();
    assert_eq!(
        prompt.estimated_tokens(),
        2 + 2 + ITEM_OVERHEAD_TOKENS + 1 + 1 + 1
    );
}
