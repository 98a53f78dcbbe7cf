//! The ACP agent: [`AcpAgent`] answers `initialize`, `session/new`, `session/load`,
//! `session/prompt` and `session/cancel` on any transport.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agent_client_protocol::schema::ProtocolVersion;
use agent_client_protocol::v1::ConnectionTo;
use agent_client_protocol::v1::schema::{
    AgentCapabilities, CancelNotification, ContentBlock, EmbeddedResourceResource, Implementation,
    InitializeRequest, InitializeResponse, LoadSessionRequest, LoadSessionResponse,
    McpCapabilities, NewSessionRequest, NewSessionResponse, PromptCapabilities, PromptRequest,
};
use agent_client_protocol::{Agent, Client, ConnectTo};
use tokio::sync::mpsc;
use turnkit_protocol::UserInput;
use turnkit_session_core::RolloutRecord;

use crate::mcp::mcp_servers_from_acp;
use crate::pump::{Command, Pump, replay};
use crate::updates::{Mode, Translator};
use crate::{Error, SessionFactory, SessionSetup};

/// How long the agent waits for its sessions to shut down once the client has gone.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(15);

/// An Agent Client Protocol agent that runs turnkit sessions built by a [`SessionFactory`].
///
/// It speaks ACP protocol version 1 (the stable one) and advertises `loadSession`, images and
/// embedded context in prompts, and MCP servers over stdio and HTTP.
///
/// ```no_run
/// # async fn run(factory: impl turnkit_acp::SessionFactory) -> Result<(), turnkit_acp::Error> {
/// turnkit_acp::AcpAgent::new(factory).serve_stdio().await
/// # }
/// ```
pub struct AcpAgent<F> {
    factory: Arc<F>,
    info: Implementation,
}

struct Shared<F> {
    factory: Arc<F>,
    sessions: Mutex<HashMap<String, mpsc::UnboundedSender<Command>>>,
    pumps: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    notices: AtomicBool,
}

impl<F: SessionFactory> AcpAgent<F> {
    /// An agent whose sessions `factory` builds, named `turnkit` with this crate's version.
    pub fn new(factory: F) -> Self {
        AcpAgent {
            factory: Arc::new(factory),
            info: Implementation::new("turnkit", env!("CARGO_PKG_VERSION")).title("turnkit"),
        }
    }

    /// Names the agent in `initialize`'s `agentInfo`.
    pub fn agent_info(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.info = Implementation::new(name, version).title("turnkit");
        self
    }

    /// Serves ACP on the process's stdin and stdout until the client closes stdin.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped midway, the sessions are dropped (their tasks aborted and
    /// their processes killed) without an orderly shutdown.
    pub async fn serve_stdio(self) -> Result<(), Error> {
        self.serve(agent_client_protocol::Stdio::new()).await
    }

