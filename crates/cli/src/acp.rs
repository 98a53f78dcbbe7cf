//! `turnkit acp`: serve the Agent Client Protocol on stdin and stdout, so an editor (Zed and
//! others) drives turnkit sessions; nothing but protocol goes to stdout.
//!
//! Sessions are built like `turnkit exec`'s (this binary's tools and sandbox helper, the model
//! the flags name) and stored in the same session store, named by their id, so `session/load`
//! and `turnkit resume` find them both.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use turnkit::acp::{AcpAgent, Error, LoadedSession, SessionFactory, SessionSetup};
use turnkit::{ApprovalPolicy, SandboxPolicy, Session, read_rollout};

use crate::args::{ModelArgs, PolicyArg, SandboxArg};
use crate::mcp_config::{self, McpArgs};
use crate::{model, store};

/// `turnkit acp`.
#[derive(Debug, Args)]
pub(crate) struct AcpArgs {
    /// When to ask (through the editor's permission prompt) before running a command or
    /// changing files: `on-request` for a new session unless given; a loaded session keeps
    /// the policy it recorded unless given.
    #[arg(long, value_enum)]
    pub(crate) approval_policy: Option<PolicyArg>,
    /// What the agent's commands may touch: `workspace-write` (the session's directory and
    /// temp dirs), `read-only`, or `full-access` (no sandbox); `workspace-write` for a new
    /// session and the recorded one for a loaded session, unless given.
    #[arg(long, value_enum)]
    pub(crate) sandbox: Option<SandboxArg>,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[command(flatten)]
    pub(crate) mcp: McpArgs,
}

/// Builds the editor's sessions as `turnkit exec` builds its own.
struct Factory {
    model: model::Model,
    /// The flags' policies; `None` leaves the session's own (the builder's default for a new
    /// one, the recorded one for a loaded one).
    policy: Option<ApprovalPolicy>,
    sandbox: Option<SandboxPolicy>,
    store: PathBuf,
    /// `--mcp-server` flags.
    mcp_flags: Vec<String>,
}

impl Factory {
    /// A session in `cwd` with the MCP servers configured for it (the user's and the
    /// project's `turnkit.toml`, the `--mcp-server` flags) and the editor's own, which win
    /// over a configured server of the same name. A server that does not start is a warning
    /// the session sends first, which the editor shows as a message.
    async fn builder(
        &self,
        cwd: &std::path::Path,
        setup: SessionSetup,
    ) -> Result<turnkit::SessionBuilder, Error> {
        let mut servers = mcp_config::configured_servers(cwd, &self.mcp_flags)
            .map_err(|error| Error::invalid_params(format!("{error:#}")))?;
        servers.retain(|server| !setup.mcp_servers.iter().any(|own| own.name == server.name));
        servers.extend(setup.mcp_servers);
        let mut builder = crate::session_builder().cwd(cwd);
        if let Some(policy) = self.policy {
            builder = builder.approval_policy(policy);
        }
        if let Some(sandbox) = &self.sandbox {
            builder = builder.sandbox_policy(sandbox.clone());
        }
        let builder = mcp_config::connect(builder, servers, cwd).await;
        Ok(self.model.clone().install(builder))
    }
}

#[turnkit::async_trait]
impl SessionFactory for Factory {
    async fn new_session(&self, setup: SessionSetup) -> Result<Session, Error> {
        let cwd = work_dir(&setup)?;
        let id = store::fresh_id();
        self.builder(&cwd, setup)
            .await?
            .session_id(id.clone())
            .rollout(store::rollout_path(&self.store, &id))
            .build()
            .map_err(Error::session)
    }

    async fn load_session(
        &self,
        session_id: &str,
        setup: SessionSetup,
    ) -> Result<LoadedSession, Error> {
        let cwd = work_dir(&setup)?;
        let stored = store::list(&self.store)
            .map_err(Error::session)?
            .into_iter()
            .find(|session| session.id == session_id)
            .ok_or_else(|| Error::SessionNotFound {
                session_id: session_id.to_owned(),
                hint: "`turnkit sessions` lists the stored ones".to_owned(),
            })?;
        // Read before resuming: the resumed session appends to the file.
        let (transcript, _warnings) = read_rollout(&stored.path).map_err(Error::session)?;
        let session = self
            .builder(&cwd, setup)
            .await?
            .resume(&stored.path)
            .build()
            .map_err(Error::session)?;
        Ok(LoadedSession::new(session, transcript))
    }
}

/// The session's directory, canonical, or an error the editor can show.
fn work_dir(setup: &SessionSetup) -> Result<PathBuf, Error> {
    let cwd = setup.cwd.canonicalize().map_err(|error| {
        Error::invalid_params(format!(
            "cannot use {} as the session's directory: {error}",
            setup.cwd.display()
        ))
    })?;
    if !cwd.is_dir() {
        return Err(Error::invalid_params(format!(
            "{} is not a directory",
            cwd.display()
        )));
    }
    Ok(cwd)
}

/// `turnkit acp`: serves until the editor closes stdin, or SIGTERM or Ctrl-C ends it (the
/// sessions' processes are killed either way).
pub(crate) async fn acp(args: AcpArgs) -> anyhow::Result<u8> {
    let factory = Factory {
        model: model::Model::from_args(&args.model)?,
        policy: args.approval_policy.map(Into::into),
        sandbox: args.sandbox.map(Into::into),
        store: store::sessions_dir()?,
        mcp_flags: args.mcp.mcp_servers,
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot handle SIGTERM")?;
    let agent = AcpAgent::new(factory).agent_info("turnkit", env!("CARGO_PKG_VERSION"));
    tokio::select! {
        served = agent.serve_stdio() => served.context("the ACP connection failed")?,
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}
