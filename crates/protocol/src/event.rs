//! What a session sends: [`Event`], [`EventMsg`] and [`TurnAbortReason`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{
    ApprovalOrigin, ApprovalPolicy, ApprovalRequest, ExecCommandEnd, ExecSource, ExecStream,
    FileChange, PlanStep, ReviewOutput, ReviewRequest, SubSessionOutcome, TaskKind, TokenUsageInfo,
    UndoCompleted,
};

/// One event of a session's ordered stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The id of the submission whose work produced this event.
    pub id: String,
    /// The event's position in the session's stream: 0, 1, 2, … with no gaps.
    pub seq: u64,
    /// What happened.
    pub msg: EventMsg,
}

/// Why a turn was aborted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnAbortReason {
    /// The client interrupted it, or the session shut down.
    Interrupted,
    /// Another task took its place.
    Replaced,
    /// The review it belonged to ended.
    ReviewEnded,
}

/// What happened, tagged by `type` on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventMsg {
    /// A task began; always the first event of a task.
    TaskStarted {
        /// What kind of task.
        kind: TaskKind,
    },
    /// A task finished; the last event of a task that was not aborted.
    TaskComplete {
        /// The final agent message, when the task produced one.
        last_agent_message: Option<String>,
    },
    /// A task was aborted; the last event of that task.
    TurnAborted {
        /// Why.
        reason: TurnAbortReason,
    },
    /// Something failed; the session goes on.
    Error {
        /// What failed and what to do about it.
        message: String,
    },
    /// Something the user should know; nothing failed.
    Warning {
        /// What happened.
        message: String,
    },
    /// Progress or state worth showing, not tied to the model's output.
    BackgroundEvent {
        /// What happened.
        message: String,
    },
    /// The model's stream failed and is being retried.
    StreamError {
        /// For example "reconnecting 2/5".
        message: String,
    },
    /// A complete message from the agent.
    AgentMessage {
        /// The text.
        message: String,
    },
    /// A complete piece of the agent's reasoning (a summary, or the raw text).
    AgentReasoning {
        /// The text.
        text: String,
    },
    /// What the model's last response cost, and the session's running total.
    TokenCount(TokenUsageInfo),
    /// A piece of the agent's message as it streams.
    AgentMessageDelta {
        /// The new text.
        delta: String,
    },
    /// A piece of the agent's reasoning as it streams.
    AgentReasoningDelta {
        /// The new text.
        delta: String,
    },
    /// Something needs the client's decision before it happens.
    ///
    /// A sub-session's request appears on the root session's stream, with its `origin`.
    ApprovalRequested {
        /// Answer with `Op::DecideApproval { id: approval_id, .. }`; unique within the session
        /// tree.
        approval_id: String,
        /// What is asked.
        request: ApprovalRequest,
        /// The sub-session that asked, when not the root session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<ApprovalOrigin>,
    },
    /// A command started.
    ExecCommandBegin {
        /// Ties the begin, deltas and end together.
        call_id: String,
        /// The command, as argv.
        command: Vec<String>,
        /// Where it runs.
        cwd: PathBuf,
        /// Who asked for it.
        source: ExecSource,
    },
    /// A chunk of a running command's output (bytes, base64 on the wire).
    ExecCommandOutputDelta {
        /// The command.
        call_id: String,
        /// Which stream.
        stream: ExecStream,
        /// The raw bytes.
        #[serde(with = "crate::bytes")]
        chunk: Vec<u8>,
    },
    /// A command ended, or was cancelled, with what it printed.
    ExecCommandEnd(ExecCommandEnd),
    /// A patch is about to be written: what it does to each file, in patch order.
    PatchApplyBegin {
        /// The tool call that applies it.
        call_id: String,
        /// One entry per file operation of the patch.
        changes: Vec<FileChange>,
    },
    /// A patch was written, or failed; exactly one follows each `patch_apply_begin`.
    PatchApplyEnd {
        /// The tool call that applied it.
        call_id: String,
        /// Whether every file was written.
        success: bool,
        /// What the tool reported (the files changed).
        stdout: String,
        /// Why it failed, when it did.
        stderr: String,
    },
    /// The agent's plan changed: the whole step list as it is now.
    PlanUpdate {
        /// Why the plan changed, when the agent said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        explanation: Option<String>,
        /// Every step, in order.
        plan: Vec<PlanStep>,
    },
    /// A tool of an MCP server is about to be called (after any approval it needed).
    McpToolCallBegin {
        /// The model's call id; ties begin and end together.
        call_id: String,
        /// The server's name, as the session was configured with it.
        server: String,
        /// The tool's name on that server (the model sees `server__tool`).
        tool: String,
        /// The arguments sent, a JSON object.
        #[serde(default)]
        arguments: serde_json::Value,
    },
    /// An MCP tool call ended; exactly one follows each `mcp_tool_call_begin`.
    McpToolCallEnd {
        /// The model's call id.
        call_id: String,
        /// The server's name.
        server: String,
        /// The tool's name on that server.
        tool: String,
        /// The arguments sent, a JSON object.
        #[serde(default)]
        arguments: serde_json::Value,
        /// Whether the call succeeded: the server answered and did not flag an error.
        success: bool,
        /// What the server answered (an MCP `CallToolResult`), or, when it did not answer
        /// (it failed to start, timed out, crashed, or the call was cancelled),
        /// `{"error": "<why>"}`.
        #[serde(default)]
        result: serde_json::Value,
        /// How long the call took, in milliseconds.
        #[serde(default)]
        duration_ms: u64,
    },
    /// An undo began.
    UndoStarted {
        /// What is being undone.
        message: Option<String>,
    },
    /// An undo ended.
    UndoCompleted(UndoCompleted),
    /// The session's history was replaced by a shorter one that summarises it.
    ///
    /// Token counts are estimates (about four bytes of text to a token) of what a model is
    /// sent from the history.
    ContextCompacted {
        /// The history's size before.
        tokens_before: u64,
        /// The new history's size, summary included.
        tokens_after: u64,
        /// The summary's size.
        summary_tokens: u64,
    },
    /// A review began; comes before any event of the review's own work.
    EnteredReviewMode {
        /// What is reviewed.
        request: ReviewRequest,
    },
    /// A review ended, however it ended; comes before the review's terminal event.
    ExitedReviewMode {
        /// What the review found; absent when it was interrupted or produced nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        review_output: Option<ReviewOutput>,
    },
    /// A sub-session started under the task whose id this event carries.
    SubSessionStarted {
        /// Which sub-session.
        origin: ApprovalOrigin,
        /// The approval policy it runs under.
        approval_policy: ApprovalPolicy,
    },
    /// A sub-session ended; nothing of it follows.
    SubSessionEnded {
        /// Which sub-session.
        origin: ApprovalOrigin,
        /// How it ended.
        outcome: SubSessionOutcome,
    },
    /// An event of a sub-session, re-emitted by its parent's task under the parent's turn id.
    SubSessionEvent {
        /// Which sub-session.
        origin: ApprovalOrigin,
        /// The event as the sub-session sent it (its own id and `seq`).
        event: Box<Event>,
    },
    /// An event a downstream task kind defines; clients that do not know `name` skip it.
    Custom {
        /// The event's name, chosen by the task kind (for example `deploy_progress`).
        name: String,
        /// Its data, as the task kind defines it.
        #[serde(default)]
        payload: serde_json::Value,
    },
    /// The session has shut down; the last event of the stream.
    ShutdownComplete,
    /// An event of a type this build does not know; produced only when reading.
    #[serde(other)]
    Unknown,
}

impl EventMsg {
    /// Whether this event ends a task.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventMsg::TaskComplete { .. } | EventMsg::TurnAborted { .. }
        )
    }
}
