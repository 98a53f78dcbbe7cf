//! A gibibyte of output passes through with bounded retained memory, in reasonable time.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, MAX_CHUNK_BYTES, OutputChunk, run};

const GIB: u64 = 1 << 30;
const CAP: usize = 256 * 1024;

/// Far above the ~1 s this takes on a quiet machine, so only a real regression fails it.
const TIME_BOUND: Duration = Duration::from_secs(20);

fn one_gib_of_zeros() -> CommandSpec {
    CommandSpec::argv(["head", "-c", &GIB.to_string(), "/dev/zero"]).output_cap(CAP)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_keeps_only_the_cap() {
    let started = Instant::now();
    let output = run(one_gib_of_zeros(), CancellationToken::new())
        .await
        .expect("head runs");
    let elapsed = started.elapsed();
    println!("1 GiB without live forwarding: {elapsed:?}");
    assert_eq!(output.exit_code(), Some(0));
    for captured in [&output.stdout, &output.aggregated] {
        assert_eq!(captured.total_bytes(), GIB);
        assert_eq!(captured.retained_len(), CAP);
        assert_eq!(captured.omitted_bytes(), GIB - CAP as u64);
        assert!(
            captured
                .head()
                .iter()
                .chain(captured.tail())
                .all(|byte| *byte == 0)
        );
    }
    assert!(output.stderr.is_empty());
    assert!(elapsed < TIME_BOUND, "took {elapsed:?}");
    let peak = peak_resident_bytes();
    assert!(peak < 256 << 20, "peak resident memory {peak} bytes");
}

/// The test process's peak resident memory (`VmHWM`), in bytes.
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("a VmHWM line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .expect("VmHWM in kB");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_forwarded_live_is_counted_exactly() {
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(64);
    let consumer = tokio::spawn(async move {
        let mut total = 0u64;
        let mut largest = 0;
        while let Some(chunk) = rx.recv().await {
            total += chunk.bytes.len() as u64;
            largest = largest.max(chunk.bytes.len());
        }
        (total, largest)
    });
    let started = Instant::now();
    let output = run(
        one_gib_of_zeros().output_sender(tx),
        CancellationToken::new(),
    )
    .await
    .expect("head runs");
    let elapsed = started.elapsed();
    let (total, largest) = consumer.await.expect("the consumer finishes");
    println!("1 GiB with live forwarding: {elapsed:?}");
    assert_eq!(total, GIB);
    assert!(largest <= MAX_CHUNK_BYTES);
    assert_eq!(output.stdout.total_bytes(), GIB);
    assert!(output.stdout.retained_len() <= CAP);
    assert!(output.aggregated.retained_len() <= CAP);
    assert!(elapsed < TIME_BOUND, "took {elapsed:?}");
}
