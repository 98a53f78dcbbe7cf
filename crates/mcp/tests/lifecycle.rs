//! How MCP servers live and end with a session: the tools they list (every page), a call
//! cancelled with its turn (the server is told), and no process left behind when the session
//! shuts down or is dropped (checked in `/proc`).

mod support;

use std::time::Duration;

use serde_json::json;
use support::{call, eventually, read_pids, say, server, session};
use turnkit::model::ScriptedModel;
use turnkit::testkit::process::process_alive;
use turnkit::{ApprovalPolicy, EventMsg, Op, TurnAbortReason, UserInput};
use turnkit_mcp::client::McpClients;

fn user(text: &str) -> Op {
    Op::UserInput {
        items: vec![UserInput::text(text)],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_tools_is_offered_with_its_schema_and_read_only_hint() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clients = McpClients::connect([server("files", &[])], dir.path()).await;
    let tools = clients.tools();
    let names: Vec<String> = tools.iter().map(|tool| tool.spec().name).collect();
    assert_eq!(
        names,
        [
            "files__read_file",
            "files__write_file",
            "files__noop",
            "files__crash",
            "files__hang",
            "files__never"
        ]
    );
    let changes: Vec<bool> = tools.iter().map(|tool| tool.can_change_files()).collect();
    assert_eq!(changes, [false, true, false, true, false, false]);
    let read = tools[0].spec();
    assert_eq!(
        read.description,
        "Reads a text file below the server's directory."
    );
    assert_eq!(
        read.parameters,
        json!({ "type": "object", "properties": { "path": { "type": "string" } }, "required": ["path"] })
    );
    // A schema without properties gets an empty object, which model APIs require.
    assert_eq!(
        tools[2].spec().parameters,
        json!({ "type": "object", "properties": {} })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_named_like_an_existing_one_gets_a_unique_name() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clients = McpClients::connect([server("files", &[])], dir.path()).await;
    let mut taken = turnkit::Session::builder();
    for tool in McpClients::connect([server("files", &[])], dir.path())
        .await
        .tools()
    {
        taken = taken.shared_tool(tool);
    }
    let builder = clients.register(taken);
    assert!(builder.has_tool("files__noop_2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_turn_mid_call_tells_the_server_and_ends_the_call_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let pid_file = dir.path().join("pids");
    let clients = McpClients::connect(
        [server(
            "slow",
            &["--pid-file", pid_file.to_str().expect("a UTF-8 path")],
        )],
        dir.path(),
    )
    .await;
    let (server_pid, child_pid) = read_pids(&pid_file).await;
    let model = ScriptedModel::new([
        call("call-hang", "slow__hang", json!({})),
        say("never read"),
    ]);
    let mut session = session(clients, &model, ApprovalPolicy::Never);
    let id = session.submit(user("hang"));
    session
        .events_until(|event| matches!(event.msg, EventMsg::McpToolCallBegin { .. }))
        .await;
    // The begin event comes before the request is sent; interrupt once the server works on it.
    assert!(
        eventually(Duration::from_secs(10), || dir
            .path()
            .join("hang-started")
            .exists())
        .await,
        "the server started the call"
    );
    let interrupted = std::time::Instant::now();
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "the call stops promptly"
    );
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TurnAborted {
            reason: TurnAbortReason::Interrupted
        })
    );
    let ends: Vec<_> = session
        .seen()
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::McpToolCallEnd {
                success, result, ..
            } => Some((*success, result.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        [(
            false,
            json!({ "error": "the call to `hang` was cancelled: the turn was interrupted" })
        )]
    );
    // rmcp sent `notifications/cancelled`, and the server's handler saw it.
    assert!(
        eventually(Duration::from_secs(10), || dir
            .path()
            .join("hang-cancelled")
            .exists())
        .await,
        "the server was told the call was cancelled"
    );
    // The server outlives the turn (it serves the next one) and ends with the session.
    assert!(process_alive(server_pid));
    drop(session);
    assert!(
        eventually(Duration::from_secs(10), || !process_alive(server_pid)
            && !process_alive(child_pid))
        .await,
        "the server ({server_pid}) and its child ({child_pid}) are gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_the_session_down_kills_each_servers_process_group() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    let clients = McpClients::connect(
        [
            server(
                "one",
                &["--pid-file", first.to_str().expect("a UTF-8 path")],
            ),
            server(
                "two",
                &["--pid-file", second.to_str().expect("a UTF-8 path")],
            ),
        ],
        dir.path(),
    )
    .await;
    let pids = [read_pids(&first).await, read_pids(&second).await];
    let model = ScriptedModel::new([say("Hello.")]);
    let mut session = session(clients, &model, ApprovalPolicy::Never);
    session.run(user("hi")).await;
    for (server_pid, child_pid) in pids {
        assert!(process_alive(server_pid) && process_alive(child_pid));
    }
    let events = session.shutdown().await;
    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::ShutdownComplete)
    ));
    // The session object is still held: the shutdown itself ended the servers.
    for (server_pid, child_pid) in pids {
        assert!(
            eventually(Duration::from_secs(10), || !process_alive(server_pid)
                && !process_alive(child_pid))
            .await,
            "the server ({server_pid}) and its child ({child_pid}) are gone"
        );
    }
    drop(session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_dropped_before_any_session_leave_no_process() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let pid_file = dir.path().join("pids");
    let clients = McpClients::connect(
        [server(
            "unused",
            &["--pid-file", pid_file.to_str().expect("a UTF-8 path")],
        )],
        dir.path(),
    )
    .await;
    let (server_pid, child_pid) = read_pids(&pid_file).await;
    drop(clients);
    assert!(
        eventually(Duration::from_secs(10), || !process_alive(server_pid)
            && !process_alive(child_pid))
        .await,
        "the server ({server_pid}) and its child ({child_pid}) are gone"
    );
}
