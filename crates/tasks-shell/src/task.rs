//! [`UserShellCommandTask`]: runs the user's command line through their shell, streams its
//! output as events, and records what it did for the model.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use turnkit_exec::{CommandSpec, ExecOutput, OutputChunk, OutputStream};
use turnkit_protocol::{EventMsg, ExecSource, ExecStream, TaskKind, UserInput};
use turnkit_session_core::{CancellationToken, SessionTask, TaskContext, TaskResult};

use crate::progress::Progress;
use crate::report::{self, Ending};
use crate::{Error, ShellConfig};

/// The user's own shell command (`Op::RunUserShellCommand`), run as `<shell> -c <command>`
/// in the session's working directory.
///
/// It sends `exec_command_begin` (source `user_shell`), its output live as
/// `exec_command_output_delta`s (up to the configured delta caps), and exactly one
/// `exec_command_end`; then it appends a user message to the history saying what was run and
/// how it ended, so the model's next request sees it. Cancelled, it kills the command's whole
/// process tree and still reports the end, with what the command printed so far, before the
/// turn's end: from its run when the run stops within the grace period, otherwise from
/// [`SessionTask::abort`].
#[derive(Debug)]
pub struct UserShellCommandTask {
    command: String,
    config: ShellConfig,
    progress: Progress,
}

impl UserShellCommandTask {
    /// A task that runs `command` with `config`; a blank command is an
    /// [`Error::EmptyCommand`].
    pub fn new(command: impl Into<String>, config: ShellConfig) -> Result<Self, Error> {
        let command = command.into();
        if command.trim().is_empty() {
            return Err(Error::EmptyCommand);
        }
        let progress = Progress::new(&config);
        Ok(Self {
            command,
            config,
            progress,
        })
    }

    /// The command line, as the user typed it.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The call id of the exec events this task sends for the submission `sub_id`.
    pub fn call_id(sub_id: &str) -> String {
        format!("user-shell-{sub_id}")
    }

    fn spec(&self, cwd: &Path) -> CommandSpec {
        let spec = match self.config.get_shell() {
            Some(shell) => CommandSpec::shell_with(shell, self.command.as_str()),
            None => CommandSpec::shell(self.command.as_str()),
        };
        let spec = spec
            .cwd(cwd)
            .output_cap(self.config.get_output_cap())
            .kill_grace(self.config.get_kill_grace())
            .drain_timeout(self.config.get_drain_timeout());
        match self.config.get_timeout() {
            Some(timeout) => spec.timeout(timeout),
            None => spec,
        }
    }

    /// Keeps a chunk for a late end event and sends what the delta budget allows.
    fn forward(&self, ctx: &TaskContext, call_id: &str, chunk: &OutputChunk) {
        let sent = self.progress.record(chunk);
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

    /// Records and reports the outcome of a run, unless the abort hook already did.
    fn report(&self, ctx: &TaskContext, call_id: String, output: &ExecOutput) {
        if !self.progress.finish() {
            return;
        }
        let end =
            report::end_from_output(call_id, ctx.cwd(), output, self.progress.deltas_capped());
        let ending = if output.cancelled {
            Ending::Cancelled
        } else {
            Ending::Ran
        };
        ctx.record_items([report::history_record(
            &self.command,
            ending,
            &end.formatted_output,
            self.config.get_history_cap(),
        )]);
        ctx.send_event(EventMsg::ExecCommandEnd(end));
    }

    /// Records and reports a command exec could not run, unless the abort hook already did.
    fn report_not_started(
        &self,
        ctx: &TaskContext,
        call_id: String,
        error: &turnkit_exec::Error,
        started: tokio::time::Instant,
    ) {
        if !self.progress.finish() {
            return;
        }
        let end =
            report::end_not_started(call_id, ctx.cwd(), &error.to_string(), started.elapsed());
        ctx.record_items([report::history_record(
            &self.command,
            Ending::NotStarted,
            &end.formatted_output,
            self.config.get_history_cap(),
        )]);
        ctx.send_event(EventMsg::ExecCommandEnd(end));
    }
}

#[async_trait]
impl SessionTask for UserShellCommandTask {
    fn kind(&self) -> TaskKind {
        TaskKind::USER_SHELL
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        if cancellation_token.is_cancelled() {
            // Stopped before it began: nothing ran, so nothing is reported or recorded.
            return Ok(None);
        }
        let call_id = Self::call_id(ctx.sub_id());
        let cwd = ctx.cwd().to_path_buf();
        let spec = self.spec(&cwd);
        let command = spec.argv_lossy();
        let started = tokio::time::Instant::now();
        self.progress.begin(call_id.clone(), cwd.clone());
        ctx.send_event(EventMsg::ExecCommandBegin {
            call_id: call_id.clone(),
            command,
            cwd,
            source: ExecSource::UserShell,
        });

        // Dropping this future (a hard abort) drops the run, which kills the process group;
        // the abort hook then sends the end event from `progress`.
        let result = turnkit_exec::run_streaming(spec, cancellation_token, |chunk| {
            self.forward(&ctx, &call_id, chunk);
        })
        .await;

        match result {
            Ok(output) => {
                self.report(&ctx, call_id, &output);
                Ok(None)
            }
            Err(error) => {
                self.report_not_started(&ctx, call_id, &error, started);
                Err(Box::new(error))
            }
        }
    }

    async fn abort(&self, ctx: Arc<TaskContext>) {
        let Some(end) = self.progress.abandon() else {
            return;
        };
        tracing::debug!(call_id = %end.call_id, "the run was stopped before it reported; ending the command from the abort hook");
        ctx.record_items([report::history_record(
            &self.command,
            Ending::Cancelled,
            &end.formatted_output,
            self.config.get_history_cap(),
        )]);
        ctx.send_event(EventMsg::ExecCommandEnd(end));
    }
}
