//! [`McpClients`]: connecting to a set of MCP servers at once, and the connection to one
//! server that its tools share.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt as _};
use tokio_util::sync::{CancellationToken, DropGuard};
use turnkit_session_core::{SessionBuilder, Tool};

use super::failure::McpStartupFailure;
use super::names::ToolNames;
use super::process::{ProcessGroup, StderrTail};
use super::tool::McpTool;
use super::{McpServerConfig, McpTransport};

/// How long a failed server's stderr is awaited for its last lines.
const STDERR_GRACE: Duration = Duration::from_millis(500);

/// The MCP servers of a session: the ones that started, with their tools, and the failures of
/// those that did not.
///
/// Build it with [`connect`](Self::connect), then give the tools to a session with
/// [`register`](Self::register), which also makes the session send each failure as a
/// `warning` and end the servers when it ends: a stdio server's whole process group is killed
/// when the session shuts down or is dropped. Dropping an `McpClients` that was never
/// registered ends its servers too.
#[derive(Debug)]
pub struct McpClients {
    servers: Vec<Arc<ServerConnection>>,
    failures: Vec<McpStartupFailure>,
}

impl McpClients {
    /// Starts every server at once and lists its tools (every page), each within its startup
    /// timeout; never fails as a whole.
    ///
    /// A server that cannot be used (its command is missing, it exits or does not answer, its
    /// URL does not answer, its name is not valid or is used twice) becomes a
    /// [`McpStartupFailure`] in [`failures`](Self::failures), in configuration order, and the
    /// rest work. A stdio server whose configuration names no `cwd` runs in `cwd`, which should
    /// be the session's directory.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future kills every server process it started.
    pub async fn connect(
        configs: impl IntoIterator<Item = McpServerConfig>,
        cwd: impl Into<PathBuf>,
    ) -> Self {
        let cwd = cwd.into();
        let mut names = HashSet::new();
        let mut attempts = Vec::new();
        let mut order = Vec::new();
        for config in configs {
            order.push(config.name.clone());
            if names.insert(config.name.clone()) {
                attempts.push(config);
            }
        }
        let results = futures_util::future::join_all(attempts.into_iter().map(|config| async {
            let name = config.name.clone();
            (name, connect_one(config, &cwd).await)
        }))
        .await;
        let mut outcomes: HashMap<String, Result<ServerConnection, McpStartupFailure>> =
            results.into_iter().collect();
        let mut servers = Vec::new();
        let mut failures = Vec::new();
        for name in order {
            match outcomes.remove(&name) {
                Some(Ok(server)) => servers.push(Arc::new(server)),
                Some(Err(failure)) => failures.push(failure),
                None => failures.push(McpStartupFailure::new(
                    &name,
                    "another server of the configuration has the same name; give each server its own name",
                )),
            }
        }
        Self { servers, failures }
    }

    /// The servers that could not be used, in configuration order.
    pub fn failures(&self) -> &[McpStartupFailure] {
        &self.failures
    }

    /// The names of the servers that started, in configuration order.
    pub fn servers(&self) -> impl Iterator<Item = &str> {
        self.servers.iter().map(|server| server.name.as_str())
    }

    /// Every tool of every server that started, named `server__tool` (unique among them), for
    /// a caller that registers tools itself.
    ///
    /// The tools share the servers' connections; the servers end when the last tool (and this
    /// value) is dropped. Prefer [`register`](Self::register), which also ends them with the
    /// session and reports the failures.
    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        let mut names = ToolNames::default();
        self.build_tools(|server, tool| names.assign(server, tool))
    }

    /// Offers every tool to the session `builder` configures, makes the session send a
    /// `warning` for each failure as soon as it is built, and ties the servers' lives to the
    /// session (a stdio server's process group is killed when it shuts down or is dropped).
    ///
    /// A tool's name is `server__tool`, made unique also against the tools `builder` already
    /// has (a later `_2`). Call it after any `tool_registry(..)` on the builder, which replaces
    /// every tool registered before it.
    pub fn register(self, builder: SessionBuilder) -> SessionBuilder {
        let ended = CancellationToken::new();
        let mut builder = builder.cancel_on_end(ended.clone());
        for failure in &self.failures {
            builder = builder.warning(failure.to_string());
        }
        let mut names = ToolNames::default();
        let tools = self.build_tools(|server, tool| {
            loop {
                let name = names.assign(server, tool);
                if !builder.has_tool(&name) {
                    break name;
                }
            }
        });
        for tool in tools {
            builder = builder.shared_tool(tool);
        }
        let servers: Vec<Weak<ServerConnection>> =
            self.servers.iter().map(Arc::downgrade).collect();
        let gone = CancellationToken::new();
        let last_dropped = Arc::new(gone.clone().drop_guard());
        for server in &self.servers {
            server.watch(Arc::clone(&last_dropped));
        }
        drop(last_dropped);
        // Ends the servers when the session ends; returns early when every server is dropped
        // first (the session was never built), so the task never outlives them.
        tokio::spawn(async move {
            tokio::select! {
                () = ended.cancelled() => {
                    for server in servers.iter().filter_map(Weak::upgrade) {
                        server.stop();
                    }
                }
                () = gone.cancelled() => {}
            }
        });
        builder
    }

    fn build_tools(&self, mut name: impl FnMut(&str, &str) -> String) -> Vec<Arc<dyn Tool>> {
        let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
        for server in &self.servers {
            for tool in &server.tools {
                let exposed = name(&server.name, &tool.name);
                tools.push(Arc::new(McpTool::new(Arc::clone(server), tool, exposed)));
            }
        }
        tools
    }
}

