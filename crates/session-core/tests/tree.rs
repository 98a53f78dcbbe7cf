//! The session tree: sub-sessions, their approvals at the root, and their ends.
//!
//! Each test reads the root session's stream, as a client would, and snapshots it normalised.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod support;

use insta::assert_json_snapshot;
use support::{alive_tasks, assert_tasks_settle_to, custom, types};
use turnkit_protocol::{
    ApprovalPolicy, ApprovalRequest, ContentItem, Event, EventMsg, Op, ResponseItem,
    ReviewDecision, Role, SubSessionOutcome, TaskKind,
};
use turnkit_session_core::{ChildOutcome, Error, RolloutRecord, SubSession, read_rollout};
use turnkit_testkit::{FnTask, TestSession};

/// Asks the root's client a question and finishes with the decision it got.
fn asker() -> FnTask {
    FnTask::new(
        TaskKind::from_static("asker"),
        |ctx, _input, _token| async move {
            let decision = ctx
                .request_approval(ApprovalRequest::question(
                    "may I?",
                    serde_json::json!({ "asked_by": ctx.session_id() }),
                ))
                .await;
            Ok(Some(format!("{decision:?}")))
        },
    )
}

/// Runs `asker` in one child, relaying the child's events, and reports both ends.
fn parent() -> FnTask {
    FnTask::new(
        TaskKind::from_static("parent"),
        |ctx, _input, _token| async move {
            let mut child = ctx.sub_session().start()?;
            let outcome = child.run_once_forwarded(custom("asker")).await?;
            let ended = child.close().await;
            Ok(Some(format!("{outcome:?}; {ended:?}")))
        },
    )
}

/// Runs `asker` in two children at once.
fn pair() -> FnTask {
    FnTask::new(
        TaskKind::from_static("pair"),
        |ctx, _input, _token| async move {
            let mut first = ctx.sub_session().start()?;
            let mut second = ctx.sub_session().start()?;
            let (a, b) = tokio::join!(
                first.run_once(custom("asker")),
                second.run_once(custom("asker"))
            );
            Ok(Some(format!(
                "{}={:?} {}={:?}",
                first.id(),
                a?,
                second.id(),
                b?
            )))
        },
    )
}

/// Nests itself down to depth 2, where it waits to be cancelled.
fn nest() -> FnTask {
    FnTask::new(
        TaskKind::from_static("nest"),
        |ctx, _input, token| async move {
            if ctx.depth() < 2 {
                let mut child = ctx.sub_session().start()?;
                let outcome = child.run_once_forwarded(custom("nest")).await?;
                return Ok(Some(format!("{outcome:?}")));
            }
            ctx.send_event(EventMsg::AgentMessage {
                message: "deepest".into(),
            });
            token.cancelled().await;
            Ok(None)
        },
    )
}

/// Starts a child that runs `nest`, so the depth limit decides how deep it goes.
fn deep() -> FnTask {
    FnTask::new(
        TaskKind::from_static("deep"),
        |ctx, _input, _token| async move {
            match ctx.sub_session().start() {
                Ok(mut child) => {
                    let outcome = child.run_once_forwarded(custom("deep")).await?;
                    Ok(Some(format!("{outcome:?}")))
                }
                Err(error) => Err(error.into()),
            }
        },
    )
}

fn panicker() -> FnTask {
    FnTask::new(
        TaskKind::from_static("panicker"),
        |_ctx, _input, _token| async move {
            tokio::task::yield_now().await;
            panic!("planned panic in a child")
        },
    )
}

fn waiter() -> FnTask {
    FnTask::new(
        TaskKind::from_static("waiter"),
        |_ctx, _input, token| async move {
            token.cancelled().await;
            Ok(None)
        },
    )
}

fn tree_session() -> TestSession {
    let mut builder = TestSession::builder();
    for task in [
        asker(),
        parent(),
        pair(),
        nest(),
        deep(),
        panicker(),
        waiter(),
    ] {
        builder = builder.task(task.registration());
    }
    builder.build()
}

fn approval_of(event: &Event) -> Option<(String, String)> {
    match &event.msg {
        EventMsg::ApprovalRequested {
            approval_id,
            origin: Some(origin),
            ..
        } => Some((approval_id.clone(), origin.sub_session_id.clone())),
        _ => None,
    }
}

