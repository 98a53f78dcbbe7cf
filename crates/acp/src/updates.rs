//! How turnkit's events become ACP `session/update`s: the [`Translator`].
//!
//! One translator per session keeps what the mapping needs to remember: which tool calls the
//! client has been told about (an approval may announce a call before its command begins),
//! which are still open, the live output of each command, and whether the agent's message is
//! being streamed in deltas (then its complete copy is not sent again).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use agent_client_protocol::v1::schema::{
    ContentBlock, ContentChunk, Diff, Plan, PlanEntry, PlanEntryPriority, PlanEntryStatus,
    SessionUpdate, TextContent, ToolCall, ToolCallContent, ToolCallLocation, ToolCallStatus,
    ToolCallUpdate, ToolCallUpdateFields, ToolKind,
};
use serde_json::json;
use turnkit_protocol::{
    ApprovalOrigin, ApprovalRequest, ApprovalSubject, EventMsg, ExecCommandEnd, FileChange,
    PlanStep, StepStatus, UserInput,
};

/// At most this much of a command's live output is kept to show while it runs (its tail).
const LIVE_OUTPUT_CAP: usize = 64 * 1024;

/// Whether events are happening now or are replayed from a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Live: deltas stream, complete messages are sent only when nothing was streamed.
    Live,
    /// Replay of a stored session: deltas are skipped, complete messages sent.
    Replay,
}

#[derive(Default)]
struct Call {
    open: bool,
    output: String,
}

/// Maps one session's events to `session/update`s.
pub(crate) struct Translator {
    cwd: PathBuf,
    mode: Mode,
    calls: HashMap<String, Call>,
    message_streamed: bool,
    reasoning_streamed: bool,
}

impl Translator {
    /// A translator for a session working in `cwd`.
    pub(crate) fn new(cwd: impl Into<PathBuf>, mode: Mode) -> Self {
        Translator {
            cwd: cwd.into(),
            mode,
            calls: HashMap::new(),
            message_streamed: false,
            reasoning_streamed: false,
        }
    }

    /// The updates one event of the session's own stream gives (none for most).
    ///
    /// Approval requests are not handled here (see [`Translator::approval`]); errors and
    /// warnings are the caller's to report.
    pub(crate) fn event(&mut self, msg: &EventMsg) -> Vec<SessionUpdate> {
        match msg {
            EventMsg::AgentMessageDelta { delta } => {
                if self.mode == Mode::Replay {
                    return Vec::new();
                }
                self.message_streamed = true;
                vec![SessionUpdate::AgentMessageChunk(chunk(delta))]
            }
            EventMsg::AgentMessage { message } => {
                if std::mem::take(&mut self.message_streamed) || message.is_empty() {
                    return Vec::new();
                }
                vec![SessionUpdate::AgentMessageChunk(chunk(message))]
            }
            EventMsg::AgentReasoningDelta { delta } => {
                if self.mode == Mode::Replay {
                    return Vec::new();
                }
                self.reasoning_streamed = true;
                vec![SessionUpdate::AgentThoughtChunk(chunk(delta))]
            }
            EventMsg::AgentReasoning { text } => {
                if std::mem::take(&mut self.reasoning_streamed) || text.is_empty() {
                    return Vec::new();
                }
                vec![SessionUpdate::AgentThoughtChunk(chunk(text))]
            }
            EventMsg::PlanUpdate { plan, .. } => vec![SessionUpdate::Plan(Plan::new(
                plan.iter().map(plan_entry).collect(),
            ))],
            EventMsg::TaskComplete { .. } | EventMsg::TurnAborted { .. } => self.close_open_calls(),
            EventMsg::SubSessionEvent { origin, event } => {
                self.tool_event(&event.msg, Some(origin))
            }
            other => self.tool_event(other, None),
        }
    }

