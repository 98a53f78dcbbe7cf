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

#[tokio::test]
async fn terminal_event_is_journalled_and_synced_before_it_is_delivered() {
    let mut session = TestSession::builder()
        .task(echo().registration().accepts_input(true))
        .with_rollout()
        .build();
    let events = session.run(text("hello")).await;
    let terminal = events.last().expect("a terminal event").clone();
    // Read at once: the terminal event must already be on disk, under the seq it was sent with.
    let (records, _) = read_rollout(session.rollout_path().unwrap()).unwrap();
    assert!(
        records
            .iter()
            .any(|record| matches!(record, RolloutRecord::Event { event } if *event == terminal)),
        "{records:#?}"
    );
}

/// Writes a rollout as a crashed process would have left it.
fn crashed_rollout(dir: &std::path::Path, records: &[RolloutRecord]) -> std::path::PathBuf {
    let path = dir.join("crashed.jsonl");
    let mut file = std::fs::File::create(&path).expect("the temp dir takes a file");
    for record in records {
        serde_json::to_writer(&mut file, record).expect("records serialise");
        file.write_all(b"\n").expect("the temp dir takes a write");
    }
    path
}

fn meta() -> RolloutRecord {
    RolloutRecord::SessionMeta {
        session_id: "crashed".into(),
        cwd: "/nonexistent".into(),
        version: 2,
        parent_session_id: None,
    }
}

fn input(id: &str, said: &str) -> RolloutRecord {
    RolloutRecord::UserInput {
        id: id.into(),
        items: vec![turnkit_protocol::UserInput::text(said)],
    }
}

fn event(id: &str, seq: u64, msg: EventMsg) -> RolloutRecord {
    RolloutRecord::Event {
        event: turnkit_protocol::Event {
            id: id.into(),
            seq,
            msg,
        },
    }
}

#[tokio::test(start_paused = true)]
async fn resume_records_turn_aborted_for_a_turn_left_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = crashed_rollout(
        dir.path(),
        &[
            meta(),
            input("sub-1", "one"),
            RolloutRecord::InputStarted {
                ids: vec!["sub-1".into()],
            },
            event(
                "sub-1",
                0,
                EventMsg::TaskStarted {
                    kind: turnkit_protocol::TaskKind::REGULAR,
                },
            ),
            event(
                "sub-1",
                1,
                EventMsg::AgentMessage {
                    message: "working".into(),
                },
            ),
        ],
    );
    let mut resumed = TestSession::from_builder(
        Session::builder()
            .task(echo().registration().accepts_input(true))
            .resume(&path),
    )
    .build();
    let aborted = resumed.next_event().await;
    assert_eq!(aborted.id, "sub-1");
    assert_eq!(aborted.seq, 2, "the recorded end takes the next seq");
    let after = resumed.run(text("two")).await;
    assert_eq!(types(&after), ["task_started", "task_complete"]);
    let (records, _) = read_rollout(&path).unwrap();
    assert!(
        records
            .iter()
            .any(|record| matches!(record, RolloutRecord::Event { event } if *event == aborted)),
        "the turn's end is in the rollout"
    );
    assert_json_snapshot!(resumed.normalize(&[aborted]));
}

#[tokio::test(start_paused = true)]
async fn journalled_input_that_never_started_a_turn_is_reported_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let path = crashed_rollout(dir.path(), &[meta(), input("sub-1", "lost?")]);
    let mut resumed = TestSession::from_builder(Session::builder().resume(&path)).build();
    let warning = resumed.next_event().await;
    assert_eq!(warning.id, "sub-1");
    let EventMsg::Warning { message } = &warning.msg else {
        panic!("expected a warning, got {warning:?}")
    };
    assert!(message.contains("lost?"), "{message}");
    drop(resumed.shutdown().await);
    drop(resumed);
    // Reported once: a second resume does not repeat it.
    let mut again = TestSession::from_builder(Session::builder().resume(&path)).build();
    let events = again.shutdown().await;
    assert_eq!(types(&events), ["shutdown_complete"]);
    assert_json_snapshot!(again.normalize(&[warning]));
}

#[tokio::test]
async fn a_second_session_cannot_open_the_same_rollout_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollout.jsonl");
    let session = Session::builder().rollout(&path).build().unwrap();
    let error = Session::builder()
        .resume(&path)
        .build()
        .err()
        .expect("the rollout is in use");
    assert!(matches!(error, Error::RolloutLocked { .. }), "{error}");
    assert!(error.to_string().contains("in use"), "{error}");
    drop(session);
    let mut reopened = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        if let Ok(session) = Session::builder().resume(&path).build() {
            reopened = Some(session);
            break;
        }
    }
    assert!(reopened.is_some(), "the lock goes with the session");
}

