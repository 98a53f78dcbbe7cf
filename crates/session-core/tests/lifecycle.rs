//! The lifecycle rules of DESIGN.md: start, complete, replace, fail, steer and queue input.

mod support;

use std::sync::Arc;
use std::time::Duration;

use insta::assert_json_snapshot;
use support::{cooperative, custom, echo, noop, sleeper, steerable, text, types};
use turnkit_protocol::{EventMsg, Op, TaskKind, TurnAbortReason};
use turnkit_session_core::TaskRegistration;
use turnkit_testkit::{FnTask, TestSession};

fn kind(name: &'static str) -> TaskKind {
    TaskKind::from_static(name)
}

#[tokio::test(start_paused = true)]
async fn task_started_first_and_task_complete_last() {
    let mut session = TestSession::builder()
        .task(noop(kind("noop")).registration())
        .build();
    let events = session.run(custom("noop")).await;
    assert_json_snapshot!(session.normalize(&events));
}

#[tokio::test(start_paused = true)]
async fn spawn_while_running_replaces_with_replaced() {
    let slow = cooperative(kind("slow"));
    let mut session = TestSession::builder()
        .task(slow.registration())
        .task(noop(kind("noop")).registration())
        .build();
    let first = session.submit(custom("slow"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    let second = session.submit(custom("noop"));
    let events = session.events_until_terminal(&second).await;
    let all = session.seen().to_vec();
    assert_eq!(
        all.iter()
            .filter(|event| event.id == first && event.msg.is_terminal())
            .count(),
        1
    );
    assert_eq!(
        slow.abort_calls(),
        1,
        "the replaced task's abort hook runs once"
    );
    assert!(events.iter().any(|event| event.msg
        == EventMsg::TurnAborted {
            reason: TurnAbortReason::Replaced
        }));
    assert_json_snapshot!(session.normalize(&all));
}

#[tokio::test(start_paused = true)]
async fn task_error_becomes_error_then_task_complete() {
    let failing = FnTask::new(kind("failing"), |_ctx, _input, _token| async {
        Err("the disk is full: free some space and retry".into())
    });
    let mut session = TestSession::builder().task(failing.registration()).build();
    let events = session.run(custom("failing")).await;
    assert_json_snapshot!(session.normalize(&events));
    let after = session.run(custom("failing")).await;
    assert_eq!(
        types(&after),
        ["task_started", "error", "task_complete"],
        "the session takes the next op"
    );
}

#[tokio::test(start_paused = true)]
async fn task_panic_becomes_error_then_task_complete() {
    let panicky = FnTask::new(kind("panicky"), |_ctx, _input, _token| async {
        let items: Vec<u8> = Vec::new();
        let third = items.get(3).copied();
        Ok(Some(third.expect("index out of bounds").to_string()))
    });
    let mut session = TestSession::builder()
        .task(panicky.registration())
        .task(noop(kind("noop")).registration())
        .build();
    let events = session.run(custom("panicky")).await;
    assert_json_snapshot!(session.normalize(&events));
    let after = session.run(custom("noop")).await;
    assert_eq!(
        types(&after),
        ["task_started", "task_complete"],
        "the session survives a panic"
    );
}

#[tokio::test(start_paused = true)]
async fn unregistered_kind_errors_naming_the_feature_and_changes_nothing() {
    let mut session = TestSession::builder()
        .task(cooperative(kind("slow")).registration())
        .build();
    let running = session.submit(custom("slow"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    let undo = session.submit(Op::Undo);
    let error = session.next_event().await;
    assert_eq!(error.id, undo);
    let EventMsg::Error { message } = &error.msg else {
        panic!("expected an error, got {error:?}")
    };
    assert!(message.contains("`undo` feature"), "{message}");
    let unknown = session.submit(custom("frobnicate"));
    let error = session.next_event().await;
    assert_eq!(error.id, unknown);
    // The running task was not touched: it still completes only when interrupted.
    session.submit(Op::Interrupt);
    let rest = session.events_until_terminal(&running).await;
    assert_eq!(types(&rest), ["turn_aborted"]);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn user_input_with_no_regular_kind_is_an_error() {
    let mut session = TestSession::builder().build();
    let id = session.submit(text("hello"));
    let event = session.next_event().await;
    assert_eq!(event.id, id);
    let EventMsg::Error { message } = event.msg else {
        panic!("expected an error")
    };
    assert!(message.contains("`regular` feature"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn user_input_steers_into_a_running_regular_turn() {
    let mut session = TestSession::builder()
        .task(steerable().registration().accepts_input(true))
        .build();
    let turn = session.submit(text("first"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    let steer = session.submit(text("second"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    session.submit(text("stop"));
    let events = session.events_until_terminal(&turn).await;
    assert_ne!(steer, turn);
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("first second stop".into())
        })
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn input_during_a_task_that_takes_none_starts_the_next_turn() {
    let mut session = TestSession::builder()
        .task(sleeper(kind("busy"), Duration::from_millis(50)).registration())
        .task(echo().registration().accepts_input(true))
        .build();
    let busy = session.submit(custom("busy"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    let first = session.submit(text("one"));
    let second = session.submit(text("two"));
    let events = session.events_until_terminal(&first).await;
    assert!(
        events
            .iter()
            .any(|event| event.id == busy && event.msg.is_terminal())
    );
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("one two".into())
        }),
        "queued input runs as one turn, in order"
    );
    assert_ne!(first, second);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn steered_input_the_turn_never_took_starts_the_next_turn() {
    // This turn takes input but finishes without reading what was steered into it.
    let deaf = FnTask::new(TaskKind::REGULAR, |_ctx, input, _token| async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(Some(support::texts(&input).join(" ")))
    });
    let mut session = TestSession::builder()
        .task(deaf.registration().accepts_input(true))
        .build();
    let first = session.submit(text("one"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    session.submit(text("two"));
    session.events_until_terminal(&first).await;
    let next = session.events_until(|event| event.msg.is_terminal()).await;
    assert_eq!(
        next.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("two".into())
        })
    );
    assert_eq!(deaf.runs(), 2);
}

#[tokio::test(start_paused = true)]
async fn auxiliary_work_runs_beside_the_turn_and_the_turn_waits_for_it() {
    let side = FnTask::new(kind("side"), |ctx, _input, _token| async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        ctx.send_event(EventMsg::BackgroundEvent {
            message: "side work done".into(),
        });
        Ok(None)
    });
    let main = sleeper(kind("main"), Duration::from_millis(10));
    let mut session = TestSession::builder()
        .task(main.registration())
        .task(side.registration().runs_beside_turn(true))
        .build();
    let turn = session.submit(custom("main"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    let beside = session.submit(custom("side"));
    let events = session.events_until_terminal(&turn).await;
    let side_event = events
        .iter()
        .position(|event| event.id == beside)
        .expect("the side work's event");
    assert_eq!(
        side_event,
        events.len() - 2,
        "the terminal event waits for auxiliary work"
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn auxiliary_kind_with_no_turn_running_is_a_turn_of_its_own() {
    let side = noop(kind("side"));
    let mut session = TestSession::builder()
        .task(side.registration().runs_beside_turn(true))
        .build();
    let events = session.run(custom("side")).await;
    assert_eq!(types(&events), ["task_started", "task_complete"]);
}

#[tokio::test(start_paused = true)]
async fn spawn_task_runs_a_task_directly() {
    let mut session = TestSession::builder().build();
    let id = session
        .session()
        .spawn_task(Arc::new(noop(kind("direct"))), Vec::new())
        .unwrap();
    let events = session.events_until_terminal(&id).await;
    assert_eq!(
        events[0].msg,
        EventMsg::TaskStarted {
            kind: kind("direct")
        }
    );
    assert_eq!(types(&events), ["task_started", "task_complete"]);
}

#[tokio::test(start_paused = true)]
async fn factory_error_is_reported_and_nothing_starts() {
    let registration = TaskRegistration::new(kind("picky"), |op| match op {
        Op::Custom { payload, .. } if payload.is_string() => Ok(Arc::new(noop(kind("picky"))) as _),
        _ => Err("the payload must be a string naming the target".into()),
    });
    let mut session = TestSession::builder().task(registration).build();
    let id = session.submit(custom("picky"));
    let event = session.next_event().await;
    assert_eq!(event.id, id);
    let EventMsg::Error { message } = event.msg else {
        panic!("expected an error")
    };
    assert_eq!(
        message, "cannot start `picky`: the payload must be a string naming the target",
        "a refusal names the kind"
    );
    let ok = session
        .run(Op::Custom {
            name: "picky".into(),
            payload: "x".into(),
        })
        .await;
    assert_eq!(types(&ok), ["task_started", "task_complete"]);
}

#[tokio::test(start_paused = true)]
async fn steered_input_not_taken_before_shutdown_is_reported_not_dropped() {
    let deaf = FnTask::new(TaskKind::REGULAR, |_ctx, _input, token| async move {
        token.cancelled().await;
        Ok(None)
    });
    let mut session = TestSession::builder()
        .task(deaf.registration().accepts_input(true))
        .build();
    let first = session.submit(text("one"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    let second = session.submit(text("two"));
    let events = session.shutdown().await;
    assert_eq!(
        types(&events),
        ["turn_aborted", "warning", "shutdown_complete"]
    );
    assert_eq!(events[0].id, first);
    assert_eq!(
        events[1].id, second,
        "the warning names the input that never ran"
    );
}

/// Side work that reports when it is told to stop and when its abort hook runs.
fn side_work(name: &'static str) -> FnTask {
    FnTask::new(kind(name), |ctx, _input, token| async move {
        ctx.send_event(EventMsg::BackgroundEvent {
            message: "side work running".into(),
        });
        token.cancelled().await;
        ctx.send_event(EventMsg::BackgroundEvent {
            message: "side work stopped".into(),
        });
        Ok(None)
    })
    .on_abort(|ctx| {
        ctx.send_event(EventMsg::BackgroundEvent {
            message: "side work cleaned up".into(),
        });
    })
}

#[tokio::test(start_paused = true)]
async fn replacing_a_turn_stops_its_side_work_and_reports_its_cleanup_before_turn_aborted() {
    let side = side_work("side");
    let mut session = TestSession::builder()
        .task(cooperative(kind("main")).registration())
        .task(side.registration().runs_beside_turn(true))
        .task(noop(kind("next")).registration())
        .build();
    let turn = session.submit(custom("main"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    let beside = session.submit(custom("side"));
    session.events_until(|event| event.id == beside).await;
    let next = session.submit(custom("next"));
    session.events_until_terminal(&next).await;
    let all = session.seen().to_vec();
    let aborted = support::position_of(&all, "the replaced turn's end", |event| {
        event.id == turn && event.msg.is_terminal()
    });
    let cleanup = all
        .iter()
        .rposition(|event| event.id == beside)
        .expect("the side work's events");
    assert!(
        cleanup < aborted,
        "side work cleanup comes before turn_aborted"
    );
    assert_eq!(side.abort_calls(), 1, "the side work's hook runs once");
    assert_json_snapshot!(session.normalize(&all));
}

#[tokio::test(start_paused = true)]
async fn steered_input_a_replaced_turn_never_took_starts_the_next_turn() {
    let deaf = FnTask::new(TaskKind::REGULAR, |_ctx, input, token| async move {
        token.cancelled().await;
        Ok(Some(support::texts(&input).join(" ")))
    });
    let mut session = TestSession::builder()
        .task(deaf.registration().accepts_input(true))
        .task(noop(kind("next")).registration())
        .build();
    let first = session.submit(text("one"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    session.submit(text("two"));
    let next = session.submit(custom("next"));
    session.events_until_terminal(&next).await;
    let again = session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    assert_eq!(
        deaf.runs(),
        2,
        "the steered input started a turn: {again:?}"
    );
    session.submit(Op::Interrupt);
    let last = session.events_until(|event| event.msg.is_terminal()).await;
    assert_eq!(
        last.last().map(|event| &event.msg),
        Some(&EventMsg::TurnAborted {
            reason: TurnAbortReason::Interrupted
        })
    );
    assert_ne!(first, next);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(start_paused = true)]
async fn side_work_of_a_turn_waiting_for_its_predecessor_waits_for_its_task_started() {
    let side = FnTask::new(kind("side"), |ctx, _input, _token| async move {
        ctx.send_event(EventMsg::BackgroundEvent {
            message: "side work ran".into(),
        });
        Ok(None)
    });
    let mut session = TestSession::builder()
        .task(
            support::stubborn(kind("stubborn"))
                .registration()
                .grace_period(Duration::from_millis(100)),
        )
        .task(cooperative(kind("main")).registration())
        .task(side.registration().runs_beside_turn(true))
        .build();
    session.submit(custom("stubborn"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    let main = session.submit(custom("main"));
    let beside = session.submit(custom("side"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;
    session.submit(Op::Interrupt);
    session.events_until_terminal(&main).await;
    let all = session.seen().to_vec();
    let started = support::position_of(&all, "the main turn's start", |event| {
        event.id == main && matches!(event.msg, EventMsg::TaskStarted { .. })
    });
    let side_event = support::position_of(&all, "the side work", |event| event.id == beside);
    assert!(
        started < side_event,
        "side work emitted before its turn started"
    );
    assert_json_snapshot!(session.normalize(&all));
}

#[test]
fn a_factory_that_submits_does_not_deadlock() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let handle: Arc<std::sync::OnceLock<turnkit_session_core::SessionHandle>> = Arc::default();
    let from_factory = Arc::clone(&handle);
    let registration = TaskRegistration::new(kind("chatty"), move |_op| {
        if let Some(handle) = from_factory.get() {
            handle
                .submit(Op::UserInput {
                    items: vec![turnkit_protocol::UserInput::text("from the factory")],
                })
                .expect("the session takes input from a factory");
        }
        Ok(Arc::new(noop(kind("chatty"))) as _)
    });
    let mut session = turnkit_session_core::Session::builder()
        .task(registration)
        // A turn that runs until it is replaced, so the order below does not race.
        .task(
            cooperative(TaskKind::REGULAR)
                .registration()
                .accepts_input(true),
        )
        .build()
        .unwrap();
    handle.set(session.handle()).ok();
    let submitter = session.handle();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let id = submitter.submit(custom("chatty"));
        let _ = done_tx.send(id.is_ok());
    });
    let Ok(accepted) = done_rx.recv_timeout(Duration::from_secs(5)) else {
        // The stuck thread holds the session's lock; dropping the session would hang too.
        std::mem::forget(session);
        panic!("submit did not return: a factory that submits must not deadlock");
    };
    assert!(accepted);
    let events = runtime.block_on(async {
        let mut events = Vec::new();
        while events
            .iter()
            .filter(|event: &&turnkit_protocol::Event| event.msg.is_terminal())
            .count()
            < 2
        {
            let event = tokio::time::timeout(Duration::from_secs(5), session.next_event())
                .await
                .expect("events keep coming")
                .expect("the session runs");
            events.push(event);
        }
        events
    });
    // The factory's own submission came first, so its turn started and chatty replaced it.
    let summary: Vec<(String, String)> = events
        .iter()
        .filter(|event| {
            event.msg.is_terminal() || matches!(event.msg, EventMsg::TaskStarted { .. })
        })
        .map(|event| {
            (
                event.id.clone(),
                support::types(std::slice::from_ref(event))[0].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("sub-2".to_owned(), "task_started".to_owned()),
            ("sub-2".to_owned(), "turn_aborted".to_owned()),
            ("sub-1".to_owned(), "task_started".to_owned()),
            ("sub-1".to_owned(), "task_complete".to_owned()),
        ]
    );
}

#[test]
fn a_slow_factory_does_not_delay_interrupt() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let entered_tx = std::sync::Mutex::new(entered_tx);
    let registration = TaskRegistration::new(kind("slow_factory"), move |_op| {
        let _ = entered_tx.lock().unwrap().send(());
        std::thread::sleep(Duration::from_millis(500));
        Ok(Arc::new(noop(kind("slow_factory"))) as _)
    });
    let session = turnkit_session_core::Session::builder()
        .task(registration)
        .build()
        .unwrap();
    let submitter = session.handle();
    let slow = std::thread::spawn(move || submitter.submit(custom("slow_factory")).is_ok());
    entered_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the factory runs");
    let start = std::time::Instant::now();
    session.submit(Op::Interrupt).unwrap();
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "Interrupt waited {took:?} behind a slow factory"
    );
    assert!(slow.join().unwrap());
}
