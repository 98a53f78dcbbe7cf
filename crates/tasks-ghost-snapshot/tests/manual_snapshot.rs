//! The `ghost_snapshot` task kind: a snapshot a client asks for with
//! `Op::Custom { name: "ghost_snapshot", .. }`.

mod support;

use insta::assert_json_snapshot;
use support::{
    GitState, background, config, init_repo, messages, normalized, recorded, session,
    snapshot_store,
};
use turnkit_protocol::{EventMsg, Op};

fn ghost_snapshot() -> Op {
    Op::Custom {
        name: "ghost_snapshot".into(),
        payload: serde_json::Value::Null,
    }
}

#[tokio::test]
async fn a_requested_snapshot_is_recorded_and_names_its_commit() {
    let mut session = session(config());
    let cwd = session.cwd().to_owned();
    init_repo(&cwd);
    std::fs::create_dir_all(cwd.join("node_modules/left-pad")).expect("mkdir");
    std::fs::write(cwd.join("node_modules/left-pad/index.js"), "pad\n").expect("write");
    std::fs::write(cwd.join("notes.txt"), "untracked\n").expect("write");
    let before = GitState::of(&cwd);

    let events = session.run(ghost_snapshot()).await;

    let items = recorded(&session);
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item.phase, "manual");
    assert_eq!(item.turn_id, events[0].id);
    let left_out: Vec<_> = item
        .snapshot
        .skipped
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(left_out, [std::path::PathBuf::from("node_modules")]);
    let Some(EventMsg::TaskComplete { last_agent_message }) = events.last().map(|e| &e.msg) else {
        panic!("the task completes: {events:?}")
    };
    assert_eq!(
        last_agent_message.as_deref(),
        Some(format!("snapshot {}", item.commit).as_str())
    );
    let announced = messages(&session, background);
    assert!(announced[0].contains(&item.commit), "{announced:?}");
    assert_eq!(GitState::of(&cwd), before);
    assert!(snapshot_store(&cwd).is_dir());
    assert_json_snapshot!(normalized(&session));
}

#[tokio::test]
async fn a_requested_snapshot_outside_a_repository_is_an_error_that_says_what_to_do() {
    let mut session = session(config());
    session.run(ghost_snapshot()).await;

    assert!(recorded(&session).is_empty());
    let error = session
        .seen()
        .iter()
        .find_map(|event| match &event.msg {
            EventMsg::Error { message } => Some(message.clone()),
            _ => None,
        })
        .expect("an error event");
    assert!(error.contains("run `git init` there"), "{error}");
    assert_json_snapshot!(normalized(&session));
}

#[tokio::test]
async fn a_requested_snapshot_after_git_init_works_in_the_same_session() {
    let mut session = session(config());
    session.run(ghost_snapshot()).await;
    init_repo(session.cwd());
    session.run(ghost_snapshot()).await;

    let phases: Vec<String> = recorded(&session)
        .into_iter()
        .map(|item| item.phase)
        .collect();
    assert_eq!(phases, ["manual"]);
}
