//! The snapshot service around a turn's file changes: "before" once, "after" at the end,
//! nothing for a turn that only reads, and what the user is told when snapshots cannot help.

mod support;

use std::sync::Arc;
use std::time::Duration;

use insta::assert_json_snapshot;
use support::{
    GitState, background, config, editing_turn, git, init_repo, messages, normalized, reading_turn,
    recorded, run_turn, session, snapshot_store, warning,
};
use turnkit_protocol::TaskKind;
use turnkit_session_core::TurnSnapshots;
use turnkit_tasks_ghost_snapshot::{GhostSnapshotConfig, OpenOptions, SnapshotOptions};
use turnkit_testkit::FnTask;

const EDITS: &[(&str, &str)] = &[
    ("README.md", "hello, edited\n"),
    ("notes.txt", "new file\n"),
];

#[tokio::test]
async fn a_turn_that_changes_files_records_before_and_after_snapshots() {
    let mut session = session(config());
    init_repo(session.cwd());
    let turn_id = run_turn(&mut session, editing_turn(EDITS)).await;

    let items = recorded(&session);
    let phases: Vec<&str> = items.iter().map(|item| item.phase.as_str()).collect();
    assert_eq!(phases, ["before", "after"]);
    assert!(items.iter().all(|item| item.turn_id == turn_id));
    assert_ne!(items[0].commit, items[1].commit, "the turn changed files");
    assert!(items.iter().all(|item| item.snapshot.skipped.is_empty()));
    let head = git(session.cwd(), &["rev-parse", "HEAD"]);
    for item in &items {
        assert_eq!(
            item.snapshot.head.as_ref().map(ToString::to_string),
            Some(head.trim().to_owned())
        );
    }
    assert!(snapshot_store(session.cwd()).is_dir());
    assert_json_snapshot!(normalized(&session));
}

#[tokio::test]
async fn a_read_only_turn_takes_no_snapshot_and_creates_no_store() {
    let mut session = session(config());
    init_repo(session.cwd());
    run_turn(&mut session, reading_turn()).await;

    assert!(recorded(&session).is_empty());
    assert!(
        !snapshot_store(session.cwd()).exists(),
        "a turn that only reads must not touch the repository"
    );
    assert!(messages(&session, warning).is_empty());
}

#[tokio::test]
async fn snapshots_leave_the_users_head_refs_index_stash_and_objects_alone() {
    let mut session = session(config());
    let cwd = session.cwd().to_owned();
    init_repo(&cwd);
    std::fs::write(cwd.join("README.md"), "stashed change\n").expect("write");
    git(&cwd, &["stash", "push", "-q", "-m", "kept"]);
    std::fs::write(cwd.join("staged.txt"), "staged\n").expect("write");
    git(&cwd, &["add", "staged.txt"]);
    std::fs::write(cwd.join("README.md"), "unstaged change\n").expect("write");
    let before = GitState::of(&cwd);

    run_turn(&mut session, editing_turn(EDITS)).await;

    assert_eq!(recorded(&session).len(), 2);
    assert_eq!(GitState::of(&cwd), before);
    assert!(before.stash.contains("kept"));
}

#[tokio::test]
async fn concurrent_before_change_calls_share_one_snapshot() {
    let mut session = session(config());
    init_repo(session.cwd());
    let turn = Arc::new(FnTask::new(
        TaskKind::REGULAR,
        |ctx, _input, _token| async move {
            let snapshots = ctx
                .service::<Arc<dyn TurnSnapshots>>()
                .expect("the snapshot service is installed");
            let (first, second, third) = tokio::join!(
                snapshots.before_change(&ctx),
                snapshots.before_change(&ctx),
                snapshots.before_change(&ctx),
            );
            first?;
            second?;
            third?;
            std::fs::write(ctx.cwd().join("notes.txt"), "new\n")?;
            snapshots.after_turn(&ctx).await?;
            snapshots.after_turn(&ctx).await?;
            Ok(None)
        },
    ));
    run_turn(&mut session, turn).await;

    let phases: Vec<String> = recorded(&session)
        .into_iter()
        .map(|item| item.phase)
        .collect();
    assert_eq!(phases, ["before", "after"]);
}

