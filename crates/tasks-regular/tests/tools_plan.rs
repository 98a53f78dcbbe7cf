//! The `update_plan` tool: the plan as a `plan_update` event, never an approval.

#[path = "tools_support/mod.rs"]
mod support;

use insta::assert_json_snapshot;
use serde_json::json;
use support::{is_approval, normalize, script, session, tool_outputs};
use turnkit_protocol::ApprovalPolicy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_plan_sends_the_plan_and_tells_the_model_it_was_updated() {
    let mut session = session(ApprovalPolicy::Always);
    let events = session
        .run(script(&[&[(
            "update_plan",
            json!({
                "explanation": "start with the failing test",
                "plan": [
                    { "step": "reproduce the bug", "status": "completed" },
                    { "step": "fix the parser", "status": "in_progress" },
                    { "step": "run the tests", "status": "pending" }
                ]
            }),
        )]]))
        .await;
    assert!(!events.iter().any(is_approval), "a plan asks nothing");
    assert_eq!(tool_outputs(&events)[0]["text"], "Plan updated");
    assert_json_snapshot!(normalize(&session, &events));
}
