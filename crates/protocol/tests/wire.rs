//! The wire format as data: one JSON snapshot per variant of every wire enum, plus the rules
//! readers rely on (unknown fields and types, base64 output chunks, plain-string task kinds).
//!
//! The snapshots under `tests/snapshots/` double as the protocol's specification; a change to
//! one is a change to the wire.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;
use turnkit_protocol::{
    ApprovalOrigin, ApprovalPolicy, ApprovalRequest, ApprovalSubject, CodeLocation, ContentItem,
    Event, EventMsg, ExecCommandEnd, ExecSource, ExecStream, FileChange, Op, PlanStep,
    ResponseItem, ReviewDecision, ReviewFinding, ReviewOutput, ReviewRequest, ReviewTarget,
    ReviewVerdict, Role, StepStatus, SubSessionOutcome, Submission, TaskKind, TokenUsage,
    TokenUsageInfo, TurnAbortReason, UndoCompleted, UserInput,
};

/// Snapshots each sample as `<prefix>_<its type tag>` and checks the tag is the one `tag_of`
/// expects.
fn snapshot_each<T: Serialize>(prefix: &str, samples: &[T], tag_of: impl Fn(&T) -> &'static str) {
    for sample in samples {
        let wire = serde_json::to_value(sample).expect("wire types always serialise");
        let tag = tag_of(sample);
        let written = wire.get("type").and_then(|t| t.as_str()).or(wire.as_str());
        assert_eq!(written, Some(tag), "{prefix} sample wrote {wire}");
        insta::assert_json_snapshot!(format!("{prefix}_{tag}"), sample);
    }
}

fn ops() -> Vec<Op> {
    vec![
        Op::UserInput {
            items: vec![
                UserInput::text("fix the failing test"),
                UserInput::Image {
                    image_url: "https://example.com/screen.png".into(),
                },
            ],
        },
        Op::Interrupt,
        Op::DecideApproval {
            id: "approval-1".into(),
            decision: ReviewDecision::ApprovedForSession,
        },
        Op::Compact,
        Op::Review {
            request: ReviewRequest {
                target: ReviewTarget::BaseBranch {
                    branch: "main".into(),
                },
                prompt: "look closely at error handling".into(),
                user_facing_hint: "changes against main".into(),
            },
        },
        Op::Undo,
        Op::RunUserShellCommand {
            command: "cargo test -p turnkit-protocol".into(),
        },
        Op::Shutdown,
        Op::Custom {
            name: "lint".into(),
            payload: json!({"paths": ["src/lib.rs"], "fix": true}),
        },
    ]
}

// An exhaustive match: a new variant fails to compile here until it gets a sample above.
fn op_tag(op: &Op) -> &'static str {
    match op {
        Op::UserInput { .. } => "user_input",
        Op::Interrupt => "interrupt",
        Op::DecideApproval { .. } => "decide_approval",
        Op::Compact => "compact",
        Op::Review { .. } => "review",
        Op::Undo => "undo",
        Op::RunUserShellCommand { .. } => "run_user_shell_command",
        Op::Shutdown => "shutdown",
        Op::Custom { .. } => "custom",
    }
}

fn exec_command_end() -> ExecCommandEnd {
    ExecCommandEnd {
        call_id: "call-7".into(),
        exit_code: Some(1),
        signal: None,
        duration_ms: 1250,
        stdout: "running 3 tests\n".into(),
        stderr: "error: test failed\n".into(),
        aggregated_output: "running 3 tests\nerror: test failed\n".into(),
        formatted_output: "exit code 1\nrunning 3 tests\nerror: test failed\n".into(),
        cancelled: false,
        timed_out: false,
        output_truncated: false,
        deltas_capped: false,
        cwd: PathBuf::from("/repo"),
    }
}

