//! What an undo did, as it goes, and how that is told to the user and to the model.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use turnkit_git_snapshot::{Conflict, ConflictReason, UndoReport};
use turnkit_protocol::UndoCompleted;

/// How many paths a message names before it says "and N more".
const LISTED_IN_MESSAGE: usize = 20;
/// How many paths the model's message names per list.
const LISTED_FOR_MODEL: usize = 50;

/// What an undo has done so far; shared by the run and the abort hook.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Whether the undo got as far as a plan.
    pub(crate) planned: bool,
    pub(crate) restored: Vec<PathBuf>,
    pub(crate) deleted: Vec<PathBuf>,
    pub(crate) already_undone: Vec<PathBuf>,
    pub(crate) conflicts: BTreeMap<PathBuf, ConflictReason>,
    pub(crate) failed: BTreeMap<PathBuf, String>,
    /// Paths planned and not yet attempted, in plan order.
    pub(crate) pending: VecDeque<PathBuf>,
    /// Paths attempted and left untouched because the undo was cancelled.
    pub(crate) not_done: Vec<PathBuf>,
    /// The path being undone right now, whose outcome is unknown if the run is cut off.
    pub(crate) in_flight: Option<PathBuf>,
}

impl Tally {
    /// Takes in the plan's conflicts and paths already as before, and the steps to come.
    pub(crate) fn plan(
        &mut self,
        conflicts: &[Conflict],
        already_undone: &[PathBuf],
        steps: Vec<PathBuf>,
    ) {
        self.planned = true;
        self.conflicts
            .extend(conflicts.iter().map(|c| (c.path.clone(), c.reason)));
        self.already_undone.extend_from_slice(already_undone);
        self.pending = steps.into();
    }

    /// Marks `path` as being undone now.
    pub(crate) fn begin(&mut self, path: &Path) {
        // Steps run in plan order, so the path is at the front.
        if self.pending.front().is_some_and(|front| front == path) {
            self.pending.pop_front();
        } else {
            self.pending.retain(|pending| pending != path);
        }
        self.in_flight = Some(path.to_path_buf());
    }

    /// Takes in what undoing the path in flight did.
    pub(crate) fn absorb(&mut self, report: UndoReport) {
        self.in_flight = None;
        self.restored.extend(report.restored);
        self.deleted.extend(report.deleted);
        self.already_undone.extend(report.already_undone);
        self.conflicts
            .extend(report.conflicts.into_iter().map(|c| (c.path, c.reason)));
        self.failed
            .extend(report.failed.into_iter().map(|f| (f.path, f.message)));
        self.not_done.extend(report.not_done);
    }

    /// Records that undoing the path in flight failed.
    pub(crate) fn fail_in_flight(&mut self, message: String) {
        if let Some(path) = self.in_flight.take() {
            self.failed.insert(path, message);
        }
    }

    fn changed_any(&self) -> bool {
        !self.restored.is_empty() || !self.deleted.is_empty()
    }

    fn untouched(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self.pending.iter().chain(&self.not_done).cloned().collect();
        paths.sort();
        paths
    }
}

/// How an undo of a turn ended.
#[derive(Debug)]
pub(crate) enum End {
    /// Every planned path was attempted.
    Finished,
    /// The run saw its cancellation token and stopped between files.
    Cancelled,
    /// The run was stopped without getting to report; the abort hook reports for it.
    CutOff,
    /// An error stopped the undo; the message says what and why.
    Failed(String),
}

/// The account of one undo of one turn.
pub(crate) struct Summary<'a> {
    pub(crate) turn_id: &'a str,
    pub(crate) tally: &'a Tally,
    pub(crate) end: End,
}

