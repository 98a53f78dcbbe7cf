//! Lifecycle benchmarks, each against the baseline the foundation issue names.
//!
//! divan measures each function (`cargo bench -p turnkit-session-core`); after its table, a
//! short paired run of each benchmark and its baseline prints one `ratio` line per pair, which
//! `cargo xtask bench` collects.

use std::io::Write;
use std::time::{Duration, Instant};

use turnkit_protocol::{EventMsg, Op, TaskKind};
use turnkit_session_core::{Session, TaskRegistration};
use turnkit_testkit::FnTask;

mod support;

use support::{custom, median, runtime, time_pair};

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

const NOOP: TaskKind = TaskKind::from_static("noop");
const WAIT: TaskKind = TaskKind::from_static("wait");
const BURST: TaskKind = TaskKind::from_static("burst");
const BURST_EVENTS: usize = 10_000;

fn registrations() -> Vec<TaskRegistration> {
    let noop = FnTask::new(NOOP, |_ctx, _input, _token| async { Ok(None) });
    let wait = FnTask::new(WAIT, |ctx, _input, token| async move {
        ctx.send_event(EventMsg::BackgroundEvent {
            message: "waiting".into(),
        });
        token.cancelled().await;
        Ok(None)
    });
    let burst = FnTask::new(BURST, |ctx, _input, _token| async move {
        for n in 0..BURST_EVENTS {
            ctx.send_event(EventMsg::AgentMessageDelta { delta: payload(n) });
        }
        Ok(None)
    });
    vec![
        noop.registration(),
        wait.registration().grace_period(Duration::from_millis(100)),
        burst.registration(),
    ]
}

fn payload(n: usize) -> String {
    format!("token {n} ")
}

fn session(rollout: Option<&std::path::Path>) -> Session {
    let mut builder = Session::builder();
    for registration in registrations() {
        builder = builder.task(registration);
    }
    if let Some(path) = rollout {
        builder = builder.rollout(path);
    }
    builder.build().expect("a session")
}

async fn until_terminal(session: &mut Session) -> usize {
    let mut seen = 0;
    while let Some(event) = session.next_event().await {
        seen += 1;
        if event.msg.is_terminal() {
            break;
        }
    }
    seen
}

async fn noop_turn(session: &mut Session) {
    session.submit(custom("noop")).expect("submit");
    until_terminal(session).await;
}

/// The baseline: what the least a task runtime must do, a spawn, a oneshot and two messages.
async fn bare_round_trip() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<EventMsg>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tx.send(EventMsg::TaskStarted { kind: NOOP }).expect("open");
        tx.send(EventMsg::TaskComplete {
            last_agent_message: None,
        })
        .expect("open");
        let _ = done_tx.send(());
    });
    let _ = done_rx.await;
    while rx.recv().await.is_some() {}
    task.await.expect("the baseline task");
}

/// The baseline with durability: the round trip plus writing and fsyncing the same bytes.
async fn bare_round_trip_with_fsync(file: &mut std::fs::File, bytes: &[u8]) {
    bare_round_trip().await;
    file.write_all(bytes).expect("write");
    file.sync_data().expect("fsync");
}

async fn interrupt_latency(session: &mut Session) -> Duration {
    session.submit(custom("wait")).expect("submit");
    while let Some(event) = session.next_event().await {
        if matches!(event.msg, EventMsg::BackgroundEvent { .. }) {
            break;
        }
    }
    let start = Instant::now();
    session.submit(Op::Interrupt).expect("submit");
    until_terminal(session).await;
    start.elapsed()
}

async fn raw_events() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let producer = tokio::spawn(async move {
        for n in 0..BURST_EVENTS {
            tx.send(EventMsg::AgentMessageDelta { delta: payload(n) })
                .expect("open");
        }
    });
    let mut count = 0;
    while rx.recv().await.is_some() {
        count += 1;
    }
    producer.await.expect("the producer");
    assert_eq!(count, BURST_EVENTS);
}

#[divan::bench(sample_count = 200)]
fn submit_to_complete_in_memory(bencher: divan::Bencher) {
    let rt = runtime();
    let mut session = rt.block_on(async { session(None) });
    bencher.bench_local(|| rt.block_on(noop_turn(&mut session)));
}

#[divan::bench(sample_count = 200)]
fn baseline_spawn_oneshot_mpsc(bencher: divan::Bencher) {
    let rt = runtime();
    bencher.bench_local(|| rt.block_on(bare_round_trip()));
}

#[divan::bench(sample_count = 50)]
fn submit_to_complete_with_rollout(bencher: divan::Bencher) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut session = rt.block_on(async { session(Some(&dir.path().join("rollout.jsonl"))) });
    bencher.bench_local(|| rt.block_on(noop_turn(&mut session)));
}

