//! Kill latency: from cancel until the run has returned with its whole three-deep process tree
//! dead, once for a tree that honours SIGTERM and once for one that ignores it; prints the
//! numbers against their targets. The baseline is the floor: the same tree killed by a direct
//! SIGKILL to its group, until the run has returned, measured the same way in the same run.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use divan::Bencher;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, Error, ExecOutput, OutputChunk, process_group_alive, run};

const GRACE: Duration = Duration::from_millis(200);
const SLACK: Duration = Duration::from_millis(50);

static HONOURS: Mutex<Vec<Duration>> = Mutex::new(Vec::new());
static IGNORES: Mutex<Vec<Duration>> = Mutex::new(Vec::new());
static BASELINE: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

fn main() {
    divan::main();
    report();
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The shell, a background `sleep`, and a background shell with its own `sleep`; with
/// `ignore_term` the inner shell and its sleep ignore SIGTERM.
fn tree(ignore_term: bool) -> CommandSpec {
    let trap = if ignore_term { "trap '' TERM; " } else { "" };
    let script =
        format!("sleep 30 & sh -c \"{trap}sleep 30 & echo inner; wait\" & echo outer $$; wait");
    CommandSpec::shell_with("/bin/sh", script).kill_grace(GRACE)
}

struct Started {
    handle: JoinHandle<Result<ExecOutput, Error>>,
    cancel: CancellationToken,
    pgid: i32,
}

/// Starts the tree and returns once every level has reported in.
fn start(runtime: &Runtime, ignore_term: bool) -> Started {
    runtime.block_on(async {
        let (tx, mut rx) = mpsc::channel::<OutputChunk>(16);
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(run(tree(ignore_term).output_sender(tx), cancel.clone()));
        let mut seen = String::new();
        while !(seen.contains("inner\n") && seen.contains("outer") && seen.ends_with('\n')) {
            let chunk = rx.recv().await.expect("the tree reports in");
            seen.push_str(&String::from_utf8_lossy(&chunk.bytes));
        }
        let pgid = seen
            .lines()
            .find_map(|line| line.strip_prefix("outer "))
            .and_then(|pid| pid.trim().parse().ok())
            .expect("the outer shell's pid");
        Started {
            handle,
            cancel,
            pgid,
        }
    })
}

/// Cancels and waits for the run; returns the latency after checking the group is empty.
fn cancel_and_wait(runtime: &Runtime, started: Started) -> Duration {
    let begun = Instant::now();
    started.cancel.cancel();
    let output = runtime
        .block_on(started.handle)
        .expect("the run does not panic")
        .expect("the run succeeds");
    let latency = begun.elapsed();
    let pgid = output.pid.expect("the tree started");
    assert!(!process_group_alive(pgid), "a process of the tree survived");
    latency
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn cancel_tree_honouring_sigterm(bencher: Bencher) {
    let runtime = runtime();
    bencher
        .with_inputs(|| start(&runtime, false))
        .bench_local_values(|started| {
            let latency = cancel_and_wait(&runtime, started);
            HONOURS.lock().expect("recording").push(latency);
        });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn cancel_tree_ignoring_sigterm(bencher: Bencher) {
    let runtime = runtime();
    bencher
        .with_inputs(|| start(&runtime, true))
        .bench_local_values(|started| {
            let latency = cancel_and_wait(&runtime, started);
            IGNORES.lock().expect("recording").push(latency);
        });
}

/// The floor: the same tree sent SIGKILL as a group at once, until the run has returned.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn baseline_sigkill_to_the_group(bencher: Bencher) {
    let runtime = runtime();
    bencher
        .with_inputs(|| start(&runtime, true))
        .bench_local_values(|started| {
            let begun = Instant::now();
            killpg(Pid::from_raw(started.pgid), Signal::SIGKILL).expect("the group exists");
            let output = runtime
                .block_on(started.handle)
                .expect("the run does not panic")
                .expect("the run succeeds");
            let latency = begun.elapsed();
            assert!(!process_group_alive(output.pid.expect("started")));
            BASELINE.lock().expect("recording").push(latency);
        });
}

fn summary(times: &Mutex<Vec<Duration>>) -> Option<(Duration, Duration)> {
    let mut times = times.lock().expect("recording").clone();
    times.sort();
    Some((*times.get(times.len() / 2)?, *times.last()?))
}

fn report() {
    println!();
    println!("kill latency, cancel until the run returned with the three-deep tree dead:");
    if let Some((median, max)) = summary(&HONOURS) {
        let target = SLACK;
        println!(
            "  honours SIGTERM: median {median:?}, max {max:?} (target <= {target:?}: {})",
            verdict(max <= target)
        );
    }
    if let Some((median, max)) = summary(&IGNORES) {
        let target = GRACE + SLACK;
        println!(
            "  ignores SIGTERM: median {median:?}, max {max:?} (grace {GRACE:?}; target <= {target:?}: {})",
            verdict(max <= target)
        );
    }
    if let Some((median, max)) = summary(&BASELINE) {
        println!("  baseline: median {median:?}, max {max:?}");
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}
