//! The no-data-loss property: after a turn's edits and a user's edits, undo brings back every
//! path the user did not touch, keeps every path the user did touch (and says so), and leaves
//! ignored files, HEAD, refs, the index and the stash exactly as they were.

#![cfg(unix)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use proptest::prelude::*;
use support::TestRepo;
use tokio_util::sync::CancellationToken;
use turnkit_git_snapshot::{ConflictReason, SnapshotOptions, apply_undo, plan_undo, snapshot};

/// Paths a case may use; none is a directory of another, so any mix of them can exist.
const PATHS: &[&str] = &[
    "a.txt",
    "b c.bin",
    "dir one/x.txt",
    "dir one/sub/ü.txt",
    "dir one/sub/empty",
    "é/ñ file.md",
    "deep/er/est/z",
    "exec.sh",
    "ünï/ĉödé ☃.txt",
    "top",
];

/// Ignored by `.gitignore`; the turn and the user never touch them, undo must not either.
const IGNORED: &[(&str, &[u8])] = &[
    ("app.log", b"log line\n"),
    ("dir one/trace.log", b"\x00\x01binary log"),
    ("ignored-dir/cache.bin", b"cache"),
];

const LARGE: &str = "big.dat";
const LIMIT: u64 = 2048;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Content {
    File { bytes: Vec<u8>, executable: bool },
    Symlink(String),
}

type Tree = BTreeMap<&'static str, Content>;

#[derive(Clone, Debug)]
enum TurnEdit {
    Write(usize, Content),
    Delete(usize),
    Rename(usize, usize),
    Chmod(usize),
}

#[derive(Clone, Debug)]
enum UserEdit {
    Write(usize, Vec<u8>),
    Delete(usize),
}

fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        4 => (prop::collection::vec(any::<u8>(), 0..64), any::<bool>())
            .prop_map(|(bytes, executable)| Content::File { bytes, executable }),
        1 => Just(Content::File { bytes: Vec::new(), executable: false }),
        1 => prop::sample::select(vec!["a.txt", "dir one", "nowhere", "../outside", "é/ñ file.md"])
            .prop_map(|target| Content::Symlink(target.to_owned())),
    ]
}

fn initial() -> impl Strategy<Value = Initial> {
    (
        prop::collection::vec(prop::option::weighted(0.7, content()), PATHS.len()),
        prop::collection::vec(any::<bool>(), PATHS.len()),
    )
}

fn turn_edit() -> impl Strategy<Value = TurnEdit> {
    let index = 0..PATHS.len();
    prop_oneof![
        3 => (index.clone(), content()).prop_map(|(i, c)| TurnEdit::Write(i, c)),
        2 => index.clone().prop_map(TurnEdit::Delete),
        1 => (index.clone(), index.clone()).prop_map(|(from, to)| TurnEdit::Rename(from, to)),
        1 => index.prop_map(TurnEdit::Chmod),
    ]
}

fn user_edit() -> impl Strategy<Value = UserEdit> {
    let index = 0..PATHS.len();
    prop_oneof![
        2 => (index.clone(), prop::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(i, bytes)| UserEdit::Write(i, bytes)),
        1 => index.prop_map(UserEdit::Delete),
    ]
}

fn put(test: &TestRepo, path: &str, content: Option<&Content>) {
    let full = test.path(path);
    if std::fs::symlink_metadata(&full).is_ok() {
        std::fs::remove_file(&full).expect("fixture step");
    }
    let Some(content) = content else { return };
    std::fs::create_dir_all(full.parent().expect("fixture step")).expect("fixture step");
    match content {
        Content::File { bytes, executable } => {
            std::fs::write(&full, bytes).expect("fixture step");
            let mode = if *executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode))
                .expect("fixture step");
        }
        Content::Symlink(target) => symlink(target, &full).expect("fixture step"),
    }
}

fn read(full: &Path) -> Option<Content> {
    let metadata = std::fs::symlink_metadata(full).ok()?;
    if metadata.file_type().is_symlink() {
        let target = std::fs::read_link(full).expect("fixture step");
        return Some(Content::Symlink(
            target.to_str().expect("fixture step").to_owned(),
        ));
    }
    if !metadata.is_file() {
        return None;
    }
    Some(Content::File {
        bytes: std::fs::read(full).expect("fixture step"),
        executable: metadata.permissions().mode() & 0o100 != 0,
    })
}

fn read_tree(test: &TestRepo) -> Tree {
    PATHS
        .iter()
        .filter_map(|path| read(&test.path(path)).map(|c| (*path, c)))
        .collect()
}

fn apply_turn(test: &TestRepo, tree: &mut Tree, edits: &[TurnEdit]) {
    for edit in edits {
        match edit {
            TurnEdit::Write(index, content) => {
                tree.insert(PATHS[*index], content.clone());
            }
            TurnEdit::Delete(index) => {
                tree.remove(PATHS[*index]);
            }
            TurnEdit::Rename(from, to) if from != to => {
                if let Some(content) = tree.remove(PATHS[*from]) {
                    tree.insert(PATHS[*to], content);
                }
            }
            TurnEdit::Rename(..) => {}
            TurnEdit::Chmod(index) => {
                if let Some(Content::File { executable, .. }) = tree.get_mut(PATHS[*index]) {
                    *executable = !*executable;
                }
            }
        }
    }
    for path in PATHS {
        put(test, path, tree.get(path));
    }
}

