//! Helpers shared by the exec tests: an independent check of a process group's members, and
//! a collector of live output chunks.

#![allow(
    dead_code,
    reason = "each test file uses a different subset of the helpers"
)]

use std::time::Duration;

use tokio::sync::mpsc;
use turnkit_exec::{OutputChunk, OutputStream};

/// Live (not zombie) processes in a process group, read from `/proc` by the testkit, apart
/// from the crate's own check so the tests do not trust what they test.
#[allow(unused_imports, reason = "not every test file checks process groups")]
pub(crate) use turnkit_testkit::process::live_group_members as live_members;

/// Whether the process `pid` is alive (exists and is not a zombie).
pub(crate) fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Polls `condition` every few milliseconds until it holds or `bound` passes; returns whether
/// it held. For waiting on the operating system (a signal delivered), never as a fixed sleep.
pub(crate) async fn eventually(bound: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Output received live, per stream and in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Received {
    pub(crate) chunks: Vec<OutputChunk>,
}

impl Received {
    pub(crate) fn stream(&self, stream: OutputStream) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|chunk| chunk.stream == stream)
            .flat_map(|chunk| chunk.bytes.iter().copied())
            .collect()
    }

    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stream(OutputStream::Stdout)).into_owned()
    }
}

/// Receives chunks until `done` holds for what has arrived, or the channel closes.
pub(crate) async fn receive_until(
    rx: &mut mpsc::Receiver<OutputChunk>,
    received: &mut Received,
    mut done: impl FnMut(&Received) -> bool,
) -> bool {
    while !done(received) {
        match rx.recv().await {
            Some(chunk) => received.chunks.push(chunk),
            None => return false,
        }
    }
    true
}

/// Receives every chunk until the channel closes.
pub(crate) async fn receive_all(mut rx: mpsc::Receiver<OutputChunk>) -> Received {
    let mut received = Received::default();
    while let Some(chunk) = rx.recv().await {
        received.chunks.push(chunk);
    }
    received
}
