//! Session tree benchmarks, each against the same work done without a sub-session.
//!
//! divan measures each function (`cargo bench -p turnkit-session-core --bench tree`); after its
//! table, a short paired run of each benchmark and its baseline prints one `ratio` line per
//! pair, which `cargo xtask bench` collects.

use turnkit_protocol::{ApprovalRequest, EventMsg, Op, ReviewDecision, TaskKind};
use turnkit_session_core::{ChildOutcome, Session, TaskRegistration};
use turnkit_testkit::FnTask;

mod support;

use support::{custom, runtime, time_pair};

/// Approvals asked per turn in the approval benchmarks, so starting the child is amortised.
const ASKS: usize = 50;

fn registrations() -> Vec<TaskRegistration> {
    let noop = FnTask::new(
        TaskKind::from_static("noop"),
        |_ctx, _input, _token| async { Ok(Some("done".to_owned())) },
    );
    let child_noop = FnTask::new(
        TaskKind::from_static("child-noop"),
        |ctx, _input, _token| async move {
            let mut child = ctx.sub_session().start()?;
            let outcome = child.run_once(custom("noop")).await?;
            child.close().await;
            match outcome {
                ChildOutcome::Completed { message } => Ok(message),
                other => Err(format!("{other:?}").into()),
            }
        },
    );
    let ask = FnTask::new(
        TaskKind::from_static("ask"),
        |ctx, _input, _token| async move {
            for _ in 0..ASKS {
                let request = ApprovalRequest::question("go on?", serde_json::Value::Null);
                ctx.request_approval(request).await;
            }
            Ok(None)
        },
    );
    let child_ask = FnTask::new(
        TaskKind::from_static("child-ask"),
        |ctx, _input, _token| async move {
            let mut child = ctx.sub_session().start()?;
            child.run_once(custom("ask")).await?;
            child.close().await;
            Ok(None)
        },
    );
    vec![
        noop.registration(),
        child_noop.registration(),
        ask.registration(),
        child_ask.registration(),
    ]
}

fn session() -> Session {
    let mut builder = Session::builder();
    for registration in registrations() {
        builder = builder.task(registration);
    }
    builder.build().expect("a session")
}

/// Runs one op to its terminal event, answering every approval request with `Approved`.
async fn turn(session: &mut Session, op: Op) {
    let id = session.submit(op).expect("submit");
    while let Some(event) = session.next_event().await {
        if let EventMsg::ApprovalRequested { approval_id, .. } = &event.msg {
            session
                .submit(Op::DecideApproval {
                    id: approval_id.clone(),
                    decision: ReviewDecision::Approved,
                })
                .expect("submit");
        }
        if event.id == id && event.msg.is_terminal() {
            break;
        }
    }
}

#[divan::bench]
fn noop_in_the_parent(bencher: divan::Bencher) {
    let rt = runtime();
    let mut session = rt.block_on(async { session() });
    bencher.bench_local(|| rt.block_on(turn(&mut session, custom("noop"))));
}

#[divan::bench]
fn noop_in_a_one_shot_child(bencher: divan::Bencher) {
    let rt = runtime();
    let mut session = rt.block_on(async { session() });
    bencher.bench_local(|| rt.block_on(turn(&mut session, custom("child-noop"))));
}

#[divan::bench]
fn approvals_asked_by_a_root_task(bencher: divan::Bencher) {
    let rt = runtime();
    let mut session = rt.block_on(async { session() });
    bencher.bench_local(|| rt.block_on(turn(&mut session, custom("ask"))));
}

#[divan::bench]
fn approvals_asked_by_a_child(bencher: divan::Bencher) {
    let rt = runtime();
    let mut session = rt.block_on(async { session() });
    bencher.bench_local(|| rt.block_on(turn(&mut session, custom("child-ask"))));
}

fn ratios() {
    let rt = runtime();
    // One session per side: each closure needs its own.
    let mut with_child = rt.block_on(async { session() });
    let mut without = rt.block_on(async { session() });
    let (child, parent) = time_pair(
        1000,
        || rt.block_on(turn(&mut with_child, custom("child-noop"))),
        || rt.block_on(turn(&mut without, custom("noop"))),
    );
    println!(
        "ratio one_shot_child_round_trip: {:.2} (turn with a one-shot child {child:?} / the same no-op task in the parent {parent:?}; aim <= 3)",
        child.as_secs_f64() / parent.as_secs_f64()
    );

    let (child, root) = time_pair(
        200,
        || rt.block_on(turn(&mut with_child, custom("child-ask"))),
        || rt.block_on(turn(&mut without, custom("ask"))),
    );
    println!(
        "ratio child_approval_round_trip: {:.2} ({ASKS} approvals asked by a child, its start included, {child:?} / asked by a root task {root:?}; aim <= 2)",
        child.as_secs_f64() / root.as_secs_f64()
    );
}

fn main() {
    divan::main();
    ratios();
}
