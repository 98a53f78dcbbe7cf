//! What to run and how: [`CommandSpec`], its builder methods, and [`user_shell`].

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use turnkit_sandbox::Sandbox;

use crate::OutputChunk;

/// How long a process group gets between SIGTERM and SIGKILL unless the caller says otherwise.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// How long pipes are still read after the process has exited and its group is dead or killed,
/// unless the caller says otherwise.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_millis(150);

/// How many bytes of each retained output (stdout, stderr, aggregated) are kept unless the
/// caller says otherwise: half from the start, half from the end.
pub const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;

/// The shell used when `$SHELL` is unset or unusable.
pub const FALLBACK_SHELL: &str = "/bin/sh";

/// The user's shell: `$SHELL` when it names an existing absolute path, otherwise `/bin/sh`.
///
/// [`CommandSpec::shell`] runs its script with this shell and `-c`.
pub fn user_shell() -> PathBuf {
    std::env::var_os("SHELL")
        .map(PathBuf::from)
        .filter(|shell| shell.is_absolute() && shell.is_file())
        .unwrap_or_else(|| PathBuf::from(FALLBACK_SHELL))
}

/// A command to run, with where, in which environment, and within which limits.
///
/// Build one with [`CommandSpec::new`], [`CommandSpec::argv`] or [`CommandSpec::shell`], adjust
/// it with the builder methods, and hand it to [`run`](crate::run).
/// The child's stdin is `/dev/null`; its stdout and stderr are captured.
///
/// ```
/// use std::time::Duration;
/// use turnkit_exec::CommandSpec;
///
/// let spec = CommandSpec::shell("cargo test 2>&1 | tail -n 20")
///     .cwd("/")
///     .env("CARGO_TERM_COLOR", "never")
///     .timeout(Duration::from_secs(600))
///     .output_cap(64 * 1024);
/// assert_eq!(spec.script(), Some("cargo test 2>&1 | tail -n 20"));
/// ```
#[derive(Clone, Debug)]
pub struct CommandSpec {
    program: OsString,
    args: Vec<OsString>,
    script: Option<String>,
    cwd: Option<PathBuf>,
    env_clear: bool,
    env: Vec<(OsString, Option<OsString>)>,
    timeout: Option<Duration>,
    output_cap: usize,
    kill_grace: Duration,
    drain_timeout: Duration,
    output_sender: Option<mpsc::Sender<OutputChunk>>,
    sandbox: Option<Sandbox>,
}