#[tokio::test]
async fn outside_a_git_repository_says_so_once_per_session() {
    let mut session = session(config());
    let first = run_turn(&mut session, editing_turn(EDITS)).await;
    let second = run_turn(&mut session, editing_turn(EDITS)).await;

    assert!(recorded(&session).is_empty());
    let announced = messages(&session, background);
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert!(announced[0].contains("git init"), "{announced:?}");
    assert!(session.seen().iter().any(|event| event.id == second));
    assert_ne!(first, second);
    assert!(
        std::fs::read_to_string(session.cwd().join("notes.txt")).is_ok(),
        "the turns went on and made their changes"
    );
    assert_json_snapshot!(normalized(&session));
}

#[tokio::test]
async fn missing_git_is_announced_once_and_the_turns_go_on() {
    let config = config().open_options(OpenOptions {
        git_program: missing_git_program(),
        ..support::open_options()
    });
    let mut session = session(config);
    run_turn(&mut session, editing_turn(EDITS)).await;
    run_turn(&mut session, editing_turn(EDITS)).await;

    let announced = messages(&session, background);
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert!(announced[0].contains("git was not found"), "{announced:?}");
    let completed = session
        .seen()
        .iter()
        .filter(|event| matches!(&event.msg, turnkit_protocol::EventMsg::TaskComplete { last_agent_message } if last_agent_message.as_deref() == Some("edited")))
        .count();
    assert_eq!(completed, 2);
}

#[tokio::test]
async fn a_large_untracked_file_is_left_out_with_one_warning() {
    let options = SnapshotOptions {
        max_untracked_file_size: 1024,
        ..SnapshotOptions::default()
    };
    let mut session = session(config().snapshot_options(options));
    init_repo(session.cwd());
    std::fs::write(session.cwd().join("big.bin"), vec![7_u8; 4096]).expect("write");
    run_turn(&mut session, editing_turn(EDITS)).await;
    run_turn(&mut session, editing_turn(&[("notes.txt", "again\n")])).await;

    let items = recorded(&session);
    assert_eq!(items.len(), 4);
    for item in &items {
        let left_out: Vec<_> = item
            .snapshot
            .skipped
            .iter()
            .map(|skipped| skipped.path.clone())
            .collect();
        assert_eq!(left_out, [std::path::PathBuf::from("big.bin")]);
    }
    let warnings = messages(&session, warning);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("big.bin (4.0 KiB)"), "{warnings:?}");
    assert_json_snapshot!(normalized(&session));
}

#[tokio::test]
async fn a_slow_snapshot_warns_once_per_session() {
    let mut session = session(config().slow_threshold(Duration::ZERO));
    init_repo(session.cwd());
    run_turn(&mut session, editing_turn(EDITS)).await;
    run_turn(&mut session, editing_turn(&[("notes.txt", "again\n")])).await;

    assert_eq!(recorded(&session).len(), 4);
    let warnings = messages(&session, warning);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("the snapshot before this turn's changes took"),
        "{warnings:?}"
    );
    assert!(warnings[0].contains("more than 0.0 s"), "{warnings:?}");
}

#[tokio::test]
async fn a_snapshot_over_its_budget_is_a_warning_and_the_turn_goes_on() {
    let options = SnapshotOptions {
        time_budget: Duration::ZERO,
        ..SnapshotOptions::default()
    };
    let mut session = session(config().snapshot_options(options));
    init_repo(session.cwd());
    run_turn(&mut session, editing_turn(EDITS)).await;

    assert!(recorded(&session).is_empty());
    let warnings = messages(&session, warning);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("time budget") && warnings[0].contains("cannot be undone"),
        "{warnings:?}"
    );
    assert!(
        std::fs::read_to_string(session.cwd().join("notes.txt")).is_ok(),
        "the turn went on"
    );
}

#[tokio::test]
async fn switched_off_snapshots_do_nothing() {
    let mut session =
        session(GhostSnapshotConfig::disabled().open_options(support::open_options()));
    init_repo(session.cwd());
    run_turn(&mut session, editing_turn(EDITS)).await;
    session
        .run(turnkit_protocol::Op::Custom {
            name: "ghost_snapshot".into(),
            payload: serde_json::Value::Null,
        })
        .await;

    assert!(recorded(&session).is_empty());
    assert!(!snapshot_store(session.cwd()).exists());
    assert_json_snapshot!(normalized(&session));
}

/// A git program that does not exist, wherever the tests run.
fn missing_git_program() -> std::path::PathBuf {
    std::env::temp_dir()
        .join("turnkit-no-such-dir")
        .join("git-that-does-not-exist")
}
