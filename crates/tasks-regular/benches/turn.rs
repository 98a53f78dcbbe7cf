//! The agent turn's own cost, each against the baseline issue 9 names, in the same run:
//!
//! - a scripted turn of 10,000 text deltas: client-visible events per second against a raw
//!   tokio channel carrying the same events (the core's raw event throughput);
//! - 1,000 calls of a no-op tool in one scripted turn against calling the tool directly;
//! - a turn late in a session (500 turns of history) against a turn in a fresh session.
//!
//! Run with `cargo bench -p turnkit-tasks-regular --bench turn`; each pair prints one `ratio`
//! line, which `cargo xtask bench` collects.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use turnkit_model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit_protocol::{EventMsg, Op, ResponseItem, TaskKind, ToolSpec, UserInput};
use turnkit_session_core::{CancellationToken, Session, TaskContext, Tool, ToolOutput};
use turnkit_testkit::FnTask;

const DELTAS: usize = 10_000;
const CALLS: usize = 1_000;
const HISTORY_TURNS: usize = 500;

fn main() {
    divan::main();
    ratios();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A tool that does nothing.
struct Noop;

#[async_trait::async_trait]
impl Tool for Noop {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function("noop", "Does nothing.", json!({ "type": "object" }))
    }

    async fn call(
        &self,
        _ctx: Arc<TaskContext>,
        _call_id: &str,
        _arguments: Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        ToolOutput::success("ok")
    }
}

const SEED: TaskKind = TaskKind::from_static("seed");
const DIRECT: TaskKind = TaskKind::from_static("direct");
const BURST: TaskKind = TaskKind::from_static("burst");

