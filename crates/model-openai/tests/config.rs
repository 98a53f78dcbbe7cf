//! Configuration: environment variables, validation, model info, and keeping the key out of
//! `Debug` output.

use std::collections::HashMap;
use std::time::Duration;

use turnkit_model::{ModelClient, ModelInfo};
use turnkit_model_openai::{
    DEFAULT_BASE_URL, Error, OpenAiClient, OpenAiConfig, WireApi, known_model_info,
};

const KEY: &str = "sk-config-test-7d1e0c9b-secret";

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn reads_every_setting_from_the_environment() {
    let config = OpenAiConfig::from_lookup(lookup(&[
        ("OPENAI_API_KEY", KEY),
        ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
        ("TURNKIT_MODEL", "qwen3:8b"),
        ("TURNKIT_WIRE_API", "chat"),
        ("OPENAI_ORGANIZATION", "org-1"),
        ("OPENAI_PROJECT", "proj-1"),
        ("TURNKIT_CONNECT_TIMEOUT_MS", "2500"),
        ("TURNKIT_IDLE_TIMEOUT_MS", "60000"),
        ("TURNKIT_MAX_RETRIES", "7"),
        ("TURNKIT_CONTEXT_WINDOW", "32768"),
    ]))
    .unwrap();
    assert_eq!(config.base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(config.model, "qwen3:8b");
    assert_eq!(config.wire_api, WireApi::ChatCompletions);
    assert_eq!(
        config.endpoint(),
        "http://127.0.0.1:11434/v1/chat/completions"
    );
    assert_eq!(
        config.extra_headers,
        vec![
            ("OpenAI-Organization".to_owned(), "org-1".to_owned()),
            ("OpenAI-Project".to_owned(), "proj-1".to_owned())
        ]
    );
    assert_eq!(config.connect_timeout, Duration::from_millis(2_500));
    assert_eq!(config.idle_timeout, Duration::from_secs(60));
    assert_eq!(config.retry.max_retries, 7);
    assert_eq!(
        config.model_info,
        Some(ModelInfo::with_context_window(32_768))
    );
    assert!(config.api_key.is_some());
}

#[test]
fn defaults_need_only_a_model() {
    let config = OpenAiConfig::from_lookup(lookup(&[
        ("OPENAI_MODEL", "gpt-4.1"),
        ("OPENAI_API_KEY", ""),
    ]))
    .unwrap();
    assert_eq!(config.base_url, DEFAULT_BASE_URL);
    assert_eq!(config.endpoint(), "https://api.openai.com/v1/responses");
    assert!(config.api_key.is_none(), "an empty key counts as none");
    assert_eq!(config.model_info, None);

    let missing = OpenAiConfig::from_lookup(lookup(&[])).unwrap_err();
    assert!(matches!(missing, Error::MissingModel));
    assert!(missing.to_string().contains("TURNKIT_MODEL"), "{missing}");
}

#[test]
fn bad_values_are_rejected_with_the_setting_named() {
    let error = OpenAiConfig::from_lookup(lookup(&[
        ("TURNKIT_MODEL", "m"),
        ("TURNKIT_IDLE_TIMEOUT_MS", "soon"),
    ]))
    .unwrap_err();
    assert!(
        error.to_string().contains("TURNKIT_IDLE_TIMEOUT_MS"),
        "{error}"
    );

    let error = OpenAiConfig::from_lookup(lookup(&[
        ("TURNKIT_MODEL", "m"),
        ("TURNKIT_WIRE_API", "grpc"),
    ]))
    .unwrap_err();
    assert!(error.to_string().contains("grpc"), "{error}");

    let error = OpenAiClient::new(OpenAiConfig::new("m").with_base_url("ftp://example.invalid"))
        .unwrap_err();
    assert!(matches!(error, Error::InvalidBaseUrl { .. }), "{error:?}");
    let error = OpenAiClient::new(OpenAiConfig::new("m").with_base_url("not a url")).unwrap_err();
    assert!(matches!(error, Error::InvalidBaseUrl { .. }), "{error:?}");
    let error = OpenAiClient::new(OpenAiConfig::new("")).unwrap_err();
    assert!(matches!(error, Error::MissingModel), "{error:?}");

    let error = OpenAiClient::new(OpenAiConfig::new("m").with_header("X-Token", "hidden\nvalue"))
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidHeader { name } if name == "X-Token"),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains("hidden"),
        "the value is not shown: {error}"
    );
}

#[test]
fn debug_output_never_shows_the_key_or_header_values() {
    let config = OpenAiConfig::new("gpt-4.1")
        .with_api_key(KEY)
        .with_header("api-key", "azure-secret-value");
    let shown = format!("{config:?} {config:#?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains("azure-secret-value"), "{shown}");
    assert!(
        shown.contains("<redacted>") && shown.contains("api-key"),
        "{shown}"
    );

    let client = OpenAiClient::new(config).unwrap();
    let shown = format!("{client:?} {client:#?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains("azure-secret-value"), "{shown}");
}

#[test]
fn model_info_comes_from_the_config_or_the_known_models() {
    assert_eq!(
        known_model_info("gpt-4.1-mini").context_window,
        Some(1_047_576)
    );
    assert_eq!(
        known_model_info("openai/gpt-4o").context_window,
        Some(128_000)
    );
    assert_eq!(
        known_model_info("GPT-5-codex").auto_compact_token_limit,
        Some(244_800)
    );
    assert_eq!(known_model_info("my-local-model"), ModelInfo::default());

    let client = OpenAiClient::new(OpenAiConfig::new("o4-mini")).unwrap();
    assert_eq!(client.info().context_window, Some(200_000));
    let configured = ModelInfo::with_context_window(8_192).with_auto_compact_token_limit(6_000);
    let client =
        OpenAiClient::new(OpenAiConfig::new("o4-mini").with_model_info(configured)).unwrap();
    assert_eq!(client.info(), configured);
}