fn event_msgs() -> Vec<EventMsg> {
    let mut msgs = vec![
        EventMsg::TaskStarted {
            kind: TaskKind::REGULAR,
        },
        EventMsg::TaskComplete {
            last_agent_message: Some("all tests pass".into()),
        },
        EventMsg::TurnAborted {
            reason: TurnAbortReason::Interrupted,
        },
        EventMsg::Error {
            message: "the model is unreachable; check the base URL and retry".into(),
        },
        EventMsg::Warning {
            message: "rollout line 12 was torn and skipped".into(),
        },
        EventMsg::BackgroundEvent {
            message: "snapshot taken".into(),
        },
        EventMsg::StreamError {
            message: "reconnecting 2/5".into(),
        },
        EventMsg::AgentMessage {
            message: "Done.".into(),
        },
        EventMsg::AgentReasoning {
            text: "The test expects a trailing newline.".into(),
        },
        EventMsg::TokenCount(TokenUsageInfo {
            last: TokenUsage {
                input_tokens: 1200,
                cached_input_tokens: 1000,
                output_tokens: 80,
                reasoning_output_tokens: 30,
                total_tokens: 1280,
            },
            total: TokenUsage::new(5400, 310),
            context_window: Some(128_000),
        }),
        EventMsg::AgentMessageDelta { delta: "Do".into() },
        EventMsg::AgentReasoningDelta {
            delta: "the test expects".into(),
        },
        EventMsg::ApprovalRequested {
            approval_id: "approval-1".into(),
            request: ApprovalRequest::command(vec!["cargo".into(), "test".into()], "/repo")
                .with_call_id("call-7")
                .with_reason("run the tests"),
            origin: Some(origin()),
        },
        EventMsg::ExecCommandBegin {
            call_id: "call-7".into(),
            command: vec!["cargo".into(), "test".into()],
            cwd: PathBuf::from("/repo"),
            source: ExecSource::Agent,
        },
        EventMsg::ExecCommandOutputDelta {
            call_id: "call-7".into(),
            stream: ExecStream::Stdout,
            chunk: b"running 3 tests\n".to_vec(),
        },
        EventMsg::ExecCommandEnd(exec_command_end()),
        EventMsg::UndoStarted {
            message: Some("undoing the last turn".into()),
        },
        EventMsg::UndoCompleted(UndoCompleted {
            success: false,
            message: "restored 1 file; 1 file changed by hand was left alone".into(),
            restored: vec!["src/lib.rs".into()],
            deleted: vec![],
            conflicts: vec!["README.md".into()],
        }),
        EventMsg::SubSessionStarted {
            origin: origin(),
            approval_policy: ApprovalPolicy::Untrusted,
        },
        EventMsg::SubSessionEnded {
            origin: origin(),
            outcome: SubSessionOutcome::Completed,
        },
        EventMsg::SubSessionEvent {
            origin: origin(),
            event: Box::new(Event {
                id: "sub-1".into(),
                seq: 4,
                msg: EventMsg::AgentMessage {
                    message: "no findings".into(),
                },
            }),
        },
        EventMsg::Custom {
            name: "deploy_progress".into(),
            payload: json!({"stage": "canary", "percent": 10}),
        },
        EventMsg::ShutdownComplete,
        EventMsg::Unknown,
    ];
    msgs.extend(tool_event_msgs());
    msgs.extend(compaction_and_review_msgs());
    msgs
}

/// The events of compaction and review.
fn compaction_and_review_msgs() -> Vec<EventMsg> {
    vec![
        EventMsg::ContextCompacted {
            tokens_before: 182_000,
            tokens_after: 9_400,
            summary_tokens: 1_250,
        },
        EventMsg::EnteredReviewMode {
            request: ReviewRequest {
                target: ReviewTarget::UncommittedChanges,
                prompt: String::new(),
                user_facing_hint: "uncommitted changes".into(),
            },
        },
        EventMsg::ExitedReviewMode {
            review_output: Some(review_output()),
        },
    ]
}

