//! The test MCP server's handler (see `main.rs` beside it for what it offers); test files and
//! the CLI's tests include this file with `#[path]` to serve the same tools over HTTP.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};
use serde_json::{Value, json};

/// How many tools one `tools/list` page holds.
const PAGE: usize = 2;

/// The handler: six tools, listed two to a page.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fixture;

fn tool(name: &'static str, description: &'static str, schema: Value, read_only: bool) -> Tool {
    let Value::Object(schema) = schema else {
        unreachable!("every schema here is an object")
    };
    let mut tool = Tool::new(name, description, Arc::new(schema));
    if read_only {
        tool.annotations = Some(ToolAnnotations::new().read_only(true));
    }
    tool
}

fn tools() -> Vec<Tool> {
    let path = json!({ "type": "object", "properties": { "path": { "type": "string" } }, "required": ["path"] });
    vec![
        tool(
            "read_file",
            "Reads a text file below the server's directory.",
            path,
            true,
        ),
        tool(
            "write_file",
            "Writes a text file below the server's directory.",
            json!({
                "type": "object",
                "properties": { "path": { "type": "string" }, "text": { "type": "string" } },
                "required": ["path", "text"]
            }),
            false,
        ),
        tool("noop", "Answers ok.", json!({ "type": "object" }), true),
        tool(
            "crash",
            "Exits in the middle of the call.",
            json!({ "type": "object" }),
            false,
        ),
        tool(
            "hang",
            "Answers only when cancelled.",
            json!({ "type": "object" }),
            true,
        ),
        tool("never", "Never answers.", json!({ "type": "object" }), true),
    ]
}

fn text_argument(request: &CallToolRequestParams, key: &str) -> Result<String, ErrorData> {
    request
        .arguments
        .as_ref()
        .and_then(|arguments| arguments.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ErrorData::invalid_params(format!("`{key}` is missing"), None))
}

impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let start: usize = request
            .and_then(|request| request.cursor)
            .and_then(|cursor| cursor.parse().ok())
            .unwrap_or(0);
        let all = tools();
        let end = (start + PAGE).min(all.len());
        let mut page = ListToolsResult::with_all_items(all[start..end].to_vec());
        page.next_cursor = (end < all.len()).then(|| end.to_string());
        Ok(page)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let text =
            |text: String| Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into());
        match request.name.as_ref() {
            "read_file" => match std::fs::read_to_string(text_argument(&request, "path")?) {
                Ok(file_text) => text(file_text),
                Err(error) => Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                    "cannot read it: {error}"
                ))])
                .into()),
            },
            "write_file" => {
                let path = text_argument(&request, "path")?;
                std::fs::write(&path, text_argument(&request, "text")?)
                    .map_err(|error| ErrorData::internal_error(error.to_string(), None))?;
                text(format!("wrote {path}"))
            }
            "noop" => text("ok".to_owned()),
            "crash" => std::process::exit(3),
            "hang" => {
                let _ = std::fs::write("hang-started", "started");
                context.ct.cancelled().await;
                let _ = std::fs::write("hang-cancelled", "cancelled");
                Err(ErrorData::internal_error("cancelled", None))
            }
            "never" => std::future::pending().await,
            other => Err(ErrorData::invalid_params(
                format!("no tool `{other}`"),
                None,
            )),
        }
    }
}
