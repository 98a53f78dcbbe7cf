//! Fail closed: a confined policy without its helper runs nothing and says how to fix it or
//! how to choose `full_access` knowingly; the helper is found next to a test binary too.

mod support;

use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, run};
use turnkit_sandbox::{Error, HELPER_NAME, Sandbox, SandboxPolicy, locate_helper};

use support::{helper, require_landlock};

#[tokio::test]
async fn a_missing_helper_runs_nothing_and_says_what_to_do() {
    require_landlock();
    let session = tempfile::tempdir().expect("a temp dir");
    let missing = session.path().join("no-such-helper");
    for policy in [SandboxPolicy::read_only(), SandboxPolicy::workspace_write()] {
        let error = run(
            CommandSpec::shell_with("/bin/sh", "touch ran")
                .cwd(session.path())
                .sandbox(Sandbox::new(policy, session.path()).helper(&missing)),
            CancellationToken::new(),
        )
        .await
        .expect_err("no helper, no run");
        assert!(!session.path().join("ran").exists(), "the command ran");
        let turnkit_exec::Error::Sandbox { source } = &error else {
            panic!("expected a sandbox error, got {error:?}");
        };
        assert!(matches!(source, Error::HelperMissing { .. }), "{source:?}");
        let message = source.to_string();
        for hint in [
            missing.to_string_lossy().as_ref(),
            "cargo build --release -p turnkit-sandbox --bin turnkit-sandbox-exec",
            "TURNKIT_SANDBOX_HELPER",
            "full_access",
        ] {
            assert!(message.contains(hint), "{hint} missing from: {message}");
        }
    }
}

#[tokio::test]
async fn full_access_without_the_helper_runs_the_command_as_it_is() {
    let session = tempfile::tempdir().expect("a temp dir");
    let sandbox = Sandbox::new(SandboxPolicy::FullAccess, session.path())
        .helper(session.path().join("no-such-helper"));
    let output = run(
        CommandSpec::shell_with("/bin/sh", "echo x > ../full-access-probe && echo wrote")
            .cwd(session.path())
            .sandbox(sandbox),
        CancellationToken::new(),
    )
    .await
    .expect("full access runs without a helper");
    let probe = session.path().join("../full-access-probe");
    let wrote = probe.exists();
    let _ = std::fs::remove_file(&probe);
    assert_eq!(output.stdout.to_string_lossy(), "wrote\n");
    assert!(wrote);
}

#[test]
fn the_helper_is_found_next_to_a_test_binary_in_deps() {
    // Test binaries live in target/<profile>/deps, the helper one level up.
    let exe = std::env::current_exe().expect("the test binary");
    assert!(exe.parent().is_some_and(|dir| dir.ends_with("deps")));
    if std::env::var_os(turnkit_sandbox::HELPER_ENV).is_none() {
        let found = locate_helper(None).expect("cargo built the helper for these tests");
        assert_eq!(
            found.canonicalize().expect("exists"),
            helper().canonicalize().expect("exists")
        );
    }
    let missing = std::path::Path::new("/nonexistent").join(HELPER_NAME);
    assert!(matches!(
        locate_helper(Some(&missing)),
        Err(Error::HelperMissing { searched }) if searched == [missing.clone()]
    ));
}

#[tokio::test]
async fn a_relative_writable_root_is_refused_before_anything_runs() {
    require_landlock();
    let session = tempfile::tempdir().expect("a temp dir");
    let policy = SandboxPolicy::workspace_write().with_writable_root("relative/cache");
    let error = run(
        CommandSpec::shell_with("/bin/sh", "touch ran")
            .cwd(session.path())
            .sandbox(Sandbox::new(policy, session.path()).helper(helper())),
        CancellationToken::new(),
    )
    .await
    .expect_err("a relative root is refused");
    assert!(!session.path().join("ran").exists());
    assert!(
        matches!(
            &error,
            turnkit_exec::Error::Sandbox {
                source: Error::Path { .. }
            }
        ),
        "{error:?}"
    );
}
