//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use std::fs;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::workspace::{Workspace, run};
use crate::{deps, tidy};

/// One step of the CI run.
struct Step {
    name: &'static str,
    about: &'static str,
    run: fn(&Workspace) -> Result<()>,
}

const STEPS: &[Step] = &[
    Step {
        name: "tidy",
        about: "//! headers, no pending snapshots, no unfinished or ignored tests",
        run: tidy::run,
    },
    Step {
        name: "fmt",
        about: "cargo fmt --all -- --check",
        run: fmt,
    },
    Step {
        name: "deps",
        about: "dependency boundaries, checked with cargo tree",
        run: deps::run,
    },
    Step {
        name: "clippy",
        about: "cargo clippy --workspace --all-targets --all-features -D warnings",
        run: clippy,
    },
    Step {
        name: "test",
        about: "cargo nextest (or cargo test), then doctests",
        run: test,
    },
    Step {
        name: "doc",
        about: "cargo doc --workspace --no-deps with RUSTDOCFLAGS=-D warnings",
        run: doc,
    },
    Step {
        name: "features",
        about: "clippy of the facade with no default features, then each feature alone",
        run: features,
    },
];

/// Parses `ci`'s arguments and runs the steps.
pub(crate) fn main(workspace: &Workspace, args: &[String]) -> Result<()> {
    let mut skipped: Vec<&str> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => {
                for step in STEPS {
                    println!("{:<10} {}", step.name, step.about);
                }
                return Ok(());
            }
            "--skip" => {
                let name = args
                    .next()
                    .context("`--skip` needs a step name; see `cargo xtask ci --list`")?;
                let Some(step) = STEPS.iter().find(|step| step.name == name) else {
                    bail!("no step is named `{name}`; see `cargo xtask ci --list`");
                };
                skipped.push(step.name);
            }
            other => {
                bail!("unknown argument `{other}` to `ci`; expected `--skip <step>` or `--list`")
            }
        }
    }
    run_steps(workspace, &skipped)
}

fn run_steps(workspace: &Workspace, skipped: &[&str]) -> Result<()> {
    let mut summary = Vec::new();
    let mut passed = 0usize;
    for step in STEPS {
        if skipped.contains(&step.name) {
            summary.push(format!("skip {}", step.name));
            continue;
        }
        println!("\n==> {}: {}", step.name, step.about);
        let start = Instant::now();
        let result = (step.run)(workspace);
        let seconds = start.elapsed().as_secs_f64();
        let status = if result.is_ok() { "ok" } else { "FAIL" };
        let line = format!("{status:<4} {:<14} {seconds:.1}s", step.name);
        println!("{line}");
        summary.push(line);
        if let Err(error) = result {
            print_summary(&summary);
            return Err(error.context(format!(
                "ci step `{}` failed ({passed} passed before it)",
                step.name
            )));
        }
        passed += 1;
    }
    print_summary(&summary);
    let skipped_note = if skipped.is_empty() {
        String::new()
    } else {
        format!(", {} skipped", skipped.len())
    };
    println!("ci: {passed} steps passed{skipped_note}");
    Ok(())
}

fn print_summary(lines: &[String]) {
    println!("\nci summary:");
    for line in lines {
        println!("{line}");
    }
}

fn fmt(workspace: &Workspace) -> Result<()> {
    run(workspace.cargo().args(["fmt", "--all", "--", "--check"]))
}

fn clippy(workspace: &Workspace) -> Result<()> {
    run(workspace.cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))
}

fn test(workspace: &Workspace) -> Result<()> {
    if has_nextest(workspace) {
        run(workspace.cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
            "--no-tests=warn",
        ]))?;
        // nextest does not run doctests.
        run(workspace
            .cargo()
            .args(["test", "--workspace", "--all-features", "--doc"]))
    } else {
        println!("cargo-nextest is not installed; using cargo test, which runs the doctests too");
        run(workspace
            .cargo()
            .args(["test", "--workspace", "--all-features", "--no-fail-fast"]))
    }
}

fn has_nextest(workspace: &Workspace) -> bool {
    workspace
        .cargo()
        .args(["nextest", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn doc(workspace: &Workspace) -> Result<()> {
    run(workspace.cargo().env("RUSTDOCFLAGS", "-D warnings").args([
        "doc",
        "--workspace",
        "--no-deps",
        "--all-features",
    ]))
}

fn features(workspace: &Workspace) -> Result<()> {
    if !workspace.has("turnkit") {
        println!("features: no facade crate yet; nothing to check");
        return Ok(());
    }
    let manifest_path = workspace
        .root
        .join("crates")
        .join("turnkit")
        .join("Cargo.toml");
    let manifest = fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let clippy = |features: &[&str]| {
        run(workspace
            .cargo()
            .args(["clippy", "-p", "turnkit", "--no-default-features"])
            .args(features)
            .args(["--", "-D", "warnings"]))
    };
    clippy(&[])?;
    for feature in deps::matrix_features(&manifest) {
        clippy(&["--features", &feature])?;
    }
    Ok(())
}
