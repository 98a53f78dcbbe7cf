//! The two tools the server offers, `turnkit` and `turnkit_reply`: their descriptions and
//! schemas, and the checked arguments of a call.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};
use turnkit_protocol::{ApprovalPolicy, SandboxPolicy};

/// The tool that starts a session.
pub const START_TOOL: &str = "turnkit";
/// The tool that continues one.
pub const REPLY_TOOL: &str = "turnkit_reply";

const APPROVAL_POLICIES: [&str; 4] = ["never", "on_request", "untrusted", "always"];
const SANDBOXES: [&str; 3] = ["read_only", "workspace_write", "full_access"];

/// Both tools, in the order `tools/list` gives them.
pub(crate) fn tools() -> Vec<Tool> {
    vec![start_tool(), reply_tool()]
}

fn start_tool() -> Tool {
    let input = json!({
        "type": "object",
        "properties": {
            "prompt": {
                "type": "string",
                "description": "What to ask the agent: the first user message of the session."
            },
            "cwd": {
                "type": "string",
                "description": "The directory the session works in, as an absolute path; the agent's commands run there and its file changes stay below it."
            },
            "approval_policy": {
                "type": "string",
                "enum": APPROVAL_POLICIES,
                "description": "When the agent asks before it acts: never, on_request (when the model asks for it), untrusted (anything not known to be read-only), always. The server's default when absent."
            },
            "sandbox": {
                "type": "string",
                "enum": SANDBOXES,
                "description": "What the agent's commands may touch: read_only, workspace_write (the directory and temporary files), full_access (no sandbox). The server's default when absent."
            },
            "model": {
                "type": "string",
                "description": "The model to use, when the server lets the client choose; the server's model when absent."
            }
        },
        "required": ["prompt", "cwd"],
        "additionalProperties": false
    });
    Tool::new(
        START_TOOL,
        "Start a turnkit coding agent session in a directory and run one turn on a prompt. \
         The agent may run commands and edit files there, asking for approval as its policy \
         says. Returns the agent's final message and the session id; continue the session \
         with turnkit_reply.",
        object(input),
    )
    .with_title("Run a turnkit agent session")
    .with_raw_output_schema(object(output_schema()))
    .with_annotations(session_annotations())
}

fn reply_tool() -> Tool {
    let input = json!({
        "type": "object",
        "properties": {
            "session_id": {
                "type": "string",
                "description": "The session to continue, as the turnkit tool returned it."
            },
            "prompt": {
                "type": "string",
                "description": "The next user message."
            }
        },
        "required": ["session_id", "prompt"],
        "additionalProperties": false
    });
    Tool::new(
        REPLY_TOOL,
        "Continue a turnkit session with a new prompt: one more turn with the whole history \
         of the session. Returns the agent's final message.",
        object(input),
    )
    .with_title("Reply to a turnkit agent session")
    .with_raw_output_schema(object(output_schema()))
    .with_annotations(session_annotations())
}

/// What both tools may do: run commands and edit files (so not read-only, not idempotent),
/// and reach whatever the agent's commands reach.
fn session_annotations() -> ToolAnnotations {
    ToolAnnotations::new()
        .read_only(false)
        .destructive(true)
        .idempotent(false)
        .open_world(true)
}

/// The structured content of both tools' results.
fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "session_id": { "type": "string", "description": "Continue the session with turnkit_reply and this id." },
            "status": { "type": "string", "enum": ["completed", "interrupted", "failed"] },
            "message": { "type": ["string", "null"], "description": "The agent's final message." },
            "approvals": {
                "type": "array",
                "description": "Every approval the turn asked for, and how it was answered.",
                "items": {
                    "type": "object",
                    "properties": {
                        "request": { "type": "string" },
                        "decision": { "type": "string", "enum": ["approved", "approved_for_session", "denied", "abort"] },
                        "answered_by": { "type": "string", "enum": ["client", "fallback"] }
                    },
                    "required": ["request", "decision", "answered_by"]
                }
            },
            "errors": { "type": "array", "items": { "type": "string" } }
        },
        "required": ["session_id", "status", "message", "approvals", "errors"]
    })
}

fn object(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        // The schemas above are object literals.
        _ => Arc::new(JsonObject::new()),
    }
}

/// The checked arguments of a `turnkit` call.
#[derive(Debug)]
pub(crate) struct StartArguments {
    pub(crate) prompt: String,
    pub(crate) cwd: PathBuf,
    pub(crate) approval_policy: Option<ApprovalPolicy>,
    pub(crate) sandbox_policy: Option<SandboxPolicy>,
    pub(crate) model: Option<String>,
}

/// The checked arguments of a `turnkit_reply` call.
#[derive(Debug)]
pub(crate) struct ReplyArguments {
    pub(crate) session_id: String,
    pub(crate) prompt: String,
}

/// Arguments that do not fit a tool: the message says which and what to do.
#[derive(Debug)]
pub(crate) struct BadArguments(pub(crate) String);

