//! A turnkit [`ModelClient`] for OpenAI and the many servers that
//! speak its API: Ollama, vLLM, llama.cpp's server, LM Studio, OpenRouter.
//!
//! [`OpenAiClient`] sends a [`Prompt`] to the Responses API
//! (`POST {base}/responses`) or to Chat Completions (`POST {base}/chat/completions`), as
//! [`WireApi`] selects, always streaming, and maps both to the same
//! [`ResponseEvent`]s. It is configured by an [`OpenAiConfig`]
//! built in code or read from the environment; the [`ApiKey`] never appears in logs, errors,
//! events or `Debug` output.
//!
//! Rate limits (429) and server errors (5xx), connection failures, idle streams and streams cut
//! before their final event are retried with exponential backoff and jitter, honouring
//! `Retry-After`, as long as no output of the failed attempt (a delta or an item) reached the caller; each retry is
//! announced as `ResponseEvent::Retrying` ([`RetryPolicy`] bounds them). 400, 401, 403 and 404
//! come back at once with the server's message; a full context window is its own error kind.
//! Cancelling the request's token drops the HTTP connection at once.
//!
//! [`decode_sse`] is the body decoder on its own, over any stream of bytes.
//!
//! This crate is the only dependency a client needs (besides a tokio runtime): the model
//! interface it implements ([`ModelClient`], [`Prompt`], [`ResponseEvent`], [`ModelError`], …),
//! the history types a prompt holds, [`CancellationToken`] and [`StreamExt`] are re-exported.
//!
//! ```no_run
//! use turnkit_model_openai::{
//!     CancellationToken, ModelClient, OpenAiClient, OpenAiConfig, Prompt, ResponseEvent,
//!     ResponseItem, StreamExt, WireApi,
//! };
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // A local Ollama server; no key needed.
//! let config = OpenAiConfig::new("qwen3:8b")
//!     .with_base_url("http://127.0.0.1:11434/v1")
//!     .with_wire_api(WireApi::ChatCompletions);
//! let client = OpenAiClient::new(config)?;
//! let prompt = Prompt::new("be brief", vec![ResponseItem::user_text("hello")]);
//! let mut events = client.stream(&prompt, CancellationToken::new());
//! while let Some(event) = events.next().await {
//!     if let ResponseEvent::OutputTextDelta { delta } = event? {
//!         print!("{delta}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod api_error;
mod client;
mod config;
mod decode;
mod error;
mod known_models;
mod request;

pub use client::OpenAiClient;
pub use config::{ApiKey, DEFAULT_BASE_URL, OpenAiConfig, RetryPolicy, WireApi};
pub use decode::decode_sse;
pub use error::Error;
pub use known_models::known_model_info;

pub use turnkit_model::{
    CancellationToken, ContentItem, ErrorKind, ModelClient, ModelError, ModelInfo, Prompt,
    ResponseEvent, ResponseItem, ResponseStream, Role, StreamExt, TokenUsage, ToolSpec,
};
