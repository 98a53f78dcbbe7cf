//! A regular turn's edits undone, through the facade alone, as a new user wires it: the agent
//! turn with a scripted model edits a real repository with `apply_patch`, the ghost-snapshot
//! service takes its snapshots around the edit, and `Op::Undo` puts every file back.

#![cfg(all(
    feature = "regular",
    feature = "ghost-snapshot",
    feature = "undo",
    feature = "testkit"
))]

use std::sync::Arc;

use turnkit::model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit::testkit::TestSession;
use turnkit::testkit::git::{git, init_repo};
use turnkit::{ApprovalPolicy, EventMsg, Op, UserInput};

const PATCH: &str = "*** Begin Patch
*** Update File: notes.txt
@@
 alpha
-beta
+gamma
*** Add File: fresh.txt
+made by the turn
*** Delete File: old.txt
*** End Patch
";

#[tokio::test]
async fn a_regular_turns_edits_are_undone_by_the_undo_task() {
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call(
            "call-1",
            "apply_patch",
            turnkit::serde_json::json!({ "input": PATCH }),
        ),
        ScriptedTurn::new().message("Edited."),
    ]);
    let builder = turnkit::builder()
        .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
        .approval_policy(ApprovalPolicy::Never);
    let mut session = TestSession::from_builder(builder).build();
    let dir = session.cwd().to_owned();
    init_repo(&dir);
    std::fs::write(dir.join("notes.txt"), "alpha\nbeta\n").expect("write");
    std::fs::write(dir.join("old.txt"), "kept by undo\n").expect("write");
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "initial"]);

    let turn = session
        .run(Op::UserInput {
            items: vec![UserInput::text("change beta to gamma")],
        })
        .await;
    assert_eq!(
        turn.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("Edited.".into())
        }),
        "{turn:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).expect("read"),
        "alpha\ngamma\n"
    );
    assert!(dir.join("fresh.txt").exists());
    assert!(!dir.join("old.txt").exists());

    let undo = session.run(Op::Undo).await;
    let completed = undo
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::UndoCompleted(completed) => Some(completed.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("an undo_completed event: {undo:#?}"));
    assert!(completed.success, "{completed:#?}");
    assert_eq!(completed.restored, ["notes.txt", "old.txt"]);
    assert_eq!(completed.deleted, ["fresh.txt"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).expect("read"),
        "alpha\nbeta\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("old.txt")).expect("read"),
        "kept by undo\n"
    );
    assert!(!dir.join("fresh.txt").exists());
    assert_eq!(
        git(&dir, &["status", "--porcelain"]),
        "",
        "the working tree is as committed again"
    );
}
