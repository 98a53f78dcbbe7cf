//! Real git repositories for tests, isolated from the developer's and the machine's git setup.

use std::path::Path;
use std::process::Command;

/// Environment that keeps the machine's git configuration out: no system or global config,
/// so a developer's settings and a CI machine's missing identity change nothing.
pub const ISOLATED_GIT_ENV: &[(&str, &str)] = &[
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
];

/// A `git` command in `dir` with [`ISOLATED_GIT_ENV`], fixed author and committer dates, and
/// no `GIT_DIR`-like variable inherited from a parent git.
pub fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command.current_dir(dir).args(args);
    for name in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
    ] {
        command.env_remove(name);
    }
    command
        .envs(ISOLATED_GIT_ENV.iter().copied())
        .env("GIT_AUTHOR_DATE", "1600000000 +0000")
        .env("GIT_COMMITTER_DATE", "1600000000 +0000");
    command
}

/// Runs git in `dir` and returns its stdout.
///
/// # Panics
///
/// Panics, with git's stderr, when git fails or prints something that is not UTF-8: a test
/// cannot go on.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = git_command(dir, args).output().expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("git prints UTF-8 here")
}

/// `git init` in `dir` on branch `main`, with a local identity and signing off.
pub fn init_repo(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test User"]);
    git(dir, &["config", "user.email", "test@example.invalid"]);
    git(dir, &["config", "commit.gpgsign", "false"]);
}
