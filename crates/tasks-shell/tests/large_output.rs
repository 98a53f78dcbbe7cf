//! A command that prints far more than a client should be sent: live deltas stop at their cap,
//! the end event says so, and memory stays bounded while the rest is consumed.

mod support;

use insta::assert_json_snapshot;

use support::{config, deltas, session_with, shell, the_end, without_deltas};

const FIFTY_MEGABYTES: &str = "head -c 50000000 /dev/zero; echo done >&2";

/// The process's peak resident memory so far, in bytes, from `/proc/self/status`.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("VmHWM is reported");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|number| number.parse().ok())
        .expect("VmHWM is a number of kB");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_output_stops_deltas_at_the_byte_cap_and_keeps_memory_bounded() {
    let before = peak_rss();
    let mut session = session_with(
        config()
            .output_cap(64 * 1024)
            .max_delta_bytes(256 * 1024)
            .history_cap(1024),
    )
    .build();
    let events = session.run(shell(FIFTY_MEGABYTES)).await;

    let streamed: usize = deltas(&events).iter().map(|(_, chunk)| chunk.len()).sum();
    assert_eq!(streamed, 256 * 1024, "deltas fill the byte cap exactly");
    let end = the_end(&events);
    assert_eq!(end.exit_code, Some(0));
    assert!(end.deltas_capped);
    assert!(end.output_truncated);
    assert!(end.stdout.len() < 64 * 1024 + 100, "{}", end.stdout.len());
    assert!(
        end.stderr == "done\n",
        "output after the cap is still consumed to the end"
    );
    assert!(
        end.formatted_output
            .contains("of 50000005 bytes omitted from the middle"),
        "every byte was read: {}",
        &end.formatted_output[..200]
    );
    let record = &support::user_messages(&session.history())[0];
    assert!(
        record.len() < 1024 + 200,
        "the record is capped: {}",
        record.len()
    );
    assert!(
        record.contains("bytes of output left out of this record"),
        "the record says it was cut"
    );
    let grown = peak_rss().saturating_sub(before);
    assert!(
        grown < 32 * 1024 * 1024,
        "peak memory grew by {grown} bytes for 50 MB of output"
    );
    assert_json_snapshot!(without_deltas(&session, &events), {
        ".**.aggregated_output" => "[aggregated]",
        ".**.stdout" => "[stdout]",
        ".**.formatted_output" => "[formatted]",
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_stop_at_the_count_cap() {
    let mut session = session_with(config().output_cap(16 * 1024).max_deltas(5)).build();
    let events = session.run(shell(FIFTY_MEGABYTES)).await;
    assert_eq!(deltas(&events).len(), 5);
    let end = the_end(&events);
    assert!(end.deltas_capped);
    assert_eq!(end.exit_code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_within_the_caps_is_not_marked_capped() {
    let mut session = session_with(config().max_deltas(5)).build();
    let events = session.run(shell("echo small")).await;
    assert!(!the_end(&events).deltas_capped);
    assert_eq!(deltas(&events).len(), 1);
}