    /// Serves ACP on `transport` (for example an [`agent_client_protocol::ByteStreams`] over
    /// in-memory pipes) until the client closes it, then shuts every session down.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped midway, the sessions are dropped (their tasks aborted and
    /// their processes killed) without an orderly shutdown.
    pub async fn serve(self, transport: impl ConnectTo<Agent> + 'static) -> Result<(), Error> {
        let shared = Arc::new(Shared {
            factory: self.factory,
            sessions: Mutex::new(HashMap::new()),
            pumps: Mutex::new(Vec::new()),
            notices: AtomicBool::new(false),
        });
        let info = self.info;
        let on_initialize = Arc::clone(&shared);
        let on_new = Arc::clone(&shared);
        let on_load = Arc::clone(&shared);
        let on_prompt = Arc::clone(&shared);
        let on_cancel = Arc::clone(&shared);
        let served = Agent
            .v1()
            .name("turnkit")
            .on_receive_request(
                async move |request: InitializeRequest, responder, _cx| {
                    let notices = request
                        .client_capabilities
                        .session
                        .as_ref()
                        .is_some_and(|session| session.notices.is_some());
                    on_initialize.notices.store(notices, Ordering::Relaxed);
                    responder.respond(
                        InitializeResponse::new(ProtocolVersion::V1)
                            .agent_capabilities(capabilities())
                            .agent_info(info.clone()),
                    )
                },
                agent_client_protocol::on_receive_request!(),
            )
            .on_receive_request(
                async move |request: NewSessionRequest, responder, cx| {
                    let shared = Arc::clone(&on_new);
                    // Building a session may start MCP servers: off the dispatch loop, so
                    // other sessions' messages keep flowing.
                    cx.clone().spawn(async move {
                        match shared.new_session(request, cx).await {
                            Ok(response) => responder.respond(response),
                            Err(error) => responder.respond_with_error(error.to_rpc()),
                        }
                    })
                },
                agent_client_protocol::on_receive_request!(),
            )
            .on_receive_request(
                async move |request: LoadSessionRequest, responder, cx| {
                    let shared = Arc::clone(&on_load);
                    cx.clone().spawn(async move {
                        match shared.load_session(request, cx).await {
                            Ok(response) => responder.respond(response),
                            Err(error) => responder.respond_with_error(error.to_rpc()),
                        }
                    })
                },
                agent_client_protocol::on_receive_request!(),
            )
            .on_receive_request(
                async move |request: PromptRequest, responder, _cx| {
                    let session_id = request.session_id.0.to_string();
                    let Some(commands) = on_prompt.session(&session_id) else {
                        return responder.respond_with_error(unknown_session(&session_id).to_rpc());
                    };
                    let items = match prompt_input(&request.prompt) {
                        Ok(items) => items,
                        Err(error) => return responder.respond_with_error(error.to_rpc()),
                    };
                    if let Err(mpsc::error::SendError(Command::Prompt { responder, .. })) =
                        commands.send(Command::Prompt { items, responder })
                    {
                        return responder.respond_with_error(
                            Error::session(format!("session `{session_id}` has shut down"))
                                .to_rpc(),
                        );
                    }
                    Ok(())
                },
                agent_client_protocol::on_receive_request!(),
            )
            .on_receive_notification(
                async move |notification: CancelNotification, _cx| {
                    let session_id = notification.session_id.0.to_string();
                    if let Some(commands) = on_cancel.session(&session_id) {
                        let _ = commands.send(Command::Cancel);
                    } else {
                        tracing::warn!(session_id, "session/cancel for an unknown session");
                    }
                    Ok(())
                },
                agent_client_protocol::on_receive_notification!(),
            )
            .connect_to(transport)
            .await;
        shared.shutdown().await;
        served.map_err(Error::Connection)
    }
}

impl<F: SessionFactory> Shared<F> {
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Command>>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn session(&self, session_id: &str) -> Option<mpsc::UnboundedSender<Command>> {
        self.sessions().get(session_id).cloned()
    }

    /// # Cancel safety
    ///
    /// Cancel safe up to the factory's own cancel safety: the session is registered only
    /// after it is built.
    async fn new_session(
        &self,
        request: NewSessionRequest,
        cx: ConnectionTo<Client>,
    ) -> Result<NewSessionResponse, Error> {
        let setup = setup(&request.cwd, &request.mcp_servers)?;
        let cwd = setup.cwd.clone();
        let session = self.factory.new_session(setup).await?;
        let session_id = session.id().to_owned();
        let (commands, pump) = Pump::spawn(session, cwd, cx, self.notices.load(Ordering::Relaxed));
        self.register(&session_id, commands, pump);
        Ok(NewSessionResponse::new(session_id))
    }

    /// # Cancel safety
    ///
    /// Cancel safe up to the factory's own cancel safety: the session is registered only
    /// after its transcript was replayed.
    async fn load_session(
        &self,
        request: LoadSessionRequest,
        cx: ConnectionTo<Client>,
    ) -> Result<LoadSessionResponse, Error> {
        let session_id = request.session_id.0.to_string();
        if self.session(&session_id).is_some() {
            return Err(Error::invalid_params(format!(
                "session `{session_id}` is already open on this connection; prompt it directly"
            )));
        }
        let setup = setup(&request.cwd, &request.mcp_servers)?;
        let cwd = setup.cwd.clone();
        let loaded = self.factory.load_session(&session_id, setup).await?;
        // The history goes out before the response, as the protocol asks, and before any
        // event of the resumed session.
        replay(
            &cx,
            &session_id,
            transcript_updates(&loaded.transcript, &cwd),
        );
        let (commands, pump) = Pump::spawn(
            loaded.session,
            cwd,
            cx,
            self.notices.load(Ordering::Relaxed),
        );
        self.register(&session_id, commands, pump);
        Ok(LoadSessionResponse::new())
    }

