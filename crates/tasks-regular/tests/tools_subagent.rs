//! The `subagent` tool: children run in parallel and each gets its own approval decision, the
//! depth limit gives a clear output, a child gets only tools its parent has, and interrupting
//! the parent ends every child first.

#[path = "tools_support/mod.rs"]
mod support;

use insta::assert_json_snapshot;
use serde_json::{Value, json};
use support::{
    assert_interrupted, builder, is_approval, normalize, script, script_text, session,
    stabilise_wall_time, tool_outputs, type_of,
};
use turnkit_protocol::{ApprovalPolicy, ApprovalSubject, Event, EventMsg, Op, ReviewDecision};
use turnkit_tasks_regular::BuiltinTools;

/// A subagent call whose child runs `command` with the shell tool.
fn child_running(command: &[&str]) -> (&'static str, Value) {
    (
        "subagent",
        json!({ "task": script_text(&[&[("shell", json!({ "command": command }))]]) }),
    )
}

/// The command an approval request is about, and its id.
fn asked_command(event: &Event) -> (Vec<String>, String) {
    let EventMsg::ApprovalRequested {
        approval_id,
        request,
        origin,
    } = &event.msg
    else {
        panic!("an approval request: {event:?}");
    };
    assert!(origin.is_some(), "a child's request carries its origin");
    let ApprovalSubject::Command { command, .. } = &request.subject else {
        panic!("a command: {request:?}");
    };
    (command.clone(), approval_id.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_subagents_run_in_parallel_and_each_gets_its_own_decision() {
    let mut session = session(ApprovalPolicy::Always);
    let id = session.submit(script(&[&[
        child_running(&["touch", "a.txt"]),
        child_running(&["touch", "b.txt"]),
    ]]));
    // Both children wait for a decision at once: they run side by side.
    let mut asked = Vec::new();
    while asked.len() < 2 {
        let event = session.next_event().await;
        if is_approval(&event) {
            asked.push(asked_command(&event));
        }
    }
    for (command, approval_id) in asked {
        let decision = if command.contains(&"a.txt".to_owned()) {
            ReviewDecision::Approved
        } else {
            ReviewDecision::Denied
        };
        session.submit(Op::DecideApproval {
            id: approval_id,
            decision,
        });
    }
    let events = session.events_until_terminal(&id).await;
    assert!(
        session.cwd().join("a.txt").exists(),
        "the approved child ran"
    );
    assert!(
        !session.cwd().join("b.txt").exists(),
        "the denied child did not"
    );
    let mut outputs = Value::Array(tool_outputs(&events));
    stabilise_wall_time(&mut outputs);
    assert_json_snapshot!(outputs, {
        "[].call_id" => "<call>",
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subagent_past_the_depth_limit_gets_an_output_saying_so() {
    let mut session = builder(ApprovalPolicy::Never, BuiltinTools::new().subagents(true))
        .configure(|builder| builder.max_depth(1))
        .build();
    let grandchild = ("subagent", json!({ "task": "too deep" }));
    let events = session
        .run(script(&[&[(
            "subagent",
            json!({ "task": script_text(&[&[grandchild]]) }),
        )]]))
        .await;
    let outputs = tool_outputs(&events);
    let text = outputs[0]["text"].as_str().expect("text");
    assert!(
        text.starts_with("the subagent was not started: subagents nest at most 1 deep"),
        "{text}"
    );
    assert_json_snapshot!(normalize(&session, &events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subagent_gets_only_tools_its_parent_has() {
    let mut session = session(ApprovalPolicy::Never);
    let events = session
        .run(script(&[
            &[(
                "subagent",
                json!({ "task": "anything", "tools": ["shell", "teleport"] }),
            )],
            &[(
                "subagent",
                json!({
                    "task": script_text(&[&[("shell", json!({ "command": ["true"] }))]]),
                    "tools": ["update_plan"]
                }),
            )],
        ]))
        .await;
    let outputs = tool_outputs(&events);
    assert_eq!(outputs[0]["success"], false);
    let refused = outputs[0]["text"].as_str().expect("text");
    assert!(refused.contains("teleport"), "{refused}");
    let restricted = outputs[1]["text"].as_str().expect("text");
    assert!(
        restricted
            .starts_with("there is no tool named `shell`; the tools you can call are: update_plan"),
        "{restricted}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupting_the_parent_ends_every_child_first() {
    let mut session = session(ApprovalPolicy::Always);
    let id = session.submit(script(&[&[
        child_running(&["touch", "a.txt"]),
        child_running(&["touch", "b.txt"]),
    ]]));
    let mut waiting = 0;
    while waiting < 2 {
        if is_approval(&session.next_event().await) {
            waiting += 1;
        }
    }
    session.submit(Op::Interrupt);
    let events = session.events_until_terminal(&id).await;
    assert_interrupted(&events);
    let ended: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, event)| type_of(&event.msg) == "sub_session_ended")
        .map(|(position, _)| position)
        .collect();
    assert_eq!(ended.len(), 2, "both children ended: {events:#?}");
    assert!(ended.iter().all(|position| *position < events.len() - 1));
    assert_eq!(session.session().pending_approvals(), 0);
    assert!(!session.cwd().join("a.txt").exists());
    assert!(!session.cwd().join("b.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subagents_beyond_the_cap_wait_for_a_free_slot() {
    let tools = BuiltinTools::new()
        .subagents(true)
        .max_parallel_subagents(1);
    let mut session = builder(ApprovalPolicy::Always, tools).build();
    let id = session.submit(script(&[&[
        child_running(&["touch", "a.txt"]),
        child_running(&["touch", "b.txt"]),
    ]]));
    let started = |events: &[Event]| {
        events
            .iter()
            .filter(|event| type_of(&event.msg) == "sub_session_started")
            .count()
    };
    for round in 1..=2 {
        let asked = session.events_until(is_approval).await;
        let (_, approval_id) = asked_command(asked.last().expect("asked"));
        assert_eq!(
            started(session.seen()),
            round,
            "one child at a time: the next starts only when a slot is free"
        );
        session.submit(Op::DecideApproval {
            id: approval_id,
            decision: ReviewDecision::Approved,
        });
    }
    session.events_until_terminal(&id).await;
    assert!(session.cwd().join("a.txt").exists());
    assert!(session.cwd().join("b.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_given_to_a_child_stops_the_parents_turn_too() {
    let mut session = session(ApprovalPolicy::Always);
    let id = session.submit(script(&[
        &[child_running(&["touch", "a.txt"])],
        &[("shell", json!({ "command": ["touch", "after.txt"] }))],
    ]));
    let asked = session.events_until(is_approval).await;
    let (_, approval_id) = asked_command(asked.last().expect("asked"));
    session.submit(Op::DecideApproval {
        id: approval_id,
        decision: ReviewDecision::Abort,
    });
    let events = session.events_until_terminal(&id).await;
    assert_interrupted(&events);
    assert!(!session.cwd().join("a.txt").exists());
    assert!(!session.cwd().join("after.txt").exists());
    // The child's approval request reaches the root's stream straight from the broker, while
    // its other events are relayed by the parent's task, so the request may come before or
    // after the relayed `task_started`: the snapshot keeps the two streams apart (without
    // `seq`, the one thing the race changes).
    let Value::Array(mut events) = normalize(&session, session.seen()) else {
        panic!("normalised events are a list");
    };
    for event in &mut events {
        if let Value::Object(fields) = event {
            fields.remove("seq");
        }
    }
    let (approvals, others): (Vec<Value>, Vec<Value>) = events
        .into_iter()
        .partition(|event| event["msg"]["type"] == "approval_requested");
    assert_json_snapshot!(json!({ "approvals": approvals, "events": others }));
}
