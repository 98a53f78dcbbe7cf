//! Telling a failure the sandbox caused from any other: what a command prints when the
//! kernel refused it a write or a socket.

/// What a sandbox refused a command, as far as its output tells.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// A write (or a file creation) was refused.
    Write {
        /// The line of output that says so.
        line: String,
    },
    /// A network socket or connection was refused.
    Network {
        /// The line of output that says so.
        line: String,
    },
}

impl Refusal {
    /// The line of output the refusal was recognised by.
    pub fn line(&self) -> &str {
        match self {
            Self::Write { line } | Self::Network { line } => line,
        }
    }

    /// Why the command failed, worded for the user asked whether to rerun it unsandboxed.
    pub fn reason(&self) -> String {
        match self {
            Self::Write { line } => {
                format!("the sandbox refused a write outside the writable directories: {line}")
            }
            Self::Network { line } => format!("the sandbox refused network access: {line}"),
        }
    }
}

/// What the C library prints for the errors Landlock, the read-only mounts and the socket
/// filter cause (EACCES, EPERM, EROFS).
const WRITE_MARKERS: &[&str] = &[
    "permission denied",
    "operation not permitted",
    "read-only file system",
];

/// Words that say a line is about the network rather than a file.
const NETWORK_MARKERS: &[&str] = &[
    "socket",
    "connect",
    "network",
    "resolve host",
    "getaddrinfo",
    "name resolution",
    "/dev/tcp",
    "/dev/udp",
];

/// How many lines before a refusal message are read for words about the network.
const NETWORK_CONTEXT_LINES: usize = 3;

/// Whether a sandboxed command's failure looks like the sandbox refused it, and what.
///
/// `exit_code` is the command's (`None` when a signal ended it) and `output` its output;
/// a command that succeeded was not refused anything that mattered to it. The output is read
/// line by line for the messages the kernel's refusals produce; the first line that has one
/// decides, a network refusal when it or one of the three lines before it speaks of sockets,
/// connections or name resolution. This is a heuristic: a command that was denied something by ordinary file
/// permissions looks the same, which is why the turn asks the user rather than rerunning on
/// its own.
pub fn recognise_refusal(exit_code: Option<i32>, output: &str) -> Option<Refusal> {
    if exit_code == Some(0) {
        return None;
    }
    let lines: Vec<&str> = output.lines().collect();
    lines.iter().enumerate().find_map(|(index, line)| {
        let lower = line.to_lowercase();
        if !WRITE_MARKERS.iter().any(|marker| lower.contains(marker)) {
            return None;
        }
        // A traceback names the failed call a few lines before its error.
        let context = lines[index.saturating_sub(NETWORK_CONTEXT_LINES)..=index]
            .join("\n")
            .to_lowercase();
        let line = line.trim().to_owned();
        if NETWORK_MARKERS
            .iter()
            .any(|marker| context.contains(marker))
        {
            Some(Refusal::Network { line })
        } else {
            Some(Refusal::Write { line })
        }
    })
}
