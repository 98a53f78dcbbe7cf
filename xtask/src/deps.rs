//! The dependency-boundary step: which crate may link which, checked with `cargo tree`.
//!
//! Crates that do not exist yet are skipped, so the check grows with the workspace.

use std::collections::BTreeSet;
use std::fs;

use anyhow::{Context as _, Result, bail};

use crate::features::{enabled_dependencies, parse_features, renames};
use crate::workspace::{Workspace, output};

const PROTOCOL: &str = "turnkit-protocol";
const SESSION_CORE: &str = "turnkit-session-core";
const FACADE: &str = "turnkit";
const OPENAI: &str = "turnkit-model-openai";
const TESTKIT: &str = "turnkit-testkit";
const TASKS_PREFIX: &str = "turnkit-tasks-";
/// Crates that know nothing of sessions.
const SESSIONLESS: &[&str] = &[
    "turnkit-exec",
    "turnkit-git-snapshot",
    "turnkit-model",
    "turnkit-model-openai",
    "turnkit-sandbox",
];
/// The sandbox sits beside exec: exec runs commands through it, so it never needs exec.
const SANDBOX: &str = "turnkit-sandbox";
/// The protocol crates beside the facade: they drive sessions, so they must not need the facade
/// (which re-exports them) or any task kind; and they are the only way their SDKs get linked.
const BESIDE_FACADE: &[(&str, &str)] = &[
    ("turnkit-mcp", "rmcp"),
    ("turnkit-acp", "agent-client-protocol"),
];
const EXEC: &str = "turnkit-exec";

/// Checks every boundary whose crates exist and fails with all violations found.
pub(crate) fn run(workspace: &Workspace) -> Result<()> {
    let mut violations = Vec::new();
    let mut checked = 0usize;
    let tree = |args: &[&str]| normal_dependencies(workspace, args);

    if workspace.has(PROTOCOL) {
        let dependencies = tree(&["-p", PROTOCOL, "--all-features"])?;
        checked += 1;
        if dependencies.contains("tokio") {
            violations.push(format!(
                "{PROTOCOL} depends on tokio; it must stay runtime-free"
            ));
        }
        for name in dependencies
            .iter()
            .filter(|name| name.starts_with("turnkit"))
        {
            violations.push(format!(
                "{PROTOCOL} depends on {name}; it is the bottom of the graph"
            ));
        }
    }

    for &name in SESSIONLESS.iter().filter(|name| workspace.has(name)) {
        checked += 1;
        if tree(&["-p", name, "--all-features"])?.contains(SESSION_CORE) {
            violations.push(format!(
                "{name} depends on {SESSION_CORE}; it must know nothing of sessions"
            ));
        }
    }

    if workspace.has(SANDBOX) {
        checked += 1;
        if tree(&["-p", SANDBOX, "--all-features"])?.contains(EXEC) {
            violations.push(format!(
                "{SANDBOX} depends on {EXEC}; the sandbox sits beside exec, which uses it"
            ));
        }
    }

    for package in workspace.with_prefix(TASKS_PREFIX) {
        checked += 1;
        let dependencies = tree(&["-p", &package.name, "--all-features"])?;
        for other in tasks_crates(&dependencies) {
            violations.push(format!(
                "{} depends on {other}; task crates never depend on each other (ask the session for a service instead)",
                package.name
            ));
        }
    }

    if workspace.has(SESSION_CORE) {
        checked += 1;
        let dependencies = tree(&["-p", SESSION_CORE, "--all-features"])?;
        for task in tasks_crates(&dependencies) {
            violations.push(format!(
                "{SESSION_CORE} depends on {task}; it knows no task kind"
            ));
        }
    }

    for &(name, _) in BESIDE_FACADE.iter().filter(|(name, _)| workspace.has(name)) {
        checked += 1;
        let dependencies = tree(&["-p", name, "--all-features"])?;
        if dependencies.contains(FACADE) {
            violations.push(format!(
                "{name} depends on {FACADE}; it sits beside the facade, which re-exports it"
            ));
        }
        for task in tasks_crates(&dependencies) {
            violations.push(format!(
                "{name} depends on {task}; it drives sessions through session-core only"
            ));
        }
    }

    if workspace.has(FACADE) {
        checked += facade(workspace, &mut violations)?;
    }

    println!("deps: {checked} boundary checks ran");
    if violations.is_empty() {
        return Ok(());
    }
    for violation in &violations {
        eprintln!("deps: {violation}");
    }
    bail!("{} dependency boundary violation(s)", violations.len())
}

