//! The `sandbox` feature through the facade alone, as a new user writes it: run a command
//! under `read_only` and see the refused write recognised as the sandbox's doing.
//!
//! The helper binary belongs to `turnkit-sandbox`, so cargo builds it for a workspace test run
//! (`cargo test --workspace`, `cargo xtask ci`) but not for `cargo test -p turnkit` alone; then
//! this test checks that the command fails closed, naming how to build the helper.

#![cfg(feature = "sandbox")]

use turnkit::exec::{CommandSpec, Error as ExecError, run};
use turnkit::sandbox::{Refusal, Sandbox, check_support, locate_helper, recognise_refusal};
use turnkit::{CancellationToken, SandboxPolicy};

#[tokio::test]
async fn a_read_only_command_cannot_write_and_the_refusal_is_recognised() {
    check_support().expect("this machine's kernel has Landlock");
    let dir = tempfile::tempdir().expect("a temp dir");
    let spec = CommandSpec::shell_with(
        "/bin/sh",
        "cat /etc/hostname >/dev/null && echo read; echo x > note.txt",
    )
    .cwd(dir.path())
    .sandbox(Sandbox::new(SandboxPolicy::read_only(), dir.path()));
    if locate_helper(None).is_ok() {
        let output = run(spec, CancellationToken::new())
            .await
            .expect("the sandboxed command runs");
        assert_eq!(output.stdout.to_string_lossy(), "read\n");
        assert!(!dir.path().join("note.txt").exists());
        let refusal = recognise_refusal(output.exit_code(), &output.aggregated.to_string_lossy());
        assert!(
            matches!(refusal, Some(Refusal::Write { .. })),
            "{refusal:?}"
        );
    } else {
        let error = run(spec, CancellationToken::new())
            .await
            .expect_err("no helper, no run");
        let ExecError::Sandbox { source } = error else {
            panic!("expected a sandbox error, got {error:?}");
        };
        assert!(source.to_string().contains("cargo build"), "{source}");
        assert!(!dir.path().join("note.txt").exists());
    }
}
