//! The script a [`ScriptedModel`](crate::ScriptedModel) plays: [`Script`], [`ScriptedTurn`], [`ScriptStep`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use turnkit_protocol::ResponseItem;

use crate::{ErrorKind, ModelInfo, TokenUsage};

/// A whole scripted session: what the model says to each request, in order.
///
/// This is the JSON file format of [`ScriptedModel::from_json_file`](crate::ScriptedModel::from_json_file);
/// see the [`ScriptedModel`](crate::ScriptedModel) docs for an example.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// What the model reports about itself.
    #[serde(default)]
    pub model_info: ModelInfo,
    /// One entry per request, played in order.
    pub turns: Vec<ScriptedTurn>,
}

/// The response to one request: steps played in order.
///
/// A `Created` event comes before the first output step unless a `created` step gives it
/// explicitly, and a `Completed` event without usage ends the stream unless a `completed` or
/// `error` step ends it first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedTurn {
    /// The steps.
    pub steps: Vec<ScriptStep>,
}

/// One step of a scripted response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScriptStep {
    /// Emit `Created` with this response id.
    Created {
        /// The response id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response_id: Option<String>,
    },
    /// Emit one piece of visible text.
    TextDelta {
        /// The text.
        delta: String,
    },
    /// Emit one piece of reasoning.
    ReasoningDelta {
        /// The text.
        delta: String,
    },
    /// Stream an assistant message as text deltas, then emit it as a finished item.
    Message {
        /// The whole message.
        text: String,
        /// The pieces to stream; absent means one delta with the whole text, empty means none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deltas: Option<Vec<String>>,
    },
    /// Stream reasoning as one delta, then emit it as a finished reasoning item.
    Reasoning {
        /// The reasoning summary.
        text: String,
    },
    /// Emit a finished function call.
    FunctionCall {
        /// Ties the call to its output.
        call_id: String,
        /// The tool's name.
        name: String,
        /// The arguments: a JSON string is sent as is, any other JSON value as its text.
        arguments: serde_json::Value,
    },
    /// Emit any finished item.
    Item {
        /// The item.
        item: ResponseItem,
    },
    /// Emit `Completed` and end the stream.
    Completed {
        /// The usage to report.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<TokenUsage>,
    },
    /// Emit `Retrying`, as a client does before it retries.
    Retrying {
        /// The number of the retry, from 1.
        attempt: u32,
        /// How many retries at most.
        max_attempts: u32,
        /// The announced delay (not waited for).
        #[serde(default)]
        delay_ms: u64,
        /// Why the previous attempt failed.
        message: String,
    },
    /// Fail the stream with an error of this kind and end it.
    Error {
        /// What kind of error.
        kind: ErrorKind,
        /// Its message.
        message: String,
    },
    /// Wait until the test releases the [`Gate`](crate::Gate) of this name, or the request is cancelled.
    Gate {
        /// The gate's name.
        name: String,
    },
    /// Wait this long (on tokio's clock, so paused time skips it), or until the request is cancelled.
    Sleep {
        /// Milliseconds.
        ms: u64,
    },
}

impl ScriptedTurn {
    /// An empty turn: just `Created` and `Completed`.
    pub fn new() -> Self {
        ScriptedTurn::default()
    }

    /// Adds a step.
    pub fn step(mut self, step: ScriptStep) -> Self {
        self.steps.push(step);
        self
    }

    /// Adds one text delta.
    pub fn text_delta(self, delta: impl Into<String>) -> Self {
        self.step(ScriptStep::TextDelta {
            delta: delta.into(),
        })
    }

    /// Adds one reasoning delta.
    pub fn reasoning_delta(self, delta: impl Into<String>) -> Self {
        self.step(ScriptStep::ReasoningDelta {
            delta: delta.into(),
        })
    }

    /// Adds an assistant message, streamed as one delta.
    pub fn message(self, text: impl Into<String>) -> Self {
        self.step(ScriptStep::Message {
            text: text.into(),
            deltas: None,
        })
    }

    /// Adds an assistant message, streamed as these deltas (their concatenation is the message).
    pub fn message_in_deltas<I, S>(self, deltas: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let deltas: Vec<String> = deltas.into_iter().map(Into::into).collect();
        self.step(ScriptStep::Message {
            text: deltas.concat(),
            deltas: Some(deltas),
        })
    }

    /// Adds a reasoning item.
    pub fn reasoning(self, text: impl Into<String>) -> Self {
        self.step(ScriptStep::Reasoning { text: text.into() })
    }

    /// Adds a function call; `arguments` is a JSON value (a string is sent as is).
    pub fn function_call(
        self,
        call_id: impl Into<String>,
        name: impl Into<String>,
        arguments: serde_json::Value,
    ) -> Self {
        self.step(ScriptStep::FunctionCall {
            call_id: call_id.into(),
            name: name.into(),
            arguments,
        })
    }

    /// Ends the turn with `Completed` and this usage.
    pub fn completed(self, usage: Option<TokenUsage>) -> Self {
        self.step(ScriptStep::Completed { usage })
    }

    /// Ends the turn with an error.
    pub fn error(self, kind: ErrorKind, message: impl Into<String>) -> Self {
        self.step(ScriptStep::Error {
            kind,
            message: message.into(),
        })
    }

    /// Holds the stream at this point until the test releases the gate of this name.
    pub fn gate(self, name: impl Into<String>) -> Self {
        self.step(ScriptStep::Gate { name: name.into() })
    }

    /// Waits this long on tokio's clock.
    pub fn sleep(self, duration: Duration) -> Self {
        self.step(ScriptStep::Sleep {
            ms: duration.as_millis().try_into().unwrap_or(u64::MAX),
        })
    }
}
