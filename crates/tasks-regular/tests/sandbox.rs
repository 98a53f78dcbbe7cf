//! The agent turn under the session's sandbox policy, with a scripted model and real
//! processes on this machine's kernel: the model's refused command, the user's answer to
//! rerunning it unsandboxed, and `apply_patch` held to the same policy.
//!
//! The shell tool needs the helper binary `turnkit-sandbox-exec`. A workspace test run
//! (`cargo test --workspace`, `cargo xtask ci`) builds it next to the test binaries; for
//! `cargo test -p turnkit-tasks-regular` alone, build it first with
//! `cargo build -p turnkit-sandbox --bin turnkit-sandbox-exec`, or name it in
//! `TURNKIT_SANDBOX_HELPER`. Without it these tests fail, saying so, rather than skip.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{builder, say};
use turnkit_model::{ScriptedModel, ScriptedTurn};
use turnkit_protocol::{
    ApprovalPolicy, ApprovalSubject, Event, EventMsg, Op, ReviewDecision, SandboxPolicy,
};
use turnkit_tasks_regular::BuiltinTools;
use turnkit_testkit::TestSession;

/// Fails the test, saying how to provide the helper, when it cannot be found.
fn require_helper() {
    if let Err(error) = turnkit_sandbox::locate_helper(None) {
        panic!(
            "these tests run the model's commands in the sandbox and need its helper: {error}\n(`cargo test --workspace` builds it; for this crate alone run `cargo build -p turnkit-sandbox --bin turnkit-sandbox-exec` first)"
        );
    }
}

/// A session whose model calls `tool` with `arguments` once, then ends its turn.
fn session(
    tool: &str,
    arguments: Value,
    approval: ApprovalPolicy,
    sandbox: SandboxPolicy,
) -> (TestSession, ScriptedModel) {
    require_helper();
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call("call-1", tool, arguments),
        ScriptedTurn::new().message("done"),
    ]);
    let session = builder(&model)
        .configure(move |builder| {
            builder
                .tool_registry(BuiltinTools::new().registry())
                .approval_policy(approval)
                .sandbox_policy(sandbox)
        })
        .event_timeout(Duration::from_secs(60))
        .build();
    (session, model)
}

/// The text of the call's output, as the model reads it in its next prompt.
fn tool_output(model: &ScriptedModel) -> String {
    let prompts = model.prompts();
    let input = serde_json::to_value(&prompts[1].input).expect("the prompt serialises");
    input
        .as_array()
        .expect("the input is a list")
        .iter()
        .find(|item| item["type"] == "function_call_output")
        .map_or_else(
            || panic!("no call output in {input:#}"),
            |item| item["output"].to_string(),
        )
}

fn touch(name: &str) -> Value {
    json!({ "command": ["touch", name] })
}

/// Waits for the next approval request and answers it with `decision`; returns the request.
async fn decide_next(session: &mut TestSession, decision: ReviewDecision) -> Event {
    let asked = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    let request = asked.last().expect("an approval request").clone();
    let EventMsg::ApprovalRequested { approval_id, .. } = &request.msg else {
        unreachable!("events_until stops at an approval request");
    };
    session.submit(Op::DecideApproval {
        id: approval_id.clone(),
        decision,
    });
    request
}

/// Runs the turn, answering the first approval request with `decision`; returns the request
/// and the events after the answer.
async fn answer_once(session: &mut TestSession, decision: ReviewDecision) -> (Event, Vec<Event>) {
    let id = session.submit(say("go"));
    let request = decide_next(session, decision).await;
    let events = session.events_until_terminal(&id).await;
    (request, events)
}

