//! Output as it streams and as it is retained: per-stream order, exact bytes, chunk bounds,
//! caps, backpressure and the model-facing rendering.

mod support;

use std::io::Write as _;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, MAX_CHUNK_BYTES, OutputStream, run};

use support::receive_all;

/// `"{prefix}1\n{prefix}2\n..."` up to `last`, as `seq` or the scripts print it.
fn numbered_lines(prefix: &str, last: u32) -> String {
    let mut text = String::new();
    for number in 1..=last {
        text.push_str(prefix);
        text.push_str(&number.to_string());
        text.push('\n');
    }
    text
}

#[tokio::test]
async fn interleaved_streams_keep_their_own_order() {
    let (tx, rx) = mpsc::channel(16);
    let script =
        "i=1; while [ $i -le 300 ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); done";
    let (output, received) = tokio::join!(
        run(
            CommandSpec::shell_with("/bin/sh", script).output_sender(tx),
            CancellationToken::new()
        ),
        receive_all(rx)
    );
    let output = output.expect("the script runs");
    let expected_out: String = numbered_lines("out ", 300);
    let expected_err: String = numbered_lines("err ", 300);
    assert_eq!(output.stdout.to_string_lossy(), expected_out);
    assert_eq!(output.stderr.to_string_lossy(), expected_err);
    assert_eq!(
        received.stream(OutputStream::Stdout),
        expected_out.as_bytes()
    );
    assert_eq!(
        received.stream(OutputStream::Stderr),
        expected_err.as_bytes()
    );

    // The aggregated copy holds exactly the chunks in the order they were forwarded.
    let forwarded: Vec<u8> = received
        .chunks
        .iter()
        .flat_map(|chunk| chunk.bytes.iter().copied())
        .collect();
    assert_eq!(output.aggregated.to_bytes(), forwarded);
    let aggregated = output.aggregated.to_string_lossy();
    let out_lines: Vec<&str> = aggregated
        .lines()
        .filter(|l| l.starts_with("out"))
        .collect();
    let err_lines: Vec<&str> = aggregated
        .lines()
        .filter(|l| l.starts_with("err"))
        .collect();
    assert_eq!(out_lines, expected_out.lines().collect::<Vec<_>>());
    assert_eq!(err_lines, expected_err.lines().collect::<Vec<_>>());
}

#[tokio::test]
async fn binary_and_non_utf8_output_is_preserved_exactly() {
    let mut content: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    content.extend_from_slice(b"\xff\xfe invalid \xc3\x28 utf-8 \xe2\x82");
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&content).expect("write content");
    let (tx, rx) = mpsc::channel(4);
    let (output, received) = tokio::join!(
        run(
            CommandSpec::argv(["cat".as_ref(), file.path().as_os_str()])
                .output_sender(tx)
                .output_cap(1 << 20),
            CancellationToken::new()
        ),
        receive_all(rx)
    );
    let output = output.expect("cat runs");
    assert_eq!(received.stream(OutputStream::Stdout), content);
    assert!(
        received
            .chunks
            .iter()
            .all(|chunk| chunk.bytes.len() <= MAX_CHUNK_BYTES)
    );
    assert!(received.chunks.len() >= content.len() / MAX_CHUNK_BYTES);
    assert_eq!(output.stdout.to_bytes(), content);
    assert!(!output.stdout.is_truncated());
    assert!(output.stdout.to_string_lossy().contains('\u{fffd}'));
}

#[tokio::test]
async fn retained_output_keeps_head_and_tail_within_the_cap() {
    let (tx, rx) = mpsc::channel(8);
    let (output, received) = tokio::join!(
        run(
            CommandSpec::argv(["seq", "1", "100000"])
                .output_cap(1000)
                .output_sender(tx),
            CancellationToken::new()
        ),
        receive_all(rx)
    );
    let output = output.expect("seq runs");
    let full: String = numbered_lines("", 100_000);
    assert_eq!(received.stdout_text(), full, "live chunks are not capped");
    assert_eq!(output.stdout.head(), &full.as_bytes()[..500]);
    assert_eq!(output.stdout.tail(), &full.as_bytes()[full.len() - 500..]);
    assert_eq!(output.stdout.total_bytes(), full.len() as u64);
    assert_eq!(output.stdout.omitted_bytes(), full.len() as u64 - 1000);
    assert_eq!(output.aggregated, output.stdout);
    assert!(output.output_truncated());

    let text = output.stdout.to_string_lossy();
    assert!(text.contains(&format!(
        "\n[... {} bytes omitted ...]\n",
        full.len() - 1000
    )));
    let formatted = output.formatted_output();
    assert!(formatted.starts_with(&format!(
        "Exit code: 0\nOutput (truncated: {} of {} bytes omitted from the middle):\n1\n2\n",
        full.len() - 1000,
        full.len()
    )));
    assert!(formatted.ends_with("99999\n100000\n"));
}

