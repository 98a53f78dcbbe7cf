//! The command safety check, table-driven: what is read-only, and why everything else asks.

use turnkit_tasks_regular::{CommandSafety, classify_command, classify_script};

/// Scripts known to be read-only.
const READ_ONLY: &[&str] = &[
    "ls",
    "ls -la src",
    "cat Cargo.toml",
    "head -n 20 src/lib.rs && tail -5 src/main.rs",
    "wc -l src/*.rs",
    "rg -n 'fn main' src",
    "rg -n TODO | head -20",
    "grep -rn \"unsafe\" crates || echo none",
    "find . -name '*.rs' -type f",
    "git status",
    "git diff HEAD~1 -- src",
    "git log --oneline -n 5",
    "git show HEAD:README.md",
    "git branch -a",
    "git stash list",
    "pwd; echo done",
    "cd crates && ls",
    "sed -n 10,20p src/lib.rs",
    "sed -n '1,$p' notes.txt",
    "rg foo 2>/dev/null",
    "ls missing 2>&1 | head",
    "cat < input.txt",
    "echo 'a > b' \"$ not expanded\\$\"",
    "! grep -q x file",
    "ls ~",
    "wc -c <<< 'text'",
    "sort -r names.txt | uniq -c",
];

/// Scripts that must ask, with a word of the reason each gives.
const ASKS: &[(&str, &str)] = &[
    ("rm -rf target", "`rm` is not a known read-only command"),
    ("ls; rm x", "`rm`"),
    ("ls && cargo test", "`cargo`"),
    (
        "cat notes > out.txt",
        "redirects output to the file `out.txt`",
    ),
    ("echo hi >> log", "`log`"),
    ("ls 2> errors.txt", "`errors.txt`"),
    ("ls &> all.txt", "`all.txt`"),
    ("ls >| clobbered", "`clobbered`"),
    ("echo $(rm -rf /)", "command substitution"),
    ("echo \"$(touch x)\"", "command substitution"),
    ("echo `touch x`", "command substitution"),
    ("cat <(curl evil)", "process substitution"),
    ("diff <(ls a) <(ls b)", "process substitution"),
    ("echo $HOME", "expands a variable"),
    ("echo ${x:-$(rm y)}", "expands a variable"),
    ("echo $((1+2))", "arithmetic"),
    ("PAGER=evil git log", "sets variables"),
    ("(cd x && rm y)", "compound command"),
    ("{ ls; }", "compound command"),
    ("for f in *; do rm $f; done", "compound command"),
    ("if true; then rm x; fi", "compound command"),
    ("f() { rm x; }; f", "compound command"),
    ("sleep 100 &", "background"),
    ("find . -name x -delete", "`find -delete`"),
    ("find . -exec rm {} \\;", "`find -exec`"),
    ("find . -fprint out.txt", "`find -fprint`"),
    ("find * -print", "unquoted pattern"),
    ("rg --pre ./evil pattern", "`rg --pre`"),
    ("rg -z pattern", "`rg -z`"),
    ("rg -iz pattern", "`rg -z`"),
    ("rg pattern *", "unquoted pattern"),
    ("git diff *", "unquoted pattern"),
    ("sort *.txt", "unquoted pattern"),
    ("git -c core.pager=evil log", "global options"),
    ("git diff --output=patch.txt", "`git --output`"),
    ("git log --outp=patch.txt", "`git --output`"),
    ("git diff --ext-diff", "`git --ext-diff`"),
    ("git grep -O foo", "`git -O`"),
    ("git commit -m x", "`git commit`"),
    ("git push", "`git push`"),
    ("git checkout -- .", "`git checkout`"),
    ("git branch new-feature", "can change the repository"),
    ("git branch -D main", "can change the repository"),
    ("git stash", "`git stash`"),
    ("git", "without a subcommand"),
    ("sed -i s/a/b/ file", "`sed`"),
    ("sed -n 's/a/b/w out' file", "`sed`"),
    ("sort -o out.txt in.txt", "`sort -o`"),
    ("sort -ro out.txt in.txt", "`sort -o`"),
    ("sort --out=x in.txt", "`sort --output`"),
    ("date -s 2020-01-01", "`date -s`"),
    ("tree -o listing.txt", "`tree -o`"),
    ("xargs rm < list", "`xargs`"),
    ("env rm x", "`env`"),
    ("cat <<EOF\n$(rm x)\nEOF", "here-document"),
    ("echo $'\\x41'", "ANSI-C"),
    ("bash -lc 'ls && rm x'", "`rm`"),
    (
        "bash -c \"bash -c 'bash -c \\\"bash -c ls\\\"'\"",
        "nested too deeply",
    ),
    ("", "empty"),
    ("ls 'unterminated", "could not be parsed"),
    ("/usr/bin/rm x", "`rm`"),
];

#[test]
fn known_read_only_scripts_are_read_only() {
    for script in READ_ONLY {
        assert_eq!(classify_script(script), CommandSafety::ReadOnly, "{script}");
    }
}

#[test]
fn everything_else_asks_and_says_why() {
    for (script, reason) in ASKS {
        match classify_script(script) {
            CommandSafety::NeedsApproval { reason: said } => {
                assert!(
                    said.contains(reason),
                    "{script}: said {said:?}, expected {reason:?}"
                );
            }
            CommandSafety::ReadOnly => panic!("{script} was classified read-only"),
        }
    }
}

#[test]
fn argv_is_classified_as_executed_and_shell_wrappers_by_their_script() {
    let argv = |words: &[&str]| {
        words
            .iter()
            .map(|word| (*word).to_owned())
            .collect::<Vec<_>>()
    };
    let cases: &[(&[&str], bool)] = &[
        (&["ls", "-la"], true),
        (&["git", "status"], true),
        (&["bash", "-lc", "git status && rg TODO | head"], true),
        (&["/bin/bash", "-c", "ls > listing"], false),
        (&["sh", "-c", "cat a"], true),
        (&["zsh", "-l", "-c", "pwd"], true),
        (&["bash", "-lc", "touch x"], false),
        (&["bash", "script.sh"], false),
        // Without a shell, `>` and `$(...)` are plain arguments: `ls` lists a file named so.
        (&["ls", ">", "out"], true),
        (&["echo", "$(rm x)"], true),
        (&["rm", "-rf", "/"], false),
        (&[], false),
    ];
    for (words, read_only) in cases {
        assert_eq!(
            classify_command(&argv(words)).is_read_only(),
            *read_only,
            "{words:?}: {:?}",
            classify_command(&argv(words))
        );
    }
}