impl Summary<'_> {
    /// Whether the turn's changes are all reverted, or left alone as conflicts, so the next
    /// undo moves on to the turn before.
    ///
    /// An undo that changed nothing because every path conflicts leaves the turn unmarked: the
    /// next undo reports the same conflicts instead of silently skipping a turn whose changes
    /// are all still there.
    pub(crate) fn marks_undone(&self) -> bool {
        let tally = self.tally;
        matches!(self.end, End::Finished)
            && tally.planned
            && tally.failed.is_empty()
            && tally.untouched().is_empty()
            && (tally.changed_any() || tally.conflicts.is_empty())
    }

    /// Whether the undo did everything it set out to, with nothing left alone.
    fn success(&self) -> bool {
        self.marks_undone() && self.tally.conflicts.is_empty()
    }

    /// The `undo_completed` payload.
    pub(crate) fn completed(&self) -> UndoCompleted {
        UndoCompleted {
            success: self.success(),
            message: self.message(),
            restored: sorted_strings(&self.tally.restored),
            deleted: sorted_strings(&self.tally.deleted),
            conflicts: self.tally.conflicts.keys().map(|p| display(p)).collect(),
        }
    }

    fn message(&self) -> String {
        let tally = self.tally;
        let turn = self.turn_id;
        let mut parts = Vec::new();
        if !tally.conflicts.is_empty() {
            let listed = list(
                tally
                    .conflicts
                    .iter()
                    .map(|(path, reason)| format!("{} ({})", display(path), describe(*reason))),
                LISTED_IN_MESSAGE,
            );
            parts.push(format!(
                "left {} of turn {turn} alone: {listed}",
                files(tally.conflicts.len())
            ));
        }
        if !tally.failed.is_empty() {
            let listed = list(
                tally
                    .failed
                    .iter()
                    .map(|(path, message)| format!("{} ({message})", display(path))),
                LISTED_IN_MESSAGE,
            );
            parts.push(format!(
                "could not undo {}: {listed}",
                files(tally.failed.len())
            ));
        }
        let done = counts(tally);
        let untouched = tally.untouched();
        match &self.end {
            End::Finished if parts.is_empty() && tally.changed_any() => {
                parts.push(format!("undid the file changes of turn {turn}: {done}"));
            }
            End::Finished if parts.is_empty() => parts.push(format!(
                "nothing left to undo for turn {turn}: the {} it changed {} already as before it",
                files(tally.already_undone.len()),
                if tally.already_undone.len() == 1 { "is" } else { "are" },
            )),
            End::Finished if tally.changed_any() => parts.push(format!("undid the rest: {done}")),
            End::Finished => parts.push("nothing else was changed".to_owned()),
            End::Cancelled | End::CutOff => {
                let mut stopped = if tally.planned {
                    format!("undo of turn {turn} was stopped: {done}")
                } else {
                    format!("undo of turn {turn} was stopped before any file was changed")
                };
                if !untouched.is_empty() {
                    let _ = write!(
                        stopped,
                        "; {} still {} the turn's changes: {}",
                        files(untouched.len()),
                        if untouched.len() == 1 { "has" } else { "have" },
                        list(untouched.iter().map(|p| display(p)), LISTED_IN_MESSAGE)
                    );
                }
                if let Some(path) = &tally.in_flight {
                    let _ = write!(
                        stopped,
                        "; whether {} was restored is unknown",
                        display(path)
                    );
                }
                stopped.push_str(" (each file is either fully restored or untouched)");
                parts.push(stopped);
            }
            End::Failed(error) if tally.changed_any() => parts.push(format!(
                "undo of turn {turn} failed: {error}; before that it {done}; {} still {} the turn's changes",
                files(untouched.len()),
                if untouched.len() == 1 { "has" } else { "have" },
            )),
            End::Failed(error) => parts.push(format!(
                "cannot undo turn {turn}: {error}; nothing was changed"
            )),
        }
        parts.join("; ")
    }

    /// The model-visible note of what the undo changed, when it changed anything or confirmed
    /// that the turn's changes are gone.
    pub(crate) fn developer_text(&self) -> Option<String> {
        let tally = self.tally;
        let complete = self.marks_undone();
        if !tally.changed_any() && !complete {
            return None;
        }
        let turn = self.turn_id;
        let mut text = if complete && !tally.changed_any() {
            format!(
                "The file changes of an earlier turn ({turn}) had already been reverted in the \
                 working tree; the user's undo confirmed it."
            )
        } else if complete {
            format!(
                "The user undid the file changes of an earlier turn ({turn}); the working tree \
                 no longer has them."
            )
        } else {
            format!(
                "The user started undoing the file changes of an earlier turn ({turn}) but it \
                 stopped partway: only some of that turn's changes were reverted."
            )
        };
        let mut section = |title: &str, paths: Vec<String>| {
            if !paths.is_empty() {
                let _ = write!(
                    text,
                    "\n- {title}: {}",
                    list(paths.into_iter(), LISTED_FOR_MODEL)
                );
            }
        };
        section(
            "restored to their content before that turn",
            sorted_strings(&tally.restored),
        );
        section(
            "deleted (that turn created them)",
            sorted_strings(&tally.deleted),
        );
        section(
            "left as the user has them now (changed after that turn)",
            tally.conflicts.keys().map(|p| display(p)).collect(),
        );
        let mut kept: Vec<PathBuf> = tally.untouched();
        kept.extend(tally.failed.keys().cloned());
        kept.extend(tally.in_flight.iter().cloned());
        section("still as that turn left them", sorted_strings(&kept));
        text.push_str(
            "\nDo not assume those edits still exist; read the files again before relying on them.",
        );
        Some(text)
    }
}

/// The message of an undo that found no turn to undo.
pub(crate) fn nothing_to_undo(hint: Option<&str>) -> UndoCompleted {
    let mut message = "nothing to undo: no turn with file snapshots in this session's history (a \
                       turn takes them when it first changes files in a git repository)"
        .to_owned();
    if let Some(hint) = hint {
        message.push_str("; ");
        message.push_str(hint);
    }
    UndoCompleted {
        success: false,
        message,
        ..UndoCompleted::default()
    }
}

fn counts(tally: &Tally) -> String {
    match (tally.restored.len(), tally.deleted.len()) {
        (0, 0) => "nothing was changed".to_owned(),
        (restored, 0) => format!("restored {}", files(restored)),
        (0, deleted) => format!("deleted {}", files(deleted)),
        (restored, deleted) => format!(
            "restored {} and deleted {}",
            files(restored),
            files(deleted)
        ),
    }
}

fn files(count: usize) -> String {
    if count == 1 {
        "1 file".to_owned()
    } else {
        format!("{count} files")
    }
}

fn describe(reason: ConflictReason) -> &'static str {
    match reason {
        ConflictReason::ChangedSince => "changed since the turn",
        ConflictReason::Ignored => "ignored by git",
        ConflictReason::Submodule => "a submodule",
        ConflictReason::UnsafePath => "not a plain path inside the repository",
        ConflictReason::NotCaptured => "left out of the snapshots",
        ConflictReason::Blocked => "something else stands in its way",
        ConflictReason::Unsupported => "cannot be restored on this platform",
        _ => "left alone",
    }
}

fn list(items: impl Iterator<Item = String>, limit: usize) -> String {
    let items: Vec<String> = items.collect();
    if items.len() <= limit {
        return items.join(", ");
    }
    format!(
        "{} and {} more",
        items[..limit].join(", "),
        items.len() - limit
    )
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn sorted_strings(paths: &[PathBuf]) -> Vec<String> {
    let mut strings: Vec<String> = paths.iter().map(|p| display(p)).collect();
    strings.sort();
    strings.dedup();
    strings
}
