//! The `undo` kind through the facade alone: `turnkit::builder()` registers it.
#![cfg(all(feature = "undo", feature = "testkit"))]

use turnkit::testkit::TestSession;
use turnkit::{EventMsg, Op, TaskKind};

#[tokio::test]
async fn undo_with_nothing_to_undo_reports_so() {
    let mut session = TestSession::from_builder(turnkit::builder()).build();

    let events = session.run(Op::Undo).await;

    let kinds: Vec<&EventMsg> = events.iter().map(|event| &event.msg).collect();
    assert!(
        matches!(kinds.first(), Some(EventMsg::TaskStarted { kind }) if *kind == TaskKind::UNDO),
        "{events:#?}"
    );
    assert!(matches!(kinds[1], EventMsg::UndoStarted { message: None }));
    let EventMsg::UndoCompleted(completed) = kinds[2] else {
        panic!("undo_completed expected: {events:#?}");
    };
    assert!(!completed.success);
    assert!(
        completed
            .message
            .starts_with("nothing to undo: no turn with file snapshots"),
        "{}",
        completed.message
    );
    assert!(completed.restored.is_empty() && completed.deleted.is_empty());
    assert!(matches!(kinds[3], EventMsg::TaskComplete { .. }));
    assert_eq!(events.len(), 4);
    assert!(session.history().is_empty());
}
