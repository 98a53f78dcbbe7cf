//! Interrupting a regular turn at any instant: mid-stream, mid-approval, mid-tool (a real
//! process) and between tools. Every issued call gets one output, a note says the user
//! interrupted, all before `turn_aborted`, and the next turn's prompt is valid.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Log, Probe, assert_history_valid, builder, prompts_json, say};
use turnkit_model::{ScriptedModel, ScriptedTurn};
use turnkit_protocol::{
    ApprovalRequest, EventMsg, Op, ResponseItem, ReviewDecision, ToolSpec, TurnAbortReason,
};
use turnkit_session_core::{CancellationToken, SessionHandle, TaskContext, Tool, ToolOutput};
use turnkit_tasks_regular::{ABORTED_BEFORE_START, ABORTED_WHILE_RUNNING, INTERRUPTED_NOTE};
use turnkit_testkit::process::live_group_members;

fn output_of<'a>(history: &'a [ResponseItem], wanted: &str) -> &'a str {
    history
        .iter()
        .find_map(|item| match item {
            ResponseItem::FunctionCallOutput {
                call_id, output, ..
            } if call_id == wanted => Some(output.as_str()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no output for {wanted}: {history:#?}"))
}

fn ends_with_the_note(history: &[ResponseItem]) -> bool {
    matches!(history.last(), Some(item) if *item == ResponseItem::user_text(INTERRUPTED_NOTE))
}

#[tokio::test(start_paused = true)]
async fn interrupt_mid_stream_answers_the_issued_call_and_records_the_note() {
    let log = Log::default();
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .text_delta("Let me ")
            .function_call("issued", "probe", json!({}))
            .gate("mid-stream")
            .message("never finished"),
        ScriptedTurn::new().message("Waiting for you."),
    ]);
    let mut session = builder(&model)
        .with_rollout()
        .configure(|builder| builder.tool(Probe::new("probe", true, &log)))
        .build();

    let id = session.submit(say("start"));
    model.gate("mid-stream").reached().await;
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    insta::assert_json_snapshot!(session.normalize(&events));
    assert!(log.lock().expect("the log is never poisoned").is_empty());

    let history = session.history();
    assert_eq!(output_of(&history, "issued"), ABORTED_BEFORE_START);
    assert!(ends_with_the_note(&history));
    assert_history_valid(&history);
    // Journalled before `turn_aborted`: the rollout already holds the note.
    let rollout = std::fs::read_to_string(session.rollout_path().expect("a rollout")).unwrap();
    assert!(rollout.contains("turn_aborted>The user interrupted"));

    session.run(say("what now?")).await;
    insta::assert_json_snapshot!("interrupt_mid_stream_prompts", prompts_json(&model));
}

/// Asks the client to approve a command and answers how it was decided.
struct AsksFirst;

#[async_trait::async_trait]
impl Tool for AsksFirst {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "asks_first",
            "Asks before it runs.",
            json!({ "type": "object" }),
        )
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        call_id: &str,
        _arguments: Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        let request =
            ApprovalRequest::command(vec!["rm".into(), "-rf".into(), "build".into()], ctx.cwd())
                .with_call_id(call_id);
        match ctx.request_approval(request).await {
            ReviewDecision::Approved | ReviewDecision::ApprovedForSession => {
                ToolOutput::success("ran")
            }
            decision => ToolOutput::failure(format!("not run: {decision:?}")),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn interrupt_mid_approval_resolves_it_and_answers_the_call() {
    let model =
        ScriptedModel::new([ScriptedTurn::new().function_call("risky", "asks_first", json!({}))]);
    let mut session = builder(&model)
        .configure(|builder| builder.tool(AsksFirst))
        .build();

    let id = session.submit(say("clean up"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TurnAborted {
            reason: TurnAbortReason::Interrupted
        })
    );
    let history = session.history();
    let output = output_of(&history, "risky");
    assert!(output.starts_with(ABORTED_WHILE_RUNNING), "{output}");
    assert!(output.contains("not run: Abort"), "{output}");
    assert!(ends_with_the_note(&history));
    assert_history_valid(&history);
    assert_eq!(session.session().pending_approvals(), 0);
}

/// Runs `sleep 60` through exec in a process group whose id it writes to `pid`.
struct Sleeper;

#[async_trait::async_trait]
impl Tool for Sleeper {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "sleeper",
            "Sleeps for a minute.",
            json!({ "type": "object" }),
        )
    }

    fn supports_parallel(&self) -> bool {
        true
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        _call_id: &str,
        _arguments: Value,
        cancellation_token: CancellationToken,
    ) -> ToolOutput {
        let spec = turnkit_exec::CommandSpec::shell("echo $$ > pid; sleep 60")
            .cwd(ctx.cwd())
            .kill_grace(Duration::from_millis(500));
        match turnkit_exec::run(spec, cancellation_token).await {
            Ok(output) if output.cancelled => ToolOutput::failure("killed"),
            Ok(_) => ToolOutput::success("slept"),
            Err(error) => ToolOutput::failure(error.to_string()),
        }
    }
}