type Initial = (Vec<Option<Content>>, Vec<bool>);

/// The repository before the turn: the initial paths (some committed), a staged file, a stash,
/// ignored files and a large untracked file.
fn build_initial(test: &TestRepo, initial: &Initial) {
    test.write(".gitignore", "*.log\nignored-dir/\n");
    let (contents, committed) = initial;
    for (path, content) in PATHS.iter().zip(contents) {
        put(test, path, content.as_ref());
    }
    for ((path, content), commit) in PATHS.iter().zip(contents).zip(committed) {
        if content.is_some() && *commit {
            test.git(&["add", "--", path]);
        }
    }
    test.git(&["add", ".gitignore"]);
    test.git(&["commit", "-q", "-m", "initial"]);
    // Something staged and something stashed, so both are there to be left alone.
    test.write("staged.txt", "staged\n");
    test.git(&["add", "staged.txt"]);
    test.write("stashed.txt", "stashed\n");
    test.git(&[
        "stash",
        "push",
        "-q",
        "--include-untracked",
        "--",
        "stashed.txt",
    ]);
    for (path, bytes) in IGNORED {
        test.write(path, bytes);
    }
    test.write(LARGE, vec![b'x'; (LIMIT * 2) as usize]);
}

/// Applies the user's edits after the turn and returns the tree the user left.
fn apply_user(test: &TestRepo, after_tree: &Tree, user: &[UserEdit]) -> Tree {
    let mut user_tree = after_tree.clone();
    for edit in user {
        match edit {
            UserEdit::Write(index, bytes) => {
                let mut marked = b"user: ".to_vec();
                marked.extend_from_slice(bytes);
                user_tree.insert(
                    PATHS[*index],
                    Content::File {
                        bytes: marked,
                        executable: false,
                    },
                );
            }
            UserEdit::Delete(index) => {
                user_tree.remove(PATHS[*index]);
            }
        }
    }
    for path in PATHS {
        if user_tree.get(path) != after_tree.get(path) {
            put(test, path, user_tree.get(path));
        }
    }
    user_tree
}

fn run_case(initial: &Initial, turn: &[TurnEdit], user: &[UserEdit]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("fixture step");
    let test = TestRepo::new();
    let cancel = CancellationToken::new();

    build_initial(&test, initial);
    let state = test.state();
    let before_tree = read_tree(&test);

    let repo = runtime.block_on(test.open());
    let options = SnapshotOptions {
        max_untracked_file_size: LIMIT,
        ..test.options()
    };
    let before = runtime
        .block_on(snapshot(&repo, &options, &cancel))
        .expect("fixture step");
    assert!(before.skipped.iter().any(|s| s.path == Path::new(LARGE)));

    let mut after_tree = before_tree.clone();
    apply_turn(&test, &mut after_tree, turn);
    let after = runtime
        .block_on(snapshot(&repo, &options, &cancel))
        .expect("fixture step");

    let user_tree = apply_user(&test, &after_tree, user);
    let touched: BTreeSet<&str> = PATHS
        .iter()
        .copied()
        .filter(|p| user_tree.get(p) != after_tree.get(p))
        .collect();
    let turn_changed: BTreeSet<&str> = PATHS
        .iter()
        .copied()
        .filter(|p| before_tree.get(p) != after_tree.get(p))
        .collect();

    let plan = runtime
        .block_on(plan_undo(&repo, &before, &after, &cancel))
        .expect("fixture step");
    let report = runtime
        .block_on(apply_undo(&plan, &cancel))
        .expect("fixture step");
    assert!(report.failed.is_empty(), "{report:?}");
    let conflicts: BTreeMap<&str, ConflictReason> = report
        .conflicts
        .iter()
        .map(|c| (c.path.to_str().expect("fixture step"), c.reason))
        .collect();
    let final_tree = read_tree(&test);

    for path in PATHS {
        if touched.contains(path) {
            assert_eq!(
                final_tree.get(path),
                user_tree.get(path),
                "{path}: the user's version"
            );
            if user_tree.get(path) == before_tree.get(path) {
                assert!(
                    report.already_undone.iter().any(|p| p == Path::new(path)),
                    "{path}"
                );
            } else if turn_changed.contains(path) {
                assert_eq!(
                    conflicts.get(path),
                    Some(&ConflictReason::ChangedSince),
                    "{path}"
                );
            }
        } else {
            assert_eq!(
                final_tree.get(path),
                before_tree.get(path),
                "{path}: back as before"
            );
            assert!(!conflicts.contains_key(path), "{path}: {report:?}");
        }
    }
    for (path, bytes) in IGNORED {
        assert_eq!(
            test.read(path).as_deref(),
            Some(*bytes),
            "{path}: ignored, untouched"
        );
    }
    assert_eq!(
        test.read(LARGE).map(|bytes| bytes.len()),
        Some((LIMIT * 2) as usize)
    );
    assert_eq!(
        test.state(),
        state,
        "HEAD, refs, index, stash and config unchanged"
    );
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(16)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn undo_restores_everything_the_user_did_not_touch(
        initial in initial(),
        turn in prop::collection::vec(turn_edit(), 0..8),
        user in prop::collection::vec(user_edit(), 0..4),
    ) {
        run_case(&initial, &turn, &user);
    }
}
