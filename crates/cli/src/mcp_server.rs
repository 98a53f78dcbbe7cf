//! `turnkit mcp-server`: serve sessions over MCP on stdin and stdout, so another agent or an
//! MCP client (Claude Desktop, Codex, an editor) can start and continue turnkit sessions as
//! tools. Sessions are built like `turnkit exec`'s and stored in the same place, so
//! `turnkit sessions` and `turnkit resume` see them.
//!
//! stdout is the protocol's channel: nothing here prints to it; notes go to stderr.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tokio::signal::unix::{SignalKind, signal};
use turnkit::mcp::server::{
    ApprovalFallback, DEFAULT_IDLE_SESSIONS, FactoryError, McpServer, ResumeRequest, ServerOptions,
    SessionFactory, StartRequest,
};
use turnkit::{CancellationToken, Session};

use crate::args::{ModelArgs, PolicyArg, SandboxArg};
use crate::mcp_config::{self, McpArgs};
use crate::model::Model;
use crate::store;

/// `turnkit mcp-server`.
#[derive(Debug, Args)]
pub(crate) struct McpServerArgs {
    /// The approval policy of a session whose `turnkit` call names none.
    #[arg(long, value_enum, default_value_t = PolicyArg::OnRequest)]
    pub(crate) approval_policy: PolicyArg,
    /// The sandbox of a session whose `turnkit` call names none: `workspace-write` (the
    /// default), `read-only`, or `full-access` (no sandbox).
    #[arg(long, value_enum, default_value_t = SandboxArg::WorkspaceWrite)]
    pub(crate) sandbox: SandboxArg,
    /// What an approval request resolves to when the MCP client cannot be asked (it
    /// declared no elicitation capability).
    #[arg(long, value_enum, default_value_t = FallbackArg::Deny)]
    pub(crate) approval_fallback: FallbackArg,
    /// How many sessions with no turn running the server keeps open; past it, the least
    /// recently used is closed, and resumed from the session store (with the policies and
    /// model it was started with) when a `turnkit_reply` names it.
    #[arg(long, value_name = "COUNT", default_value_t = DEFAULT_IDLE_SESSIONS)]
    pub(crate) idle_sessions: usize,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[command(flatten)]
    pub(crate) mcp: McpArgs,
}

/// `--approval-fallback`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum FallbackArg {
    /// The agent is told the request was declined and may try something else.
    Deny,
    /// The turn stops.
    Abort,
    /// Approve without asking (trusted automation only).
    Approve,
}

impl From<FallbackArg> for ApprovalFallback {
    fn from(fallback: FallbackArg) -> Self {
        match fallback {
            FallbackArg::Deny => ApprovalFallback::Deny,
            FallbackArg::Abort => ApprovalFallback::Abort,
            FallbackArg::Approve => ApprovalFallback::Approve,
        }
    }
}

/// `turnkit mcp-server`: serves until stdin closes or a signal (SIGINT, SIGTERM, SIGHUP)
/// arrives, then shuts every session down.
pub(crate) async fn mcp_server(args: McpServerArgs) -> anyhow::Result<u8> {
    // The model is checked (an API key, a readable script) before the client is answered.
    let model = Model::from_args(&args.model)?;
    let sessions_dir = store::sessions_dir()?;
    let options = ServerOptions::default()
        .approval_policy(args.approval_policy.into())
        .sandbox_policy(args.sandbox.into())
        .approval_fallback(args.approval_fallback.into())
        .idle_sessions(args.idle_sessions);
    let cancellation = CancellationToken::new();
    watch_signals(cancellation.clone())?;
    eprintln!(
        "turnkit mcp-server: serving MCP on stdin and stdout; sessions are stored in {}",
        sessions_dir.display()
    );
    let factory = CliFactory {
        model,
        model_args: args.model,
        mcp_flags: args.mcp.mcp_servers,
        sessions_dir,
    };
    McpServer::new(factory, options)
        .serve_stdio(cancellation)
        .await
        .context("the MCP server stopped")?;
    Ok(0)
}

