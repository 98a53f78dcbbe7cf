//! `turnkit demo` runs to completion offline and its table says every task kind succeeded.

mod support;

use support::{Project, text};

/// The rows the demo's table must show as `ok`: one per task kind built into the command.
const KINDS: &[&str] = &[
    "ghost_snapshot",
    "regular",
    "user_shell",
    "subagent",
    "review",
    "undo",
    "compact",
    "interrupt",
];

#[test]
fn demo_runs_to_completion_and_every_kind_succeeds() {
    let project = Project::new(&[]);
    let output = project.run(&["demo"]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("task kind"))
        .skip(1)
        .take_while(|line| !line.is_empty() && !line.starts_with("not in this build"))
        .collect();
    assert!(!table.iter().any(|row| row.contains("failed")), "{stdout}");
    assert!(
        !stdout.contains("not in this build"),
        "every kind is built in: {stdout}"
    );
    assert_eq!(table.len(), KINDS.len(), "{stdout}");
    for kind in KINDS {
        let row = table
            .iter()
            .find(|row| row.split_whitespace().next() == Some(kind))
            .unwrap_or_else(|| panic!("no row for {kind}: {stdout}"));
        assert!(row.contains(" ok "), "{row}");
    }
}

#[test]
fn demo_json_prints_only_events_on_stdout() {
    let project = Project::new(&[]);
    let output = project.run(&["demo", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let events = support::events(&output.stdout);
    for pair in events.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "seq without gaps");
    }
    assert!(
        text(&output.stderr).contains("task kind"),
        "the table goes to stderr"
    );
}
