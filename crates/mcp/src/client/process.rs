//! A stdio server's process group, killed as a whole when it is no longer wanted, and the tail
//! of what the server wrote on stderr (shown when it fails to start).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::ChildStderr;
use tokio::task::JoinHandle;

/// How many of a server's last stderr lines are kept.
const STDERR_LINES: usize = 20;
/// How long a kept stderr line may be.
const STDERR_LINE_LEN: usize = 400;

/// The process group a stdio server leads (it was started with `process_group(0)`).
///
/// Dropping it, or calling [`kill`](Self::kill), sends SIGKILL to the whole group, so what the
/// server started (an `npx` that runs `node`, say) goes with it. The group's leader is reaped
/// by rmcp's transport, which owns the child.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    pgid: Mutex<Option<Pid>>,
}

impl ProcessGroup {
    pub(crate) fn new(pid: u32) -> Self {
        let pid = i32::try_from(pid).ok().map(Pid::from_raw);
        Self {
            pgid: Mutex::new(pid),
        }
    }

    /// Sends SIGKILL to the group, once.
    pub(crate) fn kill(&self) {
        let pgid = self
            .pgid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(pgid) = pgid {
            // ESRCH (the group is gone already) is the outcome we want anyway.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last lines a server wrote on stderr.
#[derive(Clone, Debug, Default)]
pub(crate) struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl StderrTail {
    /// Reads `stderr` to its end in a task of its own, keeping the last lines and logging each
    /// at debug level. The task, whose handle is returned, ends when the server's stderr
    /// closes.
    pub(crate) fn follow(server: &str, stderr: ChildStderr) -> (Self, JoinHandle<()>) {
        let tail = StderrTail::default();
        let lines = Arc::clone(&tail.lines);
        let server = server.to_owned();
        let reader = tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(mut line)) = reader.next_line().await {
                tracing::debug!(server = %server, "mcp server stderr: {line}");
                if line.len() > STDERR_LINE_LEN {
                    let mut end = STDERR_LINE_LEN;
                    while !line.is_char_boundary(end) {
                        end -= 1;
                    }
                    line.truncate(end);
                    line.push('…');
                }
                let mut lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
                if lines.len() == STDERR_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        });
        (tail, reader)
    }

    /// The kept lines, joined, or `None` when the server wrote nothing.
    pub(crate) fn text(&self) -> Option<String> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        (!lines.is_empty()).then(|| lines.iter().cloned().collect::<Vec<_>>().join("\n"))
    }
}
