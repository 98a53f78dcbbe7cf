//! The model's `shell` tool under a session's sandbox policy, through the facade alone: a
//! write refused under `read_only`, then run again without the sandbox once the user approves.
//!
//! Needs the helper binary `turnkit-sandbox-exec`: `cargo test --workspace` builds it; for
//! `cargo test -p turnkit` alone build it first (`cargo build -p turnkit-sandbox --bin
//! turnkit-sandbox-exec`) or name it in `TURNKIT_SANDBOX_HELPER`. Without it the test fails
//! and says so.

#![cfg(all(feature = "regular", feature = "testkit"))]

use std::sync::Arc;
use std::time::Duration;

use turnkit::tasks_regular::BuiltinTools;
use turnkit::testkit::TestSession;
use turnkit::{
    ApprovalPolicy, ApprovalSubject, CancellationToken, EventMsg, Op, ReviewDecision,
    SandboxPolicy, SessionTask, TaskContext, TaskKind, TaskResult, UserInput,
};

/// A turn of the user's own that calls the `shell` tool once, as a model's turn would.
struct Touch;

#[turnkit::async_trait]
impl SessionTask for Touch {
    fn kind(&self) -> TaskKind {
        TaskKind::new("touch")
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        let output = ctx
            .tools()
            .dispatch(
                Arc::clone(&ctx),
                "call-1",
                "shell",
                r#"{"command":["touch","made"]}"#,
                cancellation_token.child_token(),
            )
            .await;
        Ok(Some(output.text))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_is_rerun_without_the_sandbox_when_the_user_approves() {
    if let Err(error) = turnkit::sandbox::locate_helper(None) {
        panic!("this test needs the sandbox helper: {error}");
    }
    let builder = turnkit::builder()
        .tool_registry(BuiltinTools::new().registry())
        .approval_policy(ApprovalPolicy::OnRequest)
        .sandbox_policy(SandboxPolicy::read_only());
    let mut session = TestSession::from_builder(builder)
        .event_timeout(Duration::from_secs(60))
        .build();
    let id = session
        .session()
        .spawn_task(Arc::new(Touch), Vec::new())
        .expect("the session takes the task");
    let asked = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    assert!(
        !session.cwd().join("made").exists(),
        "the sandbox refused it"
    );
    let EventMsg::ApprovalRequested {
        approval_id,
        request,
        ..
    } = &asked.last().expect("asked").msg
    else {
        unreachable!("events_until stops at an approval request");
    };
    assert!(matches!(request.subject, ApprovalSubject::Command { .. }));
    assert!(
        request
            .reason
            .as_deref()
            .is_some_and(|reason| reason.contains("sandbox refused")),
        "{request:?}"
    );
    session.submit(Op::DecideApproval {
        id: approval_id.clone(),
        decision: ReviewDecision::Approved,
    });
    session.events_until_terminal(&id).await;
    assert!(session.cwd().join("made").exists(), "the rerun wrote it");
}
