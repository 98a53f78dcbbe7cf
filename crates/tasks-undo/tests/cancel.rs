//! Interrupting an undo: every file is left fully old or fully new, and exactly one
//! `undo_completed` says which, before `turn_aborted`.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use insta::assert_json_snapshot;
use support::{Edits, Fixture, completed, developer_messages, undone_markers};
use turnkit_protocol::{Event, EventMsg, Op, TaskKind, TurnAbortReason, UserInput};
use turnkit_session_core::{
    CancellationToken, SessionTask, TaskContext, TaskRegistration, TaskResult,
};
use turnkit_tasks_undo::UndoTask;

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

/// An undo that never hears of its cancellation, so the session must cut it off at the grace
/// period and its abort hook has to report.
struct Deaf(Arc<UndoTask>);

#[async_trait]
impl SessionTask for Deaf {
    fn kind(&self) -> TaskKind {
        TaskKind::UNDO
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        input: Vec<UserInput>,
        _cancellation_token: CancellationToken,
    ) -> TaskResult {
        Arc::clone(&self.0)
            .run(ctx, input, CancellationToken::new())
            .await
    }

    async fn abort(&self, ctx: Arc<TaskContext>) {
        self.0.abort(ctx).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_cut_off_at_its_grace_period_is_reported_by_the_abort_hook() {
    let mut fixture = Fixture::with_undo(|options| {
        TaskRegistration::new(TaskKind::UNDO, move |_op| {
            let undo = UndoTask::with_open_options(options.clone());
            let task: Arc<dyn SessionTask> = Arc::new(Deaf(Arc::new(undo)));
            Ok(task)
        })
        .grace_period(Duration::from_millis(20))
    });
    many_files(&mut fixture).await;

    let events = undo_interrupted_midway(&mut fixture).await;

    let restored = restored_files(&fixture);
    assert!(restored.len() < FILES, "the undo was cut off midway");
    let done = completed(&events);
    assert!(!done.success);
    // The run was dropped inside one file's undo; git-snapshot renames a file into place as
    // its last step, so that file is either fully old or fully new and named as unknown.
    let (_, unknown) = done
        .message
        .split_once("; whether ")
        .expect("the message names the file in flight");
    let unknown = unknown
        .split_once(" was restored is unknown")
        .expect("the message says its state is unknown")
        .0;
    let reported: BTreeSet<String> = done.restored.iter().cloned().collect();
    assert!(!reported.contains(unknown));
    let mut accounted = reported.clone();
    accounted.insert(unknown.to_owned());
    assert!(
        reported.is_subset(&restored) && restored.is_subset(&accounted),
        "the report names every restored file, except perhaps the one in flight"
    );
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
    let history = fixture.history();
    assert!(undone_markers(&history).is_empty());
    if reported.is_empty() {
        assert!(developer_messages(&history).is_empty());
    } else {
        assert!(developer_messages(&history)[0].contains("stopped partway"));
    }
}
