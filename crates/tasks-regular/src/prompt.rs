//! What a turn sends the model: the history made valid for a model ([`prompt_input`]), the
//! user's input as a history item ([`user_message`]), and the [`Prompt`] itself.

use std::collections::HashSet;
use std::path::Path;

use turnkit_model::Prompt;
use turnkit_protocol::{ContentItem, ItemList, ResponseItem, Role, UserInput};
use turnkit_session_core::{ToolRegistry, TurnOverrides};

use crate::RegularConfig;

/// The output given to a call the history has no output for (a turn that ended before the
/// call was answered, a crash before its output was journalled).
pub const MISSING_OUTPUT: &str =
    "aborted: this call never got an output (its turn ended before it finished)";

/// The history a model can be sent: items it must not see left out, every function call
/// given an output (one saying it was aborted when the history has none, right after the
/// call), and every output without its call left out.
///
/// ```
/// use turnkit_protocol::ResponseItem;
/// use turnkit_tasks_regular::prompt_input;
///
/// let history = vec![
///     ResponseItem::user_text("list the files"),
///     ResponseItem::FunctionCall { call_id: "a".into(), name: "shell".into(), arguments: "{}".into() },
///     ResponseItem::FunctionCallOutput { call_id: "lost".into(), output: "?".into(), success: None },
/// ];
/// let input = prompt_input(&history);
/// assert_eq!(input.len(), 3);
/// assert!(matches!(&input[2], ResponseItem::FunctionCallOutput { call_id, .. } if call_id == "a"));
/// ```
pub fn prompt_input(history: &[ResponseItem]) -> Vec<ResponseItem> {
    if is_paired(history.iter()) {
        return history
            .iter()
            .filter(|item| item.is_model_visible())
            .cloned()
            .collect();
    }
    repaired(history.iter())
}

/// More calls than this open at once sends the check to [`repaired`]: the open calls are
/// searched one by one, which must stay cheaper than hashing.
const MAX_OPEN_CALLS: usize = 64;

/// Whether every output follows its call and every call has an output, the shape a history
/// has unless a turn was cut off; then every model-visible item is sent as it is.
///
/// One pass comparing ids with the few calls still open, no hashing, so the usual request
/// pays only for one pass over it.
fn is_paired<'a>(history: impl IntoIterator<Item = &'a ResponseItem>) -> bool {
    let mut open: Vec<&str> = Vec::new();
    for item in history {
        match item {
            ResponseItem::FunctionCall { call_id, .. } => {
                if open.len() == MAX_OPEN_CALLS {
                    return false;
                }
                open.push(call_id);
            }
            ResponseItem::FunctionCallOutput { call_id, .. } => {
                match open.iter().position(|open| *open == call_id.as_str()) {
                    Some(index) => {
                        open.remove(index);
                    }
                    None => return false,
                }
            }
            _ => {}
        }
    }
    open.is_empty()
}

/// [`prompt_input`] for a history with unanswered calls or stray outputs.
fn repaired<'a, I>(history: I) -> Vec<ResponseItem>
where
    I: Iterator<Item = &'a ResponseItem> + Clone,
{
    let mut calls = HashSet::new();
    let mut answered = HashSet::new();
    for item in history.clone() {
        match item {
            ResponseItem::FunctionCall { call_id, .. } => {
                calls.insert(call_id.as_str());
            }
            ResponseItem::FunctionCallOutput { call_id, .. } => {
                answered.insert(call_id.as_str());
            }
            _ => {}
        }
    }
    let mut input = Vec::with_capacity(history.size_hint().0);
    for item in history.filter(|item| item.is_model_visible()) {
        match item {
            ResponseItem::FunctionCallOutput { call_id, .. }
                if !calls.contains(call_id.as_str()) => {}
            ResponseItem::FunctionCall { call_id, .. } if !answered.contains(call_id.as_str()) => {
                input.push(item.clone());
                input.push(ResponseItem::FunctionCallOutput {
                    call_id: call_id.clone(),
                    output: MISSING_OUTPUT.to_owned(),
                    success: Some(false),
                });
            }
            _ => input.push(item.clone()),
        }
    }
    input
}

/// The prompt of the next request: the config's instructions, the valid history, and the
/// session's tools in registry order.
///
/// A paired history (the usual case) is shared, not copied: its model-invisible items stay in
/// the input, which every model leaves out ([`Prompt::model_visible_input`]), so the request
/// costs neither a pass over the history (the list keeps track of its calls) nor a copy of it.
pub fn build_prompt(config: &RegularConfig, history: &ItemList, tools: &ToolRegistry) -> Prompt {
    let paired = history
        .calls_paired()
        .unwrap_or_else(|| is_paired(history.iter()));
    let input = if paired {
        history.clone()
    } else {
        repaired(history.iter()).into()
    };
    Prompt {
        instructions: config.get_instructions().to_owned(),
        input,
        tools: tools.specs(),
        parallel_tool_calls: config.get_parallel_tool_calls(),
        output_schema: None,
    }
}