/// Cancels `cancellation` on the first SIGINT, SIGTERM or SIGHUP: running turns are
/// interrupted (their commands killed) and sessions shut down before the process exits.
fn watch_signals(cancellation: CancellationToken) -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
        eprintln!("turnkit mcp-server: stopping");
        cancellation.cancel();
    });
    Ok(())
}

/// Builds sessions as `turnkit exec` does: the CLI's tools and task kinds, the model from
/// the flags, a rollout in the session store.
struct CliFactory {
    model: Model,
    model_args: ModelArgs,
    /// `--mcp-server` flags, added to each session's configured MCP servers.
    mcp_flags: Vec<String>,
    sessions_dir: PathBuf,
}

impl CliFactory {
    /// The model a `turnkit` call asks for, else the server's.
    fn model_for(&self, name: Option<&str>) -> Result<Model, FactoryError> {
        let Some(name) = name else {
            return Ok(self.model.clone());
        };
        if self.model_args.scripted.is_some() {
            return Err(FactoryError::BadRequest(
                "this server plays a scripted model (--scripted), so `model` cannot be chosen; leave it out"
                    .to_owned(),
            ));
        }
        let args = ModelArgs {
            model: Some(name.to_owned()),
            ..self.model_args.clone()
        };
        Model::from_args(&args).map_err(|error| {
            FactoryError::BadRequest(format!("cannot use the model `{name}`: {error:#}"))
        })
    }

    /// Offers a session in `cwd` the tools of the MCP servers configured for it (the user's
    /// and the project's `turnkit.toml`, then the server's `--mcp-server` flags).
    async fn with_mcp_servers(
        &self,
        builder: turnkit::SessionBuilder,
        cwd: &std::path::Path,
    ) -> Result<turnkit::SessionBuilder, FactoryError> {
        let servers = mcp_config::configured_servers(cwd, &self.mcp_flags)
            .map_err(|error| FactoryError::BadRequest(format!("{error:#}")))?;
        Ok(mcp_config::connect(builder, servers, cwd).await)
    }
}

#[turnkit::async_trait]
impl SessionFactory for CliFactory {
    async fn start(&self, request: StartRequest) -> Result<Session, FactoryError> {
        let model = self.model_for(request.model.as_deref())?;
        let id = store::fresh_id();
        let builder = crate::session_builder()
            .session_id(id.clone())
            .cwd(&request.cwd)
            .approval_policy(request.approval_policy)
            .sandbox_policy(request.sandbox_policy)
            .rollout(store::rollout_path(&self.sessions_dir, &id));
        let builder = self.with_mcp_servers(builder, &request.cwd).await?;
        model
            .install(builder)
            .build()
            .map_err(|error| FactoryError::Failed(Box::new(error)))
    }

    async fn resume(&self, request: ResumeRequest) -> Result<Session, FactoryError> {
        let stored = store::list(&self.sessions_dir)
            .map_err(|error| FactoryError::Failed(error.into()))?
            .into_iter()
            .find(|stored| stored.id == request.session_id)
            .ok_or_else(|| FactoryError::UnknownSession(request.session_id.clone()))?;
        let mut builder = crate::session_builder()
            .cwd(&stored.cwd)
            .resume(&stored.path);
        if let Some(policy) = request.approval_policy {
            builder = builder.approval_policy(policy);
        }
        if let Some(sandbox) = request.sandbox_policy {
            builder = builder.sandbox_policy(sandbox);
        }
        let builder = self.with_mcp_servers(builder, &stored.cwd).await?;
        self.model_for(request.model.as_deref())?
            .install(builder)
            .build()
            .map_err(|error| FactoryError::Failed(Box::new(error)))
    }

    // Every session this factory starts has a rollout in the store, found by its id.
    fn stores_sessions(&self) -> bool {
        true
    }
}
