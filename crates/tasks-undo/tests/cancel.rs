//! Interrupting an undo: every file is left fully old or fully new, and exactly one
//! `undo_completed` says which, before `turn_aborted`.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use insta::assert_json_snapshot;
use support::{Edits, Fixture, completed, developer_messages, undone_markers};
use turnkit_protocol::{Event, EventMsg, Op, TurnAbortReason};

const FILES: usize = 200;
const OLD: &str = "old content\n";
const NEW: &str = "new content from the turn\n";

fn name(index: usize) -> String {
    format!("files/f{index:03}.txt")
}

/// A repository of many committed files and a turn that rewrote every one of them.
async fn many_files(fixture: &mut Fixture) {
    for index in 0..FILES {
        fixture.write(&name(index), OLD);
    }
    fixture.commit_all("initial");
    let mut edits = Edits::new();
    for index in 0..FILES {
        edits = edits.write(&name(index), NEW);
    }
    fixture.turn(&edits).await;
}

/// The files back to their old content; panics if any holds something else.
fn restored_files(fixture: &Fixture) -> BTreeSet<String> {
    let mut restored = BTreeSet::new();
    for index in 0..FILES {
        let content = fixture.read(&name(index)).expect("no file goes missing");
        match content.as_str() {
            OLD => {
                restored.insert(name(index));
            }
            NEW => {}
            other => panic!("{} is neither old nor new: {other:?}", name(index)),
        }
    }
    restored
}

/// Submits an undo and interrupts it once its first file is back.
async fn undo_interrupted_midway(fixture: &mut Fixture) -> Vec<Event> {
    let id = fixture.session.submit(Op::Undo);
    let mut events = fixture
        .session
        .events_until(|event| matches!(event.msg, EventMsg::UndoStarted { .. }))
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while restored_files(fixture).is_empty() {
        assert!(Instant::now() < deadline, "undo never restored a file");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    fixture.session.submit(Op::Interrupt);
    events.extend(fixture.session.events_until_terminal(&id).await);
    events
}

fn no_temporary_files_left(fixture: &Fixture) {
    let leftovers: Vec<String> = fixture
        .files()
        .into_keys()
        .filter(|path| path.contains(".turnkit-undo-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_undo_reports_what_it_did_before_turn_aborted() {
    let mut fixture = Fixture::new();
    many_files(&mut fixture).await;

    let events = undo_interrupted_midway(&mut fixture).await;

    let restored = restored_files(&fixture);
    assert!(
        !restored.is_empty() && restored.len() < FILES,
        "the interrupt landed midway: {} of {FILES} restored",
        restored.len()
    );
    let done = completed(&events);
    assert!(!done.success);
    assert_eq!(
        done.restored.iter().cloned().collect::<BTreeSet<_>>(),
        restored,
        "the report names exactly the files that are back"
    );
    assert!(
        done.message.starts_with(&format!(
            "undo of turn sub-1 was stopped: restored {}",
            restored.len()
        )),
        "{}",
        done.message
    );
    assert!(done.message.contains(&format!(
        "{} files still have the turn's changes",
        FILES - restored.len()
    )));
    let position = |wanted: fn(&EventMsg) -> bool| {
        events
            .iter()
            .position(|event| wanted(&event.msg))
            .expect("the event is there")
    };
    assert!(
        position(|msg| matches!(msg, EventMsg::UndoCompleted(_)))
            < position(|msg| matches!(msg, EventMsg::TurnAborted { .. })),
        "undo_completed comes before turn_aborted"
    );
    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::TurnAborted {
            reason: TurnAbortReason::Interrupted
        })
    ));
    no_temporary_files_left(&fixture);

    let history = fixture.history();
    assert!(
        undone_markers(&history).is_empty(),
        "a partial undo does not mark the turn undone"
    );
    let messages = developer_messages(&history);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("stopped partway"));
    assert!(messages[0].contains("still as that turn left them"));

    assert_json_snapshot!(fixture.normalize(&events), {
        "[2].msg.message" => "[stopped after some files]",
        "[2].msg.restored" => "[the files restored]",
    });

    // The next undo finishes the same turn, and only then marks it undone.
    let rest = completed(&fixture.undo().await);
    assert!(rest.success, "{}", rest.message);
    assert_eq!(rest.restored.len(), FILES - restored.len());
    assert_eq!(restored_files(&fixture).len(), FILES);
    assert_eq!(undone_markers(&fixture.history()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_cut_off_at_its_grace_period_is_reported_by_the_abort_hook() {
    // No grace at all: the run is dropped right after the interrupt, so the abort hook is the
    // one that reports.
    let mut fixture = Fixture::with_undo(|registration| registration.grace_period(Duration::ZERO));
    many_files(&mut fixture).await;

    let events = undo_interrupted_midway(&mut fixture).await;

    let restored = restored_files(&fixture);
    let done = completed(&events);
    assert!(!done.success);
    let reported: BTreeSet<String> = done.restored.iter().cloned().collect();
    assert!(reported.is_subset(&restored));
    let unreported: Vec<&String> = restored.difference(&reported).collect();
    assert!(
        unreported.len() <= 1,
        "at most the file in flight is unaccounted for: {unreported:?}"
    );
    for path in unreported {
        assert!(
            done.message
                .contains(&format!("whether {path} was restored is unknown")),
            "{}",
            done.message
        );
    }
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::UndoCompleted(_) => Some("undo_completed"),
            EventMsg::TurnAborted { .. } => Some("turn_aborted"),
            EventMsg::UndoStarted { .. } => Some("undo_started"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["undo_started", "undo_completed", "turn_aborted"]);
    no_temporary_files_left(&fixture);
    assert!(undone_markers(&fixture.history()).is_empty());
}
