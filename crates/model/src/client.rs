//! The interface every model implements: [`ModelClient`], and what it tells about itself, [`ModelInfo`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{Prompt, ResponseStream};

/// A language model that answers a [`Prompt`] with a stream of response events.
///
/// Implementations are shared between tasks (`Arc<dyn ModelClient>`), so the trait is object
/// safe and `Send + Sync`.
///
/// The contract every implementation keeps:
///
/// - [`stream`](ModelClient::stream) does no work before the stream is first polled, and the
///   stream owns everything it needs (it is `'static`).
/// - Input items with `!is_model_visible()` are never sent.
/// - The stream ends after `Completed` or after its first `Err`.
/// - Retries happen inside the stream only while no output of the failed attempt (a delta or
///   an item; a `Created` does not count) has been yielded; each is announced by
///   [`ResponseEvent::Retrying`](crate::ResponseEvent::Retrying), and the new attempt starts
///   with its own `Created`.
///   A failure after output was yielded is returned as an error, with
///   [`Error::is_retryable`](crate::Error::is_retryable) telling the caller whether to send
///   the request again.
/// - When `cancellation` fires, the stream releases its connection at once, yields
///   `Err(Error::Cancelled)` and ends. Dropping the stream releases it too.
pub trait ModelClient: Send + Sync {
    /// What this model can take, for context management.
    fn info(&self) -> ModelInfo;

    /// Starts a response to `prompt`, lazily: nothing is sent until the stream is polled.
    fn stream(&self, prompt: &Prompt, cancellation: CancellationToken) -> ResponseStream;

    /// Starts a response to a prompt the caller shares, under the same contract as
    /// [`stream`](ModelClient::stream).
    ///
    /// A client that keeps the prompt (a recording test double, a client that sends it later)
    /// can hold the `Arc` instead of copying the whole conversation; the default borrows it
    /// and calls `stream`, so only such clients need to override it.
    fn stream_shared(
        &self,
        prompt: Arc<Prompt>,
        cancellation: CancellationToken,
    ) -> ResponseStream {
        self.stream(&prompt, cancellation)
    }
}

/// What a session needs to know about a model to manage its context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// How many tokens the model can read and write in one response, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// The history size, in tokens, at which a session should compact, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_compact_token_limit: Option<u64>,
}

impl ModelInfo {
    /// Share of the context window a session may fill before it compacts, in percent.
    pub const DEFAULT_AUTO_COMPACT_PERCENT: u64 = 90;

    /// Info for a model with this context window, compacting at 90% of it.
    pub fn with_context_window(context_window: u64) -> Self {
        ModelInfo {
            context_window: Some(context_window),
            auto_compact_token_limit: Some(
                context_window / 100 * Self::DEFAULT_AUTO_COMPACT_PERCENT
                    + context_window % 100 * Self::DEFAULT_AUTO_COMPACT_PERCENT / 100,
            ),
        }
    }

    /// The same info with another compaction limit.
    pub fn with_auto_compact_token_limit(mut self, limit: u64) -> Self {
        self.auto_compact_token_limit = Some(limit);
        self
    }
}
