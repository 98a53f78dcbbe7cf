//! Ghost snapshots through the facade alone: `turnkit::builder()` registers the
//! `ghost_snapshot` task kind and offers the `TurnSnapshots` service to turns.

#![cfg(all(feature = "ghost-snapshot", feature = "testkit"))]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use turnkit::tasks_ghost_snapshot::Snapshot;
use turnkit::testkit::{FnTask, TestSession};
use turnkit::{EventMsg, Op, ResponseItem, SessionBuilderExt, TaskKind, TurnSnapshots};

/// Runs git in `dir` with no system or global configuration; panics when it fails.
fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn init_repo(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test User"]);
    git(dir, &["config", "user.email", "test@example.invalid"]);
    git(dir, &["config", "commit.gpgsign", "false"]);
    std::fs::write(dir.join("README.md"), "hello\n").expect("write README.md");
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
}

/// The ghost-snapshot items of the history as (phase, turn id, snapshot).
fn snapshots(session: &TestSession) -> Vec<(String, String, Snapshot)> {
    session
        .history()
        .into_iter()
        .filter_map(|item| match item {
            ResponseItem::GhostSnapshot {
                commit,
                phase,
                turn_id,
                snapshot,
            } => {
                let snapshot: Snapshot =
                    turnkit::serde_json::from_value(snapshot).expect("the payload is a Snapshot");
                assert_eq!(snapshot.commit.to_string(), commit);
                Some((phase, turn_id, snapshot))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_manual_snapshot_runs_through_the_facade() {
    let mut session = TestSession::from_builder(turnkit::builder()).build();
    init_repo(session.cwd());
    std::fs::write(session.cwd().join("notes.txt"), "untracked\n").expect("write");

    let events = session
        .run(Op::Custom {
            name: "ghost_snapshot".into(),
            payload: turnkit::serde_json::Value::Null,
        })
        .await;

    let recorded = snapshots(&session);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let (phase, turn_id, snapshot) = &recorded[0];
    assert_eq!(phase, "manual");
    assert_eq!(turn_id, &events[0].id);
    assert!(matches!(
        &events[0].msg,
        EventMsg::TaskStarted { kind } if *kind == TaskKind::GHOST_SNAPSHOT
    ));
    let commit = snapshot.commit.to_string();
    assert!(
        events.iter().any(|event| matches!(
            &event.msg,
            EventMsg::BackgroundEvent { message } if message.contains(&commit)
        )),
        "{events:?}"
    );
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some(format!("snapshot {commit}")),
        })
    );
}

#[tokio::test]
async fn turns_find_the_snapshot_service_through_the_facade() {
    let turn = Arc::new(FnTask::new(
        TaskKind::REGULAR,
        |ctx, _input, _token| async move {
            let snapshots = ctx
                .service::<Arc<dyn TurnSnapshots>>()
                .ok_or("the facade offers no snapshot service")?;
            snapshots.before_change(&ctx).await?;
            std::fs::write(ctx.cwd().join("notes.txt"), "written by the turn\n")?;
            snapshots.after_turn(&ctx).await?;
            Ok(None)
        },
    ));
    let mut session = TestSession::from_builder(turnkit::builder()).build();
    init_repo(session.cwd());
    let id = session
        .session()
        .spawn_task(turn, Vec::new())
        .expect("the session takes the task");
    let events = session.events_until_terminal(&id).await;

    assert!(
        !events
            .iter()
            .any(|event| matches!(event.msg, EventMsg::Error { .. })),
        "{events:?}"
    );
    let phases: Vec<(String, String)> = snapshots(&session)
        .into_iter()
        .map(|(phase, turn_id, _)| (phase, turn_id))
        .collect();
    assert_eq!(
        phases,
        [("before".to_owned(), id.clone()), ("after".to_owned(), id)]
    );
}

#[tokio::test]
async fn a_callers_own_ghost_snapshot_kind_wins_over_the_facades() {
    let own = FnTask::new(TaskKind::GHOST_SNAPSHOT, |_ctx, _input, _token| async {
        Ok(Some("my own snapshot".to_owned()))
    });
    let builder = turnkit::Session::builder()
        .task(own.registration())
        .with_enabled_kinds();
    let mut session = TestSession::from_builder(builder).build();

    let events = session
        .run(Op::Custom {
            name: "ghost_snapshot".into(),
            payload: turnkit::serde_json::Value::Null,
        })
        .await;

    assert_eq!(own.runs(), 1);
    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("my own snapshot".to_owned()),
        })
    );
}
