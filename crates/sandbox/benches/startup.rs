//! Start-up cost of the sandbox: `true` run through exec under `read_only` (helper, Landlock,
//! socket filter), under `workspace_write` in a git repository (also a user and mount
//! namespace), and under `full_access` through the helper (subreaper only), each against `true`
//! run through exec without a sandbox, measured in alternation in the same run.
//!
//! divan measures each function (`cargo bench -p turnkit-sandbox`); afterwards a paired run
//! prints one `ratio` line per policy with the milliseconds the sandbox adds (aim < 5 ms).

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, run};
use turnkit_sandbox::{Sandbox, SandboxPolicy};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn helper() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_turnkit-sandbox-exec"))
}

fn run_true(runtime: &Runtime, dir: &Path, policy: Option<&SandboxPolicy>) {
    let mut spec = CommandSpec::argv(["true"]).cwd(dir);
    if let Some(policy) = policy {
        spec = spec.sandbox(Sandbox::new(policy.clone(), dir).helper(helper()));
    }
    let output = runtime
        .block_on(run(spec, CancellationToken::new()))
        .expect("`true` runs");
    assert_eq!(
        output.exit_code(),
        Some(0),
        "{}",
        output.aggregated.to_string_lossy()
    );
}

/// A git repository in a temp dir, so `workspace_write` protects its hooks and config.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    turnkit_testkit::git::init_repo(dir.path());
    dir
}

#[divan::bench(sample_count = 50)]
fn true_without_sandbox(bencher: divan::Bencher) {
    let runtime = runtime();
    let dir = repo();
    bencher.bench_local(|| run_true(&runtime, dir.path(), None));
}

#[divan::bench(sample_count = 50)]
fn true_read_only(bencher: divan::Bencher) {
    let runtime = runtime();
    let dir = repo();
    let policy = SandboxPolicy::read_only();
    bencher.bench_local(|| run_true(&runtime, dir.path(), Some(&policy)));
}

#[divan::bench(sample_count = 50)]
fn true_workspace_write(bencher: divan::Bencher) {
    let runtime = runtime();
    let dir = repo();
    let policy = SandboxPolicy::workspace_write();
    bencher.bench_local(|| run_true(&runtime, dir.path(), Some(&policy)));
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Medians of `true` with and without the sandbox, measured in alternation.
fn paired(
    runtime: &Runtime,
    dir: &Path,
    policy: &SandboxPolicy,
    runs: usize,
) -> (Duration, Duration) {
    let mut with = Vec::with_capacity(runs);
    let mut without = Vec::with_capacity(runs);
    for round in 0..runs + 5 {
        let started = Instant::now();
        run_true(runtime, dir, Some(policy));
        let sandboxed = started.elapsed();
        let started = Instant::now();
        run_true(runtime, dir, None);
        let plain = started.elapsed();
        if round >= 5 {
            with.push(sandboxed);
            without.push(plain);
        }
    }
    (median(with), median(without))
}

fn ratios() {
    let runtime = runtime();
    let repo = repo();
    let plain = tempfile::tempdir().expect("a temp dir");
    println!();
    let cases = [
        ("read_only", SandboxPolicy::read_only(), repo.path()),
        // In a git repository: a user and mount namespace makes its hooks and config read-only.
        (
            "workspace_write",
            SandboxPolicy::workspace_write(),
            repo.path(),
        ),
        (
            "workspace_write_no_git",
            SandboxPolicy::workspace_write(),
            plain.path(),
        ),
        ("full_access", SandboxPolicy::FullAccess, repo.path()),
    ];
    for (name, policy, dir) in cases {
        let (with, without) = paired(&runtime, dir, &policy, 100);
        let added_ms = (with.as_secs_f64() - without.as_secs_f64()) * 1000.0;
        println!(
            "ratio sandbox_startup_{name}: {:.2} (`true` through exec: {with:?} sandboxed, {without:?} without; {added_ms:.2} ms added, aim < 5 ms)",
            with.as_secs_f64() / without.as_secs_f64()
        );
    }
}

fn main() {
    divan::main();
    ratios();
}
