//! A property test of the session tree over random interleavings of child events, approval
//! requests, decisions and parent cancellation (interrupt, replacement, shutdown).
//!
//! At the end of every case it checks, on the root's stream: no approval request is lost
//! (each is decided or resolved `Abort`, none pending); no decision reaches the wrong child
//! (each child's final message names the decision given for its own request); every task of
//! every session (the root's, and each child's as relayed by its parent) has exactly one
//! terminal event and nothing after it; every child started ends exactly once and shows nothing
//! after its end; and no tokio task outlives the tree.
//!
//! Cases default to 32; set `PROPTEST_CASES` for more.

// The checker is one long test body; unwraps here are test assertions.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

mod support;

use proptest::prelude::*;
use support::{alive_tasks, assert_tasks_settle_to, custom};
use turnkit_protocol::{ApprovalRequest, Event, EventMsg, Op, ReviewDecision, TaskKind};
use turnkit_session_core::Session;
use turnkit_testkit::FnTask;

#[derive(Clone, Debug)]
enum Action {
    /// Starts a parent turn with this many children (replacing the running turn).
    Start(u8),
    /// Decides the n-th undecided request seen so far.
    Decide(usize, ReviewDecision),
    Advance(u64),
    Interrupt,
    Shutdown,
}

fn action() -> impl Strategy<Value = Action> {
    let decision = prop_oneof![
        Just(ReviewDecision::Approved),
        Just(ReviewDecision::ApprovedForSession),
        Just(ReviewDecision::Denied),
        Just(ReviewDecision::Abort),
    ];
    prop_oneof![
        3 => (1u8..=2).prop_map(Action::Start),
        5 => (0usize..4, decision).prop_map(|(index, decision)| Action::Decide(index, decision)),
        3 => (0u64..40).prop_map(Action::Advance),
        1 => Just(Action::Interrupt),
        1 => Just(Action::Shutdown),
    ]
}

/// A child's task: chatters while it waits for its approval, then names the decision.
fn chatty() -> FnTask {
    FnTask::new(
        TaskKind::from_static("chatty"),
        |ctx, _input, _token| async move {
            let noisy = ctx.clone();
            let chatter = async move {
                for n in 0..3 {
                    noisy.send_event(EventMsg::AgentMessageDelta {
                        delta: format!("{n}"),
                    });
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            };
            let ask =
                ctx.request_approval(ApprovalRequest::question("go on?", serde_json::Value::Null));
            let (decision, ()) = tokio::join!(ask, chatter);
            Ok(Some(format!("{}:{decision:?}", ctx.session_id())))
        },
    )
}

/// A parent turn: runs `chatty` in `children` children at once, relaying their events.
fn fan(name: &'static str, children: usize) -> FnTask {
    FnTask::new(
        TaskKind::from_static(name),
        move |ctx, _input, _token| async move {
            let mut first = ctx.sub_session().start()?;
            if children == 1 {
                first.run_once_forwarded(custom("chatty")).await?;
            } else {
                let mut second = ctx.sub_session().start()?;
                let (a, b) = tokio::join!(
                    first.run_once_forwarded(custom("chatty")),
                    second.run_once_forwarded(custom("chatty"))
                );
                a?;
                b?;
            }
            Ok(None)
        },
    )
}

#[derive(Default)]
struct Checker {
    events: Vec<Event>,
    /// Requests in the order seen: (approval id, asking child).
    requests: Vec<(String, String)>,
    decided: HashMap<String, ReviewDecision>,
}

impl Checker {
    fn take(&mut self, event: Event) {
        if let EventMsg::ApprovalRequested {
            approval_id,
            origin,
            ..
        } = &event.msg
        {
            let child = origin.as_ref().expect("only children ask here");
            self.requests
                .push((approval_id.clone(), child.sub_session_id.clone()));
        }
        self.events.push(event);
    }

    fn undecided(&self) -> Vec<&(String, String)> {
        self.requests
            .iter()
            .filter(|(id, _)| !self.decided.contains_key(id))
            .collect()
    }

    fn check(&self) {
        for pair in self.events.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1, "no gap in seq");
        }
        // Root tasks: one start, one terminal, nothing after it.
        let mut ended_turns = HashSet::new();
        let mut started_turns = HashSet::new();
        // Children: started once, ended once, nothing after the end.
        let mut started = HashSet::new();
        let mut ended = HashSet::new();
        // Child tasks, by (child, child turn): started, terminal.
        let mut child_tasks: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
        let mut finals: HashMap<String, String> = HashMap::new();
        for event in &self.events {
            assert!(
                !ended_turns.contains(&event.id),
                "nothing of a task after its terminal event: {event:?}"
            );
            match &event.msg {
                EventMsg::TaskStarted { .. } => assert!(started_turns.insert(event.id.clone())),
                msg if msg.is_terminal() => {
                    assert!(started_turns.contains(&event.id));
                    ended_turns.insert(event.id.clone());
                }
                EventMsg::SubSessionStarted { origin, .. } => {
                    assert!(started.insert(origin.sub_session_id.clone()));
                }
                EventMsg::SubSessionEnded { origin, .. } => {
                    assert!(started.contains(&origin.sub_session_id));
                    assert!(
                        ended.insert(origin.sub_session_id.clone()),
                        "a child ends once"
                    );
                }
                EventMsg::ApprovalRequested {
                    origin: Some(origin),
                    ..
                } => {
                    assert!(
                        !ended.contains(&origin.sub_session_id),
                        "an ended child asks nothing"
                    );
                }
                EventMsg::SubSessionEvent { origin, event } => {
                    assert!(
                        !ended.contains(&origin.sub_session_id),
                        "an ended child shows nothing"
                    );
                    let key = (origin.sub_session_id.clone(), event.id.clone());
                    let counts = child_tasks.entry(key).or_default();
                    match &event.msg {
                        EventMsg::TaskStarted { .. } => counts.0 += 1,
                        EventMsg::TaskComplete { last_agent_message } => {
                            counts.1 += 1;
                            if let Some(message) = last_agent_message {
                                finals.insert(origin.sub_session_id.clone(), message.clone());
                            }
                        }
                        EventMsg::TurnAborted { .. } => counts.1 += 1,
                        _ => assert_eq!(counts.1, 0, "nothing of a child task after its end"),
                    }
                }
                _ => {}
            }
        }
        assert_eq!(started_turns, ended_turns, "every root task ends");
        assert_eq!(started, ended, "every child started ends");
        for ((child, turn), (starts, terminals)) in &child_tasks {
            assert_eq!(
                (*starts, *terminals),
                (1, 1),
                "child {child} task {turn}: one start, one terminal"
            );
        }
        for (approval, child) in &self.requests {
            let Some(decision) = self.decided.get(approval) else {
                continue;
            };
            if let Some(message) = finals.get(child) {
                let (asker, got) = message.split_once(':').unwrap();
                assert_eq!(asker, child);
                assert!(
                    got == format!("{decision:?}") || got == "Abort",
                    "{child} got {got} but was given {decision:?}"
                );
            }
        }
    }
}

