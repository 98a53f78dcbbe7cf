//! Property tests: every wire type reads back equal to what was written, through JSON text and
//! through `serde_json::Value`.
//!
//! Cases default to 64; set `PROPTEST_CASES` for more.

use std::fmt::Debug;
use std::path::PathBuf;

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use turnkit_protocol::{
    ApprovalOrigin, ApprovalPolicy, ApprovalRequest, ApprovalSubject, CodeLocation, ContentItem,
    Event, EventMsg, ExecCommandEnd, ExecSource, ExecStream, FileChange, Op, PlanStep,
    ResponseItem, ReviewDecision, ReviewFinding, ReviewOutput, ReviewRequest, ReviewTarget,
    ReviewVerdict, Role, StepStatus, SubSessionOutcome, Submission, TaskKind, TokenUsage,
    TokenUsageInfo, TurnAbortReason, UndoCompleted, UserInput,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64)
}

/// Writes `value` as JSON text and as a `Value`, reads both back, and requires equality.
fn assert_round_trips<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let text = serde_json::to_string(value).expect("wire types always serialise");
    let from_text: T = serde_json::from_str(&text).expect("what was written reads back");
    assert_eq!(&from_text, value, "through text {text}");

    let tree = serde_json::to_value(value).expect("wire types always serialise");
    let from_tree: T = serde_json::from_value(tree.clone()).expect("what was written reads back");
    assert_eq!(&from_tree, value, "through value {tree}");
}

/// Any characters, control characters and non-ASCII included, kept short.
fn text() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..12).prop_map(|chars| chars.into_iter().collect())
}

fn token_usage() -> impl Strategy<Value = TokenUsage> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(
                input_tokens,
                cached_input_tokens,
                output_tokens,
                reasoning_output_tokens,
                total_tokens,
            )| {
                TokenUsage {
                    input_tokens,
                    cached_input_tokens,
                    output_tokens,
                    reasoning_output_tokens,
                    total_tokens,
                }
            },
        )
}

fn path() -> impl Strategy<Value = PathBuf> {
    text().prop_map(PathBuf::from)
}

/// JSON without floats, which need not read back bit-for-bit.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(text(), inner, 0..4).prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn task_kind() -> impl Strategy<Value = TaskKind> {
    prop_oneof![
        Just(TaskKind::REGULAR),
        Just(TaskKind::REVIEW),
        Just(TaskKind::COMPACT),
        Just(TaskKind::UNDO),
        Just(TaskKind::USER_SHELL),
        Just(TaskKind::GHOST_SNAPSHOT),
        text().prop_map(TaskKind::from),
    ]
}

fn review_decision() -> impl Strategy<Value = ReviewDecision> {
    prop_oneof![
        Just(ReviewDecision::Approved),
        Just(ReviewDecision::ApprovedForSession),
        Just(ReviewDecision::Denied),
        Just(ReviewDecision::Abort),
    ]
}

fn turn_abort_reason() -> impl Strategy<Value = TurnAbortReason> {
    prop_oneof![
        Just(TurnAbortReason::Interrupted),
        Just(TurnAbortReason::Replaced),
        Just(TurnAbortReason::ReviewEnded),
    ]
}

fn exec_source() -> impl Strategy<Value = ExecSource> {
    prop_oneof![Just(ExecSource::UserShell), Just(ExecSource::Agent)]
}

fn exec_stream() -> impl Strategy<Value = ExecStream> {
    prop_oneof![Just(ExecStream::Stdout), Just(ExecStream::Stderr)]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::Developer),
        Just(Role::System)
    ]
}

fn user_input() -> impl Strategy<Value = UserInput> {
    prop_oneof![
        text().prop_map(|text| UserInput::Text { text }),
        text().prop_map(|image_url| UserInput::Image { image_url }),
        path().prop_map(|path| UserInput::LocalImage { path }),
    ]
}

fn review_target() -> impl Strategy<Value = ReviewTarget> {
    prop_oneof![
        Just(ReviewTarget::UncommittedChanges),
        text().prop_map(|branch| ReviewTarget::BaseBranch { branch }),
        (text(), option::of(text())).prop_map(|(sha, title)| ReviewTarget::Commit { sha, title }),
        text().prop_map(|instructions| ReviewTarget::Custom { instructions }),
    ]
}

/// A share from 0 to 1 in hundredths, which JSON carries exactly.
fn share() -> impl Strategy<Value = f64> {
    (0u8..=100).prop_map(|hundredths| f64::from(hundredths) / 100.0)
}

