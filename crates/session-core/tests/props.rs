//! A state-machine property test of the lifecycle over random sequences of ops.
//!
//! The ops: spawned tasks (finishing, cooperative, stubborn, panicking, failing, asking for
//! approval, and tasks whose abort hook panics or hangs), side work beside the turn (which a
//! later spawn replaces while it runs), interrupts, time, user input, approval decisions and
//! shutdown.
//!
//! After every step it checks: at most one active turn; per task one `task_started` first and
//! at most one terminal event, nothing after it; side work emits only while a turn is open;
//! `seq` with no gaps; no pending approval once no turn runs. At the end (after `Shutdown`):
//! every task has exactly one terminal event, every abort hook ran once for aborted tasks and
//! never for completed ones, no side work's hook ran twice, and dropping the session leaves no
//! tokio task behind.

// The checker is one long test body; unwraps here are test assertions.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use turnkit_protocol::ApprovalRequest;
use turnkit_protocol::{Event, EventMsg, Op, ReviewDecision, TaskKind, UserInput};
use turnkit_session_core::{
    CancellationToken, Session, SessionTask, TaskContext, TaskRegistration, TaskResult, async_trait,
};
use turnkit_testkit::FnTask;

#[derive(Clone, Debug)]
enum Behaviour {
    /// Finishes by itself after this many milliseconds.
    Finishes(u64),
    /// Runs until cancelled.
    Cooperative,
    /// Ignores cancellation.
    Stubborn,
    Panics,
    Fails,
    /// Asks for an approval, then finishes.
    Asks,
    /// Runs until cancelled; its abort hook panics.
    HookPanics,
    /// Runs until cancelled; its abort hook never returns.
    HookHangs,
}

/// Side work beside the turn (the user's shell command).
#[derive(Clone, Debug)]
enum Side {
    /// Finishes by itself after this many milliseconds.
    Finishes(u64),
    /// Runs until cancelled.
    Cooperative,
}

#[derive(Clone, Debug)]
enum Action {
    Spawn(Behaviour),
    SideWork(Side),
    Interrupt,
    Advance(u64),
    UserInput,
    Decide(usize, ReviewDecision),
    Shutdown,
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        (0u64..30).prop_map(Behaviour::Finishes),
        Just(Behaviour::Cooperative),
        Just(Behaviour::Stubborn),
        Just(Behaviour::Panics),
        Just(Behaviour::Fails),
        Just(Behaviour::Asks),
        Just(Behaviour::HookPanics),
        Just(Behaviour::HookHangs),
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![(0u64..60).prop_map(Side::Finishes), Just(Side::Cooperative),]
}

fn decision() -> impl Strategy<Value = ReviewDecision> {
    prop_oneof![
        Just(ReviewDecision::Approved),
        Just(ReviewDecision::ApprovedForSession),
        Just(ReviewDecision::Denied),
        Just(ReviewDecision::Abort),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => behaviour().prop_map(Action::Spawn),
        2 => side().prop_map(Action::SideWork),
        2 => Just(Action::Interrupt),
        3 => (0u64..200).prop_map(Action::Advance),
        2 => Just(Action::UserInput),
        2 => (0usize..4, decision()).prop_map(|(index, decision)| Action::Decide(index, decision)),
        1 => Just(Action::Shutdown),
    ]
}

