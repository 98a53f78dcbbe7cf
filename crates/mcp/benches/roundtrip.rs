//! An MCP tool call round trip through a whole agent turn (a scripted model calls a no-op
//! tool of a stdio server, then answers) against calling the same server program directly with
//! rmcp's client, in the same run.
//!
//! The server is this benchmark binary itself, started again with `TURNKIT_MCP_BENCH_SERVER=1`
//! (the test server's handler, served on stdio), so `cargo bench` needs nothing built beside
//! it. divan measures both (`cargo bench -p turnkit-mcp --bench roundtrip`); then a paired run
//! prints a `ratio` line, which `cargo xtask bench` collects (aim: at most 1.5).

#[path = "../examples/mcp_test_server/fixture.rs"]
mod fixture;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt as _};
use turnkit::model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit::{ApprovalPolicy, EventMsg, Op, Session, UserInput};
use turnkit_mcp::client::{McpClients, McpServerConfig};

/// Set in the environment of the copy of this binary that serves MCP.
const SERVER_VAR: &str = "TURNKIT_MCP_BENCH_SERVER";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn server_config() -> McpServerConfig {
    let exe = std::env::current_exe().expect("the benchmark's path");
    McpServerConfig::stdio(
        "bench",
        exe.to_string_lossy().into_owned(),
        Vec::<String>::new(),
    )
    .env(SERVER_VAR, "1")
}

/// A session whose turns call `bench__noop` once and answer.
struct ThroughTurn {
    runtime: tokio::runtime::Runtime,
    session: Session,
    model: ScriptedModel,
    _dir: tempfile::TempDir,
}

impl ThroughTurn {
    fn new() -> Self {
        let runtime = runtime();
        let dir = tempfile::tempdir().expect("a temp dir");
        let model = ScriptedModel::new([]);
        let session = runtime.block_on(async {
            let clients = McpClients::connect([server_config()], dir.path()).await;
            assert!(clients.failures().is_empty(), "{:?}", clients.failures());
            let builder = Session::builder()
                .task(turnkit::tasks_regular::registration())
                .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
                .approval_policy(ApprovalPolicy::Never)
                .cwd(dir.path());
            clients.register(builder).build().expect("a session")
        });
        Self {
            runtime,
            session,
            model,
            _dir: dir,
        }
    }

    /// One turn; with `tool`, the model calls the no-op tool before it answers.
    fn turn(&mut self, tool: bool) {
        if tool {
            self.model.push_turn(ScriptedTurn::new().function_call(
                "call",
                "bench__noop",
                serde_json::json!({}),
            ));
        }
        self.model.push_turn(ScriptedTurn::new().message("ok"));
        let session = &mut self.session;
        self.runtime.block_on(async {
            let id = session
                .submit(Op::UserInput {
                    items: vec![UserInput::text("call it")],
                })
                .expect("the session takes input");
            loop {
                let event = session.next_event().await.expect("the session runs");
                if let EventMsg::McpToolCallEnd { success, .. } = &event.msg {
                    assert!(success, "the no-op tool answers");
                }
                if event.id == id && event.msg.is_terminal() {
                    assert!(matches!(event.msg, EventMsg::TaskComplete { .. }));
                    break;
                }
            }
        });
    }
}

/// rmcp's client on its own, connected to another copy of the same server.
struct Direct {
    runtime: tokio::runtime::Runtime,
    client: RunningService<RoleClient, ClientConfig>,
}

impl Direct {
    fn new() -> Self {
        let runtime = runtime();
        let client = runtime.block_on(async {
            let mut command = tokio::process::Command::new(std::env::current_exe().expect("path"));
            command.env(SERVER_VAR, "1");
            let transport = TokioChildProcess::new(command).expect("the server starts");
            ClientConfig::new(
                ClientCapabilities::default(),
                Implementation::new("bench", "0"),
            )
            .serve(transport)
            .await
            .expect("the handshake")
        });
        Self { runtime, client }
    }

    fn call(&self) {
        let result = self
            .runtime
            .block_on(self.client.call_tool(CallToolRequestParams::new("noop")))
            .expect("the no-op tool answers");
        assert_eq!(result.is_error, Some(false));
    }
}

#[divan::bench(sample_count = 200)]
fn through_a_turn(bencher: divan::Bencher<'_, '_>) {
    let mut through = ThroughTurn::new();
    bencher.bench_local(|| through.turn(true));
}

/// The same turn without the tool call: what the turn itself costs.
#[divan::bench(sample_count = 200)]
fn a_turn_without_the_call(bencher: divan::Bencher<'_, '_>) {
    let mut through = ThroughTurn::new();
    bencher.bench_local(|| through.turn(false));
}

#[divan::bench(sample_count = 200)]
fn direct_rmcp_client(bencher: divan::Bencher<'_, '_>) {
    let direct = Direct::new();
    bencher.bench_local(|| direct.call());
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ratios() {
    let mut through = ThroughTurn::new();
    let direct = Direct::new();
    let (mut turns, mut calls, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..520 {
        let start = Instant::now();
        through.turn(false);
        let bare_turn = start.elapsed();
        let start = Instant::now();
        through.turn(true);
        let turn = start.elapsed();
        let start = Instant::now();
        direct.call();
        let call = start.elapsed();
        // The first rounds warm caches and the servers' allocations.
        if round >= 20 {
            turns.push(turn);
            calls.push(call);
            bare.push(bare_turn);
        }
    }
    let (turn, call, bare) = (median(turns), median(calls), median(bare));
    println!(
        "MCP no-op tool: through a turn {:.1} µs; rmcp's client directly {:.1} µs; the same turn without the call {:.1} µs",
        turn.as_secs_f64() * 1e6,
        call.as_secs_f64() * 1e6,
        bare.as_secs_f64() * 1e6
    );
    println!(
        "ratio mcp_call_through_turn_vs_direct: {:.2} (turn {turn:?} / direct {call:?}; target <= 1.5)",
        turn.as_secs_f64() / call.as_secs_f64()
    );
}

fn main() {
    if std::env::var_os(SERVER_VAR).is_some() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let server = fixture::Fixture
                .serve(rmcp::transport::stdio())
                .await
                .expect("the handshake");
            let _ = server.waiting().await;
        });
        return;
    }
    divan::main();
    ratios();
}
