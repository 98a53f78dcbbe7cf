//! [`McpTool`]: one tool of one MCP server as a session's [`Tool`]: the approval policy, the
//! `mcp_tool_call_begin` / `mcp_tool_call_end` pair, timeouts, crashes and cancellation.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use rmcp::ServiceError;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use turnkit_protocol::{
    ApprovalPolicy, ApprovalRequest, ApprovalSubject, EventMsg, ReviewDecision, ToolSpec,
};
use turnkit_session_core::{CancellationToken, TaskContext, Tool, ToolOutput};

use super::connection::ServerConnection;
use super::failure::seconds;
use super::output::model_text;

/// A tool of an MCP server, offered to the model as `server__tool`.
pub(crate) struct McpTool {
    server: Arc<ServerConnection>,
    /// The tool's name on its server.
    tool: String,
    spec: ToolSpec,
    read_only: bool,
    /// The sessions (by id) whose user approved this tool for the session.
    approved_for: Mutex<HashSet<String>>,
}

impl McpTool {
    pub(crate) fn new(
        server: Arc<ServerConnection>,
        tool: &rmcp::model::Tool,
        name: String,
    ) -> Self {
        let read_only = tool
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.read_only_hint)
            .unwrap_or(false);
        let description = tool
            .description
            .as_deref()
            .map(str::to_owned)
            .or_else(|| tool.title.clone())
            .unwrap_or_else(|| {
                format!(
                    "The tool `{}` of the MCP server `{}`.",
                    tool.name, server.name
                )
            });
        let spec = ToolSpec::function(name, description, parameters(&tool.input_schema));
        Self {
            tool: tool.name.to_string(),
            server,
            spec,
            read_only,
            approved_for: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `policy` asks before a call: `never` never does, `on_request` and `untrusted`
    /// do for a tool its server does not mark read-only, `always` always does.
    fn needs_approval(&self, policy: ApprovalPolicy) -> bool {
        match policy {
            ApprovalPolicy::Never => false,
            ApprovalPolicy::OnRequest | ApprovalPolicy::Untrusted => !self.read_only,
            ApprovalPolicy::Always => true,
        }
    }

    fn approved_for_session(&self, session_id: &str) -> bool {
        self.approved_for
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(session_id)
    }

    /// Asks the user; `None` when the call may go on, or the output that ends it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future withdraws the request.
    async fn ask(&self, ctx: &TaskContext, call_id: &str, arguments: &Value) -> Option<ToolOutput> {
        let request = ApprovalRequest::new(ApprovalSubject::ToolCall {
            server: self.server.name.clone(),
            tool: self.tool.clone(),
            arguments: arguments.clone(),
        })
        .with_call_id(call_id);
        let what = format!(
            "the call to `{}` of the MCP server `{}`",
            self.tool, self.server.name
        );
        match ctx.request_approval(request).await {
            ReviewDecision::Approved => None,
            ReviewDecision::ApprovedForSession => {
                self.approved_for
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(ctx.session_id().to_owned());
                None
            }
            ReviewDecision::Denied => Some(ToolOutput::failure(format!(
                "the user declined {what}: it was not made. Do not try it again as it is; do something else, or ask the user how to go on"
            ))),
            ReviewDecision::Abort => {
                let token = ctx.cancellation_token();
                // As the built-in tools do: an abort the user chose stops the whole turn before
                // the model reads anything; one that came from the turn ending needs nothing.
                if !token.is_cancelled() && ctx.interrupt_turn() {
                    token.cancelled().await;
                }
                Some(ToolOutput::failure(format!(
                    "the user aborted {what}: it was not made, and the turn was stopped"
                )))
            }
        }
    }
}

#[async_trait]
impl Tool for McpTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    fn can_change_files(&self) -> bool {
        !self.read_only
    }

