//! Test fixture: a session with the undo kind and a stand-in "turn" that takes ghost snapshots
//! and records them exactly as the ghost-snapshot kind does, in a real git repository isolated
//! from the developer's and the machine's git configuration.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use tempfile::TempDir;
use turnkit_git_snapshot::{OpenOptions, Repository, Snapshot, SnapshotOptions, snapshot};
use turnkit_protocol::{
    ContentItem, Event, EventMsg, Op, ResponseItem, Role, TaskKind, UndoCompleted, UserInput,
};
use turnkit_session_core::TaskRegistration;
use turnkit_tasks_undo::{PHASE_AFTER, PHASE_BEFORE};
use turnkit_testkit::{FnTask, TestSession};

/// What one stand-in turn does to the files between its two snapshots.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Edits {
    write: BTreeMap<String, String>,
    delete: Vec<String>,
}

impl Edits {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn write(mut self, path: &str, content: &str) -> Self {
        self.write.insert(path.to_owned(), content.to_owned());
        self
    }

    pub fn delete(mut self, path: &str) -> Self {
        self.delete.push(path.to_owned());
        self
    }

    fn apply(&self, dir: &Path) -> std::io::Result<()> {
        for path in &self.delete {
            std::fs::remove_file(dir.join(path))?;
        }
        for (path, content) in &self.write {
            let full = dir.join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(full, content)?;
        }
        Ok(())
    }
}

/// Everything of the user's repository undo must leave alone.
#[derive(Debug, PartialEq, Eq)]
pub struct GitState {
    pub index: Vec<u8>,
    pub head_file: Vec<u8>,
    pub head: String,
    pub refs: String,
    pub stash: String,
}

/// A test session in a git repository (or not), with the undo kind and a stand-in turn.
pub struct Fixture {
    pub session: TestSession,
    git_home: TempDir,
}

/// Git options that keep the machine's and the developer's configuration out.
fn open_options(git_home: &Path) -> OpenOptions {
    OpenOptions::default()
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", git_home.join(".gitconfig"))
}

