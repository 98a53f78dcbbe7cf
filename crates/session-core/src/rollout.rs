//! The rollout: an append-only JSONL journal of a session, and reading it back to resume.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use turnkit_protocol::{
    ApprovalPolicy, Event, EventMsg, ResponseItem, SandboxPolicy, TokenUsageInfo, UserInput,
};

use crate::Error;

/// One line of a rollout file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RolloutRecord {
    /// The first line: which session this is.
    SessionMeta {
        /// The session's id.
        session_id: String,
        /// The session's working directory.
        cwd: PathBuf,
        /// The rollout format's version.
        version: u32,
        /// The session that started this one, when it is a sub-session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_session_id: Option<String>,
    },
    /// User input the session accepted, written before it is acted on.
    UserInput {
        /// The submission that carried it.
        id: String,
        /// The input.
        items: Vec<UserInput>,
    },
    /// An item appended to the history.
    ResponseItem {
        /// The item.
        item: ResponseItem,
    },
    /// The history was replaced wholesale (compaction, resume of a fork).
    HistoryReplaced {
        /// The new history.
        items: Vec<ResponseItem>,
    },
    /// User input was handed to a task: it started a turn or a running turn took it.
    InputStarted {
        /// The submissions whose input it was.
        ids: Vec<String>,
    },
    /// User input that never ran was reported to the client (at shutdown or on resume).
    InputNotRun {
        /// The submissions whose input it was.
        ids: Vec<String>,
    },
    /// An event the session sent.
    Event {
        /// The event.
        event: Event,
    },
    /// The policies the session runs under from this line on: written when it is created and
    /// when a resume changes them, and read back by a resume that sets none of its own.
    Policies {
        /// When the session asks before it acts.
        approval_policy: ApprovalPolicy,
        /// What its commands may touch.
        sandbox_policy: SandboxPolicy,
    },
    /// A record of a type this build does not know.
    #[serde(other)]
    Unknown,
}

/// The rollout format written by this build.
///
/// Version 2 added `input_started` and `input_not_run`; only from it on can a resume tell
/// which journalled input never ran.
pub(crate) const ROLLOUT_VERSION: u32 = 2;

/// Buffered lines are written once this many bytes are waiting, even without a flush.
const WRITE_THRESHOLD: usize = 64 * 1024;

enum Command {
    Line(Vec<u8>),
    Flush(oneshot::Sender<Result<(), String>>),
    /// Write what is queued, close the file (releasing its lock), then answer.
    Close(oneshot::Sender<()>),
}

/// Appends records to a rollout file from a tokio task, fsyncing on request.
#[derive(Clone)]
pub(crate) struct RolloutWriter {
    tx: mpsc::UnboundedSender<Command>,
}

impl RolloutWriter {
    /// Starts the writer task over `file`, which is open for appending.
    pub(crate) fn start(file: std::fs::File, runtime: &tokio::runtime::Handle) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(write_loop(file, rx));
        Self { tx }
    }

    /// Queues a record; it reaches the disk at the next flush at the latest.
    pub(crate) fn append(&self, record: &RolloutRecord) {
        match serde_json::to_vec(record) {
            Ok(mut line) => {
                line.push(b'\n');
                let _ = self.tx.send(Command::Line(line));
            }
            Err(error) => tracing::error!(%error, "a rollout record did not serialise"),
        }
    }

    /// Writes everything queued so far and fsyncs it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not undo the flush; the writer finishes it regardless.
    pub(crate) async fn flush(&self) -> Result<(), String> {
        let (reply_tx, reply_rx) = oneshot::channel();
        if self.tx.send(Command::Flush(reply_tx)).is_err() {
            return Err("the rollout writer has stopped".to_owned());
        }
        reply_rx
            .await
            .unwrap_or_else(|_| Err("the rollout writer has stopped".to_owned()))
    }

    /// Closes the file after writing and syncing what is queued; records appended later are lost.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not stop the close.
    pub(crate) async fn close(&self) {
        let (reply_tx, reply_rx) = oneshot::channel();
        if self.tx.send(Command::Close(reply_tx)).is_ok() {
            let _ = reply_rx.await;
        }
    }
}