fn review_output() -> impl Strategy<Value = ReviewOutput> {
    let finding = (
        text(),
        text(),
        0u8..4,
        share(),
        text(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(title, body, priority, confidence, path, start_line, end_line)| ReviewFinding {
                title,
                body,
                priority,
                confidence,
                location: CodeLocation {
                    path,
                    start_line,
                    end_line,
                },
            },
        );
    let verdict = prop_oneof![
        Just(ReviewVerdict::Correct),
        Just(ReviewVerdict::Incorrect),
        Just(ReviewVerdict::Unknown),
    ];
    (vec(finding, 0..3), verdict, text(), share()).prop_map(
        |(findings, overall_correctness, overall_explanation, overall_confidence)| ReviewOutput {
            findings,
            overall_correctness,
            overall_explanation,
            overall_confidence,
        },
    )
}

fn review_request() -> impl Strategy<Value = ReviewRequest> {
    (review_target(), text(), text()).prop_map(|(target, prompt, user_facing_hint)| ReviewRequest {
        target,
        prompt,
        user_facing_hint,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        vec(user_input(), 0..3).prop_map(|items| Op::UserInput { items }),
        Just(Op::Interrupt),
        (text(), review_decision()).prop_map(|(id, decision)| Op::DecideApproval { id, decision }),
        Just(Op::Compact),
        review_request().prop_map(|request| Op::Review { request }),
        Just(Op::Undo),
        text().prop_map(|command| Op::RunUserShellCommand { command }),
        Just(Op::Shutdown),
        (text(), json_value()).prop_map(|(name, payload)| Op::Custom { name, payload }),
    ]
}

fn submission() -> impl Strategy<Value = Submission> {
    (text(), op()).prop_map(|(id, op)| Submission { id, op })
}

fn approval_origin() -> impl Strategy<Value = ApprovalOrigin> {
    (text(), text(), any::<u32>(), task_kind(), text()).prop_map(
        |(sub_session_id, parent_session_id, depth, task_kind, turn_id)| ApprovalOrigin {
            sub_session_id,
            parent_session_id,
            depth,
            task_kind,
            turn_id,
        },
    )
}

fn approval_policy() -> impl Strategy<Value = ApprovalPolicy> {
    prop_oneof![
        Just(ApprovalPolicy::Never),
        Just(ApprovalPolicy::OnRequest),
        Just(ApprovalPolicy::Untrusted),
        Just(ApprovalPolicy::Always),
    ]
}

fn sub_session_outcome() -> impl Strategy<Value = SubSessionOutcome> {
    prop_oneof![
        Just(SubSessionOutcome::Completed),
        Just(SubSessionOutcome::Aborted),
        Just(SubSessionOutcome::Failed),
        Just(SubSessionOutcome::Lost),
    ]
}

fn approval_subject() -> impl Strategy<Value = ApprovalSubject> {
    prop_oneof![
        (vec(text(), 0..4), path(), any::<bool>()).prop_map(|(command, cwd, without_sandbox)| {
            ApprovalSubject::Command {
                command,
                cwd,
                without_sandbox,
            }
        }),
        (vec(path(), 0..3), text(), path())
            .prop_map(|(files, diff, cwd)| { ApprovalSubject::Patch { files, diff, cwd } }),
        (text(), text(), json_value()).prop_map(|(server, tool, arguments)| {
            ApprovalSubject::ToolCall {
                server,
                tool,
                arguments,
            }
        }),
        (text(), json_value())
            .prop_map(|(title, details)| ApprovalSubject::Question { title, details }),
    ]
}

fn approval_request() -> impl Strategy<Value = ApprovalRequest> {
    (option::of(text()), approval_subject(), option::of(text())).prop_map(
        |(call_id, subject, reason)| ApprovalRequest {
            call_id,
            subject,
            reason,
        },
    )
}

fn exec_command_end() -> impl Strategy<Value = ExecCommandEnd> {
    let ids = (
        text(),
        option::of(any::<i32>()),
        option::of(any::<i32>()),
        any::<u64>(),
        path(),
    );
    let output = (text(), text(), text(), text());
    let flags = any::<[bool; 4]>();
    (ids, output, flags).prop_map(
        |(
            (call_id, exit_code, signal, duration_ms, cwd),
            (stdout, stderr, aggregated_output, formatted_output),
            [cancelled, timed_out, output_truncated, deltas_capped],
        )| ExecCommandEnd {
            call_id,
            exit_code,
            signal,
            duration_ms,
            stdout,
            stderr,
            aggregated_output,
            formatted_output,
            cancelled,
            timed_out,
            output_truncated,
            deltas_capped,
            cwd,
        },
    )
}

fn file_change() -> impl Strategy<Value = FileChange> {
    prop_oneof![
        (path(), text()).prop_map(|(path, content)| FileChange::Add { path, content }),
        (path(), text()).prop_map(|(path, content)| FileChange::Delete { path, content }),
        (path(), option::of(path()), text()).prop_map(|(path, move_path, unified_diff)| {
            FileChange::Update {
                path,
                move_path,
                unified_diff,
            }
        }),
    ]
}

fn plan_step() -> impl Strategy<Value = PlanStep> {
    let status = prop_oneof![
        Just(StepStatus::Pending),
        Just(StepStatus::InProgress),
        Just(StepStatus::Completed),
    ];
    (text(), status).prop_map(|(step, status)| PlanStep { step, status })
}

fn undo_completed() -> impl Strategy<Value = UndoCompleted> {
    let paths = || vec(text(), 0..3);
    (any::<bool>(), text(), paths(), paths(), paths()).prop_map(
        |(success, message, restored, deleted, conflicts)| UndoCompleted {
            success,
            message,
            restored,
            deleted,
            conflicts,
        },
    )
}

/// Every variant but `Unknown`, which only reading produces.
/// The MCP tool call events.
fn mcp_event_msg() -> impl Strategy<Value = EventMsg> {
    prop_oneof![
        (text(), text(), text(), text()).prop_map(|(call_id, server, tool, query)| {
            EventMsg::McpToolCallBegin {
                call_id,
                server,
                tool,
                arguments: serde_json::json!({ "query": query }),
            }
        }),
        (text(), text(), text(), any::<bool>(), text(), any::<u64>()).prop_map(
            |(call_id, server, tool, success, text, duration_ms)| EventMsg::McpToolCallEnd {
                call_id,
                server,
                tool,
                arguments: serde_json::json!({}),
                success,
                result: serde_json::json!({ "content": [{ "type": "text", "text": text }] }),
                duration_ms,
            },
        ),
    ]
}

fn event_msg() -> impl Strategy<Value = EventMsg> {
    let command = || vec(text(), 0..4);
    prop_oneof![
        task_kind().prop_map(|kind| EventMsg::TaskStarted { kind }),
        option::of(text())
            .prop_map(|last_agent_message| EventMsg::TaskComplete { last_agent_message }),
        turn_abort_reason().prop_map(|reason| EventMsg::TurnAborted { reason }),
        text().prop_map(|message| EventMsg::Error { message }),
        text().prop_map(|message| EventMsg::Warning { message }),
        text().prop_map(|message| EventMsg::BackgroundEvent { message }),
        text().prop_map(|message| EventMsg::StreamError { message }),
        text().prop_map(|message| EventMsg::AgentMessage { message }),
        text().prop_map(|text| EventMsg::AgentReasoning { text }),
        (token_usage(), token_usage(), option::of(any::<u64>())).prop_map(
            |(last, total, context_window)| EventMsg::TokenCount(TokenUsageInfo {
                last,
                total,
                context_window,
            })
        ),
        text().prop_map(|delta| EventMsg::AgentMessageDelta { delta }),
        text().prop_map(|delta| EventMsg::AgentReasoningDelta { delta }),
        (text(), approval_request(), option::of(approval_origin())).prop_map(
            |(approval_id, request, origin)| EventMsg::ApprovalRequested {
                approval_id,
                request,
                origin,
            }
        ),
        (text(), command(), path(), exec_source()).prop_map(|(call_id, command, cwd, source)| {
            EventMsg::ExecCommandBegin {
                call_id,
                command,
                cwd,
                source,
            }
        }),
        (text(), exec_stream(), vec(any::<u8>(), 0..32)).prop_map(|(call_id, stream, chunk)| {
            EventMsg::ExecCommandOutputDelta {
                call_id,
                stream,
                chunk,
            }
        }),
        exec_command_end().prop_map(EventMsg::ExecCommandEnd),
        (text(), vec(file_change(), 0..4))
            .prop_map(|(call_id, changes)| EventMsg::PatchApplyBegin { call_id, changes }),
        (text(), any::<bool>(), text(), text()).prop_map(|(call_id, success, stdout, stderr)| {
            EventMsg::PatchApplyEnd {
                call_id,
                success,
                stdout,
                stderr,
            }
        }),
        mcp_event_msg(),
        (option::of(text()), vec(plan_step(), 0..4))
            .prop_map(|(explanation, plan)| EventMsg::PlanUpdate { explanation, plan }),
        option::of(text()).prop_map(|message| EventMsg::UndoStarted { message }),
        undo_completed().prop_map(EventMsg::UndoCompleted),
        review_request().prop_map(|request| EventMsg::EnteredReviewMode { request }),
        option::of(review_output())
            .prop_map(|review_output| EventMsg::ExitedReviewMode { review_output }),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(tokens_before, tokens_after, summary_tokens)| EventMsg::ContextCompacted {
                tokens_before,
                tokens_after,
                summary_tokens,
            }
        ),
        (approval_origin(), approval_policy()).prop_map(|(origin, approval_policy)| {
            EventMsg::SubSessionStarted {
                origin,
                approval_policy,
            }
        }),
        (approval_origin(), sub_session_outcome())
            .prop_map(|(origin, outcome)| EventMsg::SubSessionEnded { origin, outcome }),
        (approval_origin(), text(), any::<u64>(), text()).prop_map(|(origin, id, seq, message)| {
            EventMsg::SubSessionEvent {
                origin,
                event: Box::new(Event {
                    id,
                    seq,
                    msg: EventMsg::AgentMessage { message },
                }),
            }
        }),
        (text(), json_value()).prop_map(|(name, payload)| EventMsg::Custom { name, payload }),
        Just(EventMsg::ShutdownComplete),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (text(), any::<u64>(), event_msg()).prop_map(|(id, seq, msg)| Event { id, seq, msg })
}

fn content_item() -> impl Strategy<Value = ContentItem> {
    prop_oneof![
        text().prop_map(|text| ContentItem::InputText { text }),
        text().prop_map(|image_url| ContentItem::InputImage { image_url }),
        text().prop_map(|text| ContentItem::OutputText { text }),
    ]
}

/// Every variant but `Unknown`, which only reading produces.
fn response_item() -> impl Strategy<Value = ResponseItem> {
    prop_oneof![
        (role(), vec(content_item(), 0..3))
            .prop_map(|(role, content)| ResponseItem::Message { role, content }),
        (vec(text(), 0..3), option::of(text()))
            .prop_map(|(summary, content)| ResponseItem::Reasoning { summary, content }),
        (text(), text(), text()).prop_map(|(call_id, name, arguments)| {
            ResponseItem::FunctionCall {
                call_id,
                name,
                arguments,
            }
        }),
        (text(), text(), option::of(any::<bool>())).prop_map(|(call_id, output, success)| {
            ResponseItem::FunctionCallOutput {
                call_id,
                output,
                success,
            }
        }),
        (text(), text(), text()).prop_map(|(commit, phase, turn_id)| {
            ResponseItem::GhostSnapshot {
                commit,
                phase,
                turn_id,
                snapshot: serde_json::Value::Null,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn submission_round_trips(value in submission()) {
        assert_round_trips(&value);
    }

    #[test]
    fn op_round_trips(value in op()) {
        assert_round_trips(&value);
    }

    #[test]
    fn user_input_round_trips(value in user_input()) {
        assert_round_trips(&value);
    }

    #[test]
    fn event_round_trips(value in event()) {
        assert_round_trips(&value);
    }

    #[test]
    fn event_msg_round_trips(value in event_msg()) {
        assert_round_trips(&value);
    }

    #[test]
    fn response_item_round_trips(value in response_item()) {
        assert_round_trips(&value);
    }

    #[test]
    fn content_item_round_trips(value in content_item()) {
        assert_round_trips(&value);
    }

    #[test]
    fn exec_command_end_round_trips(value in exec_command_end()) {
        assert_round_trips(&value);
    }

    #[test]
    fn undo_completed_round_trips(value in undo_completed()) {
        assert_round_trips(&value);
    }

    #[test]
    fn small_wire_types_round_trip(
        kind in task_kind(),
        decision in review_decision(),
        reason in turn_abort_reason(),
        source in exec_source(),
        stream in exec_stream(),
        role in role(),
        request in review_request(),
        origin in approval_origin(),
        policy in approval_policy(),
        outcome in sub_session_outcome(),
        approval in approval_request(),
    ) {
        assert_round_trips(&kind);
        assert_round_trips(&decision);
        assert_round_trips(&reason);
        assert_round_trips(&source);
        assert_round_trips(&stream);
        assert_round_trips(&role);
        assert_round_trips(&request);
        assert_round_trips(&origin);
        assert_round_trips(&policy);
        assert_round_trips(&outcome);
        assert_round_trips(&approval);
    }

    #[test]
    fn output_chunk_bytes_survive_the_wire(chunk in vec(any::<u8>(), 0..256)) {
        let msg = EventMsg::ExecCommandOutputDelta {
            call_id: "c".into(),
            stream: ExecStream::Stdout,
            chunk: chunk.clone(),
        };
        let wire = serde_json::to_value(&msg).unwrap();
        prop_assert!(wire["chunk"].is_string());
        let back: EventMsg = serde_json::from_value(wire).unwrap();
        prop_assert_eq!(back, msg);
    }
}
