//! Cancellation and drop: the whole process tree dies, including what ignores SIGTERM, and
//! nothing of the group survives the run.

mod support;

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, ExitStatus, OutputChunk, run};

use support::{Received, eventually, live_members, process_alive, receive_until};

/// A tree three deep: the shell, a `sleep` and a shell of its own in the background, and that
/// shell's `sleep`. With `ignore_term`, the inner shell and its sleep ignore SIGTERM.
fn three_deep_tree(ignore_term: bool) -> String {
    let trap = if ignore_term { "trap '' TERM; " } else { "" };
    format!(
        "sleep 30 & \
         sh -c \"{trap}sleep 30 & echo inner \\$\\$ \\$!; wait\" & \
         echo outer $$ $!; wait"
    )
}

/// The pids a tree printed: the outer shell, its background sleep, the inner shell and its
/// sleep.
fn tree_pids(received: &Received) -> Option<Vec<u32>> {
    let text = received.stdout_text();
    let numbers = |prefix: &str| -> Option<Vec<u32>> {
        let line = text.lines().find(|line| line.starts_with(prefix))?;
        line.split_whitespace()
            .skip(1)
            .map(|part| part.parse().ok())
            .collect()
    };
    let mut pids = numbers("outer ")?;
    pids.extend(numbers("inner ")?);
    (pids.len() == 4).then_some(pids)
}

async fn cancel_tree(
    ignore_term: bool,
    grace: Duration,
) -> (turnkit_exec::ExecOutput, Vec<u32>, Duration) {
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(16);
    let cancel = CancellationToken::new();
    let spec = CommandSpec::shell_with("/bin/sh", three_deep_tree(ignore_term))
        .kill_grace(grace)
        .output_sender(tx);
    let handle = tokio::spawn(run(spec, cancel.clone()));
    let mut received = Received::default();
    assert!(
        receive_until(&mut rx, &mut received, |received| tree_pids(received)
            .is_some())
        .await,
        "the tree started: {}",
        received.stdout_text()
    );
    let pids = tree_pids(&received).expect("checked above");
    assert!(
        pids.iter().all(|pid| process_alive(*pid)),
        "the whole tree runs"
    );
    let pgid = pids[0];
    assert_eq!(live_members(pgid).len(), 4, "all four share the group");

    let cancelled_at = Instant::now();
    cancel.cancel();
    let output = handle
        .await
        .expect("the run does not panic")
        .expect("the run succeeds");
    let latency = cancelled_at.elapsed();
    (output, pids, latency)
}

#[tokio::test]
async fn cancel_kills_a_three_deep_tree_that_ignores_sigterm() {
    let grace = Duration::from_millis(200);
    let (output, pids, latency) = cancel_tree(true, grace).await;
    assert!(output.cancelled);
    assert!(!output.timed_out);
    assert_eq!(output.pid, Some(pids[0]));
    // The outer shell honours SIGTERM; the inner one needed SIGKILL after the grace period.
    assert_eq!(output.status, ExitStatus::Signaled(15));
    assert!(latency >= grace, "{latency:?}");
    assert!(latency < grace + Duration::from_secs(5), "{latency:?}");
    assert_eq!(
        live_members(pids[0]),
        Vec::<u32>::new(),
        "no survivor in the group"
    );
    for pid in pids {
        assert!(!process_alive(pid), "process {pid} survived");
    }
    assert!(
        output
            .formatted_output()
            .starts_with("Cancelled; the command and its child processes were killed.\n")
    );
}

#[tokio::test]
async fn cancel_ends_a_tree_that_honours_sigterm_without_waiting_for_the_grace() {
    let grace = Duration::from_secs(20);
    let (output, pids, latency) = cancel_tree(false, grace).await;
    assert!(output.cancelled);
    assert_eq!(output.status, ExitStatus::Signaled(15));
    assert!(latency < Duration::from_secs(5), "{latency:?}");
    assert_eq!(live_members(pids[0]), Vec::<u32>::new());
    for pid in pids {
        assert!(!process_alive(pid), "process {pid} survived");
    }
}

#[tokio::test]
async fn a_token_cancelled_before_the_run_starts_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cancel = CancellationToken::new();
    cancel.cancel();
    let output = run(
        CommandSpec::argv(["touch", "marker"]).cwd(dir.path()),
        cancel,
    )
    .await
    .expect("a cancelled run is an outcome");
    assert!(output.cancelled);
    assert_eq!(output.pid, None);
    assert_eq!(output.status, ExitStatus::Signaled(15));
    assert!(!dir.path().join("marker").exists(), "the command ran");
}

#[tokio::test]
async fn cancel_right_after_start_terminates_the_command() {
    let cancel = CancellationToken::new();
    let (output, ()) = tokio::join!(
        run(CommandSpec::argv(["sleep", "30"]), cancel.clone()),
        async {
            tokio::task::yield_now().await;
            cancel.cancel();
        }
    );
    let output = output.expect("sleep starts");
    assert!(output.cancelled);
    assert_eq!(output.status, ExitStatus::Signaled(15));
    assert!(output.duration < Duration::from_secs(5));
    assert_eq!(
        live_members(output.pid.expect("started")),
        Vec::<u32>::new()
    );
}

#[tokio::test]
async fn dropping_the_run_kills_the_group() {
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(16);
    let spec =
        CommandSpec::shell_with("/bin/sh", "trap '' TERM; sleep 30 & echo ready $$ $!; wait")
            .output_sender(tx);
    let mut received = Received::default();
    {
        let run = run(spec, CancellationToken::new());
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => panic!("the run ended early: {result:?}"),
            started = receive_until(&mut rx, &mut received, |r| r.stdout_text().contains('\n')) => {
                assert!(started, "the command printed its pids");
            }
        }
    }
    let text = received.stdout_text();
    let pids: Vec<u32> = text
        .split_whitespace()
        .skip(1)
        .map(|part| part.parse().expect("a pid"))
        .collect();
    assert_eq!(pids.len(), 2, "{text}");
    // SIGKILL was sent when the future was dropped; the kernel delivers it asynchronously.
    assert!(
        eventually(Duration::from_secs(5), || live_members(pids[0]).is_empty()).await,
        "the group survived the drop: {:?}",
        live_members(pids[0])
    );
    assert!(!process_alive(pids[1]));
}
