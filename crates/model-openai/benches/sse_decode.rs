//! SSE decoding speed: a 20,000-delta response of each API decoded from memory into
//! `ResponseEvent`s by `decode_sse` (the code the HTTP client runs), against a raw scan of the
//! same bytes for `\n\n` event boundaries, in the same run.
//!
//! The body is fed in 16 KiB chunks, as a network read would deliver it. Counters are deltas,
//! so divan's items/s column reads as events per second.
//! Run with `cargo bench -p turnkit-model-openai --bench sse_decode`.

use std::fmt::Write as _;

use bytes::Bytes;
use divan::counter::{BytesCount, ItemsCount};
use divan::{Bencher, black_box};
use futures_util::{FutureExt, StreamExt, stream};
use turnkit_model::ModelError;
use turnkit_model_openai::{WireApi, decode_sse};

const DELTAS: usize = 20_000;
const CHUNK_BYTES: usize = 16 * 1024;

fn main() {
    divan::main();
    ratios();
}

/// A short paired run, decode and scan alternating so machine drift hits both, printing the
/// `ratio` lines `cargo xtask bench` collects.
fn ratios() {
    for wire_api in APIS {
        let chunks = body_for(wire_api);
        let mut decode_samples = Vec::new();
        let mut scan_samples = Vec::new();
        let mut events = 0;
        for _ in 0..20 {
            let copy = chunks.clone();
            let start = std::time::Instant::now();
            events = black_box(decode(wire_api, copy));
            decode_samples.push(start.elapsed());
            let start = std::time::Instant::now();
            black_box(raw_scan(&chunks));
            scan_samples.push(start.elapsed());
        }
        decode_samples.sort();
        scan_samples.sort();
        let decode_median = decode_samples[decode_samples.len() / 2];
        let scan_median = scan_samples[scan_samples.len() / 2];
        let decode_rate = events as f64 / decode_median.as_secs_f64();
        println!(
            "ratio sse_decode_{wire_api:?}: {:.2} (decode {decode_rate:.0} events/s in {decode_median:?} / raw scan {scan_median:?}; aim >= 0.3)",
            scan_median.as_secs_f64() / decode_median.as_secs_f64()
        );
    }
}

/// Words of varied length, with some JSON escapes, so deltas look like model output.
const WORDS: &[&str] = &[
    " the",
    " function",
    " returns",
    " `Result<T, E>`",
    " when",
    " \\\"quoted\\\"",
    " it",
    " fails",
    "\\n",
    " café",
    " parse",
    "_config",
    "(",
    "path",
    ")",
    " ✓",
];

fn responses_body() -> String {
    let mut body = String::new();
    body.push_str("event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_bench\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-4.1\",\"output\":[],\"usage\":null}}\n\n");
    body.push_str("event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"id\":\"msg_bench\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n");
    for index in 0..DELTAS {
        let word = WORDS[index % WORDS.len()];
        write!(
            body,
            "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{},\"item_id\":\"msg_bench\",\"output_index\":0,\"content_index\":0,\"delta\":\"{word}\",\"logprobs\":[],\"obfuscation\":\"a1b2c3\"}}\n\n",
            index + 2
        )
        .expect("writing to a String");
    }
    body.push_str("event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":20002,\"output_index\":0,\"item\":{\"id\":\"msg_bench\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"annotations\":[],\"text\":\"(elided)\"}]}}\n\n");
    body.push_str("event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":20003,\"response\":{\"id\":\"resp_bench\",\"status\":\"completed\",\"usage\":{\"input_tokens\":100,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":20000,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":20100}}}\n\n");
    body
}

fn chat_body() -> String {
    let mut body = String::new();
    for index in 0..DELTAS {
        let word = WORDS[index % WORDS.len()];
        write!(
            body,
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741290958,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_06737a9306\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        )
        .expect("writing to a String");
    }
    body.push_str("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741290958,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n");
    body.push_str("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741290958,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20000,\"total_tokens\":20100}}\n\n");
    body.push_str("data: [DONE]\n\n");
    body
}

fn chunks(body: String) -> Vec<Bytes> {
    let whole = Bytes::from(body);
    (0..whole.len())
        .step_by(CHUNK_BYTES)
        .map(|start| whole.slice(start..(start + CHUNK_BYTES).min(whole.len())))
        .collect()
}

fn body_for(wire_api: WireApi) -> Vec<Bytes> {
    match wire_api {
        WireApi::Responses => chunks(responses_body()),
        WireApi::ChatCompletions => chunks(chat_body()),
    }
}

fn byte_count(chunks: &[Bytes]) -> usize {
    chunks.iter().map(Bytes::len).sum()
}

/// Decodes every chunk and counts the events; the in-memory stream never waits, so no runtime is needed.
fn decode(wire_api: WireApi, chunks: Vec<Bytes>) -> usize {
    let mut events = decode_sse(
        wire_api,
        stream::iter(chunks.into_iter().map(Ok::<_, ModelError>)),
    );
    let mut count = 0;
    while let Some(Some(event)) = events.next().now_or_never() {
        assert!(event.is_ok(), "the bench body decodes cleanly: {event:?}");
        count += 1;
    }
    count
}

/// Counts `\n\n` boundaries across chunk edges: the least any SSE decoder must do.
fn raw_scan(chunks: &[Bytes]) -> usize {
    let mut boundaries = 0;
    let mut previous = 0_u8;
    for chunk in chunks {
        for &byte in chunk {
            if byte == b'\n' && previous == b'\n' {
                boundaries += 1;
            }
            previous = byte;
        }
    }
    boundaries
}

const APIS: [WireApi; 2] = [WireApi::Responses, WireApi::ChatCompletions];

#[divan::bench(args = APIS, sample_count = 30, sample_size = 1)]
fn decode_events(bencher: Bencher, wire_api: WireApi) {
    let body = body_for(wire_api);
    assert!(
        decode(wire_api, body.clone()) > DELTAS,
        "every delta becomes an event"
    );
    bencher
        .counter(ItemsCount::new(DELTAS))
        .counter(BytesCount::new(byte_count(&body)))
        .with_inputs(|| body.clone())
        .bench_values(|chunks| black_box(decode(wire_api, chunks)));
}

#[divan::bench(args = APIS, sample_count = 30, sample_size = 1)]
fn raw_boundary_scan(bencher: Bencher, wire_api: WireApi) {
    let body = body_for(wire_api);
    assert!(
        raw_scan(&body) > DELTAS,
        "every delta ends with a blank line"
    );
    bencher
        .counter(ItemsCount::new(DELTAS))
        .counter(BytesCount::new(byte_count(&body)))
        .bench_local(|| black_box(raw_scan(black_box(&body))));
}

/// SSE framing alone (`sse-stream`, the crate `decode_sse` builds on), to show how the decode
/// time splits between framing and JSON.
#[divan::bench(args = APIS, sample_count = 30, sample_size = 1)]
fn sse_framing_only(bencher: Bencher, wire_api: WireApi) {
    let body = body_for(wire_api);
    bencher
        .counter(ItemsCount::new(DELTAS))
        .counter(BytesCount::new(byte_count(&body)))
        .with_inputs(|| body.clone())
        .bench_values(|chunks| {
            let mut frames = sse_stream::SseByteStream::new(stream::iter(
                chunks.into_iter().map(Ok::<_, ModelError>),
            ));
            let mut data_bytes = 0;
            while let Some(Some(frame)) = frames.next().now_or_never() {
                let frame = frame.expect("the bench body frames cleanly");
                data_bytes += frame.data.map_or(0, |data| data.len());
            }
            black_box(data_bytes)
        });
}