async fn write_loop(file: std::fs::File, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut file = Some(file);
    let mut buffer = Vec::new();
    let mut failure: Option<String> = None;
    let mut open = true;
    let mut closing: Option<oneshot::Sender<()>> = None;
    while open {
        let mut waiting = Vec::new();
        match rx.recv().await {
            Some(command) => take(command, &mut buffer, &mut waiting, &mut closing),
            None => open = false,
        }
        // Take everything already queued so one write (and one fsync) serves it all.
        loop {
            if closing.is_some() {
                open = false;
                break;
            }
            match rx.try_recv() {
                Ok(command) => take(command, &mut buffer, &mut waiting, &mut closing),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let sync = !waiting.is_empty() || closing.is_some();
        if sync || !open || buffer.len() >= WRITE_THRESHOLD {
            let Some(mut current) = file.take() else {
                break;
            };
            let data = std::mem::take(&mut buffer);
            let earlier_failure = failure.clone();
            // The blocking thread answers the waiting flushes itself, as soon as the data is
            // synced: one wake-up fewer on the path every task end waits on.
            let written = tokio::task::spawn_blocking(move || {
                let result = current
                    .write_all(&data)
                    .and_then(|()| if sync { current.sync_data() } else { Ok(()) });
                let failure =
                    earlier_failure.or_else(|| result.err().map(|error| error.to_string()));
                for reply in waiting {
                    let _ = reply.send(failure.clone().map_or(Ok(()), Err));
                }
                (current, failure)
            })
            .await;
            match written {
                Ok((current, outcome)) => {
                    file = Some(current);
                    failure = outcome;
                }
                // The closure panicked (it does not); its repliers were dropped, which the
                // waiting flushes read as "the writer has stopped".
                Err(_) => failure = Some("the rollout write was cancelled".to_owned()),
            }
            if file.is_none() {
                break;
            }
        }
    }
    drop(file);
    if let Some(closed) = closing {
        let _ = closed.send(());
    }
}

fn take(
    command: Command,
    buffer: &mut Vec<u8>,
    waiting: &mut Vec<oneshot::Sender<Result<(), String>>>,
    closing: &mut Option<oneshot::Sender<()>>,
) {
    match command {
        Command::Line(line) => buffer.extend_from_slice(&line),
        Command::Flush(reply) => waiting.push(reply),
        Command::Close(reply) => *closing = Some(reply),
    }
}

/// Creates a new rollout file, locked for this session; fails if one exists at `path`.
///
/// The directory is synced after the file is created, so the file survives a crash.
pub(crate) fn create(path: &Path) -> Result<std::fs::File, Error> {
    let io_error = |source| Error::RolloutIo {
        path: path.to_owned(),
        source,
    };
    let parent = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty());
    if let Some(parent) = parent {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .map_err(io_error)?;
    lock(path, &file)?;
    std::fs::File::open(parent.unwrap_or(Path::new(".")))
        .and_then(|directory| directory.sync_all())
        .map_err(io_error)?;
    Ok(file)
}

/// Takes the advisory lock that keeps a second writer (another session, another process) off
/// the file; it lasts as long as the file stays open.
fn lock(path: &Path, file: &std::fs::File) -> Result<(), Error> {
    // Through the crate's trait, not std's `File::try_lock`, which is newer than our MSRV.
    match fs4::FileExt::try_lock(file) {
        Ok(()) => Ok(()),
        Err(fs4::TryLockError::WouldBlock) => Err(Error::RolloutLocked {
            path: path.to_owned(),
        }),
        Err(fs4::TryLockError::Error(source)) => Err(Error::RolloutIo {
            path: path.to_owned(),
            source,
        }),
    }
}

/// What a rollout says, read back for resuming.
#[derive(Debug)]
pub(crate) struct Resumed {
    pub(crate) session_id: String,
    pub(crate) history: Vec<ResponseItem>,
    /// The tally of the last `token_count` event.
    pub(crate) token_usage: Option<TokenUsageInfo>,
    pub(crate) next_seq: u64,
    /// The highest `sub-N` the session generated, so ids it makes after resuming stay unique.
    pub(crate) last_submission: u64,
    /// The highest `approval-N` the tree asked, so approval ids never repeat after resuming.
    pub(crate) last_approval: u64,
    pub(crate) warnings: Vec<String>,
    /// Turns with a `task_started` and no terminal event: the session ended under them.
    pub(crate) open_turns: Vec<String>,
    /// Journalled input that no task took and no report named, in the order it came.
    pub(crate) unrun_input: Vec<(String, Vec<UserInput>)>,
    /// The policies of the last `policies` record; `None` for a rollout written before they
    /// were recorded.
    pub(crate) policies: Option<(ApprovalPolicy, SandboxPolicy)>,
    pub(crate) file: std::fs::File,
}

/// Reads every record of a rollout; lines that do not parse are skipped and described.
///
/// Returns the records and one warning per skipped line.
pub fn read_rollout(path: &Path) -> Result<(Vec<RolloutRecord>, Vec<String>), Error> {
    let file = open_existing(path, false)?;
    let (records, warnings, _) = parse(path, file)?;
    Ok((records, warnings))
}

fn open_existing(path: &Path, write: bool) -> Result<std::fs::File, Error> {
    std::fs::OpenOptions::new()
        .read(true)
        .append(write)
        .open(path)
        .map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                Error::RolloutMissing {
                    path: path.to_owned(),
                }
            } else {
                Error::RolloutIo {
                    path: path.to_owned(),
                    source,
                }
            }
        })
}

