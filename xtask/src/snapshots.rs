//! `cargo xtask snapshots`: list pending insta snapshots, each with its diff.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result};

use crate::workspace::{Workspace, relative, walk};

/// Prints every pending snapshot; for a `.snap.new`, the unified diff against its `.snap`.
pub(crate) fn run(workspace: &Workspace) -> Result<()> {
    let root = &workspace.root;
    let mut pending: Vec<PathBuf> = Vec::new();
    walk(root, &mut |path| {
        let name = path.to_string_lossy();
        if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
            pending.push(path.to_path_buf());
        }
        Ok(())
    })?;
    if pending.is_empty() {
        println!("snapshots: nothing pending");
        return Ok(());
    }
    for path in &pending {
        let shown = relative(root, path);
        let Some(accepted) = shown.strip_suffix(".new") else {
            println!(
                "\n== {shown} (inline snapshots pending; run the tests with INSTA_UPDATE=always or `cargo insta review`)"
            );
            continue;
        };
        println!("\n== {shown}");
        let accepted = root.join(accepted);
        if accepted.is_file() {
            diff(root, &accepted, path)?;
        } else {
            println!("(new snapshot, nothing accepted yet)");
            print!(
                "{}",
                fs::read_to_string(path).with_context(|| format!("reading {shown}"))?
            );
        }
    }
    println!(
        "\nsnapshots: {} pending; after reading each, accept with INSTA_UPDATE=always or delete the file",
        pending.len()
    );
    Ok(())
}

/// Shows `diff -u accepted new`, or both files in full when `diff` is not installed.
fn diff(root: &Path, accepted: &Path, new: &Path) -> Result<()> {
    let status = Command::new("diff")
        .arg("-u")
        .arg(relative(root, accepted))
        .arg(relative(root, new))
        .current_dir(root)
        .status();
    match status {
        // `diff` exits 1 when the files differ, which is the expected case here.
        Ok(_) => Ok(()),
        Err(error) if error.kind() == ErrorKind::NotFound => {
            println!("--- accepted: {}", relative(root, accepted));
            print!("{}", fs::read_to_string(accepted)?);
            println!("+++ new: {}", relative(root, new));
            print!("{}", fs::read_to_string(new)?);
            Ok(())
        }
        Err(error) => Err(error).context("could not run `diff`"),
    }
}
