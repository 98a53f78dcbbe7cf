//! Whether a command is known to be read-only, for the `untrusted` approval policy.
//!
//! The command is parsed as bash would parse it (by `brush-parser`), so redirections, command
//! and process substitutions, and the separators between commands are seen as the shell sees
//! them, quotes included. A command is read-only only when every part of it is known to be:
//! simple commands from a fixed list, with their arguments checked where an option could write
//! or run something, joined by `&&`, `||`, `;` or `|`, with no redirection to a file (other
//! than `/dev/null`), no substitution, no variable, no assignment, and no compound command.
//! `bash -lc "…"` (and `sh -c`, `zsh -c`, …) is classified by the script it runs. Everything
//! else needs approval, with the reason saying why.

use std::io::Cursor;

use brush_parser::ast::{
    self, Command, CommandPrefixOrSuffixItem, IoFileRedirectKind, IoFileRedirectTarget, IoRedirect,
    SeparatorOperator,
};
use brush_parser::word::{self, WordPiece};
use brush_parser::{Parser, ParserOptions};

/// How deep `bash -c "bash -c …"` is unwrapped before giving up.
const MAX_NESTING: usize = 3;

/// The verdict on a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandSafety {
    /// Every part of the command is known to only read.
    ReadOnly,
    /// The command may change something, or the classifier cannot tell.
    NeedsApproval {
        /// Why, for the approval request and for tests.
        reason: String,
    },
}

impl CommandSafety {
    /// Whether the command is known to be read-only.
    pub fn is_read_only(&self) -> bool {
        matches!(self, CommandSafety::ReadOnly)
    }
}

/// Classifies a command given as argv (as the shell tool receives it), executed without a
/// shell unless it is one: `["bash", "-lc", "ls && git status"]` is classified by its script.
pub fn classify_command(argv: &[String]) -> CommandSafety {
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    // No shell runs it, so nothing is expanded: `*` is a plain character.
    verdict(check_argv(&words, false, 0))
}

/// Classifies a shell script, as `bash -c` would run it.
pub fn classify_script(script: &str) -> CommandSafety {
    verdict(check_script(script, 0))
}

fn verdict(result: Result<(), String>) -> CommandSafety {
    match result {
        Ok(()) => CommandSafety::ReadOnly,
        Err(reason) => CommandSafety::NeedsApproval { reason },
    }
}

type Check = Result<(), String>;

fn check_script(script: &str, depth: usize) -> Check {
    if depth > MAX_NESTING {
        return Err("shells nested too deeply to check".to_owned());
    }
    if script.trim().is_empty() {
        return Err("the command is empty".to_owned());
    }
    let options = ParserOptions::default();
    let program = Parser::new(Cursor::new(script.as_bytes()), &options)
        .parse_program()
        .map_err(|error| format!("the command could not be parsed as a shell would ({error})"))?;
    for complete in &program.complete_commands {
        for ast::CompoundListItem(and_or, separator) in &complete.0 {
            if matches!(separator, SeparatorOperator::Async) {
                return Err("it runs a command in the background (`&`)".to_owned());
            }
            check_pipeline(&and_or.first, &options, depth)?;
            for next in &and_or.additional {
                let (ast::AndOr::And(pipeline) | ast::AndOr::Or(pipeline)) = next;
                check_pipeline(pipeline, &options, depth)?;
            }
        }
    }
    Ok(())
}

fn check_pipeline(pipeline: &ast::Pipeline, options: &ParserOptions, depth: usize) -> Check {
    for command in &pipeline.seq {
        let Command::Simple(simple) = command else {
            return Err(
                "it uses a compound command (a subshell, group, loop, condition or function)"
                    .to_owned(),
            );
        };
        if simple
            .prefix
            .as_ref()
            .is_some_and(|prefix| !prefix.0.is_empty())
        {
            return Err("it sets variables or redirects before the command".to_owned());
        }
        let mut words = Vec::new();
        if let Some(name) = &simple.word_or_name {
            words.push(static_word(&name.value, options)?);
        }
        for item in simple.suffix.iter().flat_map(|suffix| &suffix.0) {
            match item {
                CommandPrefixOrSuffixItem::Word(word) => {
                    words.push(static_word(&word.value, options)?);
                }
                CommandPrefixOrSuffixItem::IoRedirect(redirect) => {
                    check_redirect(redirect, options)?;
                }
                CommandPrefixOrSuffixItem::AssignmentWord(..) => {
                    return Err("it assigns a variable".to_owned());
                }
                CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                    return Err("it uses process substitution".to_owned());
                }
            }
        }
        let globbed = words.iter().any(|word| word.unquoted_glob);
        let words: Vec<&str> = words.iter().map(|word| word.text.as_str()).collect();
        check_argv(&words, globbed, depth)?;
    }
    Ok(())
}

