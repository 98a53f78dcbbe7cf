//! The built-in tools through the facade alone, as a new user meets them: registered on
//! `turnkit::builder()` from `turnkit::tasks_regular`, called by a turn of the user's own.

#![cfg(all(feature = "regular", feature = "testkit"))]

use std::sync::Arc;
use std::time::Duration;

use turnkit::tasks_regular::BuiltinTools;
use turnkit::testkit::TestSession;
use turnkit::{
    ApprovalPolicy, CancellationToken, EventMsg, SandboxPolicy, SessionTask, TaskContext, TaskKind,
    TaskResult, UserInput,
};

/// A turn of the user's own that calls tools the way a model's turn would.
struct ThreeCalls;

#[turnkit::async_trait]
impl SessionTask for ThreeCalls {
    fn kind(&self) -> TaskKind {
        TaskKind::new("three_calls")
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        let calls = [
            (
                "update_plan",
                r#"{"plan":[{"step":"write the note","status":"in_progress"}]}"#,
            ),
            (
                "apply_patch",
                r#"{"input":"*** Begin Patch\n*** Add File: note.txt\n+written by a tool\n*** End Patch\n"}"#,
            ),
            ("shell", r#"{"command":["cat","note.txt"]}"#),
        ];
        let mut outputs = Vec::new();
        for (number, (name, arguments)) in calls.into_iter().enumerate() {
            let output = ctx
                .tools()
                .dispatch(
                    Arc::clone(&ctx),
                    &format!("call-{number}"),
                    name,
                    arguments,
                    cancellation_token.child_token(),
                )
                .await;
            outputs.push(format!("{name}: {}", output.success));
        }
        Ok(Some(outputs.join(", ")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_tools_registered_through_the_facade_plan_edit_and_run() {
    let builder = turnkit::builder()
        .tool_registry(BuiltinTools::new().registry())
        .approval_policy(ApprovalPolicy::Never)
        .sandbox_policy(SandboxPolicy::workspace_write());
    let mut session = TestSession::from_builder(builder)
        .event_timeout(Duration::from_secs(60))
        .build();
    let id = session
        .session()
        .spawn_task(Arc::new(ThreeCalls), Vec::new())
        .expect("the session takes the task");
    let events = session.events_until_terminal(&id).await;
    assert_eq!(
        std::fs::read_to_string(session.cwd().join("note.txt")).expect("the patch wrote it"),
        "written by a tool\n"
    );
    let end = events
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::ExecCommandEnd(end) => Some(end),
            _ => None,
        })
        .expect("the shell tool ran");
    assert_eq!(end.stdout, "written by a tool\n");
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("update_plan: true, apply_patch: true, shell: true".into())
        })
    );
    let types: Vec<String> = events
        .iter()
        .map(|event| {
            turnkit::serde_json::to_value(&event.msg).expect("events serialise")["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "task_started",
            "plan_update",
            "patch_apply_begin",
            "patch_apply_end",
            "exec_command_begin",
            "exec_command_output_delta",
            "exec_command_end",
            "task_complete"
        ]
    );
}
