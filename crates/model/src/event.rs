//! What a model sends back, as a stream: [`ResponseEvent`], [`TokenUsage`] and [`ResponseStream`].

use std::pin::Pin;

use futures_core::Stream;
use serde::{Deserialize, Serialize};
use turnkit_protocol::{ResponseItem, TokenUsage};

use crate::Error;

/// The stream a [`ModelClient`](crate::ModelClient) returns for one prompt.
///
/// It yields events in order and ends after [`ResponseEvent::Completed`] or after the first
/// `Err`; nothing follows either. A stream that ends without one of them was dropped by its
/// producer, which a client never does.
pub type ResponseStream = Pin<Box<dyn Stream<Item = Result<ResponseEvent, Error>> + Send>>;

/// One event of a model's streamed response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseEvent {
    /// The server accepted the request and started a response.
    Created {
        /// The server's id of the response, when it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response_id: Option<String>,
    },
    /// A piece of the assistant's visible text.
    OutputTextDelta {
        /// The new text.
        delta: String,
    },
    /// A piece of the model's reasoning (a summary or the raw text, as the server sends it).
    ReasoningDelta {
        /// The new text.
        delta: String,
    },
    /// An output item is complete: an assistant message, a function call, or reasoning.
    OutputItemDone {
        /// The item, ready to append to history.
        item: ResponseItem,
    },
    /// The response is complete; the last event of a successful stream.
    Completed {
        /// The server's id of the response, when it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response_id: Option<String>,
        /// What the response cost, when the server said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<TokenUsage>,
        /// Why the model stopped before it was done (for example `max_output_tokens`), when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        incomplete_reason: Option<String>,
    },
    /// The request failed in a way a retry may fix, and the client is about to retry it.
    ///
    /// No output of the failed attempt was yielded (at most its `Created`), so the caller has
    /// no partial output to discard; it may show `message`, or "reconnecting 2/5" built from
    /// `attempt` and `max_attempts`.
    Retrying {
        /// The number of this retry, from 1; the first request is not counted.
        attempt: u32,
        /// How many retries the client makes at most.
        max_attempts: u32,
        /// How long the client waits before the retry, in milliseconds.
        delay_ms: u64,
        /// Why the previous attempt failed.
        message: String,
    },
}
