//! `turnkit exec` and `turnkit resume` as processes: the `--json` contract, real HTTP clients
//! against loopback servers, approvals without a terminal, interrupts and stored sessions.

mod support;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::{Value, json};
use support::{Project, assert_lifecycle, events, text};
use turnkit::EventMsg;
use turnkit::testkit::Normalizer;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The testkit's normalisation, plus the wall time the shell tool tells the model.
fn normalise(project: &Project, events: &[turnkit::Event]) -> Value {
    let mut value = Normalizer::new()
        .path(project.path(), "<project>")
        .normalize(events);
    redact_wall_time(&mut value);
    value
}

fn redact_wall_time(value: &mut Value) {
    match value {
        Value::String(text) if text.starts_with("Wall time: ") => {
            if let Some((_, rest)) = text.split_once(" seconds") {
                *text = format!("Wall time: <seconds> seconds{rest}");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_wall_time),
        Value::Object(fields) => fields.values_mut().for_each(redact_wall_time),
        _ => {}
    }
}

#[test]
fn exec_json_scripted_is_one_event_per_line_and_keeps_the_lifecycle() {
    let project = Project::new(&[("notes.txt", "remember the milk\n")]);
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["cat", "notes.txt"] } }] },
        { "steps": [{ "type": "message", "text": "The note says: remember the milk.",
                      "deltas": ["The note says: ", "remember the milk."] }] }
    ]}));
    let output = project.run(&[
        "exec",
        "--json",
        "--scripted",
        script.to_str().expect("utf-8"),
        "what does notes.txt say?",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let events = events(&output.stdout);
    assert_lifecycle(&events);
    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::TaskComplete { .. })
    ));
    assert!(
        text(&output.stderr).contains("session "),
        "the stored session's id is said on stderr"
    );
    insta::assert_json_snapshot!(normalise(&project, &events));
}

#[test]
fn a_model_error_ends_the_turn_with_exit_1() {
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "error", "kind": "bad_request", "message": "the model is gone" }] }
    ]}));
    let output = project.run(&[
        "exec",
        "--json",
        "--scripted",
        script.to_str().expect("utf-8"),
        "hi",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let events = events(&output.stdout);
    assert_lifecycle(&events);
    assert!(
        events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::Error { .. }))
    );
}

#[test]
fn without_a_terminal_what_would_be_asked_is_denied_and_said() {
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["touch", "made.txt"] } }] },
        { "steps": [{ "type": "message", "text": "You declined." }] }
    ]}));
    let output = project.run(&[
        "exec",
        "--json",
        "--approval-policy",
        "always",
        "--scripted",
        script.to_str().expect("utf-8"),
        "make a file",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        !project.dir.path().join("made.txt").exists(),
        "the command never ran"
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("denied") && stderr.contains("--approval-policy never"),
        "{stderr}"
    );
    assert!(
        events(&output.stdout)
            .iter()
            .any(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
    );
}

#[test]
fn resume_last_continues_the_stored_session() {
    let project = Project::new(&[]);
    let first = project.script(
        &json!({ "turns": [{ "steps": [{ "type": "message", "text": "First answer." }] }] }),
    );
    let output = project.run(&[
        "exec",
        "--scripted",
        first.to_str().expect("utf-8"),
        "first question",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(project.rollouts().len(), 1);

    let second = project.script(
        &json!({ "turns": [{ "steps": [{ "type": "message", "text": "Second answer." }] }] }),
    );
    let resumed = project.run(&[
        "resume",
        "--last",
        "--json",
        "--scripted",
        second.to_str().expect("utf-8"),
        "second question",
    ]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    let events = events(&resumed.stdout);
    assert_lifecycle(&events);
    assert_eq!(
        project.rollouts().len(),
        1,
        "the same session, not a new one"
    );
    let rollout = std::fs::read_to_string(&project.rollouts()[0]).expect("the rollout");
    assert!(rollout.contains("first question") && rollout.contains("Second answer."));

    let listed = project.run(&["sessions"]);
    assert!(
        text(&listed.stdout).contains("Second answer."),
        "{}",
        text(&listed.stdout)
    );
}

#[test]
fn sigint_during_a_long_shell_tool_call_leaves_no_process_and_exits_130() {
    let project = Project::new(&[]);
    // Inside the project: the shell tool runs in the workspace-write sandbox.
    let pid_file = project.dir.path().join("pid");
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["sh", "-c", format!("echo $$ > {}; sleep 30 & sleep 30; wait", pid_file.display())] } }] },
        { "steps": [{ "type": "message", "text": "never reached" }] }
    ]}));
    let mut child = project
        .command(&[
            "exec",
            "--json",
            "--approval-policy",
            "never",
            "--scripted",
            script.to_str().expect("utf-8"),
            "wait a while",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn turnkit");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        let begun = line.contains("exec_command_begin");
        seen.push(line);
        if begun {
            break;
        }
    }
    let pid = support::wait_for_pid(&pid_file);
    let group = support::process_group(pid);
    assert!(!turnkit::testkit::process::live_group_members(group).is_empty());
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    seen.extend(lines.map(|line| line.expect("a line")));
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    let events: Vec<turnkit::Event> = seen
        .iter()
        .map(|line| serde_json::from_str(line).expect("an event"))
        .collect();
    assert_lifecycle(&events);
    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::TurnAborted { .. })
    ));
    assert!(
        turnkit::testkit::process::live_group_members(group).is_empty(),
        "the tool's process group is gone"
    );
    let rollout = std::fs::read_to_string(&project.rollouts()[0]).expect("the rollout");
    let last_event = rollout
        .lines()
        .rev()
        .find(|line| line.contains("\"type\":\"event\""))
        .expect("an event");
    assert!(last_event.contains("turn_aborted"), "{last_event}");
}