impl StartArguments {
    pub(crate) fn parse(arguments: Option<&JsonObject>) -> Result<Self, BadArguments> {
        let arguments = Arguments::new(
            START_TOOL,
            arguments,
            &["prompt", "cwd", "approval_policy", "sandbox", "model"],
        )?;
        let prompt = arguments.required_text("prompt")?;
        let cwd = directory(&arguments.required_text("cwd")?)?;
        let approval_policy = arguments
            .optional_text("approval_policy")?
            .map(|name| approval_policy(&name))
            .transpose()?;
        let sandbox_policy = arguments
            .optional_text("sandbox")?
            .map(|name| sandbox_policy(&name))
            .transpose()?;
        let model = arguments.optional_text("model")?;
        Ok(Self {
            prompt,
            cwd,
            approval_policy,
            sandbox_policy,
            model,
        })
    }
}

impl ReplyArguments {
    pub(crate) fn parse(arguments: Option<&JsonObject>) -> Result<Self, BadArguments> {
        let arguments = Arguments::new(REPLY_TOOL, arguments, &["session_id", "prompt"])?;
        Ok(Self {
            session_id: arguments.required_text("session_id")?,
            prompt: arguments.required_text("prompt")?,
        })
    }
}

struct Arguments<'a> {
    tool: &'static str,
    values: Option<&'a JsonObject>,
}

impl<'a> Arguments<'a> {
    fn new(
        tool: &'static str,
        values: Option<&'a JsonObject>,
        known: &[&str],
    ) -> Result<Self, BadArguments> {
        if let Some(values) = values
            && let Some(unknown) = values.keys().find(|key| !known.contains(&key.as_str()))
        {
            return Err(BadArguments(format!(
                "`{tool}` has no argument `{unknown}`; its arguments are {}",
                known.join(", ")
            )));
        }
        Ok(Self { tool, values })
    }

    fn required_text(&self, name: &str) -> Result<String, BadArguments> {
        match self.optional_text(name)? {
            Some(text) if !text.trim().is_empty() => Ok(text),
            Some(_) => Err(BadArguments(format!(
                "`{name}` is empty; give `{}` a non-empty `{name}`",
                self.tool
            ))),
            None => Err(BadArguments(format!(
                "`{}` needs the argument `{name}`",
                self.tool
            ))),
        }
    }

    fn optional_text(&self, name: &str) -> Result<Option<String>, BadArguments> {
        match self.values.and_then(|values| values.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(BadArguments(format!(
                "`{name}` must be a string, not {other}"
            ))),
        }
    }
}

/// The session's directory: absolute, existing, canonical.
fn directory(text: &str) -> Result<PathBuf, BadArguments> {
    let path = Path::new(text);
    if !path.is_absolute() {
        return Err(BadArguments(format!(
            "`cwd` must be an absolute path (the server's own directory means nothing to the client); got `{text}`"
        )));
    }
    let canonical = path.canonicalize().map_err(|error| {
        BadArguments(format!(
            "`cwd` is `{text}`, which cannot be used ({error}); give an existing directory"
        ))
    })?;
    if !canonical.is_dir() {
        return Err(BadArguments(format!(
            "`cwd` is `{text}`, which is not a directory; give the directory to work in"
        )));
    }
    Ok(canonical)
}

fn approval_policy(name: &str) -> Result<ApprovalPolicy, BadArguments> {
    match name.replace('-', "_").as_str() {
        "never" => Ok(ApprovalPolicy::Never),
        "on_request" => Ok(ApprovalPolicy::OnRequest),
        "untrusted" => Ok(ApprovalPolicy::Untrusted),
        "always" => Ok(ApprovalPolicy::Always),
        _ => Err(BadArguments(format!(
            "unknown approval_policy `{name}`; use one of {}",
            APPROVAL_POLICIES.join(", ")
        ))),
    }
}

fn sandbox_policy(name: &str) -> Result<SandboxPolicy, BadArguments> {
    match name.replace('-', "_").as_str() {
        "read_only" => Ok(SandboxPolicy::read_only()),
        "workspace_write" => Ok(SandboxPolicy::workspace_write()),
        "full_access" => Ok(SandboxPolicy::FullAccess),
        _ => Err(BadArguments(format!(
            "unknown sandbox `{name}`; use one of {}",
            SANDBOXES.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => map,
            _ => panic!("an object"),
        }
    }

    #[test]
    fn policy_names_take_dashes_or_underscores_and_unknown_ones_list_the_choices() {
        assert_eq!(
            approval_policy("on-request").expect("known"),
            ApprovalPolicy::OnRequest
        );
        let error = approval_policy("sometimes").expect_err("unknown");
        assert!(error.0.contains("never, on_request, untrusted, always"));
        assert!(sandbox_policy("read-only").is_ok());
        assert!(
            sandbox_policy("none")
                .expect_err("unknown")
                .0
                .contains("full_access")
        );
    }

    #[test]
    fn unknown_and_missing_arguments_are_named() {
        let unknown = StartArguments::parse(Some(&arguments(json!({ "directory": "/" }))))
            .expect_err("unknown argument");
        assert!(unknown.0.contains("`directory`"), "{}", unknown.0);
        let missing =
            StartArguments::parse(Some(&arguments(json!({ "cwd": "/" })))).expect_err("no prompt");
        assert!(missing.0.contains("`prompt`"), "{}", missing.0);
        let relative =
            StartArguments::parse(Some(&arguments(json!({ "prompt": "hi", "cwd": "src" }))))
                .expect_err("relative");
        assert!(relative.0.contains("absolute"), "{}", relative.0);
    }
}
