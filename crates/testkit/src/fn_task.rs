//! [`FnTask`]: a task made from a closure, for tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use turnkit_protocol::{TaskKind, UserInput};
use turnkit_session_core::{
    CancellationToken, SessionTask, TaskContext, TaskRegistration, TaskResult,
};

type RunFn = dyn Fn(
        Arc<TaskContext>,
        Vec<UserInput>,
        CancellationToken,
    ) -> Pin<Box<dyn Future<Output = TaskResult> + Send>>
    + Send
    + Sync;
type AbortFn = dyn Fn(Arc<TaskContext>) + Send + Sync;

/// A task whose `run` is a closure; it counts how often its abort hook ran.
#[derive(Clone)]
pub struct FnTask {
    kind: TaskKind,
    run: Arc<RunFn>,
    on_abort: Option<Arc<AbortFn>>,
    abort_calls: Arc<AtomicUsize>,
    runs: Arc<AtomicUsize>,
}

impl FnTask {
    /// A task of `kind` that runs `run`.
    pub fn new<F, Fut>(kind: TaskKind, run: F) -> Self
    where
        F: Fn(Arc<TaskContext>, Vec<UserInput>, CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = TaskResult> + Send + 'static,
    {
        Self {
            kind,
            run: Arc::new(move |ctx, input, token| Box::pin(run(ctx, input, token))),
            on_abort: None,
            abort_calls: Arc::new(AtomicUsize::new(0)),
            runs: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Also runs `hook` (after counting) when the task is aborted, for example to send a
    /// cleanup event.
    pub fn on_abort(mut self, hook: impl Fn(Arc<TaskContext>) + Send + Sync + 'static) -> Self {
        self.on_abort = Some(Arc::new(hook));
        self
    }

    /// How many times the abort hook ran, over every run of this task and its clones.
    pub fn abort_calls(&self) -> usize {
        self.abort_calls.load(Ordering::SeqCst)
    }

    /// How many times `run` was called, over this task and its clones.
    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    /// A registration of this task's kind whose factory hands out this task.
    pub fn registration(&self) -> TaskRegistration {
        let task = self.clone();
        TaskRegistration::new(self.kind.clone(), move |_op| Ok(Arc::new(task.clone())))
    }
}

#[async_trait]
impl SessionTask for FnTask {
    fn kind(&self) -> TaskKind {
        self.kind.clone()
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        self.runs.fetch_add(1, Ordering::SeqCst);
        (self.run)(ctx, input, cancellation_token).await
    }

    async fn abort(&self, ctx: Arc<TaskContext>) {
        self.abort_calls.fetch_add(1, Ordering::SeqCst);
        if let Some(hook) = &self.on_abort {
            hook(ctx);
        }
    }
}
