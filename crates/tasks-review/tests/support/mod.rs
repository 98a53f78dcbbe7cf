//! Shared helpers of the review tests: a scripted model, stand-ins for the `regular` kind and
//! its `shell` tool (the real ones live in another task crate, which this one never depends
//! on), and real git repositories.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use turnkit_model::{ModelClient, Prompt, ResponseEvent, ScriptedModel, StreamExt};
use turnkit_protocol::{
    ApprovalPolicy, ApprovalRequest, ContentItem, ResponseItem, ReviewDecision, Role, TaskKind,
    ToolSpec, UserInput,
};
use turnkit_session_core::{
    CancellationToken, TaskContext, Tool, ToolOutput, TurnOverrides, async_trait,
};
use turnkit_testkit::{FnTask, TestSession};

/// Instructions the stand-in turn sends when no override asks for others.
pub const STAND_IN_INSTRUCTIONS: &str = "stand-in regular turn";

/// A `regular` kind that honours [`TurnOverrides`], streams from the session's model, runs the
/// tools it calls through the registry, and loops until the model answers without a call.
pub fn stand_in_regular() -> FnTask {
    FnTask::new(TaskKind::REGULAR, |ctx, input, token| async move {
        let model = ctx
            .service::<Arc<dyn ModelClient>>()
            .ok_or("no model client is registered")?;
        let overrides = ctx.service::<TurnOverrides>().unwrap_or_default();
        let text: String = input
            .iter()
            .filter_map(|part| match part {
                UserInput::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        ctx.record_items([ResponseItem::user_text(text)]);
        let mut last = None;
        loop {
            let prompt = Prompt {
                instructions: overrides
                    .instructions
                    .clone()
                    .unwrap_or_else(|| STAND_IN_INSTRUCTIONS.to_owned()),
                input: ctx.history_items(),
                tools: ctx.tools().specs(),
                parallel_tool_calls: false,
                output_schema: overrides.output_schema.clone(),
            };
            let mut stream = model.stream(&prompt, token.clone());
            let mut calls = Vec::new();
            while let Some(event) = stream.next().await {
                match event? {
                    ResponseEvent::OutputItemDone { item } => {
                        match &item {
                            ResponseItem::Message {
                                role: Role::Assistant,
                                content,
                            } => {
                                last = Some(
                                    content
                                        .iter()
                                        .filter_map(|part| match part {
                                            ContentItem::OutputText { text } => Some(text.as_str()),
                                            _ => None,
                                        })
                                        .collect::<String>(),
                                );
                            }
                            ResponseItem::FunctionCall {
                                call_id,
                                name,
                                arguments,
                            } => calls.push((call_id.clone(), name.clone(), arguments.clone())),
                            _ => {}
                        }
                        ctx.record_items([item]);
                    }
                    ResponseEvent::Completed { .. } => break,
                    _ => {}
                }
            }
            if calls.is_empty() {
                return Ok(last);
            }
            for (call_id, name, arguments) in calls {
                let output = ctx
                    .tools()
                    .dispatch(Arc::clone(&ctx), &call_id, &name, &arguments, token.clone())
                    .await;
                ctx.record_items([output.into_item(call_id)]);
                if token.is_cancelled() {
                    return Ok(None);
                }
            }
        }
    })
}

/// A `shell` tool that runs nothing: under `untrusted` it lets `git`, `cat` and `ls` through
/// and asks the root about anything else, as the real tool decides with its safety check.
pub struct StandInShell;

#[async_trait]
impl Tool for StandInShell {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "shell".into(),
            description: "runs a command".into(),
            parameters: serde_json::json!({"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}}),
            strict: false,
        }
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        call_id: &str,
        arguments: serde_json::Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        let command: Vec<String> =
            serde_json::from_value(arguments["command"].clone()).unwrap_or_default();
        let read_only = matches!(
            command.first().map(String::as_str),
            Some("git" | "cat" | "ls")
        );
        let must_ask = ctx.approval_policy() >= ApprovalPolicy::Untrusted && !read_only;
        if must_ask {
            let request =
                ApprovalRequest::command(command.clone(), ctx.cwd()).with_call_id(call_id);
            match ctx.request_approval(request).await {
                ReviewDecision::Approved | ReviewDecision::ApprovedForSession => {}
                ReviewDecision::Denied => {
                    return ToolOutput::failure("the user declined to run this command");
                }
                ReviewDecision::Abort => return ToolOutput::failure("aborted"),
            }
        }
        ToolOutput::success(format!("ran {}", command.join(" ")))
    }
}

/// A session with the stand-in `regular` and `shell`, `review`, and `model`, in a real git
/// repository with one commit.
pub fn session(model: &ScriptedModel) -> TestSession {
    let client: Arc<dyn ModelClient> = Arc::new(model.clone());
    let session = TestSession::builder()
        .task(stand_in_regular().registration().accepts_input(true))
        .task(turnkit_tasks_review::registration())
        .service(client)
        .configure(|builder| builder.tool(StandInShell))
        .build();
    let dir = session.cwd();
    turnkit_testkit::git::init_repo(dir);
    std::fs::write(dir.join("lib.rs"), "fn first() {}\nfn second() {}\n").expect("write");
    turnkit_testkit::git::git(dir, &["add", "."]);
    turnkit_testkit::git::git(dir, &["commit", "-q", "-m", "start"]);
    session
}
