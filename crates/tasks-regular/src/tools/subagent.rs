//! [`SubagentTool`]: the model hands a task to a one-shot sub-session running a regular turn,
//! and reads the child's final message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::Semaphore;
use turnkit_protocol::{ToolSpec, TurnAbortReason, UserInput};
use turnkit_session_core::{
    CancellationToken, ChildOutcome, Error as SessionError, TaskContext, Tool, ToolOutput,
    parse_arguments,
};

use super::approval;

/// How many subagents one session runs at once by default.
pub const DEFAULT_MAX_PARALLEL_SUBAGENTS: usize = 4;

/// The `subagent` tool: runs a task description as user input in a fresh sub-session (its own
/// history, the parent's task kinds, services and approval policy, and the parent's tools or a
/// subset of them), forwarding the child's events to the parent's stream with their origin,
/// and returns the child's final message.
///
/// Several calls of one response run side by side, at most the cap per session (a semaphore
/// per calling session: a child's own subagents never wait for their parent's permits). The
/// tree's depth limit applies: a call past it gets an output saying so. The child's approval
/// requests reach the root's client with its origin; interrupting the parent's turn ends every
/// child first (session-core's sub-session rules).
#[derive(Debug)]
pub struct SubagentTool {
    max_parallel: usize,
    /// One semaphore per calling session, dropped when no call of that session holds it.
    permits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

#[derive(Deserialize)]
struct SubagentArguments {
    task: String,
    #[serde(default)]
    tools: Option<Vec<String>>,
}

impl SubagentTool {
    /// A subagent tool running at most `max_parallel` children per session at once.
    pub fn new(max_parallel: usize) -> Self {
        Self {
            max_parallel: max_parallel.max(1),
            permits: Mutex::new(HashMap::new()),
        }
    }

    /// The calling session's share of the cap.
    fn slots(&self, session_id: &str) -> Slots<'_> {
        let mut permits = self.permits.lock().unwrap_or_else(PoisonError::into_inner);
        let semaphore = Arc::clone(
            permits
                .entry(session_id.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.max_parallel))),
        );
        Slots {
            tool: self,
            session_id: session_id.to_owned(),
            semaphore: Some(semaphore),
        }
    }
}

/// One call's hold on its session's semaphore; the semaphore leaves the tool's map with the
/// last call of that session, also when a call is dropped midway.
struct Slots<'a> {
    tool: &'a SubagentTool,
    session_id: String,
    semaphore: Option<Arc<Semaphore>>,
}

impl Slots<'_> {
    fn semaphore(&self) -> Arc<Semaphore> {
        Arc::clone(
            self.semaphore
                .as_ref()
                .expect("the semaphore is only taken by drop"),
        )
    }
}

impl Drop for Slots<'_> {
    fn drop(&mut self) {
        let mut permits = self
            .tool
            .permits
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        drop(self.semaphore.take());
        // Only the map holds it now: no call of that session is running or waiting.
        if permits
            .get(&self.session_id)
            .is_some_and(|kept| Arc::strong_count(kept) == 1)
        {
            permits.remove(&self.session_id);
        }
    }
}

impl Default for SubagentTool {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PARALLEL_SUBAGENTS)
    }
}