/// Runs the actions, checks every invariant, and returns the root stream.
fn run_case(actions: Vec<Action>) -> Vec<Event> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let baseline = alive_tasks();
        let mut session = Session::builder()
            .session_id("root")
            .task(chatty().registration())
            .task(fan("fan1", 1).registration())
            .task(fan("fan2", 2).registration())
            .build()
            .unwrap();
        let mut checker = Checker::default();
        let mut shut_down = false;
        for action in actions {
            match action {
                Action::Start(children) => {
                    drop(session.submit(custom(if children == 1 { "fan1" } else { "fan2" })));
                }
                Action::Decide(index, decision) => {
                    let undecided = checker.undecided();
                    if let Some((id, _)) = undecided.get(index % undecided.len().max(1)) {
                        let id = id.clone();
                        checker.decided.insert(id.clone(), decision);
                        drop(session.submit(Op::DecideApproval { id, decision }));
                    }
                }
                Action::Advance(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Action::Interrupt => drop(session.submit(Op::Interrupt)),
                Action::Shutdown => shut_down |= session.submit(Op::Shutdown).is_ok(),
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            while let Some(event) = session.try_next_event() {
                checker.take(event);
            }
        }
        if !shut_down {
            session.submit(Op::Shutdown).unwrap();
        }
        loop {
            let next = tokio::time::timeout(Duration::from_secs(60), session.next_event()).await;
            match next.expect("the tree shuts down in bounded time") {
                Some(event) => checker.take(event),
                None => break,
            }
        }
        assert!(matches!(
            checker.events.last().map(|event| &event.msg),
            Some(EventMsg::ShutdownComplete)
        ));
        assert_eq!(
            session.pending_approvals(),
            0,
            "no approval request is lost"
        );
        checker.check();

        drop(session);
        assert_tasks_settle_to(baseline, "a tokio task outlived the tree").await;
        checker.events
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn tree_invariants_hold_for_random_interleavings(actions in proptest::collection::vec(action(), 1..30)) {
        run_case(actions);
    }
}

#[test]
fn replacing_a_parent_while_both_children_wait_ends_both_first() {
    let events = run_case(vec![
        Action::Start(2),
        Action::Advance(5),
        Action::Decide(0, ReviewDecision::Approved),
        Action::Start(1),
        Action::Decide(0, ReviewDecision::Denied),
        Action::Advance(20),
    ]);
    let count = |wanted: &str| {
        events
            .iter()
            .filter(|event| serde_json::to_value(&event.msg).unwrap()["type"] == wanted)
            .count()
    };
    assert_eq!(count("sub_session_started"), 3);
    assert_eq!(count("sub_session_ended"), 3);
    assert_eq!(count("approval_requested"), 3);
    let replaced = events.iter().any(|event| {
        event.msg
            == EventMsg::TurnAborted {
                reason: turnkit_protocol::TurnAbortReason::Replaced,
            }
    });
    assert!(replaced, "the first parent was replaced");
}