/// The events of the agent turn's built-in tools.
fn tool_event_msgs() -> Vec<EventMsg> {
    vec![
        EventMsg::PatchApplyBegin {
            call_id: "call-8".into(),
            changes: file_changes(),
        },
        EventMsg::PatchApplyEnd {
            call_id: "call-8".into(),
            success: true,
            stdout: "Success. Updated the following files:\nM src/lib.rs\n".into(),
            stderr: String::new(),
        },
        EventMsg::McpToolCallBegin {
            call_id: "call-10".into(),
            server: "docs".into(),
            tool: "search".into(),
            arguments: serde_json::json!({"query": "tokio select"}),
        },
        EventMsg::McpToolCallEnd {
            call_id: "call-10".into(),
            server: "docs".into(),
            tool: "search".into(),
            arguments: serde_json::json!({"query": "tokio select"}),
            success: true,
            result: serde_json::json!({
                "content": [{"type": "text", "text": "tokio::select! waits on several futures"}],
                "isError": false
            }),
            duration_ms: 12,
        },
        EventMsg::PlanUpdate {
            explanation: Some("the test needs a fixture first".into()),
            plan: vec![
                PlanStep {
                    step: "write the fixture".into(),
                    status: StepStatus::Completed,
                },
                PlanStep {
                    step: "fix the parser".into(),
                    status: StepStatus::InProgress,
                },
                PlanStep {
                    step: "run the tests".into(),
                    status: StepStatus::Pending,
                },
            ],
        },
    ]
}

fn file_changes() -> Vec<FileChange> {
    vec![
        FileChange::Add {
            path: "notes.md".into(),
            content: "# Notes\n".into(),
        },
        FileChange::Delete {
            path: "old.txt".into(),
            content: "obsolete\n".into(),
        },
        FileChange::Update {
            path: "src/lib.rs".into(),
            move_path: None,
            unified_diff:
                "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-fn a() {}\n+fn b() {}\n".into(),
        },
        FileChange::Update {
            path: "src/old.rs".into(),
            move_path: Some("src/new.rs".into()),
            unified_diff: String::new(),
        },
    ]
}

fn review_output() -> ReviewOutput {
    ReviewOutput {
        findings: vec![ReviewFinding {
            title: "Unchecked index can panic".into(),
            body: "`items[0]` panics on an empty list; return an error instead.".into(),
            priority: 1,
            confidence: 0.8,
            location: CodeLocation {
                path: "src/lib.rs".into(),
                start_line: 12,
                end_line: 14,
            },
        }],
        overall_correctness: ReviewVerdict::Incorrect,
        overall_explanation: "One input makes the new code panic.".into(),
        overall_confidence: 0.75,
    }
}

/// Each review target, as the wire writes it.
#[test]
fn review_targets() {
    let targets = [
        ReviewTarget::UncommittedChanges,
        ReviewTarget::BaseBranch {
            branch: "main".into(),
        },
        ReviewTarget::Commit {
            sha: "1a2b3c4".into(),
            title: Some("parser: accept tabs".into()),
        },
        ReviewTarget::Custom {
            instructions: "check the public API for breaking changes".into(),
        },
    ];
    snapshot_each("review_target", &targets, |target| match target {
        ReviewTarget::UncommittedChanges => "uncommitted_changes",
        ReviewTarget::BaseBranch { .. } => "base_branch",
        ReviewTarget::Commit { .. } => "commit",
        ReviewTarget::Custom { .. } => "custom",
    });
    // A request written before targets existed still reads, as the uncommitted changes.
    let old: ReviewRequest =
        serde_json::from_value(json!({"prompt": "review it", "user_facing_hint": "hint"}))
            .expect("an old request still reads");
    assert_eq!(old.target, ReviewTarget::UncommittedChanges);
}

fn origin() -> ApprovalOrigin {
    ApprovalOrigin {
        sub_session_id: "session-1.1".into(),
        parent_session_id: "session-1".into(),
        depth: 1,
        task_kind: TaskKind::REVIEW,
        turn_id: "sub-3".into(),
    }
}

