//! Context windows of well-known models, for when the configuration gives none.

use turnkit_model::ModelInfo;

/// Model-name prefixes and their context windows in tokens, most specific first.
///
/// For models whose output shares the window (the GPT-5 family), the number is what the
/// input may fill, so compaction leaves room to answer.
const KNOWN_CONTEXT_WINDOWS: &[(&str, u64)] = &[
    ("gpt-5", 272_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-oss", 131_072),
    ("o4-mini", 200_000),
    ("o3", 200_000),
    ("o1", 200_000),
];

/// What is known of a model by its name: its context window and a compaction limit at 90% of
/// it, or nothing for a model not in the table (set [`OpenAiConfig::model_info`](crate::OpenAiConfig::model_info) then).
pub fn known_model_info(model: &str) -> ModelInfo {
    // Gateways such as OpenRouter prefix the provider: `openai/gpt-4o`.
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    KNOWN_CONTEXT_WINDOWS
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map_or_else(ModelInfo::default, |(_, window)| {
            ModelInfo::with_context_window(*window)
        })
}
