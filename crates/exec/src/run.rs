//! [`run`]: spawn the command in its own process group and supervise it until it is over.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::path::Path;
use std::process::Stdio;

use nix::sys::signal::Signal;
use tempfile::TempDir;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::capture::Capture;
use crate::escapees::RunMarker;
use crate::group::ProcessGroup;
use crate::pipes::Pipes;
use crate::supervisor::Supervisor;
use crate::{
    CapturedOutput, CommandSpec, Error, ExecOutput, ExitStatus, OutputChunk, OutputStream,
    SpawnFailure,
};

/// Runs `spec` to the end and returns how it ended and what it printed.
///
/// The child runs in a new process group (its pid is the group id) with stdin from
/// `/dev/null`. Its stdout and stderr are read as they come, retained up to the spec's cap,
/// and forwarded to the spec's [`output_sender`](CommandSpec::output_sender) if it has one.
///
/// The run is over when the child has exited and been reaped, its process group is empty,
/// and its pipes are closed. Processes the command left running in its group when it exited
/// get SIGTERM, then SIGKILL after the grace period. Once the group is gone, every process
/// of the command that left it (`setsid`, a daemon's double fork) gets SIGKILL: the child's
/// environment carries a variable unique to the run, `TURNKIT_RUN_<pid>_<n>=1`, which such
/// processes inherit and by which they are found in `/proc`. A process that cleared its
/// environment and left the group is outlived (run the command under a
/// [`sandbox`](CommandSpec::sandbox), whose helper is a child subreaper, to end those too);
/// if it holds a pipe open, the pipes are read for at most the drain timeout once the child
/// is reaped and its group gone or killed.
///
/// With a [`sandbox`](CommandSpec::sandbox), the child is the sandbox's helper, which confines
/// itself and runs the command as its own child; a sandbox that cannot be set up is an
/// [`Error::Sandbox`] and nothing runs.
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
/// does it) and to the run's escaped processes, so no process of the group outlives the run; the killed child is reaped by tokio
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
    let marker = RunMarker::new();
    // The sandbox's private temporary directory lives until the run is over (or dropped).
    let (mut command, _temp_dir) = build_command(&spec, &marker)?;
    let started = Instant::now();
    if cancel.is_cancelled() {
        return Ok(cancelled_before_start(&spec, started));
    }
    let child = match command.spawn() {
        Ok(child) => child,
        Err(error) => return spawn_failed(&spec, error, started, sender.as_ref()),
    };
    supervise(child, marker, &spec, sender, &cancel, started).await
}

/// The command to spawn (the spec's own, or its sandbox helper running it), and the
/// sandbox's private temporary directory to keep until the run is over.
fn build_command(
    spec: &CommandSpec,
    marker: &RunMarker,
) -> Result<(Command, Option<TempDir>), Error> {
    let sandboxed = match spec.get_sandbox() {
        Some(sandbox) => sandbox
            .command(spec.program(), spec.args_slice(), spec.get_kill_grace())
            .map_err(|source| Error::Sandbox { source })?,
        None => None,
    };
    let (program, args, temp_dir) = match sandboxed {
        Some(sandboxed) => (
            sandboxed.program.into_os_string(),
            sandboxed.args,
            sandboxed.temp_dir,
        ),
        None => (
            spec.program().to_os_string(),
            spec.args_slice().to_vec(),
            None,
        ),
    };
    let mut command = Command::new(program);
    command.args(args);
    command
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
    command.env(marker.name(), "1");
    Ok((command, temp_dir))
}

/// Reads, forwards and retains the output of a spawned child, and stops its group when asked,
/// until the run is over.
async fn supervise(
    mut child: tokio::process::Child,
    marker: RunMarker,
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
    let group = ProcessGroup::new(pid, marker);
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
