//! What a command leaves behind: its `exec_command_end` event and the history record that
//! tells the model what the user ran.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use turnkit_exec::ExecOutput;
use turnkit_protocol::{ContentItem, ExecCommandEnd, ResponseItem, Role};

use crate::capture::Capture;

/// How a command ended, as far as the history record cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// It ran to its end (whatever its exit code) or timed out.
    Ran,
    /// It was cancelled before it finished.
    Cancelled,
    /// It never started.
    NotStarted,
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The end event of a command whose run reported its outcome.
pub(crate) fn end_from_output(
    call_id: String,
    cwd: &Path,
    output: &ExecOutput,
    deltas_capped: bool,
) -> ExecCommandEnd {
    ExecCommandEnd {
        call_id,
        exit_code: output.exit_code(),
        signal: output.signal(),
        duration_ms: millis(output.duration),
        stdout: output.stdout.to_string_lossy(),
        stderr: output.stderr.to_string_lossy(),
        aggregated_output: output.aggregated.to_string_lossy(),
        formatted_output: output.formatted_output(),
        cancelled: output.cancelled,
        timed_out: output.timed_out,
        output_truncated: output.output_truncated(),
        deltas_capped,
        cwd: cwd.to_path_buf(),
    }
}

/// The end event of a command that could not be run at all; `message` says why.
pub(crate) fn end_not_started(
    call_id: String,
    cwd: &Path,
    message: &str,
    duration: Duration,
) -> ExecCommandEnd {
    let stderr = format!("{message}\n");
    ExecCommandEnd {
        call_id,
        exit_code: None,
        signal: None,
        duration_ms: millis(duration),
        stdout: String::new(),
        stderr: stderr.clone(),
        aggregated_output: stderr,
        formatted_output: format!("The command could not be run: {message}\n"),
        cancelled: false,
        timed_out: false,
        output_truncated: false,
        deltas_capped: false,
        cwd: cwd.to_path_buf(),
    }
}

/// The formatted output of a command killed before its run could report how it ended.
pub(crate) fn format_abandoned(aggregated: &Capture) -> String {
    let mut text = String::from(
        "Cancelled; the command and its child processes were killed before they reported an exit status.\n",
    );
    if aggregated.is_empty() {
        text.push_str("Output: (none)\n");
        return text;
    }
    if aggregated.is_truncated() {
        let _ = writeln!(
            text,
            "Output (truncated: {} of {} bytes omitted from the middle):",
            aggregated.omitted_bytes(),
            aggregated.total_bytes()
        );
    } else {
        text.push_str("Output:\n");
    }
    text.push_str(&aggregated.to_string_lossy());
    text
}

/// The history item that tells the model what the user ran and what came of it, with the
/// formatted output cut to `cap` bytes.
pub(crate) fn history_record(
    command: &str,
    ending: Ending,
    formatted_output: &str,
    cap: usize,
) -> ResponseItem {
    let header = match ending {
        Ending::Ran => "The user ran a shell command:",
        Ending::Cancelled => "The user ran a shell command and cancelled it before it finished:",
        Ending::NotStarted => "The user tried to run a shell command, but it could not be run:",
    };
    let mut text = format!("{header}\n$ {command}\n");
    text.push_str(&cap_text(formatted_output, cap));
    ResponseItem::Message {
        role: Role::User,
        content: vec![ContentItem::InputText { text }],
    }
}

/// `text` within `cap` bytes: its start and its end, cut at character boundaries, with a line
/// naming what was left out.
fn cap_text(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_owned();
    }
    let mut head_end = cap / 2;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - (cap - cap / 2);
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let head = &text[..head_end];
    let tail = &text[tail_start..];
    let mut capped = String::with_capacity(cap + 64);
    capped.push_str(head);
    if !head.is_empty() && !head.ends_with('\n') {
        capped.push('\n');
    }
    let _ = writeln!(
        capped,
        "[... {} bytes of output left out of this record ...]",
        tail_start - head_end
    );
    capped.push_str(tail);
    capped
}

#[cfg(test)]
mod tests {
    use super::cap_text;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(cap_text("hello\n", 16), "hello\n");
    }

    #[test]
    fn long_text_keeps_head_and_tail_at_character_boundaries() {
        let text = format!("{}{}", "é".repeat(10), "z".repeat(10));
        let capped = cap_text(&text, 9);
        assert!(capped.starts_with("éé\n[... "), "{capped}");
        assert!(capped.ends_with("\nzzzzz"), "{capped}");
        assert!(capped.contains("bytes of output left out"), "{capped}");
    }
}
