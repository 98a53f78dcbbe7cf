//! The session commands: exec, resume, shell, snapshot, undo and sessions.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use turnkit::tasks_ghost_snapshot::git_snapshot::{Repository, UndoAction, plan_undo};
use turnkit::{
    ApprovalPolicy, CancellationToken, EventMsg, ExecCommandEnd, Op, ReviewRequest, ReviewTarget,
    SessionBuilder, TaskKind, UserInput,
};

use crate::args::{
    CommonArgs, CompactArgs, ExecArgs, ResumeArgs, ReviewArgs, SessionsArgs, ShellArgs, UndoArgs,
};
use crate::drive::{Approvals, Driver, Outcome, Signals};
use crate::render::{BOLD, DIM, GREEN, Output, YELLOW, shell_words};
use crate::{Usage, mcp_config, model, store};
use turnkit::mcp::client::McpServerConfig;

/// The directory a command works in: `--cd DIR` or the current one, made absolute.
fn work_dir(cd: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match cd {
        Some(dir) => dir.to_owned(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    dir.canonicalize().map_err(|error| {
        anyhow::Error::new(Usage).context(format!(
            "cannot use {} as the working directory: {error}",
            dir.display()
        ))
    })
}

/// The prompt from the arguments, else from stdin (never a hidden prompt on a terminal).
fn prompt(words: &[String]) -> anyhow::Result<String> {
    if !words.is_empty() {
        return Ok(words.join(" "));
    }
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(anyhow::Error::new(Usage).context(
            "no prompt: give it as an argument (`turnkit exec \"fix the tests\"`) or pipe it on stdin",
        ));
    }
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .context("cannot read the prompt from stdin")?;
    if text.trim().is_empty() {
        return Err(anyhow::Error::new(Usage).context("the prompt on stdin is empty"));
    }
    Ok(text)
}

/// A new stored session in `cwd`: its builder and its id.
fn new_session(cwd: &Path, policy: ApprovalPolicy) -> anyhow::Result<(SessionBuilder, String)> {
    let dir = store::sessions_dir()?;
    let id = store::fresh_id();
    let builder = crate::session_builder()
        .session_id(id.clone())
        .cwd(cwd)
        .approval_policy(policy)
        .rollout(store::rollout_path(&dir, &id));
    Ok((builder, id))
}

/// Builds the session and its driver; `stored` is the id to tell the person, if any.
fn start(builder: SessionBuilder, json: bool, stored: Option<&str>) -> anyhow::Result<Driver> {
    // Installed before anything can spawn a child, so Ctrl-C always reaches the driver.
    start_with_signals(builder, json, stored, Signals::install()?)
}

/// [`start`] with the signal handlers already installed.
fn start_with_signals(
    builder: SessionBuilder,
    json: bool,
    stored: Option<&str>,
    signals: Signals,
) -> anyhow::Result<Driver> {
    let session = builder.build().context("cannot start the session")?;
    // The session's own: a resume given no `--approval-policy` runs under the recorded one.
    let policy = session.approval_policy();
    let mut output = Output::new(json);
    if let Some(id) = stored {
        output.note(&format!(
            "session {id} (continue it with `turnkit resume {id}`)"
        ));
    }
    Ok(Driver::new(
        session,
        output,
        Approvals::for_terminal(json),
        policy,
        signals,
    ))
}

/// What a turn's command needs besides its session: how to print, which stored session to
/// name, and the prompt.
struct TurnArgs<'a> {
    json: bool,
    id: &'a str,
    text: String,
}

/// Connects the MCP servers, then runs one turn. The signal handlers are installed first,
/// so a Ctrl-C, SIGTERM or SIGHUP while the servers start kills every server process
/// started so far (dropping the connection attempt does) and ends the command as it would
/// end a turn.
async fn connect_and_run_turn(
    builder: SessionBuilder,
    servers: Vec<McpServerConfig>,
    cwd: &Path,
    model: model::Model,
    turn: TurnArgs<'_>,
) -> anyhow::Result<Outcome> {
    let mut signals = Signals::install()?;
    let builder = tokio::select! {
        builder = mcp_config::connect(builder, servers, cwd) => builder,
        outcome = signals.before_session() => {
            eprintln!("turnkit: stopped while the MCP servers were starting; none was left running");
            return Ok(outcome);
        }
    };
    let mut driver = start_with_signals(model.install(builder), turn.json, Some(turn.id), signals)?;
    driver
        .run(Op::UserInput {
            items: vec![UserInput::text(turn.text)],
        })
        .await
}

/// `turnkit exec`.
pub(crate) async fn exec(args: ExecArgs) -> anyhow::Result<Outcome> {
    let cwd = work_dir(args.common.cd.as_deref())?;
    let model = model::Model::from_args(&args.model)?;
    let text = prompt(args.prompt.as_slice())?;
    let policy = args.approval_policy.into();
    let servers = mcp_config::configured_servers(&cwd, &args.mcp.mcp_servers)?;
    let (builder, id) = new_session(&cwd, policy)?;
    let builder = builder.sandbox_policy(args.sandbox.into());
    let turn = TurnArgs {
        json: args.common.json,
        id: &id,
        text,
    };
    connect_and_run_turn(builder, servers, &cwd, model, turn).await
}

