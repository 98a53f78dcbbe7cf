//! Aborting tasks: interrupt, grace periods, hard aborts, abort hooks and the finish/abort race.

mod support;

use std::sync::Arc;
use std::time::Duration;

use insta::assert_json_snapshot;
use support::{cooperative, custom, noop, stubborn, types};
use tokio::time::Instant;
use turnkit_protocol::{EventMsg, Op, TaskKind, TurnAbortReason, UserInput};
use turnkit_session_core::{CancellationToken, SessionTask, TaskContext, TaskResult};
use turnkit_testkit::{FnTask, TestSession};

fn kind(name: &'static str) -> TaskKind {
    TaskKind::from_static(name)
}

#[tokio::test(start_paused = true)]
async fn interrupt_aborts_a_cooperative_task_without_waiting_out_the_grace_period() {
    let task = cooperative(kind("slow"));
    let mut session = TestSession::builder()
        .task(task.registration().grace_period(Duration::from_secs(10)))
        .build();
    let id = session.submit(custom("slow"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    let interrupted_at = Instant::now();
    session.submit(Op::Interrupt);
    session.events_until_terminal(&id).await;
    assert!(
        interrupted_at.elapsed() < Duration::from_millis(1),
        "a task that stops promptly never waits out its grace period (took {:?})",
        interrupted_at.elapsed()
    );
    assert_eq!(task.abort_calls(), 1);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn interrupt_hard_aborts_a_task_that_ignores_its_token_at_the_grace_period() {
    let task = stubborn(kind("stubborn")).on_abort(|ctx| {
        ctx.send_event(EventMsg::BackgroundEvent {
            message: "cleaned up".into(),
        });
    });
    let grace = Duration::from_millis(250);
    let mut session = TestSession::builder()
        .task(task.registration().grace_period(grace))
        .build();
    let id = session.submit(custom("stubborn"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    let interrupted_at = Instant::now();
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    let waited = interrupted_at.elapsed();
    assert!(
        waited >= grace && waited < grace + Duration::from_millis(5),
        "waited {waited:?}"
    );
    assert_eq!(task.abort_calls(), 1, "the abort hook runs exactly once");
    assert_eq!(
        types(&events),
        ["background_event", "turn_aborted"],
        "cleanup events come before turn_aborted"
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn grace_period_is_configurable_per_kind() {
    let short = stubborn(kind("short"));
    let long = stubborn(kind("long"));
    let mut session = TestSession::builder()
        .task(short.registration().grace_period(Duration::from_millis(20)))
        .task(long.registration().grace_period(Duration::from_secs(2)))
        .build();
    for (name, expected) in [
        ("short", Duration::from_millis(20)),
        ("long", Duration::from_secs(2)),
    ] {
        let id = session.submit(custom(name));
        session
            .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
            .await;
        let start = Instant::now();
        session.submit(Op::Interrupt);
        session.events_until_terminal(&id).await;
        let waited = start.elapsed();
        assert!(
            waited >= expected && waited < expected + Duration::from_millis(5),
            "{name}: {waited:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn interrupt_with_nothing_running_is_a_no_op() {
    let mut session = TestSession::builder()
        .task(noop(kind("noop")).registration())
        .build();
    session.submit(Op::Interrupt);
    let events = session.run(custom("noop")).await;
    assert_eq!(types(&events), ["task_started", "task_complete"]);
    assert_eq!(events[0].seq, 0, "the interrupt emitted nothing");
}

#[tokio::test(start_paused = true)]
async fn a_task_interrupting_its_own_turn_ends_with_turn_aborted() {
    let task = FnTask::new(kind("self_stop"), |ctx, _input, token| async move {
        assert!(
            ctx.interrupt_turn(),
            "the turn is running, so it can be interrupted"
        );
        token.cancelled().await;
        // Once the turn is ending it cannot be asked again.
        assert!(!ctx.interrupt_turn());
        Ok(Some("never seen".into()))
    });
    let mut session = TestSession::builder().task(task.registration()).build();
    let events = session.run(custom("self_stop")).await;
    assert_eq!(types(&events), ["task_started", "turn_aborted"]);
    assert_eq!(
        events[1].msg,
        EventMsg::TurnAborted {
            reason: TurnAbortReason::Interrupted
        }
    );
    assert_eq!(task.abort_calls(), 1);
}

/// Stops when cancelled, but its abort hook never returns.
struct HangingHook;

#[async_trait::async_trait]
impl SessionTask for HangingHook {
    fn kind(&self) -> TaskKind {
        kind("hangs")
    }

    async fn run(
        self: Arc<Self>,
        _ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        token: CancellationToken,
    ) -> TaskResult {
        token.cancelled().await;
        Ok(None)
    }

    async fn abort(&self, _ctx: Arc<TaskContext>) {
        std::future::pending::<()>().await;
    }
}

#[tokio::test(start_paused = true)]
async fn abort_hook_that_hangs_is_cut_off_with_a_warning() {
    let mut session = TestSession::builder()
        .configure(|builder| builder.abort_hook_timeout(Duration::from_secs(1)))
        .build();
    let id = session
        .session()
        .spawn_task(Arc::new(HangingHook), Vec::new())
        .unwrap();
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_eq!(types(&events), ["warning", "turn_aborted"]);
}

/// A task that finishes on its own exactly when an interrupt arrives ends with one terminal
/// event, whichever wins; repeated with the finish landing before, at and after the interrupt.
#[tokio::test(start_paused = true)]
async fn natural_finish_racing_an_abort_has_exactly_one_terminal_event() {
    let mut complete = 0;
    let mut aborted = 0;
    for round in 0..200u64 {
        let finish_after = Duration::from_millis(round % 5);
        let racer = FnTask::new(kind("racer"), move |_ctx, _input, _token| async move {
            tokio::time::sleep(finish_after).await;
            Ok(Some("finished".to_owned()))
        });
        let mut session = TestSession::builder().task(racer.registration()).build();
        let id = session.submit(custom("racer"));
        session
            .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
            .await;
        tokio::time::sleep(Duration::from_millis(2)).await;
        for _ in 0..(round % 3) {
            tokio::task::yield_now().await;
        }
        session.submit(Op::Interrupt);
        let events = session.events_until_terminal(&id).await;
        // Give any stray second terminal event time to show up.
        session.submit(Op::Custom {
            name: "racer".into(),
            payload: serde_json::Value::Null,
        });
        let next = session.events_until(|event| event.msg.is_terminal()).await;
        assert_eq!(
            next[0].msg,
            EventMsg::TaskStarted {
                kind: kind("racer")
            },
            "round {round}: {events:?} {next:?}"
        );
        let terminals: Vec<_> = events
            .iter()
            .filter(|event| event.msg.is_terminal())
            .collect();
        assert_eq!(terminals.len(), 1, "round {round}: {events:?}");
        match &terminals[0].msg {
            EventMsg::TaskComplete { .. } => {
                complete += 1;
                assert_eq!(racer.abort_calls(), 0, "a completed task's hook never runs");
            }
            EventMsg::TurnAborted {
                reason: TurnAbortReason::Interrupted,
            } => {
                aborted += 1;
                assert_eq!(racer.abort_calls(), 1);
            }
            other => panic!("unexpected terminal {other:?}"),
        }
    }
    assert!(
        complete > 0 && aborted > 0,
        "both sides of the race were exercised: {complete} complete, {aborted} aborted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn natural_finish_racing_an_abort_on_many_threads() {
    let racer = FnTask::new(kind("racer"), |_ctx, _input, _token| async {
        tokio::task::yield_now().await;
        Ok(Some("finished".to_owned()))
    });
    let mut session = TestSession::builder().task(racer.registration()).build();
    for round in 0..300 {
        let id = session.submit(custom("racer"));
        if round % 2 == 0 {
            tokio::task::yield_now().await;
        }
        session.submit(Op::Interrupt);
        let events = session.events_until_terminal(&id).await;
        assert_eq!(
            events
                .iter()
                .filter(|event| event.msg.is_terminal())
                .count(),
            1
        );
    }
    let events = session.shutdown().await;
    assert_eq!(
        events
            .iter()
            .filter(|event| event.msg.is_terminal())
            .count(),
        0,
        "{events:?}"
    );
    let terminals = session
        .seen()
        .iter()
        .filter(|event| event.msg.is_terminal())
        .count();
    assert_eq!(terminals, 300, "one terminal per task, never two");
    let started = session
        .seen()
        .iter()
        .filter(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .count();
    assert_eq!(started, 300);
    session.normalize(session.seen());
}

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_the_running_task_and_ends_the_stream() {
    let task = cooperative(kind("slow"));
    let mut session = TestSession::builder()
        .task(task.registration())
        .with_rollout()
        .build();
    session.submit(custom("slow"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    let events = session.shutdown().await;
    assert_eq!(types(&events), ["turn_aborted", "shutdown_complete"]);
    assert!(
        session.maybe_next_event().await.is_none(),
        "nothing after shutdown_complete"
    );
    assert!(
        session.session().submit(Op::Interrupt).is_err(),
        "a shut-down session refuses work"
    );
    assert_eq!(task.abort_calls(), 1);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn dropping_a_session_leaves_no_tokio_task_behind() {
    let before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let session = TestSession::builder()
        .task(stubborn(kind("stubborn")).registration())
        .task(
            cooperative(kind("side"))
                .registration()
                .runs_beside_turn(true),
        )
        .with_rollout()
        .build();
    session.submit(custom("stubborn"));
    session.submit(custom("side"));
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
            > before
    );
    drop(session);
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        before
    );
}

#[tokio::test(start_paused = true)]
async fn abort_hook_that_panics_still_ends_the_turn_and_the_session_goes_on() {
    let task = cooperative(kind("fragile")).on_abort(|_ctx| panic!("cleanup exploded"));
    let mut session = TestSession::builder()
        .task(task.registration())
        .task(noop(kind("noop")).registration())
        .build();
    let id = session.submit(custom("fragile"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_eq!(types(&events), ["error", "turn_aborted"]);
    assert_eq!(task.abort_calls(), 1);
    let after = session.run(custom("noop")).await;
    assert_eq!(types(&after), ["task_started", "task_complete"]);
    assert_json_snapshot!(session.normalize(session.seen()));
}

/// Panics when dropped, as a task's resources might when a hard abort drops them mid-use.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropped mid-use");
    }
}

#[tokio::test(start_paused = true)]
async fn task_that_panics_when_hard_aborted_still_ends_within_its_grace_period() {
    let task = FnTask::new(kind("unkillable"), |ctx, _input, _token| async move {
        let _guard = PanicsOnDrop;
        ctx.send_event(EventMsg::AgentMessage {
            message: "holding on".into(),
        });
        std::future::pending::<()>().await;
        Ok(None)
    });
    let grace = Duration::from_millis(50);
    let mut session = TestSession::builder()
        .task(task.registration().grace_period(grace))
        .task(noop(kind("noop")).registration())
        .build();
    let id = session.submit(custom("unkillable"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    let start = Instant::now();
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_eq!(
        start.elapsed(),
        grace,
        "the hard abort ends it at the grace period"
    );
    assert_eq!(types(&events), ["turn_aborted"]);
    assert_eq!(task.abort_calls(), 1);
    let after = session.run(custom("noop")).await;
    assert_eq!(types(&after), ["task_started", "task_complete"]);
}

/// An error whose `Display` panics: the driver formats it, so this panics inside the driver.
#[derive(Debug)]
struct UnprintableError;

impl std::fmt::Display for UnprintableError {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("this error cannot be printed")
    }
}

impl std::error::Error for UnprintableError {}

#[tokio::test(start_paused = true)]
async fn a_driver_that_panics_is_reported_with_an_error_and_a_terminal_event() {
    let task = FnTask::new(kind("unprintable"), |_ctx, _input, _token| async {
        Err(Box::new(UnprintableError) as _)
    });
    let mut session = TestSession::builder()
        .task(task.registration())
        .task(noop(kind("noop")).registration())
        .build();
    let events = session.run(custom("unprintable")).await;
    assert_eq!(types(&events), ["task_started", "error", "task_complete"]);
    let after = session.run(custom("noop")).await;
    assert_eq!(types(&after), ["task_started", "task_complete"]);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn task_token_is_cancelled_after_its_terminal_event() {
    let tokens: Arc<std::sync::Mutex<Vec<CancellationToken>>> = Arc::default();
    let kept = Arc::clone(&tokens);
    let task = FnTask::new(kind("quick"), move |_ctx, _input, token| {
        kept.lock().unwrap().push(token);
        async { Ok(None) }
    });
    let mut session = TestSession::builder().task(task.registration()).build();
    session.run(custom("quick")).await;
    let token = tokens.lock().unwrap().pop().expect("the task ran");
    assert!(
        token.is_cancelled(),
        "the token of an ended task is cancelled"
    );
}

#[tokio::test(start_paused = true)]
async fn approval_requested_after_the_turn_ended_resolves_abort_at_once() {
    let (decision_tx, mut decision_rx) = tokio::sync::mpsc::unbounded_channel();
    let task = FnTask::new(kind("leaky"), move |ctx, _input, _token| {
        let decision_tx = decision_tx.clone();
        async move {
            // Work the task left behind asks after its turn has ended.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let decision = ctx
                    .request_approval(
                        turnkit_protocol::ApprovalRequest::command(
                            vec!["true".into()],
                            ctx.cwd().to_owned(),
                        )
                        .with_call_id("late"),
                    )
                    .await;
                let _ = decision_tx.send(decision);
            });
            Ok(None)
        }
    });
    let mut session = TestSession::builder().task(task.registration()).build();
    session.run(custom("leaky")).await;
    let decision = tokio::time::timeout(Duration::from_secs(1), decision_rx.recv())
        .await
        .expect("the late request resolves at once");
    assert_eq!(decision, Some(turnkit_protocol::ReviewDecision::Abort));
    assert_eq!(session.session().pending_approvals(), 0);
    let rest = session.shutdown().await;
    assert_eq!(
        types(&rest),
        ["shutdown_complete"],
        "the late request sent nothing"
    );
}
