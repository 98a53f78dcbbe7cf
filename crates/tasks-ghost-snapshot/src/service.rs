//! [`GhostSnapshots`]: a session's snapshot service, shared by its turns and the snapshot task.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use tokio::sync::OnceCell;
use turnkit_git_snapshot::{PruneOptions, Repository, Snapshot, prune, snapshot};
use turnkit_protocol::EventMsg;
use turnkit_session_core::{CancellationToken, TaskContext, TaskError, TurnSnapshots};

use crate::GhostSnapshotConfig;
use crate::record::{Phase, record};
use crate::report;

/// How many turns' snapshot state is kept; a turn that never called `after_turn` (it was
/// aborted hard) is forgotten once this many newer turns have snapshotted.
const REMEMBERED_TURNS: usize = 8;

/// Ghost snapshots of one session's working tree: the session's [`TurnSnapshots`] service
/// and the state behind the `ghost_snapshot` task kind.
///
/// One instance belongs to one session (see [`install`](crate::install)): it opens the
/// repository around the session's directory the first time a turn is about to change files,
/// keeps it for the session, and remembers what it already told the user, so "snapshots are
/// unavailable here", "snapshots are slow here" and each left-out path are reported once.
///
/// A snapshot failure never fails the user's turn: it becomes a `warning` event and the turn
/// goes on without undo.
pub struct GhostSnapshots {
    config: GhostSnapshotConfig,
    repository: tokio::sync::Mutex<Slot>,
    turns: Mutex<VecDeque<(String, Arc<Turn>)>>,
    notices: Mutex<Notices>,
    pruned: AtomicBool,
}

/// The repository as far as this session knows it.
enum Slot {
    Unopened,
    Open(Repository),
    /// Not a git repository, git missing, a bare repository, a refused directory: the session
    /// stops trying.
    Unavailable,
}

/// What came of opening the repository for a turn.
enum Opened {
    Ready(Repository),
    Unavailable,
    Failed,
    Cancelled,
}

/// A turn's snapshots: each is taken at most once, also by concurrent callers.
#[derive(Default)]
struct Turn {
    /// Whether the "before" snapshot was taken and recorded.
    before: OnceCell<bool>,
    after: OnceCell<()>,
}

/// What the user has been told already in this session.
#[derive(Default)]
struct Notices {
    unavailable: bool,
    slow: bool,
    left_out: HashSet<PathBuf>,
}

/// The snapshot was cancelled; nothing is remembered, so a later call tries again.
struct Cancelled;

