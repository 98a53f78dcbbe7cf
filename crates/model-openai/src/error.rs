//! What can go wrong while setting up a client: [`Error`].
//!
//! Failures of a request or a stream are [`turnkit_model::Error`]s, reported through the
//! response stream.

/// A client could not be configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No model name was given.
    #[error("no model name is configured; set TURNKIT_MODEL (or OPENAI_MODEL) or pass one in code")]
    MissingModel,
    /// A setting has a value that cannot be used.
    #[error("invalid {name}: {reason}")]
    InvalidSetting {
        /// Which setting (an environment variable's name, or a description).
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The base URL is not an `http` or `https` URL.
    #[error(
        "invalid base URL `{url}`: {reason}; use an http:// or https:// URL such as https://api.openai.com/v1"
    )]
    InvalidBaseUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An extra header's name or value cannot be sent.
    #[error("invalid header `{name}`: names and values must be visible ASCII without line breaks")]
    InvalidHeader {
        /// The header's name (its value is never shown).
        name: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    HttpClient {
        /// reqwest's reason.
        #[source]
        source: reqwest::Error,
    },
}
