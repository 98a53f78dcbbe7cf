//! `turnkit`: run an AI coding agent's session from a terminal, or drive one from a script.
//!
//! `args` holds the command line, `model` picks the model client, `store` keeps sessions as
//! rollout files, `mcp_config` reads the MCP servers of `turnkit.toml` and `--mcp-server`,
//! `render` shows events (human or JSON lines), `drive` runs one operation to
//! its end with approvals and signals, `commands` and `demo` are the subcommands.

mod acp;
mod args;
mod commands;
mod demo;
mod drive;
mod mcp_config;
mod mcp_server;
mod model;
mod render;
mod store;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command};

/// Marks an error as bad usage or configuration: exit code 2, as for a bad flag.
#[derive(Debug)]
pub(crate) struct Usage;

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bad usage")
    }
}

impl std::error::Error for Usage {}

fn main() -> ExitCode {
    // The binary is also the sandbox's helper: a confined command is started as
    // `turnkit --confinement <json> -- <program> [args...]` (see `session_builder`), so the one
    // installed binary is enough and a confined command never runs unconfined for want of a
    // second one. No subcommand of ours starts with that flag.
    #[cfg(target_os = "linux")]
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "--confinement")
    {
        return turnkit::sandbox::helper_main();
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Child processes are killed by the session's own shutdown; the runtime's leftover
    // blocking readers (a stdin prompt) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let usage = error.chain().any(<dyn std::error::Error>::is::<Usage>);
            let mut chain = error.chain().filter(|cause| !cause.is::<Usage>());
            if let Some(first) = chain.next() {
                eprintln!("error: {first}");
            }
            for cause in chain {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// `turnkit::builder()` with the built-in tools' sandbox helper set to this very binary.
pub(crate) fn session_builder() -> turnkit::SessionBuilder {
    let tools = match std::env::current_exe() {
        Ok(exe) => turnkit::tasks_regular::BuiltinTools::new()
            .sandbox_helper(exe)
            .registry(),
        // Without its own path the helper is searched for as the sandbox crate says.
        Err(_) => turnkit::tasks_regular::BuiltinTools::new().registry(),
    };
    // Registered before the facade's kinds, so these tools take the built-in ones' places.
    turnkit::SessionBuilderExt::with_enabled_kinds(turnkit::Session::builder().tool_registry(tools))
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    Ok(match cli.command {
        Command::Exec(args) => commands::exec(args).await?.exit_code(),
        Command::Resume(args) => commands::resume(args).await?.exit_code(),
        Command::Shell(args) => commands::shell(args).await?,
        Command::Snapshot(args) => commands::snapshot(args).await?.exit_code(),
        Command::Undo(args) => commands::undo(args).await?.exit_code(),
        Command::Review(args) => commands::review(args).await?.exit_code(),
        Command::Compact(args) => commands::compact(args).await?.exit_code(),
        Command::Sessions(args) => {
            commands::sessions(&args)?;
            0
        }
        Command::Demo(args) => demo::demo(args).await?.exit_code(),
        Command::McpServer(args) => mcp_server::mcp_server(args).await?,
        Command::Acp(args) => acp::acp(args).await?,
        Command::Completions(args) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "turnkit",
                &mut std::io::stdout(),
            );
            0
        }
    })
}
