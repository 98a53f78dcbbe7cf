//! The commands that need no model: `shell`, `snapshot`, `undo --dry-run`, `sessions`, usage
//! errors and completions, each through the built binary.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use support::{Project, assert_lifecycle, events, text};
use turnkit::EventMsg;

#[test]
fn shell_exits_with_the_commands_code() {
    let project = Project::new(&[]);
    let ok = project.run(&["shell", "--", "true"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let three = project.run(&["shell", "--", "sh", "-c", "echo out; exit 3"]);
    assert_eq!(three.status.code(), Some(3));
    assert!(text(&three.stdout).contains("out"));
    let script = project.run(&["shell", "--", "exit 7"]);
    assert_eq!(
        script.status.code(),
        Some(7),
        "one word runs as a shell script"
    );
}

#[test]
fn shell_json_prints_only_events_and_ends_with_the_terminal_event() {
    let project = Project::new(&[]);
    let output = project.run(&["shell", "--json", "--", "echo", "hello world"]);
    assert_eq!(output.status.code(), Some(0));
    let events = events(&output.stdout);
    assert_lifecycle(&events);
    let end = events
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::ExecCommandEnd(end) => Some(end.clone()),
            _ => None,
        })
        .expect("an exec_command_end");
    assert_eq!(end.stdout, "hello world\n");
}

#[test]
fn bad_flags_exit_2_with_a_helpful_message() {
    let project = Project::new(&[]);
    let output = project.run(&["exec", "--approval-policy", "sometimes", "hi"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("possible values"), "{stderr}");
    assert!(stderr.contains("untrusted"), "{stderr}");

    let unknown = project.run(&["frobnicate"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("--help"));

    let no_command = project.run(&["shell"]);
    assert_eq!(no_command.status.code(), Some(2));
}

#[test]
fn a_missing_key_for_openai_is_an_error_before_anything_runs() {
    let project = Project::new(&[]);
    let output = project.run(&["exec", "--json", "say hi"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        output.stdout.is_empty(),
        "nothing ran: {}",
        text(&output.stdout)
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("OPENAI_API_KEY"), "{stderr}");
    assert!(
        stderr.contains("--base-url"),
        "it says what to do: {stderr}"
    );
    assert!(project.rollouts().is_empty(), "no session was stored");
}

#[test]
fn no_prompt_and_an_empty_stdin_is_bad_usage() {
    let project = Project::new(&[]);
    let script = project.script(&serde_json::json!({ "turns": [] }));
    let output = project.run(&["exec", "--scripted", script.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("prompt"));
}

#[test]
fn snapshot_records_a_snapshot_and_sessions_lists_it() {
    let project = Project::new(&[("a.txt", "one\n")]);
    std::fs::write(project.dir.path().join("b.txt"), "untracked\n").expect("write");
    let output = project.run(&["snapshot", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let events = events(&output.stdout);
    assert_lifecycle(&events);
    assert!(events.iter().any(|event| matches!(&event.msg, EventMsg::BackgroundEvent { message } if message.contains("snapshot"))));
    assert_eq!(
        turnkit::testkit::git::git(project.dir.path(), &["status", "--porcelain"]),
        "?? b.txt\n",
        "HEAD and the index are untouched"
    );

    let listed = project.run(&["sessions", "--json"]);
    assert_eq!(listed.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = text(&listed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["cwd"], project.path().display().to_string());
    let human = project.run(&["sessions"]);
    assert!(text(&human.stdout).contains(lines[0]["id"].as_str().expect("an id")));
}

#[test]
fn undo_without_a_session_says_so() {
    let project = Project::new(&[]);
    let output = project.run(&["undo", "--dry-run"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("nothing to undo"));
}

#[test]
fn completions_are_printed_for_bash() {
    let project = Project::new(&[]);
    let output = project.run(&["completions", "bash"]);
    assert_eq!(output.status.code(), Some(0));
    let script = text(&output.stdout);
    assert!(
        script.contains("turnkit")
            && script.contains("exec")
            && script.contains("--approval-policy")
    );
}

#[test]
fn every_subcommand_has_help() {
    let project = Project::new(&[]);
    for command in [
        "exec",
        "review",
        "compact",
        "resume",
        "shell",
        "snapshot",
        "undo",
        "sessions",
        "demo",
        "completions",
    ] {
        let output = project.run(&[command, "--help"]);
        assert_eq!(output.status.code(), Some(0), "{command}");
        assert!(text(&output.stdout).contains("Usage: turnkit"), "{command}");
    }
}

/// Starts `turnkit shell --json` on a command whose shell writes its pid and then waits on
/// two sleeps, sends `signal` to turnkit once the command runs, and returns turnkit's exit
/// code, its stdout lines and the command's process group.
fn signal_mid_command(project: &Project, signal: &str) -> (Option<i32>, Vec<String>, u32) {
    let pid_file = project.store.path().join("pid");
    let script = format!(
        "echo $$ > {}; sleep 30 & sleep 30; wait",
        pid_file.display()
    );
    let mut child = project
        .command(&["shell", "--json", "--", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn turnkit");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        if line.expect("a line").contains("exec_command_begin") {
            break;
        }
    }
    let group = support::process_group(support::wait_for_pid(&pid_file));
    assert!(!turnkit::testkit::process::live_group_members(group).is_empty());
    let kill = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let rest: Vec<String> = lines.map(|line| line.expect("a line")).collect();
    let status = child.wait().expect("wait");
    (status.code(), rest, group)
}

#[test]
fn sigint_during_a_user_shell_command_kills_its_tree_and_exits_130() {
    let project = Project::new(&[]);
    let (code, rest, group) = signal_mid_command(&project, "-INT");
    assert_eq!(code, Some(130));
    assert!(
        rest.last()
            .is_some_and(|line| line.contains("turn_aborted")),
        "{rest:?}"
    );
    assert!(
        turnkit::testkit::process::live_group_members(group).is_empty(),
        "the command's process group is gone"
    );
    let rollout = std::fs::read_to_string(&project.rollouts()[0]).expect("the rollout");
    let last_event = rollout
        .lines()
        .rev()
        .find(|line| line.contains("\"type\":\"event\""))
        .expect("an event");
    assert!(last_event.contains("turn_aborted"), "{last_event}");
}

#[test]
fn sigterm_and_a_closed_terminal_shut_down_without_leaving_a_process() {
    for (signal, code) in [("-TERM", 143), ("-HUP", 129)] {
        let project = Project::new(&[]);
        let (exit, rest, group) = signal_mid_command(&project, signal);
        assert_eq!(exit, Some(code), "{signal}");
        assert!(
            rest.last()
                .is_some_and(|line| line.contains("shutdown_complete")),
            "{signal}: {rest:?}"
        );
        assert!(
            turnkit::testkit::process::live_group_members(group).is_empty(),
            "{signal}: the command's process group is gone"
        );
    }
}
