//! An MCP server over streamable HTTP: rmcp's server on 127.0.0.1 serving the test server's
//! tools, called from a real turn; and a URL where nothing answers.

#[path = "../examples/mcp_test_server/fixture.rs"]
mod fixture;
mod support;

use std::sync::{Arc, Mutex};

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use support::{call, call_ends, output_of, say, session};
use tokio_util::sync::CancellationToken;
use turnkit::model::ScriptedModel;
use turnkit::{ApprovalPolicy, EventMsg, Op, UserInput};
use turnkit_mcp::client::{McpClients, McpServerConfig};

/// The values of the `x-turnkit-test` header, one per HTTP request the server got.
type SeenHeaders = Arc<Mutex<Vec<Option<String>>>>;

/// Serves the test server's tools at `http://127.0.0.1:<port>/mcp` until the token is
/// cancelled, noting each request's `x-turnkit-test` header.
async fn serve() -> (String, CancellationToken, SeenHeaders) {
    let stop = CancellationToken::new();
    let config = StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token());
    let service: StreamableHttpService<fixture::Fixture, LocalSessionManager> =
        StreamableHttpService::new(|| Ok(fixture::Fixture), Arc::default(), config);
    let seen = SeenHeaders::default();
    let router =
        axum::Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn({
                let seen = Arc::clone(&seen);
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let value = request
                        .headers()
                        .get("x-turnkit-test")
                        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
                    seen.lock().expect("the header log").push(value);
                    next.run(request)
                }
            }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn({
        let stop = stop.clone();
        async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        }
    });
    (format!("http://{address}/mcp"), stop, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamable_http_servers_tools_are_called_from_a_turn() {
    let (url, stop, seen) = serve().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "served over HTTP").expect("write notes");
    let clients =
        McpClients::connect(
            [McpServerConfig::streamable_http("web", &url)
                .header("x-turnkit-test", "sent by turnkit")],
            dir.path(),
        )
        .await;
    assert!(clients.failures().is_empty(), "{:?}", clients.failures());
    let model = ScriptedModel::new([
        call(
            "call-read",
            "web__read_file",
            json!({ "path": notes.to_str().expect("a UTF-8 path") }),
        ),
        say("Read it."),
    ]);
    let mut session = session(clients, &model, ApprovalPolicy::OnRequest);
    let events = session
        .run(Op::UserInput {
            items: vec![UserInput::text("read the notes")],
        })
        .await;
    assert_eq!(
        output_of(&session, "call-read"),
        ("served over HTTP".into(), Some(true))
    );
    let ends = call_ends(&events);
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0]["server"], "web");
    assert_eq!(ends[0]["success"], true);
    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::TaskComplete { .. })
    ));
    drop(session);
    stop.cancel();
    // Every request (handshake, listing, the call) carried the configured header.
    let seen = seen.lock().expect("the header log");
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|value| value.as_deref() == Some("sent by turnkit")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_where_nothing_answers_is_a_clear_startup_failure() {
    // A port that was free a moment ago: nothing listens on it now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/mcp", listener.local_addr().expect("its address"));
    drop(listener);
    let dir = tempfile::tempdir().expect("a temp dir");
    let clients =
        McpClients::connect([McpServerConfig::streamable_http("gone", &url)], dir.path()).await;
    let failure = clients.failures()[0].to_string();
    assert!(
        failure.starts_with(&format!(
            "MCP server `gone` did not start: no MCP server answered at `{url}`"
        )) && failure.contains("check the URL and that the server is running"),
        "{failure}"
    );
}
