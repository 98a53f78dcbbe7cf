//! A downstream task kind that runs a sub-session, written as a new user would, through the
//! facade alone: the child asks the root's client a question, the decision comes back down,
//! and the parent re-emits the child's events and a custom event of its own.

use std::sync::Arc;

use turnkit::{
    ApprovalRequest, CancellationToken, ChildOutcome, Event, EventMsg, Op, ReviewDecision,
    SessionTask, SubSessionOutcome, TaskContext, TaskKind, TaskRegistration, TaskResult, UserInput,
};

const RELEASE: TaskKind = TaskKind::from_static("release");
const DEPLOY: TaskKind = TaskKind::from_static("deploy");

/// Asks "deploy to production?" and reports the answer.
struct Deploy;

#[turnkit::async_trait]
impl SessionTask for Deploy {
    fn kind(&self) -> TaskKind {
        DEPLOY
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        _cancellation_token: CancellationToken,
    ) -> TaskResult {
        let request = ApprovalRequest::question(
            "deploy to production?",
            turnkit::serde_json::json!({"service": "api"}),
        );
        let decision = ctx.request_approval(request).await;
        Ok(Some(format!("deploy: {decision:?}")))
    }
}

/// Runs `deploy` in a child session and reports progress as a custom event.
struct Release;

#[turnkit::async_trait]
impl SessionTask for Release {
    fn kind(&self) -> TaskKind {
        RELEASE
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        _cancellation_token: CancellationToken,
    ) -> TaskResult {
        let mut child = ctx.sub_session().kinds([DEPLOY]).start()?;
        let outcome = child
            .run_once_forwarded(Op::Custom {
                name: "deploy".into(),
                payload: turnkit::serde_json::Value::Null,
            })
            .await?;
        let ended = child.close().await;
        ctx.send_event(EventMsg::Custom {
            name: "release_progress".into(),
            payload: turnkit::serde_json::json!({"stage": "deployed"}),
        });
        match (outcome, ended) {
            (ChildOutcome::Completed { message }, SubSessionOutcome::Completed) => Ok(message),
            other => Err(format!("the deploy did not complete: {other:?}").into()),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_downstream_task_runs_a_child_whose_question_reaches_the_client() {
    let mut session = turnkit::builder()
        .task(TaskRegistration::new(RELEASE, |_op| Ok(Arc::new(Release))))
        .task(TaskRegistration::new(DEPLOY, |_op| Ok(Arc::new(Deploy))))
        .build()
        .expect("a session");
    let id = session
        .submit(Op::Custom {
            name: "release".into(),
            payload: turnkit::serde_json::Value::Null,
        })
        .expect("submitted");

    let mut seen: Vec<Event> = Vec::new();
    while let Some(event) = session.next_event().await {
        if let EventMsg::ApprovalRequested {
            approval_id,
            origin,
            ..
        } = &event.msg
        {
            let origin = origin
                .as_ref()
                .expect("the child asked, so the origin says so");
            assert_eq!((origin.depth, &origin.task_kind), (1, &RELEASE));
            session
                .submit(Op::DecideApproval {
                    id: approval_id.clone(),
                    decision: ReviewDecision::Approved,
                })
                .expect("submitted");
        }
        let done = event.id == id && event.msg.is_terminal();
        seen.push(event);
        if done {
            break;
        }
    }
    let types: Vec<String> = seen
        .iter()
        .map(|event| {
            let wire = turnkit::serde_json::to_value(&event.msg).expect("events serialise");
            wire["type"].as_str().expect("a type").to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "task_started",
            "sub_session_started",
            "sub_session_event",
            "approval_requested",
            "sub_session_event",
            "sub_session_ended",
            "custom",
            "task_complete"
        ]
    );
    assert_eq!(
        seen.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("deploy: Approved".into())
        })
    );
}

/// Nests down to depth 2 and runs the user's shell command there.
#[cfg(all(feature = "shell", feature = "testkit"))]
struct NestShell;

#[cfg(all(feature = "shell", feature = "testkit"))]
#[turnkit::async_trait]
impl SessionTask for NestShell {
    fn kind(&self) -> TaskKind {
        TaskKind::from_static("nest_shell")
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        _cancellation_token: CancellationToken,
    ) -> TaskResult {
        let mut child = ctx.sub_session().start()?;
        let op = if ctx.depth() == 0 {
            Op::Custom {
                name: "nest_shell".into(),
                payload: turnkit::serde_json::Value::Null,
            }
        } else {
            Op::RunUserShellCommand {
                command: "echo $$ > pid; sleep 60".into(),
            }
        };
        let outcome = child.run_once_forwarded(op).await?;
        Ok(Some(format!("{outcome:?}")))
    }
}

#[cfg(all(feature = "shell", feature = "testkit"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_kills_a_grandchilds_command_and_leaves_no_process() {
    use std::time::Duration;

    let dir = tempfile::tempdir().expect("a temp dir");
    let mut session = turnkit::builder()
        .cwd(dir.path())
        .task(TaskRegistration::new(
            TaskKind::from_static("nest_shell"),
            |_op| Ok(Arc::new(NestShell)),
        ))
        .build()
        .expect("a session");
    session
        .submit(Op::Custom {
            name: "nest_shell".into(),
            payload: turnkit::serde_json::Value::Null,
        })
        .expect("submitted");
    let pid_file = dir.path().join("pid");
    let pgid = turnkit::testkit::process::wait_for_pid_file(&pid_file).await;
    assert!(!turnkit::testkit::process::live_group_members(pgid).is_empty());

    session.submit(Op::Shutdown).expect("submitted");
    let mut ended = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(30), session.next_event())
        .await
        .expect("the tree shuts down in bounded time")
    {
        if let EventMsg::SubSessionEnded { origin, outcome } = &event.msg {
            ended.push((origin.depth, *outcome));
        }
    }
    assert_eq!(
        ended,
        [
            (2, SubSessionOutcome::Aborted),
            (1, SubSessionOutcome::Aborted)
        ]
    );
    assert!(
        turnkit::testkit::process::live_group_members(pgid).is_empty(),
        "the grandchild's command is gone once the root has shut down"
    );
}