/// A cooperative task whose abort hook misbehaves; counts its hook calls.
struct BadHook {
    hangs: bool,
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl SessionTask for BadHook {
    fn kind(&self) -> TaskKind {
        TaskKind::from_static("prop")
    }

    async fn run(
        self: Arc<Self>,
        _ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        token: CancellationToken,
    ) -> TaskResult {
        token.cancelled().await;
        Ok(None)
    }

    async fn abort(&self, _ctx: Arc<TaskContext>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hangs {
            std::future::pending::<()>().await;
        }
        panic!("planned hook panic");
    }
}

/// A spawned task and how to read how often its abort hook ran.
struct Spawned {
    task: Arc<dyn SessionTask>,
    hook_calls: Box<dyn Fn() -> usize>,
}

fn spawn_behaviour(behaviour: &Behaviour) -> Spawned {
    match behaviour {
        Behaviour::HookPanics | Behaviour::HookHangs => {
            let calls = Arc::new(AtomicUsize::new(0));
            let task = BadHook {
                hangs: matches!(behaviour, Behaviour::HookHangs),
                calls: Arc::clone(&calls),
            };
            Spawned {
                task: Arc::new(task),
                hook_calls: Box::new(move || calls.load(Ordering::SeqCst)),
            }
        }
        other => {
            let task = task_for(other);
            let counted = task.clone();
            Spawned {
                task: Arc::new(task),
                hook_calls: Box::new(move || counted.abort_calls()),
            }
        }
    }
}

fn side_task(side: &Side) -> FnTask {
    let kind = TaskKind::from_static("side");
    let side = side.clone();
    FnTask::new(kind, move |ctx, _input, token| {
        let side = side.clone();
        async move {
            ctx.send_event(EventMsg::BackgroundEvent {
                message: "side work".into(),
            });
            match side {
                Side::Finishes(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Side::Cooperative => token.cancelled().await,
            }
            Ok(None)
        }
    })
    .on_abort(|ctx| {
        ctx.send_event(EventMsg::BackgroundEvent {
            message: "side cleanup".into(),
        });
    })
}

fn task_for(behaviour: &Behaviour) -> FnTask {
    let kind = TaskKind::from_static("prop");
    match behaviour.clone() {
        Behaviour::Finishes(ms) => FnTask::new(kind, move |_ctx, _input, _token| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(Some("finished".to_owned()))
        }),
        Behaviour::Cooperative => support::cooperative(kind),
        Behaviour::Stubborn => support::stubborn(kind),
        Behaviour::Panics => FnTask::new(kind, |_ctx, _input, _token| async {
            tokio::task::yield_now().await;
            panic!("planned panic")
        }),
        Behaviour::Fails => FnTask::new(kind, |_ctx, _input, _token| async {
            Err("planned failure".into())
        }),
        Behaviour::Asks => FnTask::new(kind, |ctx, _input, _token| async move {
            let decision = ctx
                .request_approval(
                    ApprovalRequest::command(
                        vec!["touch".into(), ctx.sub_id().to_owned()],
                        ctx.cwd().to_owned(),
                    )
                    .with_call_id("call"),
                )
                .await;
            Ok(Some(format!("{decision:?}")))
        }),
        Behaviour::HookPanics | Behaviour::HookHangs => {
            unreachable!("built by `spawn_behaviour`")
        }
    }
}

/// What the checker knows of one task id.
#[derive(Default, Debug)]
struct Seen {
    started: bool,
    terminal: Option<EventMsg>,
}

struct Checker {
    events: Vec<Event>,
    tasks: BTreeMap<String, Seen>,
    approvals: Vec<String>,
    /// Submissions of side work: their events come only while a turn is open.
    side: HashSet<String>,
}

impl Checker {
    fn take(&mut self, event: Event) {
        if let Some(last) = self.events.last() {
            assert_eq!(
                event.seq,
                last.seq + 1,
                "seq has a gap: {last:?} then {event:?}"
            );
        } else {
            assert_eq!(event.seq, 0);
        }
        match &event.msg {
            EventMsg::TaskStarted { .. } => {
                let seen = self.tasks.entry(event.id.clone()).or_default();
                assert!(!seen.started, "two task_started for {}", event.id);
                seen.started = true;
                let running = self
                    .tasks
                    .values()
                    .filter(|seen| seen.started && seen.terminal.is_none())
                    .count();
                assert!(running <= 1, "more than one active turn: {:?}", self.tasks);
            }
            msg if msg.is_terminal() => {
                let seen = self
                    .tasks
                    .get_mut(&event.id)
                    .expect("a terminal event follows task_started");
                assert!(seen.started);
                assert!(
                    seen.terminal.is_none(),
                    "two terminal events for {}",
                    event.id
                );
                seen.terminal = Some(msg.clone());
            }
            EventMsg::ApprovalRequested { approval_id, .. } => {
                self.approvals.push(approval_id.clone());
            }
            _ => {
                if let Some(seen) = self.tasks.get(&event.id) {
                    assert!(
                        seen.terminal.is_none(),
                        "event after the terminal event: {event:?}"
                    );
                } else if self.side.contains(&event.id) {
                    assert!(
                        self.tasks
                            .values()
                            .any(|seen| seen.started && seen.terminal.is_none()),
                        "side work emitted while no turn was open: {event:?}"
                    );
                }
            }
        }
        self.events.push(event);
    }

