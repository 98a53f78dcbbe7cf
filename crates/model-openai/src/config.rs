//! How to reach a server: [`OpenAiConfig`], [`WireApi`], [`ApiKey`] and [`RetryPolicy`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use turnkit_model::ModelInfo;

use crate::Error;

/// The base URL used when none is configured.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// Which of the two OpenAI HTTP APIs to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WireApi {
    /// `POST {base}/responses`: OpenAI's current API, also served by vLLM, Ollama and OpenRouter.
    #[default]
    Responses,
    /// `POST {base}/chat/completions`: the API nearly every OpenAI-compatible server speaks.
    ChatCompletions,
}

impl WireApi {
    /// The path appended to the base URL.
    pub fn path(self) -> &'static str {
        match self {
            WireApi::Responses => "responses",
            WireApi::ChatCompletions => "chat/completions",
        }
    }
}

impl FromStr for WireApi {
    type Err = Error;

    /// Reads `responses`, or `chat` (also `chat_completions`, `chat-completions`).
    fn from_str(text: &str) -> Result<Self, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "responses" => Ok(WireApi::Responses),
            "chat" | "chat_completions" | "chat-completions" | "chat/completions" => {
                Ok(WireApi::ChatCompletions)
            }
            _ => Err(Error::InvalidSetting {
                name: "wire API",
                reason: format!("`{text}` is neither `responses` nor `chat`"),
            }),
        }
    }
}

/// A secret API key: shown as `<redacted>` in `Debug` and never put in an error or event.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ApiKey(<redacted>)")
    }
}

/// How failed requests are retried: bounded attempts, exponential backoff with jitter.
///
/// Retry `n` (from 1) waits `initial_backoff * 2^(n-1)`, capped at `max_backoff`, scaled by a
/// random factor between 0.9 and 1.1. A server's `Retry-After` (or `retry-after-ms`) of at
/// most a minute replaces that delay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 turns retrying off.
    pub max_retries: u32,
    /// The delay before the first retry.
    pub initial_backoff: Duration,
    /// The longest computed delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Everything an [`OpenAiClient`](crate::OpenAiClient) needs to reach a server.
///
/// Build one in code with [`OpenAiConfig::new`] and the `with_*` methods, or from the
/// environment with [`OpenAiConfig::from_env`]:
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `OPENAI_API_KEY` | bearer token; not needed by a local server | none |
/// | `OPENAI_BASE_URL` | the API root, for example `http://127.0.0.1:11434/v1` | `https://api.openai.com/v1` |
/// | `TURNKIT_MODEL` (or `OPENAI_MODEL`) | the model name | required |
/// | `TURNKIT_WIRE_API` | `responses` or `chat` | `responses` |
/// | `OPENAI_ORGANIZATION`, `OPENAI_PROJECT` | sent as `OpenAI-Organization`, `OpenAI-Project` | none |
/// | `TURNKIT_CONNECT_TIMEOUT_MS` | TCP and TLS connect timeout | 10000 |
/// | `TURNKIT_IDLE_TIMEOUT_MS` | longest silence from the server, headers or stream | 300000 |
/// | `TURNKIT_MAX_RETRIES` | retries after the first attempt | 4 |
/// | `TURNKIT_CONTEXT_WINDOW` | the model's context window, in tokens | known models only |
/// | `TURNKIT_AUTO_COMPACT_TOKEN_LIMIT` | history size at which to compact | 90% of the window |
///
/// `Debug` shows neither the API key nor the values of extra headers.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The API root; request paths are appended to it.
    pub base_url: String,
    /// The bearer token, when the server needs one.
    pub api_key: Option<ApiKey>,
    /// The model name sent with every request.
    pub model: String,
    /// Which API to speak.
    pub wire_api: WireApi,
    /// Headers sent with every request, after the standard ones.
    pub extra_headers: Vec<(String, String)>,
    /// How long connecting (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long the server may stay silent, waiting for headers or between stream chunks.
    pub idle_timeout: Duration,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// What the model can take; `None` uses the built-in table of known models.
    pub model_info: Option<ModelInfo>,
}

