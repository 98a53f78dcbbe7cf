//! What a sandboxed command may touch: under `read_only` it reads anywhere and writes only its
//! private temporary directory, under `workspace_write` also below the session's directory
//! but never outside it nor into `.git/hooks` or `.git/config`; without network access it
//! opens no socket but Unix sockets; and whatever it starts inherits all of it.

mod support;

use std::net::TcpListener;
use std::os::unix::net::UnixListener;

use tempfile::TempDir;
use turnkit_sandbox::SandboxPolicy;
use turnkit_testkit::git::init_repo;

use support::{connect_script, sh};

fn dir() -> TempDir {
    tempfile::tempdir().expect("a temp dir")
}

#[tokio::test]
async fn read_only_reads_anywhere_and_writes_only_its_private_temp_dir() {
    let session = dir();
    let outside = dir();
    std::fs::write(session.path().join("input.txt"), "hello\n").expect("seeded");
    let home = std::env::var("HOME").expect("HOME is set");
    let home_probe = format!("{home}/turnkit-sandbox-probe-{}", std::process::id());
    let script = format!(
        "cat input.txt; \
         echo x > written.txt && echo session-write; \
         echo x > '{outside}/written.txt' && echo tmp-write; \
         echo x > '{home_probe}' && echo home-write; \
         echo x > \"$TMPDIR/private.txt\" && cat \"$TMPDIR/private.txt\" && echo private-write; \
         echo y > /dev/null && echo devnull-write",
        outside = outside.path().display(),
    );
    let output = sh(SandboxPolicy::read_only(), session.path(), &script).await;
    let stdout = output.stdout.to_string_lossy();
    let _ = std::fs::remove_file(&home_probe);

    assert!(stdout.starts_with("hello\n"), "{stdout}");
    assert!(stdout.contains("x\nprivate-write\n"), "{stdout}");
    assert!(stdout.contains("devnull-write"), "{stdout}");
    for refused in ["session-write", "tmp-write", "home-write"] {
        assert!(!stdout.contains(refused), "{refused} succeeded: {stdout}");
    }
    assert!(!session.path().join("written.txt").exists());
    assert!(!outside.path().join("written.txt").exists());
    assert_eq!(
        output
            .stderr
            .to_string_lossy()
            .matches("Permission denied")
            .count(),
        3,
        "{}",
        output.stderr.to_string_lossy()
    );
}

#[tokio::test]
async fn the_private_temp_dir_is_gone_after_the_command() {
    let session = dir();
    let output = sh(
        SandboxPolicy::read_only(),
        session.path(),
        "echo \"$TMPDIR\"; touch \"$TMPDIR/left-behind\"",
    )
    .await;
    let temp = output.stdout.to_string_lossy().trim().to_owned();
    assert!(temp.contains("turnkit-sandbox-"), "{temp}");
    assert!(!std::path::Path::new(&temp).exists(), "{temp} is left");
}

#[tokio::test]
async fn without_network_access_tcp_fails_and_unix_sockets_work() {
    let session = dir();
    let tcp = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let port = tcp.local_addr().expect("bound").port();
    let socket_path = session.path().join("unix.sock");
    let _unix = UnixListener::bind(&socket_path).expect("a unix listener");
    let script = format!(
        "{}; {}",
        connect_script(&format!("127.0.0.1:{port}")),
        connect_script(&socket_path.display().to_string()),
    );

    let output = sh(SandboxPolicy::read_only(), session.path(), &script).await;
    let stdout = output.stdout.to_string_lossy();
    let stderr = output.stderr.to_string_lossy();
    assert_eq!(
        stdout, "connected\n",
        "only the unix socket connects: {stderr}"
    );
    assert!(stderr.contains("connect: Permission denied"), "{stderr}");

    let allowed = SandboxPolicy::read_only().with_network_access(true);
    let output = sh(allowed, session.path(), &script).await;
    assert_eq!(output.stdout.to_string_lossy(), "connected\nconnected\n");
}

#[tokio::test]
async fn workspace_write_writes_below_the_directory_and_nowhere_else() {
    let parent = dir();
    let session = parent.path().join("project");
    let elsewhere = dir();
    std::fs::create_dir(&session).expect("session dir");
    init_repo(&session);
    std::os::unix::fs::symlink(elsewhere.path(), session.join("link")).expect("symlink");
    let script = "mkdir -p src/deep && echo x > src/deep/new.txt && echo below; \
         echo x > top.txt && echo top; \
         echo x > ../outside.txt && echo outside; \
         echo x > link/through.txt && echo symlink; \
         echo x > .git/hooks/pre-commit && echo hook; \
         ln -s /tmp/evil .git/hooks/post-checkout && echo hook-link; \
         echo '[core]' >> .git/config && echo config; \
         git add top.txt && echo git-add";
    let output = sh(SandboxPolicy::workspace_write(), &session, script).await;
    let stdout = output.stdout.to_string_lossy();
    let stderr = output.stderr.to_string_lossy();

    for allowed in ["below", "top", "git-add"] {
        assert!(
            stdout.contains(allowed),
            "{allowed} failed: {stdout} {stderr}"
        );
    }
    for refused in ["outside", "symlink", "hook", "hook-link", "config"] {
        assert!(
            !stdout.lines().any(|line| line == refused),
            "{refused} succeeded: {stdout}"
        );
    }
    assert!(session.join("src/deep/new.txt").exists());
    assert!(!parent.path().join("outside.txt").exists());
    assert!(!elsewhere.path().join("through.txt").exists());
    assert!(!session.join(".git/hooks/pre-commit").exists());
    assert!(
        !std::fs::read_to_string(session.join(".git/config"))
            .expect("config")
            .ends_with("[core]\n")
    );
    assert!(stderr.contains("Read-only file system"), "{stderr}");
}

#[tokio::test]
async fn extra_writable_roots_are_writable_too() {
    let session = dir();
    let extra = dir();
    let policy = SandboxPolicy::workspace_write().with_writable_root(extra.path());
    let script = format!("echo x > '{}/cache.txt' && echo ok", extra.path().display());
    let output = sh(policy, session.path(), &script).await;
    assert_eq!(output.stdout.to_string_lossy(), "ok\n");
    assert!(extra.path().join("cache.txt").exists());
}

#[tokio::test]
async fn a_grandchild_inherits_every_restriction() {
    let session = dir();
    let tcp = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let port = tcp.local_addr().expect("bound").port();
    let inner = format!(
        "echo x > ../escape.txt || echo write-refused; {} || echo connect-refused",
        connect_script(&format!("127.0.0.1:{port}")).replace('\'', "'\\''")
    );
    let script = format!("sh -c 'sh -c '\\''{}'\\'''", inner.replace('\'', "'\\''"));
    let output = sh(SandboxPolicy::workspace_write(), session.path(), &script).await;
    let stdout = output.stdout.to_string_lossy();
    assert!(stdout.contains("write-refused"), "{stdout}");
    assert!(stdout.contains("connect-refused"), "{stdout}");
    assert!(!session.path().join("../escape.txt").exists());
}
