//! A downstream crate's own task kind, defined and tested through the `turnkit` facade alone.
//!
//! This is what a crate outside this workspace writes: a task that asks for approval before
//! "deploying", stops promptly when cancelled, and leaves a cleanup event when aborted.

use std::sync::Arc;
use std::time::Duration;

use insta::assert_json_snapshot;
use turnkit::testkit::TestSession;
use turnkit::{
    ApprovalRequest, CancellationToken, EventMsg, Op, ReviewDecision, SessionTask, TaskContext,
    TaskKind, TaskRegistration, TaskResult, UserInput,
};

const DEPLOY: TaskKind = TaskKind::from_static("deploy");

/// Deploys the service named in the payload, after the user approves.
struct Deploy {
    service: String,
}

#[async_trait::async_trait]
impl SessionTask for Deploy {
    fn kind(&self) -> TaskKind {
        DEPLOY
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        let decision = ctx
            .request_approval(
                ApprovalRequest::question(
                    format!("deploy {} to production?", self.service),
                    serde_json::json!({"service": self.service, "steps": ["build", "upload", "switch"]}),
                )
                .with_reason("ship the release"),
            )
            .await;
        if decision != ReviewDecision::Approved && decision != ReviewDecision::ApprovedForSession {
            return Ok(Some(format!("{} not deployed", self.service)));
        }
        for step in ["build", "upload", "switch"] {
            tokio::select! {
                () = cancellation_token.cancelled() => return Ok(None),
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            ctx.send_event(EventMsg::BackgroundEvent {
                message: format!("{step} done"),
            });
        }
        Ok(Some(format!("{} deployed", self.service)))
    }

    async fn abort(&self, ctx: Arc<TaskContext>) {
        ctx.send_event(EventMsg::BackgroundEvent {
            message: format!("rolled back {}", self.service),
        });
    }
}

fn registration() -> TaskRegistration {
    TaskRegistration::new(DEPLOY, |op| match op {
        Op::Custom { payload, .. } => match payload.as_str() {
            Some(service) if !service.is_empty() => Ok(Arc::new(Deploy {
                service: service.to_owned(),
            })),
            _ => Err("the payload must name the service to deploy, for example \"api\"".into()),
        },
        _ => Err("deploy runs from Op::Custom".into()),
    })
}

fn deploy(service: &str) -> Op {
    Op::Custom {
        name: "deploy".into(),
        payload: service.into(),
    }
}

fn approval_id(event: &turnkit::Event) -> String {
    match &event.msg {
        EventMsg::ApprovalRequested { approval_id, .. } => approval_id.clone(),
        other => panic!("expected an approval request, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn approved_deploy_runs_every_step() {
    let mut session = TestSession::from_builder(turnkit::builder())
        .task(registration())
        .build();
    let id = session.submit(deploy("api"));
    let asked = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    session.submit(Op::DecideApproval {
        id: approval_id(asked.last().unwrap()),
        decision: ReviewDecision::Approved,
    });
    session.events_until_terminal(&id).await;
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn interrupted_deploy_rolls_back_before_turn_aborted() {
    let mut session = TestSession::from_builder(turnkit::builder())
        .task(registration())
        .build();
    let id = session.submit(deploy("api"));
    let asked = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    session.submit(Op::DecideApproval {
        id: approval_id(asked.last().unwrap()),
        decision: ReviewDecision::Approved,
    });
    session.events_until(|event| matches!(&event.msg, EventMsg::BackgroundEvent { message } if message == "build done")).await;
    session.submit(Op::Interrupt);
    session.events_until_terminal(&id).await;
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn deploy_without_a_service_is_a_clear_error() {
    let mut session = TestSession::from_builder(turnkit::builder())
        .task(registration())
        .build();
    let id = session.submit(Op::Custom {
        name: "deploy".into(),
        payload: serde_json::Value::Null,
    });
    let event = session.next_event().await;
    assert_eq!(event.id, id);
    let EventMsg::Error { message } = event.msg else {
        panic!("expected an error")
    };
    assert!(message.contains("must name the service"), "{message}");
}
