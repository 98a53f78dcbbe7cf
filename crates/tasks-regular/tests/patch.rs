//! `apply_patch` on real files in a temp dir: adds, deletes, moves and updates; whitespace
//! forgiven and content not; a patch that does not apply changes nothing and names the hunk;
//! paths outside the directory refused; the change summaries and their diffs.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use turnkit_tasks_regular::{Error, FileChange, PatchPlan, apply_patch, parse_patch};

/// Every file below `root` (relative path to content), to compare a whole tree.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
        for entry in fs::read_dir(dir).expect("the dir is readable") {
            let path = entry.expect("a dir entry").path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                walk(root, &path, files);
            } else if meta.is_file() {
                let relative = path.strip_prefix(root).expect("below root");
                files.insert(
                    relative.display().to_string(),
                    fs::read_to_string(&path).unwrap_or_else(|_| "<binary>".into()),
                );
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().expect("a parent")).expect("parent dirs");
    fs::write(path, content).expect("the file is written");
}

fn read(root: &Path, path: &str) -> String {
    fs::read_to_string(root.join(path)).expect("the file exists")
}

fn patch(body: &str) -> String {
    format!("*** Begin Patch\n{body}*** End Patch\n")
}

#[test]
fn adds_updates_moves_and_deletes_files_in_one_patch() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(root, "src/lib.rs", "fn one() {}\n\nfn two() {\n    1\n}\n");
    write(root, "old/name.txt", "keep me\nchange me\n");
    write(root, "gone.txt", "bye\n");
    fs::set_permissions(root.join("src/lib.rs"), fs::Permissions::from_mode(0o755)).expect("chmod");

    let changes = apply_patch(
        &patch(
            "*** Add File: docs/new.md\n+# New\n+\n+text\n\
             *** Update File: src/lib.rs\n@@ fn two() {\n-    1\n+    2\n\
             *** Update File: old/name.txt\n*** Move to: new/name.txt\n@@\n keep me\n-change me\n+changed\n\
             *** Delete File: gone.txt\n",
        ),
        root,
    )
    .expect("the patch applies");

    assert_eq!(
        tree(root),
        BTreeMap::from([
            ("docs/new.md".into(), "# New\n\ntext\n".into()),
            ("new/name.txt".into(), "keep me\nchanged\n".into()),
            (
                "src/lib.rs".into(),
                "fn one() {}\n\nfn two() {\n    2\n}\n".into()
            ),
        ])
    );
    let mode = fs::metadata(root.join("src/lib.rs"))
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "an updated file keeps its mode");
    assert_eq!(
        changes[0],
        FileChange::Add {
            path: "docs/new.md".into(),
            content: "# New\n\ntext\n".into()
        }
    );
    let FileChange::Update {
        path,
        move_path,
        unified_diff,
    } = &changes[2]
    else {
        panic!("{changes:?}")
    };
    assert_eq!(path, Path::new("old/name.txt"));
    assert_eq!(move_path.as_deref(), Some(Path::new("new/name.txt")));
    assert_eq!(
        unified_diff,
        "--- a/old/name.txt\n+++ b/new/name.txt\n@@ -1,2 +1,2 @@\n keep me\n-change me\n+changed\n"
    );
    assert_eq!(
        changes[3],
        FileChange::Delete {
            path: "gone.txt".into(),
            content: "bye\n".into()
        }
    );
    let leftovers: Vec<_> = tree(root)
        .into_keys()
        .filter(|name| name.contains(".tk"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_second_hunk_that_does_not_apply_changes_nothing_and_is_named() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(root, "a.txt", "alpha\nbeta\ngamma\ndelta\n");
    write(root, "b.txt", "one\n");
    let before = tree(root);

    let error = apply_patch(
        &patch(
            "*** Add File: c.txt\n+new\n\
             *** Update File: b.txt\n@@\n-one\n+uno\n\
             *** Update File: a.txt\n@@\n alpha\n-beta\n+BETA\n@@\n gamma\n-epsilon\n+EPSILON\n",
        ),
        root,
    )
    .expect_err("the second hunk of a.txt does not match");

    assert_eq!(tree(root), before, "nothing may change");
    assert!(error.changed_nothing());
    let Error::HunkFailed {
        path,
        hunk,
        hunks,
        patch_line,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(
        (path.as_path(), *hunk, *hunks, *patch_line),
        (Path::new("a.txt"), 2, 2, 13)
    );
    let message = error.to_string();
    assert!(
        message.starts_with("hunk 2 of 2 for `a.txt` (patch line 13) does not apply: these lines were not found in the file after line 2"),
        "{message}"
    );
    assert!(message.contains("\n  gamma\n  epsilon\n"), "{message}");
}

#[test]
fn whitespace_is_forgiven_but_content_never_is() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(root, "f.py", "def f():\n\treturn  1   \n");

    apply_patch(
        &patch("*** Update File: f.py\n@@\n def f():\n-    return 1\n+    return 2\n"),
        root,
    )
    .expect("indentation and spacing differ only in whitespace");
    assert_eq!(read(root, "f.py"), "def f():\n    return 2\n");

    let error = apply_patch(
        &patch("*** Update File: f.py\n@@\n def f():\n-    return 3\n+    return 4\n"),
        root,
    )
    .expect_err("a different digit is different content");
    assert!(matches!(error, Error::HunkFailed { .. }), "{error}");
    assert_eq!(read(root, "f.py"), "def f():\n    return 2\n");
}

#[test]
fn context_lines_keep_the_files_own_text_and_crlf_files_stay_crlf() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(root, "w.txt", "a\r\n  b  \r\nc\r\n");

    apply_patch(&patch("*** Update File: w.txt\n@@\n b\n-c\n+C\n"), root).expect("applies");

    assert_eq!(read(root, "w.txt"), "a\r\n  b  \r\nC\r\n");
}