/// A stream of server-sent events, named or not, with `[DONE]` for Chat Completions.
fn sse(events: &[(Option<&str>, Value)], done: bool) -> ResponseTemplate {
    let mut body = String::new();
    for (name, data) in events {
        if let Some(name) = name {
            writeln!(body, "event: {name}").expect("a String");
        }
        write!(body, "data: {data}\n\n").expect("a String");
    }
    if done {
        body.push_str("data: [DONE]\n\n");
    }
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

async fn serve(route: &str, first: ResponseTemplate, then: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(then)
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

async fn exec_against(project: &Project, server: &MockServer, api: &str) -> std::process::Output {
    let mut command = project.command(&[
        "exec",
        "--json",
        "--base-url",
        &server.uri(),
        "--api",
        api,
        "--model",
        "loopback-model",
        "read notes.txt",
    ]);
    command
        .env("OPENAI_API_KEY", "sk-loopback")
        .env("TURNKIT_MAX_RETRIES", "0");
    tokio::task::spawn_blocking(move || command.output().expect("run turnkit"))
        .await
        .expect("joined")
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|request| request.body_json::<Value>().expect("JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_against_a_loopback_responses_api_server() {
    let project = Project::new(&[("notes.txt", "remember the milk\n")]);
    let call = json!({ "type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell",
                       "arguments": "{\"command\":[\"cat\",\"notes.txt\"]}", "status": "completed" });
    let usage = json!({ "input_tokens": 50, "output_tokens": 7, "total_tokens": 57 });
    let first = sse(
        &[
            (
                Some("response.created"),
                json!({ "type": "response.created", "response": { "id": "resp_1" } }),
            ),
            (
                Some("response.output_item.done"),
                json!({ "type": "response.output_item.done", "output_index": 0, "item": call }),
            ),
            (
                Some("response.completed"),
                json!({ "type": "response.completed", "response": { "id": "resp_1", "usage": usage } }),
            ),
        ],
        false,
    );
    let message = json!({ "type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                          "content": [{ "type": "output_text", "text": "It says to remember the milk.", "annotations": [] }] });
    let then = sse(
        &[
            (
                Some("response.created"),
                json!({ "type": "response.created", "response": { "id": "resp_2" } }),
            ),
            (
                Some("response.output_text.delta"),
                json!({ "type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "It says to remember the milk." }),
            ),
            (
                Some("response.output_item.done"),
                json!({ "type": "response.output_item.done", "output_index": 0, "item": message }),
            ),
            (
                Some("response.completed"),
                json!({ "type": "response.completed", "response": { "id": "resp_2", "usage": usage } }),
            ),
        ],
        false,
    );
    let server = serve("/responses", first, then).await;
    let output = exec_against(&project, &server, "responses").await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let events = events(&output.stdout);
    assert_lifecycle(&events);
    assert!(
        matches!(events.last().map(|e| &e.msg), Some(EventMsg::TaskComplete { last_agent_message: Some(text) }) if text.contains("milk"))
    );
    let bodies = bodies(&server).await;
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["model"], "loopback-model");
    let sent = bodies[1]["input"].to_string();
    assert!(
        sent.contains("function_call_output") && sent.contains("remember the milk"),
        "{sent}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_against_a_loopback_chat_completions_server() {
    let project = Project::new(&[("notes.txt", "remember the milk\n")]);
    let chunk = |delta: Value, finish: Value| {
        json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "loopback-model",
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
    };
    let first = sse(
        &[
            (
                None,
                chunk(
                    json!({ "role": "assistant", "tool_calls": [{ "index": 0, "id": "call_1", "type": "function", "function": { "name": "shell", "arguments": "" } }] }),
                    Value::Null,
                ),
            ),
            (
                None,
                chunk(
                    json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "{\"command\":[\"cat\",\"notes.txt\"]}" } }] }),
                    Value::Null,
                ),
            ),
            (None, chunk(json!({}), json!("tool_calls"))),
        ],
        true,
    );
    let then = sse(
        &[
            (
                None,
                chunk(
                    json!({ "role": "assistant", "content": "It says to remember the milk." }),
                    Value::Null,
                ),
            ),
            (None, chunk(json!({}), json!("stop"))),
        ],
        true,
    );
    let server = serve("/chat/completions", first, then).await;
    let output = exec_against(&project, &server, "chat").await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let events = events(&output.stdout);
    assert_lifecycle(&events);
    let bodies = bodies(&server).await;
    assert_eq!(bodies.len(), 2);
    let tool = bodies[1]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .expect("the tool output is sent back");
    assert!(
        tool["content"]
            .as_str()
            .is_some_and(|content| content.contains("remember the milk")),
        "{tool}"
    );
}

#[test]
fn undo_dry_run_touches_nothing_and_undo_restores() {
    let project = Project::new(&[("greet.py", "print('hello')\n")]);
    let patch = "*** Begin Patch\n*** Update File: greet.py\n@@\n-print('hello')\n+print('hello, world')\n*** Add File: NEW.md\n+new\n*** End Patch\n";
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "apply_patch",
                      "arguments": { "input": patch } }] },
        { "steps": [{ "type": "message", "text": "Patched." }] }
    ]}));
    let output = project.run(&[
        "exec",
        "--approval-policy",
        "never",
        "--scripted",
        script.to_str().expect("utf-8"),
        "patch it",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let greet = project.dir.path().join("greet.py");
    assert_eq!(
        support::read(&greet).as_deref(),
        Some("print('hello, world')\n")
    );
    let rollout = project.rollouts()[0].clone();
    let rollout_before = std::fs::read(&rollout).expect("the rollout");

    let plan = project.run(&["undo", "--dry-run", "--json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("one JSON plan");
    assert_eq!(plan["restored"], json!(["greet.py"]));
    assert_eq!(plan["deleted"], json!(["NEW.md"]));
    assert_eq!(plan["conflicts"], json!([]));
    let human = project.run(&["undo", "--dry-run"]);
    assert!(text(&human.stdout).contains("restore") && text(&human.stdout).contains("NEW.md"));
    assert_eq!(
        support::read(&greet).as_deref(),
        Some("print('hello, world')\n"),
        "the dry run changed nothing"
    );
    assert!(project.dir.path().join("NEW.md").exists());
    assert_eq!(
        std::fs::read(&rollout).expect("the rollout"),
        rollout_before,
        "nor the rollout"
    );

    let undone = project.run(&["undo", "--json"]);
    assert_eq!(undone.status.code(), Some(0), "{}", text(&undone.stderr));
    assert_lifecycle(&events(&undone.stdout));
    assert_eq!(support::read(&greet).as_deref(), Some("print('hello')\n"));
    assert!(!project.dir.path().join("NEW.md").exists());
}

#[test]
fn review_json_reports_findings_and_exits_0() {
    let project = Project::new(&[("greet.py", "print('hello')\n")]);
    std::fs::write(
        project.dir.path().join("greet.py"),
        "print('hello, world')\n",
    )
    .expect("an edit");
    let answer = json!({
        "findings": [{ "title": "output changed", "body": "Callers see a new greeting.", "priority": 1,
                       "confidence": 0.7, "location": { "path": "greet.py", "start_line": 1, "end_line": 1 } }],
        "overall_correctness": "incorrect", "overall_explanation": "It changes behaviour.", "overall_confidence": 0.7
    });
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "message", "text": answer.to_string() }] }
    ]}));
    let output = project.run(&[
        "review",
        "--uncommitted",
        "--json",
        "--scripted",
        script.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let events = events(&output.stdout);
    assert_lifecycle(&events);
    let exited = events
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::ExitedReviewMode { review_output } => Some(review_output.clone()),
            _ => None,
        })
        .expect("exited_review_mode");
    let findings = exited.expect("a review output").findings;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].location.path, "greet.py");

    let human = project.run(&["review", "--scripted", script.to_str().expect("utf-8")]);
    let shown = text(&human.stdout);
    assert!(shown.contains("[P1] greet.py:1 output changed"), "{shown}");
}

