//! No escapees: processes of the command that left its process group (`setsid`, a daemon's
//! double fork, `nohup`) die with the run, whether it finishes, is cancelled or is dropped.

mod support;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, ExitStatus, OutputChunk, run};
use turnkit_testkit::process::{escapee_pids, escapees_script, process_alive};

use support::{Received, eventually, receive_until};

async fn all_dead(pids: &[u32]) -> bool {
    eventually(Duration::from_secs(2), || {
        pids.iter().all(|pid| !process_alive(*pid))
    })
    .await
}

#[tokio::test]
async fn escapees_die_when_the_command_finishes() {
    let output = run(
        CommandSpec::shell_with("/bin/sh", escapees_script("echo done")),
        CancellationToken::new(),
    )
    .await
    .expect("the command runs");
    let pids = escapee_pids(&output.stdout.to_string_lossy()).expect("the pids were printed");
    assert_eq!(output.status, ExitStatus::Exited(0));
    assert!(
        all_dead(&pids).await,
        "an escapee outlived the run: {pids:?}"
    );
}

/// Starts the script with `sleep 60` after it and waits for its pids.
async fn started() -> (
    tokio::task::JoinHandle<Result<turnkit_exec::ExecOutput, turnkit_exec::Error>>,
    CancellationToken,
    Vec<u32>,
) {
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(16);
    let cancel = CancellationToken::new();
    let spec = CommandSpec::shell_with("/bin/sh", escapees_script("sleep 60"))
        .kill_grace(Duration::from_millis(300))
        .output_sender(tx);
    let handle = tokio::spawn(run(spec, cancel.clone()));
    let mut received = Received::default();
    assert!(
        receive_until(&mut rx, &mut received, |received| escapee_pids(
            &received.stdout_text()
        )
        .is_some())
        .await
    );
    let pids = escapee_pids(&received.stdout_text()).expect("checked above");
    assert!(pids.iter().all(|pid| process_alive(*pid)));
    (handle, cancel, pids)
}

#[tokio::test]
async fn escapees_die_when_the_command_is_cancelled() {
    let (handle, cancel, pids) = started().await;
    cancel.cancel();
    let output = handle.await.expect("no panic").expect("the command runs");
    assert!(output.cancelled);
    assert!(
        all_dead(&pids).await,
        "an escapee outlived the run: {pids:?}"
    );
}

#[tokio::test]
async fn escapees_die_when_the_run_is_dropped() {
    let (handle, _cancel, pids) = started().await;
    handle.abort();
    assert!(handle.await.is_err_and(|error| error.is_cancelled()));
    assert!(
        all_dead(&pids).await,
        "an escapee outlived the run: {pids:?}"
    );
}