fn event_msg_tag(msg: &EventMsg) -> &'static str {
    match msg {
        EventMsg::TaskStarted { .. } => "task_started",
        EventMsg::TaskComplete { .. } => "task_complete",
        EventMsg::TurnAborted { .. } => "turn_aborted",
        EventMsg::Error { .. } => "error",
        EventMsg::Warning { .. } => "warning",
        EventMsg::BackgroundEvent { .. } => "background_event",
        EventMsg::StreamError { .. } => "stream_error",
        EventMsg::AgentMessage { .. } => "agent_message",
        EventMsg::AgentReasoning { .. } => "agent_reasoning",
        EventMsg::TokenCount(_) => "token_count",
        EventMsg::AgentMessageDelta { .. } => "agent_message_delta",
        EventMsg::AgentReasoningDelta { .. } => "agent_reasoning_delta",
        EventMsg::ApprovalRequested { .. } => "approval_requested",
        EventMsg::ExecCommandBegin { .. } => "exec_command_begin",
        EventMsg::ExecCommandOutputDelta { .. } => "exec_command_output_delta",
        EventMsg::ExecCommandEnd(_) => "exec_command_end",
        EventMsg::PatchApplyBegin { .. } => "patch_apply_begin",
        EventMsg::McpToolCallBegin { .. } => "mcp_tool_call_begin",
        EventMsg::McpToolCallEnd { .. } => "mcp_tool_call_end",
        EventMsg::PatchApplyEnd { .. } => "patch_apply_end",
        EventMsg::PlanUpdate { .. } => "plan_update",
        EventMsg::UndoStarted { .. } => "undo_started",
        EventMsg::UndoCompleted(_) => "undo_completed",
        EventMsg::ContextCompacted { .. } => "context_compacted",
        EventMsg::EnteredReviewMode { .. } => "entered_review_mode",
        EventMsg::ExitedReviewMode { .. } => "exited_review_mode",
        EventMsg::SubSessionStarted { .. } => "sub_session_started",
        EventMsg::SubSessionEnded { .. } => "sub_session_ended",
        EventMsg::SubSessionEvent { .. } => "sub_session_event",
        EventMsg::Custom { .. } => "custom",
        EventMsg::ShutdownComplete => "shutdown_complete",
        EventMsg::Unknown => "unknown",
    }
}

fn response_items() -> Vec<ResponseItem> {
    vec![
        ResponseItem::Message {
            role: Role::User,
            content: vec![
                ContentItem::InputText {
                    text: "why does this fail?".into(),
                },
                ContentItem::InputImage {
                    image_url: "data:image/png;base64,iVBORw0=".into(),
                },
            ],
        },
        ResponseItem::Reasoning {
            summary: vec!["the assertion compares the wrong field".into()],
            content: None,
        },
        ResponseItem::FunctionCall {
            call_id: "call-7".into(),
            name: "shell".into(),
            arguments: r#"{"command":["cargo","test"]}"#.into(),
        },
        ResponseItem::FunctionCallOutput {
            call_id: "call-7".into(),
            output: "exit code 0".into(),
            success: Some(true),
        },
        ResponseItem::GhostSnapshot {
            commit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
            phase: "before".into(),
            turn_id: "sub-1".into(),
            snapshot: serde_json::Value::Null,
        },
        ResponseItem::Unknown,
    ]
}

fn response_item_tag(item: &ResponseItem) -> &'static str {
    match item {
        ResponseItem::Message { .. } => "message",
        ResponseItem::Reasoning { .. } => "reasoning",
        ResponseItem::FunctionCall { .. } => "function_call",
        ResponseItem::FunctionCallOutput { .. } => "function_call_output",
        ResponseItem::GhostSnapshot { .. } => "ghost_snapshot",
        ResponseItem::Unknown => "unknown",
    }
}