    /// The updates of a tool's event (a command, a patch, an MCP call), in the scope of the
    /// sub-session it came from, if any.
    fn tool_event(
        &mut self,
        msg: &EventMsg,
        origin: Option<&ApprovalOrigin>,
    ) -> Vec<SessionUpdate> {
        match msg {
            EventMsg::ExecCommandBegin {
                call_id,
                command,
                cwd,
                ..
            } => {
                let id = scoped_id(origin, call_id);
                let title = with_origin(format!("Run `{}`", command_line(command)), origin);
                let fields = ToolCallUpdateFields::new()
                    .title(title)
                    .kind(ToolKind::Execute)
                    .status(ToolCallStatus::InProgress)
                    .raw_input(json!({ "command": command, "cwd": cwd }));
                vec![self.open(id, fields)]
            }
            EventMsg::ExecCommandOutputDelta { call_id, chunk, .. } => {
                if self.mode == Mode::Replay {
                    return Vec::new();
                }
                let id = scoped_id(origin, call_id);
                let call = self.calls.entry(id.clone()).or_default();
                call.output.push_str(&String::from_utf8_lossy(chunk));
                if call.output.len() > LIVE_OUTPUT_CAP {
                    let mut cut = call.output.len() - LIVE_OUTPUT_CAP;
                    while !call.output.is_char_boundary(cut) {
                        cut += 1;
                    }
                    call.output.drain(..cut);
                }
                let content = vec![text_content(fenced(&call.output, ""))];
                vec![update(id, ToolCallUpdateFields::new().content(content))]
            }
            EventMsg::ExecCommandEnd(end) => {
                let id = scoped_id(origin, &end.call_id);
                vec![self.close(id, exec_end_fields(end))]
            }
            EventMsg::PatchApplyBegin { call_id, changes } => {
                let fields = self.patch_fields(changes, origin);
                vec![self.open(scoped_id(origin, call_id), fields)]
            }
            EventMsg::PatchApplyEnd {
                call_id,
                success,
                stderr,
                ..
            } => {
                let id = scoped_id(origin, call_id);
                let mut fields = ToolCallUpdateFields::new().status(if *success {
                    ToolCallStatus::Completed
                } else {
                    ToolCallStatus::Failed
                });
                if !success {
                    fields = fields.content(vec![text_content(format!(
                        "The patch was not applied: {stderr}"
                    ))]);
                }
                vec![self.close(id, fields)]
            }
            EventMsg::McpToolCallBegin {
                call_id,
                server,
                tool,
                arguments,
            } => {
                let id = scoped_id(origin, call_id);
                let fields = ToolCallUpdateFields::new()
                    .title(with_origin(format!("{server}: {tool}"), origin))
                    .kind(ToolKind::Other)
                    .status(ToolCallStatus::InProgress)
                    .raw_input(arguments.clone());
                vec![self.open(id, fields)]
            }
            EventMsg::McpToolCallEnd {
                call_id,
                success,
                result,
                ..
            } => {
                let id = scoped_id(origin, call_id);
                let mut fields = ToolCallUpdateFields::new()
                    .status(if *success {
                        ToolCallStatus::Completed
                    } else {
                        ToolCallStatus::Failed
                    })
                    .raw_output(result.clone());
                let texts = mcp_result_texts(result);
                if !texts.is_empty() {
                    fields =
                        fields.content(texts.into_iter().map(text_content).collect::<Vec<_>>());
                }
                vec![self.close(id, fields)]
            }
            _ => Vec::new(),
        }
    }

    /// What a tool call that applies a patch shows: its files, their diffs and locations.
    fn patch_fields(
        &self,
        changes: &[FileChange],
        origin: Option<&ApprovalOrigin>,
    ) -> ToolCallUpdateFields {
        let files: Vec<String> = changes
            .iter()
            .map(|change| change.path().display().to_string())
            .collect();
        let kind = if changes
            .iter()
            .all(|change| matches!(change, FileChange::Delete { .. }))
        {
            ToolKind::Delete
        } else {
            ToolKind::Edit
        };
        ToolCallUpdateFields::new()
            .title(with_origin(format!("Edit {}", files.join(", ")), origin))
            .kind(kind)
            .status(ToolCallStatus::InProgress)
            .content(
                changes
                    .iter()
                    .map(|change| ToolCallContent::Diff(diff_of(&self.cwd, change)))
                    .collect::<Vec<_>>(),
            )
            .locations(
                changes
                    .iter()
                    .map(|change| ToolCallLocation::new(self.cwd.join(change.path())))
                    .collect::<Vec<_>>(),
            )
    }

