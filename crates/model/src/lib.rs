//! The language-model interface of turnkit: one trait, its streamed events, and a scripted model.
//!
//! A task builds a [`Prompt`] (instructions, the model-visible history as
//! [`ResponseItem`]s, tools as [`ToolSpec`]s, an optional
//! output schema) and asks a [`ModelClient`] for a [`ResponseStream`] of [`ResponseEvent`]s:
//! `Created`, text and reasoning deltas, finished output items, and `Completed` with
//! [`TokenUsage`]. Failures are [`Error`]s whose [`ErrorKind`] says whether a retry can help;
//! the retries a client makes itself are announced in the stream as
//! [`ResponseEvent::Retrying`]. [`ModelInfo`] tells a session when to compact, and
//! [`estimate_tokens`] sizes a history when the server reports no usage.
//!
//! [`ScriptedModel`] is a deterministic [`ModelClient`] for tests, demos and the CLI: it plays
//! [`ScriptedTurn`]s (from code or from a JSON [`Script`]), records every prompt, and can hold
//! a stream at a [`Gate`] until the test releases it.
//!
//! This crate knows nothing of sessions or HTTP; `turnkit-model-openai` implements the trait
//! for OpenAI-compatible servers.
//!
//! One dependency is enough to use it: the protocol types its signatures name
//! ([`ResponseItem`], [`ContentItem`], [`Role`], [`ToolSpec`]), the [`CancellationToken`] a
//! request takes, and [`StreamExt`] to read a [`ResponseStream`] are re-exported here.
//!
//! ```
//! use turnkit_model::{
//!     CancellationToken, ModelClient, Prompt, ResponseEvent, ResponseItem, ScriptedModel,
//!     ScriptedTurn, StreamExt,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let model = ScriptedModel::new([ScriptedTurn::new().message_in_deltas(["Hel", "lo"])]);
//! let prompt = Prompt::new("be brief", vec![ResponseItem::user_text("hi")]);
//! let mut text = String::new();
//! let mut stream = model.stream(&prompt, CancellationToken::new());
//! while let Some(event) = stream.next().await {
//!     match event.unwrap() {
//!         ResponseEvent::OutputTextDelta { delta } => text.push_str(&delta),
//!         ResponseEvent::Completed { .. } => break,
//!         _ => {}
//!     }
//! }
//! assert_eq!(text, "Hello");
//! assert_eq!(model.request_count(), 1);
//! # });
//! ```

mod client;
mod error;
mod event;
mod prompt;
mod script;
mod scripted;
mod tokens;

pub use client::{ModelClient, ModelInfo};
pub use error::{BoxError, Error, ErrorKind};
pub use event::{ResponseEvent, ResponseStream};
pub use prompt::Prompt;
pub use script::{Script, ScriptStep, ScriptedTurn};
pub use scripted::{Gate, ScriptedModel};
pub use tokens::{
    BYTES_PER_TOKEN, IMAGE_TOKENS, ITEM_OVERHEAD_TOKENS, estimate_item_tokens,
    estimate_text_tokens, estimate_tokens,
};

pub use futures_util::StreamExt;
pub use tokio_util::sync::CancellationToken;
pub use turnkit_protocol::{ContentItem, ResponseItem, Role, TokenUsage, ToolSpec};

/// Another name for [`Error`], for code that imports several crates' errors.
pub type ModelError = Error;
