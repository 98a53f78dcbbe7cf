//! Runs the built `turnkit` binary as a process, with its session store in a temp dir.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;
use turnkit::Event;

/// A project directory (a git repository with one commit) and a session store, both temporary.
pub struct Project {
    /// The project.
    pub dir: TempDir,
    /// The session store (`TURNKIT_SESSIONS_DIR`).
    pub store: TempDir,
}

impl Project {
    /// A git repository holding `files`, committed.
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = tempfile::tempdir().expect("a temp dir");
        turnkit::testkit::git::init_repo(dir.path());
        for (path, text) in files {
            std::fs::write(dir.path().join(path), text).expect("write a file");
        }
        turnkit::testkit::git::git(dir.path(), &["add", "-A"]);
        turnkit::testkit::git::git(
            dir.path(),
            &["commit", "-q", "-m", "start", "--allow-empty"],
        );
        Project { dir, store }
    }

    /// The project's path, canonical (as the command reports it).
    pub fn path(&self) -> PathBuf {
        self.dir.path().canonicalize().expect("a canonical path")
    }

    /// `turnkit ARGS` in the project, with no terminal and no model settings from the
    /// environment.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(Path::new(env!("CARGO_BIN_EXE_turnkit")), args)
    }

    /// As [`command`](Self::command), with the `turnkit` binary at `program`.
    pub fn command_of(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("TURNKIT_SESSIONS_DIR", self.store.path())
            // The user's own turnkit.toml (its MCP servers) stays out of the tests.
            .env("TURNKIT_CONFIG", self.store.path().join("turnkit.toml"))
            .env("NO_COLOR", "1")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env_remove("OPENAI_MODEL")
            .env_remove("TURNKIT_MODEL")
            .stdin(Stdio::null());
        command
    }

    /// Runs `turnkit ARGS` to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run turnkit")
    }

    /// Writes a scripted model's JSON file and returns its path.
    pub fn script(&self, script: &Value) -> PathBuf {
        let path = self.store.path().join("script.json");
        std::fs::write(&path, serde_json::to_vec(script).expect("json")).expect("write");
        path
    }

    /// The rollout files in the store.
    pub fn rollouts(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.store.path())
            .expect("the store")
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        files
    }
}

/// Every stdout line parsed as an `Event`; panics on a line that is not one.
pub fn events(stdout: &[u8]) -> Vec<Event> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not an event ({e}): {line}"))
        })
        .collect()
}

/// The lifecycle invariants a `--json` stream must keep: seq without gaps, exactly one
/// terminal event per task, nothing of a task after it, and the last line a terminal event
/// or `shutdown_complete`.
pub fn assert_lifecycle(events: &[Event]) {
    assert!(!events.is_empty(), "no events");
    for pair in events.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "seq gap: {pair:?}");
    }
    let mut ended = std::collections::HashSet::new();
    for event in events {
        assert!(
            !ended.contains(&event.id),
            "an event after its task's terminal event: {event:?}"
        );
        if event.msg.is_terminal() {
            ended.insert(event.id.clone());
        }
    }
    let last = events.last().expect("not empty");
    assert!(
        last.msg.is_terminal() || matches!(last.msg, turnkit::EventMsg::ShutdownComplete),
        "the last line must be a terminal event: {last:?}"
    );
}

/// The text of a stream, lossily.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Reads a file, or `None` when it is missing.
pub fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The process group of a live process, from `/proc`.
pub fn process_group(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process is alive");
    let (_, after) = stat.rsplit_once(')').expect("a stat line");
    after
        .split_whitespace()
        .nth(2)
        .expect("a pgid")
        .parse()
        .expect("a number")
}

/// Waits (up to 10 s) for a command to write its pid to `path`.
pub fn wait_for_pid(path: &Path) -> u32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(pid) = read(path).and_then(|text| text.trim().parse::<u32>().ok()) {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the command never wrote its pid"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The MCP test server this package builds as an example (`cargo test` builds it).
pub fn mcp_test_server() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let program = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .join("examples")
        .join(format!(
            "cli_mcp_test_server{}",
            std::env::consts::EXE_SUFFIX
        ));
    assert!(
        program.exists(),
        "{} is missing: cargo test builds it",
        program.display()
    );
    program
}