/// The request asks to rerun `touch <name>` and names what the sandbox refused.
fn assert_rerun_request(request: &Event, name: &str) {
    let EventMsg::ApprovalRequested { request, .. } = &request.msg else {
        panic!("expected an approval request, got {request:?}");
    };
    let ApprovalSubject::Command {
        command,
        without_sandbox,
        ..
    } = &request.subject
    else {
        panic!("expected a command approval, got {request:?}");
    };
    assert_eq!(command, &["touch", name]);
    assert!(
        without_sandbox,
        "a rerun asks for more than the first run did"
    );
    let reason = request.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("sandbox refused a write") && reason.contains("without the sandbox"),
        "{reason}"
    );
}

fn exec_ends(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|event| matches!(event.msg, EventMsg::ExecCommandEnd(_)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refusal_approved_reruns_unsandboxed_and_the_file_exists() {
    let (mut session, model) = session(
        "shell",
        touch("made"),
        ApprovalPolicy::OnRequest,
        SandboxPolicy::read_only(),
    );
    let (request, events) = answer_once(&mut session, ReviewDecision::Approved).await;
    assert_rerun_request(&request, "made");
    assert!(session.cwd().join("made").exists());
    assert_eq!(
        exec_ends(session.seen()),
        2,
        "the refused run and the rerun"
    );
    assert_eq!(exec_ends(&events), 1, "the rerun, after the answer");
    let output = tool_output(&model);
    assert!(!output.contains("refused"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_a_command_for_the_session_never_approves_running_it_unsandboxed() {
    let (mut session, _model) = session(
        "shell",
        touch("made"),
        ApprovalPolicy::Untrusted,
        SandboxPolicy::read_only(),
    );
    let id = session.submit(say("go"));
    // `touch` is not read-only, so `untrusted` asks before the confined run.
    let first = decide_next(&mut session, ReviewDecision::ApprovedForSession).await;
    let EventMsg::ApprovalRequested { request, .. } = &first.msg else {
        unreachable!("decide_next returns an approval request");
    };
    assert!(matches!(
        request.subject,
        ApprovalSubject::Command {
            without_sandbox: false,
            ..
        }
    ));
    // The sandbox refuses the write; the rerun outside it is asked for again, not taken as
    // approved by the answer for the confined command.
    let rerun = decide_next(&mut session, ReviewDecision::Denied).await;
    assert_rerun_request(&rerun, "made");
    session.events_until_terminal(&id).await;
    assert!(!session.cwd().join("made").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refusal_denied_tells_the_model_and_writes_nothing() {
    let (mut session, model) = session(
        "shell",
        touch("made"),
        ApprovalPolicy::Untrusted,
        SandboxPolicy::read_only(),
    );
    // `touch` is not read-only, so `untrusted` asks first to run it at all.
    let id = session.submit(say("go"));
    decide_next(&mut session, ReviewDecision::Approved).await;
    let request = decide_next(&mut session, ReviewDecision::Denied).await;
    assert_rerun_request(&request, "made");
    session.events_until_terminal(&id).await;
    assert!(!session.cwd().join("made").exists());
    let output = tool_output(&model);
    assert!(
        output.contains("The sandbox (policy read_only) refused"),
        "{output}"
    );
    assert!(output.contains("the user declined"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_never_the_refusal_is_reported_without_asking() {
    let (mut session, model) = session(
        "shell",
        touch("made"),
        ApprovalPolicy::Never,
        SandboxPolicy::read_only(),
    );
    let events = session.run(say("go")).await;
    assert!(
        !events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
    );
    assert!(!session.cwd().join("made").exists());
    let output = tool_output(&model);
    assert!(output.contains("refused a write"), "{output}");
    assert!(output.contains("approval policy is never"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_write_writes_below_the_directory_but_not_outside() {
    let outside = tempfile::tempdir().expect("a temp dir");
    let target = outside.path().join("escaped");
    let script = format!("touch inside && touch {}", target.display());
    let (mut session, model) = session(
        "shell",
        json!({ "command": ["sh", "-c", script] }),
        ApprovalPolicy::Never,
        SandboxPolicy::workspace_write(),
    );
    session.run(say("go")).await;
    assert!(session.cwd().join("inside").exists());
    assert!(!target.exists());
    let output = tool_output(&model);
    assert!(output.contains("refused a write"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_patch_is_refused_under_read_only_before_anything_is_written() {
    let (mut session, model) = session(
        "apply_patch",
        json!({ "input": "*** Begin Patch\n*** Add File: new.txt\n+hello\n*** End Patch" }),
        ApprovalPolicy::Never,
        SandboxPolicy::read_only(),
    );
    let events = session.run(say("go")).await;
    assert!(!session.cwd().join("new.txt").exists());
    assert!(
        !events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::PatchApplyBegin { .. }))
    );
    let output = tool_output(&model);
    assert!(output.contains("no file was changed"), "{output}");
    assert!(output.contains("read_only"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_patch_may_not_touch_git_config_under_workspace_write() {
    let patch = "*** Begin Patch\n*** Add File: ok.txt\n+fine\n*** Add File: .git/config\n+[core]\n*** End Patch";
    let (mut session, model) = session(
        "apply_patch",
        json!({ "input": patch }),
        ApprovalPolicy::Never,
        SandboxPolicy::workspace_write(),
    );
    session.run(say("go")).await;
    assert!(!session.cwd().join("ok.txt").exists(), "all or nothing");
    assert!(!session.cwd().join(".git/config").exists());
    let output = tool_output(&model);
    assert!(output.contains("no file was changed"), "{output}");
    assert!(output.contains(".git"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_patch_may_not_reach_git_hooks_through_a_symlink_under_workspace_write() {
    let patch = "*** Begin Patch\n*** Add File: ok.txt\n+fine\n*** Add File: shortcut/hooks/pre-commit\n+#!/bin/sh\n*** End Patch";
    let (mut session, model) = session(
        "apply_patch",
        json!({ "input": patch }),
        ApprovalPolicy::Never,
        SandboxPolicy::workspace_write(),
    );
    std::fs::create_dir_all(session.cwd().join(".git/hooks")).expect("a .git directory");
    std::os::unix::fs::symlink(".git", session.cwd().join("shortcut")).expect("a symlink");
    session.run(say("go")).await;
    assert!(!session.cwd().join("ok.txt").exists(), "all or nothing");
    assert!(!session.cwd().join(".git/hooks/pre-commit").exists());
    let output = tool_output(&model);
    assert!(output.contains("no file was changed"), "{output}");
    assert!(output.contains("shortcut"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_patch_writes_below_the_directory_under_workspace_write() {
    let (mut session, _model) = session(
        "apply_patch",
        json!({ "input": "*** Begin Patch\n*** Add File: src/new.txt\n+hello\n*** End Patch" }),
        ApprovalPolicy::Never,
        SandboxPolicy::workspace_write(),
    );
    session.run(say("go")).await;
    assert_eq!(
        std::fs::read_to_string(session.cwd().join("src/new.txt")).expect("written"),
        "hello\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_helper_the_command_does_not_run_and_the_model_is_told_why() {
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call("call-1", "shell", touch("made")),
        ScriptedTurn::new().message("done"),
    ]);
    let missing = tempfile::tempdir().expect("a temp dir");
    let helper = missing.path().join("turnkit-sandbox-exec");
    let mut session = builder(&model)
        .configure(move |builder| {
            builder
                .tool_registry(BuiltinTools::new().sandbox_helper(helper).registry())
                .approval_policy(ApprovalPolicy::OnRequest)
                .sandbox_policy(SandboxPolicy::workspace_write())
        })
        .event_timeout(Duration::from_secs(60))
        .build();
    let events = session.run(say("go")).await;
    assert!(!session.cwd().join("made").exists());
    assert!(
        !events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. })),
        "a command that never ran is not offered for a rerun"
    );
    let output = tool_output(&model);
    assert!(output.contains("did not run"), "{output}");
    assert!(output.contains("was not found"), "{output}");
    assert!(
        output.contains("full_access sandbox policy knowingly"),
        "{output}"
    );
}