/// A session with the regular kind, the no-op tool, `seed` (replaces the history with
/// `history`) and `direct` (calls the no-op tool `CALLS` times, straight).
fn session(model: &ScriptedModel, history: Vec<ResponseItem>) -> Session {
    let seed = FnTask::new(SEED, move |ctx, _input, _token| {
        let history = history.clone();
        async move {
            ctx.replace_history(history);
            Ok(None)
        }
    });
    let direct = FnTask::new(DIRECT, |ctx, _input, token| async move {
        let tool = Arc::clone(ctx.tools().get("noop").expect("registered"));
        for n in 0..CALLS {
            let call_id = format!("call-{n}");
            std::hint::black_box(
                tool.call(Arc::clone(&ctx), &call_id, json!({}), token.child_token())
                    .await,
            );
        }
        Ok(None)
    });
    let burst = FnTask::new(BURST, |ctx, _input, _token| async move {
        for n in 0..DELTAS {
            ctx.send_event(EventMsg::AgentMessageDelta {
                delta: format!("token {n} "),
            });
        }
        Ok(None)
    });
    Session::builder()
        .task(turnkit_tasks_regular::registration())
        .task(seed.registration())
        .task(direct.registration())
        .task(burst.registration())
        .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
        .tool(Noop)
        .build()
        .expect("a session")
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

async fn run(session: &mut Session, op: Op) -> usize {
    session.submit(op).expect("the session takes it");
    until_terminal(session).await
}

fn say(text: &str) -> Op {
    Op::UserInput {
        items: vec![UserInput::text(text)],
    }
}

fn custom(kind: &TaskKind) -> Op {
    Op::Custom {
        name: kind.as_str().to_owned(),
        payload: Value::Null,
    }
}

fn delta_turn() -> ScriptedTurn {
    ScriptedTurn::new().message_in_deltas((0..DELTAS).map(|n| format!("token {n} ")))
}

/// One scripted turn of `DELTAS` deltas in a fresh session; returns the events the client saw.
async fn delta_burst() -> usize {
    let model = ScriptedModel::new([delta_turn()]);
    let mut session = session(&model, Vec::new());
    run(&mut session, say("talk")).await
}

/// The same number of events through a bare tokio channel.
async fn raw_events() -> usize {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let producer = tokio::spawn(async move {
        for n in 0..DELTAS {
            tx.send(EventMsg::AgentMessageDelta {
                delta: format!("token {n} "),
            })
            .expect("open");
        }
    });
    let mut count = 0;
    while rx.recv().await.is_some() {
        count += 1;
    }
    producer.await.expect("the producer");
    count
}

fn many_calls() -> ScriptedTurn {
    (0..CALLS).fold(ScriptedTurn::new(), |turn, n| {
        turn.function_call(format!("call-{n}"), "noop", json!({}))
    })
}

/// What 500 turns leave behind: a question, a tool call and its output, an answer.
fn long_history() -> Vec<ResponseItem> {
    (0..HISTORY_TURNS)
        .flat_map(|n| {
            [
                ResponseItem::user_text(format!(
                    "please look at module {n} and tell me what it does"
                )),
                ResponseItem::FunctionCall {
                    call_id: format!("call-{n}"),
                    name: "noop".into(),
                    arguments: format!("{{\"path\":\"src/module_{n}.rs\"}}"),
                },
                ResponseItem::FunctionCallOutput {
                    call_id: format!("call-{n}"),
                    output: "pub fn run() { /* forty lines of code, summarised */ }".into(),
                    success: Some(true),
                },
                ResponseItem::assistant_text(format!(
                    "Module {n} runs the step it is named after."
                )),
            ]
        })
        .collect()
}

/// One short text turn after the history is reset to what `seed` holds; only the turn is timed.
async fn timed_turn(session: &mut Session, model: &ScriptedModel) -> Duration {
    run(session, custom(&SEED)).await;
    model.push_turn(ScriptedTurn::new().message("Done."));
    let start = Instant::now();
    run(session, say("and now?")).await;
    start.elapsed()
}

#[divan::bench(sample_count = 10)]
fn text_deltas_10k(bencher: divan::Bencher) {
    let rt = runtime();
    bencher
        .counter(divan::counter::ItemsCount::new(DELTAS))
        .bench_local(|| rt.block_on(delta_burst()));
}

#[divan::bench(sample_count = 10)]
fn raw_channel_10k(bencher: divan::Bencher) {
    let rt = runtime();
    bencher
        .counter(divan::counter::ItemsCount::new(DELTAS))
        .bench_local(|| rt.block_on(raw_events()));
}

#[divan::bench(sample_count = 10)]
fn tool_calls_1k_in_a_turn(bencher: divan::Bencher) {
    let rt = runtime();
    let model = ScriptedModel::new([]);
    let mut session = rt.block_on(async { session(&model, Vec::new()) });
    bencher.bench_local(|| {
        rt.block_on(async {
            run(&mut session, custom(&SEED)).await;
            model.push_turn(many_calls());
            model.push_turn(ScriptedTurn::new().message("Done."));
            run(&mut session, say("call")).await
        })
    });
}

#[divan::bench(sample_count = 10)]
fn tool_calls_1k_direct(bencher: divan::Bencher) {
    let rt = runtime();
    let model = ScriptedModel::new([]);
    let mut session = rt.block_on(async { session(&model, Vec::new()) });
    bencher.bench_local(|| rt.block_on(run(&mut session, custom(&DIRECT))));
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ratios() {
    let rt = runtime();

    // Events per second, a fresh session per sample so the history does not grow; the raw
    // channel is session-core's baseline, and a task sending the same deltas through a
    // session (session-core's own burst) is printed beside it.
    let mut turn_samples = Vec::new();
    let mut raw_samples = Vec::new();
    let mut core_samples = Vec::new();
    let mut events = 0;
    for _ in 0..15 {
        let start = Instant::now();
        events = rt.block_on(delta_burst());
        turn_samples.push(start.elapsed());
        let start = Instant::now();
        rt.block_on(raw_events());
        raw_samples.push(start.elapsed());
        let model = ScriptedModel::new([]);
        let mut core = rt.block_on(async { session(&model, Vec::new()) });
        let start = Instant::now();
        rt.block_on(run(&mut core, custom(&BURST)));
        core_samples.push(start.elapsed());
    }
    let (turn, raw, core) = (
        median(turn_samples),
        median(raw_samples),
        median(core_samples),
    );
    let turn_rate = events as f64 / turn.as_secs_f64();
    let raw_rate = DELTAS as f64 / raw.as_secs_f64();
    let core_rate = DELTAS as f64 / core.as_secs_f64();
    println!(
        "ratio regular_turn_events_per_second: {:.2} (turn {turn_rate:.0} client-visible events/s / raw channel {raw_rate:.0}/s; a task sending the same deltas through a session: {core_rate:.0}/s, so the turn runs at {:.2} of the session's own throughput; {events} events per turn; target >= 0.5)",
        turn_rate / raw_rate,
        turn_rate / core_rate
    );

    // Per-call overhead: the whole turn of 1,000 calls (two requests, the calls, their
    // outputs in history) against 1,000 direct calls of the same tool inside a task.
    let model = ScriptedModel::new([]);
    let mut calls_session = rt.block_on(async { session(&model, Vec::new()) });
    let mut turn_samples = Vec::new();
    let mut direct_samples = Vec::new();
    for _ in 0..15 {
        rt.block_on(run(&mut calls_session, custom(&SEED)));
        model.push_turn(many_calls());
        model.push_turn(ScriptedTurn::new().message("Done."));
        let start = Instant::now();
        rt.block_on(run(&mut calls_session, say("call")));
        turn_samples.push(start.elapsed());
        let start = Instant::now();
        rt.block_on(run(&mut calls_session, custom(&DIRECT)));
        direct_samples.push(start.elapsed());
    }
    let (turn, direct) = (median(turn_samples), median(direct_samples));
    let overhead_us = turn.saturating_sub(direct).as_secs_f64() * 1e6 / CALLS as f64;
    println!(
        "ratio tool_call_overhead: {:.3} ({overhead_us:.2} us per call above a direct call, against the 50 us aim; turn {turn:?} / direct {direct:?} = {:.1} for {CALLS} calls; target < 1)",
        overhead_us / 50.0,
        turn.as_secs_f64() / direct.as_secs_f64()
    );

    // A turn late in a long session against a turn in a fresh one, the history reset before
    // each sample so both stay as they are.
    let late_model = ScriptedModel::new([]);
    let fresh_model = ScriptedModel::new([]);
    let mut late = rt.block_on(async { session(&late_model, long_history()) });
    let mut fresh = rt.block_on(async { session(&fresh_model, Vec::new()) });
    let mut late_samples = Vec::new();
    let mut fresh_samples = Vec::new();
    for _ in 0..200 {
        late_samples.push(rt.block_on(timed_turn(&mut late, &late_model)));
        fresh_samples.push(rt.block_on(timed_turn(&mut fresh, &fresh_model)));
    }
    let (late_turn, fresh_turn) = (median(late_samples), median(fresh_samples));
    println!(
        "ratio regular_turn_late_in_session: {:.2} (a turn after {HISTORY_TURNS} turns of history {late_turn:?} / in a fresh session {fresh_turn:?}; target <= 1.5)",
        late_turn.as_secs_f64() / fresh_turn.as_secs_f64()
    );
}