/// `prompt` with a session's [`TurnOverrides`] applied: each field that is set replaces the
/// prompt's own (how a task that starts a sub-session, the review for one, gives the child's
/// turns its instructions and the schema of their answer).
///
/// ```
/// use turnkit_model::Prompt;
/// use turnkit_session_core::TurnOverrides;
/// use turnkit_tasks_regular::with_overrides;
///
/// let prompt = with_overrides(Prompt::new("code", vec![]), Some(TurnOverrides::new().instructions("review")));
/// assert_eq!(prompt.instructions, "review");
/// assert!(prompt.output_schema.is_none());
/// ```
pub fn with_overrides(mut prompt: Prompt, overrides: Option<TurnOverrides>) -> Prompt {
    let Some(overrides) = overrides else {
        return prompt;
    };
    if let Some(instructions) = overrides.instructions {
        prompt.instructions = instructions;
    }
    if let Some(schema) = overrides.output_schema {
        prompt.output_schema = Some(schema);
    }
    prompt
}

/// The user's input as one user message; a local image is read from disk into a `data:` URL
/// (relative paths from `cwd`), or named in text when it cannot be read.
pub fn user_message(input: &[UserInput], cwd: &Path) -> ResponseItem {
    let content = input
        .iter()
        .map(|part| match part {
            UserInput::Text { text } => ContentItem::InputText { text: text.clone() },
            UserInput::Image { image_url } => ContentItem::InputImage {
                image_url: image_url.clone(),
            },
            UserInput::LocalImage { path } => local_image(&cwd.join(path)),
        })
        .collect();
    ResponseItem::Message {
        role: Role::User,
        content,
    }
}

fn local_image(path: &Path) -> ContentItem {
    use base64::Engine as _;

    let mime = match path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => {
            return ContentItem::InputText {
                text: format!(
                    "[the image {} was not attached: only png, jpeg, gif and webp files can be]",
                    path.display()
                ),
            };
        }
    };
    match std::fs::read(path) {
        Ok(bytes) => ContentItem::InputImage {
            image_url: format!(
                "data:{mime};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
        },
        Err(error) => ContentItem::InputText {
            text: format!("[the image {} could not be read: {error}]", path.display()),
        },
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A call, an output or a message, over a few call ids so that ids repeat, outputs come
    /// before their calls, and calls go unanswered.
    fn item() -> impl Strategy<Value = ResponseItem> {
        prop_oneof![
            (0..6_u8).prop_map(|id| ResponseItem::FunctionCall {
                call_id: format!("c{id}"),
                name: "shell".into(),
                arguments: "{}".into(),
            }),
            (0..6_u8).prop_map(|id| ResponseItem::FunctionCallOutput {
                call_id: format!("c{id}"),
                output: "ok".into(),
                success: Some(true),
            }),
            Just(ResponseItem::user_text("go on")),
            Just(ResponseItem::Unknown),
        ]
    }

    /// A history whose calls are each answered later, several open at once.
    fn paired(calls: usize, open_at_once: usize) -> Vec<ResponseItem> {
        let mut history = Vec::new();
        for start in (0..calls).step_by(open_at_once) {
            let ids: Vec<String> = (start..(start + open_at_once).min(calls))
                .map(|n| format!("c{n}"))
                .collect();
            for id in &ids {
                history.push(ResponseItem::FunctionCall {
                    call_id: id.clone(),
                    name: "shell".into(),
                    arguments: "{}".into(),
                });
            }
            for id in ids.iter().rev() {
                history.push(ResponseItem::FunctionCallOutput {
                    call_id: id.clone(),
                    output: "ok".into(),
                    success: None,
                });
            }
        }
        history
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The paired shortcut sends exactly what the full repair would.
        #[test]
        fn the_shortcut_agrees_with_the_repair(history in proptest::collection::vec(item(), 0..24)) {
            prop_assert_eq!(prompt_input(&history), repaired(history.iter()));
        }

        /// The list's own tracking agrees with the check, and the prompt built from it sends
        /// what `prompt_input` gives.
        #[test]
        fn the_tracked_pairing_agrees_with_the_check(history in proptest::collection::vec(item(), 0..24)) {
            let list = ItemList::from(history.clone());
            prop_assert_eq!(list.calls_paired(), Some(is_paired(history.iter())));
            let prompt = build_prompt(&RegularConfig::default(), &list, &ToolRegistry::new());
            let sent: Vec<ResponseItem> = prompt.model_visible_input().cloned().collect();
            prop_assert_eq!(sent, prompt_input(&history));
        }
    }

    #[test]
    fn a_paired_history_takes_the_shortcut_and_too_many_open_calls_do_not() {
        let history = paired(200, MAX_OPEN_CALLS);
        assert!(is_paired(history.iter()));
        assert_eq!(prompt_input(&history), repaired(history.iter()));
        let wide = paired(200, MAX_OPEN_CALLS + 1);
        assert!(!is_paired(wide.iter()));
        assert_eq!(prompt_input(&wide), repaired(wide.iter()));
    }
}
