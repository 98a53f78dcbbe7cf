//! What a run produces: live [`OutputChunk`]s, the retained [`CapturedOutput`], and the
//! final [`ExecOutput`] with its [`ExitStatus`].

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

/// Exit code a shell reports for a program it cannot find.
pub const EXIT_CODE_NOT_FOUND: i32 = 127;

/// Exit code a shell reports for a program it found but cannot execute.
pub const EXIT_CODE_NOT_EXECUTABLE: i32 = 126;

/// The largest [`OutputChunk`] a run produces, in bytes.
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// One of the child's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A piece of output as it was read from one stream: raw bytes, at most [`MAX_CHUNK_BYTES`].
///
/// Chunks of one stream arrive in order and, concatenated, are exactly what the child wrote.
/// `bytes` shares its memory with the retained output, so cloning and forwarding are cheap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputChunk {
    /// The stream the bytes came from.
    pub stream: OutputStream,
    /// The bytes, unchanged (not necessarily UTF-8, and not cut at line or character bounds).
    pub bytes: Bytes,
}

/// How the process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// This signal ended it.
    Signaled(i32),
}

impl ExitStatus {
    /// The exit code, when the process exited rather than being ended by a signal.
    pub fn code(self) -> Option<i32> {
        match self {
            Self::Exited(code) => Some(code),
            Self::Signaled(_) => None,
        }
    }

    /// The signal number that ended the process, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            Self::Exited(_) => None,
            Self::Signaled(signal) => Some(signal),
        }
    }

    /// Whether the process exited with code 0.
    pub fn success(self) -> bool {
        self == Self::Exited(0)
    }

    /// The signal's name, like `SIGKILL`, when a signal this platform knows ended the process.
    pub fn signal_name(self) -> Option<&'static str> {
        let signal = nix::sys::signal::Signal::try_from(self.signal()?).ok()?;
        Some(signal.as_str())
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.signal_name()) {
            (Self::Exited(code), _) => write!(f, "exit code {code}"),
            (Self::Signaled(signal), Some(name)) => write!(f, "killed by signal {signal} ({name})"),
            (Self::Signaled(signal), None) => write!(f, "killed by signal {signal}"),
        }
    }
}

/// Why the program never started; the run's outcome then carries the shell's exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnFailure {
    /// No such program (exit code 127).
    NotFound {
        /// The program as given.
        program: String,
    },
    /// The program exists but cannot be executed: no execute permission, or not an executable
    /// format (exit code 126).
    NotExecutable {
        /// The program as given.
        program: String,
    },
}

impl SpawnFailure {
    /// The exit code a shell reports for this failure: 127 or 126.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::NotFound { .. } => EXIT_CODE_NOT_FOUND,
            Self::NotExecutable { .. } => EXIT_CODE_NOT_EXECUTABLE,
        }
    }
}

impl fmt::Display for SpawnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { program } => write!(
                f,
                "{program}: command not found (check the spelling, or that it is installed and on PATH)"
            ),
            Self::NotExecutable { program } => write!(
                f,
                "{program}: permission denied (it is not executable; check its mode or run it with its interpreter)"
            ),
        }
    }
}

/// Retained output of one stream (or of both, interleaved): the head and the tail of what was
/// written, and how many bytes between them were cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapturedOutput {
    head: Vec<u8>,
    tail: Vec<u8>,
    omitted: u64,
}

impl CapturedOutput {
    pub(crate) fn from_parts(head: Vec<u8>, tail: Vec<u8>, omitted: u64) -> Self {
        Self {
            head,
            tail,
            omitted,
        }
    }

    /// A capture of `text`, whole: for output the run produces itself (a spawn failure).
    pub(crate) fn from_text(text: &str) -> Self {
        Self::from_parts(text.as_bytes().to_vec(), Vec::new(), 0)
    }

    /// The first bytes written, up to half the cap.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The last bytes written, up to half the cap; empty while everything fits in the head.
    pub fn tail(&self) -> &[u8] {
        &self.tail
    }

    /// How many bytes between the head and the tail were not kept.
    pub fn omitted_bytes(&self) -> u64 {
        self.omitted
    }

    /// How many bytes were written in all, kept or not.
    pub fn total_bytes(&self) -> u64 {
        self.omitted + self.head.len() as u64 + self.tail.len() as u64
    }

    /// How many bytes were kept (head and tail).
    pub fn retained_len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Whether bytes were cut.
    pub fn is_truncated(&self) -> bool {
        self.omitted > 0
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.total_bytes() == 0
    }

