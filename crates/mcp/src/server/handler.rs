//! [`McpServer`]: the MCP service (rmcp's `ServerHandler`), the sessions it holds, and
//! serving it over a transport until the connection ends.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
use turnkit_protocol::{ApprovalPolicy, EventMsg, Op, ReviewDecision, SandboxPolicy};
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
    /// What the session was started with, to resume it with after it is shut down idle.
    setup: Setup,
    /// When a turn last ended or began here, on the server's clock of ticks.
    last_used: AtomicU64,
    /// Set, under the sessions lock and with the session locked, when the server shuts the
    /// session down for being idle: a reply that still holds this slot resumes it instead.
    evicted: AtomicBool,
}

impl SessionSlot {
    fn new(session: Session, setup: Setup) -> Slot {
        Arc::new(Self {
            session: Arc::new(tokio::sync::Mutex::new(session)),
            current_call: Mutex::new(None),
            setup,
            last_used: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
        })
    }

    fn current_call(&self) -> std::sync::MutexGuard<'_, Option<CancellationToken>> {
        self.current_call
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }
}

/// The policies and model a session runs with, kept to resume it the same way.
#[derive(Clone)]
struct Setup {
    approval_policy: ApprovalPolicy,
    sandbox_policy: SandboxPolicy,
    model: Option<String>,
}

/// A session shut down for being idle: how to resume it, and when its shutdown is over (its
/// rollout is free to reopen then).
struct Evicted {
    setup: Setup,
    shut_down: CancellationToken,
}

/// The sessions of a server. Invariant: its lock is only held to look up, insert or take
/// an entry, never across an await.
#[derive(Default)]
struct Sessions {
    live: HashMap<String, Slot>,
    evicted: HashMap<String, Evicted>,
    /// One gate per id being resumed, so two replies never reopen the same rollout.
    resuming: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
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
    sessions: Mutex<Sessions>,
    /// The clock `SessionSlot::last_used` reads.
    ticks: AtomicU64,
    log_level: LogLevel,
}