#[test]
fn every_op_variant_matches_its_snapshot() {
    snapshot_each("op", &ops(), op_tag);
}

#[test]
fn every_event_msg_variant_matches_its_snapshot() {
    snapshot_each("event_msg", &event_msgs(), event_msg_tag);
}

#[test]
fn every_response_item_variant_matches_its_snapshot() {
    snapshot_each("response_item", &response_items(), response_item_tag);
}

#[test]
fn every_content_item_variant_matches_its_snapshot() {
    let samples = [
        ContentItem::InputText {
            text: "hello".into(),
        },
        ContentItem::InputImage {
            image_url: "https://example.com/a.png".into(),
        },
        ContentItem::OutputText { text: "hi".into() },
    ];
    snapshot_each("content_item", &samples, |item| match item {
        ContentItem::InputText { .. } => "input_text",
        ContentItem::InputImage { .. } => "input_image",
        ContentItem::OutputText { .. } => "output_text",
    });
}

#[test]
fn every_user_input_variant_matches_its_snapshot() {
    let samples = [
        UserInput::text("hello"),
        UserInput::Image {
            image_url: "https://example.com/a.png".into(),
        },
        UserInput::LocalImage {
            path: PathBuf::from("screenshots/failure.png"),
        },
    ];
    snapshot_each("user_input", &samples, |input| match input {
        UserInput::Text { .. } => "text",
        UserInput::Image { .. } => "image",
        UserInput::LocalImage { .. } => "local_image",
    });
}

#[test]
fn every_review_decision_matches_its_snapshot() {
    let samples = [
        ReviewDecision::Approved,
        ReviewDecision::ApprovedForSession,
        ReviewDecision::Denied,
        ReviewDecision::Abort,
    ];
    snapshot_each("review_decision", &samples, |decision| match decision {
        ReviewDecision::Approved => "approved",
        ReviewDecision::ApprovedForSession => "approved_for_session",
        ReviewDecision::Denied => "denied",
        ReviewDecision::Abort => "abort",
    });
}

#[test]
fn every_approval_subject_matches_its_snapshot() {
    let samples = [
        ApprovalSubject::Command {
            command: vec!["rm".into(), "-r".into(), "build".into()],
            cwd: PathBuf::from("/repo"),
            without_sandbox: false,
        },
        ApprovalSubject::Patch {
            files: vec![PathBuf::from("src/lib.rs")],
            diff: "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-old\n+new\n".into(),
            cwd: PathBuf::from("/repo"),
        },
        ApprovalSubject::ToolCall {
            server: "github".into(),
            tool: "create_issue".into(),
            arguments: json!({"title": "flaky test"}),
        },
        ApprovalSubject::Question {
            title: "deploy to production?".into(),
            details: json!({"service": "api", "version": "1.4.2"}),
        },
    ];
    snapshot_each("approval_subject", &samples, |subject| match subject {
        ApprovalSubject::Command { .. } => "command",
        ApprovalSubject::Patch { .. } => "patch",
        ApprovalSubject::ToolCall { .. } => "tool_call",
        ApprovalSubject::Question { .. } => "question",
    });
}

#[test]
fn a_command_outside_the_sandbox_says_so_and_a_confined_one_is_unchanged_on_the_wire() {
    let confined = ApprovalRequest::command(vec!["touch".into(), "x".into()], "/repo");
    let unconfined =
        ApprovalRequest::command_without_sandbox(vec!["touch".into(), "x".into()], "/repo");
    assert_eq!(
        serde_json::to_value(&confined).unwrap()["subject"],
        json!({"type": "command", "command": ["touch", "x"], "cwd": "/repo"})
    );
    assert_eq!(
        serde_json::to_value(&unconfined).unwrap()["subject"],
        json!({"type": "command", "command": ["touch", "x"], "cwd": "/repo", "without_sandbox": true})
    );
    assert_ne!(confined.subject, unconfined.subject);
}