#[test]
fn review_targets_are_exclusive() {
    let project = Project::new(&[]);
    let output = project.run(&["review", "--uncommitted", "--base", "main"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("cannot be used with"));
}

#[test]
fn compact_summarises_the_directorys_latest_session() {
    let project = Project::new(&[]);
    let first = project.script(&json!({ "turns": [{ "steps": [{ "type": "message", "text": "Done with the first task." }] }] }));
    let output = project.run(&[
        "exec",
        "--scripted",
        first.to_str().expect("utf-8"),
        "do the first task",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let summary = project.script(&json!({ "turns": [{ "steps": [{ "type": "message",
        "text": "Goal: the first task. Progress: done. Next: nothing pending." }] }] }));
    let compacted = project.run(&[
        "compact",
        "--json",
        "--scripted",
        summary.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        compacted.status.code(),
        Some(0),
        "{}",
        text(&compacted.stderr)
    );
    let events = events(&compacted.stdout);
    assert_lifecycle(&events);
    assert!(
        events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::ContextCompacted { .. })),
        "{events:?}"
    );
    let listed = project.run(&["sessions", "--json"]);
    assert_eq!(
        text(&listed.stdout).lines().count(),
        1,
        "the same session was compacted; the summarising child's rollout is not listed"
    );
}

#[test]
fn sandbox_read_only_keeps_the_agents_command_from_writing() {
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["touch", "written.txt"] } }] },
        { "steps": [{ "type": "message", "text": "Tried." }] }
    ]}));
    let script = script.to_str().expect("utf-8");
    let common = [
        "exec",
        "--json",
        "--approval-policy",
        "never",
        "--scripted",
        script,
    ];
    let confined =
        project.run(&[&common[..], &["--sandbox", "read-only", "write a file"]].concat());
    assert_eq!(
        confined.status.code(),
        Some(0),
        "{}",
        text(&confined.stderr)
    );
    assert!(
        !project.dir.path().join("written.txt").exists(),
        "the sandbox refused the write"
    );
    let allowed = project.run(&[&common[..], &["write a file"]].concat());
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));
    assert!(
        project.dir.path().join("written.txt").exists(),
        "workspace-write allows the project"
    );
}

