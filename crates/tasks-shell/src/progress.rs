//! [`Progress`]: what a command has done so far, shared by its run and its abort hook so that
//! exactly one end event follows its begin event, whichever of them gets to send it.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;
use turnkit_exec::{DeltaBudget, OutputChunk, OutputStream};
use turnkit_protocol::ExecCommandEnd;

use crate::ShellConfig;
use crate::capture::Capture;

/// A command's progress: not begun, running, or ended; and its output so far.
#[derive(Debug)]
pub(crate) struct Progress {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    stdout: Capture,
    stderr: Capture,
    aggregated: Capture,
    deltas: DeltaBudget,
}

#[derive(Debug)]
enum Phase {
    NotBegun,
    Running {
        call_id: String,
        cwd: PathBuf,
        started: Instant,
    },
    Ended,
}

impl Progress {
    pub(crate) fn new(config: &ShellConfig) -> Self {
        let cap = config.get_output_cap();
        Self {
            inner: Mutex::new(Inner {
                phase: Phase::NotBegun,
                stdout: Capture::new(cap),
                stderr: Capture::new(cap),
                aggregated: Capture::new(cap),
                deltas: DeltaBudget::new(config.get_max_deltas(), config.get_max_delta_bytes()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The command's begin event is about to be sent; from now on an end event is owed.
    pub(crate) fn begin(&self, call_id: String, cwd: PathBuf) {
        self.lock().phase = Phase::Running {
            call_id,
            cwd,
            started: Instant::now(),
        };
    }

    /// Keeps `chunk` for a late end event and returns how many of its leading bytes to send
    /// as a live delta: all of them, some (the delta budget ends inside it), or none.
    pub(crate) fn record(&self, chunk: &OutputChunk) -> usize {
        let mut inner = self.lock();
        match chunk.stream {
            OutputStream::Stdout => inner.stdout.push(&chunk.bytes),
            OutputStream::Stderr => inner.stderr.push(&chunk.bytes),
        }
        inner.aggregated.push(&chunk.bytes);
        inner.deltas.take(chunk.bytes.len())
    }

    /// Whether live deltas stopped at their cap.
    pub(crate) fn deltas_capped(&self) -> bool {
        self.lock().deltas.is_capped()
    }

    /// Marks the command ended; returns whether it was running, in which case the caller
    /// owes its end event and sends it.
    pub(crate) fn finish(&self) -> bool {
        let mut inner = self.lock();
        let was_running = matches!(inner.phase, Phase::Running { .. });
        inner.phase = Phase::Ended;
        was_running
    }

    /// Marks the command ended and, if it was running, builds the end event of a command
    /// that was cancelled and killed before its run could report: what was forwarded so far.
    pub(crate) fn abandon(&self) -> Option<ExecCommandEnd> {
        let mut inner = self.lock();
        let Phase::Running {
            call_id,
            cwd,
            started,
        } = std::mem::replace(&mut inner.phase, Phase::Ended)
        else {
            return None;
        };
        Some(ExecCommandEnd {
            call_id,
            exit_code: None,
            signal: None,
            duration_ms: crate::report::millis(started.elapsed()),
            stdout: inner.stdout.to_string_lossy(),
            stderr: inner.stderr.to_string_lossy(),
            aggregated_output: inner.aggregated.to_string_lossy(),
            formatted_output: crate::report::format_abandoned(&inner.aggregated),
            cancelled: true,
            timed_out: false,
            output_truncated: inner.stdout.is_truncated()
                || inner.stderr.is_truncated()
                || inner.aggregated.is_truncated(),
            deltas_capped: inner.deltas.is_capped(),
            cwd,
        })
    }
}