#[test]
fn every_approval_policy_and_sub_session_outcome_matches_its_snapshot() {
    let policies = [
        ApprovalPolicy::Never,
        ApprovalPolicy::OnRequest,
        ApprovalPolicy::Untrusted,
        ApprovalPolicy::Always,
    ];
    snapshot_each("approval_policy", &policies, |policy| policy.as_str());
    let outcomes = [
        SubSessionOutcome::Completed,
        SubSessionOutcome::Aborted,
        SubSessionOutcome::Failed,
        SubSessionOutcome::Lost,
    ];
    snapshot_each("sub_session_outcome", &outcomes, |outcome| match outcome {
        SubSessionOutcome::Completed => "completed",
        SubSessionOutcome::Aborted => "aborted",
        SubSessionOutcome::Failed => "failed",
        SubSessionOutcome::Lost => "lost",
    });
}

#[test]
fn approval_policies_are_ordered_by_strictness() {
    use ApprovalPolicy::{Always, Never, OnRequest, Untrusted};
    assert!(Never < OnRequest && OnRequest < Untrusted && Untrusted < Always);
    assert_eq!(Never.stricter_of(Untrusted), Untrusted);
    assert_eq!(Always.stricter_of(OnRequest), Always);
    assert_eq!(OnRequest.stricter_of(OnRequest), OnRequest);
    assert!(Untrusted.is_at_least_as_strict_as(OnRequest));
    assert!(!Never.is_at_least_as_strict_as(OnRequest));
    assert_eq!(ApprovalPolicy::default(), OnRequest);
}

#[test]
fn custom_events_are_told_apart_from_built_in_ones() {
    let wire = json!({"type": "custom", "name": "task_complete", "payload": {"x": 1}});
    let msg: EventMsg = serde_json::from_value(wire).unwrap();
    assert!(
        !msg.is_terminal(),
        "a custom event never passes for a built-in one"
    );
    assert_eq!(
        msg,
        EventMsg::Custom {
            name: "task_complete".into(),
            payload: json!({"x": 1})
        }
    );
}

#[test]
fn every_turn_abort_reason_matches_its_snapshot() {
    let samples = [
        TurnAbortReason::Interrupted,
        TurnAbortReason::Replaced,
        TurnAbortReason::ReviewEnded,
    ];
    snapshot_each("turn_abort_reason", &samples, |reason| match reason {
        TurnAbortReason::Interrupted => "interrupted",
        TurnAbortReason::Replaced => "replaced",
        TurnAbortReason::ReviewEnded => "review_ended",
    });
}

#[test]
fn every_exec_source_and_stream_matches_its_snapshot() {
    snapshot_each(
        "exec_source",
        &[ExecSource::UserShell, ExecSource::Agent],
        |source| match source {
            ExecSource::UserShell => "user_shell",
            ExecSource::Agent => "agent",
        },
    );
    snapshot_each(
        "exec_stream",
        &[ExecStream::Stdout, ExecStream::Stderr],
        |stream| match stream {
            ExecStream::Stdout => "stdout",
            ExecStream::Stderr => "stderr",
        },
    );
}

#[test]
fn every_role_matches_its_snapshot() {
    let samples = [Role::User, Role::Assistant, Role::Developer, Role::System];
    snapshot_each("role", &samples, |role| match role {
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Developer => "developer",
        Role::System => "system",
    });
}

#[test]
fn submission_envelope_matches_its_snapshot() {
    let submission = Submission {
        id: "sub-1".into(),
        op: Op::RunUserShellCommand {
            command: "git status".into(),
        },
    };
    insta::assert_json_snapshot!("submission", submission);
}

#[test]
fn event_envelope_matches_its_snapshot() {
    let event = Event {
        id: "sub-1".into(),
        seq: 3,
        msg: EventMsg::TurnAborted {
            reason: TurnAbortReason::Replaced,
        },
    };
    insta::assert_json_snapshot!("event", event);
}

