//! What can go wrong while talking to a model: [`Error`] and its coarse [`ErrorKind`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A boxed error from a transport or another layer below the model client.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failed model request or response stream.
///
/// Each variant says what happened; [`Error::kind`] groups them by what the caller can do
/// about it, and [`Error::is_retryable`] says whether sending the same request again can help.
/// Server messages carried here never contain the API key.
///
/// The same condition is the same variant whichever way the server reports it: a rate limit
/// is [`Error::RateLimited`] both as HTTP 429 and as an error event inside the stream, with the
/// delay taken from a `Retry-After` header or from the message ("try again in 3.004s").
///
/// | variant | [`ErrorKind`] |
/// |---|---|
/// | `ContextWindowExceeded` | `ContextWindowExceeded` |
/// | `Unauthorized` | `Unauthorized` |
/// | `BadRequest` | `BadRequest` |
/// | `QuotaExceeded` | `Fatal` |
/// | `RateLimited` | `Retryable` |
/// | `Server` | `Retryable` |
/// | `Connection` | `Retryable` |
/// | `StreamEndedEarly` | `Retryable` |
/// | `IdleTimeout` | `Retryable` |
/// | `InvalidResponse` | `Retryable` |
/// | `Api` | `Retryable` when its `retryable` is true, else `Fatal` |
/// | `Cancelled` | `Cancelled` |
/// | `LoadScript` | `Fatal` |
/// | `Script` | `Fatal` |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The conversation no longer fits in the model's context window.
    ///
    /// Kind: [`ErrorKind::ContextWindowExceeded`].
    #[error(
        "the conversation is too long for the model's context window: {message}; compact the history or start a new session"
    )]
    ContextWindowExceeded {
        /// The server's own words.
        message: String,
    },
    /// The server refused the credentials (HTTP 401 or 403).
    ///
    /// Kind: [`ErrorKind::Unauthorized`].
    #[error("the model server refused the request (http {status}): {message}; check the API key")]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The server's own words.
        message: String,
    },
    /// The server rejected the request itself (HTTP 400, 404, 422, …); sending it again will fail the same way.
    ///
    /// Kind: [`ErrorKind::BadRequest`].
    #[error(
        "the model server rejected the request (http {status}): {message}; check the base URL, model name and request options"
    )]
    BadRequest {
        /// The HTTP status.
        status: u16,
        /// The server's own words.
        message: String,
    },
    /// The account has no quota left; waiting will not help until it is topped up.
    ///
    /// Kind: [`ErrorKind::Fatal`].
    #[error(
        "the model provider reports no quota left: {message}; check the account's plan and billing"
    )]
    QuotaExceeded {
        /// The server's own words.
        message: String,
    },
    /// The server is rate limiting (HTTP 429, or a rate-limit error inside the stream).
    ///
    /// Kind: [`ErrorKind::Retryable`].
    #[error("the model server is rate limiting requests: {message}")]
    RateLimited {
        /// The server's own words.
        message: String,
        /// How long the server asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The server failed (HTTP 5xx or an overload status).
    ///
    /// Kind: [`ErrorKind::Retryable`].
    #[error("the model server failed (http {status}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's own words.
        message: String,
        /// How long the server asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The server could not be reached, or the connection broke.
    ///
    /// Kind: [`ErrorKind::Retryable`].
    #[error("could not talk to the model server: {message}")]
    Connection {
        /// What failed, without secrets.
        message: String,
        /// The transport's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The response stream ended before its final event.
    ///
    /// Kind: [`ErrorKind::Retryable`].
    #[error("the model's response stream ended before it was complete")]
    StreamEndedEarly,
    /// The response stream sent nothing for too long.
    ///
    /// Kind: [`ErrorKind::Retryable`].
    #[error("the model's response stream sent nothing for {}s", .after.as_secs_f64())]
    IdleTimeout {
        /// How long it was silent.
        after: Duration,
    },
    /// The server sent a stream this client cannot read.
    ///
    /// Kind: [`ErrorKind::Retryable`] (a garbled stream is usually a transient fault).
    #[error("the model server sent a response turnkit cannot read: {message}")]
    InvalidResponse {
        /// What was wrong with it.
        message: String,
    },
    /// The server reported a failure inside the response stream that no other variant names.
    ///
    /// Kind: [`ErrorKind::Retryable`] when `retryable` is true, else [`ErrorKind::Fatal`].
    #[error("the model failed to respond: {message}")]
    Api {
        /// The server's error code, when it gave one.
        code: Option<String>,
        /// The server's own words.
        message: String,
        /// Whether sending the request again can help.
        retryable: bool,
    },
    /// The request was cancelled through its cancellation token.
    ///
    /// Kind: [`ErrorKind::Cancelled`].
    #[error("the model request was cancelled")]
    Cancelled,
    /// A scripted model's script could not be read.
    ///
    /// Kind: [`ErrorKind::Fatal`].
    #[error(
        "could not load the model script from {origin}; check that it is JSON in the documented script format"
    )]
    LoadScript {
        /// Where the script came from (a path, or "JSON text").
        origin: String,
        /// Why it could not be read.
        #[source]
        source: BoxError,
    },
    /// A scripted model could not play its script.
    ///
    /// Kind: [`ErrorKind::Fatal`].
    #[error("the scripted model failed: {message}")]
    Script {
        /// What went wrong.
        message: String,
    },
}

/// What a caller can do about an [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A new attempt may succeed.
    Retryable,
    /// The history must shrink (compaction) before the model can answer.
    ContextWindowExceeded,
    /// The credentials are missing or wrong.
    Unauthorized,
    /// The request is wrong; the same request fails again.
    BadRequest,
    /// The request was cancelled.
    Cancelled,
    /// Anything else that a retry will not fix.
    Fatal,
}

impl Error {
    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::ContextWindowExceeded { .. } => ErrorKind::ContextWindowExceeded,
            Error::Unauthorized { .. } => ErrorKind::Unauthorized,
            Error::BadRequest { .. } => ErrorKind::BadRequest,
            Error::RateLimited { .. }
            | Error::Server { .. }
            | Error::Connection { .. }
            | Error::StreamEndedEarly
            | Error::IdleTimeout { .. }
            | Error::InvalidResponse { .. }
            | Error::Api {
                retryable: true, ..
            } => ErrorKind::Retryable,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::QuotaExceeded { .. }
            | Error::Api {
                retryable: false, ..
            }
            | Error::Script { .. }
            | Error::LoadScript { .. } => ErrorKind::Fatal,
        }
    }

    /// Whether sending the same request again can help.
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Retryable
    }

    /// How long the server asked the client to wait before retrying, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Builds the error a scripted step of the given kind stands for.
    pub fn from_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message = message.into();
        match kind {
            ErrorKind::Retryable => Error::Api {
                code: None,
                message,
                retryable: true,
            },
            ErrorKind::ContextWindowExceeded => Error::ContextWindowExceeded { message },
            ErrorKind::Unauthorized => Error::Unauthorized {
                status: 401,
                message,
            },
            ErrorKind::BadRequest => Error::BadRequest {
                status: 400,
                message,
            },
            ErrorKind::Cancelled => Error::Cancelled,
            ErrorKind::Fatal => Error::Api {
                code: None,
                message,
                retryable: false,
            },
        }
    }
}
