//! `turnkit demo`: a guided, offline run of every task kind in a fresh temporary repository.
//!
//! One session, a scripted model whose answers are pushed step by step, and the same output
//! as `exec`. Approvals are answered automatically and shown. Each step checks what it did
//! (files edited, restored, a process interrupted) and the run ends with a table of outcomes.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;
use turnkit::model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit::tasks_regular::{DEFAULT_MAX_PARALLEL_SUBAGENTS, SubagentTool};
use turnkit::{
    ApprovalPolicy, EventMsg, Op, ReviewDecision, ReviewRequest, SessionBuilder, TaskKind,
    UserInput,
};

use crate::args::DemoArgs;
use crate::drive::{Approvals, Driver, Outcome, Signals};
use crate::render::{BOLD, DIM, GREEN, Output, RED, YELLOW};

const GREETING: &str = "def greet(name):\n    return \"Hello, \" + name\n";
const README: &str = "# greeter\n\nSays hello.\n";

/// How one step ended.
#[derive(Clone, Debug)]
enum StepResult {
    /// It did what the step shows.
    Ok(String),
    /// It did not.
    Failed(String),
    /// This build lacks the task kind.
    NotBuilt,
}

struct Row {
    kind: TaskKind,
    what: &'static str,
    result: StepResult,
}

struct Demo {
    driver: Driver,
    model: ScriptedModel,
    repo: std::path::PathBuf,
    builder_kinds: Vec<TaskKind>,
    rows: Vec<Row>,
    json: bool,
}

/// Runs the demo: exit 0 when every step succeeded.
pub(crate) async fn demo(args: DemoArgs) -> anyhow::Result<Outcome> {
    let temp = tempfile::Builder::new()
        .prefix("turnkit-demo-")
        .tempdir()
        .context("cannot create a temporary directory for the demo")?;
    let repo = temp.path().join("greeter");
    make_repo(&repo)?;
    let model = ScriptedModel::new([]);
    let builder = crate::session_builder()
        .cwd(&repo)
        .approval_policy(ApprovalPolicy::Untrusted)
        .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
        .tool(SubagentTool::new(DEFAULT_MAX_PARALLEL_SUBAGENTS));
    let builder_kinds = available_kinds(&builder);
    let session = builder.build().context("cannot start the demo session")?;
    let mut output = Output::new(args.json);
    output.note(&format!(
        "turnkit demo: a scripted model (no network) in a fresh git repository at {}",
        repo.display()
    ));
    let driver = Driver::new(
        session,
        output,
        Approvals::Automatic(ReviewDecision::Approved),
        ApprovalPolicy::Untrusted,
        Signals::install()?,
    );
    let mut demo = Demo {
        driver,
        model,
        repo,
        builder_kinds,
        rows: Vec::new(),
        json: args.json,
    };
    demo.snapshot().await?;
    demo.agent_turn().await?;
    demo.user_shell().await?;
    demo.subagent().await?;
    demo.review().await?;
    demo.undo().await?;
    demo.compact().await?;
    demo.interrupt().await?;
    Ok(demo.table())
}

fn available_kinds(builder: &SessionBuilder) -> Vec<TaskKind> {
    [
        TaskKind::GHOST_SNAPSHOT,
        TaskKind::REGULAR,
        TaskKind::USER_SHELL,
        TaskKind::REVIEW,
        TaskKind::UNDO,
        TaskKind::COMPACT,
    ]
    .into_iter()
    .filter(|kind| builder.has_task(kind))
    .collect()
}

fn make_repo(repo: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(repo)?;
    std::fs::write(repo.join("greet.py"), GREETING)?;
    std::fs::write(repo.join("README.md"), README)?;
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "a greeter"],
    ] {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=turnkit demo",
                "-c",
                "user.email=demo@turnkit.invalid",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(repo)
            .status()
            .context("cannot run git; the demo needs git on PATH")?;
        anyhow::ensure!(
            status.success(),
            "git {} failed in the demo repository",
            args.join(" ")
        );
    }
    Ok(())
}

