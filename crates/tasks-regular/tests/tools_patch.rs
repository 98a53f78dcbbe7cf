//! The `apply_patch` tool in real sessions: adds, updates, moves and deletes files with
//! `patch_apply_begin`/`patch_apply_end`; a patch that does not apply or points outside the
//! directory writes nothing; the approval request shows the diff, and `on_request` asks only
//! when the model escalates.

#[path = "tools_support/mod.rs"]
mod support;

use std::fs;

use insta::assert_json_snapshot;
use serde_json::json;
use support::{approval_id, is_approval, normalize, script, session, tool_outputs, types};
use turnkit_protocol::{ApprovalPolicy, ApprovalSubject, EventMsg, Op, ReviewDecision};

fn patch(input: &str) -> Op {
    script(&[&[("apply_patch", json!({ "input": input }))]])
}

fn patch_events(kinds: &[String]) -> Vec<&String> {
    kinds
        .iter()
        .filter(|kind| kind.starts_with("patch_apply"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_patch_adds_updates_moves_and_deletes_files() {
    let mut session = session(ApprovalPolicy::Never);
    let cwd = session.cwd().to_path_buf();
    fs::write(cwd.join("greet.txt"), "hello\nworld\n").expect("a file to update");
    fs::write(cwd.join("old.txt"), "obsolete\n").expect("a file to delete");
    fs::write(cwd.join("move.txt"), "one\ntwo\n").expect("a file to move");
    let events = session
        .run(patch(
            "*** Begin Patch\n\
             *** Add File: docs/new.md\n+# New\n+text\n\
             *** Update File: greet.txt\n@@\n hello\n-world\n+there\n\
             *** Delete File: old.txt\n\
             *** Update File: move.txt\n*** Move to: moved/move.txt\n@@\n one\n-two\n+three\n\
             *** End Patch\n",
        ))
        .await;
    assert_eq!(
        fs::read_to_string(cwd.join("docs/new.md")).expect("added"),
        "# New\ntext\n"
    );
    assert_eq!(
        fs::read_to_string(cwd.join("greet.txt")).expect("updated"),
        "hello\nthere\n"
    );
    assert!(!cwd.join("old.txt").exists());
    assert!(!cwd.join("move.txt").exists());
    assert_eq!(
        fs::read_to_string(cwd.join("moved/move.txt")).expect("moved"),
        "one\nthree\n"
    );
    assert_eq!(
        patch_events(&types(&events)),
        ["patch_apply_begin", "patch_apply_end"]
    );
    assert_eq!(tool_outputs(&events)[0]["success"], true);
    assert_json_snapshot!(normalize(&session, &events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_whose_second_hunk_does_not_apply_writes_nothing_and_names_the_hunk() {
    let mut session = session(ApprovalPolicy::Never);
    let cwd = session.cwd().to_path_buf();
    fs::write(cwd.join("code.txt"), "a\nb\nc\nd\n").expect("a file to update");
    let events = session
        .run(patch(
            "*** Begin Patch\n\
             *** Add File: added.txt\n+should not appear\n\
             *** Update File: code.txt\n@@\n a\n-b\n+B\n@@\n c\n-x\n+X\n\
             *** End Patch\n",
        ))
        .await;
    assert_eq!(
        fs::read_to_string(cwd.join("code.txt")).expect("kept"),
        "a\nb\nc\nd\n"
    );
    assert!(!cwd.join("added.txt").exists());
    assert!(patch_events(&types(&events)).is_empty(), "nothing began");
    let text = tool_outputs(&events)[0]["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(text.contains("no file was changed"), "{text}");
    assert!(text.contains("hunk 2 of 2 for `code.txt`"), "{text}");
    assert_json_snapshot!(normalize(&session, &events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_pointing_outside_the_directory_is_refused() {
    let mut session = session(ApprovalPolicy::Never);
    let outside = session.temp_dir().join("escape.txt");
    let events = session
        .run(patch(
            "*** Begin Patch\n*** Add File: ../escape.txt\n+out\n*** End Patch\n",
        ))
        .await;
    assert!(!outside.exists());
    assert!(patch_events(&types(&events)).is_empty());
    let outputs = tool_outputs(&events);
    assert_eq!(outputs[0]["success"], false);
    assert_json_snapshot!(normalize(&session, &events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_under_untrusted_asks_with_its_diff_and_applies_once_approved() {
    let mut session = session(ApprovalPolicy::Untrusted);
    let cwd = session.cwd().to_path_buf();
    fs::write(cwd.join("greet.txt"), "hello\nworld\n").expect("a file to update");
    let id = session.submit(patch(
        "*** Begin Patch\n*** Update File: greet.txt\n@@\n hello\n-world\n+there\n*** Add File: new.txt\n+fresh\n*** End Patch\n",
    ));
    let asked = session.events_until(is_approval).await;
    let EventMsg::ApprovalRequested { request, .. } = &asked.last().expect("asked").msg else {
        unreachable!("events_until stopped at an approval request");
    };
    let ApprovalSubject::Patch { files, diff, .. } = &request.subject else {
        panic!("a patch subject: {request:?}");
    };
    assert_eq!(
        files,
        &[std::path::PathBuf::from("greet.txt"), "new.txt".into()]
    );
    assert!(diff.contains("-world\n+there\n"), "{diff}");
    assert!(
        diff.contains("--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,1 @@\n+fresh\n"),
        "{diff}"
    );
    assert_eq!(
        fs::read_to_string(cwd.join("greet.txt")).expect("not yet"),
        "hello\nworld\n"
    );
    session.submit(Op::DecideApproval {
        id: approval_id(asked.last().expect("asked")),
        decision: ReviewDecision::Approved,
    });
    session.events_until_terminal(&id).await;
    assert_eq!(
        fs::read_to_string(cwd.join("greet.txt")).expect("updated"),
        "hello\nthere\n"
    );
    assert_json_snapshot!(normalize(&session, session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_under_on_request_applies_without_asking_unless_escalated() {
    let mut session = session(ApprovalPolicy::OnRequest);
    let cwd = session.cwd().to_path_buf();
    let events = session
        .run(patch(
            "*** Begin Patch\n*** Add File: quiet.txt\n+ok\n*** End Patch\n",
        ))
        .await;
    assert!(!events.iter().any(is_approval));
    assert!(cwd.join("quiet.txt").exists());

    let id = session.submit(script(&[&[(
        "apply_patch",
        json!({
            "input": "*** Begin Patch\n*** Delete File: quiet.txt\n*** End Patch\n",
            "with_escalated_permissions": true,
            "justification": "remove the scratch file"
        }),
    )]]));
    let asked = session.events_until(is_approval).await;
    session.submit(Op::DecideApproval {
        id: approval_id(asked.last().expect("asked")),
        decision: ReviewDecision::Denied,
    });
    let events = session.events_until_terminal(&id).await;
    assert!(cwd.join("quiet.txt").exists(), "denied: nothing deleted");
    assert!(
        tool_outputs(&events)[0]["text"]
            .as_str()
            .is_some_and(|text| text.starts_with("the user declined this patch")),
        "{events:?}"
    );
}