impl GhostSnapshots {
    /// A snapshot service for one session.
    pub fn new(config: GhostSnapshotConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            repository: tokio::sync::Mutex::new(Slot::Unopened),
            turns: Mutex::new(VecDeque::new()),
            notices: Mutex::new(Notices::default()),
            pruned: AtomicBool::new(false),
        })
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &GhostSnapshotConfig {
        &self.config
    }

    /// Whether snapshots are switched on.
    pub fn is_enabled(&self) -> bool {
        self.config.enabled
    }

    /// Takes a snapshot now for a client that asked for one and records it with phase
    /// `manual`; `Ok(None)` when it was cancelled.
    ///
    /// Unlike a turn's snapshots this opens the repository again when an earlier attempt
    /// found none (the user may have run `git init` since), and its failures are errors.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future or cancelling `cancel` abandons the snapshot and records nothing.
    pub(crate) async fn take_requested(
        &self,
        ctx: &TaskContext,
        cancel: &CancellationToken,
    ) -> Result<Option<Snapshot>, TaskError> {
        let repo = {
            let mut slot = self.repository.lock().await;
            match &*slot {
                Slot::Open(repo) => repo.clone(),
                Slot::Unopened | Slot::Unavailable => {
                    match Repository::open_with(ctx.cwd(), self.config.open.clone(), cancel).await {
                        Ok(repo) => {
                            *slot = Slot::Open(repo.clone());
                            repo
                        }
                        Err(error) if error.is_cancelled() => return Ok(None),
                        Err(error) => return Err(error.into()),
                    }
                }
            }
        };
        let taken = match snapshot(&repo, &self.config.snapshot, cancel).await {
            Ok(taken) => taken,
            Err(error) if error.is_cancelled() => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        record(ctx, Phase::Manual, &taken)?;
        self.prune_once(ctx, &repo);
        Ok(Some(taken))
    }

    /// Takes one of a turn's snapshots and tells the user what they should know about it.
    ///
    /// `Ok(None)` when no snapshot was recorded (unavailable here, or failed with a warning);
    /// `Err` only when cancelled.
    async fn take_for_turn(
        &self,
        ctx: &TaskContext,
        phase: Phase,
        cancel: &CancellationToken,
    ) -> Result<Option<Snapshot>, Cancelled> {
        let repo = match self.open_for_turn(ctx, cancel).await {
            Opened::Ready(repo) => repo,
            Opened::Unavailable | Opened::Failed => return Ok(None),
            Opened::Cancelled => return Err(Cancelled),
        };
        let taken = match snapshot(&repo, &self.config.snapshot, cancel).await {
            Ok(taken) => taken,
            Err(error) if error.is_cancelled() => return Err(Cancelled),
            Err(error) if is_unavailable(&error) => {
                *self.repository.lock().await = Slot::Unavailable;
                self.announce_unavailable(ctx, &error);
                return Ok(None);
            }
            Err(error) => {
                warn(
                    ctx,
                    format!(
                        "could not take {}, so this turn cannot be undone: {error}",
                        phase.describe()
                    ),
                );
                return Ok(None);
            }
        };
        if let Err(error) = record(ctx, phase, &taken) {
            warn(ctx, error.to_string());
            return Ok(None);
        }
        self.report_left_out(ctx, phase, &taken);
        self.report_slow(ctx, phase, &taken);
        self.prune_once(ctx, &repo);
        Ok(Some(taken))
    }

    /// The session's repository, opened from its directory the first time.
    async fn open_for_turn(&self, ctx: &TaskContext, cancel: &CancellationToken) -> Opened {
        let mut slot = self.repository.lock().await;
        match &*slot {
            Slot::Open(repo) => return Opened::Ready(repo.clone()),
            Slot::Unavailable => return Opened::Unavailable,
            Slot::Unopened => {}
        }
        match Repository::open_with(ctx.cwd(), self.config.open.clone(), cancel).await {
            Ok(repo) => {
                *slot = Slot::Open(repo.clone());
                Opened::Ready(repo)
            }
            Err(error) if error.is_cancelled() => Opened::Cancelled,
            Err(error) if is_unavailable(&error) => {
                *slot = Slot::Unavailable;
                drop(slot);
                self.announce_unavailable(ctx, &error);
                Opened::Unavailable
            }
            Err(error) => {
                warn(
                    ctx,
                    format!(
                        "could not open the git repository to take a snapshot, so this turn cannot be undone: {error}"
                    ),
                );
                Opened::Failed
            }
        }
    }

    fn announce_unavailable(&self, ctx: &TaskContext, error: &turnkit_git_snapshot::Error) {
        let first = !std::mem::replace(&mut lock(&self.notices).unavailable, true);
        if first {
            ctx.send_event(EventMsg::BackgroundEvent {
                message: format!(
                    "ghost snapshots are unavailable, so undo will not be available in this session: {error}"
                ),
            });
        }
    }

    /// Warns about the paths left out that this session has not reported yet.
    fn report_left_out(&self, ctx: &TaskContext, phase: Phase, taken: &Snapshot) {
        let fresh: Vec<_> = {
            let mut notices = lock(&self.notices);
            taken
                .skipped
                .iter()
                .filter(|skipped| notices.left_out.insert(skipped.path.clone()))
                .collect()
        };
        if let Some(summary) = report::left_out(fresh) {
            warn(
                ctx,
                format!(
                    "left out of {}, so undo will not restore them: {summary}",
                    phase.describe()
                ),
            );
        }
    }

    fn report_slow(&self, ctx: &TaskContext, phase: Phase, taken: &Snapshot) {
        if taken.elapsed <= self.config.slow_threshold {
            return;
        }
        let first = !std::mem::replace(&mut lock(&self.notices).slow, true);
        if first {
            warn(
                ctx,
                format!(
                    "{} took {} (more than {}), and turns that change files wait for it; \
                     add large untracked folders to .gitignore, or switch snapshots off",
                    phase.describe(),
                    report::seconds(taken.elapsed),
                    report::seconds(self.config.slow_threshold),
                ),
            );
        }
    }

    /// Deletes old snapshots the first time this session has taken one.
    ///
    /// It runs inline: it lists a handful of directories and removes whole old ones, which is
    /// cheap next to the snapshot just taken, and nothing is left running after the session.
    fn prune_once(&self, ctx: &TaskContext, repo: &Repository) {
        if self.pruned.swap(true, Ordering::SeqCst) {
            return;
        }
        let options = PruneOptions {
            keep_days: self.config.keep_days,
        };
        match prune(repo, &options) {
            Ok(report) => tracing::debug!(
                removed = ?report.removed,
                removed_quarantines = report.removed_quarantines,
                "pruned old ghost snapshots"
            ),
            Err(error) => warn(
                ctx,
                format!(
                    "could not delete ghost snapshots older than {} days: {error}",
                    options.keep_days
                ),
            ),
        }
    }

    /// This turn's snapshot state, made on first use.
    fn turn(&self, turn_id: &str) -> Arc<Turn> {
        let mut turns = lock(&self.turns);
        if let Some((_, turn)) = turns.iter().find(|(id, _)| id == turn_id) {
            return Arc::clone(turn);
        }
        if turns.len() >= REMEMBERED_TURNS {
            turns.pop_front();
        }
        let turn = Arc::new(Turn::default());
        turns.push_back((turn_id.to_owned(), Arc::clone(&turn)));
        turn
    }

    fn existing_turn(&self, turn_id: &str) -> Option<Arc<Turn>> {
        lock(&self.turns)
            .iter()
            .find(|(id, _)| id == turn_id)
            .map(|(_, turn)| Arc::clone(turn))
    }

    fn forget_turn(&self, turn_id: &str) {
        lock(&self.turns).retain(|(id, _)| id != turn_id);
    }
}