/// A regular turn that asks one approval and answers with the decision it got.
fn approval_asker() -> FnTask {
    FnTask::new(
        turnkit_protocol::TaskKind::REGULAR,
        |ctx, _input, _token| async move {
            let decision = ctx
                .request_approval(turnkit_protocol::ApprovalRequest::command(
                    vec!["make".into()],
                    ctx.cwd().to_owned(),
                ))
                .await;
            Ok(Some(format!("{decision:?}")))
        },
    )
}

/// Answers the next approval request with `Approved` and returns its id.
async fn approve_next(session: &mut Session) -> String {
    loop {
        let event = session.next_event().await.expect("the session is running");
        if let EventMsg::ApprovalRequested { approval_id, .. } = event.msg {
            session
                .submit(turnkit_protocol::Op::DecideApproval {
                    id: approval_id.clone(),
                    decision: turnkit_protocol::ReviewDecision::Approved,
                })
                .expect("a running session takes decisions");
            return approval_id;
        }
    }
}

#[tokio::test]
async fn approval_ids_never_repeat_across_a_resume() {
    let mut session = TestSession::builder()
        .task(approval_asker().registration().accepts_input(true))
        .with_rollout()
        .build();
    let path = session.rollout_path().unwrap().to_owned();
    session.submit(text("one"));
    let before = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    let first = match &before.last().unwrap().msg {
        EventMsg::ApprovalRequested { approval_id, .. } => approval_id.clone(),
        other => panic!("expected an approval request, got {other:?}"),
    };
    session.submit(turnkit_protocol::Op::DecideApproval {
        id: first.clone(),
        decision: turnkit_protocol::ReviewDecision::Approved,
    });
    drop(session.shutdown().await);

    let mut resumed = Session::builder()
        .task(approval_asker().registration().accepts_input(true))
        .resume(&path)
        .build()
        .unwrap();
    resumed.submit(text("two")).unwrap();
    let second = approve_next(&mut resumed).await;
    assert_ne!(
        first, second,
        "a resumed session must not hand out an approval id its journal already holds"
    );
}

#[tokio::test]
async fn a_resume_keeps_the_recorded_policies_unless_it_sets_its_own() {
    use turnkit_protocol::{ApprovalPolicy, SandboxPolicy};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policies.jsonl");
    let session = Session::builder()
        .rollout(&path)
        .approval_policy(ApprovalPolicy::Never)
        .sandbox_policy(SandboxPolicy::read_only())
        .build()
        .unwrap();
    shut_down(session).await;
    let policies = |path: &std::path::Path| -> Vec<(ApprovalPolicy, SandboxPolicy)> {
        read_rollout(path)
            .unwrap()
            .0
            .into_iter()
            .filter_map(|record| match record {
                RolloutRecord::Policies {
                    approval_policy,
                    sandbox_policy,
                } => Some((approval_policy, sandbox_policy)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        policies(&path),
        [(ApprovalPolicy::Never, SandboxPolicy::read_only())],
        "a new session records its policies"
    );

    // Resumed with none of its own: the recorded ones, and nothing new written.
    let resumed = Session::builder().resume(&path).build().unwrap();
    assert_eq!(resumed.approval_policy(), ApprovalPolicy::Never);
    assert_eq!(resumed.sandbox_policy(), &SandboxPolicy::read_only());
    shut_down(resumed).await;
    assert_eq!(policies(&path).len(), 1);

    // Resumed with a policy of its own: that one wins and is recorded for the next resume;
    // the sandbox it did not set stays as recorded.
    let resumed = Session::builder()
        .resume(&path)
        .approval_policy(ApprovalPolicy::Untrusted)
        .build()
        .unwrap();
    assert_eq!(resumed.approval_policy(), ApprovalPolicy::Untrusted);
    assert_eq!(resumed.sandbox_policy(), &SandboxPolicy::read_only());
    shut_down(resumed).await;
    let resumed = Session::builder().resume(&path).build().unwrap();
    assert_eq!(resumed.approval_policy(), ApprovalPolicy::Untrusted);
    shut_down(resumed).await;

    // A rollout written before policies were recorded resumes under the defaults.
    let old = crashed_rollout(dir.path(), &[meta()]);
    let resumed = Session::builder().resume(&old).build().unwrap();
    assert_eq!(resumed.approval_policy(), ApprovalPolicy::default());
    assert_eq!(resumed.sandbox_policy(), &SandboxPolicy::workspace_write());
}

/// Shuts `session` down in order, so its journal holds everything.
async fn shut_down(mut session: Session) {
    session
        .submit(turnkit_protocol::Op::Shutdown)
        .expect("the session takes a shutdown");
    while let Some(event) = session.next_event().await {
        if event.msg == EventMsg::ShutdownComplete {
            break;
        }
    }
}
