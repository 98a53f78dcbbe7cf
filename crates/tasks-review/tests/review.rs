//! `Op::Review` through a real session in a real git repository: targets, the child's tools and
//! approvals, interrupts, and what the parent keeps.

mod support;

use insta::assert_json_snapshot;
use turnkit_model::{ScriptedModel, ScriptedTurn};
use turnkit_protocol::{
    EventMsg, Op, ResponseItem, ReviewDecision, ReviewRequest, ReviewTarget, ReviewVerdict,
};
use turnkit_tasks_review::REVIEW_RUBRIC;
use turnkit_testkit::git::git;

use support::session;

const FINDINGS: &str = r#"{"findings":[{"title":"second() lost its body","body":"The change empties second(); callers now get nothing.","priority":1,"confidence":0.9,"location":{"path":"lib.rs","start_line":2,"end_line":2}}],"overall_correctness":"incorrect","overall_explanation":"One function was emptied.","overall_confidence":0.8}"#;

fn review(target: ReviewTarget) -> Op {
    Op::Review {
        request: ReviewRequest {
            target,
            prompt: String::new(),
            user_facing_hint: String::new(),
        },
    }
}

fn shell_call(call_id: &str, command: &[&str]) -> ScriptedTurn {
    ScriptedTurn::new().function_call(call_id, "shell", serde_json::json!({ "command": command }))
}

/// The normalised events without the child's relayed ones and without `seq`: relayed events
/// are read from the child's own stream and may interleave with its approval request (sent
/// straight to the root) either way; `normalize` has checked `seq` has no gap.
fn own(
    session: &turnkit_testkit::TestSession,
    events: &[turnkit_protocol::Event],
) -> serde_json::Value {
    let serde_json::Value::Array(events) = session.normalize(events) else {
        panic!("normalised events are an array");
    };
    events
        .into_iter()
        .filter(|event| event["msg"]["type"] != "sub_session_event")
        .map(|mut event| {
            if let Some(event) = event.as_object_mut() {
                event.remove("seq");
            }
            event
        })
        .collect()
}

/// How many of the child's events were relayed with their origin.
fn relayed(events: &[turnkit_protocol::Event]) -> usize {
    events
        .iter()
        .filter(|event| matches!(&event.msg, EventMsg::SubSessionEvent { origin, .. } if origin.task_kind == turnkit_protocol::TaskKind::REVIEW))
        .count()
}

