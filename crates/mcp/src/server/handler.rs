//! [`McpServer`]: the MCP service (rmcp's `ServerHandler`), the sessions it holds, and
//! serving it over a transport until the connection ends.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig,
    SetLevelRequestParams,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::IntoTransport;
use rmcp::{ErrorData, ServerHandler, ServiceExt};
use serde_json::json;
use tokio::sync::OwnedMutexGuard;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use turnkit_protocol::{EventMsg, Op, ReviewDecision};
use turnkit_session_core::Session;

use super::Error;
use super::approval::decision_name;
use super::factory::{FactoryError, ResumeRequest, SessionFactory, StartRequest};
use super::notify::{LogLevel, Reporter};
use super::options::ServerOptions;
use super::tools::{BadArguments, REPLY_TOOL, ReplyArguments, START_TOOL, StartArguments, tools};
use super::turn::{Status, TurnContext, TurnOutcome, run_turn};

/// One session the server holds; a call holds its lock for the whole turn.
type Slot = Arc<SessionSlot>;

struct SessionSlot {
    session: Arc<tokio::sync::Mutex<Session>>,
    /// The cancellation of the call running a turn, while one does: a reply that finds the
    /// session busy waits for a cancelled call's turn to end instead of failing.
    current_call: Mutex<Option<CancellationToken>>,
}

impl SessionSlot {
    fn new(session: Session) -> Slot {
        Arc::new(Self {
            session: Arc::new(tokio::sync::Mutex::new(session)),
            current_call: Mutex::new(None),
        })
    }

