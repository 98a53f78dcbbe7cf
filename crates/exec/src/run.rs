//! [`run`]: spawn the command in its own process group and supervise it until it is over.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut as _, BytesMut};
use nix::sys::signal::Signal;
use tokio::process::{ChildStderr, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::capture::Capture;
use crate::group::ProcessGroup;
use crate::{
    CapturedOutput, CommandSpec, Error, ExecOutput, ExitStatus, MAX_CHUNK_BYTES, OutputChunk,
    OutputStream, SpawnFailure,
};

/// How often a dying process group is checked for live members once its leader is reaped.
const GROUP_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// How long to wait for a group sent SIGKILL to be gone before giving up on it.
const KILL_CONFIRM_TIMEOUT: Duration = Duration::from_millis(500);

/// How much a stream may still deliver once the drain timeout has passed, if it is there at
/// once; bounds the end of a run whose pipe a process outside the group keeps writing to.
const FINAL_DRAIN_LIMIT: usize = 1024 * 1024;

/// A read buffer with less room than this gets a fresh block, so reads stay large.
const MIN_READ_ROOM: usize = 8 * 1024;

/// Runs `spec` to the end and returns how it ended and what it printed.
///
/// The child runs in a new process group (its pid is the group id) with stdin from
/// `/dev/null`. Its stdout and stderr are read as they come, retained up to the spec's cap,
/// and forwarded to the spec's [`output_sender`](CommandSpec::output_sender) if it has one.
///
/// The run is over when the child has exited and been reaped, its process group is empty,
/// and its pipes are closed. Processes the command left running in its group when it exited
/// get SIGTERM, then SIGKILL after the grace period. A process that left the group (`setsid`)
/// and holds a pipe open is outlived: the pipes are read for at most the drain timeout once
/// the child is reaped and its group gone or killed.
///
/// When `cancel` fires or the timeout runs out while the child runs, the whole group gets
/// SIGTERM, then SIGKILL once the grace period passes without the group being empty, and the
/// outcome has `cancelled` or `timed_out` set. Cancellation is an outcome, not an error.
///
/// If `cancel` has already fired, nothing is started: the outcome has `cancelled` set, no
/// `pid`, and SIGTERM as its status, as if the command had been terminated at once.
///
/// A program that cannot be found or executed is an outcome with exit code 127 or 126, a
/// [`SpawnFailure`] and a shell-like message on stderr; see [`Error`] for what fails instead.
///
/// A group being stopped is checked for live members every few milliseconds; on Linux that
/// reads `/proc` (see [`process_group_alive`](crate::process_group_alive)). For the best
/// throughput, run this in a task of a multi-threaded runtime (`tokio::spawn`) rather than on
/// the thread of a `block_on`.
///
/// # Cancel safety
///
/// Dropping the future before it completes sends SIGKILL to the process group (a drop guard
/// does it), so no process of the group outlives the run; the killed child is reaped by tokio
/// in the background, the output read so far is lost, and nothing more is forwarded. To stop a
/// command and still get its outcome, cancel the token instead and await the future.
pub async fn run(mut spec: CommandSpec, cancel: CancellationToken) -> Result<ExecOutput, Error> {
    if spec.is_empty() {
        return Err(Error::EmptyCommand);
    }
    if let Some(cwd) = spec.get_cwd() {
        check_cwd(cwd)?;
    }
    let sender = spec.take_output_sender();
    let mut command = build_command(&spec);
    let started = Instant::now();
    if cancel.is_cancelled() {
        return Ok(cancelled_before_start(&spec, started));
    }
    let child = match command.spawn() {
        Ok(child) => child,
        Err(error) => return spawn_failed(&spec, error, started, sender.as_ref()),
    };
    supervise(child, &spec, sender, &cancel, started).await
}

fn build_command(spec: &CommandSpec) -> Command {
    let mut command = Command::new(spec.program());
    command
        .args(spec.args_slice())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(cwd) = spec.get_cwd() {
        command.current_dir(cwd);
    }
    let (env_clear, env) = spec.env_entries();
    if env_clear {
        command.env_clear();
    }
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command
}

/// Reads, forwards and retains the output of a spawned child, and stops its group when asked,
/// until the run is over.
async fn supervise(
    mut child: tokio::process::Child,
    spec: &CommandSpec,
    mut sender: Option<mpsc::Sender<OutputChunk>>,
    cancel: &CancellationToken,
    started: Instant,
) -> Result<ExecOutput, Error> {
    let Some(pid) = child.id() else {
        return Err(Error::Spawn {
            program: program_name(spec),
            source: io::Error::other("the spawned child has no pid"),
        });
    };
    // Armed from here on: a drop anywhere below kills the group.
    let group = ProcessGroup::new(pid);
    let mut pipes = Pipes::new(child.stdout.take(), child.stderr.take());
    let mut supervisor = Supervisor::new(group, spec, started);
    let mut captures = Captures::new(spec.get_output_cap());
    let mut pending: VecDeque<OutputChunk> = VecDeque::with_capacity(2);

    let wait = child.wait();
    tokio::pin!(wait);
    let cancelled = cancel.cancelled();
    tokio::pin!(cancelled);
    let timer = tokio::time::sleep_until(supervisor.far_future);
    tokio::pin!(timer);
    let mut cancel_seen = false;

    loop {
        if supervisor.is_settled() && pipes.is_closed() && pending.is_empty() {
            break;
        }
        let deadline = supervisor.next_deadline();
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        pipes.set_blocked(&pending);
        tokio::select! {
            biased;
            () = &mut cancelled, if !cancel_seen => {
                cancel_seen = true;
                if supervisor.on_cancel(Instant::now()) {
                    sender = None;
                    pending.clear();
                    pipes.start_final_drain();
                }
            }
            () = &mut timer => {
                if supervisor.on_timer(Instant::now()) {
                    // A stopped run owes the live consumer nothing more; a finished one waits
                    // for it, so the live stream is complete.
                    if supervisor.kill_requested() {
                        sender = None;
                        pending.clear();
                    }
                    pipes.start_final_drain();
                }
            }
            status = &mut wait, if supervisor.status.is_none() => match status {
                Ok(status) => supervisor.on_leader_exit(status, Instant::now()),
                Err(source) => {
                    supervisor.group.kill();
                    return Err(Error::Wait { program: program_name(spec), source });
                }
            },
            (stream, read) = poll_fn(|cx| pipes.poll_read(cx)) => match read {
                Ok(0) => pipes.close_stream(stream),
                Ok(read) => {
                    pipes.count_final_drain(stream, read);
                    let bytes = pipes.buffer(stream).split().freeze();
                    captures.push(stream, &bytes);
                    forward(&mut sender, &mut pending, OutputChunk { stream, bytes });
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    tracing::warn!(?stream, %error, "reading the child's output failed; treating it as closed");
                    pipes.close_stream(stream);
                }
            },
            permit = reserve(sender.as_ref()), if !pending.is_empty() => {
                if let Ok(permit) = permit {
                    if let Some(chunk) = pending.pop_front() {
                        drop(permit.send(chunk));
                    }
                } else {
                    sender = None;
                    pending.clear();
                }
            }
        }
    }

    let status = supervisor.exit_status();
    Ok(ExecOutput {
        status,
        spawn_failure: None,
        pid: Some(pid),
        timed_out: supervisor.timed_out,
        cancelled: cancel_seen,
        timeout: spec.get_timeout(),
        duration: started.elapsed(),
        stdout: captures.stdout.finish(),
        stderr: captures.stderr.finish(),
        aggregated: captures.aggregated.finish(),
    })
}

fn cancelled_before_start(spec: &CommandSpec, started: Instant) -> ExecOutput {
    ExecOutput {
        status: ExitStatus::Signaled(Signal::SIGTERM as i32),
        spawn_failure: None,
        pid: None,
        timed_out: false,
        cancelled: true,
        timeout: spec.get_timeout(),
        duration: started.elapsed(),
        stdout: CapturedOutput::default(),
        stderr: CapturedOutput::default(),
        aggregated: CapturedOutput::default(),
    }
}

fn program_name(spec: &CommandSpec) -> String {
    spec.program().to_string_lossy().into_owned()
}

fn check_cwd(cwd: &Path) -> Result<(), Error> {
    match std::fs::metadata(cwd) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(Error::WorkingDirectoryNotADirectory {
            path: cwd.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            Err(Error::WorkingDirectoryMissing {
                path: cwd.to_path_buf(),
            })
        }
        Err(source) => Err(Error::WorkingDirectoryInaccessible {
            path: cwd.to_path_buf(),
            source,
        }),
    }
}

/// Turns a failed spawn into the outcome a shell would report, or into an [`Error`] when the
/// failure is not the program's (the working directory vanished or cannot be entered, the
/// system is out of resources).
fn spawn_failed(
    spec: &CommandSpec,
    error: io::Error,
    started: Instant,
    sender: Option<&mpsc::Sender<OutputChunk>>,
) -> Result<ExecOutput, Error> {
    let program = program_name(spec);
    // The spawn reports a failed chdir with the same errors as a failed exec, so the
    // directory is looked at again before the program is blamed.
    if let Some(cwd) = spec.get_cwd() {
        check_cwd(cwd)?;
        if error.kind() == io::ErrorKind::PermissionDenied
            && let Err(errno) = nix::unistd::access(cwd, nix::unistd::AccessFlags::X_OK)
        {
            return Err(Error::WorkingDirectoryInaccessible {
                path: cwd.to_path_buf(),
                source: io::Error::from(errno),
            });
        }
    }
    let failure = match error.kind() {
        io::ErrorKind::NotFound => SpawnFailure::NotFound { program },
        io::ErrorKind::PermissionDenied => SpawnFailure::NotExecutable { program },
        _ if error.raw_os_error() == Some(nix::libc::ENOEXEC) => {
            SpawnFailure::NotExecutable { program }
        }
        _ => {
            return Err(Error::Spawn {
                program,
                source: error,
            });
        }
    };
    let message = format!("{failure}\n");
    if let Some(sender) = sender {
        // Best effort, like the rest of the live stream: the message is in the outcome too.
        let _ = sender.try_send(OutputChunk {
            stream: OutputStream::Stderr,
            bytes: bytes::Bytes::from(message.clone().into_bytes()),
        });
    }
    Ok(ExecOutput {
        status: ExitStatus::Exited(failure.exit_code()),
        spawn_failure: Some(failure),
        pid: None,
        timed_out: false,
        cancelled: false,
        timeout: spec.get_timeout(),
        duration: started.elapsed(),
        stdout: CapturedOutput::default(),
        stderr: CapturedOutput::from_text(&message),
        aggregated: CapturedOutput::from_text(&message),
    })
}

/// Hands a chunk to the live consumer without waiting; what does not fit waits in `pending`,
/// which keeps arrival order and holds at most one chunk per stream.
fn forward(
    sender: &mut Option<mpsc::Sender<OutputChunk>>,
    pending: &mut VecDeque<OutputChunk>,
    chunk: OutputChunk,
) {
    let Some(live) = sender else {
        return;
    };
    if !pending.is_empty() {
        pending.push_back(chunk);
        return;
    }
    match live.try_send(chunk) {
        Ok(()) => {}
        Err(TrySendError::Full(chunk)) => pending.push_back(chunk),
        Err(TrySendError::Closed(_)) => *sender = None,
    }
}

/// Waits for room in the live channel. The permit owns a clone of the sender (taken only
/// when there is something to send) so the caller may drop its sender meanwhile.
async fn reserve(
    sender: Option<&mpsc::Sender<OutputChunk>>,
) -> Result<mpsc::OwnedPermit<OutputChunk>, mpsc::error::SendError<()>> {
    match sender {
        Some(sender) => sender.clone().reserve_owned().await,
        None => Err(mpsc::error::SendError(())),
    }
}

/// The three retained copies of the output.
struct Captures {
    stdout: Capture,
    stderr: Capture,
    aggregated: Capture,
}

impl Captures {
    fn new(cap: usize) -> Self {
        Self {
            stdout: Capture::new(cap),
            stderr: Capture::new(cap),
            aggregated: Capture::new(cap),
        }
    }

    fn push(&mut self, stream: OutputStream, bytes: &bytes::Bytes) {
        match stream {
            OutputStream::Stdout => self.stdout.push(bytes),
            OutputStream::Stderr => self.stderr.push(bytes),
        }
        self.aggregated.push(bytes);
    }
}

/// The child's two pipes, read alternately so a flood on one never starves the other.
struct Pipes {
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    stdout_buffer: BytesMut,
    stderr_buffer: BytesMut,
    stdout_blocked: bool,
    stderr_blocked: bool,
    stderr_first: bool,
    /// Set once the drain timeout has passed: each stream is read only while data is there
    /// at once, and at most this many more bytes, then closed.
    final_drain: Option<[usize; 2]>,
}

impl Pipes {
    fn new(stdout: Option<ChildStdout>, stderr: Option<ChildStderr>) -> Self {
        Self {
            stdout,
            stderr,
            stdout_buffer: BytesMut::new(),
            stderr_buffer: BytesMut::new(),
            stdout_blocked: false,
            stderr_blocked: false,
            stderr_first: false,
            final_drain: None,
        }
    }

    /// Stops waiting for the pipes: what they hold now is still read (so a slow consumer or a
    /// late wake-up loses nothing the command wrote before it ended), up to
    /// [`FINAL_DRAIN_LIMIT`] bytes a stream, but a stream with nothing to read is closed.
    fn start_final_drain(&mut self) {
        if self.final_drain.is_none() {
            self.final_drain = Some([FINAL_DRAIN_LIMIT; 2]);
        }
    }

    fn count_final_drain(&mut self, stream: OutputStream, read: usize) {
        if let Some(budgets) = self.final_drain.as_mut() {
            let budget = match stream {
                OutputStream::Stdout => &mut budgets[0],
                OutputStream::Stderr => &mut budgets[1],
            };
            *budget = budget.saturating_sub(read);
            if *budget == 0 {
                self.close_stream(stream);
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.stdout.is_none() && self.stderr.is_none()
    }

    fn close_stream(&mut self, stream: OutputStream) {
        match stream {
            OutputStream::Stdout => self.stdout = None,
            OutputStream::Stderr => self.stderr = None,
        }
    }

    fn buffer(&mut self, stream: OutputStream) -> &mut BytesMut {
        match stream {
            OutputStream::Stdout => &mut self.stdout_buffer,
            OutputStream::Stderr => &mut self.stderr_buffer,
        }
    }

    /// A stream whose previous chunk still waits for the live consumer is not read: that is
    /// the backpressure.
    fn set_blocked(&mut self, pending: &VecDeque<OutputChunk>) {
        self.stdout_blocked = pending
            .iter()
            .any(|chunk| chunk.stream == OutputStream::Stdout);
        self.stderr_blocked = pending
            .iter()
            .any(|chunk| chunk.stream == OutputStream::Stderr);
    }

    /// Reads from whichever readable stream is ready, the two taking turns; pending forever
    /// when neither can be read.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<(OutputStream, io::Result<usize>)> {
        let order = if self.stderr_first {
            [OutputStream::Stderr, OutputStream::Stdout]
        } else {
            [OutputStream::Stdout, OutputStream::Stderr]
        };
        for stream in order {
            if let Poll::Ready(read) = self.poll_stream(stream, cx) {
                self.stderr_first = stream == OutputStream::Stdout;
                return Poll::Ready((stream, read));
            }
        }
        Poll::Pending
    }

    fn poll_stream(
        &mut self,
        stream: OutputStream,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let poll = self.poll_pipe(stream, cx);
        let open = match stream {
            OutputStream::Stdout => self.stdout.is_some() && !self.stdout_blocked,
            OutputStream::Stderr => self.stderr.is_some() && !self.stderr_blocked,
        };
        match poll {
            // Nothing there at once after the drain timeout: read as the end of the stream.
            Poll::Pending if open && self.final_drain.is_some() => Poll::Ready(Ok(0)),
            poll => poll,
        }
    }

    fn poll_pipe(&mut self, stream: OutputStream, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        match stream {
            OutputStream::Stdout if !self.stdout_blocked => match self.stdout.as_mut() {
                Some(pipe) => poll_read_chunk(Pin::new(pipe), &mut self.stdout_buffer, cx),
                None => Poll::Pending,
            },
            OutputStream::Stderr if !self.stderr_blocked => match self.stderr.as_mut() {
                Some(pipe) => poll_read_chunk(Pin::new(pipe), &mut self.stderr_buffer, cx),
                None => Poll::Pending,
            },
            OutputStream::Stdout | OutputStream::Stderr => Poll::Pending,
        }
    }
}

/// Reads at most [`MAX_CHUNK_BYTES`] into the spare room of `buffer`.
///
/// Chunks are split off the buffer and shared, so a block is reused only once every chunk
/// cut from it is dropped; a small read therefore does not pin a whole fresh block.
fn poll_read_chunk<R: tokio::io::AsyncRead>(
    pipe: Pin<&mut R>,
    buffer: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if buffer.capacity() - buffer.len() < MIN_READ_ROOM {
        buffer.reserve(MAX_CHUNK_BYTES);
    }
    let mut limited = (&mut *buffer).limit(MAX_CHUNK_BYTES);
    tokio_util::io::poll_read_buf(pipe, cx, &mut limited)
}

/// Where the process group is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nobody asked it to stop.
    Running,
    /// SIGTERM was sent; SIGKILL follows at `kill_at`.
    Terminating { kill_at: Instant },
    /// SIGKILL was sent at `at`.
    Killed { at: Instant },
    /// No live process is left in the group (or one SIGKILL could not end is given up on).
    Gone,
}

/// The run's timers and the process group's phase; decides when to signal and when to stop.
struct Supervisor {
    group: ProcessGroup,
    phase: Phase,
    status: Option<std::process::ExitStatus>,
    timeout_at: Option<Instant>,
    timed_out: bool,
    cancelled: bool,
    kill_grace: Duration,
    drain_timeout: Duration,
    next_poll_at: Option<Instant>,
    drain_deadline: Option<Instant>,
    far_future: Instant,
}

impl Supervisor {
    fn new(group: ProcessGroup, spec: &CommandSpec, started: Instant) -> Self {
        let far_future = started + Duration::from_secs(60 * 60 * 24 * 365);
        Self {
            group,
            phase: Phase::Running,
            status: None,
            timeout_at: spec
                .get_timeout()
                .map(|timeout| started.checked_add(timeout).unwrap_or(far_future)),
            timed_out: false,
            cancelled: false,
            kill_grace: spec.get_kill_grace(),
            drain_timeout: spec.get_drain_timeout(),
            next_poll_at: None,
            drain_deadline: None,
            far_future,
        }
    }

    fn is_settled(&self) -> bool {
        self.status.is_some() && self.phase == Phase::Gone
    }

    fn kill_requested(&self) -> bool {
        self.timed_out || self.cancelled
    }

    fn next_deadline(&self) -> Instant {
        let mut deadline = self.far_future;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                deadline = deadline.min(at);
            }
        };
        if self.phase == Phase::Running && self.status.is_none() {
            consider(self.timeout_at);
        }
        match self.phase {
            Phase::Terminating { kill_at } => consider(Some(kill_at)),
            // Before the leader is reaped, the wait for it is what ends this phase.
            Phase::Killed { at } if self.status.is_some() => {
                consider(Some(at + KILL_CONFIRM_TIMEOUT));
            }
            Phase::Killed { .. } | Phase::Running | Phase::Gone => {}
        }
        consider(self.next_poll_at);
        consider(self.drain_deadline);
        deadline
    }

    /// Stops the group, or stops waiting for output; true when the pipes are to be drained
    /// and closed now.
    fn on_cancel(&mut self, now: Instant) -> bool {
        self.cancelled = true;
        match self.phase {
            Phase::Running if self.status.is_none() => self.terminate(now),
            // A second request to stop (cancel during a timeout's grace, or a cancel while the
            // exited leader's leftovers get theirs) means now: no more grace.
            Phase::Running | Phase::Terminating { .. } => self.kill(now),
            Phase::Killed { .. } | Phase::Gone => {}
        }
        // Once the leader is reaped nothing the pipes still hold is worth waiting for.
        self.status.is_some()
    }

    fn on_leader_exit(&mut self, status: std::process::ExitStatus, now: Instant) {
        self.status = Some(status);
        match self.phase {
            Phase::Running if self.group.is_alive() => {
                tracing::debug!(
                    "the command exited and left processes in its group; terminating them"
                );
                self.terminate(now);
            }
            Phase::Running => self.gone(now),
            Phase::Terminating { .. } | Phase::Killed { .. } => self.poll_group(now),
            Phase::Gone => {}
        }
        if matches!(self.phase, Phase::Killed { .. }) {
            self.start_drain(now);
        }
    }

    /// Handles every deadline that has passed; true when the drain timeout has passed.
    fn on_timer(&mut self, now: Instant) -> bool {
        if self.phase == Phase::Running
            && self.status.is_none()
            && self.timeout_at.is_some_and(|at| at <= now)
        {
            self.timed_out = true;
            self.terminate(now);
        }
        if self.next_poll_at.is_some_and(|at| at <= now) {
            self.poll_group(now);
        }
        match self.phase {
            Phase::Terminating { kill_at } if kill_at <= now => self.kill(now),
            Phase::Killed { at } if at + KILL_CONFIRM_TIMEOUT <= now && self.status.is_some() => {
                tracing::warn!("the process group survived SIGKILL; no longer waiting for it");
                self.gone(now);
            }
            _ => {}
        }
        if self.drain_deadline.is_some_and(|at| at <= now) {
            self.drain_deadline = None;
            return true;
        }
        false
    }

    fn terminate(&mut self, now: Instant) {
        if self.group.signal(Signal::SIGTERM) {
            self.phase = Phase::Terminating {
                kill_at: now + self.kill_grace,
            };
            if self.status.is_some() {
                self.next_poll_at = Some(now + GROUP_POLL_INTERVAL);
            }
        } else {
            self.gone(now);
        }
    }

    fn kill(&mut self, now: Instant) {
        self.group.kill();
        self.phase = Phase::Killed { at: now };
        if self.status.is_some() {
            self.next_poll_at = Some(now + GROUP_POLL_INTERVAL);
            self.start_drain(now);
        }
    }

    /// Checks a dying group once its leader is reaped (before that, the leader keeps the group
    /// alive by definition).
    fn poll_group(&mut self, now: Instant) {
        self.next_poll_at = None;
        if self.status.is_none() || matches!(self.phase, Phase::Running | Phase::Gone) {
            return;
        }
        if self.group.is_alive() {
            self.next_poll_at = Some(now + GROUP_POLL_INTERVAL);
        } else {
            self.gone(now);
        }
    }

    fn gone(&mut self, now: Instant) {
        self.group.disarm();
        self.phase = Phase::Gone;
        self.next_poll_at = None;
        self.start_drain(now);
    }

    fn start_drain(&mut self, now: Instant) {
        if self.status.is_some() && self.drain_deadline.is_none() {
            self.drain_deadline = Some(now + self.drain_timeout);
        }
    }

    fn exit_status(&self) -> ExitStatus {
        match self.status {
            Some(status) => match (status.code(), status.signal()) {
                (Some(code), _) => ExitStatus::Exited(code),
                (None, Some(signal)) => ExitStatus::Signaled(signal),
                (None, None) => ExitStatus::Exited(-1),
            },
            None => ExitStatus::Signaled(Signal::SIGKILL as i32),
        }
    }
}