/// Checks that the facade links only the task crates its features ask for; returns the number
/// of checks.
fn facade(workspace: &Workspace, violations: &mut Vec<String>) -> Result<usize> {
    let bare = normal_dependencies(workspace, &["-p", FACADE, "--no-default-features"])?;
    for task in tasks_crates(&bare) {
        violations.push(format!("{FACADE} --no-default-features links {task}"));
    }
    if bare.contains(OPENAI) {
        violations.push(format!("{FACADE} --no-default-features links {OPENAI}"));
    }
    // Test code belongs in a user's dev-dependencies, never in what `turnkit` links by default.
    let default = normal_dependencies(workspace, &["-p", FACADE])?;
    // An agent that needs neither MCP nor ACP links neither SDK.
    for &(_, sdk) in BESIDE_FACADE {
        if default.contains(sdk) {
            violations.push(format!(
                "{FACADE} links {sdk} with its default features; keep its feature out of `full`"
            ));
        }
    }
    if default.contains(TESTKIT) {
        violations.push(format!(
            "{FACADE} links {TESTKIT} with its default features; keep `testkit` out of `full`"
        ));
    }

    let manifest_path = workspace
        .root
        .join("crates")
        .join(FACADE)
        .join("Cargo.toml");
    let manifest = fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let root_manifest = fs::read_to_string(workspace.root.join("Cargo.toml"))
        .context("reading the root Cargo.toml")?;
    let mut package_of = renames(&root_manifest, "workspace.dependencies");
    package_of.extend(renames(&manifest, "dependencies"));

    let features = parse_features(&manifest);
    let mut checked = 2;
    for feature in matrix_features(&manifest) {
        checked += 1;
        let allowed: BTreeSet<String> = enabled_dependencies(&features, &feature)
            .into_iter()
            .map(|dependency| package_of.get(&dependency).cloned().unwrap_or(dependency))
            .filter(|package| package.starts_with(TASKS_PREFIX))
            .collect();
        let linked = normal_dependencies(
            workspace,
            &[
                "-p",
                FACADE,
                "--no-default-features",
                "--features",
                &feature,
            ],
        )?;
        for task in tasks_crates(&linked) {
            if !allowed.contains(task) {
                violations.push(format!(
                    "{FACADE} --no-default-features --features {feature} links {task}, which that feature does not list"
                ));
            }
        }
    }
    Ok(checked)
}

/// The facade features checked one at a time: all but `default` and `full`.
pub(crate) fn matrix_features(manifest: &str) -> Vec<String> {
    parse_features(manifest)
        .into_keys()
        .filter(|feature| feature != "default" && feature != "full")
        .collect()
}

fn tasks_crates(dependencies: &BTreeSet<String>) -> impl Iterator<Item = &str> {
    dependencies
        .iter()
        .map(String::as_str)
        .filter(|name| name.starts_with(TASKS_PREFIX))
}

/// The names of the packages `cargo tree` lists through normal edges, the root excluded.
fn normal_dependencies(workspace: &Workspace, args: &[&str]) -> Result<BTreeSet<String>> {
    let text = output(
        workspace
            .cargo()
            .args([
                "tree", "-e", "normal", "--target", "all", "--prefix", "none", "-f", "{p}",
            ])
            .args(args),
    )?;
    Ok(tree_names(&text))
}

/// Parses `cargo tree --prefix none -f '{p}'` output: one package a line, root first.
fn tree_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .skip(1)
        .filter(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_names_skip_the_root_and_keep_each_name_once() {
        let text = "turnkit v0.1.0 (/x/crates/turnkit)\nturnkit-protocol v0.1.0 (/x/crates/protocol)\n\
                    serde v1.0.219\nturnkit-protocol v0.1.0 (/x/crates/protocol) (*)\n";
        let names = tree_names(text);
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["serde", "turnkit-protocol"]
        );
    }

    #[test]
    fn matrix_skips_default_and_full() {
        let manifest = "[features]\ndefault = [\"full\"]\nfull = [\"shell\", \"undo\"]\nshell = []\nundo = []\nopenai = []\n";
        assert_eq!(matrix_features(manifest), ["openai", "shell", "undo"]);
    }
}
