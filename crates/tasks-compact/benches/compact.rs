//! Compaction of a 200,000-token history with the scripted model: the time spent outside the
//! model (chunking, token estimates, child sessions, the check, history replacement).
//!
//! divan measures the pure planning work (`cargo bench -p turnkit-tasks-compact`); after its
//! table, whole compactions through a real session print the `ratio` line `cargo xtask bench`
//! collects: the time per 100,000 tokens against the 50 ms the compaction issue aims for.

use std::time::{Duration, Instant};

use divan::{Bencher, black_box};
use turnkit_model::{ModelInfo, ScriptedModel, ScriptedTurn, estimate_tokens};
use turnkit_protocol::{EventMsg, Op, ResponseItem};
use turnkit_tasks_compact::{
    Budgets, CompactConfig, check_summary, chunk_history, compacted_history,
};

#[path = "../tests/support/mod.rs"]
mod support;

const HISTORY_TOKENS: u64 = 200_000;
const CONTEXT_WINDOW: u64 = 128_000;
const AIM: Duration = Duration::from_millis(50);
const SUMMARY: &str = "Goal: finish the refactor.\nNext steps: run the tests.";

fn main() {
    divan::main();
    ratio();
}

/// A long session: user requests, tool calls with sizeable outputs, and answers, until it
/// holds `HISTORY_TOKENS` tokens.
fn history() -> Vec<ResponseItem> {
    let mut history = Vec::new();
    let mut turn = 0;
    while estimate_tokens(&history) < HISTORY_TOKENS {
        history.push(ResponseItem::user_text(format!(
            "request {turn}: please look at module {turn}"
        )));
        history.push(ResponseItem::FunctionCall {
            call_id: format!("call-{turn}"),
            name: "shell".into(),
            arguments: format!(r#"{{"command":["cat","src/module_{turn}.rs"]}}"#),
        });
        history.push(ResponseItem::FunctionCallOutput {
            call_id: format!("call-{turn}"),
            output: format!("fn item_{turn}() {{ let value = compute({turn}); }}\n").repeat(40),
            success: Some(true),
        });
        history.push(ResponseItem::assistant_text(format!(
            "module {turn} looks fine"
        )));
        turn += 1;
    }
    history
}

/// Everything a compaction does outside the model and the sessions.
fn plan(history: &[ResponseItem], budgets: Budgets) -> Vec<ResponseItem> {
    let chunks = chunk_history(history, budgets.chunk);
    black_box(chunks.len());
    let summary = check_summary(SUMMARY, budgets.summary).expect("the summary passes");
    let new_history = compacted_history(history, &summary, 1, budgets.user_messages);
    black_box(estimate_tokens(&new_history));
    new_history
}

#[divan::bench]
fn plan_200k_tokens(bencher: Bencher) {
    let history = history();
    let budgets = Budgets::for_window(&CompactConfig::default(), CONTEXT_WINDOW);
    bencher.bench(|| plan(black_box(&history), budgets));
}

/// One whole compaction through a session: returns its wall time.
async fn compact_once(history: &[ResponseItem]) -> Duration {
    let model = ScriptedModel::new((0..8).map(|_| ScriptedTurn::new().message(SUMMARY)))
        .with_info(ModelInfo::with_context_window(CONTEXT_WINDOW));
    let mut session = support::session(&model, CompactConfig::default());
    session.run(support::seed(history)).await;
    let start = Instant::now();
    let events = session.run(Op::Compact).await;
    let elapsed = start.elapsed();
    assert!(
        events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::ContextCompacted { .. })),
        "the benchmark's compaction did not replace the history"
    );
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Whole compactions; the scripted model answers at once, so their time is what turnkit adds
/// (the scripted model's own copy of each prompt is counted too, so the figure errs high).
fn ratio() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let history = history();
    let tokens = estimate_tokens(&history);
    let samples: Vec<Duration> = (0..15)
        .map(|_| runtime.block_on(compact_once(&history)))
        .collect();
    let whole = median(samples);
    #[allow(clippy::cast_precision_loss)]
    let per_100k = whole.mul_f64(100_000.0 / tokens as f64);
    println!(
        "ratio compact_200k_tokens_per_100k: {:.2} ({per_100k:?} per 100,000 tokens outside the model / aim {AIM:?}; a compaction of {tokens} tokens took {whole:?})",
        per_100k.as_secs_f64() / AIM.as_secs_f64()
    );
}
