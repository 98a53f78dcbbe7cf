//! Tools a model can call: the [`Tool`] trait, what a call returns ([`ToolOutput`]), and the
//! session's [`ToolRegistry`].
//!
//! Tools are registered on the session builder (`SessionBuilder::tool`) and read by a turn
//! through `TaskContext::tools`. The registry, not each tool, turns a model's mistakes (a tool
//! that does not exist, arguments that are not JSON, a tool that panics) into outputs the
//! model can read, so a turn never fails because the model asked for something wrong.

use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::FutureExt as _;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use turnkit_protocol::{ResponseItem, ToolSpec};

use crate::{Error, TaskContext};

/// A function a model can call during a turn.
///
/// The trait is object safe; a session holds its tools as `Arc<dyn Tool>` in a
/// [`ToolRegistry`], in the order they were registered, which is the order a model sees them
/// in every prompt.
///
/// # Implementing it
///
/// [`spec`](Tool::spec) describes the tool to the model: its name (unique in a session), what
/// it does, and a JSON schema of its arguments. [`call`](Tool::call) gets the arguments as
/// JSON already parsed from the model's text; turn them into the tool's own type with
/// [`parse_arguments`], which gives the model an output naming what did not match.
/// Whatever happens, `call` returns a [`ToolOutput`]: a failure the model should know about is
/// `ToolOutput::failure`, never a panic (a panic is caught and reported as a failure anyway).
///
/// [`can_change_files`](Tool::can_change_files) makes a turn take its "before" snapshot (and
/// apply the approval policy for edits) before the call runs.
/// [`supports_parallel`](Tool::supports_parallel) lets a turn run the call beside the other
/// calls of the same response; say yes only when calls cannot interfere (reads, or work on
/// disjoint state).
///
/// # Be careful
///
/// - `call` runs on the session's runtime inside the turn: never block a thread in it; use
///   `spawn_blocking` for blocking work.
/// - Honour `cancellation_token`: when the turn is interrupted it is cancelled, and the turn
///   waits only its grace period before dropping the call's future. A call that started a
///   process must make sure the process is gone when the future is dropped.
/// - The output goes into the model's history as text: keep it short, and cap what a command
///   or a file can make long.
///
/// ```
/// use std::sync::Arc;
///
/// use serde::Deserialize;
/// use turnkit_protocol::ToolSpec;
/// use turnkit_session_core::{
///     CancellationToken, TaskContext, Tool, ToolOutput, ToolRegistry, parse_arguments,
/// };
///
/// struct Add;
///
/// #[derive(Deserialize)]
/// struct AddArguments {
///     a: i64,
///     b: i64,
/// }
///
/// #[async_trait::async_trait]
/// impl Tool for Add {
///     fn spec(&self) -> ToolSpec {
///         ToolSpec::function(
///             "add",
///             "Adds two integers.",
///             serde_json::json!({
///                 "type": "object",
///                 "properties": { "a": { "type": "integer" }, "b": { "type": "integer" } },
///                 "required": ["a", "b"]
///             }),
///         )
///     }
///
///     fn supports_parallel(&self) -> bool {
///         true
///     }
///
///     async fn call(
///         &self,
///         _ctx: Arc<TaskContext>,
///         _call_id: &str,
///         arguments: serde_json::Value,
///         _cancellation_token: CancellationToken,
///     ) -> ToolOutput {
///         match parse_arguments::<AddArguments>("add", arguments) {
///             Ok(AddArguments { a, b }) => ToolOutput::success((a + b).to_string()),
///             Err(output) => output,
///         }
///     }
/// }
///
/// let tools = ToolRegistry::new().with(Add);
/// assert_eq!(tools.names().collect::<Vec<_>>(), ["add"]);
/// ```
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    /// How the model sees the tool: its name, what it does, and its arguments' JSON schema.
    ///
    /// Read once, when the tool is registered: every request of the session shares that
    /// spec rather than building or copying it again.
    fn spec(&self) -> ToolSpec;

    /// Whether a call can change files (a turn snapshots the working tree before the first
    /// such call, and applies the approval policy for edits); `false` by default.
    fn can_change_files(&self) -> bool {
        false
    }

    /// Whether a call may run at the same time as other calls of the same response; `false`
    /// by default.
    fn supports_parallel(&self) -> bool {
        false
    }

    /// Runs one call and returns what the model sees.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in general: a call dropped midway may have done part of its work. An
    /// implementation must leave nothing running (no task, no process) when it is dropped.
    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        call_id: &str,
        arguments: serde_json::Value,
        cancellation_token: CancellationToken,
    ) -> ToolOutput;
}

/// What a tool call gives back to the model: text, and whether the call succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolOutput {
    /// The text the model reads.
    pub text: String,
    /// Whether the call did what was asked.
    pub success: bool,
}

impl ToolOutput {
    /// A successful call's output.
    pub fn success(text: impl Into<String>) -> Self {
        ToolOutput {
            text: text.into(),
            success: true,
        }
    }

    /// A failed call's output; `text` tells the model what went wrong and what to do.
    pub fn failure(text: impl Into<String>) -> Self {
        ToolOutput {
            text: text.into(),
            success: false,
        }
    }

    /// The history item that answers the call `call_id`.
    pub fn into_item(self, call_id: impl Into<String>) -> ResponseItem {
        ResponseItem::FunctionCallOutput {
            call_id: call_id.into(),
            output: self.text,
            success: Some(self.success),
        }
    }
}

