//! Telling a refusal of the sandbox from any other failure, on real outputs of refused
//! commands and on the messages common tools print.

mod support;

use std::net::TcpListener;

use turnkit_sandbox::{Refusal, SandboxPolicy, recognise_refusal};

use support::{connect_script, sh};

#[tokio::test]
async fn refused_writes_and_sockets_are_recognised_in_real_output() {
    let session = tempfile::tempdir().expect("a temp dir");
    let output = sh(
        SandboxPolicy::read_only(),
        session.path(),
        "echo x > new.txt",
    )
    .await;
    let refusal = recognise_refusal(output.exit_code(), &output.aggregated.to_string_lossy());
    assert!(
        matches!(refusal, Some(Refusal::Write { .. })),
        "{refusal:?}"
    );

    let tcp = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let port = tcp.local_addr().expect("bound").port();
    let output = sh(
        SandboxPolicy::read_only(),
        session.path(),
        &connect_script(&format!("127.0.0.1:{port}")),
    )
    .await;
    let refusal = recognise_refusal(output.exit_code(), &output.aggregated.to_string_lossy());
    assert!(
        matches!(refusal, Some(Refusal::Network { .. })),
        "{refusal:?}"
    );
    assert!(refusal.expect("checked").reason().contains("network"));
}

#[test]
fn only_failures_with_a_refusal_message_are_recognised() {
    let write = |line: &str| {
        Some(Refusal::Write {
            line: line.to_owned(),
        })
    };
    let cases: &[(Option<i32>, &str, Option<Refusal>)] = &[
        (Some(0), "cp: cannot create 'x': Permission denied", None),
        (Some(1), "error: no such file or directory", None),
        (
            Some(1),
            "touch: cannot touch 'x': Permission denied",
            write("touch: cannot touch 'x': Permission denied"),
        ),
        (
            Some(2),
            "sh: 1: cannot create .git/config: Read-only file system",
            write("sh: 1: cannot create .git/config: Read-only file system"),
        ),
        (
            Some(7),
            "curl: (7) Couldn't connect to server: Permission denied",
            Some(Refusal::Network {
                line: "curl: (7) Couldn't connect to server: Permission denied".into(),
            }),
        ),
        (
            Some(1),
            "  File \"x.py\", line 3, in <module>\n    sock = socket(af, socktype, proto)\nPermissionError: [Errno 13] Permission denied",
            Some(Refusal::Network {
                line: "PermissionError: [Errno 13] Permission denied".into(),
            }),
        ),
        (
            None,
            "mkdir: cannot create directory '/etc/x': Operation not permitted",
            write("mkdir: cannot create directory '/etc/x': Operation not permitted"),
        ),
    ];
    for (exit_code, output, expected) in cases {
        assert_eq!(&recognise_refusal(*exit_code, output), expected, "{output}");
    }
}
