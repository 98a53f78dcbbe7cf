//! The no-data-loss property: after a turn's edits and a user's edits, undo brings back every
//! path the user did not touch (bytes, executable bit, and the private modes of untracked
//! files), keeps every path the user did touch (and says so), and leaves ignored files and
//! every file of the git directory exactly as they were.
//!
//! The repository holds a file committed with CRLF before `* text=auto` was set, a tracked
//! folder named `build`, untracked private files and a 244-byte name; all committed files are
//! stat-dirty before the turn. The property runs as is, with `core.splitIndex=true`, and with
//! `feature.manyFiles=true`.

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
    CRLF,
    "build/out.txt",
    LONG,
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

/// Committed with CRLF line endings before `* text=auto` was set, whenever it exists.
const CRLF: &str = "dos.txt";

/// A legal name of 244 bytes: 61 four-byte characters.
const LONG: &str = "𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞";

/// Always tracked, so that `build/` is a tracked folder named like a build folder.
const BUILD_KEEP: &str = "build/keep.txt";

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
    File {
        bytes: Vec<u8>,
        executable: bool,
        /// No permission for group and others (`0600` or `0700`): only ever set on files that
        /// are untracked before the turn, whose modes the snapshot records.
        private: bool,
    },
    Symlink(String),
}

impl Content {
    fn file(bytes: Vec<u8>, executable: bool) -> Self {
        Self::File {
            bytes,
            executable,
            private: false,
        }
    }
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

fn crlf_text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec("[a-z ]{0,8}", 1..4).prop_map(|lines| {
        lines
            .iter()
            .flat_map(|line| [line.as_bytes(), b"\r\n"].concat())
            .collect()
    })
}

fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        4 => (prop::collection::vec(any::<u8>(), 0..64), any::<bool>())
            .prop_map(|(bytes, executable)| Content::file(bytes, executable)),
        1 => crlf_text().prop_map(|bytes| Content::file(bytes, false)),
        1 => Just(Content::file(Vec::new(), false)),
        1 => prop::sample::select(vec!["a.txt", "dir one", "nowhere", "../outside", "é/ñ file.md"])
            .prop_map(|target| Content::Symlink(target.to_owned())),
    ]
}

fn initial() -> impl Strategy<Value = Initial> {
    (
        prop::collection::vec(prop::option::weighted(0.7, content()), PATHS.len()),
        prop::collection::vec(any::<bool>(), PATHS.len()),
        crlf_text(),
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
        Content::File {
            bytes,
            executable,
            private,
        } => {
            std::fs::write(&full, bytes).expect("fixture step");
            let mode = match (*private, *executable) {
                (false, false) => 0o644,
                (false, true) => 0o755,
                (true, false) => 0o600,
                (true, true) => 0o700,
            };
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
    let mode = metadata.permissions().mode();
    Some(Content::File {
        bytes: std::fs::read(full).expect("fixture step"),
        executable: mode & 0o100 != 0,
        private: mode & 0o044 == 0,
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
                // A moved file gets the default modes at its new place, as an editor that
                // writes a new file would give it.
                if let Some(mut content) = tree.remove(PATHS[*from]) {
                    if let Content::File { private, .. } = &mut content {
                        *private = false;
                    }
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

/// Contents, whether each is committed, the CRLF file's text, and which untracked files are
/// private.
type Initial = (Vec<Option<Content>>, Vec<bool>, Vec<u8>, Vec<bool>);

/// The initial contents as they are put down: the CRLF file's text, privacy only where the
/// file stays untracked.
fn initial_contents(initial: &Initial) -> Vec<Option<Content>> {
    let (contents, committed, crlf, private) = initial;
    PATHS
        .iter()
        .zip(contents)
        .enumerate()
        .map(|(position, (path, content))| {
            let mut content = content.clone()?;
            if *path == CRLF {
                content = Content::file(crlf.clone(), false);
            }
            if let Content::File { private: bits, .. } = &mut content {
                *bits = private[position] && !is_committed(path, committed[position]);
            }
            Some(content)
        })
        .collect()
}

fn is_committed(path: &str, committed: bool) -> bool {
    committed || path == CRLF
}

/// The repository before the turn: the initial paths (some committed, then `* text=auto` set
/// and every committed file made stat-dirty), a staged file, a stash, ignored files and a
/// large untracked file.
fn build_initial(test: &TestRepo, initial: &Initial) {
    test.write(".gitignore", "*.log\nignored-dir/\n");
    test.write(BUILD_KEEP, "kept\n");
    let contents = initial_contents(initial);
    for (path, content) in PATHS.iter().zip(&contents) {
        put(test, path, content.as_ref());
    }
    let mut committed_paths = vec![".gitignore", BUILD_KEEP];
    for ((path, content), commit) in PATHS.iter().zip(&contents).zip(&initial.1) {
        if content.is_some() && is_committed(path, *commit) {
            committed_paths.push(path);
        }
    }
    for path in &committed_paths {
        test.git(&["add", "--", path]);
    }
    test.git(&["commit", "-q", "-m", "initial"]);
    test.write(".gitattributes", "* text=auto\n");
    test.git(&["add", ".gitattributes"]);
    test.git(&["commit", "-q", "-m", "text=auto"]);
    // Stat-dirty: the snapshot must read every committed file, as after a touch or a build.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(10);
    for path in &committed_paths {
        let full = test.path(path);
        if std::fs::symlink_metadata(&full).is_ok_and(|metadata| metadata.is_file()) {
            std::fs::File::options()
                .write(true)
                .open(&full)
                .and_then(|file| file.set_modified(later))
                .expect("fixture step");
        }
    }
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
                user_tree.insert(PATHS[*index], Content::file(marked, false));
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

fn run_case(settings: &[(&str, &str)], initial: &Initial, turn: &[TurnEdit], user: &[UserEdit]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("fixture step");
    let test = TestRepo::new();
    for (key, value) in settings {
        test.git(&["config", key, value]);
    }
    let cancel = CancellationToken::new();

    build_initial(&test, initial);
    let state = test.state();
    let git_dir_files = test.git_dir_files();
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
    assert_eq!(
        test.git_dir_files(),
        git_dir_files,
        "no file of the git directory written or touched"
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
        run_case(&[], &initial, &turn, &user);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 2, ..ProptestConfig::default() })]

    #[test]
    fn undo_restores_everything_with_a_split_index(
        initial in initial(),
        turn in prop::collection::vec(turn_edit(), 0..8),
        user in prop::collection::vec(user_edit(), 0..4),
    ) {
        run_case(&[("core.splitIndex", "true")], &initial, &turn, &user);
    }

    #[test]
    fn undo_restores_everything_with_many_files(
        initial in initial(),
        turn in prop::collection::vec(turn_edit(), 0..8),
        user in prop::collection::vec(user_edit(), 0..4),
    ) {
        run_case(&[("feature.manyFiles", "true")], &initial, &turn, &user);
    }
}