impl McpServer {
    /// A server that gets its sessions from `factory`.
    pub fn new(factory: impl SessionFactory, options: ServerOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                factory: Box::new(factory),
                options,
                sessions: Mutex::new(Sessions::default()),
                ticks: AtomicU64::new(0),
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

    /// How many sessions the server holds (not counting those shut down for being idle).
    pub fn session_count(&self) -> usize {
        self.sessions().live.len()
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
        let (slots, evicted): (Vec<Slot>, Vec<CancellationToken>) = {
            let mut sessions = self.sessions();
            (
                sessions.live.drain().map(|(_, slot)| slot).collect(),
                sessions
                    .evicted
                    .values()
                    .map(|evicted| evicted.shut_down.clone())
                    .collect(),
            )
        };
        let bound = self.inner.options.stop_bound;
        let mut shutdowns = JoinSet::new();
        for slot in slots {
            shutdowns.spawn(async move {
                if let Ok(session) =
                    tokio::time::timeout(bound, slot.session.clone().lock_owned()).await
                {
                    shut_down(session, bound).await;
                }
            });
        }
        // Sessions already shutting down for being idle finish first too.
        for shut_down in evicted {
            shutdowns.spawn(async move {
                let _ = tokio::time::timeout(bound, shut_down.cancelled()).await;
            });
        }
        while shutdowns.join_next().await.is_some() {}
    }

    /// Marks `slot` as used now.
    fn touch(&self, slot: &SessionSlot) {
        let tick = self.inner.ticks.fetch_add(1, Ordering::Relaxed) + 1;
        slot.last_used.store(tick, Ordering::Relaxed);
    }

    /// Shuts the least recently used idle sessions down past
    /// [`ServerOptions::idle_sessions`], when the factory can resume them; each is resumed
    /// with its own setup when a reply names it.
    fn evict_idle(&self) {
        if !self.inner.factory.stores_sessions() {
            return;
        }
        let limit = self.inner.options.idle_sessions;
        let mut evicting = Vec::new();
        {
            let mut sessions = self.sessions();
            if sessions.live.len() <= limit {
                return;
            }
            // A session is idle when no call holds it; holding its lock keeps it so.
            let mut idle: Vec<(u64, String, OwnedMutexGuard<Session>)> = sessions
                .live
                .iter()
                .filter_map(|(id, slot)| {
                    let guard = slot.session.clone().try_lock_owned().ok()?;
                    Some((slot.last_used.load(Ordering::Relaxed), id.clone(), guard))
                })
                .collect();
            if idle.len() <= limit {
                return;
            }
            idle.sort_by_key(|(tick, ..)| *tick);
            let excess = idle.len() - limit;
            for (_, id, guard) in idle.into_iter().take(excess) {
                let Some(slot) = sessions.live.remove(&id) else {
                    continue;
                };
                slot.evicted.store(true, Ordering::Release);
                let shut_down = CancellationToken::new();
                sessions.evicted.insert(
                    id.clone(),
                    Evicted {
                        setup: slot.setup.clone(),
                        shut_down: shut_down.clone(),
                    },
                );
                evicting.push((id, guard, shut_down));
            }
        }
        let bound = self.inner.options.stop_bound;
        for (id, session, done) in evicting {
            tracing::debug!(session_id = %id, "shutting an idle session down");
            tokio::spawn(async move {
                shut_down(session, bound).await;
                done.cancel();
            });
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
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
        let setup = Setup {
            approval_policy: request.approval_policy,
            sandbox_policy: request.sandbox_policy.clone(),
            model: request.model.clone(),
        };
        let session = match self.inner.factory.start(request).await {
            Ok(session) => session,
            Err(error) => return tool_error(&turnkit_session_core::error_chain(&error)),
        };
        let id = session.id().to_owned();
        let slot = SessionSlot::new(session, setup);
        // Locked before anyone else can see it, so this call runs the first turn.
        let Ok(session) = slot.session.clone().try_lock_owned() else {
            return tool_error("the new session was taken by another call");
        };
        self.sessions().live.insert(id, slot.clone());
        self.run(&slot, session, arguments.prompt, context).await
    }

    async fn reply(
        &self,
        arguments: ReplyArguments,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let id = &arguments.session_id;
        // At most twice: a slot shut down for being idle between the lookup and the lock is
        // looked up again, and then resumed.
        for _ in 0..2 {
            let existing = self.sessions().live.get(id).cloned();
            let slot = match existing {
                Some(slot) => slot,
                None => match self.resume(id).await {
                    Ok(slot) => slot,
                    Err(result) => return result,
                },
            };
            let session = if let Ok(session) = slot.session.clone().try_lock_owned() {
                session
            } else if slot.is_evicted() {
                continue;
            } else {
                let Some(session) = self.wait_for_stopping_call(&slot).await else {
                    return tool_error(&format!(
                        "session {id} is running a turn for another call; wait for that call's result (or cancel it), then reply"
                    ));
                };
                session
            };
            if slot.is_evicted() {
                continue;
            }
            return self.run(&slot, session, arguments.prompt, context).await;
        }
        tool_error(&format!(
            "session {id} was being shut down while this reply came; reply again"
        ))
    }

    /// The session, once whoever holds it lets go, when that is not a live call: a call that
    /// was cancelled (its turn is being interrupted), or the server itself for a moment (a
    /// call that just ended, or the scan for idle sessions). `None` when a live call holds
    /// it or the holder does not let go in time.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits for a lock.
    async fn wait_for_stopping_call(&self, slot: &SessionSlot) -> Option<OwnedMutexGuard<Session>> {
        let stopping = slot
            .current_call()
            .as_ref()
            .is_none_or(CancellationToken::is_cancelled);
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

    /// The session `session_id` brought back by the factory: one this server shut down
    /// for being idle, with its own setup (once its shutdown is over), or one stored
    /// elsewhere, under the policies its rollout recorded.
    async fn resume(&self, session_id: &str) -> Result<Slot, CallToolResult> {
        let gate = Arc::clone(
            self.sessions()
                .resuming
                .entry(session_id.to_owned())
                .or_default(),
        );
        let resumed = {
            let _resuming = gate.lock().await;
            self.resume_at_gate(session_id).await
        };
        // The gate goes when no other reply waits at it (clones are taken under this lock).
        let mut sessions = self.sessions();
        if sessions
            .resuming
            .get(session_id)
            .is_some_and(|held| Arc::ptr_eq(held, &gate) && Arc::strong_count(held) == 2)
        {
            sessions.resuming.remove(session_id);
        }
        resumed
    }

    /// [`McpServer::resume`] for the one reply at the id's gate.
    async fn resume_at_gate(&self, session_id: &str) -> Result<Slot, CallToolResult> {
        // Another reply may have resumed it while this one waited at the gate.
        let (live, evicted) = {
            let sessions = self.sessions();
            (
                sessions.live.get(session_id).cloned(),
                sessions
                    .evicted
                    .get(session_id)
                    .map(|evicted| (evicted.setup.clone(), evicted.shut_down.clone())),
            )
        };
        if let Some(slot) = live {
            return Ok(slot);
        }
        let mut request = ResumeRequest::new(session_id);
        if let Some((setup, shut_down)) = evicted {
            // The old session holds its rollout until its shutdown is over.
            if tokio::time::timeout(self.inner.options.stop_bound, shut_down.cancelled())
                .await
                .is_err()
            {
                return Err(tool_error(&format!(
                    "session {session_id} is still shutting down; reply again in a moment"
                )));
            }
            request = request.with_policies(setup.approval_policy, setup.sandbox_policy);
            if let Some(model) = setup.model {
                request = request.with_model(model);
            }
        }
        let session = match self.inner.factory.resume(request.clone()).await {
            Ok(session) => session,
            Err(FactoryError::UnknownSession(id)) => {
                return Err(tool_error(&format!(
                    "no session has the id `{id}`; use an id a `{START_TOOL}` result gave, or start a new session with `{START_TOOL}`"
                )));
            }
            Err(error) => return Err(tool_error(&turnkit_session_core::error_chain(&error))),
        };
        // The session's own policies (chosen above, or recorded by its rollout), so a later
        // shutdown for being idle resumes it the same way.
        let setup = Setup {
            approval_policy: session.approval_policy(),
            sandbox_policy: session.sandbox_policy().clone(),
            model: request.model,
        };
        let slot = SessionSlot::new(session, setup);
        let mut sessions = self.sessions();
        sessions.evicted.remove(session_id);
        sessions
            .live
            .insert(session_id.to_owned(), Arc::clone(&slot));
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
        self.touch(slot);
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
        self.touch(slot);
        drop(session);
        self.evict_idle();
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

/// Shuts `session` down (`Op::Shutdown`, then its `shutdown_complete`) within `bound`.
///
/// # Cancel safety
///
/// Cancel safe in effect: dropping the session midway ends it at once.
async fn shut_down(mut session: OwnedMutexGuard<Session>, bound: std::time::Duration) {
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
}

/// A tool error the client's user reads: what went wrong and what to do.
fn tool_error(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
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