#[async_trait]
impl TurnSnapshots for GhostSnapshots {
    /// Takes the "before" snapshot of the turn `ctx.sub_id()`, once; concurrent and later calls
    /// in the same turn share it. Always `Ok`: failures are warnings.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future, or cancelling the turn, abandons the snapshot with nothing kept;
    /// a later call in the same turn tries again.
    async fn before_change(&self, ctx: &Arc<TaskContext>) -> Result<(), TaskError> {
        if !self.config.enabled {
            return Ok(());
        }
        let turn = self.turn(ctx.sub_id());
        let cancel = ctx.cancellation_token();
        let _taken = turn
            .before
            .get_or_try_init(|| async {
                self.take_for_turn(ctx, Phase::Before, cancel)
                    .await
                    .map(|taken| taken.is_some())
            })
            .await;
        Ok(())
    }

    /// Takes the "after" snapshot of the turn `ctx.sub_id()` if it took a "before" one; does
    /// nothing otherwise. Always `Ok`: failures are warnings.
    ///
    /// It does not stop when the turn's token is cancelled, so an interrupted turn that calls
    /// it from its abort hook can still be undone; the snapshot's time budget bounds it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the snapshot with nothing kept; a later call tries again.
    async fn after_turn(&self, ctx: &Arc<TaskContext>) -> Result<(), TaskError> {
        if !self.config.enabled {
            return Ok(());
        }
        let Some(turn) = self.existing_turn(ctx.sub_id()) else {
            return Ok(());
        };
        if turn.before.get() != Some(&true) {
            return Ok(());
        }
        let cancel = CancellationToken::new();
        let done = turn
            .after
            .get_or_try_init(|| async {
                self.take_for_turn(ctx, Phase::After, &cancel)
                    .await
                    .map(|_taken| ())
            })
            .await;
        if done.is_ok() {
            self.forget_turn(ctx.sub_id());
        }
        Ok(())
    }
}

impl std::fmt::Debug for GhostSnapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhostSnapshots")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Whether `error` means this session cannot take snapshots at all.
fn is_unavailable(error: &turnkit_git_snapshot::Error) -> bool {
    use turnkit_git_snapshot::Error;
    matches!(
        error,
        Error::NotARepository { .. }
            | Error::BareRepository { .. }
            | Error::InsideGitDir { .. }
            | Error::GitNotFound { .. }
            | Error::NotADirectory { .. }
            | Error::RefusedDirectory { .. }
    )
}

fn warn(ctx: &TaskContext, message: String) {
    ctx.send_event(EventMsg::Warning { message });
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
