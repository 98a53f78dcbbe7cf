//! The lifecycle through the facade alone, as a new user meets it: a downstream task kind
//! written with `turnkit::async_trait`, side work replaced under it, and the errors a user
//! reads when a kind is missing or refuses to start.

#![cfg(feature = "testkit")]

use std::sync::Arc;
use std::time::Duration;

use turnkit::testkit::TestSession;
use turnkit::{
    CancellationToken, Event, EventMsg, Op, Session, SessionTask, TaskContext, TaskKind,
    TaskRegistration, TaskResult, UserInput,
};

const LONG: TaskKind = TaskKind::from_static("long");

/// A downstream task that works until it is cancelled.
struct Long;

#[turnkit::async_trait]
impl SessionTask for Long {
    fn kind(&self) -> TaskKind {
        LONG
    }

    async fn run(
        self: Arc<Self>,
        _ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        cancellation_token.cancelled().await;
        Ok(None)
    }
}

fn long() -> Op {
    Op::Custom {
        name: "long".into(),
        payload: turnkit::serde_json::Value::Null,
    }
}

fn error_message(event: &Event) -> &str {
    match &event.msg {
        EventMsg::Error { message } => message,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[cfg(feature = "shell")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_turn_ends_its_side_shell_command_before_turn_aborted() {
    let builder =
        turnkit::builder().task(TaskRegistration::new(LONG, |_op| Ok(Arc::new(Long) as _)));
    let mut session = TestSession::from_builder(builder)
        .event_timeout(Duration::from_secs(20))
        .build();
    let first = session.submit(long());
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    let started = std::time::Instant::now();
    let shell = session.submit(Op::RunUserShellCommand {
        command: "sleep 5".into(),
    });
    session
        .events_until(|event| matches!(event.msg, EventMsg::ExecCommandBegin { .. }))
        .await;
    let second = session.submit(long());
    session
        .events_until(|event| {
            event.id == second && matches!(event.msg, EventMsg::TaskStarted { .. })
        })
        .await;
    session.submit(Op::Interrupt);
    session.events_until_terminal(&second).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the command was stopped, not waited out ({:?})",
        started.elapsed()
    );
    let seen = session.seen();
    let position = |id: &str, wanted: &str| {
        seen.iter()
            .position(|event| {
                event.id == id
                    && turnkit::serde_json::to_value(&event.msg).expect("events serialise")["type"]
                        == wanted
            })
            .unwrap_or_else(|| panic!("no {wanted} for {id}: {seen:#?}"))
    };
    assert!(position(&shell, "exec_command_end") < position(&first, "turn_aborted"));
    let sequence: Vec<(String, String)> = session
        .normalize(seen)
        .as_array()
        .expect("a list of events")
        .iter()
        .map(|event| {
            (
                event["id"].as_str().unwrap_or_default().to_owned(),
                event["msg"]["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    insta::assert_json_snapshot!(sequence);
}

#[tokio::test]
async fn a_factory_refusal_names_the_kind() {
    let builder = turnkit::builder().task(TaskRegistration::new(TaskKind::new("deploy"), |_op| {
        Err("no target named in the payload".into())
    }));
    let mut session = TestSession::from_builder(builder).build();
    let id = session.submit(Op::Custom {
        name: "deploy".into(),
        payload: turnkit::serde_json::json!({}),
    });
    let event = session.next_event().await;
    assert_eq!(event.id, id);
    assert_eq!(
        error_message(&event),
        "cannot start `deploy`: no target named in the payload"
    );
}

#[cfg(feature = "undo")]
#[tokio::test]
async fn a_missing_kind_never_asks_for_a_feature_that_is_on() {
    // The plain builder registers nothing, although the `undo` feature is compiled in.
    let mut bare = TestSession::from_builder(Session::builder()).build();
    bare.submit(Op::Undo);
    let event = bare.next_event().await;
    let message = error_message(&event);
    assert!(!message.contains("build turnkit with"), "{message}");
    assert!(message.contains("turnkit::builder()"), "{message}");

    // The facade's builder knows the feature is on: it says to register the kind instead.
    let without_undo = Session::builder().compiled_features(["undo"]);
    let mut session = TestSession::from_builder(without_undo).build();
    session.submit(Op::Undo);
    let event = session.next_event().await;
    let message = error_message(&event);
    assert!(!message.contains("build turnkit with"), "{message}");
    assert!(message.contains("feature is on"), "{message}");

    // And asks for the feature only when it is really off.
    let feature_off = Session::builder().compiled_features(["shell"]);
    let mut session = TestSession::from_builder(feature_off).build();
    session.submit(Op::Undo);
    let event = session.next_event().await;
    assert!(
        error_message(&event).contains("build turnkit with the `undo` feature"),
        "{event:?}"
    );
}