/// One server that started: its rmcp client, its tools as it listed them, and (for a stdio
/// server) its process group. Its tools share it; dropping it kills the process group.
#[derive(Debug)]
pub(crate) struct ServerConnection {
    pub(crate) name: String,
    pub(crate) call_timeout: Duration,
    pub(crate) service: RunningService<RoleClient, ClientConfig>,
    pub(crate) tools: Vec<rmcp::model::Tool>,
    process: Option<ProcessGroup>,
    stopped: AtomicBool,
    /// Shared by the servers of one registration; the last one dropped cancels its token.
    watched: std::sync::Mutex<Option<Arc<DropGuard>>>,
}

impl ServerConnection {
    /// Ends the server: its process group is killed and the client stops.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        if let Some(process) = &self.process {
            process.kill();
        }
        self.service.cancellation_token().cancel();
    }

    /// Marks the server as gone (it crashed or closed the connection) and makes sure its
    /// process group is gone too.
    pub(crate) fn mark_lost(&self) {
        self.stop();
    }

    /// Whether the server was ended or found gone; its tools then fail at once.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire) || self.service.is_transport_closed()
    }

    /// Holds `guard` until this connection is dropped.
    fn watch(&self, guard: Arc<DropGuard>) {
        let mut watched = self
            .watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *watched = Some(guard);
    }
}

impl Drop for ServerConnection {
    fn drop(&mut self) {
        self.stop();
    }
}

fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("turnkit", env!("CARGO_PKG_VERSION")),
    )
}

/// Starts one server and lists its tools within its startup timeout.
async fn connect_one(
    config: McpServerConfig,
    cwd: &Path,
) -> Result<ServerConnection, McpStartupFailure> {
    let McpServerConfig {
        name,
        transport,
        startup_timeout,
        call_timeout,
    } = config;
    if name.is_empty()
        || !name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "_-".contains(character))
    {
        return Err(McpStartupFailure::new(
            &name,
            "its name must be made of ASCII letters, digits, `-` and `_`; rename it",
        ));
    }
    let started = match transport {
        McpTransport::Stdio {
            command,
            args,
            env,
            cwd: own_cwd,
        } => {
            let dir = own_cwd.map_or_else(|| cwd.to_path_buf(), |dir| cwd.join(dir));
            start_stdio(&name, &command, &args, &env, &dir, startup_timeout).await?
        }
        McpTransport::StreamableHttp { url, headers } => {
            start_http(&name, &url, &headers, startup_timeout).await?
        }
    };
    Ok(ServerConnection {
        name,
        call_timeout,
        service: started.service,
        tools: started.tools,
        process: started.process,
        stopped: AtomicBool::new(false),
        watched: std::sync::Mutex::new(None),
    })
}

struct Started {
    service: RunningService<RoleClient, ClientConfig>,
    tools: Vec<rmcp::model::Tool>,
    process: Option<ProcessGroup>,
}

/// Why the handshake or the listing failed.
enum Problem {
    Handshake(String),
    List(String),
    TimedOut,
}

/// The MCP handshake and the tool listing, on a transport that is up.
async fn handshake<T, E, A>(
    transport: T,
    timeout: Duration,
) -> Result<
    (
        RunningService<RoleClient, ClientConfig>,
        Vec<rmcp::model::Tool>,
    ),
    Problem,
