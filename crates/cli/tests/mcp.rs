//! `turnkit exec` with MCP servers, as a process: `--mcp-server NAME=COMMAND` and the project's
//! `turnkit.toml`, a scripted model calling a real MCP server's tool, a server that does not
//! start printed as a warning, and a bad configuration refused with its file and line.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::{Project, events, mcp_test_server, text, wait_for_pid};
use turnkit::EventMsg;
use turnkit::testkit::process::process_alive;

fn write_then_answer(project: &Project) -> PathBuf {
    project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "files__write_file",
                      "arguments": { "path": "hello.txt", "text": "written by an MCP tool" } }] },
        { "steps": [{ "type": "message", "text": "Wrote hello.txt." }] }
    ]}))
}

#[test]
fn exec_calls_a_tool_of_a_server_given_by_flag_and_warns_about_one_that_does_not_start() {
    let project = Project::new(&[]);
    let script = write_then_answer(&project);
    let files = format!("files={}", mcp_test_server().display());
    let output = project.run(&[
        "exec",
        "--json",
        "--approval-policy",
        "never",
        "--mcp-server",
        &files,
        "--mcp-server",
        "broken=turnkit-no-such-mcp-server --stdio",
        "--scripted",
        script.to_str().expect("utf-8"),
        "write hello.txt",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read_to_string(project.path().join("hello.txt")).expect("the MCP tool wrote it"),
        "written by an MCP tool"
    );
    let events = events(&output.stdout);
    let warnings: Vec<&str> = events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::Warning { message } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        warnings,
        [
            "MCP server `broken` did not start: the command `turnkit-no-such-mcp-server` was not found; install it, or put its full path in `command`. Its tools are not available in this session."
        ]
    );
    let end = events
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::McpToolCallEnd {
                server,
                tool,
                success,
                result,
                ..
            } => Some((server.clone(), tool.clone(), *success, result.clone())),
            _ => None,
        })
        .expect("the tool was called");
    assert_eq!(
        end,
        (
            "files".into(),
            "write_file".into(),
            true,
            json!({ "content": [{ "type": "text", "text": "wrote hello.txt" }], "isError": false })
        )
    );
    assert!(matches!(
        events.last().map(|event| &event.msg),
        Some(EventMsg::TaskComplete { last_agent_message: Some(message) }) if message == "Wrote hello.txt."
    ));
}

#[test]
fn exec_reads_servers_from_the_projects_turnkit_toml_and_shows_calls_to_a_person() {
    let project = Project::new(&[]);
    let script = write_then_answer(&project);
    let config = format!(
        "[mcp_servers.files]\ncommand = {}\ntool_timeout_secs = 30\n",
        Value::String(mcp_test_server().display().to_string())
    );
    std::fs::write(project.path().join("turnkit.toml"), config).expect("write turnkit.toml");
    let output = project.run(&[
        "exec",
        "--approval-policy",
        "never",
        "--scripted",
        script.to_str().expect("utf-8"),
        "write hello.txt",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(
        shown.contains(
            r#"mcp files.write_file {"path":"hello.txt","text":"written by an MCP tool"}"#
        ) && shown.contains("Wrote hello.txt."),
        "{shown}"
    );
    assert!(project.path().join("hello.txt").exists());
}

#[test]
fn a_misspelt_key_in_turnkit_toml_is_refused_with_its_file_and_line() {
    let project = Project::new(&[]);
    let script = write_then_answer(&project);
    std::fs::write(
        project.path().join("turnkit.toml"),
        "[mcp_servers.files]\ncomand = \"npx\"\n",
    )
    .expect("write turnkit.toml");
    let output = project.run(&["exec", "--scripted", script.to_str().expect("utf-8"), "hi"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
    let error = text(&output.stderr);
    assert!(
        error.contains(
            "turnkit.toml is not a valid turnkit configuration: TOML parse error at line 2"
        ) && error.contains("unknown field `comand`"),
        "{error}"
    );
    assert!(project.rollouts().is_empty(), "no session started");
}

#[test]
fn ctrl_c_while_a_server_starts_kills_it_and_exits_130() {
    let project = Project::new(&[]);
    let script = write_then_answer(&project);
    // A server that never answers the handshake; it writes its pid, then sleeps on.
    let slow = "slow=sh -c 'echo $$ > slow.pid; exec sleep 30'";
    let mut child = project
        .command(&[
            "exec",
            "--mcp-server",
            slow,
            "--scripted",
            script.to_str().expect("utf-8"),
            "write hello.txt",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("turnkit starts");
    let server = wait_for_pid(&project.path().join("slow.pid"));
    let interrupt = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(interrupt.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "turnkit did not end after Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let output = child.wait_with_output().expect("its output");
    assert_eq!(status.code(), Some(130), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("stopped while the MCP servers were starting"),
        "{}",
        text(&output.stderr)
    );
    assert!(!project.path().join("hello.txt").exists(), "no turn ran");
    // SIGKILL went to its group before turnkit exited; give the kernel a moment to act on it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while process_alive(server) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!process_alive(server), "the starting server was killed");
}
