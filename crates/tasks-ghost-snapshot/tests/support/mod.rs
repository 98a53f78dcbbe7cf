//! Shared fixtures: real git repositories in the test session's directory, isolated from the
//! developer's git configuration, and tasks that stand in for a model turn.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use turnkit_git_snapshot::Snapshot;
use turnkit_protocol::{EventMsg, ResponseItem, TaskKind};
use turnkit_session_core::TurnSnapshots;
use turnkit_tasks_ghost_snapshot::{GhostSnapshotConfig, OpenOptions, install};
use turnkit_testkit::{FnTask, TestSession};

/// Environment for every git child, the tests' and the library's.
use turnkit_testkit::git::ISOLATED_GIT_ENV as ISOLATED;

pub use turnkit_testkit::git::git;

/// `git init` in `dir` with a local identity, and one commit of `README.md`.
pub fn init_repo(dir: &Path) {
    turnkit_testkit::git::init_repo(dir);
    std::fs::write(dir.join("README.md"), "hello\n").expect("write README.md");
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
}

/// The library's git, isolated like the tests' own.
pub fn open_options() -> OpenOptions {
    ISOLATED
        .iter()
        .fold(OpenOptions::default(), |options, (key, value)| {
            options.env(key, value)
        })
}

/// Snapshots on, isolated git, and a slow threshold no test run reaches.
pub fn config() -> GhostSnapshotConfig {
    GhostSnapshotConfig::default()
        .open_options(open_options())
        .slow_threshold(Duration::from_secs(3600))
}

/// A test session with ghost snapshots installed from `config`.
pub fn session(config: GhostSnapshotConfig) -> TestSession {
    TestSession::builder()
        .configure(|builder| install(builder, config))
        .build()
}

/// A stand-in for a model turn that edits files: it takes the "before" snapshot (twice, as a
/// turn running several tools would), writes `edits`, then takes the "after" snapshot.
pub fn editing_turn(edits: &'static [(&'static str, &'static str)]) -> Arc<FnTask> {
    Arc::new(FnTask::new(
        TaskKind::REGULAR,
        move |ctx, _input, _token| async move {
            let snapshots = ctx
                .service::<Arc<dyn TurnSnapshots>>()
                .expect("the snapshot service is installed");
            snapshots.before_change(&ctx).await?;
            snapshots.before_change(&ctx).await?;
            for (path, content) in edits {
                std::fs::write(ctx.cwd().join(path), content)?;
            }
            snapshots.after_turn(&ctx).await?;
            Ok(Some("edited".to_owned()))
        },
    ))
}

/// A stand-in for a model turn that only reads: it never calls `before_change`, and calls
/// `after_turn` as every turn does when it ends.
pub fn reading_turn() -> Arc<FnTask> {
    Arc::new(FnTask::new(
        TaskKind::REGULAR,
        |ctx, _input, _token| async move {
            let snapshots = ctx
                .service::<Arc<dyn TurnSnapshots>>()
                .expect("the snapshot service is installed");
            let text = std::fs::read_to_string(ctx.cwd().join("README.md"))?;
            snapshots.after_turn(&ctx).await?;
            Ok(Some(format!("read {} bytes", text.len())))
        },
    ))
}

/// Runs `task` as a turn and returns its submission id.
pub async fn run_turn(session: &mut TestSession, task: Arc<FnTask>) -> String {
    let id = session
        .session()
        .spawn_task(task, Vec::new())
        .expect("the session takes the task");
    session.events_until_terminal(&id).await;
    id
}

/// A ghost-snapshot history item, taken apart.
#[derive(Debug)]
pub struct Recorded {
    pub commit: String,
    pub phase: String,
    pub turn_id: String,
    pub snapshot: Snapshot,
}

/// Every ghost-snapshot item of the history, with its payload read back as a [`Snapshot`].
pub fn recorded(session: &TestSession) -> Vec<Recorded> {
    session
        .history()
        .into_iter()
        .filter(|item| matches!(item, ResponseItem::GhostSnapshot { .. }))
        .map(|item| {
            assert!(
                !item.is_model_visible(),
                "{item:?} must never reach a model"
            );
            let ResponseItem::GhostSnapshot {
                commit,
                phase,
                turn_id,
                snapshot,
            } = item
            else {
                unreachable!("filtered to ghost snapshots")
            };
            let snapshot: Snapshot = serde_json::from_value(snapshot)
                .expect("the payload is a turnkit_git_snapshot::Snapshot");
            assert_eq!(snapshot.commit.to_string(), commit);
            Recorded {
                commit,
                phase,
                turn_id,
                snapshot,
            }
        })
        .collect()
}

/// The session's events so far as stable JSON, with snapshot commit ids replaced.
pub fn normalized(session: &TestSession) -> Value {
    let mut value = session.normalize(session.seen());
    for item in recorded(session) {
        redact(&mut value, &item.commit);
    }
    value
}

fn redact(value: &mut Value, commit: &str) {
    match value {
        Value::String(text) => *text = text.replace(commit, "<commit>"),
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, commit)),
        Value::Object(fields) => fields.values_mut().for_each(|field| redact(field, commit)),
        _ => {}
    }
}

/// The messages of every event of the given type seen so far.
pub fn messages(session: &TestSession, kind: fn(&EventMsg) -> Option<&String>) -> Vec<String> {
    session
        .seen()
        .iter()
        .filter_map(|event| kind(&event.msg).cloned())
        .collect()
}

/// `warning` messages.
pub fn warning(msg: &EventMsg) -> Option<&String> {
    match msg {
        EventMsg::Warning { message } => Some(message),
        _ => None,
    }
}

/// `background_event` messages.
pub fn background(msg: &EventMsg) -> Option<&String> {
    match msg {
        EventMsg::BackgroundEvent { message } => Some(message),
        _ => None,
    }
}

/// Everything of the user's repository a snapshot must leave alone.
#[derive(Debug, PartialEq, Eq)]
pub struct GitState {
    pub head: String,
    pub refs: String,
    pub index: Vec<u8>,
    pub stash: String,
    pub objects: String,
}

impl GitState {
    /// Reads the state without writing anything (no `git status`, which refreshes the index).
    pub fn of(dir: &Path) -> Self {
        let objects: String = git(dir, &["count-objects", "-v"])
            .lines()
            .filter(|line| line.starts_with("count:") || line.starts_with("in-pack:"))
            .collect();
        Self {
            head: git(dir, &["rev-parse", "HEAD"]),
            refs: git(dir, &["for-each-ref"]),
            index: std::fs::read(dir.join(".git/index")).expect("the repository has an index"),
            stash: git(dir, &["stash", "list"]),
            objects,
        }
    }
}

/// Where git-snapshot keeps snapshot objects in the repository at `dir`.
pub fn snapshot_store(dir: &Path) -> std::path::PathBuf {
    dir.join(".git").join("turnkit")
}
