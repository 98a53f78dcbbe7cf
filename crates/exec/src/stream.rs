//! [`run_streaming`]: run a command and hand each output chunk to a callback as it arrives,
//! and [`DeltaBudget`], the cap on how much of that live output a caller passes on.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{CommandSpec, Error, ExecOutput, OutputChunk, run};

/// How many output chunks may wait between the process and the callback; beyond this the
/// process is paused on its pipe until the callback catches up.
const CHUNK_CHANNEL_CAPACITY: usize = 16;

/// Runs `spec` as [`run`] does, calling `on_chunk` with every output chunk in arrival order,
/// the last one before this returns.
///
/// An output sender already set on `spec` is replaced.
///
/// # Cancel safety
///
/// As [`run`]: dropping the future kills the process group; chunks not yet handed to
/// `on_chunk` are lost.
pub async fn run_streaming(
    spec: CommandSpec,
    cancel: CancellationToken,
    mut on_chunk: impl FnMut(&OutputChunk),
) -> Result<ExecOutput, Error> {
    let (tx, mut rx) = mpsc::channel(CHUNK_CHANNEL_CAPACITY);
    let run = run(spec.output_sender(tx), cancel);
    tokio::pin!(run);
    let result = loop {
        tokio::select! {
            biased;
            Some(chunk) = rx.recv() => on_chunk(&chunk),
            result = &mut run => break result,
        }
    };
    // The run has dropped its sender: what is left in the channel is the last output.
    rx.close();
    while let Some(chunk) = rx.recv().await {
        on_chunk(&chunk);
    }
    result
}

/// How much live output a caller still passes on, by count of chunks and by bytes; output
/// past the budget is only in the retained output.
#[derive(Clone, Debug)]
pub struct DeltaBudget {
    count_left: usize,
    bytes_left: usize,
    capped: bool,
}

impl DeltaBudget {
    /// A budget of `max_count` chunks and `max_bytes` bytes.
    pub fn new(max_count: usize, max_bytes: usize) -> Self {
        Self {
            count_left: max_count,
            bytes_left: max_bytes,
            capped: false,
        }
    }

    /// How many leading bytes of a chunk of `len` bytes to pass on: all, some (the budget ends
    /// inside it), or none (it ended before).
    pub fn take(&mut self, len: usize) -> usize {
        if self.capped || len == 0 {
            return 0;
        }
        if self.count_left == 0 || self.bytes_left == 0 {
            self.capped = true;
            return 0;
        }
        let sent = len.min(self.bytes_left);
        self.count_left -= 1;
        self.bytes_left -= sent;
        if sent < len {
            self.capped = true;
        }
        sent
    }

    /// Whether output was held back because the budget ran out.
    pub fn is_capped(&self) -> bool {
        self.capped
    }
}

#[cfg(test)]
mod tests {
    use super::DeltaBudget;

    #[test]
    fn a_budget_passes_whole_chunks_then_part_of_one_then_nothing() {
        let mut budget = DeltaBudget::new(3, 10);
        assert_eq!(budget.take(4), 4);
        assert_eq!(budget.take(0), 0);
        assert!(!budget.is_capped());
        assert_eq!(budget.take(8), 6);
        assert!(budget.is_capped());
        assert_eq!(budget.take(1), 0);
    }

    #[test]
    fn a_budget_runs_out_of_chunks_before_bytes() {
        let mut budget = DeltaBudget::new(1, 100);
        assert_eq!(budget.take(5), 5);
        assert!(!budget.is_capped());
        assert_eq!(budget.take(5), 0);
        assert!(budget.is_capped());
    }
}
