//! [`TurnOverrides`]: how a task that starts a sub-session changes what the child's turns ask
//! the model, without depending on the crate that implements the turn.

/// Other instructions, and a JSON schema for the final answer, for the turns of a session.
///
/// A task offers it as a service of the sub-session it starts (for example the review task:
/// its rubric, and the schema of a review's findings); the agent turn reads it with
/// `ctx.service::<TurnOverrides>()` and, for each field that is set, sends it in place of its
/// own in every request.
///
/// ```
/// use turnkit_session_core::TurnOverrides;
///
/// let overrides = TurnOverrides::new()
///     .instructions("You review code; never change files.")
///     .output_schema(serde_json::json!({"type": "object"}));
/// assert!(overrides.output_schema.is_some());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TurnOverrides {
    /// Sent in place of the turn's own instructions.
    pub instructions: Option<String>,
    /// The JSON schema the model's final answer must follow.
    pub output_schema: Option<serde_json::Value>,
}

impl TurnOverrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `instructions` in place of the turn's own.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// Asks for a final answer that follows `schema`.
    pub fn output_schema(mut self, schema: serde_json::Value) -> Self {
        self.output_schema = Some(schema);
        self
    }
}
