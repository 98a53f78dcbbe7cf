//! What the sandbox tests share: the helper this package builds, a check that the kernel can
//! confine at all, and a way to run a script under a policy through exec.

#![allow(
    dead_code,
    reason = "each test file uses a different subset of the helpers"
)]

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;
use turnkit_exec::{CommandSpec, ExecOutput, run};
use turnkit_sandbox::{Sandbox, SandboxPolicy, check_support};

/// The helper binary cargo built for these tests.
pub(crate) fn helper() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_turnkit-sandbox-exec"))
}

/// Fails the test loudly when this kernel cannot confine commands: every test here needs it.
pub(crate) fn require_landlock() {
    if let Err(error) = check_support() {
        panic!("these tests need Landlock in the kernel: {error}");
    }
}

/// `policy` for `dir`, with the helper this package built.
pub(crate) fn sandbox(policy: SandboxPolicy, dir: &Path) -> Sandbox {
    Sandbox::new(policy, dir).helper(helper())
}

/// Runs `script` with `/bin/sh` in `dir` under `policy`.
pub(crate) async fn sh(policy: SandboxPolicy, dir: &Path, script: &str) -> ExecOutput {
    require_landlock();
    run(
        CommandSpec::shell_with("/bin/sh", script)
            .cwd(dir)
            .sandbox(sandbox(policy, dir)),
        CancellationToken::new(),
    )
    .await
    .expect("the sandboxed command runs")
}

/// A Perl one-liner that connects to `target` (`127.0.0.1:<port>` or a Unix socket's path)
/// and prints `connected`, or dies with the reason.
pub(crate) fn connect_script(target: &str) -> String {
    let module = if target.starts_with('/') {
        "IO::Socket::UNIX->new(Peer => $ARGV[0])"
    } else {
        "IO::Socket::INET->new(PeerAddr => $ARGV[0], Timeout => 2)"
    };
    format!(
        "perl -MIO::Socket::UNIX -MIO::Socket::INET -e '{module} or die \"connect: $!\\n\"; print \"connected\\n\"' '{target}'"
    )
}
