//! [`Capture`]: the output a command has forwarded so far, kept within a cap, for the end
//! event the abort hook sends when the run itself could not.

use std::collections::VecDeque;

/// Keeps the first half and the last half of everything pushed, up to `cap` bytes in all,
/// and counts what fell between them.
///
/// Invariant: `head.len() <= head_cap` and `tail.len() <= tail_cap`.
#[derive(Debug)]
pub(crate) struct Capture {
    head: Vec<u8>,
    head_cap: usize,
    tail: VecDeque<u8>,
    tail_cap: usize,
    omitted: u64,
}

impl Capture {
    pub(crate) fn new(cap: usize) -> Self {
        let head_cap = cap / 2;
        Self {
            head: Vec::new(),
            head_cap,
            tail: VecDeque::new(),
            tail_cap: cap - head_cap,
            omitted: 0,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let head_room = self.head_cap - self.head.len();
        let (to_head, rest) = bytes.split_at(head_room.min(bytes.len()));
        self.head.extend_from_slice(to_head);
        if rest.is_empty() {
            return;
        }
        // Only the last `tail_cap` bytes of `rest` can survive; skip the others unseen.
        let skipped = rest.len().saturating_sub(self.tail_cap);
        self.omitted += skipped as u64;
        self.tail.extend(&rest[skipped..]);
        let excess = self.tail.len().saturating_sub(self.tail_cap);
        self.tail.drain(..excess);
        self.omitted += excess as u64;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.total_bytes() == 0
    }

    pub(crate) fn is_truncated(&self) -> bool {
        self.omitted > 0
    }

    pub(crate) fn omitted_bytes(&self) -> u64 {
        self.omitted
    }

    pub(crate) fn total_bytes(&self) -> u64 {
        self.omitted + self.head.len() as u64 + self.tail.len() as u64
    }

    /// The kept bytes as text, with a line naming how many bytes were cut where they were.
    pub(crate) fn to_string_lossy(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        let (front, back) = self.tail.as_slices();
        let tail = String::from_utf8_lossy(&[front, back].concat()).into_owned();
        if self.is_truncated() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("[... ");
            text.push_str(&self.omitted.to_string());
            text.push_str(" bytes omitted ...]\n");
        }
        text.push_str(&tail);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::Capture;

    #[test]
    fn keeps_everything_within_the_cap() {
        let mut capture = Capture::new(10);
        capture.push(b"abc");
        capture.push(b"de");
        assert_eq!(capture.to_string_lossy(), "abcde");
        assert!(!capture.is_truncated());
    }

    #[test]
    fn keeps_head_and_tail_and_counts_the_cut() {
        let mut capture = Capture::new(6);
        capture.push(b"abcdefgh");
        capture.push(b"ijk");
        assert_eq!(capture.total_bytes(), 11);
        assert_eq!(capture.omitted_bytes(), 5);
        assert_eq!(
            capture.to_string_lossy(),
            "abc\n[... 5 bytes omitted ...]\nijk"
        );
    }

    #[test]
    fn a_zero_cap_keeps_nothing_and_counts_everything() {
        let mut capture = Capture::new(0);
        capture.push(b"abc");
        assert!(!capture.is_empty());
        assert_eq!(capture.omitted_bytes(), 3);
        assert_eq!(capture.to_string_lossy(), "[... 3 bytes omitted ...]\n");
    }
}
