//! An approval asked at a real terminal (a pseudo-terminal) and answered by typing.

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use serde_json::json;
use support::Project;

fn wait_for(screen: &Arc<Mutex<String>>, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if screen.lock().expect("never poisoned").contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{needle}` never appeared:\n{}",
            screen.lock().expect("never poisoned")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_approval_is_asked_at_the_terminal_and_answered_yes() {
    let project = Project::new(&[]);
    let script = project.script(&json!({ "turns": [
        { "steps": [{ "type": "function_call", "call_id": "call-1", "name": "shell",
                      "arguments": { "command": ["touch", "approved.txt"] } }] },
        { "steps": [{ "type": "message", "text": "Made it." }] }
    ]}));
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 160,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_turnkit"));
    command.args(["exec", "--approval-policy", "always", "--scripted"]);
    command.arg(&script);
    command.arg("make approved.txt");
    command.cwd(project.dir.path());
    command.env("TURNKIT_SESSIONS_DIR", project.store.path());
    command.env("NO_COLOR", "1");
    command.env_remove("OPENAI_API_KEY");
    let mut child = pair
        .slave
        .spawn_command(command)
        .expect("spawn turnkit on the terminal");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("a reader");
    let mut writer = pair.master.take_writer().expect("a writer");
    let screen = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&screen);
    std::thread::spawn(move || {
        let mut buffer = [0_u8; 4096];
        while let Ok(read) = reader.read(&mut buffer) {
            if read == 0 {
                break;
            }
            sink.lock()
                .expect("never poisoned")
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    });

    wait_for(&screen, "approve?");
    {
        let shown = screen.lock().expect("never poisoned").clone();
        assert!(
            shown.contains("approval needed") && shown.contains("touch approved.txt"),
            "{shown}"
        );
    }
    writer.write_all(b"y\r").expect("type the answer");
    writer.flush().expect("flush");
    wait_for(&screen, "Made it.");
    let status = child.wait().expect("wait for turnkit");
    assert!(
        status.success(),
        "{}",
        screen.lock().expect("never poisoned")
    );
    assert!(
        project.dir.path().join("approved.txt").exists(),
        "the approved command ran"
    );
}
