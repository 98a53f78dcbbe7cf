//! [`ShellTool`]: the model runs a command (argv) in the session's directory, streamed as exec
//! events with source `agent`, its output shown to the model with head and tail kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use turnkit_exec::{CommandSpec, DeltaBudget, ExecOutput, OutputChunk, OutputStream};
use turnkit_protocol::{
    ApprovalPolicy, ApprovalRequest, EventMsg, ExecCommandEnd, ExecSource, ExecStream,
    SandboxPolicy, ToolSpec,
};
use turnkit_sandbox::{Refusal, Sandbox, recognise_refusal};
use turnkit_session_core::{CancellationToken, TaskContext, Tool, ToolOutput, parse_arguments};

use super::OnDrop;
use super::approval::{self, Escalation, parameters_with_escalation};
use crate::{CommandSafety, ModelOutputLimits, classify_command, format_exec_output};

/// How long a command may run when the call names no timeout.
pub const DEFAULT_SHELL_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How many live output deltas one call sends at most, and how many bytes; the rest of the
/// output is still read and shown in the end event and to the model.
const MAX_DELTAS: usize = 10_000;
const MAX_DELTA_BYTES: usize = 8 * 1024 * 1024;

/// The `shell` tool: runs a command as argv (no shell unless the model names one, as in
/// `["bash", "-lc", "…"]`) in the session's directory or a directory inside it.
///
/// Events: `exec_command_begin` (source `agent`), `exec_command_output_delta`s, and exactly one
/// `exec_command_end`, also when the call is cancelled (the process tree is killed) or dropped.
/// It can change files and never runs beside other calls.
///
/// The command runs under the session's [`SandboxPolicy`] (unless it is `full_access`), and
/// does not run at all when the sandbox cannot be set up. When a sandboxed command fails and
/// its output says the sandbox refused it something, the user is asked (under every approval
/// policy but `never`) whether to run it again without the sandbox; a rerun sends a second
/// pair of exec events with the same call id.
#[derive(Clone, Debug)]
pub struct ShellTool {
    default_timeout: Duration,
    output_limits: ModelOutputLimits,
    sandbox_helper: Option<PathBuf>,
}

impl Default for ShellTool {
    fn default() -> Self {
        Self {
            default_timeout: DEFAULT_SHELL_TIMEOUT,
            output_limits: ModelOutputLimits::default(),
            sandbox_helper: None,
        }
    }
}

#[derive(Deserialize)]
struct ShellArguments {
    command: Vec<String>,
    #[serde(default)]
    workdir: Option<PathBuf>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(flatten)]
    escalation: Escalation,
}

impl ShellTool {
    /// The tool with its default timeout and output limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a command may run when the call names no timeout.
    #[must_use]
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// How much of a command's output the model is shown.
    #[must_use]
    pub fn output_limits(mut self, limits: ModelOutputLimits) -> Self {
        self.output_limits = limits;
        self
    }

    /// The sandbox helper binary to confine commands with, instead of searching for it; a
    /// path that is not an executable file makes every sandboxed command fail closed.
    #[must_use]
    pub fn sandbox_helper(mut self, path: impl Into<PathBuf>) -> Self {
        self.sandbox_helper = Some(path.into());
        self
    }
}

#[async_trait]
impl Tool for ShellTool {
    fn spec(&self) -> ToolSpec {
        let properties = serde_json::json!({
            "command": {
                "type": "array",
                "items": { "type": "string" },
                "description": "The command as argv, run without a shell; use [\"bash\", \"-lc\", \"...\"] for pipes and redirections."
            },
            "workdir": {
                "type": "string",
                "description": "The directory to run in, relative to the session's directory (the default) and inside it."
            },
            "timeout_ms": {
                "type": "integer",
                "description": "Kill the command after this many milliseconds."
            }
        });
        ToolSpec::function(
            "shell",
            "Runs a command in the session's directory and returns its exit status and output.",
            parameters_with_escalation(properties, &["command"]),
        )
    }

