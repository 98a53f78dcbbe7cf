//! MCP servers that fail: at startup (a missing command, a server that exits at once), in the
//! middle of a call (a crash), or by never answering (a timeout). Each gives a clear message,
//! and the turn and the other servers go on.

mod support;

use std::time::Duration;

use insta::assert_json_snapshot;
use serde_json::json;
use support::{call, call_ends, output_of, say, server, session, warnings};
use turnkit::model::ScriptedModel;
use turnkit::{ApprovalPolicy, EventMsg, Op, UserInput};
use turnkit_mcp::client::{McpClients, McpServerConfig};

fn user(text: &str) -> Op {
    Op::UserInput {
        items: vec![UserInput::text(text)],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_do_not_start_are_named_with_what_to_do_and_the_others_work() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("notes.txt"), "still here").expect("write notes");
    let clients = McpClients::connect(
        [
            McpServerConfig::stdio("missing", "turnkit-no-such-mcp-server", ["--stdio"]),
            server("quitter", &["--exit-at-once"]),
            server("files", &[]),
            server("files", &[]),
            McpServerConfig::stdio("bad name", "true", Vec::<String>::new()),
        ],
        dir.path(),
    )
    .await;
    let failures: Vec<String> = clients.failures().iter().map(ToString::to_string).collect();
    assert_eq!(failures.len(), 4, "{failures:#?}");
    assert_eq!(
        failures[0],
        "MCP server `missing` did not start: the command `turnkit-no-such-mcp-server` was not found; install it, or put its full path in `command`. Its tools are not available in this session."
    );
    assert!(
        failures[1].starts_with("MCP server `quitter` did not start: it exited or stopped answering before the MCP handshake was complete")
            && failures[1].contains("mcp_test_server: told to exit at once"),
        "{}",
        failures[1]
    );
    assert!(
        failures[2].contains("`files`") && failures[2].contains("same name"),
        "{}",
        failures[2]
    );
    assert!(
        failures[3].contains("`bad name`") && failures[3].contains("rename it"),
        "{}",
        failures[3]
    );
    assert_eq!(clients.servers().collect::<Vec<_>>(), ["files"]);

    let model = ScriptedModel::new([
        call(
            "call-read",
            "files__read_file",
            json!({ "path": "notes.txt" }),
        ),
        say("Read."),
    ]);
    let mut session = session(clients, &model, ApprovalPolicy::OnRequest);
    let events = session.run(user("read my notes")).await;
    // The session says so as soon as it starts, before any turn.
    let said = warnings(session.seen());
    assert_eq!(said, failures);
    assert_eq!(
        output_of(&session, "call-read"),
        ("still here".into(), Some(true))
    );
    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::TaskComplete { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_answer_the_handshake_in_time_is_a_startup_failure() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // `sleep` never answers the handshake.
    let quiet = McpServerConfig::stdio("quiet", "sleep", ["30"])
        .startup_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let clients = McpClients::connect([quiet], dir.path()).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        clients.failures()[0].to_string(),
        "MCP server `quiet` did not start: it did not start and list its tools within 300 ms; check that it runs on its own, or raise its startup timeout (`startup_timeout_secs`). Its tools are not available in this session."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_call_warns_fails_the_call_and_the_turn_and_other_servers_go_on() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("notes.txt"), "from the other server").expect("write notes");
    let clients =
        McpClients::connect([server("fragile", &[]), server("steady", &[])], dir.path()).await;
    assert!(clients.failures().is_empty(), "{:?}", clients.failures());
    let model = ScriptedModel::new([
        call("call-crash", "fragile__crash", json!({})),
        say("It crashed."),
        call("call-again", "fragile__noop", json!({})),
        call(
            "call-read",
            "steady__read_file",
            json!({ "path": "notes.txt" }),
        ),
        say("The other server works."),
    ]);
    let mut session = session(clients, &model, ApprovalPolicy::Never);

    let first = session.run(user("crash it")).await;
    assert_eq!(
        first.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("It crashed.".into())
        })
    );
    let said = warnings(&first);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("the MCP server `fragile` stopped during the call to `crash`")
            && said[0].ends_with(
                "its tools are unavailable for the rest of this session, the other tools still work"
            ),
        "{}",
        said[0]
    );
    let (text, success) = output_of(&session, "call-crash");
    assert_eq!(success, Some(false));
    assert!(text.contains("do not call its tools again"), "{text}");

    let second = session.run(user("try again, then use the other one")).await;
    assert_eq!(
        second.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("The other server works.".into())
        })
    );
    let (text, success) = output_of(&session, "call-again");
    assert_eq!(success, Some(false));
    assert!(
        text.contains("is not running (it stopped earlier in this session)"),
        "{text}"
    );
    assert_eq!(
        output_of(&session, "call-read"),
        ("from the other server".into(), Some(true))
    );
    // Every begin has its one end.
    assert_eq!(call_ends(session.seen()).len(), 3);
    assert_json_snapshot!(session.normalize(session.seen()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_is_never_answered_times_out_with_a_warning() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clients = McpClients::connect(
        [server("slow", &[]).call_timeout(Duration::from_millis(500))],
        dir.path(),
    )
    .await;
    let model = ScriptedModel::new([
        call("call-never", "slow__never", json!({})),
        call("call-noop", "slow__noop", json!({})),
        say("Moved on."),
    ]);
    let mut session = session(clients, &model, ApprovalPolicy::Never);
    let events = session.run(user("wait for it")).await;
    assert_eq!(
        warnings(&events),
        [
            "the MCP server `slow` did not answer the call to `never` within 500 ms, so the call was cancelled; raise its tool timeout (`tool_timeout_secs`) if the tool is slow, or check the server"
        ]
    );
    let (text, success) = output_of(&session, "call-never");
    assert_eq!(success, Some(false));
    assert!(
        text.contains("did not answer the call to `never` within 500 ms"),
        "{text}"
    );
    // The server is still there for the next call.
    assert_eq!(output_of(&session, "call-noop"), ("ok".into(), Some(true)));
    let ends = call_ends(&events);
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[0]["success"], false);
    assert_eq!(
        ends[0]["result"]["error"],
        "the MCP server `slow` did not answer the call to `never` within 500 ms, so the call was cancelled"
    );
    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::TaskComplete { .. })
    ));
}
