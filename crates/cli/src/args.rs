//! The command line: every subcommand and flag, parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use turnkit::{ApprovalPolicy, SandboxPolicy};

use crate::mcp_config::McpArgs;

/// Run an AI coding agent's session from a terminal, or drive one from a script.
///
/// Every command works in the current directory (or `--cd DIR`) and stores its session as a
/// rollout file, so `turnkit sessions` lists it and `turnkit resume` continues it.
#[derive(Debug, Parser)]
#[command(name = "turnkit", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run one agent turn on a prompt (an argument, or stdin when there is none).
    Exec(ExecArgs),
    /// Continue a stored session with a new prompt.
    Resume(ResumeArgs),
    /// Run your own shell command through a session, streamed, and exit with its code.
    Shell(ShellArgs),
    /// Take a ghost snapshot of the working tree now (HEAD, index and refs are untouched).
    Snapshot(CommonArgs),
    /// Revert the file changes of the last agent turn in this directory's latest session.
    Undo(UndoArgs),
    /// Review a change (the uncommitted one by default) and print the findings.
    Review(ReviewArgs),
    /// Summarise the history of this directory's newest session so it fits the context again.
    Compact(CompactArgs),
    /// List the stored sessions, newest first.
    Sessions(SessionsArgs),
    /// Run a guided tour of every task kind, offline, in a fresh temporary git repository.
    Demo(DemoArgs),
    /// Serve sessions over MCP on stdin and stdout, as the tools `turnkit` and `turnkit_reply`.
    McpServer(crate::mcp_server::McpServerArgs),
    /// Serve the Agent Client Protocol on stdio, for editors such as Zed.
    Acp(crate::acp::AcpArgs),
    /// Print a shell completion script (for example `turnkit completions bash > turnkit.bash`).
    Completions(CompletionsArgs),
}

/// Flags every session command shares.
#[derive(Debug, Args, Clone)]
pub(crate) struct CommonArgs {
    /// Work in this directory instead of the current one.
    #[arg(long = "cd", short = 'C', value_name = "DIR")]
    pub(crate) cd: Option<PathBuf>,
    /// Print one protocol event per line on stdout (JSON), and nothing else there.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Which model answers, and how to reach it.
#[derive(Debug, Args, Clone)]
pub(crate) struct ModelArgs {
    /// The model name (default: `$TURNKIT_MODEL`, `$OPENAI_MODEL`, else gpt-5).
    #[arg(long, short = 'm')]
    pub(crate) model: Option<String>,
    /// An OpenAI-compatible API root, such as a local Ollama (`http://localhost:11434/v1`)
    /// or vLLM server (default: `$OPENAI_BASE_URL`, else OpenAI's API).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Which API the server speaks.
    #[arg(long, value_enum, default_value_t = WireApiArg::Responses)]
    pub(crate) api: WireApiArg,
    /// Offer the model the `subagent` tool, which runs a task in a child session.
    #[arg(long)]
    pub(crate) subagents: bool,
    /// Play a scripted model from this JSON file instead of calling a server (no network).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["model", "base_url"])]
    pub(crate) scripted: Option<PathBuf>,
}

/// `turnkit exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// What to ask; read from stdin when absent.
    pub(crate) prompt: Option<String>,
    /// When to ask before running a command or changing files.
    #[arg(long, value_enum, default_value_t = PolicyArg::OnRequest)]
    pub(crate) approval_policy: PolicyArg,
    /// What the agent's commands may touch: `workspace-write` (the default: the working
    /// directory and temp dirs), `read-only`, or `full-access` (no sandbox).
    #[arg(long, value_enum, default_value_t = SandboxArg::WorkspaceWrite)]
    pub(crate) sandbox: SandboxArg,
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[command(flatten)]
    pub(crate) mcp: McpArgs,
}

/// `turnkit resume`.
#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// Continue the newest session (then every word is the prompt).
    #[arg(long)]
    pub(crate) last: bool,
    /// The session's id as `turnkit sessions` lists it (unless `--last`), then the prompt;
    /// the prompt is read from stdin when absent.
    #[arg(value_name = "ID] [PROMPT")]
    pub(crate) words: Vec<String>,
    /// When to ask before running a command or changing files; by default the policy the
    /// session was started (or last resumed) with.
    #[arg(long, value_enum)]
    pub(crate) approval_policy: Option<PolicyArg>,
    /// What the agent's commands may touch: `workspace-write` (the working directory and temp
    /// dirs), `read-only`, or `full-access` (no sandbox); by default the session's own.
    #[arg(long, value_enum)]
    pub(crate) sandbox: Option<SandboxArg>,
    /// Print one protocol event per line on stdout (JSON), and nothing else there.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    #[command(flatten)]
    pub(crate) mcp: McpArgs,
}

/// `turnkit shell`.
#[derive(Debug, Args)]
pub(crate) struct ShellArgs {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

/// `turnkit undo`.
#[derive(Debug, Args)]
pub(crate) struct UndoArgs {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    /// Print the plan (restored, deleted, conflicts) and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `turnkit review`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").args(["uncommitted", "base", "commit", "prompt"])))]
pub(crate) struct ReviewArgs {
    /// Review the staged, unstaged and untracked changes (the default).
    #[arg(long)]
    pub(crate) uncommitted: bool,
    /// Review the changes of this branch's work against BRANCH, from their merge base.
    #[arg(long, value_name = "BRANCH")]
    pub(crate) base: Option<String>,
    /// Review one commit.
    #[arg(long, value_name = "SHA")]
    pub(crate) commit: Option<String>,
    /// Review with these instructions instead of a diff.
    #[arg(long, value_name = "TEXT")]
    pub(crate) prompt: Option<String>,
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
}

/// `turnkit compact`.
#[derive(Debug, Args)]
pub(crate) struct CompactArgs {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
}

/// `turnkit sessions`.
#[derive(Debug, Args)]
pub(crate) struct SessionsArgs {
    /// Print one JSON object per session.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `turnkit demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Print the demo's events as JSON lines instead of the human view.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `turnkit completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// `--approval-policy`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum PolicyArg {
    /// Never ask; run everything.
    Never,
    /// Ask when the model marks a call as needing it.
    #[value(alias = "on_request")]
    OnRequest,
    /// Ask unless the command is known to be read-only.
    Untrusted,
    /// Ask before every command and change.
    Always,
}

impl From<PolicyArg> for ApprovalPolicy {
    fn from(policy: PolicyArg) -> Self {
        match policy {
            PolicyArg::Never => ApprovalPolicy::Never,
            PolicyArg::OnRequest => ApprovalPolicy::OnRequest,
            PolicyArg::Untrusted => ApprovalPolicy::Untrusted,
            PolicyArg::Always => ApprovalPolicy::Always,
        }
    }
}

/// `--api`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum WireApiArg {
    /// The Responses API (`/responses`).
    Responses,
    /// Chat Completions (`/chat/completions`), which Ollama, vLLM and llama.cpp serve.
    Chat,
}

/// `--sandbox`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum SandboxArg {
    /// Commands may read anything and write nothing.
    ReadOnly,
    /// Commands may write the working directory and temporary directories.
    WorkspaceWrite,
    /// No sandbox.
    FullAccess,
}

impl From<SandboxArg> for SandboxPolicy {
    fn from(sandbox: SandboxArg) -> Self {
        match sandbox {
            SandboxArg::ReadOnly => SandboxPolicy::read_only(),
            SandboxArg::WorkspaceWrite => SandboxPolicy::workspace_write(),
            SandboxArg::FullAccess => SandboxPolicy::FullAccess,
        }
    }
}
