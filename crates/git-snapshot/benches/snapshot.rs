//! Benchmarks on a generated repository of 100,000 files with 10 changed and 10 added: a
//! snapshot against `git status --porcelain` and against the naive temporary-index method, and
//! undo of the 20 paths against `git status --porcelain`.
//!
//! Two shapes of a real project follow in the ratio lines: a small repository (2,000 tracked
//! files, 5 changed and 3 added), where a snapshot's fixed cost shows, and fresh clones of it,
//! where every index entry is racily clean: the first snapshot of a clone against the first
//! `git status --porcelain` of another.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use divan::Bencher;
use tempfile::TempDir;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use turnkit_git_snapshot::{
    OpenOptions, Repository, Snapshot, SnapshotOptions, apply_undo, plan_undo, snapshot,
};

const TOP_DIRS: usize = 100;
const SUB_DIRS: usize = 10;
const FILES_PER_DIR: usize = 100;
const CHANGED: usize = 10;

fn main() {
    divan::main();
    // Set to measure only the small shapes, which take seconds rather than minutes.
    if std::env::var_os("TURNKIT_BENCH_SMALL_ONLY").is_none() {
        ratios();
    }
    small_ratios();
    fresh_clone_ratios();
}

/// The generated repository, built once per run.
struct Fixture {
    root: TempDir,
    work: PathBuf,
    global_config: PathBuf,
    runtime: Runtime,
    repo: Repository,
    before: Snapshot,
    after: Snapshot,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(generate);

fn file_path(top: usize, sub: usize, file: usize) -> String {
    format!("d{top:03}/s{sub:02}/f{file:03}.txt")
}

fn git(work: &Path, global_config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(work)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", global_config)
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE");
    command
}

/// `git init`, then one commit of everything in `work`.
fn commit_everything(work: &Path, global_config: &Path, message: &str) {
    run(git(work, global_config, &["init", "-q", "-b", "main"]));
    run(git(work, global_config, &["add", "-A"]));
    let mut commit = git(work, global_config, &["commit", "-q", "-m", message]);
    commit
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.invalid");
    run(commit);
}

fn run(mut command: Command) {
    let output = command.output().expect("git runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The turn's edits: 10 files changed and 10 added; writing them again is a no-op for content.
fn apply_turn(work: &Path) {
    for index in 0..CHANGED {
        let path = work.join(file_path(index * 7, index % SUB_DIRS, index * 3));
        std::fs::write(path, format!("changed by the turn {index}\n")).expect("change");
        let added = work.join(format!("d{:03}/added-{index}.txt", index * 5));
        std::fs::write(added, format!("added by the turn {index}\n")).expect("add");
    }
}

fn generate() -> Fixture {
    let root = tempfile::tempdir().expect("temp dir");
    let work = root.path().join("work");
    let global_config = root.path().join("gitconfig");
    std::fs::write(&global_config, "").expect("config");
    for top in 0..TOP_DIRS {
        for sub in 0..SUB_DIRS {
            std::fs::create_dir_all(work.join(format!("d{top:03}/s{sub:02}"))).expect("dirs");
            for file in 0..FILES_PER_DIR {
                let content = format!("file {top} {sub} {file}\n");
                std::fs::write(work.join(file_path(top, sub, file)), content).expect("file");
            }
        }
    }
    commit_everything(&work, &global_config, "generated");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let options = OpenOptions::default()
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", &global_config);
    let cancel = CancellationToken::new();
    let repo = runtime
        .block_on(Repository::open_with(&work, options, &cancel))
        .expect("repository opens");
    let snapshot_options = snapshot_options(root.path());
    let before = runtime
        .block_on(snapshot(&repo, &snapshot_options, &cancel))
        .expect("before");
    apply_turn(&work);
    let after = runtime
        .block_on(snapshot(&repo, &snapshot_options, &cancel))
        .expect("after");
    // Let the user's index settle the way it would after their own `git status`.
    run(git(&work, &global_config, &["status", "--porcelain"]));
    // Flush the freshly written tree to disk now: writeback running under the first benchmark
    // slows it by a third. Where there is no `sync` program, the benchmarks just run.
    let _ = Command::new("sync").status();
    Fixture {
        root,
        work,
        global_config,
        runtime,
        repo,
        before,
        after,
    }
}

fn snapshot_options(home: &Path) -> SnapshotOptions {
    SnapshotOptions {
        home_dir: Some(home.to_path_buf()),
        ..SnapshotOptions::default()
    }
}

/// Baseline for every ratio: `git status --porcelain` on the same tree.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn git_status_porcelain(bencher: Bencher) {
    let fixture = &*FIXTURE;
    apply_turn(&fixture.work);
    bencher.bench(|| git_status(fixture));
}

fn git_status(fixture: &Fixture) {
    run(git(
        &fixture.work,
        &fixture.global_config,
        &["status", "--porcelain"],
    ));
}

/// Target: at most 1.5 times `git_status_porcelain`.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn ghost_snapshot(bencher: Bencher) {
    let fixture = &*FIXTURE;
    apply_turn(&fixture.work);
    bencher.bench(|| take_snapshot(fixture));
}

fn take_snapshot(fixture: &Fixture) -> Snapshot {
    let options = snapshot_options(fixture.root.path());
    fixture
        .runtime
        .block_on(snapshot(&fixture.repo, &options, &CancellationToken::new()))
        .expect("snapshot")
}

/// Baseline: a temporary index read from HEAD, `add --all`, `write-tree`, `commit-tree`.
/// Target: `ghost_snapshot` at most 0.25 times this.
#[divan::bench(sample_count = 3, sample_size = 1)]
fn naive_snapshot(bencher: Bencher) {
    let fixture = &*FIXTURE;
    apply_turn(&fixture.work);
    bencher.bench(|| naive(fixture));
}

fn naive(fixture: &Fixture) {
    let scratch = tempfile::tempdir().expect("scratch");
    let index = scratch.path().join("index");
    let objects = scratch.path().join("objects");
    std::fs::create_dir_all(&objects).expect("objects");
    let env = |mut command: Command| {
        command
            .env("GIT_INDEX_FILE", &index)
            .env("GIT_OBJECT_DIRECTORY", &objects)
            .env(
                "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                fixture.work.join(".git/objects"),
            );
        command
    };
    let (work, config) = (&fixture.work, &fixture.global_config);
    run(env(git(work, config, &["read-tree", "HEAD"])));
    run(env(git(work, config, &["add", "--all"])));
    let output = env(git(work, config, &["write-tree"]))
        .output()
        .expect("write-tree");
    let tree = String::from_utf8(output.stdout).expect("utf-8");
    let mut commit = env(git(
        work,
        config,
        &["commit-tree", tree.trim(), "-p", "HEAD", "-m", "s"],
    ));
    commit
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.invalid");
    commit
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.invalid");
    run(commit);
}

/// Plan and apply the undo of the turn's 20 paths. Target: at most 1.5 times
/// `git_status_porcelain`.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn undo_twenty_paths(bencher: Bencher) {
    let fixture = &*FIXTURE;
    let cancel = CancellationToken::new();
    bencher
        .with_inputs(|| apply_turn(&fixture.work))
        .bench_values(|()| undo(fixture, &cancel));
    apply_turn(&fixture.work);
}

