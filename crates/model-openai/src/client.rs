//! The HTTP client: [`OpenAiClient`] sends a prompt, retries what can be retried, and streams
//! the decoded events until completion, failure or cancellation.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio_util::sync::CancellationToken;
use turnkit_model::{ModelClient, ModelError, ModelInfo, Prompt, ResponseEvent, ResponseStream};

use crate::api_error::{
    MAX_RETRY_AFTER, classify_http_error, parse_error_body, redact, retry_after,
};
use crate::request::{chat_body, responses_body};
use crate::{ApiKey, Error, OpenAiConfig, RetryPolicy, WireApi, decode_sse, known_model_info};

/// Error bodies longer than this are cut before they are read into a message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A [`ModelClient`] for OpenAI and OpenAI-compatible servers.
///
/// Cheap to clone; clones share one connection pool. `Debug` never shows the API key.
#[derive(Clone, Debug)]
pub struct OpenAiClient {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: OpenAiConfig,
    http: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    info: ModelInfo,
}

impl OpenAiClient {
    /// A client for this configuration; checks the URL and headers, sends nothing.
    pub fn new(config: OpenAiConfig) -> Result<Self, Error> {
        if config.model.trim().is_empty() {
            return Err(Error::MissingModel);
        }
        let url = parse_endpoint(&config)?;
        let headers = request_headers(&config)?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("turnkit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::HttpClient { source })?;
        let info = config
            .model_info
            .unwrap_or_else(|| known_model_info(&config.model));
        Ok(OpenAiClient {
            shared: Arc::new(Shared {
                config,
                http,
                url,
                headers,
                info,
            }),
        })
    }

    /// A client configured from the environment (see [`OpenAiConfig::from_env`]).
    pub fn from_env() -> Result<Self, Error> {
        Self::new(OpenAiConfig::from_env()?)
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &OpenAiConfig {
        &self.shared.config
    }
}

impl ModelClient for OpenAiClient {
    fn info(&self) -> ModelInfo {
        self.shared.info
    }

    fn stream(&self, prompt: &Prompt, cancellation: CancellationToken) -> ResponseStream {
        let config = &self.shared.config;
        let body = match config.wire_api {
            WireApi::Responses => responses_body(&config.model, prompt),
            WireApi::ChatCompletions => chat_body(&config.model, prompt),
        };
        let driver = Driver {
            shared: Arc::clone(&self.shared),
            body: Bytes::from(body.to_string()),
            cancellation,
            state: State::Connect,
            retries: 0,
            output_yielded: false,
            jitter: Jitter::new(),
        };
        Box::pin(futures_util::stream::unfold(
            driver,
            |mut driver| async move {
                let item = driver.next().await?;
                Some((item, driver))
            },
        ))
    }
}

fn parse_endpoint(config: &OpenAiConfig) -> Result<reqwest::Url, Error> {
    let invalid = |reason: String| Error::InvalidBaseUrl {
        url: config.base_url.clone(),
        reason,
    };
    let url =
        reqwest::Url::parse(&config.endpoint()).map_err(|error| invalid(error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    Ok(url)
}

fn request_headers(config: &OpenAiConfig) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    if let Some(key) = &config.api_key {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                Error::InvalidHeader {
                    name: AUTHORIZATION.to_string(),
                }
            })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    for (name, value) in &config.extra_headers {
        let invalid = || Error::InvalidHeader { name: name.clone() };
        let header_name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| invalid())?;
        let mut header_value = HeaderValue::from_str(value.trim()).map_err(|_| invalid())?;
        // Extra headers often carry credentials of their own (Azure's `api-key`, gateways' tokens).
        header_value.set_sensitive(true);
        headers.insert(header_name, header_value);
    }
    Ok(headers)
}

/// Where one request's stream is.
enum State {
    /// The next step sends the request.
    Connect,
    /// Waiting this long before the next attempt.
    Backoff(Duration),
    /// Reading events of an accepted request.
    Streaming(ResponseStream),
    /// The stream has ended; dropping the previous state released the connection.
    Done,
}

struct Driver {
    shared: Arc<Shared>,
    body: Bytes,
    cancellation: CancellationToken,
    state: State,
    retries: u32,
    /// Whether a delta or an item of the current attempt reached the caller: from then on a
    /// retry would repeat output, so failures go to the caller instead.
    output_yielded: bool,
    jitter: Jitter,
}

impl Driver {
    async fn next(&mut self) -> Option<Result<ResponseEvent, ModelError>> {
        loop {
            match &mut self.state {
                State::Done => return None,
                State::Connect => {
                    let cancellation = self.cancellation.clone();
                    let outcome = tokio::select! {
                        biased;
                        () = cancellation.cancelled() => Err(ModelError::Cancelled),
                        outcome = connect(&self.shared, &self.body) => outcome,
                    };
                    match outcome {
                        Ok(events) => self.state = State::Streaming(events),
                        Err(error) => return Some(self.fail_or_retry(error)),
                    }
                }
                State::Backoff(delay) => {
                    let delay = *delay;
                    tokio::select! {
                        biased;
                        () = self.cancellation.cancelled() => {
                            return Some(self.fail_or_retry(ModelError::Cancelled));
                        }
                        () = tokio::time::sleep(delay) => self.state = State::Connect,
                    }
                }
                State::Streaming(events) => {
                    let next = tokio::select! {
                        biased;
                        () = self.cancellation.cancelled() => Some(Err(ModelError::Cancelled)),
                        next = events.next() => next,
                    };
                    match next {
                        Some(Ok(event)) => {
                            match &event {
                                ResponseEvent::Completed { .. } => self.state = State::Done,
                                ResponseEvent::OutputTextDelta { .. }
                                | ResponseEvent::ReasoningDelta { .. }
                                | ResponseEvent::OutputItemDone { .. } => {
                                    self.output_yielded = true;
                                }
                                ResponseEvent::Created { .. } | ResponseEvent::Retrying { .. } => {}
                            }
                            return Some(Ok(event));
                        }
                        Some(Err(error)) => return Some(self.fail_or_retry(error)),
                        None => return Some(self.fail_or_retry(ModelError::StreamEndedEarly)),
                    }
                }
            }
        }
    }

