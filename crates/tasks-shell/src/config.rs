//! [`ShellConfig`]: the limits a user's shell command runs under, and the
//! [`TaskRegistration`] built from them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use turnkit_exec::{DEFAULT_DRAIN_TIMEOUT, DEFAULT_KILL_GRACE, DEFAULT_OUTPUT_CAP};
use turnkit_protocol::{Op, TaskKind};
use turnkit_session_core::{SessionTask, TaskRegistration};

use crate::{Error, UserShellCommandTask};

/// How many live output deltas one command sends at most unless configured otherwise.
pub const DEFAULT_MAX_DELTAS: usize = 10_000;

/// How many bytes of live output deltas one command sends at most unless configured otherwise.
pub const DEFAULT_MAX_DELTA_BYTES: usize = 8 * 1024 * 1024;

/// How many bytes of a command's formatted output go into the history record the model reads,
/// unless configured otherwise: half from the start, half from the end.
pub const DEFAULT_HISTORY_CAP: usize = 16 * 1024;

/// What the session's grace period adds to the kill grace and the drain timeout: time for the
/// killed group to be reaped and the end event to be sent.
const GRACE_MARGIN: Duration = Duration::from_secs(1);

/// The registration of the user shell kind with the default [`ShellConfig`].
///
/// ```
/// use turnkit_protocol::TaskKind;
///
/// let registration = turnkit_tasks_shell::registration();
/// assert_eq!(registration.kind(), &TaskKind::USER_SHELL);
/// ```
pub fn registration() -> TaskRegistration {
    ShellConfig::default().registration()
}

/// How a user's shell command is run: which shell, how much output is kept, streamed and
/// recorded, and how it is stopped.
///
/// ```
/// use std::time::Duration;
/// use turnkit_tasks_shell::ShellConfig;
///
/// let config = ShellConfig::new()
///     .shell("/bin/sh")
///     .output_cap(256 * 1024)
///     .max_deltas(1_000)
///     .kill_grace(Duration::from_millis(500));
/// assert!(config.grace_period() > Duration::from_millis(500));
/// let registration = config.registration();
/// ```
#[derive(Clone, Debug)]
pub struct ShellConfig {
    shell: Option<PathBuf>,
    output_cap: usize,
    max_deltas: usize,
    max_delta_bytes: usize,
    history_cap: usize,
    kill_grace: Duration,
    drain_timeout: Duration,
    timeout: Option<Duration>,
}

impl Default for ShellConfig {
    fn default() -> Self {
        Self {
            shell: None,
            output_cap: DEFAULT_OUTPUT_CAP,
            max_deltas: DEFAULT_MAX_DELTAS,
            max_delta_bytes: DEFAULT_MAX_DELTA_BYTES,
            history_cap: DEFAULT_HISTORY_CAP,
            kill_grace: DEFAULT_KILL_GRACE,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            timeout: None,
        }
    }
}

impl ShellConfig {
    /// The defaults: the user's shell, exec's output cap and kill grace, no timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs commands as `<shell> -c <command>` with this shell instead of the user's
    /// (`$SHELL`, or `/bin/sh` when it is unset or unusable).
    pub fn shell(mut self, shell: impl Into<PathBuf>) -> Self {
        self.shell = Some(shell.into());
        self
    }

    /// Keeps at most `bytes` of each of stdout, stderr and the interleaved output for the end
    /// event: the first half and the last half.
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.output_cap = bytes;
        self
    }

    /// Sends at most `count` live output deltas per command; the rest of the output is only
    /// in the end event. Defaults to [`DEFAULT_MAX_DELTAS`].
    pub fn max_deltas(mut self, count: usize) -> Self {
        self.max_deltas = count;
        self
    }

    /// Sends at most `bytes` of live output deltas per command; the rest of the output is
    /// only in the end event. Defaults to [`DEFAULT_MAX_DELTA_BYTES`].
    pub fn max_delta_bytes(mut self, bytes: usize) -> Self {
        self.max_delta_bytes = bytes;
        self
    }

    /// Puts at most `bytes` of the formatted output into the history record the model reads.
    /// Defaults to [`DEFAULT_HISTORY_CAP`].
    pub fn history_cap(mut self, bytes: usize) -> Self {
        self.history_cap = bytes;
        self
    }

    /// How long a cancelled command's process group gets between SIGTERM and SIGKILL.
    /// Defaults to exec's [`DEFAULT_KILL_GRACE`].
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// How long the output pipes are still read once the command's group is gone.
    /// Defaults to exec's [`DEFAULT_DRAIN_TIMEOUT`].
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Kills a command that runs longer than `timeout`; by default a user's command runs as
    /// long as it likes, until it ends or is interrupted.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The shell override, if one was set.
    pub fn get_shell(&self) -> Option<&Path> {
        self.shell.as_deref()
    }

    /// The retained-output cap in bytes.
    pub fn get_output_cap(&self) -> usize {
        self.output_cap
    }

    /// The most live deltas one command sends.
    pub fn get_max_deltas(&self) -> usize {
        self.max_deltas
    }

    /// The most bytes of live deltas one command sends.
    pub fn get_max_delta_bytes(&self) -> usize {
        self.max_delta_bytes
    }

    /// The most bytes of formatted output in the history record.
    pub fn get_history_cap(&self) -> usize {
        self.history_cap
    }

    /// The grace period between SIGTERM and SIGKILL.
    pub fn get_kill_grace(&self) -> Duration {
        self.kill_grace
    }

    /// The drain timeout.
    pub fn get_drain_timeout(&self) -> Duration {
        self.drain_timeout
    }

    /// The timeout, if one was set.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// How long the session waits for an interrupted command before dropping its run: the
    /// kill grace, the drain timeout and a margin, so a command that ignores SIGTERM is still
    /// killed and reported by the run itself.
    pub fn grace_period(&self) -> Duration {
        self.kill_grace
            .saturating_add(self.drain_timeout)
            .saturating_add(GRACE_MARGIN)
    }

    /// The registration of the [`TaskKind::USER_SHELL`] kind with this configuration.
    ///
    /// It runs beside a running turn (as that turn's auxiliary work) and has
    /// [`grace_period`](Self::grace_period) to stop. Its factory takes
    /// `Op::RunUserShellCommand` and rejects a blank command, so the session reports an
    /// `error` event and nothing runs.
    pub fn registration(self) -> TaskRegistration {
        let grace_period = self.grace_period();
        TaskRegistration::new(TaskKind::USER_SHELL, move |op| {
            let Op::RunUserShellCommand { command } = op else {
                return Err(Error::WrongOp { op: op.name() }.into());
            };
            let task = UserShellCommandTask::new(command.clone(), self.clone())?;
            Ok(Arc::new(task) as Arc<dyn SessionTask>)
        })
        .runs_beside_turn(true)
        .grace_period(grace_period)
    }
}
