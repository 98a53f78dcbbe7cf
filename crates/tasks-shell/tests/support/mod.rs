//! Helpers shared by the user shell tests: a session with the shell kind, the pieces of an
//! event list, and an independent look at a process group's live members.

#![allow(
    dead_code,
    reason = "each test file uses a different subset of the helpers"
)]

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use turnkit_protocol::{Event, EventMsg, ExecCommandEnd, ExecStream, Op, ResponseItem};
use turnkit_tasks_shell::ShellConfig;
use turnkit_testkit::{TestSession, TestSessionBuilder};

/// The shell every test runs commands with, so argv and messages do not depend on `$SHELL`.
pub(crate) const SHELL: &str = "/bin/sh";

/// The configuration the tests start from: `/bin/sh`.
pub(crate) fn config() -> ShellConfig {
    ShellConfig::new().shell(SHELL)
}

/// A test session builder with the user shell kind registered with `config`.
pub(crate) fn session_with(config: ShellConfig) -> TestSessionBuilder {
    TestSession::builder()
        .task(config.registration())
        .event_timeout(Duration::from_secs(60))
}

/// A test session with the user shell kind registered with [`config`].
pub(crate) fn session() -> TestSession {
    session_with(config()).build()
}

pub(crate) fn shell(command: &str) -> Op {
    Op::RunUserShellCommand {
        command: command.to_owned(),
    }
}

/// The `type` of each event.
pub(crate) fn types(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            serde_json::to_value(&event.msg).expect("events serialise")["type"]
                .as_str()
                .expect("every event has a type")
                .to_owned()
        })
        .collect()
}

/// The end events among `events`.
pub(crate) fn ends(events: &[Event]) -> Vec<&ExecCommandEnd> {
    events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::ExecCommandEnd(end) => Some(end),
            _ => None,
        })
        .collect()
}

/// The only end event among `events`.
pub(crate) fn the_end(events: &[Event]) -> &ExecCommandEnd {
    let ends = ends(events);
    assert_eq!(ends.len(), 1, "exactly one exec_command_end: {events:#?}");
    ends[0]
}

/// The delta chunks among `events`, in order.
pub(crate) fn deltas(events: &[Event]) -> Vec<(ExecStream, &[u8])> {
    events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::ExecCommandOutputDelta { stream, chunk, .. } => {
                Some((*stream, chunk.as_slice()))
            }
            _ => None,
        })
        .collect()
}

/// Normalised events without the output deltas (whose number depends on pipe timing) and
/// without `seq` (which the deltas would shift).
pub(crate) fn without_deltas(session: &TestSession, events: &[Event]) -> Value {
    let Value::Array(events) = session.normalize(events) else {
        panic!("normalised events are an array")
    };
    Value::Array(
        events
            .into_iter()
            .filter(|event| event["msg"]["type"] != "exec_command_output_delta")
            .map(|mut event| {
                event
                    .as_object_mut()
                    .expect("an event is an object")
                    .remove("seq");
                event
            })
            .collect(),
    )
}

/// The text of every user message in the history.
pub(crate) fn user_messages(history: &[ResponseItem]) -> Vec<String> {
    history
        .iter()
        .filter_map(|item| match item {
            ResponseItem::Message { content, .. } => Some(
                content
                    .iter()
                    .filter_map(|part| match part {
                        turnkit_protocol::ContentItem::InputText { text } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// Live (not zombie) processes in a process group, read from `/proc` by the testkit, apart
/// from exec's own check so the tests do not trust what they test.
#[allow(unused_imports, reason = "not every test file checks process groups")]
pub(crate) use turnkit_testkit::process::live_group_members as live_members;

/// Polls `condition` every few milliseconds until it holds or `bound` passes; returns whether
/// it held. For waiting on the operating system (a signal delivered), never as a fixed sleep.
pub(crate) async fn eventually(bound: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The process group id a command wrote to the file `pid` in the session's directory.
pub(crate) fn written_pid(cwd: &Path) -> u32 {
    std::fs::read_to_string(cwd.join("pid"))
        .expect("the command wrote its pid")
        .trim()
        .parse()
        .expect("the pid file holds a number")
}