#[tokio::test]
async fn interrupt_mid_tool_kills_the_process_tree_and_answers_every_call() {
    let log = Log::default();
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("sleep", "sleeper", json!({}))
            .function_call("quick", "probe", json!({})),
        ScriptedTurn::new().message("Stopped."),
    ]);
    let mut session = builder(&model)
        .configure(|builder| builder.tool(Sleeper).tool(Probe::new("probe", true, &log)))
        .build();

    let id = session.submit(say("sleep"));
    let pid_file = session.cwd().join("pid");
    let pgid = turnkit_testkit::process::wait_for_pid_file(&pid_file).await;
    assert!(!live_group_members(pgid).is_empty(), "the command runs");
    // The quick call's output is its own only if it ends before the interrupt.
    while !log
        .lock()
        .expect("never poisoned")
        .contains(&"end quick".to_owned())
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;

    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::TurnAborted { .. })
    ));
    assert!(
        live_group_members(pgid).is_empty(),
        "the process group is gone"
    );
    let history = session.history();
    let slept = output_of(&history, "sleep");
    assert!(slept.starts_with(ABORTED_WHILE_RUNNING), "{slept}");
    assert!(
        output_of(&history, "quick").contains("probe did"),
        "the quick call finished before the interrupt"
    );
    assert!(ends_with_the_note(&history));
    assert_history_valid(&history);

    session.run(say("go on")).await;
    assert_history_valid(
        &model
            .last_prompt()
            .expect("a second request")
            .input
            .to_vec(),
    );
}

/// Interrupts its own turn through the session's handle, then returns once it sees the
/// cancellation.
struct Interrupter {
    handle: Arc<Mutex<Option<SessionHandle>>>,
}

#[async_trait::async_trait]
impl Tool for Interrupter {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "interrupter",
            "Interrupts the turn.",
            json!({ "type": "object" }),
        )
    }

    async fn call(
        &self,
        _ctx: Arc<TaskContext>,
        _call_id: &str,
        _arguments: Value,
        cancellation_token: CancellationToken,
    ) -> ToolOutput {
        let handle = self.handle.lock().expect("never poisoned").clone();
        handle
            .expect("set before the turn")
            .submit(Op::Interrupt)
            .expect("taken");
        cancellation_token.cancelled().await;
        ToolOutput::success("noticed the interrupt")
    }
}

#[tokio::test(start_paused = true)]
async fn interrupt_between_tools_starts_no_new_tool() {
    let log = Log::default();
    let handle = Arc::new(Mutex::new(None));
    let model = ScriptedModel::new([
        ScriptedTurn::new()
            .function_call("first", "interrupter", json!({}))
            .function_call("second", "probe", json!({}))
            .function_call("third", "probe", json!({})),
        ScriptedTurn::new().message("Understood."),
    ]);
    let mut session = builder(&model)
        .configure(|builder| {
            builder
                .tool(Interrupter {
                    handle: Arc::clone(&handle),
                })
                .tool(Probe::new("probe", false, &log))
        })
        .build();
    *handle.lock().expect("never poisoned") = Some(session.session().handle());

    let events = session.run(say("go")).await;
    insta::assert_json_snapshot!(session.normalize(&events));
    assert!(
        log.lock().expect("never poisoned").is_empty(),
        "no tool started after the cancel"
    );
    let history = session.history();
    assert_eq!(output_of(&history, "second"), ABORTED_BEFORE_START);
    assert_eq!(output_of(&history, "third"), ABORTED_BEFORE_START);

    session.run(say("ok, continue")).await;
    insta::assert_json_snapshot!("interrupt_between_tools_prompts", prompts_json(&model));
}
