//! The tidy step: checks on the source tree that need no compiler.

use std::fs;
use std::path::Path;

use anyhow::{Result, bail};

use crate::workspace::{Workspace, relative, walk};

// Spelled in two pieces so this file does not trip its own checks.
const TODO: &str = concat!("todo", "!(");
const UNIMPLEMENTED: &str = concat!("unimplemented", "!(");
const IGNORE: &str = concat!("#[", "ignore");

/// Runs every tidy check and fails with the list of problems found.
pub(crate) fn run(workspace: &Workspace) -> Result<()> {
    let root = &workspace.root;
    let mut problems = Vec::new();
    walk(root, &mut |path| {
        let shown = relative(root, path);
        if is_pending_snapshot(&shown) {
            problems.push(format!(
                "{shown}: pending snapshot; review it (`cargo xtask snapshots`), then accept or delete it"
            ));
        }
        let in_checked_folder = shown.starts_with("crates/") || shown.starts_with("xtask/");
        if in_checked_folder && path.extension().is_some_and(|extension| extension == "rs") {
            let text = fs::read_to_string(path)?;
            problems.extend(check_source(&shown, &text));
        }
        Ok(())
    })?;
    if problems.is_empty() {
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("tidy found {} problem(s)", problems.len())
}

/// Every problem with one Rust source file, given its workspace-relative path.
fn check_source(path: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !starts_with_module_doc(text) {
        problems.push(format!(
            "{path}: does not start with a `//!` line saying what it owns"
        ));
    }
    let in_tests = is_test_path(path);
    for (index, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let number = index + 1;
        if !in_tests {
            for needle in [TODO, UNIMPLEMENTED] {
                if code.contains(needle) {
                    problems.push(format!("{path}:{number}: `{needle})` outside tests"));
                }
            }
        }
        if code.contains(IGNORE) {
            problems.push(format!(
                "{path}:{number}: ignored test; assert the current behaviour with a FIXME instead"
            ));
        }
    }
    problems
}

/// Whether the first line that is not blank is a `//!` line.
fn starts_with_module_doc(text: &str) -> bool {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| line.starts_with("//!"))
}

/// Whether a path is a test file: inside a `tests/` folder.
fn is_test_path(path: &str) -> bool {
    Path::new(path)
        .components()
        .any(|c| c.as_os_str() == "tests")
}

/// Whether a file name is one insta leaves for review.
fn is_pending_snapshot(path: &str) -> bool {
    path.ends_with(".snap.new") || path.ends_with(".pending-snap")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_doc_may_follow_blank_lines_only() {
        assert!(starts_with_module_doc("//! Owns things.\nfn main() {}\n"));
        assert!(starts_with_module_doc("\n  \n//! Owns things.\n"));
        assert!(!starts_with_module_doc("// Owns things.\n//! Late.\n"));
        assert!(!starts_with_module_doc("use std::fs;\n"));
        assert!(!starts_with_module_doc(""));
        assert!(!starts_with_module_doc(
            "    //! Indented inside something.\n"
        ));
    }

    #[test]
    fn unfinished_code_is_flagged_outside_tests_only() {
        let text =
            format!("//! Owns x.\nfn f() {{\n    {TODO})\n}}\nfn g() {{ {UNIMPLEMENTED}) }}\n");
        let problems = check_source("crates/x/src/lib.rs", &text);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("crates/x/src/lib.rs:3:"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("crates/x/src/lib.rs:5:"),
            "{problems:?}"
        );
        assert!(check_source("crates/x/tests/wire.rs", &text).is_empty());
    }

    #[test]
    fn comments_may_mention_forbidden_things() {
        let text =
            format!("//! Owns x.\n// never write {TODO}) or {IGNORE}]\n/// not {UNIMPLEMENTED})\n");
        assert!(check_source("crates/x/src/lib.rs", &text).is_empty());
    }

    #[test]
    fn ignored_tests_are_flagged_everywhere() {
        let text = format!("//! Owns x.\n#[test]\n{IGNORE} = \"slow\"]\nfn slow() {{}}\n");
        let problems = check_source("crates/x/tests/slow.rs", &text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("crates/x/tests/slow.rs:3:"),
            "{problems:?}"
        );
    }

    #[test]
    fn missing_module_doc_is_reported_with_the_path() {
        let problems = check_source("xtask/src/main.rs", "fn main() {}\n");
        assert_eq!(
            problems,
            ["xtask/src/main.rs: does not start with a `//!` line saying what it owns"]
        );
    }

    #[test]
    fn pending_snapshots_and_test_paths_are_recognised() {
        assert!(is_pending_snapshot(
            "crates/p/tests/snapshots/wire__a.snap.new"
        ));
        assert!(is_pending_snapshot("crates/p/src/.lib.rs.pending-snap"));
        assert!(!is_pending_snapshot(
            "crates/p/tests/snapshots/wire__a.snap"
        ));
        assert!(is_test_path("crates/p/tests/wire.rs"));
        assert!(is_test_path("crates/p/tests/support/mod.rs"));
        assert!(!is_test_path("crates/p/src/tests_support.rs"));
    }
}