    /// What an approval request shows: the announcement of its tool call when the client
    /// has not heard of it yet, and the `toolCall` of the `session/request_permission`.
    pub(crate) fn approval(
        &mut self,
        approval_id: &str,
        request: &ApprovalRequest,
        origin: Option<&ApprovalOrigin>,
    ) -> (Vec<SessionUpdate>, ToolCallUpdate) {
        let id = match &request.call_id {
            Some(call_id) => scoped_id(origin, call_id),
            None => format!("approval-{approval_id}"),
        };
        let mut content = Vec::new();
        let (title, kind, raw_input, locations) = match &request.subject {
            ApprovalSubject::Command {
                command,
                cwd,
                without_sandbox,
            } => {
                let title = if *without_sandbox {
                    format!("Run `{}` without the sandbox", command_line(command))
                } else {
                    format!("Run `{}`", command_line(command))
                };
                (
                    title,
                    ToolKind::Execute,
                    json!({ "command": command, "cwd": cwd }),
                    Vec::new(),
                )
            }
            ApprovalSubject::Patch { files, diff, cwd } => {
                let names: Vec<String> = files
                    .iter()
                    .map(|file| file.display().to_string())
                    .collect();
                content.push(text_content(fenced(diff, "diff")));
                (
                    format!("Edit {}", names.join(", ")),
                    ToolKind::Edit,
                    json!({ "files": files }),
                    files
                        .iter()
                        .map(|file| ToolCallLocation::new(cwd.join(file)))
                        .collect(),
                )
            }
            ApprovalSubject::ToolCall {
                server,
                tool,
                arguments,
            } => (
                format!("Call {server}: {tool}"),
                ToolKind::Other,
                arguments.clone(),
                Vec::new(),
            ),
            ApprovalSubject::Question { title, details } => {
                if !details.is_null() {
                    let pretty = serde_json::to_string_pretty(details).unwrap_or_default();
                    content.push(text_content(fenced(&pretty, "json")));
                }
                (title.clone(), ToolKind::Other, details.clone(), Vec::new())
            }
        };
        if let Some(reason) = &request.reason {
            content.insert(0, text_content(reason.clone()));
        }
        let title = with_origin(title, origin);
        let mut fields = ToolCallUpdateFields::new()
            .title(title.clone())
            .kind(kind)
            .status(ToolCallStatus::Pending)
            .raw_input(raw_input.clone());
        if !content.is_empty() {
            fields = fields.content(content.clone());
        }
        if !locations.is_empty() {
            fields = fields.locations(locations.clone());
        }
        let mut announce = Vec::new();
        if !self.calls.contains_key(&id) {
            self.calls.insert(
                id.clone(),
                Call {
                    open: true,
                    output: String::new(),
                },
            );
            announce.push(SessionUpdate::ToolCall(
                ToolCall::new(id.clone(), title)
                    .kind(kind)
                    .status(ToolCallStatus::Pending)
                    .content(content)
                    .locations(locations)
                    .raw_input(raw_input),
            ));
        }
        (announce, ToolCallUpdate::new(id, fields))
    }

    /// The update for a tool call whose approval was declined: it failed without running.
    pub(crate) fn declined(
        &mut self,
        request: &ApprovalRequest,
        approval_id: &str,
        origin: Option<&ApprovalOrigin>,
    ) -> SessionUpdate {
        let id = match &request.call_id {
            Some(call_id) => scoped_id(origin, call_id),
            None => format!("approval-{approval_id}"),
        };
        self.close(
            id,
            ToolCallUpdateFields::new()
                .status(ToolCallStatus::Failed)
                .content(vec![text_content("Declined by the user.".to_owned())]),
        )
    }

    /// The user's own message, as replayed from a rollout.
    pub(crate) fn user_input(items: &[UserInput]) -> Vec<SessionUpdate> {
        items
            .iter()
            .map(|item| {
                let text = match item {
                    UserInput::Text { text } => text.clone(),
                    UserInput::Image { .. } => "[image]".to_owned(),
                    UserInput::LocalImage { path } => format!("[image {}]", path.display()),
                };
                SessionUpdate::UserMessageChunk(chunk(&text))
            })
            .collect()
    }