    fn register(
        &self,
        session_id: &str,
        commands: mpsc::UnboundedSender<Command>,
        pump: tokio::task::JoinHandle<()>,
    ) {
        self.sessions().insert(session_id.to_owned(), commands);
        self.pumps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(pump);
    }

    /// Shuts every session down, each within its own bound.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped midway, the pumps are dropped with their sessions, which aborts
    /// their tasks.
    async fn shutdown(&self) {
        for commands in std::mem::take(&mut *self.sessions()).into_values() {
            let _ = commands.send(Command::Shutdown);
        }
        let pumps = std::mem::take(
            &mut *self
                .pumps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let _ = tokio::time::timeout(SHUTDOWN_BOUND, async {
            for pump in pumps {
                let _ = pump.await;
            }
        })
        .await;
    }
}

fn capabilities() -> AgentCapabilities {
    AgentCapabilities::new()
        .load_session(true)
        .prompt_capabilities(PromptCapabilities::new().image(true).embedded_context(true))
        .mcp_capabilities(McpCapabilities::new().http(true))
}

fn unknown_session(session_id: &str) -> Error {
    Error::SessionNotFound {
        session_id: session_id.to_owned(),
        hint: "create one with session/new, or open a stored one with session/load".to_owned(),
    }
}

fn setup(
    cwd: &std::path::Path,
    servers: &[agent_client_protocol::v1::schema::McpServer],
) -> Result<SessionSetup, Error> {
    if !cwd.is_absolute() {
        return Err(Error::invalid_params(format!(
            "cwd `{}` is not an absolute path; send the project's absolute directory",
            cwd.display()
        )));
    }
    Ok(SessionSetup::new(cwd, mcp_servers_from_acp(servers)?))
}

/// The user's message from a prompt's content blocks.
fn prompt_input(blocks: &[ContentBlock]) -> Result<Vec<UserInput>, Error> {
    let mut items = Vec::new();
    for block in blocks {
        let item = match block {
            ContentBlock::Text(text) => UserInput::text(text.text.clone()),
            ContentBlock::Image(image) => UserInput::Image {
                image_url: format!("data:{};base64,{}", image.mime_type, image.data),
            },
            ContentBlock::ResourceLink(link) => {
                UserInput::text(format!("[{}]({})", link.name, link.uri))
            }
            ContentBlock::Resource(resource) => match &resource.resource {
                EmbeddedResourceResource::TextResourceContents(text) => UserInput::text(format!(
                    "<context uri=\"{}\">\n{}\n</context>",
                    text.uri, text.text
                )),
                EmbeddedResourceResource::BlobResourceContents(blob) => {
                    UserInput::text(format!("[attached binary resource]({})", blob.uri))
                }
                _ => continue,
            },
            ContentBlock::Audio(_) => {
                return Err(Error::invalid_params(
                    "turnkit does not take audio in prompts (its capabilities say so); send text instead",
                ));
            }
            _ => continue,
        };
        items.push(item);
    }
    if items.is_empty() {
        return Err(Error::invalid_params(
            "the prompt is empty; send at least one text block",
        ));
    }
    Ok(items)
}

/// The updates that replay a stored session: each user message, then what the agent did.
fn transcript_updates(
    records: &[RolloutRecord],
    cwd: &std::path::Path,
) -> Vec<agent_client_protocol::v1::schema::SessionUpdate> {
    let mut translator = Translator::new(cwd, Mode::Replay);
    let mut updates = Vec::new();
    for record in records {
        match record {
            RolloutRecord::UserInput { items, .. } => updates.extend(Translator::user_input(items)),
            RolloutRecord::Event { event } => updates.extend(translator.event(&event.msg)),
            _ => {}
        }
    }
    updates
}