#[tokio::test]
async fn a_cut_never_splits_a_character_in_the_text() {
    // "é" is two bytes; a cap of 6 keeps 3 bytes at each end, which cuts an "é" at both.
    let output = run(
        CommandSpec::argv(["printf", "aaéxxxxxxxxxxébb"]).output_cap(6),
        CancellationToken::new(),
    )
    .await
    .expect("printf runs");
    assert_eq!(output.stdout.head(), b"aa\xc3");
    assert_eq!(output.stdout.tail(), b"\xa9bb");
    let text = output.stdout.to_string_lossy();
    assert!(!text.contains('\u{fffd}'), "{text}");
    assert_eq!(text, "aa\n[... 12 bytes omitted ...]\nbb");
}

#[tokio::test]
async fn empty_output_is_rendered_as_none() {
    let output = run(CommandSpec::argv(["true"]), CancellationToken::new())
        .await
        .expect("true runs");
    assert!(output.aggregated.is_empty());
    assert_eq!(output.formatted_output(), "Exit code: 0\nOutput: (none)\n");
}

#[tokio::test]
async fn a_slow_consumer_gets_every_chunk_in_order() {
    let (tx, mut rx) = mpsc::channel::<turnkit_exec::OutputChunk>(1);
    let consumer = async move {
        let mut bytes = Vec::new();
        while let Some(chunk) = rx.recv().await {
            bytes.extend_from_slice(&chunk.bytes);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        bytes
    };
    let (output, bytes) = tokio::join!(
        run(
            CommandSpec::argv(["seq", "1", "50000"]).output_sender(tx),
            CancellationToken::new()
        ),
        consumer
    );
    let output = output.expect("seq runs");
    let full: String = numbered_lines("", 50_000);
    assert_eq!(bytes, full.as_bytes());
    assert_eq!(output.stdout.to_bytes(), full.as_bytes());
}

#[tokio::test]
async fn a_dropped_receiver_does_not_stop_the_command() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let output = run(
        CommandSpec::argv(["seq", "1", "20000"]).output_sender(tx),
        CancellationToken::new(),
    )
    .await
    .expect("seq runs");
    assert_eq!(output.exit_code(), Some(0));
    assert!(output.stdout.to_string_lossy().ends_with("19999\n20000\n"));
}

#[tokio::test]
async fn a_consumer_slower_than_the_drain_timeout_still_gets_everything() {
    // "a" fills the channel and "b" waits for room, so stdout is not read while the rest of
    // the output sits in the pipe, the command exits, and the drain timeout passes long
    // before the consumer starts receiving.
    let (tx, mut rx) = mpsc::channel::<turnkit_exec::OutputChunk>(1);
    let consumer = async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut bytes = Vec::new();
        while let Some(chunk) = rx.recv().await {
            bytes.extend_from_slice(&chunk.bytes);
        }
        bytes
    };
    let (output, bytes) = tokio::join!(
        run(
            CommandSpec::shell_with(
                "/bin/sh",
                "printf a; sleep 0.1; printf b; sleep 0.1; head -c 60000 /dev/zero"
            )
            .drain_timeout(Duration::from_millis(1))
            .output_sender(tx),
            CancellationToken::new()
        ),
        consumer
    );
    let output = output.expect("the script runs");
    let mut expected = b"ab".to_vec();
    expected.resize(60_002, 0);
    assert_eq!(bytes.len(), expected.len());
    assert_eq!(bytes, expected);
    assert_eq!(output.stdout.to_bytes(), expected);
}