#[test]
fn the_binary_alone_confines_the_agents_commands_without_a_separate_helper() {
    // A copy of the binary in a folder of its own, as `cargo install` leaves it: no
    // `turnkit-sandbox-exec` beside it, and none named in the environment.
    let project = Project::new(&[]);
    let bin = tempfile::tempdir().expect("a temp dir");
    let alone = bin.path().join("turnkit");
    std::fs::copy(env!("CARGO_BIN_EXE_turnkit"), &alone).expect("copy the binary");
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["touch", "written.txt"] } }] },
        { "steps": [{ "type": "message", "text": "Wrote it." }] }
    ]}));
    let script = script.to_str().expect("utf-8");
    let output = project
        .command_of(
            &alone,
            &[
                "exec",
                "--json",
                "--approval-policy",
                "never",
                "--scripted",
                script,
                "write a file",
            ],
        )
        .env_remove("TURNKIT_SANDBOX_HELPER")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run turnkit");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let ends: Vec<_> = events(&output.stdout)
        .into_iter()
        .filter_map(|event| match event.msg {
            EventMsg::ExecCommandEnd(end) => Some(end.exit_code),
            _ => None,
        })
        .collect();
    assert_eq!(ends, [Some(0)], "the confined command ran and succeeded");
    assert!(project.dir.path().join("written.txt").exists());
}

#[test]
fn resume_keeps_the_sessions_approval_policy_unless_a_flag_changes_it() {
    let project = Project::new(&[]);
    let say = |text: &str| {
        project.script(&json!({ "turns": [{ "steps": [{ "type": "message", "text": text }] }] }))
    };
    let touch = |name: &str| {
        project.script(&json!({ "turns": [
            { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                          "arguments": { "command": ["touch", name] } }] },
            { "steps": [{ "type": "message", "text": "Done." }] }
        ]}))
    };
    let first = say("Ready.");
    let output = project.run(&[
        "exec",
        "--approval-policy",
        "never",
        "--scripted",
        first.to_str().expect("utf-8"),
        "get ready",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    // No flag: the command runs without asking, as the session was started.
    let kept = touch("kept-never");
    let resumed = project.run(&[
        "resume",
        "--last",
        "--scripted",
        kept.to_str().expect("utf-8"),
        "touch it",
    ]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    assert!(project.path().join("kept-never").exists());

    // A flag wins, and sticks for the next resume: with no terminal, `untrusted` denies.
    for flags in [&["--approval-policy", "untrusted"][..], &[][..]] {
        let asked = touch("asked");
        let mut args = vec!["resume", "--last"];
        args.extend_from_slice(flags);
        args.extend(["--scripted", asked.to_str().expect("utf-8"), "touch again"]);
        let resumed = project.run(&args);
        // A person's output (no --json) says what was denied and under which policy.
        let stdout = text(&resumed.stdout);
        assert!(
            stdout.contains("denied") && stdout.contains("policy now: untrusted"),
            "{flags:?}: {stdout}"
        );
        assert!(!project.path().join("asked").exists(), "{flags:?}");
    }
}
