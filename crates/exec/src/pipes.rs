//! The child's stdout and stderr: read in turns into shared chunks, with backpressure and a
//! bounded final drain.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut as _, BytesMut};
use tokio::process::{ChildStderr, ChildStdout};

use crate::{MAX_CHUNK_BYTES, OutputChunk, OutputStream};

/// How much a stream may still deliver once the drain timeout has passed, if it is there at
/// once; bounds the end of a run whose pipe a process outside the group keeps writing to.
const FINAL_DRAIN_LIMIT: usize = 1024 * 1024;

/// A read buffer with less room than this gets a fresh block, so reads stay large.
const MIN_READ_ROOM: usize = 8 * 1024;

/// The child's two pipes, read alternately so a flood on one never starves the other.
pub(crate) struct Pipes {
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
    pub(crate) fn new(stdout: Option<ChildStdout>, stderr: Option<ChildStderr>) -> Self {
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
    pub(crate) fn start_final_drain(&mut self) {
        if self.final_drain.is_none() {
            self.final_drain = Some([FINAL_DRAIN_LIMIT; 2]);
        }
    }

    pub(crate) fn count_final_drain(&mut self, stream: OutputStream, read: usize) {
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

    pub(crate) fn is_closed(&self) -> bool {
        self.stdout.is_none() && self.stderr.is_none()
    }

    pub(crate) fn close_stream(&mut self, stream: OutputStream) {
        match stream {
            OutputStream::Stdout => self.stdout = None,
            OutputStream::Stderr => self.stderr = None,
        }
    }

    pub(crate) fn buffer(&mut self, stream: OutputStream) -> &mut BytesMut {
        match stream {
            OutputStream::Stdout => &mut self.stdout_buffer,
            OutputStream::Stderr => &mut self.stderr_buffer,
        }
    }

    /// A stream whose previous chunk still waits for the live consumer is not read: that is
    /// the backpressure.
    pub(crate) fn set_blocked(&mut self, pending: &VecDeque<OutputChunk>) {
        self.stdout_blocked = pending
            .iter()
            .any(|chunk| chunk.stream == OutputStream::Stdout);
        self.stderr_blocked = pending
            .iter()
            .any(|chunk| chunk.stream == OutputStream::Stderr);
    }

    /// Reads from whichever readable stream is ready, the two taking turns; pending forever
    /// when neither can be read.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<(OutputStream, io::Result<usize>)> {
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