    fn idle(&self) -> bool {
        self.tasks.values().all(|seen| seen.terminal.is_some())
    }
}

fn run_case(actions: Vec<Action>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let baseline = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        let regular_tasks: Arc<Mutex<Vec<FnTask>>> = Arc::default();
        let created = Arc::clone(&regular_tasks);
        let regular = TaskRegistration::new(TaskKind::REGULAR, move |_op| {
            let task = support::steerable();
            created.lock().unwrap().push(task.clone());
            Ok(Arc::new(task))
        })
        .accepts_input(true);
        let side_tasks: Arc<Mutex<Vec<FnTask>>> = Arc::default();
        let side_created = Arc::clone(&side_tasks);
        let side_work = TaskRegistration::new(TaskKind::from_static("side"), move |op| {
            let side = match op {
                Op::Custom { payload, .. } => {
                    payload.as_u64().map_or(Side::Cooperative, Side::Finishes)
                }
                _ => Side::Cooperative,
            };
            let task = side_task(&side);
            side_created.lock().unwrap().push(task.clone());
            Ok(Arc::new(task))
        })
        .runs_beside_turn(true);
        let mut session = Session::builder()
            .task(regular)
            .task(side_work)
            .abort_hook_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let mut checker = Checker {
            events: Vec::new(),
            tasks: BTreeMap::new(),
            approvals: Vec::new(),
            side: HashSet::new(),
        };
        let mut spawned: HashMap<String, Spawned> = HashMap::new();
        let mut shut_down = false;

        for action in actions {
            match action {
                Action::Spawn(behaviour) => {
                    let task = spawn_behaviour(&behaviour);
                    let Ok(id) = session.spawn_task(Arc::clone(&task.task), Vec::new()) else {
                        continue;
                    };
                    spawned.insert(id, task);
                }
                Action::SideWork(side) => {
                    let payload = match side {
                        Side::Finishes(ms) => serde_json::Value::from(ms),
                        Side::Cooperative => serde_json::Value::Null,
                    };
                    if let Ok(id) = session.submit(Op::Custom {
                        name: "side".into(),
                        payload,
                    }) {
                        checker.side.insert(id);
                    }
                }
                Action::Interrupt => drop(session.submit(Op::Interrupt)),
                Action::Advance(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Action::UserInput => {
                    drop(session.submit(Op::UserInput {
                        items: vec![UserInput::text("stop")],
                    }));
                }
                Action::Decide(index, decision) => {
                    let id = checker
                        .approvals
                        .get(index)
                        .cloned()
                        .unwrap_or_else(|| "approval-none".into());
                    drop(session.submit(Op::DecideApproval { id, decision }));
                }
                Action::Shutdown => {
                    shut_down |= session.submit(Op::Shutdown).is_ok();
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            while let Some(event) = session.try_next_event() {
                checker.take(event);
            }
            if checker.idle() {
                assert_eq!(
                    session.pending_approvals(),
                    0,
                    "a pending approval outlived its turn"
                );
            }
        }

        if !shut_down {
            session.submit(Op::Shutdown).unwrap();
        }
        loop {
            let next = tokio::time::timeout(Duration::from_secs(60), session.next_event()).await;
            match next.expect("the session shuts down in bounded time") {
                Some(event) => checker.take(event),
                None => break,
            }
        }
        assert!(matches!(
            checker.events.last().map(|event| &event.msg),
            Some(EventMsg::ShutdownComplete)
        ));
        assert_eq!(session.pending_approvals(), 0);
        for (id, seen) in &checker.tasks {
            assert!(seen.terminal.is_some(), "task {id} has no terminal event");
        }
        for (id, task) in &spawned {
            let Some(seen) = checker.tasks.get(id) else {
                panic!("spawned task {id} never started");
            };
            let aborted = matches!(seen.terminal, Some(EventMsg::TurnAborted { .. }));
            assert_eq!(
                (task.hook_calls)(),
                usize::from(aborted),
                "abort hook calls of {id} ({seen:?})"
            );
        }
        for side in side_tasks.lock().unwrap().iter() {
            assert!(side.abort_calls() <= 1, "a side work's hook ran twice");
        }
        let regular_aborted = checker
            .tasks
            .iter()
            .filter(|(id, seen)| {
                !spawned.contains_key(*id)
                    && !checker.side.contains(*id)
                    && matches!(seen.terminal, Some(EventMsg::TurnAborted { .. }))
            })
            .count();
        let regular_hooks: usize = regular_tasks
            .lock()
            .unwrap()
            .iter()
            .map(FnTask::abort_calls)
            .sum();
        assert_eq!(regular_hooks, regular_aborted);

        drop(session);
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            baseline,
            "a tokio task outlived its session"
        );
    });
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn lifecycle_invariants_hold_for_random_op_sequences(actions in proptest::collection::vec(action(), 1..40)) {
        run_case(actions);
    }
}

#[test]
fn regression_replacing_a_turn_while_side_work_runs() {
    run_case(vec![
        Action::Spawn(Behaviour::Cooperative),
        Action::SideWork(Side::Cooperative),
        Action::UserInput,
        Action::Spawn(Behaviour::HookPanics),
        Action::SideWork(Side::Finishes(20)),
        Action::Spawn(Behaviour::HookHangs),
        Action::Interrupt,
        Action::Advance(400),
    ]);
}

#[test]
fn regression_interrupt_then_input_while_stubborn_task_runs() {
    run_case(vec![
        Action::Spawn(Behaviour::Stubborn),
        Action::Interrupt,
        Action::UserInput,
        Action::Spawn(Behaviour::Asks),
        Action::Decide(0, ReviewDecision::ApprovedForSession),
        Action::Advance(150),
    ]);
}
