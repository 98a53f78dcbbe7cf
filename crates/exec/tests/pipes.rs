//! Processes that keep the output pipes open after the command exits do not hang the run.

mod support;

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, ExitStatus, run};

use support::{Received, eventually, live_members, process_alive, receive_until};

/// Starts a `sleep` in a session of its own that holds stdout, waits until it has left the
/// process group (so the group's kill cannot reach it), prints its pid, and exits.
///
/// The `sleep` clears its environment, so the run cannot tell it is the command's (see
/// `tests/escapees.rs` for the processes it does recognise and kill): these tests are about
/// a pipe held by a process the run cannot end.
const ESCAPE: &str = "setsid env -i sleep 30 & pid=$!; \
    while [ \"$(ps -o sid= -p $pid | tr -d ' ')\" != \"$pid\" ]; do :; done; \
    echo escaped $pid";

/// Ends a process that left the group; not the run's to kill, so the test does it.
fn kill_escaped(pid: u32) {
    let pid = i32::try_from(pid).expect("pids fit in i32");
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

#[tokio::test]
async fn a_background_child_holding_stdout_is_terminated_with_the_group() {
    let started = Instant::now();
    let output = run(
        CommandSpec::argv(["sh", "-c", "sleep 30 & echo hi $!"]),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    let elapsed = started.elapsed();
    assert_eq!(output.status, ExitStatus::Exited(0));
    assert!(!output.cancelled && !output.timed_out);
    let text = output.stdout.to_string_lossy();
    let sleeper: u32 = text
        .trim()
        .strip_prefix("hi ")
        .and_then(|pid| pid.parse().ok())
        .expect("the sleeper's pid");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(!process_alive(sleeper));
    assert_eq!(
        live_members(output.pid.expect("started")),
        Vec::<u32>::new()
    );
}

#[tokio::test]
async fn a_leftover_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let grace = Duration::from_millis(200);
    let started = Instant::now();
    let output = run(
        CommandSpec::argv(["sh", "-c", "trap '' TERM; sleep 30 & echo hi"]).kill_grace(grace),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    let elapsed = started.elapsed();
    assert_eq!(output.status, ExitStatus::Exited(0));
    assert_eq!(output.stdout.to_string_lossy(), "hi\n");
    assert!(elapsed >= grace, "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(
        live_members(output.pid.expect("started")),
        Vec::<u32>::new()
    );
}

#[tokio::test]
async fn an_escaped_process_holding_stdout_does_not_hang_the_read() {
    let drain = Duration::from_millis(150);
    let started = Instant::now();
    let output = run(
        CommandSpec::argv(["sh", "-c", ESCAPE]).drain_timeout(drain),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    let elapsed = started.elapsed();
    let text = output.stdout.to_string_lossy();
    let escaped: u32 = text
        .trim()
        .strip_prefix("escaped ")
        .and_then(|pid| pid.parse().ok())
        .expect("the escaped pid");
    let still_alive = process_alive(escaped);
    // It left the group, so it is not ours to kill; the test cleans it up.
    kill_escaped(escaped);

    assert_eq!(output.status, ExitStatus::Exited(0));
    assert!(
        still_alive,
        "the escaped process outlived the run, holding the pipe"
    );
    assert!(elapsed >= drain, "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn an_escaped_process_that_keeps_writing_does_not_hang_the_read() {
    // It floods stderr; stdout stays small so the pid line is kept whatever the cap.
    let script = ESCAPE.replace("setsid env -i sleep 30", "setsid env -i yes >&2");
    let started = Instant::now();
    // A drain long enough that `yes` has surely written by its end on a loaded machine, and
    // far shorter than the bound below: the read still ends although the writer never stops.
    let output = run(
        CommandSpec::argv(["sh", "-c", &script]).drain_timeout(Duration::from_secs(1)),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    let elapsed = started.elapsed();
    let text = output.stdout.to_string_lossy();
    let escaped = text
        .lines()
        .find_map(|line| line.strip_prefix("escaped "))
        .and_then(|pid| pid.trim().parse::<u32>().ok());
    if let Some(escaped) = escaped {
        kill_escaped(escaped);
    }
    assert!(escaped.is_some(), "the escaped pid was printed");
    assert_eq!(output.status, ExitStatus::Exited(0));
    assert!(output.stderr.total_bytes() > 0);
    assert!(output.stderr.to_string_lossy().starts_with("y\ny\n"));
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn cancel_ends_the_drain_of_an_escaped_process_at_once() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let cancel = CancellationToken::new();
    let script = format!("{ESCAPE}; echo leader $$");
    let handle = tokio::spawn(run(
        CommandSpec::argv(["sh", "-c", &script])
            .drain_timeout(Duration::from_secs(60))
            .output_sender(tx),
        cancel.clone(),
    ));
    let mut received = Received::default();
    assert!(
        receive_until(&mut rx, &mut received, |r| r
            .stdout_text()
            .contains("leader"))
        .await
    );
    let text = received.stdout_text();
    let pid_after = |prefix: &str| -> u32 {
        text.lines()
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|pid| pid.trim().parse().ok())
            .expect("a pid line")
    };
    let (escaped, leader) = (pid_after("escaped "), pid_after("leader "));
    // Reaped means the run is draining the pipe the escaped process holds.
    let reaped = eventually(Duration::from_secs(5), || {
        !std::path::Path::new(&format!("/proc/{leader}")).exists()
    })
    .await;
    let cancelled_at = Instant::now();
    cancel.cancel();
    let output = handle.await.expect("no panic").expect("the command runs");
    let latency = cancelled_at.elapsed();
    kill_escaped(escaped);

    assert!(reaped, "the leader was reaped");
    assert_eq!(output.status, ExitStatus::Exited(0));
    assert!(output.cancelled);
    assert!(latency < Duration::from_secs(5), "{latency:?}");
}
