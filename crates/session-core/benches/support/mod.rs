//! What the session-core benchmarks share: a runtime, ops, and paired timing.

use std::time::{Duration, Instant};

use turnkit_protocol::Op;

/// A current-thread runtime with timers and I/O, as a client would run a session on.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The op that runs the registered kind `name`.
pub(crate) fn custom(name: &str) -> Op {
    Op::Custom {
        name: name.into(),
        payload: serde_json::Value::Null,
    }
}

pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Medians of two workloads measured in alternation, so drift on a busy machine hits both.
pub(crate) fn time_pair<A: FnMut(), B: FnMut()>(
    runs: usize,
    mut first: A,
    mut second: B,
) -> (Duration, Duration) {
    let mut first_samples = Vec::with_capacity(runs);
    let mut second_samples = Vec::with_capacity(runs);
    for _ in 0..runs.min(10) {
        first();
        second();
    }
    for _ in 0..runs {
        let start = Instant::now();
        first();
        first_samples.push(start.elapsed());
        let start = Instant::now();
        second();
        second_samples.push(start.elapsed());
    }
    (median(first_samples), median(second_samples))
}