    /// Marks every tool call still open as failed: its turn ended before it did (a cancel
    /// while it waited for approval, or a call dropped by a hard abort).
    fn close_open_calls(&mut self) -> Vec<SessionUpdate> {
        let mut open: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, call)| call.open)
            .map(|(id, _)| id.clone())
            .collect();
        open.sort();
        self.calls.clear();
        self.message_streamed = false;
        self.reasoning_streamed = false;
        open.into_iter()
            .map(|id| {
                update(
                    id,
                    ToolCallUpdateFields::new().status(ToolCallStatus::Failed),
                )
            })
            .collect()
    }

    /// A call begins: announced when new, updated when an approval announced it already.
    fn open(&mut self, id: String, fields: ToolCallUpdateFields) -> SessionUpdate {
        let known = self.calls.insert(
            id.clone(),
            Call {
                open: true,
                output: String::new(),
            },
        );
        if known.is_some() {
            return update(id, fields);
        }
        let mut call = ToolCall::new(id, String::new());
        call.update(fields);
        SessionUpdate::ToolCall(call)
    }

    /// A call ends.
    fn close(&mut self, id: String, fields: ToolCallUpdateFields) -> SessionUpdate {
        if let Some(call) = self.calls.get_mut(&id) {
            call.open = false;
            call.output.clear();
        }
        update(id, fields)
    }
}

fn update(id: String, fields: ToolCallUpdateFields) -> SessionUpdate {
    SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(id, fields))
}

fn chunk(text: &str) -> ContentChunk {
    ContentChunk::new(ContentBlock::Text(TextContent::new(text)))
}

fn text_content(text: String) -> ToolCallContent {
    ToolCallContent::from(ContentBlock::Text(TextContent::new(text)))
}

/// A sub-session's call ids are prefixed with its id, so they never clash with the root's.
fn scoped_id(origin: Option<&ApprovalOrigin>, call_id: &str) -> String {
    match origin {
        Some(origin) => format!("{}/{call_id}", origin.sub_session_id),
        None => call_id.to_owned(),
    }
}

/// A title, with the sub-session it came from when it did.
fn with_origin(title: String, origin: Option<&ApprovalOrigin>) -> String {
    match origin {
        Some(origin) => format!(
            "{title} (from a {} sub-session, depth {})",
            origin.task_kind.as_str(),
            origin.depth
        ),
        None => title,
    }
}

/// A command as a person would type it: the script of `bash -lc SCRIPT`, else the words,
/// quoted where needed.
pub(crate) fn command_line(command: &[String]) -> String {
    if let [shell, flag, script] = command
        && matches!(
            Path::new(shell).file_name().and_then(|name| name.to_str()),
            Some("bash" | "sh" | "zsh" | "dash")
        )
        && matches!(flag.as_str(), "-c" | "-lc")
    {
        return script.clone();
    }
    shell_words::join(command)
}

/// Text in a fenced code block whose fence no run of backticks inside can close.
fn fenced(text: &str, language: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    let body = text.strip_suffix('\n').unwrap_or(text);
    format!("{fence}{language}\n{body}\n{fence}")
}

fn exec_end_fields(end: &ExecCommandEnd) -> ToolCallUpdateFields {
    let succeeded = end.exit_code == Some(0) && !end.cancelled && !end.timed_out;
    let mut content = Vec::new();
    if !end.aggregated_output.is_empty() {
        content.push(text_content(fenced(&end.aggregated_output, "")));
    }
    if end.cancelled {
        content.push(text_content("Cancelled.".to_owned()));
    } else if end.timed_out {
        content.push(text_content("Timed out.".to_owned()));
    }
    ToolCallUpdateFields::new()
        .status(if succeeded {
            ToolCallStatus::Completed
        } else {
            ToolCallStatus::Failed
        })
        .content(content)
        .raw_output(json!({
            "exit_code": end.exit_code,
            "signal": end.signal,
            "duration_ms": end.duration_ms,
            "cancelled": end.cancelled,
            "timed_out": end.timed_out,
        }))
}