fn parse(
    path: &Path,
    file: std::fs::File,
) -> Result<(Vec<RolloutRecord>, Vec<String>, bool), Error> {
    let io_error = |source| Error::RolloutIo {
        path: path.to_owned(),
        source,
    };
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut line = Vec::new();
    let mut number = 0usize;
    let mut ends_with_newline = true;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io_error)?;
        if read == 0 {
            break;
        }
        number += 1;
        let complete = line.last() == Some(&b'\n');
        ends_with_newline = complete;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<RolloutRecord>(text) {
            Ok(record) => records.push(record),
            Err(error) => {
                let what = if complete {
                    "is corrupt"
                } else {
                    "was cut short (torn write)"
                };
                warnings.push(format!(
                    "rollout line {number} {what} and was skipped: {error}; everything before it was restored"
                ));
            }
        }
    }
    if !matches!(records.first(), Some(RolloutRecord::SessionMeta { .. })) {
        return Err(Error::NotARollout {
            path: path.to_owned(),
        });
    }
    Ok((records, warnings, ends_with_newline))
}

/// Opens and locks a rollout for appending, with its records and the warnings about lines
/// that could not be read.
fn open_for_append(path: &Path) -> Result<(std::fs::File, Vec<RolloutRecord>, Vec<String>), Error> {
    let mut file = open_existing(path, true)?;
    lock(path, &file)?;
    let reader = file.try_clone().map_err(|source| Error::RolloutIo {
        path: path.to_owned(),
        source,
    })?;
    let (records, warnings, ends_with_newline) = parse(path, reader)?;
    if !ends_with_newline {
        // A torn last line stays in the file as it was; new records start on a line of their own.
        file.write_all(b"\n").map_err(|source| Error::RolloutIo {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok((file, records, warnings))
}

/// Opens a rollout for resuming: rebuilds the history and prepares the file for appending.
pub(crate) fn resume(path: &Path) -> Result<Resumed, Error> {
    let (file, records, warnings) = open_for_append(path)?;
    let mut session_id = String::new();
    let mut version = 0;
    let mut history = Vec::new();
    let mut token_usage = None;
    let mut next_seq = 0;
    let mut last_submission = 0;
    let mut last_approval = 0;
    let mut open_turns: Vec<String> = Vec::new();
    let mut inputs: Vec<(String, Vec<UserInput>)> = Vec::new();
    let mut settled: HashSet<String> = HashSet::new();
    let mut policies = None;
    let mut note_id = |id: &str| {
        if let Some(number) = id
            .strip_prefix("sub-")
            .and_then(|number| number.parse::<u64>().ok())
        {
            last_submission = last_submission.max(number);
        }
    };
    for record in records {
        match record {
            RolloutRecord::SessionMeta {
                session_id: id,
                version: written,
                ..
            } => {
                if session_id.is_empty() {
                    session_id = id;
                    version = written;
                }
            }
            RolloutRecord::ResponseItem { item } => history.push(item),
            RolloutRecord::HistoryReplaced { items } => history = items,
            RolloutRecord::Event { event } => {
                next_seq = next_seq.max(event.seq + 1);
                note_id(&event.id);
                if let EventMsg::TokenCount(info) = &event.msg {
                    token_usage = Some(*info);
                }
                if let EventMsg::ApprovalRequested { approval_id, .. } = &event.msg
                    && let Some(number) = approval_id
                        .strip_prefix("approval-")
                        .and_then(|number| number.parse::<u64>().ok())
                {
                    last_approval = last_approval.max(number);
                }
                if matches!(event.msg, EventMsg::TaskStarted { .. }) {
                    settled.insert(event.id.clone());
                    open_turns.push(event.id);
                } else if event.msg.is_terminal() {
                    open_turns.retain(|id| *id != event.id);
                }
            }
            RolloutRecord::UserInput { id, items } => {
                note_id(&id);
                inputs.push((id, items));
            }
            RolloutRecord::InputStarted { ids } | RolloutRecord::InputNotRun { ids } => {
                settled.extend(ids);
            }
            RolloutRecord::Policies {
                approval_policy,
                sandbox_policy,
            } => policies = Some((approval_policy, sandbox_policy)),
            RolloutRecord::Unknown => {}
        }
    }
    // Before version 2 a rollout did not say which input a running turn took.
    let unrun_input = if version >= 2 {
        inputs
            .into_iter()
            .filter(|(id, _)| !settled.contains(id))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Resumed {
        session_id,
        history,
        token_usage,
        next_seq,
        last_submission,
        last_approval,
        warnings,
        open_turns,
        unrun_input,
        policies,
        file,
    })
}