/// The review output `exited_review_mode` carried.
fn exited(events: &[turnkit_protocol::Event]) -> Vec<Option<turnkit_protocol::ReviewOutput>> {
    events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::ExitedReviewMode { review_output } => Some(review_output.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncommitted_changes_are_reviewed_with_a_read_only_command_and_an_approved_one() {
    let model = ScriptedModel::new([
        shell_call("call-1", &["git", "status"]),
        shell_call("call-2", &["cargo", "test"]),
        ScriptedTurn::new().message(FINDINGS),
    ]);
    let mut session = session(&model);
    let dir = session.cwd().to_owned();
    std::fs::write(dir.join("lib.rs"), "fn first() {}\nfn second();\n").expect("write");
    std::fs::write(dir.join("staged.rs"), "pub fn staged() {}\n").expect("write");
    git(&dir, &["add", "staged.rs"]);
    std::fs::write(dir.join("new.rs"), "pub fn untracked() {}\n").expect("write");

    let id = session.submit(review(ReviewTarget::UncommittedChanges));
    let mut events = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    let Some(EventMsg::ApprovalRequested {
        approval_id,
        origin,
        ..
    }) = events.last().map(|event| event.msg.clone())
    else {
        panic!("the command that needs approval asks the root");
    };
    assert!(origin.is_some(), "the request names the review's child");
    session.submit(Op::DecideApproval {
        id: approval_id,
        decision: ReviewDecision::Approved,
    });
    events.extend(session.events_until_terminal(&id).await);

    assert_json_snapshot!(own(&session, &events));
    assert_eq!(relayed(&events), 2, "the child's start and end are relayed");
    let prompts = model.prompts();
    assert_eq!(prompts[0].instructions, REVIEW_RUBRIC);
    assert!(prompts[0].output_schema.is_some());
    assert_eq!(prompts[0].tools.len(), 1);
    assert_json_snapshot!("uncommitted_changes_first_prompt", prompts[0].input);
    let output = exited(&events)
        .pop()
        .flatten()
        .expect("a review with findings");
    assert_eq!(output.findings.len(), 1);
    assert_eq!(output.overall_correctness, ReviewVerdict::Incorrect);
    // The decision reached the child: its second call ran.
    assert!(
        serde_json::to_string(&prompts[2].input)
            .expect("json")
            .contains("ran cargo test")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_command_is_reported_to_the_child_and_the_review_goes_on() {
    let model = ScriptedModel::new([
        shell_call("call-1", &["cargo", "test"]),
        ScriptedTurn::new().message(FINDINGS),
    ]);
    let mut session = session(&model);
    std::fs::write(session.cwd().join("lib.rs"), "fn first() {}\n").expect("write");

    let id = session.submit(review(ReviewTarget::UncommittedChanges));
    let events = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    let Some(EventMsg::ApprovalRequested { approval_id, .. }) =
        events.last().map(|event| event.msg.clone())
    else {
        panic!("the command asks the root");
    };
    session.submit(Op::DecideApproval {
        id: approval_id,
        decision: ReviewDecision::Denied,
    });
    session.events_until_terminal(&id).await;

    assert!(
        serde_json::to_string(&model.prompts()[1].input)
            .expect("json")
            .contains("the user declined to run this command")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_while_the_child_waits_for_approval_exits_review_mode_before_turn_aborted() {
    let model = ScriptedModel::new([shell_call("call-1", &["cargo", "test"])]);
    let mut session = session(&model);
    std::fs::write(session.cwd().join("lib.rs"), "fn first() {}\n").expect("write");

    let id = session.submit(review(ReviewTarget::UncommittedChanges));
    let mut events = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    session.submit(Op::Interrupt);
    events.extend(session.events_until_terminal(&id).await);

    assert_json_snapshot!(own(&session, &events));
    assert_eq!(exited(&events), [None]);
    assert_eq!(session.session().pending_approvals(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_diff_is_reported_without_calling_the_model() {
    let model = ScriptedModel::new([]);
    let mut session = session(&model);

    let events = session.run(review(ReviewTarget::UncommittedChanges)).await;

    assert_json_snapshot!(session.normalize(&events));
    assert_eq!(model.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_branch_review_sees_the_diff_from_the_merge_base() {
    let model = ScriptedModel::new([ScriptedTurn::new().message(FINDINGS)]);
    let mut session = session(&model);
    let dir = session.cwd().to_owned();
    git(&dir, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(dir.join("feature.rs"), "pub fn feature() {}\n").expect("write");
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "feature"]);
    git(&dir, &["checkout", "-q", "main"]);
    std::fs::write(dir.join("main_only.rs"), "pub fn later() {}\n").expect("write");
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "main moves on"]);
    git(&dir, &["checkout", "-q", "feature"]);

    session
        .run(review(ReviewTarget::BaseBranch {
            branch: "main".into(),
        }))
        .await;

    let input = serde_json::to_string(&model.prompts()[0].input).expect("json");
    assert!(input.contains("feature.rs"));
    assert!(
        !input.contains("main_only.rs"),
        "only the branch's own changes"
    );
    assert!(input.contains("merge base"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_review_sees_that_commit_alone() {
    let model = ScriptedModel::new([ScriptedTurn::new().message(FINDINGS)]);
    let mut session = session(&model);
    let dir = session.cwd().to_owned();
    std::fs::write(dir.join("one.rs"), "pub fn one() {}\n").expect("write");
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "one"]);
    let sha = git(&dir, &["rev-parse", "HEAD"]).trim().to_owned();
    std::fs::write(dir.join("two.rs"), "pub fn two() {}\n").expect("write");
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "two"]);

    session
        .run(review(ReviewTarget::Commit {
            sha: sha.clone(),
            title: Some("one".into()),
        }))
        .await;

    let input = serde_json::to_string(&model.prompts()[0].input).expect("json");
    assert!(input.contains("one.rs"));
    assert!(!input.contains("two.rs"));
    assert!(input.contains(&format!("git show {sha}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_answer_is_kept_as_plain_text() {
    let model =
        ScriptedModel::new([ScriptedTurn::new()
            .message("Looks mostly fine, but {\"findings\": [ is where I stopped.")]);
    let mut session = session(&model);
    std::fs::write(session.cwd().join("lib.rs"), "fn first() {}\n").expect("write");

    let events = session.run(review(ReviewTarget::UncommittedChanges)).await;

    let output = exited(&events).pop().flatten().expect("an output");
    assert_eq!(output.overall_correctness, ReviewVerdict::Unknown);
    assert!(output.findings.is_empty());
    assert_eq!(
        output.overall_explanation,
        "Looks mostly fine, but {\"findings\": [ is where I stopped."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parent_keeps_a_short_request_and_answer_never_the_childs_transcript() {
    let model = ScriptedModel::new([
        shell_call("call-1", &["git", "diff"]),
        ScriptedTurn::new().message(FINDINGS),
    ]);
    let mut session = session(&model);
    std::fs::write(session.cwd().join("lib.rs"), "fn first() {}\n").expect("write");

    session.run(review(ReviewTarget::UncommittedChanges)).await;

    let history = session.history();
    assert_json_snapshot!(history);
    assert_eq!(history.len(), 2);
    assert!(
        !history
            .iter()
            .any(|item| matches!(item, ResponseItem::FunctionCall { .. }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diff_too_large_for_the_context_is_cut_with_a_note_naming_the_files_left_out() {
    let model = ScriptedModel::new([ScriptedTurn::new().message(FINDINGS)])
        .with_info(turnkit_model::ModelInfo::with_context_window(200));
    let mut session = session(&model);
    let dir = session.cwd().to_owned();
    std::fs::write(dir.join("lib.rs"), "fn first() {}\n").expect("write");
    std::fs::write(dir.join("zz_large.rs"), "// filler line\n".repeat(100)).expect("write");

    session.run(review(ReviewTarget::UncommittedChanges)).await;

    let input = serde_json::to_string(&model.prompts()[0].input).expect("json");
    assert!(input.contains("-fn second() {}"), "the small file is kept");
    assert!(!input.contains("filler line"), "the large file is left out");
    assert!(input.contains("these files were left out: zz_large.rs"));
}
