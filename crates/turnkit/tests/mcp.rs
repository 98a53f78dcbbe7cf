//! MCP servers' tools through the facade alone, as a new user meets them: connect with
//! `turnkit::mcp`, register on `turnkit::builder()`, and a scripted model calls a tool of a
//! real MCP server (rmcp's, served over streamable HTTP on 127.0.0.1 by the test).

#![cfg(all(feature = "mcp", feature = "testkit", feature = "regular"))]

#[path = "../../mcp/examples/mcp_test_server/fixture.rs"]
mod fixture;

use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use turnkit::mcp::client::{McpClients, McpServerConfig};
use turnkit::model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit::testkit::TestSession;
use turnkit::{ApprovalPolicy, EventMsg, Op, ResponseItem, UserInput};

/// The user's own MCP server, at `http://127.0.0.1:<port>/mcp`.
async fn serve() -> (String, tokio_util::sync::CancellationToken) {
    let stop = tokio_util::sync::CancellationToken::new();
    let service: StreamableHttpService<fixture::Fixture, LocalSessionManager> =
        StreamableHttpService::new(
            || Ok(fixture::Fixture),
            Arc::default(),
            StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}/mcp", listener.local_addr().expect("its address"));
    let router = axum::Router::new().nest_service("/mcp", service);
    let shutdown = stop.clone().cancelled_owned();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
    });
    (url, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_servers_tool_is_offered_asked_for_and_called_in_a_turn() {
    let (url, stop) = serve().await;
    let project = tempfile::tempdir().expect("a temp dir");
    let target = project.path().join("hello.txt");
    let servers = [
        McpServerConfig::streamable_http("notes", &url),
        McpServerConfig::stdio("absent", "turnkit-test-no-such-server", ["--stdio"]),
    ];
    let clients = McpClients::connect(servers, project.path()).await;
    assert_eq!(clients.failures().len(), 1);
    assert_eq!(clients.failures()[0].server(), "absent");

    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call(
            "call-1",
            "notes__write_file",
            turnkit::serde_json::json!({ "path": target.to_str().expect("a UTF-8 path"), "text": "hi" }),
        ),
        ScriptedTurn::new().message("Written."),
    ]);
    let builder = turnkit::builder()
        .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
        .approval_policy(ApprovalPolicy::OnRequest);
    let mut session = TestSession::from_builder(clients.register(builder))
        .event_timeout(Duration::from_secs(60))
        .build();

    // The failure reaches the user as the session's first event.
    let first = session.next_event().await;
    assert!(
        matches!(&first.msg, EventMsg::Warning { message } if message.starts_with("MCP server `absent` did not start")),
        "{first:?}"
    );
    // The model sees the tool with the server's schema.
    let id = session.submit(Op::UserInput {
        items: vec![UserInput::text("write hello.txt")],
    });
    let asked = session
        .events_until(|event| matches!(event.msg, EventMsg::ApprovalRequested { .. }))
        .await;
    let Some(EventMsg::ApprovalRequested { approval_id, .. }) =
        asked.last().map(|event| &event.msg)
    else {
        unreachable!("events_until stopped at an approval request")
    };
    session.submit(Op::DecideApproval {
        id: approval_id.clone(),
        decision: turnkit::ReviewDecision::Approved,
    });
    let events = session.events_until_terminal(&id).await;

    assert_eq!(std::fs::read_to_string(&target).expect("written"), "hi");
    let prompt = model
        .prompts()
        .into_iter()
        .next()
        .expect("the model was asked");
    let spec = prompt
        .tools
        .iter()
        .find(|tool| tool.name == "notes__write_file")
        .expect("the tool is offered");
    assert_eq!(
        spec.parameters["required"],
        turnkit::serde_json::json!(["path", "text"])
    );
    assert!(events.iter().any(|event| matches!(
        &event.msg,
        EventMsg::McpToolCallEnd { server, tool, success: true, .. } if server == "notes" && tool == "write_file"
    )));
    assert!(session.history().iter().any(|item| matches!(
        item,
        ResponseItem::FunctionCallOutput { call_id, success: Some(true), .. } if call_id == "call-1"
    )));
    drop(session);
    stop.cancel();
}