fn plan_entry(step: &PlanStep) -> PlanEntry {
    let status = match step.status {
        StepStatus::Pending => PlanEntryStatus::Pending,
        StepStatus::InProgress => PlanEntryStatus::InProgress,
        StepStatus::Completed => PlanEntryStatus::Completed,
    };
    PlanEntry::new(step.step.clone(), PlanEntryPriority::Medium, status)
}

/// The diff an editor shows for one file of a patch.
///
/// An added file is shown whole against nothing, a deleted one whole against nothing new.
/// An update carries only its unified diff: it is shown as the whole file before and after
/// when the file on disk is one side of that diff (see [`whole_file_texts`]), else as its
/// hunks (context, removed and added lines), which still show the change.
fn diff_of(cwd: &Path, change: &FileChange) -> Diff {
    match change {
        FileChange::Add { path, content } => Diff::new(cwd.join(path), content.clone()),
        FileChange::Delete { path, content } => {
            Diff::new(cwd.join(path), String::new()).old_text(content.clone())
        }
        FileChange::Update {
            path,
            move_path,
            unified_diff,
        } => {
            let from = cwd.join(path);
            let to = move_path
                .as_ref()
                .map_or_else(|| from.clone(), |to| cwd.join(to));
            let (old, new) = whole_file_texts(&from, unified_diff)
                .or_else(|| whole_file_texts(&to, unified_diff))
                .unwrap_or_else(|| hunk_texts(unified_diff));
            Diff::new(to, new).old_text(old)
        }
    }
}

/// Files larger than this are shown by their hunks only.
const WHOLE_FILE_LIMIT: u64 = 1024 * 1024;

/// The whole text of `path` before and after `unified_diff`, read from disk: the event reaches
/// the editor while the patch is being written, so the file may hold either side. It is the
/// old side when the diff applies to it, the new side when the reversed diff does; `None`
/// when neither does (the file changed since, or a session replayed later), or the file is
/// missing, not UTF-8 or large.
fn whole_file_texts(path: &Path, unified_diff: &str) -> Option<(String, String)> {
    if std::fs::metadata(path).ok()?.len() > WHOLE_FILE_LIMIT {
        return None;
    }
    let current = std::fs::read_to_string(path).ok()?;
    let diff = diffy::Patch::from_str(unified_diff).ok()?;
    if let Ok(new) = diffy::apply(&current, &diff) {
        return Some((current, new));
    }
    let old = diffy::apply(&current, &diff.reverse()).ok()?;
    Some((old, current))
}

/// The old and new sides of a unified diff's hunks.
fn hunk_texts(unified_diff: &str) -> (String, String) {
    let mut old = String::new();
    let mut new = String::new();
    let mut in_hunk = false;
    for line in unified_diff.lines() {
        if line.starts_with("@@") {
            in_hunk = true;
            continue;
        }
        if !in_hunk {
            continue;
        }
        if let Some(rest) = line.strip_prefix('-') {
            old.push_str(rest);
            old.push('\n');
        } else if let Some(rest) = line.strip_prefix('+') {
            new.push_str(rest);
            new.push('\n');
        } else if let Some(rest) = line.strip_prefix(' ') {
            old.push_str(rest);
            old.push('\n');
            new.push_str(rest);
            new.push('\n');
        } else if line.is_empty() {
            old.push('\n');
            new.push('\n');
        }
    }
    (old, new)
}

