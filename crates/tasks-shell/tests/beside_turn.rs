//! A user's shell command submitted while a regular turn runs: it runs beside the turn as its
//! auxiliary work, its record reaches the turn's history, and the turn ends after it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use insta::assert_json_snapshot;
use turnkit_protocol::{EventMsg, Op, TaskKind, TurnAbortReason, UserInput};
use turnkit_testkit::FnTask;

use support::{config, eventually, live_members, session_with, shell, the_end, types, written_pid};

/// A regular-like turn that waits until the history holds a user shell record (what its next
/// model request would see) and answers with that record's first line, or stops when cancelled.
fn waits_for_a_shell_record() -> FnTask {
    FnTask::new(TaskKind::REGULAR, |ctx, _input, token| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            let seen = support::user_messages(&ctx.history())
                .into_iter()
                .find(|text| text.starts_with("The user ran a shell command"));
            if let Some(record) = seen {
                let first_lines: Vec<&str> = record.lines().take(2).collect();
                return Ok(Some(format!("saw: {}", first_lines.join(" / "))));
            }
            tokio::select! {
                () = token.cancelled() => return Ok(None),
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
        Err("no shell record reached the turn's history".into())
    })
}

fn user_input(text: &str) -> Op {
    Op::UserInput {
        items: vec![UserInput::text(text)],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_during_a_turn_runs_beside_it_and_the_turn_ends_after_it() {
    let regular = waits_for_a_shell_record();
    let mut session = session_with(config())
        .task(regular.registration().accepts_input(true))
        .build();
    let turn = session.submit(user_input("run the tests"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    let command = session.submit(shell("echo beside"));
    let events = session.events_until_terminal(&turn).await;

    assert_eq!(
        types(&events),
        [
            "exec_command_begin",
            "exec_command_output_delta",
            "exec_command_end",
            "task_complete"
        ]
    );
    let (shell_events, turn_events): (Vec<_>, Vec<_>) =
        events.iter().partition(|event| event.id == command);
    assert_eq!(shell_events.len(), 3, "the shell's events carry its own id");
    assert_eq!(turn_events.len(), 1);
    assert_eq!(the_end(&events).stdout, "beside\n");
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some(
                "saw: The user ran a shell command: / $ echo beside".to_owned()
            )
        })
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupting_the_turn_ends_the_command_beside_it_first() {
    let regular = waits_for_a_shell_record();
    let mut session = session_with(config())
        .task(regular.registration().accepts_input(true))
        .build();
    let turn = session.submit(user_input("run the tests"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    let command = session.submit(shell("echo $$ > pid; echo started; sleep 60"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::ExecCommandOutputDelta { .. }))
        .await;
    let pgid = written_pid(session.cwd());

    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&turn).await;
    assert_eq!(types(&events), ["exec_command_end", "turn_aborted"]);
    assert_eq!(events[0].id, command);
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
        eventually(Duration::from_secs(10), || live_members(pgid).is_empty()).await,
        "the command's group is gone"
    );
    assert!(
        support::user_messages(&session.history())
            .iter()
            .any(|text| text.contains("cancelled it")),
        "the cancelled command is recorded: {:?}",
        session.history()
    );
    assert_eq!(regular.abort_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_after_the_turn_finished_ends_the_command_beside_it_exactly_once() {
    let release = Arc::new(AtomicBool::new(false));
    let regular = {
        let release = Arc::clone(&release);
        FnTask::new(TaskKind::REGULAR, move |ctx, _input, token| {
            let release = Arc::clone(&release);
            async move {
                while !release.load(Ordering::SeqCst) {
                    tokio::select! {
                        () = token.cancelled() => return Ok(None),
                        () = tokio::time::sleep(Duration::from_millis(5)) => {}
                    }
                }
                ctx.send_event(EventMsg::AgentMessage {
                    message: "turn done".into(),
                });
                Ok(Some("turn done".to_owned()))
            }
        })
    };
    let mut session = session_with(config())
        .task(regular.registration().accepts_input(true))
        .build();
    let turn = session.submit(user_input("go"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    let command = session.submit(shell("echo started; sleep 60"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::ExecCommandOutputDelta { .. }))
        .await;
    release.store(true, Ordering::SeqCst);
    session
        .events_until(|event| matches!(event.msg, EventMsg::AgentMessage { .. }))
        .await;

    // The turn's own work is (almost certainly) over and only the command runs; either way
    // the command ends exactly once, cancelled, before the turn's terminal event.
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&turn).await;
    let shell_events: Vec<_> = session
        .seen()
        .iter()
        .filter(|event| event.id == command)
        .cloned()
        .collect();
    assert_eq!(
        types(&shell_events),
        [
            "exec_command_begin",
            "exec_command_output_delta",
            "exec_command_end"
        ]
    );
    assert!(the_end(&shell_events).cancelled);
    let terminal = types(&events).pop().expect("a terminal event");
    assert!(
        ["task_complete", "turn_aborted"].contains(&terminal.as_str()),
        "{terminal}"
    );
    assert_eq!(
        events[events.len() - 2].id,
        command,
        "the command's end comes right before the turn's terminal"
    );
}
