//! Running the git CLI: one place that builds, spawns, cancels and reads every git child.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::Error;

/// Variables that would point git at another repository, index or object store than the one
/// this crate chose; a parent process (a git hook, an alias) may have set them.
const LOCATING_VARIABLES: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
    "GIT_SHALLOW_FILE",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
    "GIT_INTERNAL_SUPER_PREFIX",
];

/// The git program and the extra environment every git child gets.
#[derive(Clone, Debug)]
pub(crate) struct Git {
    program: Arc<PathBuf>,
    envs: Arc<Vec<(OsString, OsString)>>,
}

impl Git {
    pub(crate) fn new(program: PathBuf, envs: Vec<(OsString, OsString)>) -> Self {
        Self {
            program: Arc::new(program),
            envs: Arc::new(envs),
        }
    }

    /// A git command run in `cwd`.
    pub(crate) fn command(&self, cwd: &Path) -> GitCommand {
        GitCommand {
            git: self.clone(),
            cwd: cwd.to_path_buf(),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: None,
            allowed_codes: Vec::new(),
        }
    }
}

/// What a finished git child printed.
#[derive(Debug)]
pub(crate) struct GitOutput {
    pub(crate) stdout: Vec<u8>,
}

/// One git invocation, built up and then run or spawned.
#[derive(Debug)]
pub(crate) struct GitCommand {
    git: Git,
    cwd: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    allowed_codes: Vec<i32>,
}

impl GitCommand {
    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_os_string()));
        self
    }

    pub(crate) fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub(crate) fn envs(mut self, envs: &[(OsString, OsString)]) -> Self {
        self.envs.extend(envs.iter().cloned());
        self
    }

    pub(crate) fn stdin(mut self, data: Vec<u8>) -> Self {
        self.stdin = Some(data);
        self
    }

    /// Treats `code` as a normal exit besides 0 (for example `check-ignore`'s 1).
    pub(crate) fn allow_code(mut self, code: i32) -> Self {
        self.allowed_codes.push(code);
        self
    }

    /// The command line for error messages.
    pub(crate) fn describe(&self) -> String {
        let mut line = String::from("git");
        let mut skip_value = false;
        for arg in &self.args {
            if skip_value {
                skip_value = false;
                continue;
            }
            // Config overrides are noise in a message a person reads.
            if arg == "-c" {
                skip_value = true;
                continue;
            }
            line.push(' ');
            line.push_str(&arg.to_string_lossy());
        }
        line
    }

    fn build(&self, stdout: Stdio) -> Command {
        let mut command = Command::new(self.git.program.as_ref());
        command.current_dir(&self.cwd);
        for name in LOCATING_VARIABLES {
            command.env_remove(name);
        }
        // The user's own git must never trip over a lock this crate took, and git must never
        // stop to ask for a password.
        command.env("GIT_OPTIONAL_LOCKS", "0");
        command.env("GIT_TERMINAL_PROMPT", "0");
        command.env("GIT_NO_REPLACE_OBJECTS", "1");
        command.envs(self.git.envs.iter().map(|(key, value)| (key, value)));
        command.envs(self.envs.iter().map(|(key, value)| (key, value)));
        command.args(&self.args);
        command.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.stdout(stdout);
        command.stderr(Stdio::piped());
        command.kill_on_drop(true);
        command
    }

    fn spawn_error(&self, source: std::io::Error) -> Error {
        let program = self.git.program.as_ref().clone();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::GitNotFound { program, source }
        } else {
            Error::Spawn { program, source }
        }
    }

    pub(crate) fn failure(&self, status: ExitStatus, stderr: &[u8]) -> Error {
        Error::Git {
            command: self.describe(),
            status: status.to_string(),
            stderr: String::from_utf8_lossy(stderr).trim().to_owned(),
        }
    }

    pub(crate) fn unexpected(&self, detail: impl Into<String>) -> Error {
        Error::UnexpectedOutput {
            command: self.describe(),
            detail: detail.into(),
        }
    }

    /// Runs the command to its end and returns its output; a non-zero exit not allowed by
    /// [`GitCommand::allow_code`] is an [`Error::Git`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills the child. Cancelling `cancel` does the same and returns
    /// [`Error::Cancelled`].
    pub(crate) async fn run(mut self, cancel: &CancellationToken) -> Result<GitOutput, Error> {
        let input = self.stdin.take();
        let mut command = self.build(Stdio::piped());
        if input.is_none() {
            command.stdin(Stdio::null());
        } else {
            command.stdin(Stdio::piped());
        }
        let child = command.spawn().map_err(|e| self.spawn_error(e))?;
        Started {
            command: self,
            child,
        }
        .finish(input.unwrap_or_default(), cancel)
        .await
    }

    /// Spawns the command with its stdin held open, so that it does its own preparation (such
    /// as reading the index) while the caller works out what to feed it.
    ///
    /// Dropping the result kills the child.
    pub(crate) fn start(self) -> Result<Started, Error> {
        let child = self.spawn()?;
        Ok(Started {
            command: self,
            child,
        })
    }

    /// Spawns the command with piped stdin and stdout for the caller to stream.
    pub(crate) fn spawn(&self) -> Result<Child, Error> {
        let mut command = self.build(Stdio::piped());
        command.stdin(Stdio::piped());
        command.spawn().map_err(|e| self.spawn_error(e))
    }
}