/// `turnkit resume`.
pub(crate) async fn resume(args: ResumeArgs) -> anyhow::Result<Outcome> {
    let dir = store::sessions_dir()?;
    let (id, words) = if args.last {
        (None, args.words.as_slice())
    } else {
        let (id, words) = args
            .words
            .split_first()
            .context("give a session id or --last")?;
        (Some(id.as_str()), words)
    };
    let stored = store::find(&dir, id)?;
    let model = model::Model::from_args(&args.model)?;
    let text = prompt(words)?;
    let servers = mcp_config::configured_servers(&stored.cwd, &args.mcp.mcp_servers)?;
    // A flag left out keeps the policy the session recorded.
    let mut builder = crate::session_builder()
        .cwd(&stored.cwd)
        .resume(&stored.path);
    if let Some(policy) = args.approval_policy {
        builder = builder.approval_policy(policy.into());
    }
    if let Some(sandbox) = args.sandbox {
        builder = builder.sandbox_policy(sandbox.into());
    }
    let turn = TurnArgs {
        json: args.json,
        id: &stored.id,
        text,
    };
    connect_and_run_turn(builder, servers, &stored.cwd, model, turn).await
}

/// `turnkit shell`: exits with the command's own code.
pub(crate) async fn shell(args: ShellArgs) -> anyhow::Result<u8> {
    let cwd = work_dir(args.common.cd.as_deref())?;
    let (builder, id) = new_session(&cwd, ApprovalPolicy::default())?;
    let mut driver = start(builder, args.common.json, Some(&id))?;
    let mut end: Option<ExecCommandEnd> = None;
    let outcome = driver
        .run_with(
            Op::RunUserShellCommand {
                command: shell_command(&args.command),
            },
            |event, _| {
                if let EventMsg::ExecCommandEnd(done) = &event.msg {
                    end = Some(done.clone());
                }
                None
            },
        )
        .await?;
    Ok(match (outcome, end) {
        (Outcome::Completed, Some(end)) => match (end.exit_code, end.signal) {
            (Some(code), _) => u8::try_from(code).unwrap_or(1),
            (None, Some(signal)) => 128_u8.saturating_add(signal as u8),
            (None, None) => 1,
        },
        (outcome, _) => outcome.exit_code(),
    })
}

/// One word is a shell script as typed (`turnkit shell -- 'ls | wc -l'`); several are a
/// program and its arguments, quoted so the shell passes them through unchanged.
fn shell_command(words: &[String]) -> String {
    match words {
        [script] => script.clone(),
        words => shell_words(words),
    }
}

/// `turnkit snapshot`.
pub(crate) async fn snapshot(args: CommonArgs) -> anyhow::Result<Outcome> {
    let cwd = work_dir(args.cd.as_deref())?;
    let (builder, id) = new_session(&cwd, ApprovalPolicy::default())?;
    let mut driver = start(builder, args.json, Some(&id))?;
    driver
        .run(Op::Custom {
            name: TaskKind::GHOST_SNAPSHOT.to_string(),
            payload: serde_json::Value::Null,
        })
        .await
}

/// `turnkit undo`: reverts the last turn of this directory's newest session.
pub(crate) async fn undo(args: UndoArgs) -> anyhow::Result<Outcome> {
    let cwd = work_dir(args.common.cd.as_deref())?;
    let dir = store::sessions_dir()?;
    let stored = store::latest_in(&dir, &cwd)?.with_context(|| {
        format!(
            "no stored session works in {}; nothing to undo",
            cwd.display()
        )
    })?;
    if args.dry_run {
        return undo_plan(&stored.path, &cwd, args.common.json).await;
    }
    let builder = crate::session_builder()
        .cwd(&stored.cwd)
        .resume(&stored.path);
    let mut driver = start(builder, args.common.json, None)?;
    driver.run(Op::Undo).await
}