fn undo(fixture: &Fixture, cancel: &CancellationToken) {
    fixture.runtime.block_on(async {
        let plan = plan_undo(&fixture.repo, &fixture.before, &fixture.after, cancel)
            .await
            .expect("plan");
        assert_eq!(plan.steps.len(), 2 * CHANGED, "{:?}", plan.conflicts);
        let report = apply_undo(&plan, cancel).await.expect("apply");
        assert!(report.is_complete(), "{report:?}");
    });
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Medians of two workloads timed in alternation, each after its own untimed `setup`, so
/// drift on a busy machine hits both alike.
fn time_pair(
    runs: usize,
    mut setup: impl FnMut(),
    mut first: impl FnMut(),
    mut second: impl FnMut(),
) -> (Duration, Duration) {
    let mut first_samples = Vec::with_capacity(runs);
    let mut second_samples = Vec::with_capacity(runs);
    for round in 0..runs {
        // Alternate which goes first, so neither always inherits the other's cache state.
        let mut pair = [
            (&mut first as &mut dyn FnMut(), &mut first_samples),
            (&mut second, &mut second_samples),
        ];
        if round % 2 == 1 {
            pair.swap(0, 1);
        }
        for (work, samples) in pair {
            setup();
            let start = Instant::now();
            work();
            samples.push(start.elapsed());
        }
    }
    (median(first_samples), median(second_samples))
}

fn millis(duration: Duration) -> String {
    format!("{:.0}ms", duration.as_secs_f64() * 1000.0)
}

/// The target ratios, each measured as medians of alternating runs (`cargo xtask bench`
/// collects these lines).
fn ratios() {
    let fixture = &*FIXTURE;
    let cancel = CancellationToken::new();
    let turn = || apply_turn(&fixture.work);

    // One untimed round of each first, so the page cache holds the tree for both.
    turn();
    git_status(fixture);
    take_snapshot(fixture);

    let (snapshot_time, status_time) = time_pair(
        15,
        turn,
        || drop(take_snapshot(fixture)),
        || git_status(fixture),
    );
    println!(
        "ratio snapshot_vs_status: {:.2} (snapshot {} / git status {}; target <= 1.5)",
        snapshot_time.as_secs_f64() / status_time.as_secs_f64(),
        millis(snapshot_time),
        millis(status_time),
    );

    let (snapshot_time, naive_time) =
        time_pair(3, turn, || drop(take_snapshot(fixture)), || naive(fixture));
    println!(
        "ratio snapshot_vs_naive: {:.2} (snapshot {} / naive {}; target <= 0.25)",
        snapshot_time.as_secs_f64() / naive_time.as_secs_f64(),
        millis(snapshot_time),
        millis(naive_time),
    );

    let (undo_time, status_time) =
        time_pair(15, turn, || undo(fixture, &cancel), || git_status(fixture));
    println!(
        "ratio undo_vs_status: {:.2} (plan+apply undo {} / git status {}; target <= 1.5)",
        undo_time.as_secs_f64() / status_time.as_secs_f64(),
        millis(undo_time),
        millis(status_time),
    );
    turn();
}

const SMALL_DIRS: usize = 40;
const SMALL_FILES_PER_DIR: usize = 50;

/// A small project: 2,000 tracked files in 40 folders.
struct Small {
    root: TempDir,
    origin: PathBuf,
    global_config: PathBuf,
    runtime: Runtime,
}

fn small() -> Small {
    let root = tempfile::tempdir().expect("temp dir");
    let origin = root.path().join("origin");
    let global_config = root.path().join("gitconfig");
    std::fs::write(&global_config, "").expect("config");
    for dir in 0..SMALL_DIRS {
        std::fs::create_dir_all(origin.join(format!("src{dir:02}"))).expect("dirs");
        for file in 0..SMALL_FILES_PER_DIR {
            let content = format!("fn item_{dir}_{file}() {{}}\n").repeat(20);
            std::fs::write(origin.join(format!("src{dir:02}/m{file:02}.rs")), content)
                .expect("file");
        }
    }
    commit_everything(&origin, &global_config, "small");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    Small {
        root,
        origin,
        global_config,
        runtime,
    }
}

impl Small {
    /// A fresh clone, checked out as `git clone` leaves it.
    fn clone_into(&self, name: &str) -> PathBuf {
        let work = self.root.path().join(name);
        run(git(
            self.root.path(),
            &self.global_config,
            &["clone", "-q", self.origin.to_str().expect("utf-8"), name],
        ));
        work
    }

    fn open(&self, work: &Path) -> Repository {
        let options = OpenOptions::default()
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", &self.global_config);
        self.runtime
            .block_on(Repository::open_with(
                work,
                options,
                &CancellationToken::new(),
            ))
            .expect("repository opens")
    }

    fn snapshot(&self, repo: &Repository) -> Snapshot {
        let options = snapshot_options(self.root.path());
        self.runtime
            .block_on(snapshot(repo, &options, &CancellationToken::new()))
            .expect("snapshot")
    }

    fn status(&self, work: &Path) {
        run(git(work, &self.global_config, &["status", "--porcelain"]));
    }
}

/// The small turn: 5 files changed, 3 added.
fn small_turn(work: &Path, round: usize) {
    for index in 0..5 {
        let path = work.join(format!("src{:02}/m{:02}.rs", index * 7, index * 3));
        std::fs::write(path, format!("changed by the turn {index} {round}\n")).expect("change");
    }
    for index in 0..3 {
        let path = work.join(format!("src{:02}/added-{index}.rs", index * 5));
        std::fs::write(path, format!("added by the turn {index} {round}\n")).expect("add");
    }
}

/// Snapshots of a session after its first, in a small repository, against `git status`.
fn small_ratios() {
    let small = small();
    let work = small.clone_into("work");
    // The user's own status has settled the index, as it would have by the time of a turn.
    small.status(&work);
    let repo = small.open(&work);
    let mut round = 0;
    small_turn(&work, round);
    small.snapshot(&repo);
    small.status(&work);
    let (snapshot_time, status_time) = time_pair(
        21,
        || {
            round += 1;
            small_turn(&work, round);
        },
        || drop(small.snapshot(&repo)),
        || small.status(&work),
    );
    println!(
        "ratio snapshot_vs_status_small: {:.2} (snapshot {} / git status {}; 2,000 files, 8 changes; target <= 1.0)",
        snapshot_time.as_secs_f64() / status_time.as_secs_f64(),
        millis_fine(snapshot_time),
        millis_fine(status_time),
    );
}

/// The first snapshot of a fresh clone against the first `git status` of another, each on a
/// clone of its own made just before (so every index entry is racily clean), and the second
/// snapshot of the same clone.
fn fresh_clone_ratios() {
    let small = small();
    let mut first_snapshots = Vec::new();
    let mut second_snapshots = Vec::new();
    let mut first_statuses = Vec::new();
    for round in 0..7 {
        let for_snapshot = small.clone_into(&format!("snap{round}"));
        let for_status = small.clone_into(&format!("stat{round}"));
        small_turn(&for_snapshot, round);
        small_turn(&for_status, round);
        let repo = small.open(&for_snapshot);
        let start = Instant::now();
        small.status(&for_status);
        first_statuses.push(start.elapsed());
        let start = Instant::now();
        small.snapshot(&repo);
        first_snapshots.push(start.elapsed());
        small_turn(&for_snapshot, round + 100);
        let start = Instant::now();
        small.snapshot(&repo);
        second_snapshots.push(start.elapsed());
    }
    let (first, status, second) = (
        median(first_snapshots),
        median(first_statuses),
        median(second_snapshots),
    );
    println!(
        "ratio first_snapshot_vs_first_status_fresh_clone: {:.2} (first snapshot {} / first git status {}; target <= 1.5)",
        first.as_secs_f64() / status.as_secs_f64(),
        millis_fine(first),
        millis_fine(status),
    );
    println!(
        "ratio second_snapshot_vs_first_status_fresh_clone: {:.2} (second snapshot {} / first git status {})",
        second.as_secs_f64() / status.as_secs_f64(),
        millis_fine(second),
        millis_fine(status),
    );
}

fn millis_fine(duration: Duration) -> String {
    format!("{:.1}ms", duration.as_secs_f64() * 1000.0)
}
