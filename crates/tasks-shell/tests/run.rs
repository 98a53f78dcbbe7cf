//! A user's shell command run as a turn of its own: its events, its history record, and the
//! commands that fail or never start.

mod support;

use insta::assert_json_snapshot;
use turnkit_protocol::{EventMsg, ExecSource, ExecStream};
use turnkit_tasks_shell::UserShellCommandTask;

use support::{deltas, session, shell, the_end, types, user_messages};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_is_a_turn_with_begin_delta_end_and_a_history_record() {
    let mut session = session();
    let id = session.submit(shell("echo hello"));
    let events = session.events_until_terminal(&id).await;

    let EventMsg::ExecCommandBegin {
        call_id,
        command,
        cwd,
        source,
    } = &events[1].msg
    else {
        panic!("the second event is the begin: {events:#?}")
    };
    assert_eq!(call_id, &UserShellCommandTask::call_id(&id));
    assert_eq!(command, &["/bin/sh", "-c", "echo hello"]);
    assert_eq!(cwd, session.cwd());
    assert_eq!(*source, ExecSource::UserShell);
    let end = the_end(&events);
    assert_eq!(end.exit_code, Some(0));
    assert_eq!(end.stdout, "hello\n");
    assert_eq!(
        deltas(&events),
        [(ExecStream::Stdout, b"hello\n".as_slice())]
    );
    assert_eq!(
        user_messages(&session.history()),
        ["The user ran a shell command:\n$ echo hello\nExit code: 0\nOutput:\nhello\n"]
    );
    assert_json_snapshot!(session.normalize(&events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_zero_exit_reports_the_code_and_stderr() {
    let mut session = session();
    let events = session.run(shell("echo oops >&2; exit 3")).await;
    let end = the_end(&events);
    assert_eq!(end.exit_code, Some(3));
    assert_eq!(end.stderr, "oops\n");
    assert!(!end.cancelled);
    assert_eq!(
        deltas(&events),
        [(ExecStream::Stderr, b"oops\n".as_slice())]
    );
    assert_eq!(
        types(&events).last().map(String::as_str),
        Some("task_complete"),
        "a failed command is a completed turn, not an error"
    );
    assert_json_snapshot!(session.normalize(&events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_program_is_exit_code_127_with_the_shells_message() {
    let mut session = session();
    let events = session
        .run(shell("turnkit-no-such-program-anywhere --help"))
        .await;
    let end = the_end(&events);
    assert_eq!(end.exit_code, Some(127));
    assert!(
        end.stderr.contains("turnkit-no-such-program-anywhere") && end.stderr.contains("not found"),
        "{}",
        end.stderr
    );
    let record = &user_messages(&session.history())[0];
    assert!(record.contains("Exit code: 127"), "{record}");
    // The shell may write its message in several pieces: one delta each.
    let streamed: Vec<u8> = deltas(&events)
        .into_iter()
        .flat_map(|(stream, chunk)| {
            assert_eq!(stream, ExecStream::Stderr);
            chunk.to_vec()
        })
        .collect();
    assert_eq!(String::from_utf8_lossy(&streamed), end.stderr);
    let mut kinds = types(&events);
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "task_started",
            "exec_command_begin",
            "exec_command_output_delta",
            "exec_command_end",
            "task_complete"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_command_is_an_error_and_nothing_runs() {
    let mut session = session();
    let blank = session.submit(shell("  \t "));
    let error = session.next_event().await;
    assert_eq!(error.id, blank);
    let EventMsg::Error { message } = &error.msg else {
        panic!("expected an error, got {error:?}")
    };
    assert!(
        message.starts_with("cannot start `user_shell`"),
        "{message}"
    );
    assert!(message.contains("empty"), "{message}");

    // Nothing started for the blank command: the next events belong to the next one.
    let next = session.submit(shell("true"));
    let events = session.events_until_terminal(&next).await;
    assert!(events.iter().all(|event| event.id == next), "{events:#?}");
    assert!(session.history().len() == 1, "only `true` is recorded");
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_cannot_start_still_ends_then_errors() {
    let mut session = session();
    std::fs::remove_dir(session.cwd()).expect("the working directory can be removed");
    let events = session.run(shell("echo never")).await;
    let end = the_end(&events);
    assert_eq!(end.exit_code, None);
    assert!(end.stderr.contains("does not exist"), "{}", end.stderr);
    let record = &user_messages(&session.history())[0];
    assert!(record.contains("could not be run"), "{record}");
    assert_eq!(
        types(&events),
        [
            "task_started",
            "exec_command_begin",
            "exec_command_end",
            "error",
            "task_complete"
        ]
    );
    assert_json_snapshot!(session.normalize(&events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_in_the_sessions_directory() {
    let mut session = session();
    std::fs::write(session.cwd().join("marker.txt"), "here\n").expect("write the marker");
    let events = session.run(shell("cat marker.txt")).await;
    assert_eq!(the_end(&events).stdout, "here\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_timeout_kills_the_command_and_says_so() {
    let mut session = support::session_with(
        support::config()
            .timeout(std::time::Duration::from_millis(200))
            .kill_grace(std::time::Duration::from_millis(200)),
    )
    .build();
    let events = session.run(shell("sleep 60")).await;
    let end = the_end(&events);
    assert!(end.timed_out);
    assert!(!end.cancelled);
    assert!(
        end.formatted_output.starts_with("Timed out after 200ms"),
        "{}",
        end.formatted_output
    );
    let record = &user_messages(&session.history())[0];
    assert!(
        record.starts_with("The user ran a shell command:\n$ sleep 60\nTimed out"),
        "{record}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_op_named_like_the_kind_is_refused() {
    let mut session = session();
    let id = session.submit(turnkit_protocol::Op::Custom {
        name: "user_shell".into(),
        payload: serde_json::json!("echo sneaky"),
    });
    let event = session.next_event().await;
    assert_eq!(event.id, id);
    let EventMsg::Error { message } = &event.msg else {
        panic!("expected an error, got {event:?}")
    };
    assert!(
        message.contains("runs only `run_user_shell_command`, not `custom`"),
        "{message}"
    );
    assert!(session.history().is_empty());
}
