//! How events look: one JSON line each (`--json`), or a human view with colours on a terminal.
//!
//! The human view renders the typed events it knows and reads any other event from its JSON
//! form by its `type`, so an event kind added to the protocol later still prints sensibly.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use turnkit::{ApprovalOrigin, ApprovalRequest, ApprovalSubject, Event, EventMsg, ExecStream};

pub(crate) const BOLD: Style = Style::new().bold();
pub(crate) const DIM: Style = Style::new().dimmed();
pub(crate) const CYAN: Style = AnsiColor::Cyan.on_default().bold();
pub(crate) const GREEN: Style = AnsiColor::Green.on_default();
pub(crate) const RED: Style = AnsiColor::Red.on_default();
pub(crate) const YELLOW: Style = AnsiColor::Yellow.on_default();
pub(crate) const MAGENTA: Style = AnsiColor::Magenta.on_default().bold();

/// Where events go.
pub(crate) enum Output {
    /// One `Event` per line on stdout.
    Json,
    /// The human view.
    Human(Human),
}

impl Output {
    /// The output for `--json` or not.
    pub(crate) fn new(json: bool) -> Self {
        if json {
            Output::Json
        } else {
            Output::Human(Human::new())
        }
    }

    /// Shows one event.
    pub(crate) fn event(&mut self, event: &Event) {
        match self {
            Output::Json => {
                let mut stdout = std::io::stdout().lock();
                // A closed stdout (a pipe whose reader left) must not panic the turn; the
                // session still ends cleanly and the exit code still says how.
                if let Ok(line) = serde_json::to_string(event) {
                    let _ = writeln!(stdout, "{line}");
                    let _ = stdout.flush();
                }
            }
            Output::Human(human) => human.event(event),
        }
    }

    /// A remark for the person, never on stdout in JSON mode.
    pub(crate) fn note(&mut self, text: &str) {
        match self {
            Output::Json => eprintln!("turnkit: {text}"),
            Output::Human(human) => human.line(&format!("{YELLOW}{text}{YELLOW:#}")),
        }
    }

    /// A line for the person without the warning colour: on stdout in the human view, on
    /// stderr with `--json`.
    pub(crate) fn note_plain(&mut self, text: &str) {
        match self {
            Output::Json => {
                let _ = writeln!(anstream::stderr(), "{text}");
            }
            Output::Human(human) => human.line(text),
        }
    }

    /// Stops the spinner, if any.
    pub(crate) fn finish(&mut self) {
        if let Output::Human(human) = self {
            human.stop_spinner();
        }
    }
}

/// The human view: assistant text as it streams, commands with their output, patches,
/// plans, approvals, and a spinner with the elapsed time while a task works.
pub(crate) struct Human {
    spinner: Option<ProgressBar>,
    /// Text deltas were printed without their closing newline yet.
    streaming: bool,
}

impl Human {
    fn new() -> Self {
        Human {
            spinner: None,
            streaming: false,
        }
    }

    fn write(&mut self, text: &str) {
        let write = || {
            let mut stdout = anstream::stdout();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        };
        match &self.spinner {
            Some(spinner) => spinner.suspend(write),
            None => write(),
        }
    }

    fn line(&mut self, text: &str) {
        if self.streaming {
            self.streaming = false;
            self.write("\n");
        }
        self.write(&format!("{text}\n"));
    }