impl OpenAiConfig {
    /// A configuration for this model on OpenAI's API, with default timeouts and retries.
    pub fn new(model: impl Into<String>) -> Self {
        OpenAiConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            model: model.into(),
            wire_api: WireApi::default(),
            extra_headers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            model_info: None,
        }
    }

    /// A configuration read from the process environment (the variables are in the type's docs).
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// A configuration read through `lookup`, which maps a variable name to its value.
    ///
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let model = get("TURNKIT_MODEL")
            .or_else(|| get("OPENAI_MODEL"))
            .ok_or(Error::MissingModel)?;
        let mut config = OpenAiConfig::new(model.trim());
        if let Some(base_url) = get("OPENAI_BASE_URL") {
            base_url.trim().clone_into(&mut config.base_url);
        }
        config.api_key = get("OPENAI_API_KEY").map(|key| ApiKey::new(key.trim()));
        if let Some(wire_api) = get("TURNKIT_WIRE_API") {
            config.wire_api = wire_api.parse()?;
        }
        if let Some(organization) = get("OPENAI_ORGANIZATION") {
            config
                .extra_headers
                .push(("OpenAI-Organization".to_owned(), organization));
        }
        if let Some(project) = get("OPENAI_PROJECT") {
            config
                .extra_headers
                .push(("OpenAI-Project".to_owned(), project));
        }
        if let Some(millis) = parse_number(&get, "TURNKIT_CONNECT_TIMEOUT_MS")? {
            config.connect_timeout = Duration::from_millis(millis);
        }
        if let Some(millis) = parse_number(&get, "TURNKIT_IDLE_TIMEOUT_MS")? {
            config.idle_timeout = Duration::from_millis(millis);
        }
        if let Some(retries) = parse_number(&get, "TURNKIT_MAX_RETRIES")? {
            config.retry.max_retries = u32::try_from(retries).unwrap_or(u32::MAX);
        }
        let window = parse_number(&get, "TURNKIT_CONTEXT_WINDOW")?;
        let limit = parse_number(&get, "TURNKIT_AUTO_COMPACT_TOKEN_LIMIT")?;
        if window.is_some() || limit.is_some() {
            let mut info = match window {
                Some(window) => ModelInfo::with_context_window(window),
                None => crate::known_model_info(&config.model),
            };
            if let Some(limit) = limit {
                info.auto_compact_token_limit = Some(limit);
            }
            config.model_info = Some(info);
        }
        Ok(config)
    }

    /// The same configuration with another base URL.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The same configuration with an API key.
    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(api_key));
        self
    }

    /// The same configuration speaking another API.
    pub fn with_wire_api(mut self, wire_api: WireApi) -> Self {
        self.wire_api = wire_api;
        self
    }

    /// The same configuration with one more header on every request.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// The same configuration with another connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The same configuration with another idle timeout.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The same configuration with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The same configuration reporting this model info.
    pub fn with_model_info(mut self, model_info: ModelInfo) -> Self {
        self.model_info = Some(model_info);
        self
    }

    /// The full URL requests go to.
    pub fn endpoint(&self) -> String {
        format!(
            "{}/{}",
            self.base_url.trim_end_matches('/'),
            self.wire_api.path()
        )
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self
            .extra_headers
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        formatter
            .debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("model", &self.model)
            .field("wire_api", &self.wire_api)
            .field("extra_headers", &header_names)
            .field("connect_timeout", &self.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("retry", &self.retry)
            .field("model_info", &self.model_info)
            .finish()
    }
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<u64>, Error> {
    get(name)
        .map(|value| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| Error::InvalidSetting {
                    name,
                    reason: "expected a whole number".to_owned(),
                })
        })
        .transpose()
}