#[divan::bench(sample_count = 50)]
fn baseline_round_trip_with_fsync(bencher: divan::Bencher) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut file = std::fs::File::create(dir.path().join("baseline.jsonl")).expect("a file");
    let bytes = turn_bytes();
    bencher.bench_local(|| rt.block_on(bare_round_trip_with_fsync(&mut file, &bytes)));
}

#[divan::bench(sample_count = 100)]
fn interrupt_to_turn_aborted(bencher: divan::Bencher) {
    let rt = runtime();
    let mut session = rt.block_on(async { session(None) });
    bencher.bench_local(|| rt.block_on(interrupt_latency(&mut session)));
}

#[divan::bench(sample_count = 20)]
fn events_from_task_to_client(bencher: divan::Bencher) {
    let rt = runtime();
    let mut session = rt.block_on(async { session(None) });
    bencher
        .counter(divan::counter::ItemsCount::new(BURST_EVENTS))
        .bench_local(|| {
            rt.block_on(async {
                session.submit(custom("burst")).expect("submit");
                until_terminal(&mut session).await
            })
        });
}

#[divan::bench(sample_count = 20)]
fn baseline_raw_mpsc_events(bencher: divan::Bencher) {
    let rt = runtime();
    bencher
        .counter(divan::counter::ItemsCount::new(BURST_EVENTS))
        .bench_local(|| rt.block_on(raw_events()));
}

#[divan::bench(sample_count = 100)]
fn build_one_idle_session(bencher: divan::Bencher) {
    let rt = runtime();
    let _guard = rt.enter();
    bencher.bench_local(|| session(None));
}

/// The bytes a no-op turn writes to the rollout: its two events, as the journal holds them.
fn turn_bytes() -> Vec<u8> {
    let records = [
        r#"{"type":"event","event":{"id":"sub-1","seq":0,"msg":{"type":"task_started","kind":"noop"}}}"#,
        r#"{"type":"event","event":{"id":"sub-1","seq":1,"msg":{"type":"task_complete","last_agent_message":null}}}"#,
    ];
    records
        .iter()
        .flat_map(|line| line.bytes().chain([b'\n']))
        .collect()
}

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn ratios() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("a temp dir");

    let mut memory = rt.block_on(async { session(None) });
    let (in_memory, bare) = time_pair(
        2000,
        || rt.block_on(noop_turn(&mut memory)),
        || rt.block_on(bare_round_trip()),
    );
    println!(
        "ratio submit_to_complete_in_memory: {:.2} (session {in_memory:?} / bare {bare:?}; target <= 3)",
        in_memory.as_secs_f64() / bare.as_secs_f64()
    );

    let mut durable = rt.block_on(async { session(Some(&dir.path().join("rollout.jsonl"))) });
    let mut file = std::fs::File::create(dir.path().join("baseline.jsonl")).expect("a file");
    let bytes = turn_bytes();
    let (with_rollout, bare_fsync) = time_pair(
        200,
        || rt.block_on(noop_turn(&mut durable)),
        || rt.block_on(bare_round_trip_with_fsync(&mut file, &bytes)),
    );
    println!(
        "ratio submit_to_complete_with_rollout: {:.2} (session {with_rollout:?} / bare+fsync {bare_fsync:?}; target <= 1.5)",
        with_rollout.as_secs_f64() / bare_fsync.as_secs_f64()
    );

    let mut interrupting = rt.block_on(async { session(None) });
    let latency = median(
        (0..200)
            .map(|_| rt.block_on(interrupt_latency(&mut interrupting)))
            .collect(),
    );
    println!(
        "ratio interrupt_to_turn_aborted: {:.4} (median {latency:?} against 1 ms, with a 100 ms grace period; target < 1)",
        latency.as_secs_f64() / 0.001
    );

    let mut bursting = rt.block_on(async { session(None) });
    let (session_burst, raw_burst) = time_pair(
        30,
        || {
            rt.block_on(async {
                bursting.submit(custom("burst")).expect("submit");
                until_terminal(&mut bursting).await;
            });
        },
        || rt.block_on(raw_events()),
    );
    let session_rate = BURST_EVENTS as f64 / session_burst.as_secs_f64();
    let raw_rate = BURST_EVENTS as f64 / raw_burst.as_secs_f64();
    println!(
        "ratio events_per_second: {:.2} (session {session_rate:.0}/s / raw mpsc {raw_rate:.0}/s; target >= 0.5)",
        session_rate / raw_rate
    );

    let _guard = rt.enter();
    let before = resident_bytes();
    let idle: Vec<Session> = (0..10_000).map(|_| session(None)).collect();
    let after = resident_bytes();
    let per_session = after.saturating_sub(before) / idle.len();
    println!(
        "ratio idle_session_memory: {:.2} ({per_session} bytes per idle session over 10,000; aim <= 16384)",
        per_session as f64 / 16384.0
    );
    drop(idle);
}

fn main() {
    divan::main();
    ratios();
}