    /// The kept bytes, head then tail, with nothing marking a cut: the exact output when
    /// [`is_truncated`](Self::is_truncated) is false.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.retained_len());
        bytes.extend_from_slice(&self.head);
        bytes.extend_from_slice(&self.tail);
        bytes
    }

    /// The kept bytes as text (invalid UTF-8 replaced by U+FFFD), with a line like
    /// `[... 1234 bytes omitted ...]` where bytes were cut.
    ///
    /// At a cut, a character split by it is dropped rather than shown as replacement characters.
    pub fn to_string_lossy(&self) -> String {
        if !self.is_truncated() {
            return String::from_utf8_lossy(&self.to_bytes()).into_owned();
        }
        let head = trim_incomplete_end(&self.head);
        let tail = trim_continuation_start(&self.tail);
        let mut text = String::from_utf8_lossy(head).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("[... ");
        text.push_str(&self.omitted.to_string());
        text.push_str(" bytes omitted ...]\n");
        text.push_str(&String::from_utf8_lossy(tail));
        text
    }
}

/// Drops a multi-byte UTF-8 sequence that a cut left incomplete at the end of `bytes`.
fn trim_incomplete_end(bytes: &[u8]) -> &[u8] {
    let search_from = bytes.len().saturating_sub(3);
    for index in (search_from..bytes.len()).rev() {
        let byte = bytes[index];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue;
        }
        let needed = match byte {
            0b1100_0000..=0b1101_1111 => 2,
            0b1110_0000..=0b1110_1111 => 3,
            0b1111_0000..=0b1111_0111 => 4,
            _ => 1,
        };
        return if bytes.len() - index < needed {
            &bytes[..index]
        } else {
            bytes
        };
    }
    bytes
}

/// Drops the continuation bytes of a character whose start a cut removed.
fn trim_continuation_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|byte| **byte & 0b1100_0000 == 0b1000_0000)
        .count();
    &bytes[skip..]
}

/// How a run ended and what the command printed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecOutput {
    /// How the process ended. For a program that never started this is the shell's code:
    /// 127 (not found) or 126 (not executable), and [`spawn_failure`](Self::spawn_failure)
    /// says which.
    pub status: ExitStatus,
    /// Why the program never started, when it did not.
    pub spawn_failure: Option<SpawnFailure>,
    /// The child's process id, which is also its process group id; `None` when it never
    /// started (a [`SpawnFailure`], or a token cancelled before the run began).
    pub pid: Option<u32>,
    /// The timeout ran out and the process group was killed.
    pub timed_out: bool,
    /// The cancellation token fired before the run was over: the process group was killed or,
    /// when the process had already exited, the remaining output was no longer read.
    pub cancelled: bool,
    /// The timeout the command ran under, if any.
    pub timeout: Option<Duration>,
    /// Wall time from spawn until the run was over (process reaped, pipes done).
    pub duration: Duration,
    /// Retained standard output.
    pub stdout: CapturedOutput,
    /// Retained standard error.
    pub stderr: CapturedOutput,
    /// Both streams interleaved in the order their chunks were read.
    pub aggregated: CapturedOutput,
}

impl ExecOutput {
    /// The exit code, when the process exited rather than being ended by a signal.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal number that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Whether the command ran to completion and exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success() && !self.timed_out && !self.cancelled
    }

    /// Whether any retained output (stdout, stderr or aggregated) was cut to the cap.
    pub fn output_truncated(&self) -> bool {
        self.stdout.is_truncated() || self.stderr.is_truncated() || self.aggregated.is_truncated()
    }

    /// What a model should be shown: how the command ended, then the aggregated output.
    ///
    /// ```text
    /// Exit code: 1
    /// Output:
    /// error: no such file
    /// ```
    ///
    /// A timeout or cancellation gets its own line, a signal is named, and cut output says how
    /// much was cut, both in the `Output` line and where the cut is.
    pub fn formatted_output(&self) -> String {
        let mut text = String::new();
        self.write_formatted(&mut text)
            .expect("writing to a String cannot fail");
        text
    }

    fn write_formatted(&self, text: &mut String) -> fmt::Result {
        use fmt::Write as _;
        if self.timed_out {
            match self.timeout {
                Some(timeout) => writeln!(
                    text,
                    "Timed out after {timeout:?}; the command and its child processes were killed."
                )?,
                None => writeln!(
                    text,
                    "Timed out; the command and its child processes were killed."
                )?,
            }
        } else if self.cancelled {
            writeln!(
                text,
                "Cancelled; the command and its child processes were killed."
            )?;
        }
        match self.status {
            ExitStatus::Exited(code) => writeln!(text, "Exit code: {code}")?,
            ExitStatus::Signaled(_) => {
                let status = self.status.to_string();
                let mut chars = status.chars();
                if let Some(first) = chars.next() {
                    text.extend(first.to_uppercase());
                    text.push_str(chars.as_str());
                }
                text.push('\n');
            }
        }
        if self.aggregated.is_empty() {
            return writeln!(text, "Output: (none)");
        }
        if self.aggregated.is_truncated() {
            writeln!(
                text,
                "Output (truncated: {} of {} bytes omitted from the middle):",
                self.aggregated.omitted_bytes(),
                self.aggregated.total_bytes()
            )?;
        } else {
            writeln!(text, "Output:")?;
        }
        text.push_str(&self.aggregated.to_string_lossy());
        Ok(())
    }
}