/// Reads a tool's arguments into its own type, or gives the output that tells the model they
/// do not match the tool's parameters.
pub fn parse_arguments<T: DeserializeOwned>(
    tool: &str,
    arguments: serde_json::Value,
) -> Result<T, ToolOutput> {
    serde_json::from_value(arguments).map_err(|error| {
        ToolOutput::failure(format!(
            "the arguments of `{tool}` do not match its parameters: {error}; call it again with arguments that follow its JSON schema"
        ))
    })
}

/// The tools of a session, in a stable order, found by name.
///
/// Registering a tool whose name is taken replaces the earlier one in its place, so the order
/// a model sees does not depend on overrides. Cloning is cheap (the tools and their specs
/// are shared).
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: Vec<(String, Arc<dyn Tool>)>,
    index: HashMap<String, usize>,
    /// Each tool's spec, in order, read at registration and shared by every prompt.
    specs: Arc<[ToolSpec]>,
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool, replacing one of the same name in its place.
    pub fn register(&mut self, tool: impl Tool) {
        self.register_shared(Arc::new(tool));
    }

    /// Adds a shared tool, replacing one of the same name in its place.
    pub fn register_shared(&mut self, tool: Arc<dyn Tool>) {
        let spec = tool.spec();
        let name = spec.name.clone();
        let mut specs = self.specs.to_vec();
        if let Some(&position) = self.index.get(&name) {
            self.tools[position].1 = tool;
            specs[position] = spec;
        } else {
            self.index.insert(name.clone(), self.tools.len());
            self.tools.push((name, tool));
            specs.push(spec);
        }
        self.specs = specs.into();
    }

    /// This registry with `tool` added.
    pub fn with(mut self, tool: impl Tool) -> Self {
        self.register(tool);
        self
    }

    /// The tool named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.index
            .get(name)
            .map(|&position| &self.tools[position].1)
    }

    /// The tools' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.iter().map(|(name, _)| name.as_str())
    }

    /// The tools, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Tool>> {
        self.tools.iter().map(|(_, tool)| tool)
    }

    /// The specs a prompt lists, in order: shared, so a request costs no copy of them.
    pub fn specs(&self) -> Arc<[ToolSpec]> {
        Arc::clone(&self.specs)
    }

    /// How many tools there are.
    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The tools named in `names`, in this registry's order (for a sub-session, which never
    /// gets a tool its parent does not have).
    ///
    /// Fails, naming the first unknown name and the tools there are, when a name is not here.
    pub fn subset<I, S>(&self, names: I) -> Result<ToolRegistry, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut wanted = vec![false; self.tools.len()];
        for name in names {
            let name = name.as_ref();
            let Some(&position) = self.index.get(name) else {
                return Err(Error::UnknownTool {
                    name: name.to_owned(),
                    available: self.available(),
                });
            };
            wanted[position] = true;
        }
        let mut subset = ToolRegistry::new();
        for ((_, tool), _) in self.tools.iter().zip(wanted).filter(|(_, keep)| *keep) {
            subset.register_shared(Arc::clone(tool));
        }
        Ok(subset)
    }

    /// Runs the call a model asked for, with its arguments as the model wrote them.
    ///
    /// Never fails and never panics: an unknown tool, arguments that are not a JSON object,
    /// and a tool that panics each give a failed [`ToolOutput`] saying so, for the model to
    /// read and correct.
    ///
    /// # Cancel safety
    ///
    /// As cancel safe as the tool's own [`Tool::call`]; the registry keeps no state of a call.
    pub async fn dispatch(
        &self,
        ctx: Arc<TaskContext>,
        call_id: &str,
        name: &str,
        arguments: &str,
        cancellation_token: CancellationToken,
    ) -> ToolOutput {
        let Some(tool) = self.get(name) else {
            return ToolOutput::failure(format!(
                "there is no tool named `{name}`; the tools you can call are: {}",
                self.available()
            ));
        };
        let arguments = match parse_argument_text(name, arguments) {
            Ok(arguments) => arguments,
            Err(output) => return output,
        };
        let call = tool.call(ctx, call_id, arguments, cancellation_token);
        // A tool's bug must not end the turn: the model is told the call failed and goes on.
        if let Ok(output) = AssertUnwindSafe(call).catch_unwind().await {
            output
        } else {
            tracing::error!(tool = name, call_id, "tool panicked");
            ToolOutput::failure(format!(
                "the tool `{name}` failed unexpectedly (it panicked); do not retry the same call"
            ))
        }
    }

    fn available(&self) -> String {
        if self.tools.is_empty() {
            return "(none)".to_owned();
        }
        self.names().collect::<Vec<_>>().join(", ")
    }
}

/// The arguments text a model wrote, as a JSON object; empty text counts as `{}`, since some
/// servers send nothing for a call without parameters.
fn parse_argument_text(tool: &str, text: &str) -> Result<serde_json::Value, ToolOutput> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(_) => Err(ToolOutput::failure(format!(
            "the arguments of `{tool}` must be a JSON object; call it again with an object that follows its JSON schema"
        ))),
        Err(error) => Err(ToolOutput::failure(format!(
            "the arguments of `{tool}` are not valid JSON: {error}; call it again with a JSON object that follows its JSON schema"
        ))),
    }
}

impl fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}
