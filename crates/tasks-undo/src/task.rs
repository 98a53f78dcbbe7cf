//! [`UndoTask`]: the `undo` task kind, and its [`registration`].

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use turnkit_git_snapshot::{OpenOptions, Repository, apply_undo, plan_undo};
use turnkit_protocol::{EventMsg, TaskKind, UserInput};
use turnkit_session_core::{
    CancellationToken, SessionTask, TaskContext, TaskRegistration, TaskResult,
};

use crate::history::{developer_message, find_undoable_turn, undone_marker};
use crate::report::{End, Summary, Tally, nothing_to_undo};
use crate::{Error, UndoableTurn};

/// How long an interrupted undo may take to stop by itself.
///
/// Undo checks its cancellation token between files and each file is written atomically, so it
/// normally stops at once; the grace period only has to cover finishing the write and rename
/// of one large file.
pub const GRACE_PERIOD: Duration = Duration::from_secs(2);

/// Registers the `undo` kind ([`TaskKind::UNDO`], run by `Op::Undo`) with git's defaults.
pub fn registration() -> TaskRegistration {
    registration_with(OpenOptions::default())
}

/// Registers the `undo` kind, running git as `options` say (program, extra environment).
pub fn registration_with(options: OpenOptions) -> TaskRegistration {
    TaskRegistration::new(TaskKind::UNDO, move |_op| {
        let task: Arc<dyn SessionTask> = Arc::new(UndoTask::with_open_options(options.clone()));
        Ok(task)
    })
    .grace_period(GRACE_PERIOD)
}

/// Undoes the file changes of the most recent turn that has a `before` and an `after` ghost
/// snapshot and has not been undone yet.
///
/// The task sends `undo_started`, then exactly one `undo_completed` saying what it restored,
/// deleted and left alone, also when it is interrupted: the run reports when it stops by
/// itself, and the abort hook reports for a run that was stopped before it could. Paths changed
/// since the turn are conflicts, reported and left as they are; the rest is restored one file
/// at a time, each atomically. Afterwards it records in the history an `undone` marker (when
/// the turn is fully dealt with, so the next undo moves on to the turn before) and a message
/// telling the model which of its edits are gone.
#[derive(Debug)]
pub struct UndoTask {
    options: OpenOptions,
    progress: Mutex<Progress>,
}

#[derive(Debug)]
enum Progress {
    /// Nothing announced yet: no `undo_started`, so no `undo_completed` is owed.
    NotStarted,
    /// `undo_started` is out; one `undo_completed` is owed.
    Running(Box<Running>),
    /// `undo_completed` is out.
    Reported,
}

#[derive(Debug)]
struct Running {
    /// The id of the turn being undone; `None` when no turn was found.
    turn_id: Option<String>,
    /// The commit of the turn's `before` snapshot; `None` when its snapshots cannot be read.
    before_commit: Option<String>,
    tally: Tally,
}

impl Default for UndoTask {
    fn default() -> Self {
        Self::with_open_options(OpenOptions::default())
    }
}

