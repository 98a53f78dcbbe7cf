//! A client of its own, written from the facade alone as the `turnkit` command is: a stored
//! session, a turn whose command needs approval, the decision sent back, the events written
//! as JSON lines, and the session resumed from its rollout.

#![cfg(all(feature = "regular", feature = "openai"))]

use std::sync::Arc;

use turnkit::model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit::serde_json::{self, json};
use turnkit::{ApprovalPolicy, Event, EventMsg, Op, ReviewDecision, UserInput};

#[tokio::test(flavor = "multi_thread")]
async fn a_client_answers_an_approval_writes_json_lines_and_resumes() {
    let project = tempfile::tempdir().expect("a temp dir");
    let rollout = project.path().join("session.jsonl");
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call(
            "call-1",
            "shell",
            json!({ "command": ["touch", "made.txt"] }),
        ),
        ScriptedTurn::new().message("Made it."),
        ScriptedTurn::new().message("Still here."),
    ]);
    let client: Arc<dyn ModelClient> = Arc::new(model);
    let mut session = turnkit::builder()
        .cwd(project.path())
        .approval_policy(ApprovalPolicy::Always)
        .service(Arc::clone(&client))
        .rollout(&rollout)
        .build()
        .expect("a session");
    let turn = session
        .submit(Op::UserInput {
            items: vec![UserInput::text("make a file")],
        })
        .expect("submitted");
    let mut lines = Vec::new();
    while let Some(event) = session.next_event().await {
        lines.push(serde_json::to_string(&event).expect("events serialise"));
        if let EventMsg::ApprovalRequested { approval_id, .. } = &event.msg {
            session
                .submit(Op::DecideApproval {
                    id: approval_id.clone(),
                    decision: ReviewDecision::Approved,
                })
                .expect("decided");
        }
        if event.id == turn && event.msg.is_terminal() {
            break;
        }
    }
    // A clean shutdown releases the rollout (its lock and its writer) before a resume.
    session.submit(Op::Shutdown).expect("submitted");
    while let Some(event) = session.next_event().await {
        if event.msg == EventMsg::ShutdownComplete {
            break;
        }
    }
    drop(session);
    let events: Vec<Event> = lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("one event a line"))
        .collect();
    assert!(
        project.path().join("made.txt").exists(),
        "the approved command ran"
    );
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("Made it.".into())
        })
    );

    let mut resumed = turnkit::builder()
        .cwd(project.path())
        .service(client)
        .resume(&rollout)
        .build()
        .expect("the session resumes from its rollout");
    assert!(
        resumed.history().len() >= 3,
        "the first turn is in the resumed history"
    );
    let again = resumed
        .submit(Op::UserInput {
            items: vec![UserInput::text("still there?")],
        })
        .expect("submitted");
    loop {
        let event = resumed.next_event().await.expect("the session is running");
        if event.id == again && event.msg.is_terminal() {
            assert_eq!(
                event.msg,
                EventMsg::TaskComplete {
                    last_agent_message: Some("Still here.".into())
                }
            );
            break;
        }
    }
}
