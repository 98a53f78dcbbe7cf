//! Interrupting a user's shell command: the whole process group dies, and its end event, with
//! what it printed so far and `cancelled: true`, comes before `turn_aborted`, whether the run
//! stops by itself or is dropped by the session after the grace period.

mod support;

use std::time::Duration;

use insta::assert_json_snapshot;
use turnkit_protocol::{EventMsg, Op, TurnAbortReason};

use support::{
    config, eventually, live_members, session, shell, the_end, types, user_messages, written_pid,
};

/// Prints a line and its process group to a file, then sleeps far longer than any test.
const PRINT_THEN_SLEEP: &str = "echo $$ > pid; echo started; sleep 60";

fn is_delta(event: &turnkit_protocol::Event) -> bool {
    matches!(event.msg, EventMsg::ExecCommandOutputDelta { .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_kills_the_group_and_ends_the_command_before_turn_aborted() {
    let mut session = session();
    let id = session.submit(shell(PRINT_THEN_SLEEP));
    session.events_until(is_delta).await;
    let pgid = written_pid(session.cwd());
    assert!(!live_members(pgid).is_empty(), "the command is running");

    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_eq!(types(&events), ["exec_command_end", "turn_aborted"]);
    assert_eq!(
        events[1].msg,
        EventMsg::TurnAborted {
            reason: TurnAbortReason::Interrupted
        }
    );
    let end = the_end(&events);
    assert!(end.cancelled);
    assert_eq!(end.stdout, "started\n");
    assert!(
        live_members(pgid).is_empty(),
        "the process group is gone once the end event is out"
    );
    let record = &user_messages(&session.history())[0];
    assert!(
        record.starts_with("The user ran a shell command and cancelled it before it finished:\n$ echo $$ > pid; echo started; sleep 60\nCancelled;"),
        "{record}"
    );
    assert!(record.ends_with("Output:\nstarted\n"), "{record}");
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_that_ignores_sigterm_is_dropped_after_the_grace_and_still_ends_once() {
    // The kill grace outlasts the session's grace period, so the session drops the run while
    // the group still ignores SIGTERM: the drop kills it and the abort hook reports the end.
    let registration = config()
        .kill_grace(Duration::from_secs(60))
        .registration()
        .grace_period(Duration::from_millis(300));
    let mut session = support::session_with(config()).task(registration).build();
    let id = session.submit(shell(&format!("trap '' TERM; {PRINT_THEN_SLEEP}")));
    session.events_until(is_delta).await;
    let pgid = written_pid(session.cwd());

    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_eq!(types(&events), ["exec_command_end", "turn_aborted"]);
    let end = the_end(&events);
    assert!(end.cancelled);
    assert_eq!((end.exit_code, end.signal), (None, None));
    assert_eq!(end.aggregated_output, "started\n");
    assert!(
        eventually(Duration::from_secs(10), || live_members(pgid).is_empty()).await,
        "the dropped run killed the group: {:?} still live",
        live_members(pgid)
    );
    let record = &user_messages(&session.history())[0];
    assert!(record.contains("cancelled it"), "{record}");
    assert!(record.ends_with("Output:\nstarted\n"), "{record}");
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_command_ends_it_before_shutdown_complete() {
    let mut session = session();
    let id = session.submit(shell(PRINT_THEN_SLEEP));
    session.events_until(is_delta).await;
    let pgid = written_pid(session.cwd());
    let events = session.shutdown().await;
    assert_eq!(
        types(&events),
        ["exec_command_end", "turn_aborted", "shutdown_complete"]
    );
    assert!(events[..2].iter().all(|event| event.id == id));
    assert!(the_end(&events).cancelled);
    assert!(live_members(pgid).is_empty());
}