#[test]
fn unknown_fields_are_ignored_at_every_level() {
    let event: Event = serde_json::from_value(json!({
        "id": "sub-1",
        "seq": 0,
        "added_later": {"nested": [1, 2]},
        "msg": {"type": "task_started", "kind": "review", "added_later": true},
    }))
    .unwrap();
    assert_eq!(
        event,
        Event {
            id: "sub-1".into(),
            seq: 0,
            msg: EventMsg::TaskStarted {
                kind: TaskKind::REVIEW
            },
        }
    );

    let submission: Submission = serde_json::from_value(json!({
        "id": "sub-2",
        "op": {"type": "decide_approval", "id": "a-1", "decision": "denied", "remember": false},
        "client": "ide",
    }))
    .unwrap();
    assert_eq!(
        submission.op,
        Op::DecideApproval {
            id: "a-1".into(),
            decision: ReviewDecision::Denied
        }
    );

    let item: ResponseItem = serde_json::from_value(json!({
        "type": "function_call_output", "call_id": "c", "output": "ok", "status": "completed",
    }))
    .unwrap();
    assert_eq!(
        item,
        ResponseItem::FunctionCallOutput {
            call_id: "c".into(),
            output: "ok".into(),
            success: None
        }
    );
}

#[test]
fn fields_with_defaults_may_be_missing() {
    let msg: EventMsg = serde_json::from_value(json!({
        "type": "exec_command_end",
        "call_id": "call-7",
        "exit_code": null,
        "duration_ms": 5,
        "stdout": "",
        "stderr": "",
        "aggregated_output": "",
        "formatted_output": "",
    }))
    .unwrap();
    let EventMsg::ExecCommandEnd(end) = msg else {
        panic!("read as {msg:?}")
    };
    assert_eq!(
        (end.signal, end.cancelled, end.timed_out),
        (None, false, false)
    );
    assert_eq!(end.cwd, PathBuf::new());

    let op: Op = serde_json::from_value(json!({"type": "custom", "name": "lint"})).unwrap();
    assert_eq!(
        op,
        Op::Custom {
            name: "lint".into(),
            payload: serde_json::Value::Null
        }
    );

    let item: ResponseItem = serde_json::from_value(json!({"type": "reasoning"})).unwrap();
    assert_eq!(
        item,
        ResponseItem::Reasoning {
            summary: vec![],
            content: None
        }
    );
}

#[test]
fn unknown_event_type_reads_as_unknown() {
    let event: Event = serde_json::from_value(json!({
        "id": "sub-1",
        "seq": 9,
        "msg": {"type": "rate_limits", "remaining": 120, "details": {"cached": 3}},
    }))
    .unwrap();
    assert_eq!(event.msg, EventMsg::Unknown);
    assert_eq!(event.seq, 9);

    let bare: EventMsg = serde_json::from_str(r#"{"type":"plan_updated"}"#).unwrap();
    assert_eq!(bare, EventMsg::Unknown);
    assert!(!bare.is_terminal());
}

#[test]
fn unknown_response_item_type_reads_as_unknown() {
    let history: Vec<ResponseItem> = serde_json::from_value(json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "web_search_call", "status": "completed", "action": {"query": "rust"}},
    ]))
    .unwrap();
    assert_eq!(
        history,
        [ResponseItem::user_text("hi"), ResponseItem::Unknown]
    );
    assert!(!history[1].is_model_visible());
}

