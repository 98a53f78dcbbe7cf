//! Throughput: 512 MiB through `run` with live chunk forwarding, against a plain
//! `std::process::Command` read loop over the same command, in the same run; prints the ratio.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use divan::Bencher;
use divan::counter::BytesCount;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, OutputChunk, run};

const BYTES: u64 = 512 * 1024 * 1024;
const READ_BUFFER: usize = 64 * 1024;

static EXEC_TIMES: Mutex<Vec<Duration>> = Mutex::new(Vec::new());
static PLAIN_TIMES: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

fn main() {
    divan::main();
    report();
}

fn head_args() -> [String; 3] {
    ["-c".to_owned(), BYTES.to_string(), "/dev/zero".to_owned()]
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn exec_with_live_forwarding(bencher: Bencher) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    bencher.counter(BytesCount::new(BYTES)).bench_local(|| {
        let started = Instant::now();
        let received = runtime.block_on(async {
            let (tx, mut rx) = mpsc::channel::<OutputChunk>(64);
            let consumer = tokio::spawn(async move {
                let mut received = 0u64;
                while let Some(chunk) = rx.recv().await {
                    received += chunk.bytes.len() as u64;
                }
                received
            });
            let spec = CommandSpec::new("head").args(head_args()).output_sender(tx);
            // Spawned, as a task runs it, rather than driven by `block_on`'s thread.
            let output = tokio::spawn(run(spec, CancellationToken::new()))
                .await
                .expect("the run does not panic")
                .expect("head runs");
            assert!(output.success());
            consumer.await.expect("the consumer finishes")
        });
        EXEC_TIMES
            .lock()
            .expect("no panic while recording")
            .push(started.elapsed());
        assert_eq!(received, BYTES);
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn plain_std_read_loop(bencher: Bencher) {
    bencher.counter(BytesCount::new(BYTES)).bench_local(|| {
        let started = Instant::now();
        let mut child = Command::new("head")
            .args(head_args())
            .stdout(Stdio::piped())
            .spawn()
            .expect("head starts");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut buffer = vec![0u8; READ_BUFFER];
        let mut received = 0u64;
        loop {
            let read = stdout.read(&mut buffer).expect("read stdout");
            if read == 0 {
                break;
            }
            received += read as u64;
            divan::black_box(&buffer[..read]);
        }
        assert!(child.wait().expect("head exits").success());
        PLAIN_TIMES
            .lock()
            .expect("no panic while recording")
            .push(started.elapsed());
        assert_eq!(received, BYTES);
    });
}

fn median(times: &Mutex<Vec<Duration>>) -> Option<Duration> {
    let mut times = times.lock().expect("no panic while recording").clone();
    times.sort();
    times.get(times.len() / 2).copied()
}

fn report() {
    let (Some(exec), Some(plain)) = (median(&EXEC_TIMES), median(&PLAIN_TIMES)) else {
        return;
    };
    let mib = (BYTES >> 20) as f64;
    let exec_rate = mib / exec.as_secs_f64();
    let plain_rate = mib / plain.as_secs_f64();
    let ratio = exec_rate / plain_rate;
    println!();
    println!("throughput (median of samples, 512 MiB each):");
    println!("  exec with live forwarding: {exec_rate:8.0} MiB/s ({exec:?})");
    println!("  plain std read loop:       {plain_rate:8.0} MiB/s ({plain:?})");
    println!(
        "  ratio exec/plain:          {ratio:8.2} (target >= 0.50: {})",
        if ratio >= 0.5 { "met" } else { "NOT MET" }
    );
}