    fn start_spinner(&mut self, label: &str) {
        self.stop_spinner();
        let spinner = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}") {
            spinner.set_style(style);
        }
        spinner.set_message(label.to_owned());
        // indicatif draws only when stderr is a terminal, so a pipe or a file gets no spinner.
        spinner.enable_steady_tick(Duration::from_millis(100));
        self.spinner = Some(spinner);
    }

    fn stop_spinner(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }

    fn event(&mut self, event: &Event) {
        self.message(&event.msg, "", true);
    }

    #[allow(clippy::too_many_lines)]
    fn message(&mut self, msg: &EventMsg, prefix: &str, root: bool) {
        match msg {
            EventMsg::TaskStarted { kind } => {
                if root {
                    self.start_spinner(&format!("{kind}"));
                } else {
                    self.line(&format!("{prefix}{DIM}{kind} started{DIM:#}"));
                }
            }
            EventMsg::TaskComplete { .. } => {
                if root {
                    self.stop_spinner();
                }
                self.line(&format!("{prefix}{GREEN}✓ done{GREEN:#}"));
            }
            EventMsg::TurnAborted { reason } => {
                if root {
                    self.stop_spinner();
                }
                let reason = wire_name(reason);
                self.line(&format!(
                    "{prefix}{YELLOW}■ turn aborted ({reason}){YELLOW:#}"
                ));
            }
            EventMsg::Error { message } => {
                self.line(&format!("{prefix}{RED}error:{RED:#} {message}"));
            }
            EventMsg::Warning { message } => {
                self.line(&format!("{prefix}{YELLOW}warning:{YELLOW:#} {message}"));
            }
            EventMsg::BackgroundEvent { message } => {
                self.line(&format!("{prefix}{DIM}{message}{DIM:#}"));
            }
            EventMsg::StreamError { message } => {
                self.line(&format!("{prefix}{YELLOW}{message}{YELLOW:#}"));
            }
            EventMsg::AgentMessageDelta { delta } => {
                if !self.streaming {
                    self.write(prefix);
                }
                self.streaming = true;
                self.write(delta);
            }
            EventMsg::AgentMessage { message } => {
                if self.streaming {
                    self.streaming = false;
                    self.write("\n");
                } else {
                    self.line(&format!("{prefix}{message}"));
                }
            }
            EventMsg::AgentReasoningDelta { .. } => {}
            EventMsg::ApprovalRequested {
                request, origin, ..
            } => {
                self.line(&approval_text(request, origin.as_ref()));
            }
            EventMsg::ExecCommandBegin {
                command, source, ..
            } => {
                let source = wire_name(source);
                self.line(&format!(
                    "{prefix}{CYAN}$ {}{CYAN:#} {DIM}({source}){DIM:#}",
                    shell_words(command)
                ));
            }
            EventMsg::ExecCommandOutputDelta { stream, chunk, .. } => {
                let text = String::from_utf8_lossy(chunk);
                match stream {
                    ExecStream::Stdout => self.write(&format!("{DIM}{text}{DIM:#}")),
                    ExecStream::Stderr => self.write(&format!("{RED}{text}{RED:#}")),
                }
            }
            EventMsg::ExecCommandEnd(end) => {
                let status = match (end.exit_code, end.signal) {
                    (Some(0), _) => format!("{GREEN}exit 0{GREEN:#}"),
                    (Some(code), _) => format!("{RED}exit {code}{RED:#}"),
                    (None, Some(signal)) => format!("{YELLOW}killed by signal {signal}{YELLOW:#}"),
                    (None, None) => format!("{YELLOW}stopped{YELLOW:#}"),
                };
                self.line(&format!(
                    "{prefix}{status} {DIM}in {} ms{DIM:#}",
                    end.duration_ms
                ));
            }
            EventMsg::McpToolCallBegin {
                server,
                tool,
                arguments,
                ..
            } => {
                self.line(&format!(
                    "{prefix}{CYAN}mcp {server}.{tool}{CYAN:#} {DIM}{arguments}{DIM:#}"
                ));
            }
            EventMsg::McpToolCallEnd {
                success,
                result,
                duration_ms,
                ..
            } => {
                let status = if *success {
                    format!("{GREEN}ok{GREEN:#}")
                } else {
                    let why = result["error"]
                        .as_str()
                        .unwrap_or("the tool reported an error");
                    format!("{RED}failed{RED:#}: {why}")
                };
                self.line(&format!("{prefix}{status} {DIM}in {duration_ms} ms{DIM:#}"));
            }
            EventMsg::UndoStarted { message } => {
                self.line(&format!(
                    "{prefix}{BOLD}undo{BOLD:#} {}",
                    message.as_deref().unwrap_or("")
                ));
            }
            EventMsg::UndoCompleted(done) => {
                self.line(&format!("{prefix}{}", done.message));
                for path in &done.restored {
                    self.line(&format!("{prefix}  {GREEN}restored{GREEN:#} {path}"));
                }
                for path in &done.deleted {
                    self.line(&format!("{prefix}  {GREEN}deleted{GREEN:#}  {path}"));
                }
                for path in &done.conflicts {
                    self.line(&format!(
                        "{prefix}  {YELLOW}conflict{YELLOW:#} {path} (left alone)"
                    ));
                }
            }
            EventMsg::SubSessionStarted { origin, .. } => {
                self.line(&format!(
                    "{prefix}{MAGENTA}↳ {}{MAGENTA:#} {DIM}sub-session {} started{DIM:#}",
                    origin.task_kind, origin.sub_session_id
                ));
            }
            EventMsg::SubSessionEnded { origin, outcome } => {
                let outcome = wire_name(outcome);
                self.line(&format!(
                    "{prefix}{MAGENTA}↲ {}{MAGENTA:#} {DIM}sub-session {outcome}{DIM:#}",
                    origin.task_kind
                ));
            }
            EventMsg::SubSessionEvent { origin, event } => {
                let prefix = format!(
                    "{prefix}{MAGENTA}│{MAGENTA:#} {DIM}[{}]{DIM:#} ",
                    origin.task_kind
                );
                self.message(&event.msg, &prefix, false);
            }
            EventMsg::ShutdownComplete => self.stop_spinner(),
            other => {
                if let Ok(value) = serde_json::to_value(other) {
                    self.by_type(&value, prefix);
                }
            }
        }
    }

    /// Events this build knows only by their JSON form: the agent turn's, review's and
    /// compaction's, and anything newer.
    fn by_type(&mut self, value: &Value, prefix: &str) {
        let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("");
        match text("type") {
            "agent_reasoning" | "custom" | "unknown" => {}
            "token_count" => {
                let total = value.pointer("/total/total_tokens").and_then(Value::as_u64);
                if let Some(total) = total {
                    self.line(&format!("{prefix}{DIM}tokens used: {total}{DIM:#}"));
                }
            }
            "patch_apply_begin" => {
                for change in value
                    .get("changes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let path = change.get("path").and_then(Value::as_str).unwrap_or("?");
                    let kind = change
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("change");
                    self.line(&format!("{prefix}{CYAN}{kind} {path}{CYAN:#}"));
                    if let Some(diff) = change.get("unified_diff").and_then(Value::as_str) {
                        self.line(&colour_diff(diff, prefix));
                    }
                }
            }
            "patch_apply_end" => {
                if value.get("success").and_then(Value::as_bool) == Some(true) {
                    self.line(&format!("{prefix}{GREEN}patch applied{GREEN:#}"));
                } else {
                    self.line(&format!(
                        "{prefix}{RED}patch failed:{RED:#} {}",
                        text("stderr")
                    ));
                }
            }
            "plan_update" => {
                self.line(&format!("{prefix}{BOLD}plan{BOLD:#}"));
                for step in value
                    .get("plan")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let mark = match step.get("status").and_then(Value::as_str) {
                        Some("completed") => "✓",
                        Some("in_progress") => "→",
                        _ => "·",
                    };
                    let name = step.get("step").and_then(Value::as_str).unwrap_or("");
                    self.line(&format!("{prefix}  {mark} {name}"));
                }
            }
            "context_compacted" => {
                let number = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
                self.line(&format!(
                    "{prefix}{BOLD}history compacted{BOLD:#}: {} → {} tokens",
                    number("tokens_before"),
                    number("tokens_after")
                ));
            }
            "entered_review_mode" => self.line(&format!("{prefix}{BOLD}reviewing…{BOLD:#}")),
            "exited_review_mode" => self.review_output(value.get("review_output"), prefix),
            other => self.line(&format!("{prefix}{DIM}{other}{DIM:#}")),
        }
    }

    fn review_output(&mut self, output: Option<&Value>, prefix: &str) {
        let Some(output) = output.filter(|output| !output.is_null()) else {
            self.line(&format!(
                "{prefix}{YELLOW}the review ended without a result{YELLOW:#}"
            ));
            return;
        };
        for line in review_lines(output) {
            self.line(&format!("{prefix}{line}"));
        }
    }
}

