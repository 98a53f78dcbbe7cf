//! The `apply_patch` engine on a large edit: a 10,000-line file changed by 100 hunks, checked
//! in full (`PatchPlan::new`: parse, read, find every hunk, build the unified diff), against
//! the least any applier does (read the file, split it into lines, join them again), in the
//! same run.
//!
//! Run with `cargo bench -p turnkit-tasks-regular --bench patch`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use divan::{Bencher, black_box};
use turnkit_tasks_regular::{PatchPlan, parse_patch};

const LINES: usize = 10_000;
const HUNKS: usize = 100;

fn main() {
    divan::main();
    ratio();
}

/// The file, and a patch changing every hundredth line with three lines of context.
fn fixture() -> (String, String) {
    let file: String = (0..LINES).fold(String::new(), |mut text, line| {
        let _ = writeln!(
            text,
            "    let value_{line} = compute({line}, \"some text\");"
        );
        text
    });
    let mut patch = String::from("*** Begin Patch\n*** Update File: big.rs\n");
    for hunk in 0..HUNKS {
        let changed = hunk * (LINES / HUNKS) + 50;
        patch.push_str("@@\n");
        for line in changed - 3..changed {
            let _ = writeln!(
                patch,
                "     let value_{line} = compute({line}, \"some text\");"
            );
        }
        let _ = writeln!(
            patch,
            "-    let value_{changed} = compute({changed}, \"some text\");"
        );
        let _ = writeln!(
            patch,
            "+    let value_{changed} = compute({changed}, \"other text\");"
        );
        for line in changed + 1..changed + 4 {
            let _ = writeln!(
                patch,
                "     let value_{line} = compute({line}, \"some text\");"
            );
        }
    }
    patch.push_str("*** End Patch\n");
    (file, patch)
}

fn workspace(file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("big.rs"), file).expect("the file is written");
    dir
}

fn plan(patch: &str, root: &Path) -> usize {
    PatchPlan::new(patch, root)
        .expect("the patch applies")
        .changes()
        .len()
}

fn baseline(root: &Path) -> usize {
    let text = std::fs::read_to_string(root.join("big.rs")).expect("readable");
    let lines: Vec<&str> = text.split('\n').collect();
    lines.join("\n").len()
}

#[divan::bench]
fn parse_only(bencher: Bencher) {
    let (_, patch) = fixture();
    bencher.bench(|| {
        parse_patch(black_box(&patch))
            .expect("parses")
            .operations
            .len()
    });
}

#[divan::bench]
fn plan_100_hunks(bencher: Bencher) {
    let (file, patch) = fixture();
    let dir = workspace(&file);
    bencher.bench(|| plan(black_box(&patch), dir.path()));
}

#[divan::bench]
fn read_split_join(bencher: Bencher) {
    let (file, _) = fixture();
    let dir = workspace(&file);
    bencher.bench(|| baseline(dir.path()));
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Plan and baseline alternate, so machine drift hits both; prints the line `cargo xtask bench`
/// collects.
fn ratio() {
    let (file, patch) = fixture();
    let dir = workspace(&file);
    let mut plans = Vec::new();
    let mut baselines = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        black_box(plan(&patch, dir.path()));
        plans.push(start.elapsed());
        let start = Instant::now();
        black_box(baseline(dir.path()));
        baselines.push(start.elapsed());
    }
    let (plan, base) = (median(plans), median(baselines));
    println!(
        "ratio patch_plan_100_hunks: {:.1} (plan {plan:?} / read, split and join {base:?}; a check of {HUNKS} hunks on {LINES} lines)",
        plan.as_secs_f64() / base.as_secs_f64()
    );
}