    fn can_change_files(&self) -> bool {
        true
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        call_id: &str,
        arguments: serde_json::Value,
        cancellation_token: CancellationToken,
    ) -> ToolOutput {
        let arguments = match parse_arguments::<ShellArguments>("shell", arguments) {
            Ok(arguments) => arguments,
            Err(output) => return output,
        };
        if arguments
            .command
            .first()
            .is_none_or(|program| program.trim().is_empty())
        {
            return ToolOutput::failure(
                "the command is empty: give the program and its arguments as an array, for example [\"ls\", \"-la\"]",
            );
        }
        let cwd = match working_directory(ctx.cwd(), arguments.workdir.as_deref()) {
            Ok(cwd) => cwd,
            Err(output) => return output,
        };
        let safety = classify_command(&arguments.command);
        if approval::command_needs_approval(ctx.approval_policy(), &safety, &arguments.escalation) {
            let reason = arguments
                .escalation
                .justification
                .clone()
                .or(match &safety {
                    CommandSafety::NeedsApproval { reason } => Some(reason.clone()),
                    CommandSafety::ReadOnly => None,
                });
            let mut request =
                ApprovalRequest::command(arguments.command.clone(), &cwd).with_call_id(call_id);
            if let Some(reason) = reason {
                request = request.with_reason(reason);
            }
            let what = format!("the command `{}`", arguments.command.join(" "));
            if let Some(output) = approval::ask(&ctx, request, &what).await {
                return output;
            }
        }
        if cancellation_token.is_cancelled() {
            return ToolOutput::failure("the turn was interrupted before the command ran");
        }
        let timeout = arguments
            .timeout_ms
            .map_or(self.default_timeout, Duration::from_millis);
        let policy = ctx.sandbox_policy().clone();
        let ran = self
            .run(
                &ctx,
                call_id,
                arguments.command.clone(),
                cwd.clone(),
                timeout,
                &policy,
                cancellation_token.clone(),
            )
            .await;
        let Some(refusal) = ran.refusal else {
            return ran.output;
        };
        let refused = format!(
            "{}\nThe sandbox (policy {policy}) refused this command: {}.",
            ran.output.text.trim_end(),
            refusal.reason()
        );
        if ctx.approval_policy() == ApprovalPolicy::Never {
            return ToolOutput::failure(format!(
                "{refused} The approval policy is never, so it cannot be run without the sandbox; do it another way, within what the sandbox allows"
            ));
        }
        if let Some(output) = ask_to_rerun(&ctx, call_id, &arguments.command, &cwd, &refusal).await
        {
            return ToolOutput::failure(format!("{refused}\n{}", output.text));
        }
        if cancellation_token.is_cancelled() {
            return ToolOutput::failure(format!(
                "{refused}\nThe turn was interrupted before the command ran again."
            ));
        }
        self.run(
            &ctx,
            call_id,
            arguments.command,
            cwd,
            timeout,
            &SandboxPolicy::FullAccess,
            cancellation_token,
        )
        .await
        .output
    }
}

/// Asks the user whether to run a command the sandbox refused again without it; `None` when
/// approved, or the output that ends the call.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future withdraws the request.
async fn ask_to_rerun(
    ctx: &TaskContext,
    call_id: &str,
    command: &[String],
    cwd: &Path,
    refusal: &Refusal,
) -> Option<ToolOutput> {
    let request = ApprovalRequest::command_without_sandbox(command.to_vec(), cwd)
        .with_call_id(call_id)
        .with_reason(format!(
            "{}; run the command again without the sandbox?",
            refusal.reason()
        ));
    let what = format!(
        "running the command `{}` again without the sandbox",
        command.join(" ")
    );
    approval::ask(ctx, request, &what).await
}

/// What one run of a command gave: the model's output, and what the sandbox refused it when
/// its output says so.
struct Ran {
    output: ToolOutput,
    refusal: Option<Refusal>,
}

impl ShellTool {
    /// Runs the command under `policy` with its exec events; the process tree is gone when
    /// this returns or is dropped.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call's parts, each used once; a struct would only rename them"
    )]
    async fn run(
        &self,
        ctx: &Arc<TaskContext>,
        call_id: &str,
        command: Vec<String>,
        cwd: PathBuf,
        timeout: Duration,
        policy: &SandboxPolicy,
        cancellation_token: CancellationToken,
    ) -> Ran {
        let mut spec = CommandSpec::argv(&command).cwd(&cwd).timeout(timeout);
        if !policy.is_full_access() {
            let mut sandbox = Sandbox::new(policy.clone(), ctx.cwd());
            if let Some(helper) = &self.sandbox_helper {
                sandbox = sandbox.helper(helper);
            }
            spec = spec.sandbox(sandbox);
        }
        let started = tokio::time::Instant::now();
        ctx.send_event(EventMsg::ExecCommandBegin {
            call_id: call_id.to_owned(),
            command,
            cwd: cwd.clone(),
            source: ExecSource::Agent,
        });
        // Dropping the run kills the process group; the guard then still ends the command.
        let guard = OnDrop::new({
            let ctx = Arc::clone(ctx);
            let call_id = call_id.to_owned();
            let cwd = cwd.clone();
            move || {
                ctx.send_event(EventMsg::ExecCommandEnd(abandoned_end(
                    call_id,
                    cwd,
                    started.elapsed(),
                )));
            }
        });
        let mut deltas = DeltaBudget::new(MAX_DELTAS, MAX_DELTA_BYTES);
        let result = turnkit_exec::run_streaming(spec, cancellation_token, |chunk| {
            forward(ctx, call_id, chunk, &mut deltas);
        })
        .await;
        guard.disarm();
        match result {
            Ok(output) => {
                let text = format_exec_output(&output, self.output_limits);
                ctx.send_event(EventMsg::ExecCommandEnd(end_from_output(
                    call_id,
                    cwd,
                    &output,
                    &text,
                    deltas.is_capped(),
                )));
                if output.success() {
                    return Ran {
                        output: ToolOutput::success(text),
                        refusal: None,
                    };
                }
                let refusal = if policy.is_full_access() || output.cancelled || output.timed_out {
                    None
                } else {
                    recognise_refusal(output.exit_code(), &output.aggregated.to_string_lossy())
                };
                Ran {
                    output: ToolOutput::failure(text),
                    refusal,
                }
            }
            Err(error) => {
                let message = match error {
                    turnkit_exec::Error::Sandbox { source } => format!(
                        "the command did not run, because its sandbox (policy {policy}) cannot be set up: {source}"
                    ),
                    error => format!("the command could not be run: {error}"),
                };
                ctx.send_event(EventMsg::ExecCommandEnd(not_started_end(
                    call_id,
                    cwd,
                    &message,
                    started.elapsed(),
                )));
                Ran {
                    output: ToolOutput::failure(message),
                    refusal: None,
                }
            }
        }
    }
}

