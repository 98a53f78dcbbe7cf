//! Approvals: request ids, decisions routed back, `Abort` on interrupt, unknown ids, session-wide approval.

mod support;

use insta::assert_json_snapshot;
use support::{custom, types};
use turnkit_protocol::{ApprovalRequest, EventMsg, Op, ReviewDecision, TaskKind};
use turnkit_testkit::{FnTask, TestSession};

/// Asks to run `cargo test` and finishes with the decision it got.
fn asker() -> FnTask {
    FnTask::new(
        TaskKind::from_static("asker"),
        |ctx, _input, _token| async move {
            let decision = ctx
                .request_approval(
                    ApprovalRequest::command(
                        vec!["cargo".into(), "test".into()],
                        ctx.cwd().to_owned(),
                    )
                    .with_call_id("call-7")
                    .with_reason("run the tests"),
                )
                .await;
            Ok(Some(format!("{decision:?}")))
        },
    )
}

fn approval_id(event: &turnkit_protocol::Event) -> String {
    match &event.msg {
        EventMsg::ApprovalRequested { approval_id, .. } => approval_id.clone(),
        other => panic!("expected an approval request, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn approval_round_trip_routes_the_decision_back() {
    let mut session = TestSession::builder().task(asker().registration()).build();
    let id = session.submit(custom("asker"));
    let request = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    let approval = approval_id(request.last().unwrap());
    assert_eq!(session.session().pending_approvals(), 1);
    session.submit(Op::DecideApproval {
        id: approval,
        decision: ReviewDecision::Denied,
    });
    let events = session.events_until_terminal(&id).await;
    assert_eq!(
        events.last().unwrap().msg,
        EventMsg::TaskComplete {
            last_agent_message: Some("Denied".into())
        }
    );
    assert_eq!(session.session().pending_approvals(), 0);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn approval_pending_at_interrupt_resolves_abort_not_denied() {
    let observed = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = observed.clone();
    let task = FnTask::new(
        TaskKind::from_static("asker"),
        move |ctx, _input, _token| {
            let seen = seen.clone();
            async move {
                let decision = ctx
                    .request_approval(
                        ApprovalRequest::command(
                            vec!["rm".into(), "-rf".into(), "build".into()],
                            ctx.cwd().to_owned(),
                        )
                        .with_call_id("call-1"),
                    )
                    .await;
                *seen.lock().unwrap() = Some(decision);
                Ok(None)
            }
        },
    );
    let mut session = TestSession::builder().task(task.registration()).build();
    let id = session.submit(custom("asker"));
    let request = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    let approval = approval_id(request.last().unwrap());
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_eq!(types(&events), ["turn_aborted"]);
    assert_eq!(*observed.lock().unwrap(), Some(ReviewDecision::Abort));
    assert_eq!(
        session.session().pending_approvals(),
        0,
        "no pending approval survives its turn"
    );
    // A decision that arrives too late is a warning and changes nothing.
    let late = session.submit(Op::DecideApproval {
        id: approval,
        decision: ReviewDecision::Approved,
    });
    let warning = session.next_event().await;
    assert_eq!(warning.id, late);
    assert!(matches!(warning.msg, EventMsg::Warning { .. }));
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn decision_for_an_unknown_id_is_a_warning() {
    let mut session = TestSession::builder().task(asker().registration()).build();
    let id = session.submit(custom("asker"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    session.submit(Op::DecideApproval {
        id: "approval-999".into(),
        decision: ReviewDecision::Approved,
    });
    let warning = session.next_event().await;
    let EventMsg::Warning { message } = &warning.msg else {
        panic!("expected a warning, got {warning:?}")
    };
    assert!(message.contains("approval-999"), "{message}");
    assert_eq!(
        session.session().pending_approvals(),
        1,
        "the real request still waits"
    );
    session.submit(Op::Interrupt);
    session.events_until_terminal(&id).await;
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn approved_for_session_is_not_asked_again() {
    let mut session = TestSession::builder().task(asker().registration()).build();
    let first = session.submit(custom("asker"));
    let request = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    session.submit(Op::DecideApproval {
        id: approval_id(request.last().unwrap()),
        decision: ReviewDecision::ApprovedForSession,
    });
    session.events_until_terminal(&first).await;
    let again = session.run(custom("asker")).await;
    assert_eq!(
        types(&again),
        ["task_started", "task_complete"],
        "no second request"
    );
    assert_eq!(
        again[1].msg,
        EventMsg::TaskComplete {
            last_agent_message: Some("Approved".into())
        }
    );
}

#[tokio::test(start_paused = true)]
async fn approval_decision_is_not_stuck_behind_a_busy_turn() {
    // The asking task also floods events; the decision still lands at once.
    let task = FnTask::new(
        TaskKind::from_static("busy-asker"),
        |ctx, _input, _token| async move {
            let noisy = ctx.clone();
            let flood = async move {
                for n in 0..1000 {
                    noisy.send_event(EventMsg::AgentMessageDelta {
                        delta: format!("{n} "),
                    });
                    tokio::task::yield_now().await;
                }
            };
            let ask = ctx.request_approval(
                ApprovalRequest::command(vec!["make".into()], ctx.cwd().to_owned())
                    .with_call_id("c"),
            );
            let (decision, ()) = tokio::join!(ask, flood);
            Ok(Some(format!("{decision:?}")))
        },
    );
    let mut session = TestSession::builder().task(task.registration()).build();
    let id = session.submit(custom("busy-asker"));
    let request = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    session.submit(Op::DecideApproval {
        id: approval_id(request.last().unwrap()),
        decision: ReviewDecision::Approved,
    });
    let events = session.events_until_terminal(&id).await;
    assert_eq!(
        events.last().unwrap().msg,
        EventMsg::TaskComplete {
            last_agent_message: Some("Approved".into())
        }
    );
}
