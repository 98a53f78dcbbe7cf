//! Startup plus one turn: `turnkit exec --json --scripted` of a one-message turn, the whole
//! process, against `true` (the cost of spawning any process at all).
//!
//! divan measures both (`cargo bench -p turnkit-cli`); then a paired run prints the median
//! time in milliseconds and a `ratio` line against the 30 ms budget, which
//! `cargo xtask bench` collects.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The budget for startup plus one scripted turn.
const BUDGET: Duration = Duration::from_millis(30);

struct Fixture {
    project: TempDir,
    store: TempDir,
    script: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let project = tempfile::tempdir().expect("a temp dir");
        let store = tempfile::tempdir().expect("a temp dir");
        let script = store.path().join("script.json");
        let json = serde_json::json!({ "turns": [{ "steps": [{ "type": "message", "text": "Hello." }] }] });
        std::fs::write(&script, json.to_string()).expect("write the script");
        Fixture {
            project,
            store,
            script,
        }
    }

    fn exec(&self) {
        let status = Command::new(env!("CARGO_BIN_EXE_turnkit"))
            .args(["exec", "--json", "--scripted"])
            .arg(&self.script)
            .arg("say hello")
            .current_dir(self.project.path())
            .env("TURNKIT_SESSIONS_DIR", self.store.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run turnkit");
        assert!(
            status.success(),
            "the scripted turn must complete: {status}"
        );
    }
}

fn run_true() {
    let status = Command::new("true").status().expect("run true");
    assert!(status.success());
}

#[divan::bench(sample_count = 20)]
fn exec_one_message(bencher: divan::Bencher<'_, '_>) {
    let fixture = Fixture::new();
    bencher.bench_local(|| fixture.exec());
}

#[divan::bench(sample_count = 20)]
fn baseline_true() {
    run_true();
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ratios() {
    let fixture = Fixture::new();
    let (mut exec, mut baseline) = (Vec::new(), Vec::new());
    for round in 0..40 {
        let start = Instant::now();
        fixture.exec();
        let exec_time = start.elapsed();
        let start = Instant::now();
        run_true();
        let true_time = start.elapsed();
        // The first rounds warm the page cache and the binary's pages.
        if round >= 5 {
            exec.push(exec_time);
            baseline.push(true_time);
        }
    }
    let (exec, baseline) = (median(exec), median(baseline));
    println!(
        "turnkit exec --json --scripted (one message): {:.1} ms; true: {:.1} ms",
        exec.as_secs_f64() * 1000.0,
        baseline.as_secs_f64() * 1000.0
    );
    println!(
        "ratio exec_one_message_vs_30ms: {:.2} (exec {exec:?} / budget {BUDGET:?}; true {baseline:?}; target < 1)",
        exec.as_secs_f64() / BUDGET.as_secs_f64()
    );
}

fn main() {
    divan::main();
    ratios();
}