impl UndoTask {
    /// An undo task that runs git with default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// An undo task that runs git as `options` say.
    pub fn with_open_options(options: OpenOptions) -> Self {
        Self {
            options,
            progress: Mutex::new(Progress::NotStarted),
        }
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tally(&self, update: impl FnOnce(&mut Tally)) {
        if let Progress::Running(running) = &mut *self.progress() {
            update(&mut running.tally);
        }
    }

    /// Sends `undo_started` and owes an `undo_completed` from now on.
    fn start(&self, ctx: &TaskContext, turn_id: Option<&str>, before_commit: Option<String>) {
        let mut progress = self.progress();
        if !matches!(*progress, Progress::NotStarted) {
            return;
        }
        let message = turn_id.map(|turn_id| format!("Undoing the file changes of turn {turn_id}"));
        ctx.send_event(EventMsg::UndoStarted { message });
        *progress = Progress::Running(Box::new(Running {
            turn_id: turn_id.map(str::to_owned),
            before_commit,
            tally: Tally::default(),
        }));
    }

    /// Records the outcome in the history and sends the one `undo_completed`, unless it has
    /// been sent already.
    fn finish(&self, ctx: &TaskContext, end: End) {
        let mut progress = self.progress();
        let Progress::Running(running) = std::mem::replace(&mut *progress, Progress::Reported)
        else {
            return;
        };
        let Running {
            turn_id,
            before_commit,
            tally,
        } = *running;
        let Some(turn_id) = turn_id else {
            // Cut off while looking for a hint: the search itself had found nothing.
            ctx.send_event(EventMsg::UndoCompleted(nothing_to_undo(None)));
            return;
        };
        let summary = Summary {
            turn_id: &turn_id,
            tally: &tally,
            end,
        };
        let mut items = Vec::new();
        if let Some(commit) = before_commit
            && summary.marks_undone()
        {
            items.push(undone_marker(commit, &turn_id));
        }
        if let Some(text) = summary.developer_text() {
            items.push(developer_message(text));
        }
        // The history is updated first, so a client that reads it on `undo_completed` sees it.
        ctx.record_items(items);
        let completed = summary.completed();
        tracing::debug!(
            turn.id = %turn_id,
            success = completed.success,
            restored = completed.restored.len(),
            deleted = completed.deleted.len(),
            conflicts = completed.conflicts.len(),
            "undo completed"
        );
        ctx.send_event(EventMsg::UndoCompleted(completed));
    }

    /// Reports that there is no turn to undo, with a hint when the directory cannot have one.
    async fn report_nothing(&self, ctx: &TaskContext, cancellation_token: &CancellationToken) {
        self.start(ctx, None, None);
        let opened =
            Repository::open_with(ctx.cwd(), self.options.clone(), cancellation_token).await;
        let hint = match opened {
            Err(turnkit_git_snapshot::Error::NotARepository { .. }) => Some(format!(
                "`{}` is not inside a git repository, so its turns take no snapshots; run \
                 `git init` there to make later turns undoable",
                ctx.cwd().display()
            )),
            Err(error @ turnkit_git_snapshot::Error::GitNotFound { .. }) => Some(error.to_string()),
            _ => None,
        };
        let mut progress = self.progress();
        if matches!(*progress, Progress::Running(_)) {
            *progress = Progress::Reported;
            ctx.send_event(EventMsg::UndoCompleted(nothing_to_undo(hint.as_deref())));
        }
    }

    /// Plans and carries out the undo of `turn`, one path at a time, keeping the tally current
    /// so the abort hook can report exactly what was done if the run is cut off.
    async fn undo(
        &self,
        cwd: &Path,
        turn: &UndoableTurn,
        cancellation_token: &CancellationToken,
    ) -> End {
        let repo = match Repository::open_with(cwd, self.options.clone(), cancellation_token).await
        {
            Ok(repo) => repo,
            Err(error) if error.is_cancelled() => return End::Cancelled,
            Err(turnkit_git_snapshot::Error::NotARepository { .. }) => {
                return End::Failed(format!(
                    "`{}` is no longer inside a git repository, so the turn's snapshots cannot \
                     be read",
                    cwd.display()
                ));
            }
            Err(source) => {
                let error = Error::Open {
                    dir: cwd.to_path_buf(),
                    source,
                };
                return End::Failed(error.chain());
            }
        };
        let plan = match plan_undo(&repo, &turn.before, &turn.after, cancellation_token).await {
            Ok(plan) => plan,
            Err(error) if error.is_cancelled() => return End::Cancelled,
            Err(source) => {
                let error = Error::Plan {
                    turn_id: turn.turn_id.clone(),
                    source,
                };
                return End::Failed(error.chain());
            }
        };
        let mut single = plan;
        let steps = std::mem::take(&mut single.steps);
        let conflicts = std::mem::take(&mut single.conflicts);
        let already_undone = std::mem::take(&mut single.already_undone);
        self.tally(|tally| {
            tally.plan(
                &conflicts,
                &already_undone,
                steps.iter().map(|step| step.path.clone()).collect(),
            );
        });

        // One path per `apply_undo` call keeps the tally exact after every file, at the cost
        // of one `git hash-object` per file instead of one per undo.
        for step in steps {
            if cancellation_token.is_cancelled() {
                return End::Cancelled;
            }
            let path = step.path.clone();
            self.tally(|tally| tally.begin(&path));
            single.steps = vec![step];
            match apply_undo(&single, cancellation_token).await {
                Ok(report) => self.tally(|tally| tally.absorb(report)),
                Err(source) => {
                    let error = Error::Apply { path, source };
                    let message = error.chain();
                    self.tally(|tally| tally.fail_in_flight(message.clone()));
                    return End::Failed(message);
                }
            }
        }
        // A cancellation that came while the last file was written leaves that file out.
        let cut_short = match &*self.progress() {
            Progress::Running(running) => !running.tally.not_done.is_empty(),
            _ => false,
        };
        if cut_short {
            return End::Cancelled;
        }
        End::Finished
    }
}

#[async_trait]
impl SessionTask for UndoTask {
    fn kind(&self) -> TaskKind {
        TaskKind::UNDO
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        let turn = match find_undoable_turn(&ctx.history()) {
            Ok(Some(turn)) => turn,
            Ok(None) => {
                self.report_nothing(&ctx, &cancellation_token).await;
                return Ok(None);
            }
            Err(error) => {
                let turn_id = match &error {
                    Error::UnreadableSnapshot { turn_id, .. } => turn_id.as_str(),
                    _ => "(unknown)",
                };
                self.start(&ctx, Some(turn_id), None);
                self.finish(&ctx, End::Failed(error.chain()));
                return Ok(None);
            }
        };
        tracing::debug!(turn.id = %turn.turn_id, "undoing turn");
        let turn_id = turn.turn_id.clone();
        self.start(&ctx, Some(&turn_id), Some(turn.before.commit.to_string()));
        let end = self.undo(ctx.cwd(), &turn, &cancellation_token).await;
        self.finish(&ctx, end);
        Ok(None)
    }

    async fn abort(&self, ctx: Arc<TaskContext>) {
        // Only does anything when the run was stopped before it could report.
        self.finish(&ctx, End::CutOff);
    }
}