/// The stand-in for a regular turn with ghost snapshots: "before", the edits the user input
/// names (as JSON), "after", each snapshot recorded as the ghost-snapshot kind records it.
fn turn_registration(options: OpenOptions) -> TaskRegistration {
    FnTask::new(TaskKind::REGULAR, move |ctx, input, token| {
        let options = options.clone();
        async move {
            let text = input
                .iter()
                .find_map(|item| match item {
                    UserInput::Text { text } => Some(text.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            let edits: Edits = serde_json::from_str(&text)?;
            let repo = Repository::open_with(ctx.cwd(), options, &token).await?;
            let snapshot_options = SnapshotOptions::default();
            let before = snapshot(&repo, &snapshot_options, &token).await?;
            ctx.record_items([ghost_item(&before, PHASE_BEFORE, ctx.sub_id())]);
            edits.apply(ctx.cwd())?;
            let after = snapshot(&repo, &snapshot_options, &token).await?;
            ctx.record_items([ghost_item(&after, PHASE_AFTER, ctx.sub_id())]);
            Ok(Some("edited".to_owned()))
        }
    })
    .registration()
}

/// The history item the ghost-snapshot kind records for a snapshot.
pub fn ghost_item(snapshot: &Snapshot, phase: &str, turn_id: &str) -> ResponseItem {
    ResponseItem::GhostSnapshot {
        commit: snapshot.commit.to_string(),
        phase: phase.to_owned(),
        turn_id: turn_id.to_owned(),
        snapshot: serde_json::to_value(snapshot).expect("a snapshot serialises"),
    }
}

impl Fixture {
    /// A session whose directory is a fresh git repository with a local identity.
    pub fn new() -> Self {
        Self::build(turnkit_tasks_undo::registration_with, true)
    }

    /// A session whose directory is not in any git repository.
    pub fn without_git() -> Self {
        Self::build(turnkit_tasks_undo::registration_with, false)
    }

    /// A git session whose undo kind is registered by `register`, given the git options.
    pub fn with_undo(register: impl FnOnce(OpenOptions) -> TaskRegistration) -> Self {
        Self::build(register, true)
    }

    fn build(register: impl FnOnce(OpenOptions) -> TaskRegistration, git: bool) -> Self {
        let git_home = tempfile::tempdir().expect("a temp dir for git's configuration");
        std::fs::write(git_home.path().join(".gitconfig"), "").expect("an empty global config");
        let options = open_options(git_home.path());
        let session = TestSession::builder()
            .task(register(options.clone()))
            .task(turn_registration(options))
            .build();
        let fixture = Self { session, git_home };
        if git {
            turnkit_testkit::git::init_repo(fixture.session.cwd());
        }
        fixture
    }

    pub fn cwd(&self) -> PathBuf {
        self.session.cwd().to_path_buf()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = turnkit_testkit::git::git_command(self.session.cwd(), args);
        command
            .env("GIT_CONFIG_GLOBAL", self.git_home.path().join(".gitconfig"))
            .env("GIT_OPTIONAL_LOCKS", "0");
        command
    }

    /// Runs git in the session's directory and returns its stdout; panics when it fails.
    pub fn git(&self, args: &[&str]) -> String {
        let output = self.command(args).output().expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    pub fn write(&self, path: &str, content: &str) {
        let full = self.cwd().join(path);
        std::fs::create_dir_all(full.parent().expect("a parent")).expect("parent dirs");
        std::fs::write(full, content).expect("write");
    }

    pub fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.cwd().join(path)).ok()
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    /// Every file below the session's directory (outside `.git`) and its content.
    pub fn files(&self) -> BTreeMap<String, String> {
        fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
            for entry in std::fs::read_dir(dir).expect("a readable dir") {
                let entry = entry.expect("a dir entry");
                let path = entry.path();
                if entry.file_name() == ".git" {
                    continue;
                }
                if entry.file_type().expect("a file type").is_dir() {
                    walk(root, &path, files);
                } else {
                    let relative = path.strip_prefix(root).expect("below the root");
                    files.insert(
                        relative.to_string_lossy().into_owned(),
                        std::fs::read_to_string(&path).unwrap_or_else(|_| "<binary>".into()),
                    );
                }
            }
        }
        let mut files = BTreeMap::new();
        walk(&self.cwd(), &self.cwd(), &mut files);
        files
    }

    pub fn git_state(&self) -> GitState {
        let git_dir = self.cwd().join(".git");
        GitState {
            index: std::fs::read(git_dir.join("index")).expect("the index"),
            head_file: std::fs::read(git_dir.join("HEAD")).expect("HEAD"),
            head: self.git(&["rev-parse", "HEAD"]),
            refs: self.git(&["for-each-ref"]),
            stash: self.git(&["stash", "list"]),
        }
    }

    /// Runs a stand-in turn that makes `edits` between its two snapshots; returns its id.
    pub async fn turn(&mut self, edits: &Edits) -> String {
        let text = serde_json::to_string(edits).expect("edits serialise");
        let id = self.session.submit(Op::UserInput {
            items: vec![UserInput::text(text)],
        });
        let events = self.session.events_until_terminal(&id).await;
        let last = events.last().expect("a terminal event");
        assert!(
            matches!(&last.msg, EventMsg::TaskComplete { last_agent_message: Some(m) } if m == "edited"),
            "the turn did not finish its edits: {events:#?}"
        );
        id
    }

    /// Submits `Op::Undo` and returns its events, through its terminal event.
    pub async fn undo(&mut self) -> Vec<Event> {
        self.session.run(Op::Undo).await
    }

    pub fn normalize(&self, events: &[Event]) -> serde_json::Value {
        self.session.normalize(events)
    }

    pub fn history(&self) -> Vec<ResponseItem> {
        self.session.history()
    }
}

/// The one `undo_completed` among `events`; panics unless there is exactly one.
pub fn completed(events: &[Event]) -> UndoCompleted {
    let found: Vec<&UndoCompleted> = events
        .iter()
        .filter_map(|event| match &event.msg {
            EventMsg::UndoCompleted(completed) => Some(completed),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "exactly one undo_completed: {events:#?}");
    found[0].clone()
}

/// The text of a developer message, if `item` is one.
pub fn developer_text(item: &ResponseItem) -> Option<&str> {
    match item {
        ResponseItem::Message {
            role: Role::Developer,
            content,
        } => content.iter().find_map(|part| match part {
            ContentItem::InputText { text } => Some(text.as_str()),
            _ => None,
        }),
        _ => None,
    }
}

/// The `undone` markers in the history, as (turn id, commit).
pub fn undone_markers(history: &[ResponseItem]) -> Vec<(String, String)> {
    history
        .iter()
        .filter_map(|item| match item {
            ResponseItem::GhostSnapshot {
                commit,
                phase,
                turn_id,
                snapshot,
            } if phase == turnkit_tasks_undo::PHASE_UNDONE => {
                assert!(snapshot.is_null(), "an undone marker carries no snapshot");
                Some((turn_id.clone(), commit.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The commit of the `before` snapshot a turn recorded.
pub fn before_commit(history: &[ResponseItem], turn: &str) -> String {
    history
        .iter()
        .find_map(|item| match item {
            ResponseItem::GhostSnapshot {
                commit,
                phase,
                turn_id,
                ..
            } if phase == PHASE_BEFORE && turn_id == turn => Some(commit.clone()),
            _ => None,
        })
        .expect("the turn recorded a before snapshot")
}

/// The developer messages in the history, in order.
pub fn developer_messages(history: &[ResponseItem]) -> Vec<String> {
    history
        .iter()
        .filter_map(developer_text)
        .map(str::to_owned)
        .collect()
}
