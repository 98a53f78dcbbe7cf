//! What the model is shown of a real command's run: the report whole when it is short, its
//! head and tail within the limits when it is long.

use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, run};
use turnkit_tasks_regular::{ModelOutputLimits, format_exec_output};

#[tokio::test]
async fn a_short_run_is_shown_whole_with_its_exit_code() {
    let output = run(
        CommandSpec::shell("echo hello; exit 3"),
        CancellationToken::new(),
    )
    .await
    .expect("the shell runs");

    let shown = format_exec_output(&output, ModelOutputLimits::default());

    let (wall_time, rest) = shown.split_once('\n').expect("two lines at least");
    assert!(
        wall_time.starts_with("Wall time: ") && wall_time.ends_with(" seconds"),
        "{shown}"
    );
    assert_eq!(rest, "Exit code: 3\nOutput:\nhello\n");
}

#[tokio::test]
async fn a_long_run_keeps_its_head_and_tail_within_the_limits() {
    let output = run(CommandSpec::shell("seq 1 5000"), CancellationToken::new())
        .await
        .expect("the shell runs");
    let limits = ModelOutputLimits {
        max_bytes: 2_000,
        max_lines: 40,
    };

    let shown = format_exec_output(&output, limits);

    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 41, "40 lines and the marker:\n{shown}");
    assert_eq!(&lines[1..4], ["Exit code: 0", "Output:", "1"]);
    // 18 to 4980 are left out: 23,893 bytes of output less 42 at the head and 100 at the tail.
    assert_eq!(lines[20], "[... 4963 lines (23751 bytes) omitted ...]");
    assert_eq!(lines[40], "5000");
    assert!(shown.len() <= 2_000 + 64, "{}", shown.len());
}