#[test]
fn gits_no_newline_marker_is_ignored_and_the_files_last_line_ending_kept() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(root, "n.txt", "a\nb");

    apply_patch(
        &patch("*** Update File: n.txt\n@@\n a\n-b\n\\ No newline at end of file\n+c\n"),
        root,
    )
    .expect("applies");

    assert_eq!(read(root, "n.txt"), "a\nc");
}

#[test]
fn anchors_end_of_file_and_pure_additions_land_where_they_say() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(
        root,
        "m.rs",
        "impl A {\n    fn f() {}\n}\nimpl B {\n    fn f() {}\n}\nx\n",
    );

    apply_patch(
        &patch(
            "*** Update File: m.rs\n@@ impl B {\n-    fn f() {}\n+    fn g() {}\n\
             @@\n-x\n+y\n*** End of File\n",
        ),
        root,
    )
    .expect("applies");
    assert_eq!(
        read(root, "m.rs"),
        "impl A {\n    fn f() {}\n}\nimpl B {\n    fn g() {}\n}\ny\n"
    );

    apply_patch(
        &patch("*** Update File: m.rs\n@@ impl A {\n+    // first\n"),
        root,
    )
    .expect("an addition after its anchor");
    assert!(read(root, "m.rs").starts_with("impl A {\n    // first\n    fn f() {}\n"));
}

#[test]
fn paths_outside_the_directory_are_refused_and_nothing_is_written() {
    let outside = tempfile::tempdir().expect("a temp dir");
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(root, "ok.txt", "ok\n");
    write(outside.path(), "target.txt", "secret\n");
    std::os::unix::fs::symlink(outside.path(), root.join("link")).expect("a dir symlink");
    std::os::unix::fs::symlink(outside.path().join("target.txt"), root.join("file-link"))
        .expect("a file symlink");
    let absolute_outside = outside.path().join("x.txt");
    let cases = [
        ("*** Add File: ../escape.txt\n+x\n", "contains `..`"),
        ("*** Add File: sub/../../escape.txt\n+x\n", "contains `..`"),
        (
            &*format!("*** Add File: {}\n+x\n", absolute_outside.display()),
            "outside the session's directory",
        ),
        ("*** Add File: link/new.txt\n+x\n", "`link` is a symlink"),
        (
            "*** Update File: file-link\n@@\n-secret\n+stolen\n",
            "`file-link` is a symlink",
        ),
        ("*** Delete File: file-link\n", "`file-link` is a symlink"),
        ("*** Add File: .git/hooks/pre-commit\n+x\n", "inside `.git`"),
        (
            "*** Update File: ok.txt\n*** Move to: ../moved.txt\n@@\n-changed\n+ok2\n",
            "contains `..`",
        ),
    ];
    let before = tree(root);
    let outside_before = tree(outside.path());
    for (body, reason) in cases {
        let error = apply_patch(
            &patch(&format!(
                "*** Update File: ok.txt\n@@\n-ok\n+changed\n{body}"
            )),
            root,
        )
        .expect_err(body);
        assert!(
            matches!(&error, Error::PathRefused { reason: got, .. } if got.contains(reason)),
            "{body}: {error}"
        );
        assert_eq!(tree(root), before, "{body}");
        assert_eq!(tree(outside.path()), outside_before, "{body}");
    }

    let inside = root.canonicalize().expect("canonical").join("abs.txt");
    apply_patch(
        &patch(&format!("*** Add File: {}\n+x\n", inside.display())),
        root,
    )
    .expect("an absolute path inside the directory is fine");
    assert_eq!(read(root, "abs.txt"), "x\n");
}

