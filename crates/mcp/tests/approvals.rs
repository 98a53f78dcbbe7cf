//! MCP tools in a real agent turn (scripted model, real stdio server): the approval policy
//! asks for a tool its server does not mark read-only, and each answer does what it says.

mod support;

use std::time::Duration;

use insta::assert_json_snapshot;
use serde_json::json;
use support::{
    answer_next_approval, approval_id, approvals, call, call_ends, is_approval, output_of, say,
    server, session, types,
};
use turnkit::model::ScriptedModel;
use turnkit::{ApprovalPolicy, ApprovalSubject, EventMsg, Op, ReviewDecision, UserInput};
use turnkit_mcp::client::McpClients;

fn user(text: &str) -> Op {
    Op::UserInput {
        items: vec![UserInput::text(text)],
    }
}

/// A model that reads `notes.txt`, writes `out.txt`, then says it is done.
fn read_then_write() -> ScriptedModel {
    ScriptedModel::new([
        call(
            "call-read",
            "files__read_file",
            json!({ "path": "notes.txt" }),
        ),
        call(
            "call-write",
            "files__write_file",
            json!({ "path": "out.txt", "text": "written over MCP" }),
        ),
        say("Done."),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_untrusted_only_the_writing_tool_asks_and_both_run() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("notes.txt"), "read over MCP").expect("write notes");
    let clients = McpClients::connect([server("files", &[])], dir.path()).await;
    assert!(clients.failures().is_empty(), "{:?}", clients.failures());
    let model = read_then_write();
    let mut session = session(clients, &model, ApprovalPolicy::Untrusted);

    let id = session.submit(user("copy my notes"));
    let asked = session.events_until(is_approval).await;
    let request = asked.last().expect("asked");
    let EventMsg::ApprovalRequested {
        request: subject, ..
    } = &request.msg
    else {
        unreachable!("events_until stopped at an approval request")
    };
    assert_eq!(
        subject.subject,
        ApprovalSubject::ToolCall {
            server: "files".into(),
            tool: "write_file".into(),
            arguments: json!({ "path": "out.txt", "text": "written over MCP" }),
        }
    );
    assert!(
        !dir.path().join("out.txt").exists(),
        "nothing is written before the answer"
    );
    session.submit(Op::DecideApproval {
        id: approval_id(request),
        decision: ReviewDecision::Approved,
    });
    let events = session.events_until_terminal(&id).await;

    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).expect("the tool wrote it"),
        "written over MCP"
    );
    assert_eq!(
        approvals(session.seen()).len(),
        1,
        "only the writing tool asks"
    );
    assert_eq!(
        output_of(&session, "call-read"),
        ("read over MCP".into(), Some(true))
    );
    assert_eq!(
        output_of(&session, "call-write"),
        ("wrote out.txt".into(), Some(true))
    );
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("Done.".into())
        })
    );
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_policy_asks_for_the_tools_it_should() {
    for (policy, expected) in [
        (ApprovalPolicy::Never, 0),
        (ApprovalPolicy::OnRequest, 1),
        (ApprovalPolicy::Untrusted, 1),
        (ApprovalPolicy::Always, 2),
    ] {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("notes.txt"), "notes").expect("write notes");
        let clients = McpClients::connect([server("files", &[])], dir.path()).await;
        let model = read_then_write();
        let mut session = session(clients, &model, policy);
        let id = session.submit(user("copy my notes"));
        let mut asked = 0;
        loop {
            let event = session.next_event().await;
            if let EventMsg::ApprovalRequested { approval_id, .. } = &event.msg {
                asked += 1;
                session.submit(Op::DecideApproval {
                    id: approval_id.clone(),
                    decision: ReviewDecision::Approved,
                });
            }
            if event.id == id && event.msg.is_terminal() {
                break;
            }
        }
        assert_eq!(asked, expected, "approvals asked under {policy:?}");
        assert!(
            dir.path().join("out.txt").exists(),
            "written under {policy:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_call_tells_the_model_and_the_server_is_not_called() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clients = McpClients::connect([server("files", &[])], dir.path()).await;
    let model = ScriptedModel::new([
        call(
            "call-write",
            "files__write_file",
            json!({ "path": "out.txt", "text": "no" }),
        ),
        say("Understood."),
    ]);
    let mut session = session(clients, &model, ApprovalPolicy::OnRequest);
    let id = session.submit(user("write"));
    answer_next_approval(&mut session, ReviewDecision::Denied).await;
    let events = session.events_until_terminal(&id).await;
    assert!(!dir.path().join("out.txt").exists());
    assert!(
        !types(&events)
            .iter()
            .any(|kind| kind.starts_with("mcp_tool_call")),
        "{:?}",
        types(&events)
    );
    let (text, success) = output_of(&session, "call-write");
    assert_eq!(success, Some(false));
    assert!(
        text.starts_with("the user declined the call to `write_file`"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_for_the_session_the_same_tool_is_not_asked_again() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clients = McpClients::connect([server("files", &[])], dir.path()).await;
    let model = ScriptedModel::new([
        call(
            "call-1",
            "files__write_file",
            json!({ "path": "a.txt", "text": "a" }),
        ),
        call(
            "call-2",
            "files__write_file",
            json!({ "path": "b.txt", "text": "b" }),
        ),
        say("Both written."),
        call(
            "call-3",
            "files__write_file",
            json!({ "path": "c.txt", "text": "c" }),
        ),
        say("And a third."),
    ]);
    let mut session = session(clients, &model, ApprovalPolicy::Always);
    let id = session.submit(user("write two files"));
    answer_next_approval(&mut session, ReviewDecision::ApprovedForSession).await;
    session.events_until_terminal(&id).await;
    session.run(user("one more")).await;
    for file in ["a.txt", "b.txt", "c.txt"] {
        assert!(dir.path().join(file).exists(), "{file} written");
    }
    assert_eq!(approvals(session.seen()).len(), 1);
    assert_eq!(call_ends(session.seen()).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_stops_the_turn_without_calling_the_server() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clients = McpClients::connect([server("files", &[])], dir.path()).await;
    let model = ScriptedModel::new([
        call(
            "call-write",
            "files__write_file",
            json!({ "path": "out.txt", "text": "no" }),
        ),
        say("never read"),
    ]);
    let mut session = session(clients, &model, ApprovalPolicy::Untrusted);
    let id = session.submit(user("write"));
    answer_next_approval(&mut session, ReviewDecision::Abort).await;
    let events = tokio::time::timeout(Duration::from_secs(30), session.events_until_terminal(&id))
        .await
        .expect("the turn ends");
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TurnAborted {
            reason: turnkit::TurnAbortReason::Interrupted
        })
    );
    assert!(!dir.path().join("out.txt").exists());
    assert_eq!(model.request_count(), 1, "the model is not asked again");
}