>
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let work = async {
        let service = client_config()
            .serve(transport)
            .await
            .map_err(|error| Problem::Handshake(error.to_string()))?;
        let tools = service
            .list_all_tools()
            .await
            .map_err(|error| Problem::List(error.to_string()))?;
        Ok((service, tools))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Problem::TimedOut),
    }
}

async fn start_stdio(
    name: &str,
    command: &str,
    args: &[String],
    env: &std::collections::BTreeMap<String, String>,
    dir: &Path,
    timeout: Duration,
) -> Result<Started, McpStartupFailure> {
    if !dir.is_dir() {
        return Err(McpStartupFailure::new(
            name,
            format!(
                "its working directory `{}` does not exist; fix `cwd` in its configuration",
                dir.display()
            ),
        ));
    }
    let mut process = tokio::process::Command::new(command);
    process
        .args(args)
        .envs(env)
        .current_dir(dir)
        // Its own process group, so ending it ends whatever it started too.
        .process_group(0)
        .kill_on_drop(true);
    let (transport, stderr) = match TokioChildProcess::builder(process)
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(spawned) => spawned,
        Err(error) => return Err(spawn_failure(name, command, &error)),
    };
    let group = transport.id().map(ProcessGroup::new);
    let (tail, reader) = match stderr {
        Some(stderr) => {
            let (tail, reader) = StderrTail::follow(name, stderr);
            (tail, Some(reader))
        }
        None => (StderrTail::default(), None),
    };
    match handshake(transport, timeout).await {
        Ok((service, tools)) => Ok(Started {
            service,
            tools,
            process: group,
        }),
        Err(problem) => {
            if let Some(group) = &group {
                group.kill();
            }
            if let Some(reader) = reader {
                let _ = tokio::time::timeout(STDERR_GRACE, reader).await;
            }
            let shown = shell_line(command, args);
            let mut text = match problem {
                Problem::TimedOut => McpStartupFailure::timed_out(name, timeout)
                    .problem()
                    .to_owned(),
                Problem::Handshake(error) => format!(
                    "it exited or stopped answering before the MCP handshake was complete ({error}); check that `{shown}` starts an MCP server on stdin and stdout"
                ),
                Problem::List(error) => format!(
                    "it did not list its tools ({error}); check the server, or remove it from the configuration"
                ),
            };
            if let Some(stderr) = tail.text() {
                text.push_str("; it wrote on stderr:\n");
                text.push_str(&stderr);
            }
            Err(McpStartupFailure::new(name, text))
        }
    }
}

fn spawn_failure(name: &str, command: &str, error: &std::io::Error) -> McpStartupFailure {
    let problem = match error.kind() {
        std::io::ErrorKind::NotFound => format!(
            "the command `{command}` was not found; install it, or put its full path in `command`"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "the command `{command}` cannot be run (permission denied); make it executable, or fix `command`"
        ),
        _ => format!("the command `{command}` could not be started ({error}); fix `command`"),
    };
    McpStartupFailure::new(name, problem)
}

async fn start_http(
    name: &str,
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
    timeout: Duration,
) -> Result<Started, McpStartupFailure> {
    let mut custom = HashMap::new();
    for (key, value) in headers {
        let Ok(header) = http::HeaderName::from_bytes(key.as_bytes()) else {
            return Err(McpStartupFailure::new(
                name,
                format!("`{key}` is not a valid HTTP header name; fix `headers`"),
            ));
        };
        let Ok(value) = http::HeaderValue::from_str(value) else {
            return Err(McpStartupFailure::new(
                name,
                format!(
                    "the value of the header `{key}` is not a valid HTTP header value; fix `headers`"
                ),
            ));
        };
        custom.insert(header, value);
    }
    let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(custom);
    let transport = StreamableHttpClientTransport::from_config(config);
    match handshake(transport, timeout).await {
        Ok((service, tools)) => Ok(Started {
            service,
            tools,
            process: None,
        }),
        Err(Problem::TimedOut) => Err(McpStartupFailure::timed_out(name, timeout)),
        Err(Problem::Handshake(error)) => Err(McpStartupFailure::new(
            name,
            format!(
                "no MCP server answered at `{url}` ({error}); check the URL and that the server is running"
            ),
        )),
        Err(Problem::List(error)) => Err(McpStartupFailure::new(
            name,
            format!(
                "it did not list its tools ({error}); check the server, or remove it from the configuration"
            ),
        )),
    }
}

/// A command and its arguments as a person would type them (for messages only).
fn shell_line(command: &str, args: &[String]) -> String {
    shell_words::join(std::iter::once(command).chain(args.iter().map(String::as_str)))
}