    /// Ends the stream with `error`, or schedules a retry and announces it.
    ///
    /// Either way the current connection is dropped here, before anything is returned.
    fn fail_or_retry(&mut self, error: ModelError) -> Result<ResponseEvent, ModelError> {
        let error = redact(
            error,
            self.shared.config.api_key.as_ref().map(ApiKey::expose),
        );
        let policy = &self.shared.config.retry;
        if !error.is_retryable() || self.output_yielded || self.retries >= policy.max_retries {
            self.state = State::Done;
            if self.retries > 0 && error.is_retryable() && !self.output_yielded {
                tracing::warn!(retries = self.retries, %error, "model request failed after its last retry");
            }
            return Err(error);
        }
        self.retries += 1;
        let delay = retry_delay(policy, self.retries, error.retry_after(), &mut self.jitter);
        tracing::debug!(retry = self.retries, delay_ms = delay.as_millis(), %error, "retrying model request");
        self.state = State::Backoff(delay);
        Ok(ResponseEvent::Retrying {
            attempt: self.retries,
            max_attempts: policy.max_retries,
            delay_ms: delay.as_millis().try_into().unwrap_or(u64::MAX),
            message: error.to_string(),
        })
    }
}

/// Sends the request and, once the server accepted it, returns its decoded events.
async fn connect(shared: &Shared, body: &Bytes) -> Result<ResponseStream, ModelError> {
    let idle = shared.config.idle_timeout;
    tracing::debug!(url = %shared.url, model = %shared.config.model, "sending model request");
    let request = shared
        .http
        .post(shared.url.clone())
        .headers(shared.headers.clone())
        .body(body.clone())
        .send();
    let response = match tokio::time::timeout(idle, request).await {
        Err(_) => return Err(ModelError::IdleTimeout { after: idle }),
        Ok(Err(error)) => return Err(transport_error(error, "the request could not be sent")),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        let wait = retry_after(response.headers());
        let body = read_error_body(response, idle).await;
        return Err(classify_http_error(
            status.as_u16(),
            wait,
            parse_error_body(&body),
        ));
    }
    Ok(decode_sse(
        shared.config.wire_api,
        idle_limited(response, idle),
    ))
}

/// The body's chunks, failing with `IdleTimeout` when the server is silent for `idle`.
fn idle_limited(
    response: reqwest::Response,
    idle: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, ModelError>> + Send + 'static {
    futures_util::stream::unfold(Some(response.bytes_stream()), move |chunks| async move {
        let mut chunks = chunks?;
        match tokio::time::timeout(idle, chunks.next()).await {
            Err(_) => Some((Err(ModelError::IdleTimeout { after: idle }), None)),
            Ok(None) => None,
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(chunks))),
            Ok(Some(Err(error))) => Some((
                Err(transport_error(error, "the response stream broke off")),
                None,
            )),
        }
    })
}

async fn read_error_body(mut response: reqwest::Response, idle: Duration) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match tokio::time::timeout(idle, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY_BYTES);
    String::from_utf8_lossy(&body).into_owned()
}

fn transport_error(error: reqwest::Error, what: &str) -> ModelError {
    let error = error.without_url();
    let detail = if error.is_connect() {
        "connection failed"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "transport error"
    };
    ModelError::Connection {
        message: format!("{what} ({detail})"),
        source: Some(Box::new(error)),
    }
}

fn retry_delay(
    policy: &RetryPolicy,
    retry: u32,
    server_asked: Option<Duration>,
    jitter: &mut Jitter,
) -> Duration {
    if let Some(wait) = server_asked.filter(|wait| *wait <= MAX_RETRY_AFTER) {
        return wait;
    }
    let doubling = 2_u32.saturating_pow(retry.saturating_sub(1));
    let base = policy
        .initial_backoff
        .saturating_mul(doubling)
        .min(policy.max_backoff);
    base.mul_f64(jitter.factor())
}

/// A small random source for backoff jitter, seeded from the standard library's per-process
/// random hash keys: jitter needs spread between clients, not cryptographic quality.
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Jitter(seed | 1)
    }

    /// A factor in [0.9, 1.1).
    fn factor(&mut self) -> f64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let unit = (self.0 >> 11) as f64 / (1_u64 << 53) as f64;
        0.9 + 0.2 * unit
    }
}