/// A review's findings as a readable list: priority, `file:line`, title, then the body; then
/// the verdict and its explanation.
pub(crate) fn review_lines(output: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let findings = output.get("findings").and_then(Value::as_array);
    for finding in findings.into_iter().flatten() {
        let field = |key: &str| finding.get(key).and_then(Value::as_str).unwrap_or("");
        let priority = finding.get("priority").and_then(Value::as_u64).unwrap_or(3);
        let location = finding.get("location");
        let file = location
            .and_then(|location| location.get("path"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        let line = location
            .and_then(|location| location.get("start_line"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let colour = if priority <= 1 { RED } else { YELLOW };
        lines.push(format!(
            "{colour}[P{priority}]{colour:#} {CYAN}{file}:{line}{CYAN:#} {BOLD}{}{BOLD:#}",
            field("title")
        ));
        for body_line in field("body").lines() {
            lines.push(format!("      {body_line}"));
        }
    }
    if findings.is_none_or(Vec::is_empty) {
        lines.push(format!("{GREEN}no findings{GREEN:#}"));
    }
    let verdict = output
        .get("overall_correctness")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let explanation = output
        .get("overall_explanation")
        .and_then(Value::as_str)
        .unwrap_or("");
    lines.push(format!("{BOLD}verdict:{BOLD:#} {verdict}. {explanation}"));
    lines
}

/// What an approval request shows: the command or the diff, why, and who asks.
pub(crate) fn approval_text(request: &ApprovalRequest, origin: Option<&ApprovalOrigin>) -> String {
    let mut text = format!("{YELLOW}approval needed{YELLOW:#}");
    if let Some(origin) = origin {
        let _ = write!(
            text,
            " {DIM}(asked by the {} sub-session {}, depth {}){DIM:#}",
            origin.task_kind, origin.sub_session_id, origin.depth
        );
    }
    match &request.subject {
        ApprovalSubject::Command {
            command,
            cwd,
            without_sandbox,
        } => {
            let _ = write!(
                text,
                "\n  {CYAN}$ {}{CYAN:#} {DIM}in {}{DIM:#}",
                shell_words(command),
                cwd.display()
            );
            if *without_sandbox {
                let _ = write!(
                    text,
                    "\n  {RED}outside the sandbox{RED:#} (the sandbox refused it)"
                );
            }
        }
        ApprovalSubject::Patch { diff, .. } => {
            text.push('\n');
            text.push_str(&colour_diff(diff, "  "));
        }
        ApprovalSubject::ToolCall {
            server,
            tool,
            arguments,
        } => {
            let _ = write!(text, "\n  tool {server}/{tool} {arguments}");
        }
        ApprovalSubject::Question { title, details } => {
            let _ = write!(text, "\n  {title}");
            if !details.is_null() {
                let _ = write!(text, " {DIM}{details}{DIM:#}");
            }
        }
    }
    if let Some(reason) = &request.reason {
        let _ = write!(text, "\n  {DIM}reason: {reason}{DIM:#}");
    }
    text
}

fn colour_diff(diff: &str, prefix: &str) -> String {
    diff.lines()
        .map(|line| {
            let style = if line.starts_with('+') && !line.starts_with("+++") {
                GREEN
            } else if line.starts_with('-') && !line.starts_with("---") {
                RED
            } else {
                DIM
            };
            format!("{prefix}{style}{line}{style:#}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A unit enum's name as the protocol writes it (`interrupted`, `user_shell`).
fn wire_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A command as a person would type it.
pub(crate) fn shell_words(command: &[String]) -> String {
    shell_words::join(command)
}
