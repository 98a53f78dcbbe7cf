//! [`TaskRegistration`]: how a session builds and schedules the tasks of one kind.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use turnkit_protocol::{Op, TaskKind};

use crate::{SessionTask, TaskError};

/// How long an aborted task may take to stop by itself before it is aborted hard.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_millis(100);

/// Builds a task from the op that asked for it; an `Err` is reported as an `error` event.
pub type TaskFactory = Arc<dyn Fn(&Op) -> Result<Arc<dyn SessionTask>, TaskError> + Send + Sync>;

/// A task kind a session can run, with its scheduling rules.
#[derive(Clone)]
pub struct TaskRegistration {
    pub(crate) kind: TaskKind,
    pub(crate) factory: TaskFactory,
    pub(crate) grace_period: Duration,
    pub(crate) accepts_input: bool,
    pub(crate) runs_beside_turn: bool,
}

impl TaskRegistration {
    /// Registers `kind`, built by `factory` from the op that asks for it.
    ///
    /// By default a task of this kind replaces the running turn, takes no steered input and
    /// has [`DEFAULT_GRACE_PERIOD`] to stop when aborted.
    pub fn new<F>(kind: TaskKind, factory: F) -> Self
    where
        F: Fn(&Op) -> Result<Arc<dyn SessionTask>, TaskError> + Send + Sync + 'static,
    {
        Self {
            kind,
            factory: Arc::new(factory),
            grace_period: DEFAULT_GRACE_PERIOD,
            accepts_input: false,
            runs_beside_turn: false,
        }
    }

    /// Sets how long an aborted task of this kind may take to stop before it is aborted hard.
    pub fn grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// Lets user input that arrives while this task runs be steered into it (a model turn).
    /// Otherwise such input is kept and starts the next turn.
    pub fn accepts_input(mut self, accepts_input: bool) -> Self {
        self.accepts_input = accepts_input;
        self
    }

    /// Runs a task of this kind beside the running turn, as its auxiliary work, instead of
    /// replacing it (the user's shell command). With no turn running it is a turn of its own.
    pub fn runs_beside_turn(mut self, runs_beside_turn: bool) -> Self {
        self.runs_beside_turn = runs_beside_turn;
        self
    }

    /// The kind this registration is for.
    pub fn kind(&self) -> &TaskKind {
        &self.kind
    }
}

impl fmt::Debug for TaskRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRegistration")
            .field("kind", &self.kind)
            .field("grace_period", &self.grace_period)
            .field("accepts_input", &self.accepts_input)
            .field("runs_beside_turn", &self.runs_beside_turn)
            .finish_non_exhaustive()
    }
}
