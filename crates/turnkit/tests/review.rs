//! A code review through the facade alone, as a new user runs one: uncommitted changes in a
//! real repository, a reviewer that reads with git and asks before anything else.
#![cfg(all(feature = "review", feature = "regular", feature = "testkit"))]

use std::sync::Arc;

use turnkit::model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit::testkit::TestSession;
use turnkit::testkit::git::{git, init_repo};
use turnkit::{EventMsg, Op, ReviewDecision, ReviewRequest, ReviewTarget, ReviewVerdict};

const FINDINGS: &str = r#"{"findings":[{"title":"Greeting lost its name","body":"greet() no longer prints the name it is given.","priority":1,"confidence":0.9,"location":{"path":"greet.sh","start_line":2,"end_line":2}}],"overall_correctness":"incorrect","overall_explanation":"The greeting regressed.","overall_confidence":0.8}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewing_uncommitted_changes_reads_freely_and_asks_before_anything_else() {
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call(
            "call-1",
            "shell",
            serde_json::json!({"command": ["git", "status", "--short"]}),
        ),
        ScriptedTurn::new().function_call(
            "call-2",
            "shell",
            serde_json::json!({"command": ["touch", "reviewed.txt"]}),
        ),
        ScriptedTurn::new().message(FINDINGS),
    ]);
    let builder = turnkit::builder().service(Arc::new(model.clone()) as Arc<dyn ModelClient>);
    let mut session = TestSession::from_builder(builder).build();
    let dir = session.cwd().to_owned();
    init_repo(&dir);
    std::fs::write(dir.join("greet.sh"), "greet() {\n  echo \"hello $1\"\n}\n").expect("write");
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "greet"]);
    std::fs::write(dir.join("greet.sh"), "greet() {\n  echo hello\n}\n").expect("write");

    let id = session.submit(Op::Review {
        request: ReviewRequest {
            target: ReviewTarget::UncommittedChanges,
            ..ReviewRequest::default()
        },
    });
    let mut events = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    let Some(EventMsg::ApprovalRequested {
        approval_id,
        origin: Some(origin),
        ..
    }) = events.last().map(|event| event.msg.clone())
    else {
        panic!("the reviewer's `touch` asks the root, with its origin: {events:#?}");
    };
    assert_eq!(origin.depth, 1);
    assert!(!dir.join("reviewed.txt").exists());
    session.submit(Op::DecideApproval {
        id: approval_id,
        decision: ReviewDecision::Approved,
    });
    events.extend(session.events_until_terminal(&id).await);

    // Entered first, the read-only command ran without asking and shows with its origin, and
    // the review exits with its findings before the turn ends.
    assert!(matches!(events[1].msg, EventMsg::EnteredReviewMode { .. }));
    let relayed_commands = events
        .iter()
        .filter(|event| matches!(&event.msg, EventMsg::SubSessionEvent { event, .. } if matches!(event.msg, EventMsg::ExecCommandBegin { .. })))
        .count();
    assert_eq!(relayed_commands, 2);
    let Some(EventMsg::ExitedReviewMode {
        review_output: Some(output),
    }) = events.iter().rev().nth(1).map(|event| event.msg.clone())
    else {
        panic!("exited_review_mode with findings comes right before the end: {events:#?}");
    };
    assert_eq!(output.overall_correctness, ReviewVerdict::Incorrect);
    assert_eq!(output.findings[0].location.path, "greet.sh");
    assert!(
        dir.join("reviewed.txt").exists(),
        "the decision reached the child"
    );
    assert_eq!(session.history().len(), 2);
}
