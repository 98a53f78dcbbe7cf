//! The capped accumulator behind each [`CapturedOutput`]: keeps the head by copy and the tail
//! as shared chunks, so output past the cap costs a reference count, not a copy.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::CapturedOutput;

/// Keeps the first `head_cap` bytes and the last `tail_cap` bytes of everything pushed.
///
/// Invariant: `tail_len` is the sum of the lengths in `tail`, and dropping the front chunk
/// would leave fewer than `tail_cap` bytes, so memory stays below
/// `head_cap + tail_cap + MAX_CHUNK_BYTES`.
#[derive(Debug)]
pub(crate) struct Capture {
    head: Vec<u8>,
    head_cap: usize,
    tail: VecDeque<Bytes>,
    tail_len: usize,
    tail_cap: usize,
    dropped: u64,
}

impl Capture {
    /// A capture that keeps at most `cap` bytes: the first half and the last half.
    pub(crate) fn new(cap: usize) -> Self {
        let head_cap = cap / 2;
        Self {
            head: Vec::new(),
            head_cap,
            tail: VecDeque::new(),
            tail_len: 0,
            tail_cap: cap - head_cap,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, chunk: &Bytes) {
        let mut rest = chunk.as_ref();
        let head_room = self.head_cap - self.head.len();
        if head_room > 0 {
            let taken = head_room.min(rest.len());
            if self.head.capacity() == 0 {
                self.head
                    .reserve_exact(self.head_cap.min(chunk.len().max(4096)));
            }
            self.head.extend_from_slice(&rest[..taken]);
            rest = &rest[taken..];
            if rest.is_empty() {
                return;
            }
        }
        if self.tail_cap == 0 {
            self.dropped += rest.len() as u64;
            return;
        }
        let rest = chunk.slice(chunk.len() - rest.len()..);
        self.tail_len += rest.len();
        self.tail.push_back(rest);
        while let Some(front) = self.tail.front() {
            if self.tail_len - front.len() < self.tail_cap {
                break;
            }
            self.tail_len -= front.len();
            self.dropped += front.len() as u64;
            self.tail.pop_front();
        }
    }

    pub(crate) fn finish(self) -> CapturedOutput {
        let excess = self.tail_len.saturating_sub(self.tail_cap);
        let mut tail = Vec::with_capacity(self.tail_len - excess);
        let mut skip = excess;
        for chunk in &self.tail {
            let from = skip.min(chunk.len());
            skip -= from;
            tail.extend_from_slice(&chunk[from..]);
        }
        CapturedOutput::from_parts(self.head, tail, self.dropped + excess as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture_of(cap: usize, chunks: &[&[u8]]) -> CapturedOutput {
        let mut capture = Capture::new(cap);
        for chunk in chunks {
            capture.push(&Bytes::copy_from_slice(chunk));
        }
        capture.finish()
    }

    #[test]
    fn keeps_everything_under_the_cap() {
        let output = capture_of(10, &[b"abc", b"de"]);
        assert_eq!(output.to_bytes(), b"abcde");
        assert!(!output.is_truncated());
    }

    #[test]
    fn keeps_head_and_tail_over_the_cap() {
        let output = capture_of(6, &[b"abcd", b"efgh", b"ij", b"klmnop"]);
        assert_eq!(output.head(), b"abc");
        assert_eq!(output.tail(), b"nop");
        assert_eq!(output.omitted_bytes(), 10);
        assert_eq!(output.total_bytes(), 16);
    }

    #[test]
    fn odd_caps_and_zero_cap() {
        let output = capture_of(5, &[b"0123456789"]);
        assert_eq!(output.head(), b"01");
        assert_eq!(output.tail(), b"789");
        let output = capture_of(0, &[b"0123", b"45"]);
        assert_eq!(output.retained_len(), 0);
        assert_eq!(output.total_bytes(), 6);
    }

    #[test]
    fn many_small_chunks_keep_the_exact_tail() {
        let mut capture = Capture::new(8);
        for byte in 0u8..100 {
            capture.push(&Bytes::copy_from_slice(&[byte]));
        }
        assert!(capture.tail.len() <= 4);
        let output = capture.finish();
        assert_eq!(output.head(), [0, 1, 2, 3]);
        assert_eq!(output.tail(), [96, 97, 98, 99]);
        assert_eq!(output.omitted_bytes(), 92);
    }
}
