//! [`UpdatePlanTool`]: the model keeps a step list with statuses; each call is a `plan_update`
//! event a client can show.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use turnkit_protocol::{EventMsg, PlanStep, ToolSpec};
use turnkit_session_core::{CancellationToken, TaskContext, Tool, ToolOutput, parse_arguments};

/// The `update_plan` tool: the whole plan (every step with its status, and optionally why it
/// changed) sent as a `plan_update` event; the model reads "Plan updated".
#[derive(Clone, Debug, Default)]
pub struct UpdatePlanTool;

#[derive(Deserialize)]
struct UpdatePlanArguments {
    #[serde(default)]
    explanation: Option<String>,
    plan: Vec<PlanStep>,
}

impl UpdatePlanTool {
    /// The tool.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl Tool for UpdatePlanTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "update_plan",
            "Records your plan: every step with its status (at most one in_progress). Send the whole list each time.",
            serde_json::json!({
                "type": "object",
                "properties": {
                    "explanation": { "type": "string", "description": "Why the plan changed, if it did." },
                    "plan": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "step": { "type": "string" },
                                "status": { "type": "string", "enum": ["pending", "in_progress", "completed"] }
                            },
                            "required": ["step", "status"],
                            "additionalProperties": false
                        }
                    }
                },
                "required": ["plan"],
                "additionalProperties": false
            }),
        )
    }

    fn supports_parallel(&self) -> bool {
        true
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        _call_id: &str,
        arguments: serde_json::Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        let arguments = match parse_arguments::<UpdatePlanArguments>("update_plan", arguments) {
            Ok(arguments) => arguments,
            Err(output) => return output,
        };
        ctx.send_event(EventMsg::PlanUpdate {
            explanation: arguments.explanation,
            plan: arguments.plan,
        });
        ToolOutput::success("Plan updated")
    }
}