    fn current_call(&self) -> std::sync::MutexGuard<'_, Option<CancellationToken>> {
        self.current_call
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The MCP server: the `turnkit` and `turnkit_reply` tools over sessions from a
/// [`SessionFactory`].
///
/// Cheap to clone; clones share their sessions.
#[derive(Clone)]
pub struct McpServer {
    inner: Arc<Inner>,
}

struct Inner {
    factory: Box<dyn SessionFactory>,
    options: ServerOptions,
    // Sessions by id. Invariant: the std lock is only held to look up, insert or take a slot,
    // never across an await.
    sessions: Mutex<HashMap<String, Slot>>,
    log_level: LogLevel,
}

impl McpServer {
    /// A server that gets its sessions from `factory`.
    pub fn new(factory: impl SessionFactory, options: ServerOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                factory: Box::new(factory),
                options,
                sessions: Mutex::new(HashMap::new()),
                log_level: LogLevel::default(),
            }),
        }
    }

    /// Serves on stdin and stdout until stdin closes or `cancellation` is cancelled, then
    /// shuts every session down.
    ///
    /// Nothing else may write to stdout meanwhile: it is the protocol's channel.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped midway, the sessions are dropped, which kills their work
    /// without flushing; cancel `cancellation` instead.
    pub async fn serve_stdio(self, cancellation: CancellationToken) -> Result<(), Error> {
        self.serve_with_cancellation(rmcp::transport::stdio(), cancellation)
            .await
    }

    /// Serves on `transport` (any rmcp server transport: stdio, a duplex pipe, …) until the
    /// peer closes it, then shuts every session down.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`McpServer::serve_stdio`].
    pub async fn serve<T, E, A>(self, transport: T) -> Result<(), Error>
    where
        T: IntoTransport<RoleServer, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.serve_with_cancellation(transport, CancellationToken::new())
            .await
    }

    /// [`McpServer::serve`], also stopping when `cancellation` is cancelled: running calls
    /// are interrupted, then every session is shut down.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`McpServer::serve_stdio`].
    pub async fn serve_with_cancellation<T, E, A>(
        self,
        transport: T,
        cancellation: CancellationToken,
    ) -> Result<(), Error>
    where
        T: IntoTransport<RoleServer, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let server = self.clone();
        let running = match self.serve_with_ct(transport, cancellation).await {
            Ok(running) => running,
            Err(error) => {
                server.shutdown().await;
                return Err(Error::Handshake(Box::new(error)));
            }
        };
        let quit = running.waiting().await;
        tracing::debug!(?quit, "the MCP connection ended");
        // Calls still running were cancelled when the service stopped; each interrupts its
        // turn and releases its session, which is then shut down here.
        server.shutdown().await;
        quit.map(|_| ()).map_err(Error::Service)
    }

    /// How many sessions the server holds.
    pub fn session_count(&self) -> usize {
        self.sessions().len()
    }

    /// Shuts every session down (`Op::Shutdown`, then its `shutdown_complete`), each within
    /// the stop bound; a session a call still holds past the bound is left to that call,
    /// and ends when the call drops it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in effect: the sessions are already taken from the server, and dropping
    /// one ends it at once.
    pub async fn shutdown(&self) {
        let slots: Vec<Slot> = self.sessions().drain().map(|(_, slot)| slot).collect();
        let bound = self.inner.options.stop_bound;
        let mut shutdowns = JoinSet::new();
        for slot in slots {
            shutdowns.spawn(async move {
                let Ok(mut session) =
                    tokio::time::timeout(bound, slot.session.clone().lock_owned()).await
                else {
                    return;
                };
                if session.submit(Op::Shutdown).is_err() {
                    return;
                }
                let _ = tokio::time::timeout(bound, async {
                    while let Some(event) = session.next_event().await {
                        if matches!(event.msg, EventMsg::ShutdownComplete) {
                            break;
                        }
                    }
                })
                .await;
            });
        }
        while shutdowns.join_next().await.is_some() {}
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn start(
        &self,
        arguments: StartArguments,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let options = &self.inner.options;
        let mut request = StartRequest::new(
            arguments.cwd,
            arguments.approval_policy.unwrap_or(options.approval_policy),
            arguments
                .sandbox_policy
                .unwrap_or_else(|| options.sandbox_policy.clone()),
        );
        if let Some(model) = arguments.model {
            request = request.with_model(model);
        }
        let session = match self.inner.factory.start(request).await {
            Ok(session) => session,
            Err(error) => return tool_error(&factory_message(&error)),
        };
        let id = session.id().to_owned();
        let slot = SessionSlot::new(session);
        // Locked before anyone else can see it, so this call runs the first turn.
        let Ok(session) = slot.session.clone().try_lock_owned() else {
            return tool_error("the new session was taken by another call");
        };
        self.sessions().insert(id, slot.clone());
        self.run(&slot, session, arguments.prompt, context).await
    }

    async fn reply(
        &self,
        arguments: ReplyArguments,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let existing = self.sessions().get(&arguments.session_id).cloned();
        let slot = match existing {
            Some(slot) => slot,
            None => match self.resume(&arguments.session_id).await {
                Ok(slot) => slot,
                Err(result) => return result,
            },
        };
        let session = if let Ok(session) = slot.session.clone().try_lock_owned() {
            session
        } else {
            let Some(session) = self.wait_for_stopping_call(&slot).await else {
                return tool_error(&format!(
                    "session {} is running a turn for another call; wait for that call's result (or cancel it), then reply",
                    arguments.session_id
                ));
            };
            session
        };
        self.run(&slot, session, arguments.prompt, context).await
    }

    /// The session, once the call holding it ends, when that call was cancelled (its turn is
    /// being interrupted); `None` when the holding call is live or does not end in time.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits for a lock.
    async fn wait_for_stopping_call(&self, slot: &SessionSlot) -> Option<OwnedMutexGuard<Session>> {
        let stopping = slot
            .current_call()
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled);
        if !stopping {
            return None;
        }
        tokio::time::timeout(
            self.inner.options.stop_bound,
            slot.session.clone().lock_owned(),
        )
        .await
        .ok()
    }

    async fn resume(&self, session_id: &str) -> Result<Slot, CallToolResult> {
        let options = &self.inner.options;
        let request = ResumeRequest::new(
            session_id,
            options.approval_policy,
            options.sandbox_policy.clone(),
        );
        let session = match self.inner.factory.resume(request).await {
            Ok(session) => session,
            Err(FactoryError::UnknownSession(id)) => {
                return Err(tool_error(&format!(
                    "no session has the id `{id}`; use an id a `{START_TOOL}` result gave, or start a new session with `{START_TOOL}`"
                )));
            }
            Err(error) => return Err(tool_error(&factory_message(&error))),
        };
        let slot = SessionSlot::new(session);
        // Two replies racing to resume the same id: the first one's session is kept.
        let slot = self
            .sessions()
            .entry(session_id.to_owned())
            .or_insert(slot)
            .clone();
        Ok(slot)
    }

    async fn run(
        &self,
        slot: &SessionSlot,
        mut session: OwnedMutexGuard<Session>,
        prompt: String,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let session_id = session.id().to_owned();
        *slot.current_call() = Some(context.ct.clone());
        let mut reporter = Reporter::new(
            context.peer.clone(),
            context.meta.get_progress_token(),
            self.inner.log_level.clone(),
            session_id.clone(),
        );
        let outcome = run_turn(
            &mut session,
            prompt,
            TurnContext {
                peer: context.peer.clone(),
                reporter: &mut reporter,
                fallback: self.inner.options.approval_fallback,
                cancellation: context.ct.clone(),
                stop_bound: self.inner.options.stop_bound,
            },
        )
        .await;
        // Cleared while the session is still locked, so a caller that finds it locked always
        // sees the token of the call that holds it (or none yet).
        *slot.current_call() = None;
        drop(session);
        result(&session_id, &outcome)
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let mut config = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_logging()
                .enable_tools()
                .build(),
        )
        .with_instructions(format!(
            "turnkit runs a coding agent session in a directory. Call `{START_TOOL}` with a prompt and an absolute `cwd` to start one; \
             call `{REPLY_TOOL}` with the returned session_id to continue it. \
             Approvals the agent needs are asked through elicitation when the client supports it."
        ));
        config.server_info = Implementation::new("turnkit", env!("CARGO_PKG_VERSION"))
            .with_title("turnkit agent sessions");
        config.protocol_version = ProtocolVersion::V_2025_11_25;
        config
    }

    // Approvals are asked as server-to-client elicitation requests, which protocol
    // 2026-07-28 no longer allows; the server speaks the revisions up to 2025-11-25.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        tools().into_iter().find(|tool| tool.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let result = match request.name.as_ref() {
            START_TOOL => match StartArguments::parse(request.arguments.as_ref()) {
                Ok(arguments) => self.start(arguments, context).await,
                Err(BadArguments(message)) => tool_error(&message),
            },
            REPLY_TOOL => match ReplyArguments::parse(request.arguments.as_ref()) {
                Ok(arguments) => self.reply(arguments, context).await,
                Err(BadArguments(message)) => tool_error(&message),
            },
            other => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "no tool is named `{other}`; the tools are `{START_TOOL}` and `{REPLY_TOOL}`"
                    ),
                    None,
                ));
            }
        };
        Ok(result.into())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.inner.log_level.set(request.level);
        Ok(())
    }
}

