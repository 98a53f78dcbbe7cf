//! exec's guarantees hold through the helper (the process group is killed on cancel, output
//! is capped, nothing is left in the group), and no descendant escapes: not by `setsid`, a
//! double fork or `nohup`, and not by clearing its environment either.

mod support;

use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, ExecOutput, ExitStatus, OutputChunk, run};
use turnkit_sandbox::SandboxPolicy;
use turnkit_testkit::process::{escapee_pids, escapees_script, live_group_members, process_alive};

use support::{require_landlock, sandbox};

fn policies() -> [SandboxPolicy; 3] {
    [
        SandboxPolicy::read_only(),
        SandboxPolicy::workspace_write(),
        SandboxPolicy::FullAccess,
    ]
}

fn spec(policy: SandboxPolicy, dir: &Path, script: &str) -> CommandSpec {
    CommandSpec::shell_with("/bin/sh", script)
        .cwd(dir)
        .kill_grace(Duration::from_millis(300))
        .sandbox(sandbox(policy, dir))
}

async fn all_dead(pids: &[u32]) -> bool {
    for _ in 0..400 {
        if pids.iter().all(|pid| !process_alive(*pid)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// The escapees script, with its `sleep`s started under `env -i` as well when `clear_env`:
/// such processes carry no trace of the run, so only the helper can find them.
fn script(then: &str, clear_env: bool) -> String {
    let script = escapees_script(then);
    if clear_env {
        script.replace("sleep 3", "env -i sleep 3")
    } else {
        script
    }
}

#[tokio::test]
async fn escapees_die_when_a_sandboxed_command_finishes() {
    require_landlock();
    let dir = tempfile::tempdir().expect("a temp dir");
    for policy in policies() {
        for clear_env in [false, true] {
            let output = run(
                spec(policy.clone(), dir.path(), &script("echo done", clear_env)),
                CancellationToken::new(),
            )
            .await
            .expect("the command runs");
            let pids = escapee_pids(&output.stdout.to_string_lossy())
                .unwrap_or_else(|| panic!("pids printed: {}", output.aggregated.to_string_lossy()));
            assert_eq!(output.status, ExitStatus::Exited(0), "{policy}");
            assert!(
                all_dead(&pids).await,
                "{policy} (clear_env {clear_env}): an escapee outlived the run: {pids:?}"
            );
        }
    }
}

/// Runs `script` until `ready` holds for its output, then cancels it.
async fn cancel_when(spec: CommandSpec, ready: impl Fn(&str) -> bool) -> (ExecOutput, String) {
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(16);
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(run(spec.output_sender(tx), cancel.clone()));
    let mut seen = String::new();
    while !ready(&seen) {
        let chunk = rx.recv().await.expect("the command reports in");
        seen.push_str(&String::from_utf8_lossy(&chunk.bytes));
    }
    cancel.cancel();
    let output = handle.await.expect("no panic").expect("the command runs");
    (output, seen)
}

#[tokio::test]
async fn escapees_die_when_a_sandboxed_command_is_cancelled() {
    require_landlock();
    let dir = tempfile::tempdir().expect("a temp dir");
    for policy in policies() {
        let (output, seen) = cancel_when(
            spec(policy.clone(), dir.path(), &script("sleep 60", true)),
            |seen| escapee_pids(seen).is_some(),
        )
        .await;
        let pids = escapee_pids(&seen).expect("checked");
        assert!(output.cancelled);
        assert_eq!(output.status, ExitStatus::Signaled(15), "{policy}");
        assert!(
            all_dead(&pids).await,
            "{policy}: an escapee outlived the run"
        );
    }
}

#[tokio::test]
async fn cancel_kills_the_whole_tree_and_leaves_nothing_in_the_group() {
    require_landlock();
    let dir = tempfile::tempdir().expect("a temp dir");
    let tree = "sleep 30 & sh -c \"trap '' TERM; sleep 30 & echo inner \\$\\$ \\$!; wait\" & \
                echo outer $$ $!; wait";
    let (output, seen) = cancel_when(
        spec(SandboxPolicy::workspace_write(), dir.path(), tree),
        |seen| seen.contains("outer") && seen.contains("inner") && seen.ends_with('\n'),
    )
    .await;
    let pids: Vec<u32> = seen
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    assert_eq!(pids.len(), 4, "{seen}");
    assert!(output.cancelled);
    assert!(all_dead(&pids).await, "a process of the tree survived");
    let helper = output.pid.expect("started");
    assert!(!process_alive(helper));
    assert_eq!(live_group_members(helper), Vec::<u32>::new());
}

#[tokio::test]
async fn output_is_capped_through_the_helper() {
    require_landlock();
    let dir = tempfile::tempdir().expect("a temp dir");
    let output = run(
        spec(
            SandboxPolicy::read_only(),
            dir.path(),
            "head -c 3000000 /dev/zero | tr '\\0' x",
        )
        .output_cap(64 * 1024),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    assert_eq!(output.status, ExitStatus::Exited(0));
    assert_eq!(output.stdout.total_bytes(), 3_000_000);
    assert!(output.stdout.to_string_lossy().len() <= 64 * 1024 + 256);
    assert_eq!(
        live_group_members(output.pid.expect("started")),
        Vec::<u32>::new()
    );
}

#[tokio::test]
async fn a_command_killed_by_a_signal_reports_that_signal_through_the_helper() {
    require_landlock();
    let dir = tempfile::tempdir().expect("a temp dir");
    let output = run(
        spec(SandboxPolicy::read_only(), dir.path(), "kill -KILL $$"),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    assert_eq!(output.status, ExitStatus::Signaled(9));
    let output = run(
        spec(SandboxPolicy::read_only(), dir.path(), "exit 7"),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    assert_eq!(output.status, ExitStatus::Exited(7));
    let output = run(
        CommandSpec::argv(["no-such-program-anywhere"])
            .cwd(dir.path())
            .sandbox(sandbox(SandboxPolicy::read_only(), dir.path())),
        CancellationToken::new(),
    )
    .await
    .expect("the helper reports it");
    assert_eq!(output.exit_code(), Some(127));
    assert!(
        output
            .stderr
            .to_string_lossy()
            .contains("command not found")
    );
}
