//! The timeout: the group is terminated, then killed if it ignores SIGTERM, and the outcome
//! says so.

mod support;

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, ExitStatus, run};

use support::live_members;

#[tokio::test]
async fn a_timeout_terminates_the_command() {
    let started = Instant::now();
    let output = run(
        CommandSpec::argv(["sh", "-c", "echo started; sleep 30"])
            .timeout(Duration::from_millis(300)),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    let elapsed = started.elapsed();
    assert!(output.timed_out);
    assert!(!output.cancelled);
    assert_eq!(output.status, ExitStatus::Signaled(15));
    assert_eq!(output.stdout.to_string_lossy(), "started\n");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert!(!output.success());
    assert_eq!(
        output.formatted_output(),
        "Timed out after 300ms; the command and its child processes were killed.\n\
         Killed by signal 15 (SIGTERM)\nOutput:\nstarted\n"
    );
    let pgid = output.pid.expect("the command started");
    assert_eq!(live_members(pgid), Vec::<u32>::new());
}

#[tokio::test]
async fn a_timeout_kills_what_ignores_sigterm_after_the_grace_period() {
    let grace = Duration::from_millis(200);
    let started = Instant::now();
    let output = run(
        CommandSpec::argv(["sh", "-c", "trap '' TERM; echo started; sleep 30"])
            .timeout(Duration::from_millis(200))
            .kill_grace(grace),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    let elapsed = started.elapsed();
    assert!(output.timed_out);
    assert_eq!(output.status, ExitStatus::Signaled(9));
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(
        live_members(output.pid.expect("started")),
        Vec::<u32>::new()
    );
}

#[tokio::test]
async fn a_command_that_finishes_in_time_is_not_timed_out() {
    let output = run(
        CommandSpec::argv(["echo", "quick"]).timeout(Duration::from_secs(30)),
        CancellationToken::new(),
    )
    .await
    .expect("echo runs");
    assert!(!output.timed_out);
    assert!(output.success());
    assert!(output.duration < Duration::from_secs(30));
}

#[tokio::test]
async fn a_command_that_handles_sigterm_reports_its_own_exit() {
    let output = run(
        CommandSpec::argv([
            "sh",
            "-c",
            "trap 'echo cleaning up; exit 7' TERM; echo started; sleep 30 & wait",
        ])
        .timeout(Duration::from_millis(300)),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    assert!(output.timed_out);
    assert_eq!(output.status, ExitStatus::Exited(7));
    assert_eq!(output.stdout.to_string_lossy(), "started\ncleaning up\n");
}
