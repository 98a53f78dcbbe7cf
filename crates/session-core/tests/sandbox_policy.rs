//! A session carries a sandbox policy for its tasks' commands, and a sub-session runs under
//! its parent's or a stricter one, never a broader one.

mod support;

use support::custom;
use turnkit_protocol::{EventMsg, SandboxPolicy, TaskKind};
use turnkit_session_core::{ChildOutcome, Error};
use turnkit_testkit::{FnTask, TestSession};

/// Reports the sandbox policy of its session as JSON.
fn report() -> FnTask {
    FnTask::new(
        TaskKind::from_static("report"),
        |ctx, _input, _token| async move { Ok(Some(serde_json::to_string(ctx.sandbox_policy())?)) },
    )
}

/// Starts a child under `asked` (or the default), asks it to report, and returns its answer;
/// a refused child is reported as the error's message.
fn parent(asked: Option<SandboxPolicy>) -> FnTask {
    FnTask::new(
        TaskKind::from_static("parent"),
        move |ctx, _input, _token| {
            let asked = asked.clone();
            async move {
                let mut builder = ctx.sub_session();
                if let Some(asked) = asked {
                    builder = builder.sandbox_policy(asked);
                }
                let mut child = match builder.start() {
                    Ok(child) => child,
                    Err(error @ Error::BroaderSandbox { .. }) => {
                        return Ok(Some(error.to_string()));
                    }
                    Err(error) => return Err(error.into()),
                };
                let outcome = child.run_once(custom("report")).await?;
                child.close().await;
                match outcome {
                    ChildOutcome::Completed { message } => Ok(message),
                    other => Err(format!("the child did not complete: {other:?}").into()),
                }
            }
        },
    )
}

async fn child_answer(
    parent_policy: Option<SandboxPolicy>,
    asked: Option<SandboxPolicy>,
) -> String {
    let mut session = TestSession::builder()
        .task(parent(asked).registration())
        .task(report().registration())
        .configure(|builder| match parent_policy {
            Some(policy) => builder.sandbox_policy(policy),
            None => builder,
        })
        .build();
    let events = session.run(custom("parent")).await;
    let Some(EventMsg::TaskComplete {
        last_agent_message: Some(answer),
    }) = events.last().map(|event| event.msg.clone())
    else {
        panic!("the parent completed with an answer: {events:#?}");
    };
    answer
}

fn json(policy: &SandboxPolicy) -> String {
    serde_json::to_string(policy).expect("serialises")
}

#[tokio::test(start_paused = true)]
async fn a_session_writes_only_its_workspace_unless_told_and_its_child_inherits_its_policy() {
    assert_eq!(
        child_answer(None, None).await,
        json(&SandboxPolicy::workspace_write())
    );
    let workspace = SandboxPolicy::workspace_write().with_writable_root("/cache");
    assert_eq!(
        child_answer(Some(workspace.clone()), None).await,
        json(&workspace)
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_may_ask_for_a_stricter_sandbox_but_not_a_broader_one() {
    let workspace = SandboxPolicy::workspace_write();
    assert_eq!(
        child_answer(Some(workspace.clone()), Some(SandboxPolicy::read_only())).await,
        json(&SandboxPolicy::read_only())
    );
    assert_eq!(
        child_answer(Some(workspace), Some(SandboxPolicy::FullAccess)).await,
        "a sub-session cannot run under the `full_access` sandbox policy when its parent runs under `workspace_write`: choose `workspace_write` or a stricter one"
    );
    assert!(
        child_answer(
            Some(SandboxPolicy::read_only()),
            Some(SandboxPolicy::read_only().with_network_access(true))
        )
        .await
        .starts_with(
            "a sub-session cannot run under the `read_only with network access` sandbox policy"
        ),
        "network access is broader"
    );
}
