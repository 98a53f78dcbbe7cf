//! turnkit's automation, run as `cargo xtask <command>`: what CI runs, benchmarks, and pending
//! snapshots.
//!
//! It needs nothing but cargo (and `diff`, if present) and depends on std and `anyhow` only,
//! so it compiles in seconds.

mod bench;
mod ci;
mod deps;
mod features;
mod snapshots;
mod tidy;
mod workspace;

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::workspace::Workspace;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci [--skip <step>]... [--list]   run every check CI runs, stopping at the first failure
  bench [<crate>]                   run the benchmarks of every crate (or one) and sum up their ratios
  snapshots                         list pending insta snapshots with their diffs
  help                              show this message

CI runs `INSTA_UPDATE=no cargo xtask ci` through .ci/run.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    match command.as_str() {
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        "ci" => ci::main(&Workspace::discover()?, rest),
        "bench" => match rest {
            [] => bench::run(&Workspace::discover()?, None),
            [name] => bench::run(&Workspace::discover()?, Some(name)),
            _ => bail!("`bench` takes at most one crate name\n\n{USAGE}"),
        },
        "snapshots" if rest.is_empty() => snapshots::run(&Workspace::discover()?),
        "snapshots" => bail!("`snapshots` takes no arguments\n\n{USAGE}"),
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}