    fn supports_parallel(&self) -> bool {
        self.read_only
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        call_id: &str,
        arguments: Value,
        cancellation_token: CancellationToken,
    ) -> ToolOutput {
        if self.needs_approval(ctx.approval_policy())
            && !self.approved_for_session(ctx.session_id())
            && let Some(output) = self.ask(&ctx, call_id, &arguments).await
        {
            return output;
        }
        let ended = EndGuard::begin(&ctx, call_id, &self.server.name, &self.tool, arguments);
        if self.server.is_stopped() {
            let why = format!(
                "the MCP server `{}` is not running (it stopped earlier in this session), so `{}` was not called; do not call its tools again",
                self.server.name, self.tool
            );
            ended.end(false, json!({ "error": why }));
            return ToolOutput::failure(why);
        }
        let mut params = CallToolRequestParams::new(self.tool.clone());
        params.arguments = match &ended.arguments {
            Value::Object(map) => Some(map.clone()),
            _ => None,
        };
        let timeout = self.server.call_timeout;
        // Dropping the call's future (timeout, cancellation) makes rmcp send
        // `notifications/cancelled` for the request, so the server can stop its work.
        let outcome = tokio::select! {
            biased;
            () = cancellation_token.cancelled() => None,
            answer = tokio::time::timeout(timeout, self.server.service.call_tool(params)) => Some(answer),
        };
        let server = &self.server.name;
        let tool = &self.tool;
        match outcome {
            None => {
                let why = format!("the call to `{tool}` was cancelled: the turn was interrupted");
                ended.end(false, json!({ "error": why }));
                ToolOutput::failure(why)
            }
            Some(Err(_elapsed)) => {
                let why = format!(
                    "the MCP server `{server}` did not answer the call to `{tool}` within {}, so the call was cancelled",
                    seconds(timeout)
                );
                ctx.send_event(EventMsg::Warning {
                    message: format!(
                        "{why}; raise its tool timeout (`tool_timeout_secs`) if the tool is slow, or check the server"
                    ),
                });
                ended.end(false, json!({ "error": why }));
                ToolOutput::failure(format!(
                    "{why}; it may or may not have done part of the work. Do not retry it as it is"
                ))
            }
            Some(Ok(Ok(result))) => {
                let success = result.is_error != Some(true);
                let text = model_text(&result);
                ended.end(
                    success,
                    serde_json::to_value(&result)
                        .unwrap_or_else(|error| json!({ "error": error.to_string() })),
                );
                if success {
                    ToolOutput::success(text)
                } else {
                    ToolOutput::failure(text)
                }
            }
            Some(Ok(Err(ServiceError::McpError(error)))) => {
                let why = format!(
                    "the MCP server `{server}` refused the call to `{tool}`: {}",
                    error.message
                );
                ended.end(false, json!({ "error": why }));
                ToolOutput::failure(why)
            }
            Some(Ok(Err(
                error @ (ServiceError::UnexpectedResponse
                | ServiceError::InputRequiredRoundsExceeded { .. }),
            ))) => {
                let why = format!(
                    "the MCP server `{server}` answered the call to `{tool}` in a way turnkit cannot use ({error})"
                );
                ended.end(false, json!({ "error": why }));
                ToolOutput::failure(why)
            }
            Some(Ok(Err(error))) => {
                self.server.mark_lost();
                let why = format!(
                    "the MCP server `{server}` stopped during the call to `{tool}` (it crashed or closed the connection: {error})"
                );
                ctx.send_event(EventMsg::Warning {
                    message: format!(
                        "{why}; its tools are unavailable for the rest of this session, the other tools still work"
                    ),
                });
                ended.end(false, json!({ "error": why }));
                ToolOutput::failure(format!(
                    "{why}; do not call its tools again in this session"
                ))
            }
        }
    }
}

/// The open `mcp_tool_call_begin` of a call: exactly one `mcp_tool_call_end` follows, from
/// [`end`](Self::end) or, when the call is dropped midway, from `Drop`.
struct EndGuard {
    ctx: Arc<TaskContext>,
    call_id: String,
    server: String,
    tool: String,
    arguments: Value,
    started: Instant,
    open: bool,
}

impl EndGuard {
    fn begin(
        ctx: &Arc<TaskContext>,
        call_id: &str,
        server: &str,
        tool: &str,
        arguments: Value,
    ) -> Self {
        ctx.send_event(EventMsg::McpToolCallBegin {
            call_id: call_id.to_owned(),
            server: server.to_owned(),
            tool: tool.to_owned(),
            arguments: arguments.clone(),
        });
        Self {
            ctx: Arc::clone(ctx),
            call_id: call_id.to_owned(),
            server: server.to_owned(),
            tool: tool.to_owned(),
            arguments,
            started: Instant::now(),
            open: true,
        }
    }

    fn end(mut self, success: bool, result: Value) {
        self.send(success, result);
    }

    fn send(&mut self, success: bool, result: Value) {
        if !std::mem::take(&mut self.open) {
            return;
        }
        self.ctx.send_event(EventMsg::McpToolCallEnd {
            call_id: std::mem::take(&mut self.call_id),
            server: std::mem::take(&mut self.server),
            tool: std::mem::take(&mut self.tool),
            arguments: std::mem::take(&mut self.arguments),
            success,
            result,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.send(
            false,
            json!({ "error": "the call was stopped before the server answered: the turn ended" }),
        );
    }
}

/// The JSON schema the model is given: the server's, as an object schema with `properties`
/// (some servers leave them out for a tool without parameters, which model APIs refuse).
fn parameters(schema: &serde_json::Map<String, Value>) -> Value {
    let mut schema = schema.clone();
    schema
        .entry("type")
        .or_insert_with(|| Value::String("object".to_owned()));
    if schema.get("type") == Some(&Value::String("object".to_owned())) {
        schema
            .entry("properties")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    Value::Object(schema)
}
