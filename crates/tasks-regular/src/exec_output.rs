//! What the model is shown of a command's run: exec's report, its head and tail kept within
//! a budget of lines and bytes.
//!
//! exec already keeps a head and a tail of the raw output within its retained cap (1 MiB by
//! default); a model's context needs a much smaller budget, counted in lines as well, since a
//! long listing of short lines costs as much attention as a few long ones.

use std::fmt::Write as _;

use turnkit_exec::ExecOutput;

/// How much of a command's report a model is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelOutputLimits {
    /// At most this many bytes, head and tail together (the marker line aside).
    pub max_bytes: usize,
    /// At most this many lines, head and tail together.
    pub max_lines: usize,
}

impl Default for ModelOutputLimits {
    /// 10 KiB and 256 lines: enough for a failing test's report, small beside a context window.
    fn default() -> Self {
        ModelOutputLimits {
            max_bytes: 10 * 1024,
            max_lines: 256,
        }
    }
}

/// The text a model is given for a command's run: its wall time, then exec's report (how it
/// ended, then its interleaved output), cut in the middle to `limits` with a line saying how
/// much was left out.
pub fn format_exec_output(output: &ExecOutput, limits: ModelOutputLimits) -> String {
    let report = format!(
        "Wall time: {:.1} seconds\n{}",
        output.duration.as_secs_f64(),
        output.formatted_output()
    );
    cap_middle(&report, limits)
}

/// `text` within `limits`: its first and last lines, each half of the budget, with a line
/// naming what was left out between them. A line too long for its half is cut at a character
/// boundary.
pub(crate) fn cap_middle(text: &str, limits: ModelOutputLimits) -> String {
    let line_count = text.lines().count();
    if text.len() <= limits.max_bytes && line_count <= limits.max_lines {
        return text.to_owned();
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let head_lines = limits.max_lines.div_ceil(2);
    let tail_lines = limits.max_lines / 2;
    let head_bytes = limits.max_bytes.div_ceil(2);
    let tail_bytes = limits.max_bytes / 2;

    let mut head = String::new();
    let mut head_taken = 0;
    for line in lines.iter().take(head_lines) {
        if head.len() + line.len() > head_bytes {
            let room = head_bytes - head.len();
            let cut = floor_char_boundary(line, room);
            if cut > 0 {
                head.push_str(&line[..cut]);
                head.push('\n');
            }
            break;
        }
        head.push_str(line);
        head_taken += 1;
    }

    let mut tail_parts: Vec<&str> = Vec::new();
    let mut tail_len = 0;
    let mut tail_taken = 0;
    for line in lines[head_taken..].iter().rev().take(tail_lines) {
        if tail_len + line.len() > tail_bytes {
            let room = tail_bytes - tail_len;
            let cut = ceil_char_boundary(line, line.len() - room);
            if cut < line.len() {
                tail_parts.push(&line[cut..]);
                tail_len += line.len() - cut;
            }
            break;
        }
        tail_parts.push(line);
        tail_len += line.len();
        tail_taken += 1;
    }
    tail_parts.reverse();

    let omitted_lines = lines.len().saturating_sub(head_taken + tail_taken);
    let omitted_bytes = text.len().saturating_sub(head.len() + tail_len);
    let mut capped = head;
    if !capped.is_empty() && !capped.ends_with('\n') {
        capped.push('\n');
    }
    let _ = writeln!(
        capped,
        "[... {omitted_lines} lines ({omitted_bytes} bytes) omitted ...]"
    );
    for part in tail_parts {
        capped.push_str(part);
    }
    capped
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::{ModelOutputLimits, cap_middle};

    fn limits(max_bytes: usize, max_lines: usize) -> ModelOutputLimits {
        ModelOutputLimits {
            max_bytes,
            max_lines,
        }
    }

    #[test]
    fn text_within_the_limits_is_kept_whole() {
        assert_eq!(cap_middle("a\nb\n", limits(100, 2)), "a\nb\n");
    }

    #[test]
    fn many_short_lines_keep_head_and_tail_lines() {
        let text: String = (1..=10).map(|n| n.to_string() + "\n").collect();
        assert_eq!(
            cap_middle(&text, limits(1_000, 4)),
            "1\n2\n[... 6 lines (12 bytes) omitted ...]\n9\n10\n"
        );
    }

    #[test]
    fn one_long_line_is_cut_at_character_boundaries() {
        let text = format!("{}{}", "é".repeat(10), "z".repeat(10));
        let capped = cap_middle(&text, limits(9, 10));
        assert!(capped.starts_with("éé\n[... "), "{capped}");
        assert!(capped.ends_with("\nzzzz"), "{capped}");
    }
}
