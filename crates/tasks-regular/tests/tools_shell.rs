//! The `shell` tool in real sessions: each approval answer, each policy, and an interrupt in
//! the middle of a command (the process tree gone, checked in `/proc`).

#[path = "tools_support/mod.rs"]
mod support;

use insta::assert_json_snapshot;
use serde_json::json;
use support::{
    approval_id, assert_interrupted, is_approval, normalize, script, session, tool_outputs, types,
};
use turnkit_protocol::{ApprovalPolicy, EventMsg, Op, ReviewDecision};
use turnkit_testkit::process::live_group_members;

fn decide(id: String, decision: ReviewDecision) -> Op {
    Op::DecideApproval { id, decision }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_approved_runs_the_command_and_the_model_reads_its_output() {
    let mut session = session(ApprovalPolicy::OnRequest);
    let id = session.submit(script(&[&[(
        "shell",
        json!({
            "command": ["echo", "hello"],
            "with_escalated_permissions": true,
            "justification": "say hello"
        }),
    )]]));
    let asked = session.events_until(is_approval).await;
    session.submit(decide(
        approval_id(asked.last().expect("asked")),
        ReviewDecision::Approved,
    ));
    let events = session.events_until_terminal(&id).await;
    let outputs = tool_outputs(&events);
    assert_eq!(outputs[0]["success"], true);
    assert!(
        outputs[0]["text"]
            .as_str()
            .is_some_and(|text| text.ends_with("hello\n")),
        "{outputs:?}"
    );
    assert_json_snapshot!(normalize(&session, session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_denied_tells_the_model_the_user_declined_and_runs_nothing() {
    let mut session = session(ApprovalPolicy::Always);
    let id = session.submit(script(&[&[(
        "shell",
        json!({ "command": ["touch", "made"] }),
    )]]));
    let asked = session.events_until(is_approval).await;
    session.submit(decide(
        approval_id(asked.last().expect("asked")),
        ReviewDecision::Denied,
    ));
    let events = session.events_until_terminal(&id).await;
    assert!(!session.cwd().join("made").exists());
    assert!(
        !types(&events)
            .iter()
            .any(|kind| kind.starts_with("exec_command"))
    );
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some(
                tool_outputs(&events)[0]["text"]
                    .as_str()
                    .expect("text")
                    .to_owned()
            )
        })
    );
    assert_json_snapshot!(normalize(&session, session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_aborted_by_decision_interrupts_the_turn_before_anything_else_runs() {
    let mut session = session(ApprovalPolicy::Always);
    let id = session.submit(script(&[
        &[("shell", json!({ "command": ["touch", "first"] }))],
        &[("shell", json!({ "command": ["touch", "second"] }))],
    ]));
    let asked = session.events_until(is_approval).await;
    session.submit(decide(
        approval_id(asked.last().expect("asked")),
        ReviewDecision::Abort,
    ));
    let events = session.events_until_terminal(&id).await;
    assert_interrupted(&events);
    assert!(!session.cwd().join("first").exists());
    assert!(!session.cwd().join("second").exists());
    assert_eq!(session.session().pending_approvals(), 0);
    assert_json_snapshot!(normalize(&session, session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_runs_without_asking_under_never_and_reports_a_failing_exit() {
    let mut session = session(ApprovalPolicy::Never);
    let events = session
        .run(script(&[&[(
            "shell",
            json!({ "command": ["sh", "-c", "echo out; echo err >&2; exit 3"] }),
        )]]))
        .await;
    assert!(!events.iter().any(is_approval));
    let outputs = tool_outputs(&events);
    assert_eq!(outputs[0]["success"], false);
    assert_json_snapshot!(normalize(&session, &events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_command_is_not_asked_under_untrusted_and_a_writing_one_is() {
    let mut session = session(ApprovalPolicy::Untrusted);
    std::fs::write(session.cwd().join("notes.txt"), "remember\n").expect("a file to read");
    let id = session.submit(script(&[
        &[("shell", json!({ "command": ["cat", "notes.txt"] }))],
        &[(
            "shell",
            json!({ "command": ["bash", "-lc", "echo more >> notes.txt"] }),
        )],
    ]));
    let asked = session.events_until(is_approval).await;
    let EventMsg::ApprovalRequested { request, .. } = &asked.last().expect("asked").msg else {
        unreachable!("events_until stopped at an approval request");
    };
    assert!(request.reason.is_some(), "the request says why it asks");
    assert_eq!(
        types(&asked)
            .iter()
            .filter(|kind| *kind == "exec_command_end")
            .count(),
        1,
        "the read-only command ran before anything was asked"
    );
    session.submit(decide(
        approval_id(asked.last().expect("asked")),
        ReviewDecision::Approved,
    ));
    session.events_until_terminal(&id).await;
    assert_eq!(
        std::fs::read_to_string(session.cwd().join("notes.txt")).expect("the file"),
        "remember\nmore\n"
    );
    assert_json_snapshot!(normalize(&session, session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_for_session_is_not_asked_again_for_the_same_command() {
    let mut session = session(ApprovalPolicy::Always);
    let call = ("shell", json!({ "command": ["echo", "again"] }));
    let once = std::slice::from_ref(&call);
    let id = session.submit(script(&[once, once]));
    let asked = session.events_until(is_approval).await;
    session.submit(decide(
        approval_id(asked.last().expect("asked")),
        ReviewDecision::ApprovedForSession,
    ));
    let events = session.events_until_terminal(&id).await;
    assert!(!events.iter().any(is_approval), "asked once only");
    assert_eq!(
        types(&events)
            .iter()
            .filter(|kind| *kind == "exec_command_end")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workdir_outside_the_session_directory_is_refused() {
    let mut session = session(ApprovalPolicy::Never);
    let events = session
        .run(script(&[&[(
            "shell",
            json!({ "command": ["pwd"], "workdir": ".." }),
        )]]))
        .await;
    assert!(
        !types(&events)
            .iter()
            .any(|kind| kind.starts_with("exec_command"))
    );
    let outputs = tool_outputs(&events);
    assert_eq!(outputs[0]["success"], false);
    assert!(
        outputs[0]["text"]
            .as_str()
            .is_some_and(|text| text.contains("outside the session's directory")),
        "{outputs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_mid_command_kills_the_process_tree_and_ends_the_command_once() {
    let mut session = session(ApprovalPolicy::Never);
    let id = session.submit(script(&[
        &[(
            "shell",
            json!({ "command": ["sh", "-c", "echo $$ > pid; echo started; sleep 60 & sleep 60"] }),
        )],
        &[("shell", json!({ "command": ["touch", "after"] }))],
    ]));
    session
        .events_until(|event| matches!(event.msg, EventMsg::ExecCommandOutputDelta { .. }))
        .await;
    let pgid: u32 = std::fs::read_to_string(session.cwd().join("pid"))
        .expect("the command wrote its pid before it printed")
        .trim()
        .parse()
        .expect("the command's pid, which leads its group");
    assert!(!live_group_members(pgid).is_empty(), "the command runs");

    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_interrupted(&events);
    let ends: Vec<_> = session
        .seen()
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::ExecCommandEnd(end) => Some(end),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 1, "exactly one end, and no second command");
    assert!(ends[0].cancelled);
    assert!(
        live_group_members(pgid).is_empty(),
        "the process tree is gone"
    );
    assert!(!session.cwd().join("after").exists());
    assert_json_snapshot!(normalize(&session, session.seen()));
}