#[async_trait]
impl Tool for SubagentTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "subagent",
            "Hands a self-contained task to a subagent: a fresh agent with its own history that works in the same directory and returns its final message. Calls in one response run in parallel.",
            serde_json::json!({
                "type": "object",
                "properties": {
                    "task": {
                        "type": "string",
                        "description": "What the subagent should do, with everything it needs to know: it does not see this conversation."
                    },
                    "tools": {
                        "type": "array",
                        "items": { "type": "string" },
                        "description": "The tools the subagent may use, by name, among your own; all of yours when left out."
                    }
                },
                "required": ["task"],
                "additionalProperties": false
            }),
        )
    }

    // The child's tools may edit files; the parent's turn snapshots before it runs.
    fn can_change_files(&self) -> bool {
        true
    }

    fn supports_parallel(&self) -> bool {
        true
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        _call_id: &str,
        arguments: serde_json::Value,
        cancellation_token: CancellationToken,
    ) -> ToolOutput {
        let arguments = match parse_arguments::<SubagentArguments>("subagent", arguments) {
            Ok(arguments) => arguments,
            Err(output) => return output,
        };
        let tools = match &arguments.tools {
            None => ctx.tools().clone(),
            Some(names) => match ctx.tools().subset(names) {
                Ok(tools) => tools,
                Err(error) => {
                    return ToolOutput::failure(format!(
                        "the subagent was not started: {error}; name only tools you have"
                    ));
                }
            },
        };
        let slots = self.slots(ctx.session_id());
        let outcome = tokio::select! {
            permit = slots.semaphore().acquire_owned() => match permit {
                Ok(permit) => {
                    let outcome = run_child(&ctx, tools, arguments.task).await;
                    drop(permit);
                    outcome
                }
                Err(_) => Err(ToolOutput::failure("the subagent was not started: the tool is shutting down")),
            },
            () = cancellation_token.cancelled() => Err(ToolOutput::failure("the turn was interrupted before the subagent started")),
        };
        drop(slots);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(output) => return output,
        };
        match outcome {
            ChildOutcome::Completed { message } => {
                ToolOutput::success(message.unwrap_or_else(|| {
                    "(the subagent finished without a final message)".to_owned()
                }))
            }
            ChildOutcome::Failed { error } => {
                ToolOutput::failure(format!("the subagent failed: {error}"))
            }
            ChildOutcome::Aborted { reason } => {
                if ctx.cancellation_token().is_cancelled() {
                    return ToolOutput::failure(format!(
                        "the subagent was stopped ({}) because this turn was",
                        reason_name(reason)
                    ));
                }
                // The parent goes on only when the child was stopped by something other than
                // the user: the user's abort of the child's action stops the whole turn.
                approval::abort_turn(
                    &ctx,
                    "the subagent's turn was aborted, so this turn was stopped too",
                )
                .await
            }
        }
    }
}

/// Starts the child, runs the task in it with its events forwarded, and closes it.
///
/// # Cancel safety
///
/// Dropping the future drops the child's handle, which shuts the child down; the parent's turn
/// waits for that before its terminal event.
async fn run_child(
    ctx: &TaskContext,
    tools: turnkit_session_core::ToolRegistry,
    task: String,
) -> Result<ChildOutcome, ToolOutput> {
    let mut child =
        ctx.sub_session()
            .tools(tools)
            .start()
            .map_err(|error| match error {
                // The session's message advises the developer; the model needs its own.
                SessionError::DepthLimit { limit, .. } => ToolOutput::failure(format!(
                    "the subagent was not started: subagents nest at most {limit} deep and this agent is already at that depth; do this work yourself instead of delegating it"
                )),
                other => ToolOutput::failure(format!("the subagent was not started: {other}")),
            })?;
    let outcome = child
        .run_once_forwarded(turnkit_protocol::Op::UserInput {
            items: vec![UserInput::text(task)],
        })
        .await;
    child.close().await;
    outcome.map_err(|error| {
        ToolOutput::failure(format!("the subagent could not run its task: {error}"))
    })
}

fn reason_name(reason: TurnAbortReason) -> &'static str {
    match reason {
        TurnAbortReason::Interrupted => "interrupted",
        TurnAbortReason::Replaced => "replaced",
        TurnAbortReason::ReviewEnded => "review ended",
    }
}

#[cfg(test)]
mod tests {
    use super::SubagentTool;

    #[test]
    fn a_sessions_semaphore_is_shared_by_its_calls_and_leaves_with_the_last() {
        let tool = SubagentTool::new(2);
        let first = tool.slots("root");
        let second = tool.slots("root");
        let other = tool.slots("root.1");
        assert!(std::sync::Arc::ptr_eq(
            &first.semaphore(),
            &second.semaphore()
        ));
        assert!(!std::sync::Arc::ptr_eq(
            &first.semaphore(),
            &other.semaphore()
        ));
        drop(first);
        assert_eq!(tool.permits.lock().expect("not poisoned").len(), 2);
        drop(second);
        drop(other);
        assert!(tool.permits.lock().expect("not poisoned").is_empty());
    }
}