#[test]
fn unknown_op_type_is_rejected() {
    // An op asks the session to act; one this build cannot perform must fail loudly, not be
    // silently dropped.
    let result = serde_json::from_str::<Op>(r#"{"type":"teleport"}"#);
    let error = result.expect_err("an unknown op must not parse");
    assert!(error.to_string().contains("teleport"), "{error}");
}

#[test]
fn output_chunk_is_base64_on_the_wire_and_keeps_non_utf8_bytes() {
    let bytes = vec![0xff, 0xfe, 0x00, b'a', 0x80];
    assert!(std::str::from_utf8(&bytes).is_err());
    let msg = EventMsg::ExecCommandOutputDelta {
        call_id: "call-7".into(),
        stream: ExecStream::Stderr,
        chunk: bytes.clone(),
    };
    let wire = serde_json::to_value(&msg).unwrap();
    assert_eq!(wire["chunk"], "//4AYYA=");

    let back: EventMsg = serde_json::from_str(&serde_json::to_string(&msg).unwrap()).unwrap();
    let EventMsg::ExecCommandOutputDelta { chunk, .. } = back else {
        panic!("read as {back:?}")
    };
    assert_eq!(chunk, bytes);
}

#[test]
fn output_chunk_that_is_not_base64_is_an_error() {
    let result = serde_json::from_value::<EventMsg>(json!({
        "type": "exec_command_output_delta",
        "call_id": "c",
        "stream": "stdout",
        "chunk": "not base64!",
    }));
    assert!(result.is_err(), "{result:?}");
}

#[test]
fn task_kind_is_a_plain_string() {
    assert_eq!(
        serde_json::to_value(TaskKind::USER_SHELL).unwrap(),
        json!("user_shell")
    );
    assert_eq!(
        serde_json::to_value(TaskKind::new("my_lint")).unwrap(),
        json!("my_lint")
    );
    let read: TaskKind = serde_json::from_str(r#""ghost_snapshot""#).unwrap();
    assert_eq!(read, TaskKind::GHOST_SNAPSHOT);
    assert_eq!(read.to_string(), "ghost_snapshot");
    assert!(serde_json::from_str::<TaskKind>(r#"{"name":"regular"}"#).is_err());
}

#[test]
fn op_task_kind_names_the_task_that_runs_it() {
    let expected = [
        ("user_input", Some(TaskKind::REGULAR)),
        ("interrupt", None),
        ("decide_approval", None),
        ("compact", Some(TaskKind::COMPACT)),
        ("review", Some(TaskKind::REVIEW)),
        ("undo", Some(TaskKind::UNDO)),
        ("run_user_shell_command", Some(TaskKind::USER_SHELL)),
        ("shutdown", None),
        ("custom", Some(TaskKind::new("lint"))),
    ];
    let ops = ops();
    assert_eq!(ops.len(), expected.len());
    for (op, (name, kind)) in ops.iter().zip(expected) {
        assert_eq!(op.name(), name);
        assert_eq!(op_tag(op), name, "Op::name and the wire tag agree");
        assert_eq!(op.task_kind(), kind, "{name}");
    }
}

#[test]
fn built_in_task_kinds_name_their_facade_feature() {
    let expected = [
        (TaskKind::REGULAR, Some("regular")),
        (TaskKind::REVIEW, Some("review")),
        (TaskKind::COMPACT, Some("compact")),
        (TaskKind::UNDO, Some("undo")),
        (TaskKind::USER_SHELL, Some("shell")),
        (TaskKind::GHOST_SNAPSHOT, Some("ghost-snapshot")),
        (TaskKind::new("my_lint"), None),
        (TaskKind::from(String::from("regular")), Some("regular")),
    ];
    for (kind, feature) in expected {
        assert_eq!(kind.cargo_feature(), feature, "{kind}");
    }
    for op in ops() {
        if let Some(kind) = op.task_kind().filter(|_| !matches!(op, Op::Custom { .. })) {
            assert!(
                kind.cargo_feature().is_some(),
                "built-in op {} has no feature",
                op.name()
            );
        }
    }
}

#[test]
fn only_task_complete_and_turn_aborted_are_terminal() {
    for msg in event_msgs() {
        let expected = matches!(
            msg,
            EventMsg::TaskComplete { .. } | EventMsg::TurnAborted { .. }
        );
        assert_eq!(msg.is_terminal(), expected, "{}", event_msg_tag(&msg));
    }
}