/// A word whose value is known without running anything.
struct StaticWord {
    text: String,
    /// Whether an unquoted `*`, `?` or `[` makes the shell expand it to file names.
    unquoted_glob: bool,
}

/// The word's value, when it has no expansion that runs code or depends on the environment.
fn static_word(raw: &str, options: &ParserOptions) -> Result<StaticWord, String> {
    let pieces = word::parse(raw, options)
        .map_err(|error| format!("the word `{raw}` could not be parsed ({error})"))?;
    let mut text = String::new();
    let mut unquoted_glob = false;
    for piece in pieces {
        if let WordPiece::Text(part) = &piece.piece {
            unquoted_glob |= part.contains(['*', '?', '[']);
        }
        push_static(&piece.piece, &mut text)?;
    }
    Ok(StaticWord {
        text,
        unquoted_glob,
    })
}

fn push_static(piece: &WordPiece, text: &mut String) -> Check {
    match piece {
        WordPiece::Text(part) | WordPiece::SingleQuotedText(part) => text.push_str(part),
        WordPiece::EscapeSequence(escape) => text.push_str(escape.trim_start_matches('\\')),
        WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
            for piece in inner {
                push_static(&piece.piece, text)?;
            }
        }
        WordPiece::CommandSubstitution(_) | WordPiece::BackquotedCommandSubstitution(_) => {
            return Err("it uses command substitution".to_owned());
        }
        WordPiece::ParameterExpansion(_) => {
            return Err("it expands a variable, whose value cannot be checked".to_owned());
        }
        WordPiece::ArithmeticExpression(_) => {
            return Err("it uses arithmetic expansion".to_owned());
        }
        WordPiece::TildeExpansion(_) => text.push('~'),
        WordPiece::AnsiCQuotedText(_) => {
            return Err("it uses ANSI-C quoting (`$'…'`)".to_owned());
        }
    }
    Ok(())
}

fn check_redirect(redirect: &IoRedirect, options: &ParserOptions) -> Check {
    match redirect {
        IoRedirect::File(_, kind, target) => match (kind, target) {
            (
                IoFileRedirectKind::DuplicateOutput | IoFileRedirectKind::DuplicateInput,
                IoFileRedirectTarget::Fd(_),
            ) => Ok(()),
            (
                IoFileRedirectKind::DuplicateOutput | IoFileRedirectKind::DuplicateInput,
                IoFileRedirectTarget::Duplicate(word),
            ) => {
                let target = static_word(&word.value, options)?.text;
                if target == "-" || target.chars().all(|c| c.is_ascii_digit()) {
                    Ok(())
                } else {
                    Err(format!("it redirects output to the file `{target}`"))
                }
            }
            (_, IoFileRedirectTarget::ProcessSubstitution(..)) => {
                Err("it uses process substitution".to_owned())
            }
            (IoFileRedirectKind::Read, IoFileRedirectTarget::Filename(word)) => {
                static_word(&word.value, options).map(drop)
            }
            (_, IoFileRedirectTarget::Filename(word)) => to_dev_null(&word.value, options),
            _ => Err("it uses a redirection that cannot be checked".to_owned()),
        },
        IoRedirect::OutputAndError(word, _) => to_dev_null(&word.value, options),
        IoRedirect::HereString(_, word) => static_word(&word.value, options).map(drop),
        IoRedirect::HereDocument(..) => {
            Err("it uses a here-document, whose expansions cannot be checked".to_owned())
        }
    }
}

fn to_dev_null(raw: &str, options: &ParserOptions) -> Check {
    let target = static_word(raw, options)?.text;
    if target == "/dev/null" {
        Ok(())
    } else {
        Err(format!("it redirects output to the file `{target}`"))
    }
}

/// Checks one command's words: the program and its arguments, after quoting is removed.
///
/// `globbed` says whether the shell expands a pattern among them to file names, which could
/// put any option (a file named `-delete`) into the arguments.
fn check_argv(words: &[&str], globbed: bool, depth: usize) -> Check {
    let Some((&program, arguments)) = words.split_first() else {
        return Err("the command is empty".to_owned());
    };
    let name = program.rsplit('/').next().unwrap_or(program);
    if let Some(script) = shell_script(name, arguments) {
        return check_script(script, depth + 1);
    }
    let checks_options = matches!(
        name,
        "date" | "sort" | "tree" | "find" | "rg" | "sed" | "git" | "uniq"
    );
    if globbed && checks_options {
        return Err(format!(
            "`{name}` with an unquoted pattern could receive any option (a file may be named like one)"
        ));
    }
    match name {
        "cat" | "cd" | "echo" | "false" | "grep" | "egrep" | "fgrep" | "head" | "ls" | "nl"
        | "pwd" | "tail" | "true" | "wc" | "which" | "whoami" | "basename" | "dirname"
        | "realpath" | "readlink" | "stat" | "du" | "df" | "cut" | "tr" | "cmp" | "diff"
        | "printf" | "id" | "uname" | "type" | "test" | "[" | "seq" | "rev" | "column"
        | "expand" | "fold" | "md5sum" | "sha1sum" | "sha256sum" => Ok(()),
        // `uniq IN OUT` writes OUT.
        "uniq"
            if arguments
                .iter()
                .filter(|argument| !argument.starts_with('-'))
                .count()
                <= 1 =>
        {
            Ok(())
        }
        "date" => refuse_options(name, arguments, &["-s", "--set"]),
        "sort" => refuse_options(name, arguments, &["-o", "--output", "--compress-program"]),
        "tree" => refuse_options(name, arguments, &["-o", "--fromfile"]),
        "find" => refuse_options(
            name,
            arguments,
            &[
                "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0",
                "-fprintf",
            ],
        ),
        "rg" => refuse_options(
            name,
            arguments,
            &["--pre", "--hostname-bin", "--search-zip", "-z"],
        ),
        "sed" => check_sed(arguments),
        "git" => check_git(arguments),
        _ => Err(format!("`{name}` is not a known read-only command")),
    }
}