/// A tool error the client's user reads: what went wrong and what to do.
fn tool_error(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

fn factory_message(error: &FactoryError) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(message, ": {cause}");
        source = cause.source();
    }
    message
}

/// The tool's result: text for a person, structured content for a program.
fn result(session_id: &str, outcome: &TurnOutcome) -> CallToolResult {
    let mut text = match (&outcome.status, &outcome.message) {
        (Status::Completed, Some(message)) => message.clone(),
        (Status::Completed, None) => "The turn completed without a final message.".to_owned(),
        (Status::Interrupted, _) if outcome.cancelled_by_client => {
            "The turn was interrupted: the call was cancelled; its commands were stopped."
                .to_owned()
        }
        (Status::Interrupted, _) => "The turn was stopped before it finished.".to_owned(),
        (Status::Failed, _) => "The turn failed.".to_owned(),
    };
    for error in &outcome.errors {
        let _ = write!(text, "\n\nerror: {error}");
    }
    let declined: Vec<_> = outcome
        .approvals
        .iter()
        .filter(|answer| {
            matches!(
                answer.decision,
                ReviewDecision::Denied | ReviewDecision::Abort
            )
        })
        .collect();
    if !declined.is_empty() {
        text.push_str("\n\nDeclined:");
        for answer in declined {
            let _ = write!(
                text,
                "\n- {} ({})",
                answer.request,
                answer
                    .why_fallback
                    .as_deref()
                    .unwrap_or("the client's user declined")
            );
        }
    }
    let _ = write!(
        text,
        "\n\nsession_id: {session_id} (continue it with `{REPLY_TOOL}`)"
    );
    let approvals: Vec<_> = outcome
        .approvals
        .iter()
        .map(|answer| {
            json!({
                "request": answer.request,
                "decision": decision_name(answer.decision),
                "answered_by": if answer.by_client { "client" } else { "fallback" },
            })
        })
        .collect();
    let structured = json!({
        "session_id": session_id,
        "status": outcome.status.as_str(),
        "message": outcome.message,
        "approvals": approvals,
        "errors": outcome.errors,
    });
    let mut result = if outcome.status == Status::Completed {
        CallToolResult::success(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::error(vec![ContentBlock::text(text)])
    };
    result.structured_content = Some(structured);
    result
}