/// A git child spawned by [`GitCommand::start`], waiting for its input.
#[derive(Debug)]
pub(crate) struct Started {
    command: GitCommand,
    child: Child,
}

impl Started {
    /// Feeds `input` to the child, closes its stdin and runs it to its end, like
    /// [`GitCommand::run`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills the child. Cancelling `cancel` does the same and returns
    /// [`Error::Cancelled`].
    pub(crate) async fn finish(
        self,
        input: Vec<u8>,
        cancel: &CancellationToken,
    ) -> Result<GitOutput, Error> {
        let Self { command, mut child } = self;
        let mut child_stdin = child.stdin.take();
        let feed = async move {
            if let Some(pipe) = child_stdin.as_mut() {
                // A child that exits early closes its end; its exit status tells the story.
                let _ = pipe.write_all(&input).await;
                let _ = pipe.shutdown().await;
            }
            drop(child_stdin);
        };
        let finish = async {
            let ((), output) = tokio::join!(feed, child.wait_with_output());
            output
        };
        let output = tokio::select! {
            output = finish => output.map_err(|e| Error::Spawn {
                program: command.git.program.as_ref().clone(),
                source: e,
            })?,
            () = cancel.cancelled() => return Err(Error::Cancelled),
        };
        let code = output.status.code().unwrap_or(-1);
        if !output.status.success() && !command.allowed_codes.contains(&code) {
            return Err(command.failure(output.status, &output.stderr));
        }
        Ok(GitOutput {
            stdout: output.stdout,
        })
    }
}

/// Splits NUL-terminated records, dropping the empty tail.
pub(crate) fn split_nul(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|byte| *byte == 0)
        .filter(|record| !record.is_empty())
}

/// Splits newline-terminated lines, dropping the empty tail.
pub(crate) fn split_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
}

/// The records of `cat-file --batch` output, in order: each header line
/// (`<oid> <type> <size>`, or `<name> missing`) with the content, `None` for a missing object.
pub(crate) fn batch_records(mut rest: &[u8]) -> Vec<(&[u8], Option<&[u8]>)> {
    let mut records = Vec::new();
    while !rest.is_empty() {
        let header_end = rest
            .iter()
            .position(|byte| *byte == b'\n')
            .unwrap_or(rest.len());
        let header = &rest[..header_end];
        rest = rest.get(header_end + 1..).unwrap_or_default();
        let size = header
            .rsplit(|byte| *byte == b' ')
            .next()
            .and_then(|size| std::str::from_utf8(size).ok())
            .and_then(|size| size.parse::<usize>().ok());
        match size {
            Some(size) if !header.ends_with(b" missing") => {
                let Some(content) = rest.get(..size) else {
                    break;
                };
                records.push((header, Some(content)));
                rest = rest.get(size + 1..).unwrap_or_default();
            }
            _ => records.push((header, None)),
        }
    }
    records
}
