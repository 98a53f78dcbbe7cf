//! Exit codes and signals as the outcome reports them, and what the command runs with
//! (argv or shell, working directory, environment).

use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, ExitStatus, run, user_shell};

async fn run_ok(spec: CommandSpec) -> turnkit_exec::ExecOutput {
    run(spec, CancellationToken::new())
        .await
        .expect("the command runs")
}

#[tokio::test]
async fn exit_codes_are_reported() {
    for code in [0, 1, 2, 42, 255] {
        let output = run_ok(CommandSpec::argv(["sh", "-c", &format!("exit {code}")])).await;
        assert_eq!(output.status, ExitStatus::Exited(code));
        assert_eq!(output.exit_code(), Some(code));
        assert_eq!(output.signal(), None);
        assert_eq!(output.success(), code == 0);
        assert!(!output.timed_out && !output.cancelled);
        assert!(output.pid.is_some());
        assert!(output.spawn_failure.is_none());
    }
}

#[tokio::test]
async fn shell_scripts_run_with_dash_c() {
    let output = run_ok(CommandSpec::shell_with(
        "/bin/sh",
        "echo one; echo two >&2; exit 3",
    ))
    .await;
    assert_eq!(output.exit_code(), Some(3));
    assert_eq!(output.stdout.to_string_lossy(), "one\n");
    assert_eq!(output.stderr.to_string_lossy(), "two\n");
    assert_eq!(
        CommandSpec::shell_with("/bin/sh", "true").argv_lossy(),
        ["/bin/sh", "-c", "true"]
    );
}

#[tokio::test]
async fn the_users_shell_runs_scripts() {
    let shell = user_shell();
    assert!(shell.is_absolute(), "{}", shell.display());
    assert!(shell.is_file(), "{}", shell.display());
    let spec = CommandSpec::shell("printf '%s' \"$((6 * 7))\"");
    assert_eq!(spec.program(), shell.as_os_str());
    let output = run_ok(spec).await;
    assert_eq!(output.stdout.to_string_lossy(), "42");
}

#[tokio::test]
async fn a_process_killed_by_sigkill_reports_the_signal() {
    let output = run_ok(CommandSpec::argv([
        "sh",
        "-c",
        "echo before; kill -KILL $$; echo after",
    ]))
    .await;
    assert_eq!(output.status, ExitStatus::Signaled(9));
    assert_eq!(output.exit_code(), None);
    assert_eq!(output.status.signal_name(), Some("SIGKILL"));
    assert_eq!(output.stdout.to_string_lossy(), "before\n");
    assert!(!output.success());
    assert_eq!(
        output.formatted_output(),
        "Killed by signal 9 (SIGKILL)\nOutput:\nbefore\n"
    );
}

#[tokio::test]
async fn a_process_killed_by_sigterm_reports_the_signal() {
    let output = run_ok(CommandSpec::argv(["sh", "-c", "kill -TERM $$"])).await;
    assert_eq!(output.status, ExitStatus::Signaled(15));
    assert_eq!(output.signal(), Some(15));
    assert_eq!(output.status.to_string(), "killed by signal 15 (SIGTERM)");
    assert!(!output.timed_out && !output.cancelled);
}

#[tokio::test]
async fn runs_in_the_working_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run_ok(CommandSpec::argv(["pwd", "-P"]).cwd(dir.path())).await;
    let expected = dir.path().canonicalize().expect("canonical temp dir");
    assert_eq!(
        output.stdout.to_string_lossy().trim_end(),
        expected.to_string_lossy()
    );
}

#[tokio::test]
async fn environment_can_be_extended_trimmed_and_cleared() {
    let output = run_ok(
        CommandSpec::argv([
            "sh",
            "-c",
            "printf '%s|%s' \"$TURNKIT_A\" \"${HOME-unset}\"",
        ])
        .env("TURNKIT_A", "alpha")
        .env_remove("HOME"),
    )
    .await;
    assert_eq!(output.stdout.to_string_lossy(), "alpha|unset");

    let output = run_ok(
        CommandSpec::argv(["/usr/bin/env"])
            .env_clear()
            .env("ONLY", "this"),
    )
    .await;
    // Besides what was set, only the run's own marker (how it finds escaped processes).
    let printed = output.stdout.to_string_lossy();
    let mut lines: Vec<&str> = printed.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines.len(), 2, "{printed}");
    assert_eq!(lines[0], "ONLY=this");
    assert!(
        lines[1].starts_with("TURNKIT_RUN_") && lines[1].ends_with("=1"),
        "{printed}"
    );
}

#[tokio::test]
async fn the_child_leads_its_own_process_group() {
    let output = run_ok(CommandSpec::argv([
        "sh",
        "-c",
        "echo $$; ps -o pgid= -p $$",
    ]))
    .await;
    let text = output.stdout.to_string_lossy();
    let mut lines = text.lines().map(str::trim);
    let process = lines.next().expect("pid line");
    let group = lines.next().expect("pgid line");
    assert_eq!(process, group);
    assert_eq!(
        output.pid.map(|pid| pid.to_string()).as_deref(),
        Some(process)
    );
}

#[tokio::test]
async fn stdin_is_empty() {
    let output = run_ok(CommandSpec::argv(["wc", "-c"])).await;
    assert_eq!(output.stdout.to_string_lossy().trim(), "0");
}