/// The directory a call runs in: the session's, or `workdir` inside it.
fn working_directory(root: &Path, workdir: Option<&Path>) -> Result<PathBuf, ToolOutput> {
    let Some(workdir) = workdir else {
        return Ok(root.to_path_buf());
    };
    let refuse = |why: &str| {
        ToolOutput::failure(format!(
            "the workdir `{}` {why}; give a directory inside the session's directory, or leave workdir out",
            workdir.display()
        ))
    };
    let root = std::fs::canonicalize(root).map_err(|_| refuse("cannot be checked"))?;
    let joined = std::fs::canonicalize(root.join(workdir)).map_err(|_| refuse("does not exist"))?;
    if !joined.starts_with(&root) {
        return Err(refuse("is outside the session's directory"));
    }
    if !joined.is_dir() {
        return Err(refuse("is not a directory"));
    }
    Ok(joined)
}

/// Sends what the delta budget allows of a chunk as a live delta.
fn forward(ctx: &TaskContext, call_id: &str, chunk: &OutputChunk, deltas: &mut DeltaBudget) {
    let sent = deltas.take(chunk.bytes.len());
    if sent == 0 {
        return;
    }
    let stream = match chunk.stream {
        OutputStream::Stdout => ExecStream::Stdout,
        OutputStream::Stderr => ExecStream::Stderr,
    };
    ctx.send_event(EventMsg::ExecCommandOutputDelta {
        call_id: call_id.to_owned(),
        stream,
        chunk: chunk.bytes[..sent].to_vec(),
    });
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn end_from_output(
    call_id: &str,
    cwd: PathBuf,
    output: &ExecOutput,
    formatted_output: &str,
    deltas_capped: bool,
) -> ExecCommandEnd {
    ExecCommandEnd {
        call_id: call_id.to_owned(),
        exit_code: output.exit_code(),
        signal: output.signal(),
        duration_ms: millis(output.duration),
        stdout: output.stdout.to_string_lossy(),
        stderr: output.stderr.to_string_lossy(),
        aggregated_output: output.aggregated.to_string_lossy(),
        formatted_output: formatted_output.to_owned(),
        cancelled: output.cancelled,
        timed_out: output.timed_out,
        output_truncated: output.output_truncated(),
        deltas_capped,
        cwd,
    }
}

fn not_started_end(
    call_id: &str,
    cwd: PathBuf,
    message: &str,
    duration: Duration,
) -> ExecCommandEnd {
    ExecCommandEnd {
        call_id: call_id.to_owned(),
        exit_code: None,
        signal: None,
        duration_ms: millis(duration),
        stdout: String::new(),
        stderr: format!("{message}\n"),
        aggregated_output: format!("{message}\n"),
        formatted_output: format!("{message}\n"),
        cancelled: false,
        timed_out: false,
        output_truncated: false,
        deltas_capped: false,
        cwd,
    }
}

/// The end of a command whose call was dropped before exec reported: its output went out as
/// deltas only.
fn abandoned_end(call_id: String, cwd: PathBuf, duration: Duration) -> ExecCommandEnd {
    let message = "Cancelled; the command and its child processes were killed before they reported an exit status.\n";
    ExecCommandEnd {
        call_id,
        exit_code: None,
        signal: None,
        duration_ms: millis(duration),
        stdout: String::new(),
        stderr: String::new(),
        aggregated_output: String::new(),
        formatted_output: message.to_owned(),
        cancelled: true,
        timed_out: false,
        output_truncated: false,
        deltas_capped: false,
        cwd,
    }
}
