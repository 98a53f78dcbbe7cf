//! The `shell` feature through the facade alone: `turnkit::builder()` runs a user's shell
//! command, and a caller's own registration of the kind wins over the built-in one.

#![cfg(all(feature = "shell", feature = "testkit"))]

use std::time::Duration;

use turnkit::testkit::TestSession;
use turnkit::{EventMsg, ExecCommandEnd, ExecSource, Op, Session, SessionBuilderExt};

fn end(events: &[turnkit::Event]) -> &ExecCommandEnd {
    events
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::ExecCommandEnd(end) => Some(end),
            _ => None,
        })
        .expect("the command ended")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_runs_a_users_shell_command() {
    let mut session = TestSession::from_builder(turnkit::builder())
        .event_timeout(Duration::from_secs(60))
        .build();
    let events = session
        .run(Op::RunUserShellCommand {
            command: "echo from the facade".into(),
        })
        .await;
    let EventMsg::ExecCommandBegin {
        command, source, ..
    } = &events[1].msg
    else {
        panic!("a begin event after task_started: {events:#?}")
    };
    assert_eq!(command[1..], ["-c", "echo from the facade"]);
    assert_eq!(*source, ExecSource::UserShell);
    let end = end(&events);
    assert_eq!(end.exit_code, Some(0));
    assert_eq!(end.stdout, "from the facade\n");
    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::TaskComplete { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_own_shell_registration_wins() {
    let own = turnkit::tasks_shell::ShellConfig::new()
        .shell("/bin/sh")
        .max_deltas(0)
        .registration();
    let builder = Session::builder().task(own).with_enabled_kinds();
    let mut session = TestSession::from_builder(builder)
        .event_timeout(Duration::from_secs(60))
        .build();
    let events = session
        .run(Op::RunUserShellCommand {
            command: "echo quiet".into(),
        })
        .await;
    let EventMsg::ExecCommandBegin { command, .. } = &events[1].msg else {
        panic!("a begin event after task_started: {events:#?}")
    };
    assert_eq!(command[0], "/bin/sh");
    assert!(
        end(&events).deltas_capped,
        "the caller's zero delta cap applied"
    );
}