/// Prints what an undo would do, reading the rollout and the repository only.
async fn undo_plan(rollout: &Path, cwd: &Path, json: bool) -> anyhow::Result<Outcome> {
    let history = store::history(rollout)?;
    let Some(turn) = turnkit::tasks_undo::find_undoable_turn(&history)
        .context("cannot read the session's snapshots")?
    else {
        if json {
            println!(
                "{}",
                serde_json::json!({ "restored": [], "deleted": [], "conflicts": [], "already_undone": [] })
            );
        } else {
            println!("nothing to undo: the session's turns changed no files (or were undone)");
        }
        return Ok(Outcome::Completed);
    };
    let repo = Repository::open(cwd)
        .await
        .context("cannot open the git repository")?;
    let plan = plan_undo(&repo, &turn.before, &turn.after, &CancellationToken::new())
        .await
        .context("cannot work out the undo")?;
    let (mut restored, mut deleted) = (Vec::new(), Vec::new());
    for step in &plan.steps {
        match step.action {
            UndoAction::Restore { .. } => restored.push(step.path.display().to_string()),
            UndoAction::Delete => deleted.push(step.path.display().to_string()),
        }
    }
    let conflicts: Vec<String> = plan
        .conflicts
        .iter()
        .map(|conflict| format!("{} ({:?})", conflict.path.display(), conflict.reason))
        .collect();
    if json {
        let already: Vec<String> = plan
            .already_undone
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        println!(
            "{}",
            serde_json::json!({ "turn_id": turn.turn_id, "restored": restored, "deleted": deleted, "conflicts": conflicts, "already_undone": already })
        );
    } else {
        let mut out = anstream::stdout();
        let _ = writeln!(
            out,
            "{BOLD}undo plan{BOLD:#} for turn {} (dry run: nothing changed)",
            turn.turn_id
        );
        for path in &restored {
            let _ = writeln!(out, "  {GREEN}restore{GREEN:#}  {path}");
        }
        for path in &deleted {
            let _ = writeln!(out, "  {GREEN}delete{GREEN:#}   {path}");
        }
        for conflict in &conflicts {
            let _ = writeln!(out, "  {YELLOW}conflict{YELLOW:#} {conflict}, left alone");
        }
        for path in &plan.already_undone {
            let _ = writeln!(out, "  {DIM}already undone {}{DIM:#}", path.display());
        }
    }
    Ok(Outcome::Completed)
}

/// `turnkit review`: a review of the chosen change in a session of its own.
pub(crate) async fn review(args: ReviewArgs) -> anyhow::Result<Outcome> {
    let cwd = work_dir(args.common.cd.as_deref())?;
    let model = model::Model::from_args(&args.model)?;
    let (target, hint) = match (args.base, args.commit, args.prompt) {
        (Some(branch), _, _) => (
            ReviewTarget::BaseBranch {
                branch: branch.clone(),
            },
            format!("changes against {branch}"),
        ),
        (_, Some(sha), _) => (
            ReviewTarget::Commit {
                sha: sha.clone(),
                title: None,
            },
            format!("commit {sha}"),
        ),
        (_, _, Some(instructions)) => (
            ReviewTarget::Custom {
                instructions: instructions.clone(),
            },
            instructions,
        ),
        _ => (
            ReviewTarget::UncommittedChanges,
            "uncommitted changes".to_owned(),
        ),
    };
    let policy = ApprovalPolicy::Untrusted;
    let (builder, id) = new_session(&cwd, policy)?;
    let mut driver = start(model.install(builder), args.common.json, Some(&id))?;
    driver
        .run(Op::Review {
            request: ReviewRequest {
                target,
                prompt: String::new(),
                user_facing_hint: hint,
            },
        })
        .await
}

/// `turnkit compact`: compacts this directory's newest session.
pub(crate) async fn compact(args: CompactArgs) -> anyhow::Result<Outcome> {
    let cwd = work_dir(args.common.cd.as_deref())?;
    let model = model::Model::from_args(&args.model)?;
    let dir = store::sessions_dir()?;
    let stored = store::latest_in(&dir, &cwd)?.with_context(|| {
        format!(
            "no stored session works in {}; nothing to compact",
            cwd.display()
        )
    })?;
    let builder = crate::session_builder()
        .cwd(&stored.cwd)
        .resume(&stored.path);
    let builder = model.install(builder);
    let mut driver = start(builder, args.common.json, None)?;
    driver.run(Op::Compact).await
}

/// `turnkit sessions`.
pub(crate) fn sessions(args: &SessionsArgs) -> anyhow::Result<()> {
    let dir = store::sessions_dir()?;
    let sessions = store::list(&dir)?;
    let mut out = anstream::stdout();
    if args.json {
        for session in &sessions {
            let line = serde_json::json!({
                "id": session.id,
                "cwd": session.cwd,
                "started": store::format_time(session.started),
                "last_message": session.last_message,
                "rollout": session.path,
            });
            let _ = writeln!(out, "{line}");
        }
        return Ok(());
    }
    if sessions.is_empty() {
        let _ = writeln!(
            out,
            "no sessions yet in {}; start one with `turnkit exec PROMPT`",
            dir.display()
        );
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{BOLD}{:<18} {:<17} {:<30} last message{BOLD:#}",
        "id", "started (UTC)", "directory"
    );
    for session in &sessions {
        let message = session
            .last_message
            .as_deref()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("");
        let message: String = message.chars().take(60).collect();
        let _ = writeln!(
            out,
            "{:<18} {:<17} {:<30} {message}",
            session.id,
            store::format_time(session.started),
            session.cwd.display(),
        );
    }
    Ok(())
}