/// The script of `bash -c SCRIPT`, `bash -lc SCRIPT` and the like.
fn shell_script<'a>(name: &str, arguments: &[&'a str]) -> Option<&'a str> {
    if !matches!(name, "bash" | "sh" | "zsh" | "dash") {
        return None;
    }
    match arguments {
        [flag, script] if matches!(*flag, "-c" | "-lc" | "-cl") => Some(script),
        [login, "-c", script] if matches!(*login, "-l" | "--login") => Some(script),
        _ => None,
    }
}

/// Fails when an argument sets one of `options`: exactly, with `=value`, as an abbreviation
/// of a long option (GNU tools and git accept `--out` for `--output`), or, for a one-letter
/// option, inside a cluster of short options (`-ro` holds `-o`).
fn refuse_options(program: &str, arguments: &[&str], options: &[&str]) -> Check {
    for argument in arguments {
        for option in options {
            let sets = if let Some(long) = option.strip_prefix("--") {
                argument.strip_prefix("--").is_some_and(|given| {
                    let name = given.split('=').next().unwrap_or(given);
                    !name.is_empty() && long.starts_with(name)
                })
            } else if option.len() == 2 {
                let letter = &option[1..];
                argument.starts_with('-')
                    && !argument.starts_with("--")
                    && argument[1..].contains(letter)
            } else {
                argument == option
            };
            if sets {
                return Err(format!(
                    "`{program} {option}` can write files or run programs"
                ));
            }
        }
    }
    Ok(())
}

/// `sed -n` printing line ranges (`sed -n 10,20p file`) is read-only; anything else may edit.
fn check_sed(arguments: &[&str]) -> Check {
    let refuse = || Err("`sed` is read-only only as `sed -n <lines>p [file…]`".to_owned());
    let [first, script, _files @ ..] = arguments else {
        return refuse();
    };
    if *first != "-n" {
        return refuse();
    }
    let Some(range) = script.strip_suffix('p') else {
        return refuse();
    };
    let is_number = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    let valid = match range.split_once(',') {
        Some((from, to)) => is_number(from) && (is_number(to) || to == "$"),
        None => is_number(range) || range == "$",
    };
    if valid { Ok(()) } else { refuse() }
}

/// `git status`, `diff`, `log`, `show` and a few more listing subcommands are read-only,
/// unless an option writes a file or runs a program.
fn check_git(arguments: &[&str]) -> Check {
    let Some((&subcommand, rest)) = arguments.split_first() else {
        return Err("`git` without a subcommand".to_owned());
    };
    if subcommand.starts_with('-') {
        return Err(
            "`git` with global options (such as `-c`) can run configured programs".to_owned(),
        );
    }
    match subcommand {
        "status" | "diff" | "log" | "show" | "blame" | "ls-files" | "rev-parse" | "shortlog"
        | "describe" | "grep" | "cat-file" | "ls-tree" | "merge-base" => refuse_options(
            "git",
            rest,
            &[
                "--output",
                "--ext-diff",
                "--textconv",
                "-O",
                "--open-files-in-pager",
            ],
        ),
        "branch" | "tag" | "remote" => {
            // Only the listing forms: a word that is not one of these options would name a
            // branch, tag or remote to create.
            let listing = rest.iter().all(|argument| {
                matches!(
                    *argument,
                    "-a" | "--all"
                        | "-r"
                        | "--remotes"
                        | "-v"
                        | "-vv"
                        | "--verbose"
                        | "-l"
                        | "--list"
                        | "--show-current"
                )
            });
            if listing {
                Ok(())
            } else {
                Err(format!(
                    "`git {subcommand}` with these arguments can change the repository"
                ))
            }
        }
        "stash" if rest == ["list"] => Ok(()),
        _ => Err(format!(
            "`git {subcommand}` is not a known read-only git command"
        )),
    }
}
