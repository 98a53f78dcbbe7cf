//! The rollout journal: durability points, resume, torn and corrupt lines, clear errors.

mod support;

use std::io::Write;

use insta::assert_json_snapshot;
use support::{echo, text, types};
use turnkit_protocol::{EventMsg, ResponseItem};
use turnkit_session_core::{Error, RolloutRecord, Session, read_rollout};
use turnkit_testkit::{FnTask, TestSession};

/// A regular turn that records the user's text and its answer in the history.
fn recorder() -> FnTask {
    FnTask::new(
        turnkit_protocol::TaskKind::REGULAR,
        |ctx, input, _token| async move {
            let said = support::texts(&input).join(" ");
            ctx.record_items([
                ResponseItem::user_text(&said),
                ResponseItem::assistant_text(format!("ok: {said}")),
            ]);
            Ok(Some(format!("ok: {said}")))
        },
    )
}

#[tokio::test]
async fn rollout_is_synced_before_the_terminal_event_and_resumes_the_history() {
    let mut session = TestSession::builder()
        .task(recorder().registration().accepts_input(true))
        .with_rollout()
        .build();
    session.run(text("one")).await;
    session.run(text("two")).await;
    let path = session.rollout_path().unwrap().to_owned();
    // The terminal event was sent after the sync, so the file already holds both turns.
    let (records, warnings) = read_rollout(&path).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let items: Vec<_> = records
        .iter()
        .filter_map(|record| match record {
            RolloutRecord::ResponseItem { item } => Some(item.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(items.len(), 4);
    assert!(
        records
            .iter()
            .any(|record| matches!(record, RolloutRecord::UserInput { .. }))
    );
    let history = session.history();
    drop(session.shutdown().await);
    // Seeing shutdown_complete means the journal holds everything, that event included.
    let (records, _) = read_rollout(&path).unwrap();
    assert!(
        matches!(records.last(), Some(RolloutRecord::Event { event }) if event.msg == EventMsg::ShutdownComplete),
        "{:?}",
        records.last()
    );

    let mut resumed = Session::builder()
        .task(recorder().registration().accepts_input(true))
        .resume(&path)
        .build()
        .unwrap();
    assert_eq!(resumed.history(), history);
    assert_eq!(resumed.id(), "test-session");
    let third = resumed.submit(text("three")).unwrap();
    assert_eq!(
        third, "sub-4",
        "generated submission ids go on from the rollout"
    );
    let first = resumed.next_event().await.unwrap();
    assert!(first.seq > 0, "sequence numbers go on from the rollout");
    assert_eq!(
        first.msg,
        EventMsg::TaskStarted {
            kind: turnkit_protocol::TaskKind::REGULAR
        }
    );
}

#[tokio::test(start_paused = true)]
async fn torn_last_rollout_line_is_a_warning_and_the_rest_resumes() {
    let mut session = TestSession::builder()
        .task(recorder().registration().accepts_input(true))
        .with_rollout()
        .build();
    session.run(text("kept")).await;
    let path = session.rollout_path().unwrap().to_owned();
    let history = session.history();
    drop(session.shutdown().await);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(br#"{"type":"response_item","item":{"type":"mess"#)
        .unwrap();
    drop(file);

    let mut resumed = TestSession::from_builder(
        Session::builder()
            .task(recorder().registration().accepts_input(true))
            .resume(&path),
    )
    .build();
    let warning = resumed.next_event().await;
    let EventMsg::Warning { message } = &warning.msg else {
        panic!("expected a warning, got {warning:?}")
    };
    assert!(message.contains("cut short"), "{message}");
    assert_eq!(resumed.history(), history);
    let events = resumed.run(text("after")).await;
    assert_eq!(types(&events), ["task_started", "task_complete"]);
    // New records start on a fresh line, so the file reads back with only the torn line lost.
    let (records, warnings) = read_rollout(&path).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(records.len() > 3);
    assert_json_snapshot!(resumed.normalize(&[warning]));
}

#[tokio::test]
async fn resuming_a_missing_rollout_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let error = Session::builder()
        .resume(&missing)
        .build()
        .err()
        .expect("resume of a missing file fails");
    assert!(matches!(error, Error::RolloutMissing { .. }));
    assert!(error.to_string().contains("nope.jsonl"), "{error}");
    assert!(!missing.exists(), "nothing was created");
}

#[tokio::test]
async fn resuming_a_file_that_is_not_a_rollout_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "shopping list\n").unwrap();
    let error = Session::builder()
        .resume(&path)
        .build()
        .err()
        .expect("not a rollout");
    assert!(matches!(error, Error::NotARollout { .. }), "{error}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "shopping list\n",
        "the file is untouched"
    );
}

#[tokio::test]
async fn creating_a_rollout_over_an_existing_file_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout.jsonl");
    std::fs::write(&path, "precious\n").unwrap();
    let error = Session::builder()
        .rollout(&path)
        .build()
        .err()
        .expect("an existing file is not overwritten");
    assert!(matches!(error, Error::RolloutIo { .. }), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious\n");
}

#[tokio::test]
async fn building_outside_a_runtime_is_a_clear_error() {
    let error = std::thread::spawn(|| Session::builder().build().err())
        .join()
        .unwrap()
        .expect("no runtime");
    assert!(matches!(error, Error::NoRuntime));
}

#[tokio::test(start_paused = true)]
async fn user_input_is_journalled_before_its_turn_starts() {
    let mut session = TestSession::builder()
        .task(echo().registration().accepts_input(true))
        .with_rollout()
        .build();
    let id = session.submit(text("remember me"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::TaskStarted { .. }))
        .await;
    let (records, _) = read_rollout(session.rollout_path().unwrap()).unwrap();
    assert!(records.iter().any(
        |record| matches!(record, RolloutRecord::UserInput { id: input_id, .. } if *input_id == id)
    ));
}