#[test]
fn files_that_exist_or_do_not_are_reported_with_what_to_do() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(root, "here.txt", "x\n");
    fs::create_dir(root.join("folder")).expect("a dir");

    let add = apply_patch(&patch("*** Add File: here.txt\n+y\n"), root).expect_err("exists");
    assert_eq!(
        add.to_string(),
        "`here.txt` already exists; change it with `*** Update File:`, or delete it earlier in the same patch"
    );
    let update =
        apply_patch(&patch("*** Update File: nope.txt\n@@\n-a\n+b\n"), root).expect_err("missing");
    assert!(
        update
            .to_string()
            .starts_with("`nope.txt` does not exist, so it cannot be updated")
    );
    let delete = apply_patch(&patch("*** Delete File: folder\n"), root).expect_err("a dir");
    assert!(matches!(delete, Error::NotAFile { .. }), "{delete}");

    apply_patch(
        &patch("*** Delete File: here.txt\n*** Add File: here.txt\n+y\n"),
        root,
    )
    .expect("delete then add rewrites a file");
    assert_eq!(read(root, "here.txt"), "y\n");
}

#[test]
fn malformed_patches_say_which_line_and_what_was_expected() {
    let cases = [
        ("", 1, "the patch is empty"),
        (
            "*** Update File: a\n",
            1,
            "must start with `*** Begin Patch`",
        ),
        (
            "*** Begin Patch\n*** Update File: a\n@@\n-x\n",
            5,
            "ended without `*** End Patch`",
        ),
        (
            "*** Begin Patch\n*** Frobnicate: a\n*** End Patch\n",
            2,
            "expected `*** Add File:`",
        ),
        (
            "*** Begin Patch\n*** Update File: a\n@@\n~x\n*** End Patch\n",
            4,
            "expected a hunk line",
        ),
        (
            "*** Begin Patch\n*** Update File: a\n*** End Patch\n",
            2,
            "has no hunks",
        ),
        ("*** Begin Patch\n*** End Patch\n", 1, "changes no file"),
        (
            "*** Begin Patch\n*** Delete File: a\n*** End Patch\nmore\n",
            4,
            "text after `*** End Patch`",
        ),
    ];
    for (text, line, message) in cases {
        let error = parse_patch(text).expect_err(text);
        let Error::Parse {
            line: got,
            message: said,
        } = &error
        else {
            panic!("{text}: {error:?}")
        };
        assert_eq!(*got, line, "{text}: {error}");
        assert!(said.contains(message), "{text}: {error}");
    }
}

#[test]
fn a_plan_shows_the_changes_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path();
    write(root, "a.txt", "1\n2\n3\n");

    let plan = PatchPlan::new(&patch("*** Update File: a.txt\n@@\n 1\n-2\n+two\n"), root)
        .expect("the patch applies");
    assert_eq!(read(root, "a.txt"), "1\n2\n3\n", "planning writes nothing");
    assert_eq!(
        plan.summary(),
        "Success. Updated the following files:\nM a.txt\n"
    );
    let json = serde_json::to_value(plan.changes()).expect("changes serialise");
    assert_eq!(
        json,
        serde_json::json!([{
            "type": "update",
            "path": "a.txt",
            "unified_diff": "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n 1\n-2\n+two\n 3\n"
        }])
    );

    plan.commit().expect("the plan is written");
    assert_eq!(read(root, "a.txt"), "1\ntwo\n3\n");
}
