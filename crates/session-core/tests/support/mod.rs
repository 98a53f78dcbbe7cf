//! Tasks with known behaviour, shared by the session-core test files.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use turnkit_protocol::{EventMsg, TaskKind, UserInput};
use turnkit_testkit::FnTask;

/// Finishes at once with the message "done".
pub fn noop(kind: TaskKind) -> FnTask {
    FnTask::new(kind, |_ctx, _input, _token| async {
        Ok(Some("done".to_owned()))
    })
}

/// Sends one message, then waits until it is cancelled and stops.
pub fn cooperative(kind: TaskKind) -> FnTask {
    FnTask::new(kind, |ctx, _input, token| async move {
        ctx.send_event(EventMsg::AgentMessage {
            message: "working".into(),
        });
        token.cancelled().await;
        Ok(None)
    })
}

/// Ignores its token; only a hard abort stops it.
pub fn stubborn(kind: TaskKind) -> FnTask {
    FnTask::new(kind, |ctx, _input, _token| async move {
        ctx.send_event(EventMsg::AgentMessage {
            message: "not listening".into(),
        });
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    })
}

/// Runs for `duration`, then finishes with "slept"; ignores its token.
pub fn sleeper(kind: TaskKind, duration: Duration) -> FnTask {
    FnTask::new(kind, move |_ctx, _input, _token| async move {
        tokio::time::sleep(duration).await;
        Ok(Some("slept".to_owned()))
    })
}

/// A model-turn stand-in that takes steered input: it ends when some input says "stop".
pub fn steerable() -> FnTask {
    FnTask::new(TaskKind::REGULAR, |ctx, input, token| async move {
        let mut seen: Vec<String> = texts(&input);
        loop {
            if seen.iter().any(|text| text == "stop") {
                return Ok(Some(seen.join(" ")));
            }
            tokio::select! {
                () = token.cancelled() => return Ok(None),
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
            let more = ctx.take_pending_input().await;
            if !more.is_empty() {
                ctx.send_event(EventMsg::AgentMessage {
                    message: format!("steered: {}", texts(&more).join(" ")),
                });
            }
            seen.extend(texts(&more));
        }
    })
}

/// A regular turn that answers with the text it was given.
pub fn echo() -> FnTask {
    FnTask::new(TaskKind::REGULAR, |_ctx, input, _token| async move {
        Ok(Some(texts(&input).join(" ")))
    })
}

pub fn texts(input: &[UserInput]) -> Vec<String> {
    input
        .iter()
        .filter_map(|item| match item {
            UserInput::Text { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

pub fn text(text: &str) -> turnkit_protocol::Op {
    turnkit_protocol::Op::UserInput {
        items: vec![UserInput::text(text)],
    }
}

pub fn custom(name: &str) -> turnkit_protocol::Op {
    turnkit_protocol::Op::Custom {
        name: name.into(),
        payload: serde_json::Value::Null,
    }
}

/// The `type` tags of the events, for quick assertions.
pub fn types(events: &[turnkit_protocol::Event]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            let value = serde_json::to_value(&event.msg).expect("events serialise");
            value["type"]
                .as_str()
                .expect("every event has a type tag")
                .to_owned()
        })
        .collect()
}

/// How many tokio tasks are alive on the current runtime.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Lets aborted tasks wind down, then checks that exactly `before` tokio tasks are alive.
pub async fn assert_tasks_settle_to(before: usize, what: &str) {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    assert_eq!(alive_tasks(), before, "{what}");
}

/// Where the first event that `matches` is, or a panic naming `what` and every event.
pub fn position_of(
    events: &[turnkit_protocol::Event],
    what: &str,
    matches: impl Fn(&turnkit_protocol::Event) -> bool,
) -> usize {
    events
        .iter()
        .position(matches)
        .unwrap_or_else(|| panic!("no event for {what}: {events:#?}"))
}