impl CommandSpec {
    /// A command that runs `program` (looked up in `PATH` when it has no slash) with no
    /// arguments yet.
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            script: None,
            cwd: None,
            env_clear: false,
            env: Vec::new(),
            timeout: None,
            output_cap: DEFAULT_OUTPUT_CAP,
            kill_grace: DEFAULT_KILL_GRACE,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            output_sender: None,
            sandbox: None,
        }
    }

    /// A command from a full argv: the first element is the program, the rest its arguments.
    ///
    /// An empty argv makes [`run`](crate::run) fail with
    /// [`Error::EmptyCommand`](crate::Error::EmptyCommand).
    pub fn argv<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut argv = argv.into_iter().map(Into::into);
        let program = argv.next().unwrap_or_default();
        Self::new(program).args(argv)
    }

    /// A shell script run as `<user's shell> -c <script>`, with the shell from [`user_shell`].
    pub fn shell(script: impl Into<String>) -> Self {
        Self::shell_with(user_shell(), script)
    }

    /// A shell script run as `<shell> -c <script>` with the given shell.
    pub fn shell_with(shell: impl Into<OsString>, script: impl Into<String>) -> Self {
        let script = script.into();
        let mut spec = Self::new(shell).arg("-c").arg(&script);
        spec.script = Some(script);
        spec
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs the command in `dir` instead of the current directory.
    ///
    /// A missing directory is an [`Error`](crate::Error), reported before anything starts.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets an environment variable for the child, over what it inherits.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Sets several environment variables for the child.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        self.env.extend(
            vars.into_iter()
                .map(|(key, value)| (key.into(), Some(value.into()))),
        );
        self
    }

    /// Runs the command under `sandbox`, through its helper process.
    ///
    /// The helper confines itself as the sandbox's policy says, runs the command as its
    /// child, and ends every descendant of it when it ends. When the sandbox cannot be set up
    /// (no Landlock in the kernel, no helper binary), [`run`](crate::run) fails with
    /// [`Error::Sandbox`](crate::Error::Sandbox) and nothing runs. Under `full_access` the
    /// helper is used when it is found, and the command runs as it is otherwise.
    ///
    /// Run through the helper, a program that cannot be found or executed is reported by the
    /// helper (exit code 127 or 126 and a message on stderr) rather than as a
    /// [`SpawnFailure`](crate::SpawnFailure).
    pub fn sandbox(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// Removes an environment variable from what the child inherits.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env.push((key.into(), None));
        self
    }

    /// Starts the child with an empty environment: only the variables set with
    /// [`env`](Self::env) (before or after this call) reach it, and the one variable every
    /// run adds, `TURNKIT_RUN_<pid>_<n>=1`, by which the run finds the processes of the
    /// command that left its process group (see [`run`](crate::run)).
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self.env.retain(|(_, value)| value.is_some());
        self
    }

    /// Kills the process group (SIGTERM, grace period, SIGKILL) once the command has run this
    /// long; the outcome then has `timed_out` set.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keeps at most `bytes` of each retained output (stdout, stderr and aggregated): the
    /// first half and the last half, counting what was cut. Defaults to
    /// [`DEFAULT_OUTPUT_CAP`]. Live chunks are not affected.
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.output_cap = bytes;
        self
    }

    /// How long the process group gets between SIGTERM and SIGKILL when it is cancelled, timed
    /// out, or left behind by an exited leader. Defaults to [`DEFAULT_KILL_GRACE`].
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// How long to wait for stdout and stderr to close once the process has exited and its
    /// group is gone or killed; bounds the wait for a process outside the group that holds a
    /// pipe open. After it, what the pipes already hold is still read (up to 1 MiB a stream),
    /// then they are closed. Defaults to [`DEFAULT_DRAIN_TIMEOUT`].
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Forwards every output chunk to `sender` as it is read, in arrival order.
    ///
    /// Forwarding applies backpressure: while the channel is full, the stream whose chunk waits
    /// is not read further (so a fast writer blocks on its pipe), but cancellation, the timeout
    /// and the other stream are still served. A dropped receiver stops forwarding, not the
    /// command. After a cancel or timeout, forwarding stops once the drain timeout has passed:
    /// chunks still waiting for room, and anything read later, are only in the retained output.
    /// A run that was not stopped waits for the consumer, so its live stream is complete.
    pub fn output_sender(mut self, sender: mpsc::Sender<OutputChunk>) -> Self {
        self.output_sender = Some(sender);
        self
    }

    /// The program: an argv's first element, or the shell for a shell script.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments after the program (for a shell script: `-c` and the script).
    pub fn get_args(&self) -> impl ExactSizeIterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// The script, when this command was built with [`shell`](Self::shell) or
    /// [`shell_with`](Self::shell_with).
    pub fn script(&self) -> Option<&str> {
        self.script.as_deref()
    }

    /// The full argv as strings (lossy for non-UTF-8), for showing or recording the command.
    pub fn argv_lossy(&self) -> Vec<String> {
        std::iter::once(self.program.as_os_str())
            .chain(self.get_args())
            .map(|part| part.to_string_lossy().into_owned())
            .collect()
    }

    /// The working directory, when one was set.
    pub fn get_cwd(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    /// The timeout, when one was set.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The retained-output cap in bytes.
    pub fn get_output_cap(&self) -> usize {
        self.output_cap
    }

    /// The grace period between SIGTERM and SIGKILL.
    pub fn get_kill_grace(&self) -> Duration {
        self.kill_grace
    }

    /// The drain timeout.
    pub fn get_drain_timeout(&self) -> Duration {
        self.drain_timeout
    }

    /// The sandbox, when one was set.
    pub fn get_sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.program.is_empty()
            || self
                .script
                .as_deref()
                .is_some_and(|script| script.trim().is_empty())
    }

    pub(crate) fn env_entries(&self) -> (bool, &[(OsString, Option<OsString>)]) {
        (self.env_clear, &self.env)
    }

    pub(crate) fn take_output_sender(&mut self) -> Option<mpsc::Sender<OutputChunk>> {
        self.output_sender.take()
    }

    pub(crate) fn args_slice(&self) -> &[OsString] {
        &self.args
    }
}
