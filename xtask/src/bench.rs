//! `cargo xtask bench`: run every crate's benchmarks and sum up their ratio lines.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{Context as _, Result, bail};

use crate::workspace::{Package, Workspace, check, show};

/// Runs `cargo bench -p <crate>` for `only` (a package or folder name) or for every crate with
/// benchmarks, then prints each output line that mentions a ratio.
pub(crate) fn run(workspace: &Workspace, only: Option<&str>) -> Result<()> {
    let packages: Vec<&Package> = match only {
        Some(wanted) => {
            let package = workspace
                .packages
                .iter()
                .find(|p| p.name == wanted || p.folder == wanted)
                .with_context(|| format!("no workspace crate is named `{wanted}`"))?;
            if !package.has_benches {
                bail!(
                    "{} has no benchmarks (no `benches/` folder with `[[bench]]` targets)",
                    package.name
                );
            }
            vec![package]
        }
        None => workspace
            .packages
            .iter()
            .filter(|p| p.has_benches)
            .collect(),
    };
    if packages.is_empty() {
        println!("bench: no crate has benchmarks yet");
        return Ok(());
    }

    let mut summary = Vec::new();
    let mut failures = Vec::new();
    for package in packages {
        let mut command = workspace.cargo();
        command.args(["bench", "-p", &package.name, "--benches"]);
        match run_collecting(&mut command, |line| line.contains("ratio")) {
            Ok(lines) => summary.extend(
                lines
                    .into_iter()
                    .map(|line| format!("{}: {line}", package.name)),
            ),
            Err(error) => failures.push(format!("{}: {error:#}", package.name)),
        }
    }

    println!("\nbench summary:");
    if summary.is_empty() {
        println!("  (no benchmark printed a ratio line)");
    }
    for line in &summary {
        println!("  {line}");
    }
    if failures.is_empty() {
        return Ok(());
    }
    for failure in &failures {
        eprintln!("bench: {failure}");
    }
    bail!("{} benchmark run(s) failed", failures.len())
}

/// Runs a command, echoing its stdout and stderr as they come, and returns the lines of either
/// that `keep` selects.
fn run_collecting(
    command: &mut std::process::Command,
    keep: fn(&str) -> bool,
) -> Result<Vec<String>> {
    let shown = show(command);
    println!("$ {shown}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    let kept = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().context("stdout was piped")?;
    let stderr = child.stderr.take().context("stderr was piped")?;
    let readers = [
        echo(stdout, Arc::clone(&kept), keep, false),
        echo(stderr, Arc::clone(&kept), keep, true),
    ];
    let status = child
        .wait()
        .with_context(|| format!("waiting for `{shown}`"))?;
    for reader in readers {
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("an output reader of `{shown}` panicked"))??;
    }
    check(&shown, status)?;
    let kept = std::mem::take(
        &mut *kept
            .lock()
            .map_err(|_| anyhow::anyhow!("output lock poisoned"))?,
    );
    Ok(kept)
}

fn echo(
    stream: impl Read + Send + 'static,
    kept: Arc<Mutex<Vec<String>>>,
    keep: fn(&str) -> bool,
    to_stderr: bool,
) -> thread::JoinHandle<Result<()>> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            if to_stderr {
                std::io::stderr().write_all(&line)?;
            } else {
                std::io::stdout().write_all(&line)?;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end();
            if keep(text) {
                kept.lock()
                    .map_err(|_| anyhow::anyhow!("output lock poisoned"))?
                    .push(text.to_owned());
            }
        }
    })
}