/// The text items of an MCP `CallToolResult`, or the error a failed call reports.
fn mcp_result_texts(result: &serde_json::Value) -> Vec<String> {
    if let Some(error) = result.get("error").and_then(serde_json::Value::as_str) {
        return vec![error.to_owned()];
    }
    result
        .get("content")
        .and_then(serde_json::Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.get("text").and_then(serde_json::Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_shows_a_shell_script_as_typed_and_quotes_odd_words() {
        let words = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            command_line(&words(&["bash", "-lc", "ls | wc -l"])),
            "ls | wc -l"
        );
        assert_eq!(
            command_line(&words(&["echo", "hi there", "it's"])),
            r"echo 'hi there' 'it'\''s'"
        );
    }

    #[test]
    fn a_fence_is_longer_than_any_backtick_run_inside() {
        assert_eq!(fenced("a ```` b\n", ""), "`````\na ```` b\n`````");
    }

    /// A unified diff written as the `apply_patch` tool writes it.
    fn unified(before: &str, after: &str) -> String {
        similar::TextDiff::from_lines(before, after)
            .unified_diff()
            .context_radius(3)
            .header("a/notes.txt", "b/notes.txt")
            .to_string()
    }

    fn update(unified_diff: String) -> FileChange {
        FileChange::Update {
            path: "notes.txt".into(),
            move_path: None,
            unified_diff,
        }
    }

    #[test]
    fn an_update_is_shown_as_the_whole_file_before_and_after() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let before: String = (1..=20)
            .map(|n| format!("line {n}\n"))
            .collect::<Vec<_>>()
            .concat();
        let after = before.replace("line 10\n", "line ten\n");
        let change = update(unified(&before, &after));
        // Before the write, the file is the old side; after it, the new side: both show the
        // same whole-file diff.
        for on_disk in [&before, &after] {
            std::fs::write(dir.path().join("notes.txt"), on_disk).expect("write");
            let diff = diff_of(dir.path(), &change);
            assert_eq!(diff.path, dir.path().join("notes.txt"));
            assert_eq!(diff.old_text.as_deref(), Some(before.as_str()));
            assert_eq!(diff.new_text, after);
        }
    }

    #[test]
    fn an_update_that_does_not_fit_the_file_is_shown_as_its_hunks() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let change = update(unified("keep\nold\n", "keep\nnew\n"));
        // Missing, then changed since by someone else: the hunks it carries are shown.
        for on_disk in [None, Some("something else entirely\n")] {
            if let Some(text) = on_disk {
                std::fs::write(dir.path().join("notes.txt"), text).expect("write");
            }
            let diff = diff_of(dir.path(), &change);
            assert_eq!(diff.old_text.as_deref(), Some("keep\nold\n"));
            assert_eq!(diff.new_text, "keep\nnew\n");
        }
    }

    #[test]
    fn hunk_texts_keep_context_on_both_sides() {
        let diff = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n keep\n-old\n+new\n";
        assert_eq!(
            hunk_texts(diff),
            ("keep\nold\n".to_owned(), "keep\nnew\n".to_owned())
        );
    }

    #[test]
    fn a_sub_sessions_approval_names_its_origin_and_scopes_its_call_id() {
        let origin = ApprovalOrigin {
            sub_session_id: "child-1".into(),
            parent_session_id: "root".into(),
            depth: 1,
            task_kind: turnkit_protocol::TaskKind::REVIEW,
            turn_id: "acp-prompt-1".into(),
        };
        let request = ApprovalRequest::command(vec!["ls".into()], "/w").with_call_id("call-7");
        let mut translator = Translator::new("/w", Mode::Live);
        let (announce, tool_call) = translator.approval("a-1", &request, Some(&origin));
        assert_eq!(announce.len(), 1, "a new call is announced first");
        assert_eq!(&*tool_call.tool_call_id.0, "child-1/call-7");
        assert_eq!(
            tool_call.fields.title.as_deref(),
            Some("Run `ls` (from a review sub-session, depth 1)")
        );
        let (again, _) = translator.approval("a-2", &request, Some(&origin));
        assert!(again.is_empty(), "a known call is not announced twice");
    }

    #[test]
    fn a_streamed_message_is_not_sent_twice() {
        let mut translator = Translator::new("/w", Mode::Live);
        assert_eq!(
            translator
                .event(&EventMsg::AgentMessageDelta { delta: "hi".into() })
                .len(),
            1
        );
        assert!(
            translator
                .event(&EventMsg::AgentMessage {
                    message: "hi".into()
                })
                .is_empty()
        );
        assert_eq!(
            translator
                .event(&EventMsg::AgentMessage {
                    message: "again".into()
                })
                .len(),
            1
        );
    }
}