impl Demo {
    fn heading(&mut self, text: &str) {
        let line = format!("\n{BOLD}── {text}{BOLD:#}");
        self.driver.output.note_plain(&line);
    }

    fn has(&self, kind: &TaskKind) -> bool {
        self.builder_kinds.contains(kind)
    }

    fn record(&mut self, kind: TaskKind, what: &'static str, result: StepResult) {
        self.rows.push(Row { kind, what, result });
    }

    fn file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.repo.join(name)).ok()
    }

    async fn input(&mut self, text: &str) -> anyhow::Result<Outcome> {
        self.driver
            .run(Op::UserInput {
                items: vec![UserInput::text(text)],
            })
            .await
    }

    /// A step that is one op and succeeds when its task completes.
    async fn simple(
        &mut self,
        kind: TaskKind,
        what: &'static str,
        heading: &str,
        op: Op,
        done: &str,
    ) -> anyhow::Result<()> {
        if !self.has(&kind) {
            self.record(kind, what, StepResult::NotBuilt);
            return Ok(());
        }
        self.heading(heading);
        let result = match self.driver.run(op).await? {
            Outcome::Completed => StepResult::Ok(done.to_owned()),
            other => StepResult::Failed(format!("{other:?}")),
        };
        self.record(kind, what, result);
        Ok(())
    }

    async fn snapshot(&mut self) -> anyhow::Result<()> {
        let op = Op::Custom {
            name: TaskKind::GHOST_SNAPSHOT.to_string(),
            payload: serde_json::Value::Null,
        };
        self.simple(
            TaskKind::GHOST_SNAPSHOT,
            "snapshot before the edit",
            "1. a ghost snapshot of the working tree, before anything changes",
            op,
            "snapshot taken; HEAD and index untouched",
        )
        .await
    }

    async fn agent_turn(&mut self) -> anyhow::Result<()> {
        let kind = TaskKind::REGULAR;
        if !self.has(&kind) {
            self.record(kind, "read, patch, run a command", StepResult::NotBuilt);
            return Ok(());
        }
        self.heading(
            "2. an agent turn: read files, edit with apply_patch, run a command (approval asked)",
        );
        let patch = "*** Begin Patch\n*** Update File: greet.py\n@@\n-def greet(name):\n-    return \"Hello, \" + name\n+def greet(name):\n+    return f\"Hello, {name}!\"\n*** End Patch\n";
        self.model.push_turn(
            ScriptedTurn::new()
                .function_call(
                    "plan-1",
                    "update_plan",
                    json!({ "plan": [
                        { "step": "read greet.py", "status": "in_progress" },
                        { "step": "use an f-string", "status": "pending" },
                        { "step": "note it in the changelog", "status": "pending" }
                    ]}),
                )
                .function_call("read-1", "shell", json!({ "command": ["cat", "greet.py"] })),
        );
        self.model.push_turn(ScriptedTurn::new().function_call(
            "patch-1",
            "apply_patch",
            json!({ "input": patch }),
        ));
        self.model.push_turn(ScriptedTurn::new().function_call(
            "write-1",
            "shell",
            json!({ "command": ["sh", "-c", "echo '- greet uses an f-string' > CHANGES.md"] }),
        ));
        self.model.push_turn(ScriptedTurn::new().message_in_deltas([
            "greet.py now uses ",
            "an f-string, and ",
            "CHANGES.md says so.",
        ]));
        let outcome = self
            .input("Make greet() use an f-string and note it in CHANGES.md.")
            .await?;
        let edited = self
            .file("greet.py")
            .is_some_and(|text| text.contains("f\"Hello, {name}!\""));
        let noted = self.file("CHANGES.md").is_some();
        let result = match (outcome, edited, noted) {
            (Outcome::Completed, true, true) => {
                StepResult::Ok("greet.py patched, CHANGES.md written (approved)".into())
            }
            (outcome, edited, noted) => StepResult::Failed(format!(
                "{outcome:?}, patched: {edited}, command ran: {noted}"
            )),
        };
        self.record(kind, "read, patch, run a command", result);
        Ok(())
    }

    async fn user_shell(&mut self) -> anyhow::Result<()> {
        let op = Op::RunUserShellCommand {
            command: "git status --short".into(),
        };
        self.simple(
            TaskKind::USER_SHELL,
            "your own command",
            "3. your own shell command, streamed",
            op,
            "`git status --short` ran",
        )
        .await
    }

    async fn subagent(&mut self) -> anyhow::Result<()> {
        let kind = TaskKind::REGULAR;
        if !self.has(&kind) {
            self.record(
                TaskKind::new("subagent"),
                "a turn in a child session",
                StepResult::NotBuilt,
            );
            return Ok(());
        }
        self.heading("4. a subagent: the turn hands a task to a child session");
        self.model.push_turn(ScriptedTurn::new().function_call(
            "sub-1",
            "subagent",
            json!({ "task": "List the files of the project and say how many there are." }),
        ));
        self.model.push_turn(ScriptedTurn::new().function_call(
            "ls-1",
            "shell",
            json!({ "command": ["ls"] }),
        ));
        self.model.push_turn(
            ScriptedTurn::new().message("There are 3 files: CHANGES.md, README.md, greet.py."),
        );
        self.model
            .push_turn(ScriptedTurn::new().message("The helper counted 3 files."));
        let mut child_seen = false;
        let outcome = self
            .driver
            .run_with(
                Op::UserInput {
                    items: vec![UserInput::text("Ask a helper how many files there are.")],
                },
                |event, _| {
                    if matches!(event.msg, EventMsg::SubSessionEnded { .. }) {
                        child_seen = true;
                    }
                    None
                },
            )
            .await?;
        let result = match (outcome, child_seen) {
            (Outcome::Completed, true) => {
                StepResult::Ok("a child session ran `ls` and answered".into())
            }
            (outcome, seen) => {
                StepResult::Failed(format!("{outcome:?}, child session seen: {seen}"))
            }
        };
        self.record(
            TaskKind::new("subagent"),
            "a turn in a child session",
            result,
        );
        Ok(())
    }

    async fn review(&mut self) -> anyhow::Result<()> {
        if self.has(&TaskKind::REVIEW) {
            // The review's child runs a read-only command, one that is not (so it asks the
            // person at the root, with its origin), then answers with the rubric's JSON.
            self.model.push_turn(ScriptedTurn::new().function_call(
                "diff-1",
                "shell",
                json!({ "command": ["git", "diff", "--stat"] }),
            ));
            self.model.push_turn(ScriptedTurn::new().function_call(
                "version-1",
                "shell",
                json!({ "command": ["cargo", "--version"] }),
            ));
            self.model.push_turn(ScriptedTurn::new().message(
                json!({
                    "findings": [{
                        "title": "greet() changed its output",
                        "body": "Callers that compare the greeting now see an exclamation mark.",
                        "priority": 2,
                        "confidence": 0.6,
                        "location": { "path": "greet.py", "start_line": 2, "end_line": 2 }
                    }],
                    "overall_correctness": "correct",
                    "overall_explanation": "A small, safe change.",
                    "overall_confidence": 0.8
                })
                .to_string(),
            ));
        }
        let request: ReviewRequest = serde_json::from_value(json!({
            "prompt": "Review the uncommitted changes.",
            "user_facing_hint": "uncommitted changes"
        }))
        .context("the demo's review request")?;
        let kind = TaskKind::REVIEW;
        if !self.has(&kind) {
            self.record(kind, "review of the change", StepResult::NotBuilt);
            return Ok(());
        }
        self.heading("5. a review of the change, in a child session whose command asks you");
        let mut asked_by_child = false;
        let outcome = self
            .driver
            .run_with(Op::Review { request }, |event, _| {
                if let EventMsg::ApprovalRequested {
                    origin: Some(_), ..
                } = &event.msg
                {
                    asked_by_child = true;
                }
                None
            })
            .await?;
        let result = match (outcome, asked_by_child) {
            (Outcome::Completed, true) => {
                StepResult::Ok("findings listed; the child's approval reached you".into())
            }
            (outcome, asked) => StepResult::Failed(format!("{outcome:?}, child asked: {asked}")),
        };
        self.record(kind, "review of the change", result);
        Ok(())
    }

    async fn undo(&mut self) -> anyhow::Result<()> {
        let kind = TaskKind::UNDO;
        if !self.has(&kind) || !self.has(&TaskKind::REGULAR) {
            self.record(kind, "undo the agent's edit", StepResult::NotBuilt);
            return Ok(());
        }
        self.heading("6. undo: the agent's edits are reverted from the ghost snapshots");
        let outcome = self.driver.run(Op::Undo).await?;
        let restored = self.file("greet.py").as_deref() == Some(GREETING);
        let deleted = self.file("CHANGES.md").is_none();
        let result = match (outcome, restored, deleted) {
            (Outcome::Completed, true, true) => {
                StepResult::Ok("greet.py restored, CHANGES.md deleted".into())
            }
            (outcome, restored, deleted) => StepResult::Failed(format!(
                "{outcome:?}, restored: {restored}, deleted: {deleted}"
            )),
        };
        self.record(kind, "undo the agent's edit", result);
        Ok(())
    }

    async fn compact(&mut self) -> anyhow::Result<()> {
        if self.has(&TaskKind::COMPACT) {
            self.model.push_turn(ScriptedTurn::new().message(
                "Goal: make greet() use an f-string and log it. Progress: done, then undone on request. Files: greet.py, CHANGES.md. Next: nothing pending.",
            ));
        }
        self.simple(
            TaskKind::COMPACT,
            "compact the history",
            "7. compaction: the history is summarised by a child session",
            Op::Compact,
            "history compacted",
        )
        .await
    }

    async fn interrupt(&mut self) -> anyhow::Result<()> {
        let kind = TaskKind::new("interrupt");
        if !self.has(&TaskKind::USER_SHELL) {
            self.record(kind, "stop a running command", StepResult::NotBuilt);
            return Ok(());
        }
        self.heading("8. an interrupt in the middle of a command: the process tree is killed");
        let outcome = self
            .driver
            .run_with(
                Op::RunUserShellCommand {
                    command: "echo working; sleep 30".into(),
                },
                |event, session| {
                    if matches!(event.msg, EventMsg::ExecCommandOutputDelta { .. }) {
                        let _ = session.submit(Op::Interrupt);
                    }
                    None
                },
            )
            .await?;
        let result = match outcome {
            Outcome::Interrupted => StepResult::Ok("`sleep 30` killed, turn_aborted".into()),
            other => StepResult::Failed(format!("{other:?}")),
        };
        self.record(kind, "stop a running command", result);
        Ok(())
    }

    fn table(self) -> Outcome {
        // The table is the demo's result, so it goes where results go: stdout, unless stdout
        // carries JSON lines.
        let mut out: Box<dyn Write> = if self.json {
            Box::new(anstream::stderr())
        } else {
            Box::new(anstream::stdout())
        };
        let _ = writeln!(
            out,
            "\n{BOLD}{:<16} {:<30} outcome{BOLD:#}",
            "task kind", "step"
        );
        let mut all_ok = true;
        let mut missing = Vec::new();
        for row in &self.rows {
            let outcome = match &row.result {
                StepResult::Ok(detail) => format!("{GREEN}ok{GREEN:#}      {DIM}{detail}{DIM:#}"),
                StepResult::Failed(detail) => {
                    all_ok = false;
                    format!("{RED}failed{RED:#}  {detail}")
                }
                StepResult::NotBuilt => {
                    missing.push(row.kind.to_string());
                    format!("{YELLOW}not built{YELLOW:#} (this build lacks the kind)")
                }
            };
            let _ = writeln!(
                out,
                "{:<16} {:<30} {outcome}",
                row.kind.to_string(),
                row.what
            );
        }
        if !missing.is_empty() {
            let _ = writeln!(
                out,
                "{YELLOW}not in this build: {}{YELLOW:#}",
                missing.join(", ")
            );
        }
        if all_ok {
            Outcome::Completed
        } else {
            Outcome::Failed
        }
    }
}
