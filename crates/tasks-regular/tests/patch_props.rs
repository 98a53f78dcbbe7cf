//! Property tests of `apply_patch`: random files and random edits, a patch written from them
//! (as a model would, from a line diff), applied to real files, gives exactly the edited
//! files; the same patch with one hunk line corrupted changes nothing.
//!
//! Hunks carry at least one line of context, as a model's do: a hunk of additions alone has
//! nothing to place it by, and goes at the end of the file (or after its `@@` line).
//!
//! CI runs the default case count below; `PROPTEST_CASES=2000` runs deeper.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use proptest::prelude::*;
use similar::{ChangeTag, TextDiff};
use turnkit_tasks_regular::{Error, apply_patch};

#[derive(Clone, Debug)]
enum LineEdit {
    Keep,
    Remove,
    Replace(String),
    InsertBefore(String),
}

#[derive(Clone, Debug)]
enum FileEdit {
    Keep,
    Delete,
    Update {
        lines: Vec<LineEdit>,
        appended: Vec<String>,
        radius: usize,
        move_it: bool,
    },
}

#[derive(Clone, Debug)]
struct Case {
    files: Vec<(Vec<String>, FileEdit)>,
    added: Vec<Vec<String>>,
}

fn word() -> impl Strategy<Value = String> {
    "[a-z]{0,6}"
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    prop_oneof![
        6 => Just(LineEdit::Keep),
        1 => Just(LineEdit::Remove),
        1 => word().prop_map(LineEdit::Replace),
        1 => word().prop_map(LineEdit::InsertBefore),
    ]
}

fn file_edit() -> impl Strategy<Value = FileEdit> {
    prop_oneof![
        1 => Just(FileEdit::Keep),
        1 => Just(FileEdit::Delete),
        4 => (
            prop::collection::vec(line_edit(), 30),
            prop::collection::vec(word(), 0..3),
            1..4_usize,
            any::<bool>(),
        )
            .prop_map(|(lines, appended, radius, move_it)| FileEdit::Update {
                lines,
                appended,
                radius,
                move_it,
            }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((prop::collection::vec(word(), 0..30), file_edit()), 1..5),
        prop::collection::vec(prop::collection::vec(word(), 0..5), 0..3),
    )
        .prop_map(|(files, added)| Case { files, added })
}

fn text(lines: &[String]) -> String {
    lines.iter().map(|line| line.clone() + "\n").collect()
}

/// What a case starts from, what it should end with, and the patch between them.
struct Built {
    before: BTreeMap<String, String>,
    after: BTreeMap<String, String>,
    patch: String,
    /// Per updated file with at least one old line in a hunk: the patch's line index of one.
    corruptible: Vec<(usize, String)>,
}

fn build(case: &Case) -> Built {
    let mut before = BTreeMap::new();
    let mut after = BTreeMap::new();
    let mut patch = String::from("*** Begin Patch\n");
    let mut corruptible = Vec::new();
    for (index, (words, edit)) in case.files.iter().enumerate() {
        // Lines are unique, so a hunk's lines match in one place only.
        let name = format!("d{}/f{index}.txt", index % 2);
        let old: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(line, word)| format!("{index}:{line}:{word}"))
            .collect();
        let old_text = text(&old);
        before.insert(name.clone(), old_text.clone());
        match edit {
            FileEdit::Keep => {
                after.insert(name, old_text);
            }
            FileEdit::Delete => {
                let _ = writeln!(patch, "*** Delete File: {name}");
            }
            FileEdit::Update {
                lines,
                appended,
                radius,
                move_it,
            } => {
                let mut new = Vec::new();
                for (line, (current, line_edit)) in old.iter().zip(lines).enumerate() {
                    match line_edit {
                        LineEdit::Keep => new.push(current.clone()),
                        LineEdit::Remove => {}
                        LineEdit::Replace(word) => new.push(format!("new:{index}:{line}:{word}")),
                        LineEdit::InsertBefore(word) => {
                            new.push(format!("ins:{index}:{line}:{word}"));
                            new.push(current.clone());
                        }
                    }
                }
                new.extend(
                    appended
                        .iter()
                        .enumerate()
                        .map(|(line, word)| format!("end:{index}:{line}:{word}")),
                );
                let new_text = text(&new);
                if new_text == old_text && !move_it {
                    after.insert(name, old_text);
                    continue;
                }
                let target = if *move_it {
                    format!("moved/f{index}.txt")
                } else {
                    name.clone()
                };
                let _ = writeln!(patch, "*** Update File: {name}");
                if *move_it {
                    let _ = writeln!(patch, "*** Move to: {target}");
                }
                let diff = TextDiff::from_lines(&old_text, &new_text);
                for group in diff.grouped_ops(*radius) {
                    patch.push_str("@@\n");
                    for op in group {
                        for change in diff.iter_changes(&op) {
                            let prefix = match change.tag() {
                                ChangeTag::Equal => ' ',
                                ChangeTag::Delete => '-',
                                ChangeTag::Insert => '+',
                            };
                            let line = change.value().trim_end_matches('\n');
                            if prefix != '+' {
                                corruptible.push((patch.lines().count(), name.clone()));
                            }
                            let _ = writeln!(patch, "{prefix}{line}");
                        }
                    }
                }
                after.insert(target, new_text);
            }
        }
    }
    for (index, words) in case.added.iter().enumerate() {
        let name = format!("added/a{index}.txt");
        let _ = writeln!(patch, "*** Add File: {name}");
        for word in words {
            let _ = writeln!(patch, "+{word}");
        }
        after.insert(name, text(words));
    }
    patch.push_str("*** End Patch\n");
    Built {
        before,
        after,
        patch,
        corruptible,
    }
}

fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
        for entry in fs::read_dir(dir).expect("readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let name = path
                    .strip_prefix(root)
                    .expect("below root")
                    .display()
                    .to_string();
                files.insert(name, fs::read_to_string(&path).expect("text"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

fn lay_out(root: &Path, files: &BTreeMap<String, String>) {
    for (name, content) in files {
        let path = root.join(name);
        fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
        fs::write(path, content).expect("written");
    }
}

/// 64 cases in CI; `PROPTEST_CASES` raises it.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn a_patch_written_from_random_edits_gives_exactly_the_edited_files(case in case()) {
        let built = build(&case);
        let dir = tempfile::tempdir().expect("a temp dir");
        lay_out(dir.path(), &built.before);
        let applied = apply_patch(&built.patch, dir.path());
        if built.patch == "*** Begin Patch\n*** End Patch\n" {
            prop_assert!(applied.is_err(), "an empty patch is refused");
            return Ok(());
        }
        prop_assert!(applied.is_ok(), "{:?}\n{}", applied, built.patch);
        prop_assert_eq!(tree(dir.path()), built.after);
    }

    #[test]
    fn a_corrupted_hunk_line_changes_nothing(case in case(), pick in any::<prop::sample::Index>()) {
        let built = build(&case);
        prop_assume!(!built.corruptible.is_empty());
        let (line, file) = &built.corruptible[pick.index(built.corruptible.len())];
        let corrupted: String = built
            .patch
            .lines()
            .enumerate()
            .map(|(index, text)| if index == *line { format!("{text}Z\n") } else { format!("{text}\n") })
            .collect::<Vec<_>>()
            .concat();
        let dir = tempfile::tempdir().expect("a temp dir");
        lay_out(dir.path(), &built.before);

        let error = apply_patch(&corrupted, dir.path()).expect_err("a corrupted line cannot match");

        prop_assert!(
            matches!(&error, Error::HunkFailed { path, .. } if path.display().to_string() == *file),
            "{error}"
        );
        prop_assert_eq!(tree(dir.path()), built.before);
    }
}
