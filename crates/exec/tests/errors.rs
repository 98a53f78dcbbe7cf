//! What cannot run: empty commands, missing programs, missing or unusable working directories,
//! and programs that are not executable.

use std::os::unix::fs::PermissionsExt as _;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use turnkit_exec::{
    CommandSpec, EXIT_CODE_NOT_EXECUTABLE, EXIT_CODE_NOT_FOUND, Error, ExitStatus, OutputStream,
    SpawnFailure, run,
};

#[tokio::test]
async fn empty_commands_are_errors() {
    let empty: [&str; 0] = [];
    for spec in [
        CommandSpec::argv(empty),
        CommandSpec::new(""),
        CommandSpec::shell_with("/bin/sh", "  \n\t"),
    ] {
        let error = run(spec, CancellationToken::new())
            .await
            .expect_err("an empty command cannot run");
        assert!(matches!(error, Error::EmptyCommand), "{error:?}");
        assert!(error.to_string().starts_with("empty command"));
    }
}

#[tokio::test]
async fn a_missing_program_exits_127_with_a_message_naming_it() {
    let (tx, mut rx) = mpsc::channel(4);
    let output = run(
        CommandSpec::argv(["turnkit-no-such-program", "--flag"]).output_sender(tx),
        CancellationToken::new(),
    )
    .await
    .expect("a missing program is an outcome");
    assert_eq!(output.status, ExitStatus::Exited(EXIT_CODE_NOT_FOUND));
    assert_eq!(
        output.spawn_failure,
        Some(SpawnFailure::NotFound {
            program: "turnkit-no-such-program".to_owned()
        })
    );
    assert_eq!(output.pid, None);
    let stderr = output.stderr.to_string_lossy();
    assert!(
        stderr.starts_with("turnkit-no-such-program: command not found"),
        "{stderr}"
    );
    assert_eq!(output.aggregated, output.stderr);
    assert!(output.stdout.is_empty());
    assert!(
        output
            .formatted_output()
            .starts_with("Exit code: 127\nOutput:\nturnkit-no-such-program: command not found")
    );
    let chunk = rx.recv().await.expect("the message is forwarded live too");
    assert_eq!(chunk.stream, OutputStream::Stderr);
    assert_eq!(&chunk.bytes[..], output.stderr.to_bytes().as_slice());
}

#[tokio::test]
async fn a_missing_program_in_a_script_gets_the_shells_127() {
    let output = run(
        CommandSpec::shell_with("/bin/sh", "turnkit-no-such-program"),
        CancellationToken::new(),
    )
    .await
    .expect("the shell runs");
    assert_eq!(output.exit_code(), Some(EXIT_CODE_NOT_FOUND));
    assert_eq!(output.spawn_failure, None);
    assert!(
        output
            .stderr
            .to_string_lossy()
            .contains("turnkit-no-such-program")
    );
}

#[tokio::test]
async fn a_missing_working_directory_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("gone");
    let error = run(
        CommandSpec::argv(["true"]).cwd(&missing),
        CancellationToken::new(),
    )
    .await
    .expect_err("a missing cwd cannot be used");
    match &error {
        Error::WorkingDirectoryMissing { path } => assert_eq!(path, &missing),
        other => panic!("unexpected error {other:?}"),
    }
    assert!(error.to_string().contains("does not exist"));
}

#[tokio::test]
async fn a_working_directory_that_is_a_file_is_an_error() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let error = run(
        CommandSpec::argv(["true"]).cwd(file.path()),
        CancellationToken::new(),
    )
    .await
    .expect_err("a file is not a cwd");
    assert!(
        matches!(error, Error::WorkingDirectoryNotADirectory { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_program_without_execute_permission_exits_126() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho never\n").expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let output = run(CommandSpec::new(&script), CancellationToken::new())
        .await
        .expect("permission denied is an outcome");
    assert_eq!(output.exit_code(), Some(EXIT_CODE_NOT_EXECUTABLE));
    assert!(matches!(
        output.spawn_failure,
        Some(SpawnFailure::NotExecutable { .. })
    ));
    let stderr = output.stderr.to_string_lossy();
    assert!(stderr.contains("script.sh: permission denied"), "{stderr}");
}

#[tokio::test]
async fn a_file_in_no_executable_format_exits_126() {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = dir.path().join("not-a-binary");
    std::fs::write(&binary, b"\x7fELF-but-not-really\x00\x01\x02").expect("write file");
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let output = run(
        CommandSpec::new(&binary).cwd(dir.path()),
        CancellationToken::new(),
    )
    .await
    .expect("an exec format error is an outcome");
    assert_eq!(output.exit_code(), Some(EXIT_CODE_NOT_EXECUTABLE));
}

#[test]
fn error_messages_say_what_to_do() {
    let error = Error::WorkingDirectoryMissing {
        path: "/nowhere".into(),
    };
    assert_eq!(
        error.to_string(),
        "working directory /nowhere does not exist: create it or run the command elsewhere"
    );
}