/// Each event's type, with a relayed child event as `child:<type>`.
fn labels(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|event| match &event.msg {
            EventMsg::SubSessionEvent { event, .. } => {
                format!("child:{}", types(std::slice::from_ref(event))[0])
            }
            _ => types(std::slice::from_ref(event)).remove(0),
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn child_approval_reaches_the_root_and_the_decision_comes_back_down() {
    let mut session = tree_session();
    let id = session.submit(custom("parent"));
    let asked = session
        .events_until(|event| approval_of(event).is_some())
        .await;
    let (approval, child) = approval_of(asked.last().unwrap()).unwrap();
    assert_eq!(child, "test-session.1");
    session.submit(Op::DecideApproval {
        id: approval,
        decision: ReviewDecision::Approved,
    });
    let events = session.events_until_terminal(&id).await;
    assert_eq!(
        events.last().unwrap().msg,
        EventMsg::TaskComplete {
            last_agent_message: Some(
                r#"Completed { message: Some("Approved") }; Completed"#.into()
            )
        }
    );
    assert_eq!(session.session().pending_approvals(), 0);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn two_children_each_get_their_own_decision() {
    let mut session = tree_session();
    let id = session.submit(custom("pair"));
    let mut asked = Vec::new();
    while asked.len() < 2 {
        let event = session.next_event().await;
        asked.extend(approval_of(&event));
    }
    asked.sort_by(|a, b| a.1.cmp(&b.1));
    // Decide in the opposite order from the children's, with different answers.
    session.submit(Op::DecideApproval {
        id: asked[1].0.clone(),
        decision: ReviewDecision::Denied,
    });
    session.submit(Op::DecideApproval {
        id: asked[0].0.clone(),
        decision: ReviewDecision::Approved,
    });
    let events = session.events_until_terminal(&id).await;
    assert_eq!(
        events.last().unwrap().msg,
        EventMsg::TaskComplete {
            last_agent_message: Some(
                r#"test-session.1=Completed { message: Some("Approved") } test-session.2=Completed { message: Some("Denied") }"#
                    .into()
            )
        }
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn interrupt_while_a_child_waits_for_approval_aborts_the_child_first() {
    let mut session = tree_session();
    let id = session.submit(custom("parent"));
    session
        .events_until(|event| approval_of(event).is_some())
        .await;
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_eq!(
        labels(&events),
        ["child:turn_aborted", "sub_session_ended", "turn_aborted"],
        "the child's terminal event, then its end, then the parent's terminal event"
    );
    assert_eq!(session.session().pending_approvals(), 0);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_grandchild_then_its_parent_and_leaves_no_task() {
    let before = alive_tasks();
    let mut session = tree_session();
    session.submit(custom("nest"));
    session
        .events_until(|event| {
            matches!(&event.msg, EventMsg::SubSessionStarted { origin, .. } if origin.depth == 2)
        })
        .await;
    let events = session.shutdown().await;
    let ended: Vec<(u32, SubSessionOutcome)> = events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::SubSessionEnded { origin, outcome } => Some((origin.depth, *outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ended,
        [
            (2, SubSessionOutcome::Aborted),
            (1, SubSessionOutcome::Aborted)
        ],
        "the grandchild ends before its parent"
    );
    assert_eq!(
        labels(&events[events.len() - 2..]),
        ["turn_aborted", "shutdown_complete"]
    );
    assert_json_snapshot!(session.normalize(session.seen()));
    drop(session);
    assert_tasks_settle_to(before, "no tokio task outlives the tree").await;
}

#[tokio::test(start_paused = true)]
async fn a_sub_session_past_the_depth_limit_is_refused() {
    let mut session = TestSession::builder()
        .task(deep().registration())
        .configure(|builder| builder.max_depth(1))
        .build();
    let events = session.run(custom("deep")).await;
    let EventMsg::TaskComplete {
        last_agent_message: Some(message),
    } = &events.last().unwrap().msg
    else {
        panic!("the parent completes: {events:?}")
    };
    assert!(
        message.contains("depth 2") && message.contains("depth limit of 1"),
        "{message}"
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn a_sub_session_with_a_broader_policy_is_refused() {
    let refusal = FnTask::new(
        TaskKind::from_static("broader"),
        |ctx, _input, _token| async move {
            let broader = ctx
                .sub_session()
                .approval_policy(ApprovalPolicy::Never)
                .start();
            let Err(error @ Error::BroaderPolicy { .. }) = broader else {
                return Err("a broader policy was not refused".into());
            };
            let stricter = ctx
                .sub_session()
                .approval_policy(ApprovalPolicy::Always)
                .start()?;
            drop(stricter);
            Ok(Some(error.to_string()))
        },
    );
    let mut session = TestSession::builder()
        .task(refusal.registration())
        .configure(|builder| builder.approval_policy(ApprovalPolicy::Untrusted))
        .build();
    let events = session.run(custom("broader")).await;
    assert_eq!(
        events.last().unwrap().msg,
        EventMsg::TaskComplete {
            last_agent_message: Some(
                "a sub-session cannot run under the `never` approval policy when its parent runs under `untrusted`: choose `untrusted` or a stricter one".into()
            )
        }
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn a_child_that_panics_fails_and_the_parent_goes_on() {
    let task = FnTask::new(
        TaskKind::from_static("run-panicker"),
        |ctx, _input, _token| async move {
            let mut child = ctx.sub_session().start()?;
            let outcome = child.run_once_forwarded(custom("panicker")).await?;
            assert!(
                matches!(outcome, ChildOutcome::Failed { .. }),
                "{outcome:?}"
            );
            Ok(Some(format!("{:?}", child.close().await)))
        },
    );
    let mut session = TestSession::builder()
        .task(task.registration())
        .task(panicker().registration())
        .build();
    let events = session.run(custom("run-panicker")).await;
    assert_eq!(
        events.last().unwrap().msg,
        EventMsg::TaskComplete {
            last_agent_message: Some("Failed".into())
        }
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_shuts_the_child_down_before_the_parent_ends() {
    let task = FnTask::new(
        TaskKind::from_static("dropper"),
        |ctx, _input, _token| async move {
            let mut child: SubSession = ctx.sub_session().start()?;
            let id = child.submit(custom("waiter"))?;
            while let Some(event) = child.next_event().await {
                if event.id == id && matches!(event.msg, EventMsg::TaskStarted { .. }) {
                    break;
                }
            }
            drop(child);
            Ok(Some("dropped".into()))
        },
    );
    let before = alive_tasks();
    let mut session = TestSession::builder()
        .task(task.registration())
        .task(waiter().registration())
        .build();
    let events = session.run(custom("dropper")).await;
    assert_eq!(
        labels(&events),
        [
            "task_started",
            "sub_session_started",
            "sub_session_ended",
            "task_complete"
        ]
    );
    assert_json_snapshot!(session.normalize(session.seen()));
    drop(session);
    assert_tasks_settle_to(before, "no tokio task outlives the tree").await;
}

#[tokio::test(start_paused = true)]
async fn approved_for_session_given_to_a_child_stays_with_that_child() {
    let twice = FnTask::new(
        TaskKind::from_static("ask-twice"),
        |ctx, _input, _token| async move {
            let question = || ApprovalRequest::question("may I?", serde_json::Value::Null);
            let first = ctx.request_approval(question()).await;
            let second = ctx.request_approval(question()).await;
            Ok(Some(format!("{first:?} {second:?}")))
        },
    );
    let two_children = FnTask::new(
        TaskKind::from_static("two-children"),
        |ctx, _input, _token| async move {
            let mut first = ctx.sub_session().start()?;
            let a = first.run_once(custom("ask-twice")).await?;
            let mut second = ctx.sub_session().start()?;
            let b = second.run_once(custom("ask-twice")).await?;
            Ok(Some(format!("{a:?} / {b:?}")))
        },
    );
    let mut session = TestSession::builder()
        .task(twice.registration())
        .task(two_children.registration())
        .build();
    let id = session.submit(custom("two-children"));
    // The first child's approval for its session spares it the second question; the second
    // child is asked both times.
    let mut decisions = [
        ReviewDecision::ApprovedForSession,
        ReviewDecision::Denied,
        ReviewDecision::Denied,
    ]
    .into_iter();
    let mut asked_by = Vec::new();
    loop {
        let event = session.next_event().await;
        if let Some((approval, child)) = approval_of(&event) {
            asked_by.push(child);
            let decision = decisions.next().expect("three questions reach the root");
            session.submit(Op::DecideApproval {
                id: approval,
                decision,
            });
        }
        if event.id == id && event.msg.is_terminal() {
            assert_eq!(
                event.msg,
                EventMsg::TaskComplete {
                    last_agent_message: Some(
                        r#"Completed { message: Some("ApprovedForSession Approved") } / Completed { message: Some("Denied Denied") }"#
                            .into()
                    )
                }
            );
            break;
        }
    }
    assert_eq!(
        asked_by,
        ["test-session.1", "test-session.2", "test-session.2"]
    );
}

/// Sets its flag when dropped: shows that a child's run was dropped, which is what kills the
/// processes a task started (exec kills a command's process group when its future is dropped).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_child_that_does_not_stop_within_its_bound_is_shut_down_hard_and_lost() {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    // Ignores its token, and its grace period is longer than the bound: only a hard shutdown
    // ends it in time.
    let stuck = FnTask::new(
        TaskKind::from_static("stuck"),
        move |_ctx, _input, _token| {
            let guard = DropFlag(Arc::clone(&flag));
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(None)
            }
        },
    );
    let holder = FnTask::new(
        TaskKind::from_static("holder"),
        |ctx, _input, _token| async move {
            let mut child = ctx
                .sub_session()
                .stop_bound(Duration::from_millis(500))
                .start()?;
            let id = child.submit(custom("stuck"))?;
            while let Some(event) = child.next_event().await {
                if event.id == id {
                    break;
                }
            }
            Ok(Some(format!("{:?}", child.close().await)))
        },
    );
    let mut session = TestSession::builder()
        .task(holder.registration())
        .task(stuck.registration().grace_period(Duration::from_secs(1)))
        .configure(|builder| builder.abort_hook_timeout(Duration::from_secs(60)))
        .build();
    let started = tokio::time::Instant::now();
    let events = session.run(custom("holder")).await;
    assert_eq!(
        events.last().unwrap().msg,
        EventMsg::TaskComplete {
            last_agent_message: Some("Lost".into())
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the stop bound, not the grace period or the hook timeout, decides: {:?}",
        started.elapsed()
    );
    tokio::task::yield_now().await;
    assert!(
        dropped.load(Ordering::SeqCst),
        "the child's run was dropped"
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn a_handle_kept_past_its_parent_turn_does_not_hold_the_parent() {
    let kept: Arc<Mutex<Option<SubSession>>> = Arc::default();
    let keeper = {
        let kept = Arc::clone(&kept);
        FnTask::new(
            TaskKind::from_static("keeper"),
            move |ctx, _input, _token| {
                let kept = Arc::clone(&kept);
                async move {
                    let child = ctx.sub_session().start()?;
                    child.submit(custom("waiter"))?;
                    *kept.lock().unwrap() = Some(child);
                    Ok(Some("kept".into()))
                }
            },
        )
    };
    let mut session = TestSession::builder()
        .task(keeper.registration())
        .task(waiter().registration())
        .build();
    let events = session.run(custom("keeper")).await;
    assert_eq!(
        labels(&events),
        [
            "task_started",
            "sub_session_started",
            "sub_session_ended",
            "task_complete"
        ]
    );
    let child = kept.lock().unwrap().take().unwrap();
    assert!(
        child.submit(custom("waiter")).is_err(),
        "the stopped child takes no more work"
    );
    drop(child);
}

#[tokio::test(start_paused = true)]
async fn a_child_journals_beside_its_parent_with_a_seeded_history() {
    let seeded = FnTask::new(
        TaskKind::from_static("seeded"),
        |ctx, _input, _token| async move {
            let seed = vec![ResponseItem::Message {
                role: Role::User,
                content: vec![ContentItem::InputText {
                    text: "context from the parent".into(),
                }],
            }];
            let mut child = ctx.sub_session().history(seed).start()?;
            let outcome = child.run_once(custom("count-history")).await?;
            child.close().await;
            Ok(Some(format!("{outcome:?}")))
        },
    );
    let count = FnTask::new(
        TaskKind::from_static("count-history"),
        |ctx, _input, _token| async move { Ok(Some(format!("{} item(s)", ctx.history().len()))) },
    );
    let mut session = TestSession::builder()
        .task(seeded.registration())
        .task(count.registration())
        .with_rollout()
        .build();
    let events = session.run(custom("seeded")).await;
    assert_eq!(
        events.last().unwrap().msg,
        EventMsg::TaskComplete {
            last_agent_message: Some(r#"Completed { message: Some("1 item(s)") }"#.into())
        }
    );
    let child_rollout = session.temp_dir().join("rollout.1.jsonl");
    let (records, warnings) = read_rollout(&child_rollout).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        matches!(
            &records[0],
            RolloutRecord::SessionMeta { session_id, parent_session_id: Some(parent), .. }
                if session_id == "test-session.1" && parent == "test-session"
        ),
        "{:?}",
        records[0]
    );
    assert!(
        records
            .iter()
            .any(|record| matches!(record, RolloutRecord::ResponseItem { .. })),
        "the seeded history is journalled"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_root_session_leaves_no_task_of_the_tree_behind() {
    let before = alive_tasks();
    // The child's task ignores its token for a second, so an orderly shutdown would take that
    // long; dropping the root must not wait for it.
    let slow = FnTask::new(
        TaskKind::from_static("slow"),
        |_ctx, _input, _token| async move {
            std::future::pending::<()>().await;
            Ok(None)
        },
    );
    let parent = FnTask::new(
        TaskKind::from_static("slow-parent"),
        |ctx, _input, token| async move {
            let child = ctx.sub_session().start()?;
            child.submit(custom("slow"))?;
            token.cancelled().await;
            Ok(None)
        },
    );
    let mut session = TestSession::builder()
        .task(parent.registration())
        .task(slow.registration().grace_period(Duration::from_secs(1)))
        .build();
    session.submit(custom("slow-parent"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::SubSessionStarted { .. }))
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    drop(session);
    assert_tasks_settle_to(before, "no tokio task outlives the tree").await;
}
