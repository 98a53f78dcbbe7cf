//! What a running turn tells the MCP client while the call waits: a progress notification
//! for each step worth showing (when the call carried a progress token) and log messages at
//! the level the client set (`info` by default), agent message deltas at `debug`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::{Peer, RoleServer};
use serde_json::{Value, json};
use turnkit_protocol::{ApprovalOrigin, Event, EventMsg, ExecCommandEnd};

/// The logger name on every log message.
pub(crate) const LOGGER: &str = "turnkit";
/// The longest text a progress message carries.
const MAX_PROGRESS_TEXT: usize = 200;

/// The lowest level the client wants, shared by every call of one server.
#[derive(Clone, Debug)]
pub(crate) struct LogLevel(Arc<AtomicU8>);

impl Default for LogLevel {
    fn default() -> Self {
        Self(Arc::new(AtomicU8::new(rank(LoggingLevel::Info))))
    }
}

impl LogLevel {
    pub(crate) fn set(&self, level: LoggingLevel) {
        self.0.store(rank(level), Ordering::Relaxed);
    }

    fn allows(&self, level: LoggingLevel) -> bool {
        rank(level) >= self.0.load(Ordering::Relaxed)
    }
}

fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// Sends one call's notifications.
pub(crate) struct Reporter {
    peer: Peer<RoleServer>,
    progress_token: Option<ProgressToken>,
    progress: u32,
    level: LogLevel,
    session_id: String,
    // Commands by call id, so an end names its command.
    commands: HashMap<String, String>,
}

impl Reporter {
    pub(crate) fn new(
        peer: Peer<RoleServer>,
        progress_token: Option<ProgressToken>,
        level: LogLevel,
        session_id: String,
    ) -> Self {
        Self {
            peer,
            progress_token,
            progress: 0,
            level,
            session_id,
            commands: HashMap::new(),
        }
    }

    /// Reports one session event, if it is worth reporting.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a notification not yet handed to the transport is simply not sent.
    pub(crate) async fn event(&mut self, event: &Event) {
        self.message(&event.msg, None).await;
    }

    /// Reports a step of the server's own (interrupting, answering an approval).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Reporter::event`].
    pub(crate) async fn note(&mut self, level: LoggingLevel, text: &str) {
        self.log(level, json!({ "type": "turnkit_server", "message": text }))
            .await;
        self.step(text).await;
    }

    async fn message(&mut self, msg: &EventMsg, origin: Option<&ApprovalOrigin>) {
        if let Some(report) = self.report(msg, origin) {
            self.log(report.level, report.data).await;
            if let Some(step) = report.step {
                self.step(&step).await;
            }
        }
    }

    /// What to say about one event: a log message, and a progress step when it is one.
    fn report(&mut self, msg: &EventMsg, origin: Option<&ApprovalOrigin>) -> Option<Report> {
        let from = origin.map_or(String::new(), |origin| {
            format!(" (sub-session at depth {})", origin.depth)
        });
        let report = match msg {
            EventMsg::SubSessionEvent { origin, event } => {
                return self.report(&event.msg, Some(origin));
            }
            // A sub-session's deltas would drown its parent's; its whole messages are kept.
            EventMsg::AgentMessageDelta { delta } if origin.is_none() => Report::log(
                LoggingLevel::Debug,
                json!({ "type": "agent_message_delta", "delta": delta }),
            ),
            EventMsg::AgentMessage { message } => Report::log(
                LoggingLevel::Info,
                json!({ "type": "agent_message", "message": message }),
            )
            .step(format!("agent{from}: {}", first_line(message))),
            EventMsg::ExecCommandBegin {
                call_id, command, ..
            } => {
                let line = command.join(" ");
                self.commands.insert(call_id.clone(), line.clone());
                Report::log(
                    LoggingLevel::Info,
                    json!({ "type": "exec_command_begin", "command": line }),
                )
                .step(format!("running `{}`{from}", shorten(&line)))
            }
            EventMsg::ExecCommandEnd(end) => {
                let line = self.commands.remove(&end.call_id).unwrap_or_default();
                exec_end(end, &line, &from)
            }
            EventMsg::PatchApplyEnd {
                success,
                stdout,
                stderr,
                ..
            } => {
                let text = if *success { stdout } else { stderr };
                let verdict = if *success {
                    "applied a patch"
                } else {
                    "a patch failed"
                };
                Report::log(
                    LoggingLevel::Info,
                    json!({ "type": "patch_apply_end", "success": success, "output": text }),
                )
                .step(format!("{verdict}{from}: {}", first_line(text)))
            }
            EventMsg::McpToolCallBegin { server, tool, .. } => Report::log(
                LoggingLevel::Info,
                json!({ "type": "mcp_tool_call_begin", "server": server, "tool": tool }),
            )
            .step(format!("calling `{server}__{tool}`{from}")),
            EventMsg::Warning { message } | EventMsg::StreamError { message } => Report::log(
                LoggingLevel::Warning,
                json!({ "type": "warning", "message": message }),
            )
            .step(format!("warning{from}: {}", first_line(message))),
            EventMsg::Error { message } => Report::log(
                LoggingLevel::Error,
                json!({ "type": "error", "message": message }),
            )
            .step(format!("error{from}: {}", first_line(message))),
            EventMsg::BackgroundEvent { message } => Report::log(
                LoggingLevel::Info,
                json!({ "type": "background_event", "message": message }),
            ),
            EventMsg::PlanUpdate { plan, .. } => Report::log(
                LoggingLevel::Info,
                json!({ "type": "plan_update", "plan": plan }),
            ),
            EventMsg::SubSessionStarted { origin: child, .. } => Report::log(
                LoggingLevel::Info,
                json!({ "type": "sub_session_started", "sub_session_id": child.sub_session_id, "depth": child.depth }),
            ),
            EventMsg::SubSessionEnded {
                origin: child,
                outcome,
            } => Report::log(
                LoggingLevel::Info,
                json!({ "type": "sub_session_ended", "sub_session_id": child.sub_session_id, "outcome": outcome }),
            ),
            _ => return None,
        };
        Some(report.from(origin))
    }

    async fn log(&self, level: LoggingLevel, mut data: Value) {
        if !self.level.allows(level) {
            return;
        }
        if let Value::Object(fields) = &mut data {
            fields.insert(
                "session_id".to_owned(),
                Value::String(self.session_id.clone()),
            );
        }
        let sent = self
            .peer
            .notify_logging_message(
                LoggingMessageNotificationParam::new(level, data).with_logger(LOGGER),
            )
            .await;
        if let Err(error) = sent {
            tracing::debug!(%error, "a log notification was not sent");
        }
    }

    async fn step(&mut self, text: &str) {
        let Some(token) = &self.progress_token else {
            return;
        };
        self.progress += 1;
        let sent = self
            .peer
            .notify_progress(
                ProgressNotificationParam::new(token.clone(), f64::from(self.progress))
                    .with_message(shorten(text)),
            )
            .await;
        if let Err(error) = sent {
            tracing::debug!(%error, "a progress notification was not sent");
        }
    }
}

/// What one event becomes: a log message, maybe a progress step.
struct Report {
    level: LoggingLevel,
    data: Value,
    step: Option<String>,
}

impl Report {
    fn log(level: LoggingLevel, data: Value) -> Self {
        Self {
            level,
            data,
            step: None,
        }
    }

    fn step(mut self, text: String) -> Self {
        self.step = Some(text);
        self
    }

    /// Names the sub-session the event came from, when one did.
    fn from(mut self, origin: Option<&ApprovalOrigin>) -> Self {
        if let (Some(origin), Value::Object(fields)) = (origin, &mut self.data) {
            fields.insert(
                "sub_session".to_owned(),
                json!({ "id": origin.sub_session_id, "depth": origin.depth }),
            );
        }
        self
    }
}

fn exec_end(end: &ExecCommandEnd, line: &str, from: &str) -> Report {
    let how = if end.cancelled {
        "was cancelled".to_owned()
    } else if end.timed_out {
        "timed out".to_owned()
    } else if let Some(code) = end.exit_code {
        format!("exited {code}")
    } else if let Some(signal) = end.signal {
        format!("was killed by signal {signal}")
    } else {
        "did not run".to_owned()
    };
    // Milliseconds to seconds for a person; no precision that matters is lost.
    #[allow(clippy::cast_precision_loss)]
    let seconds = end.duration_ms as f64 / 1000.0;
    Report::log(
        LoggingLevel::Info,
        json!({
            "type": "exec_command_end",
            "command": line,
            "exit_code": end.exit_code,
            "cancelled": end.cancelled,
            "duration_ms": end.duration_ms,
        }),
    )
    .step(format!(
        "`{}` {how} after {seconds:.1} s{from}",
        shorten(line)
    ))
}

fn first_line(text: &str) -> String {
    shorten(
        text.lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or(""),
    )
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_PROGRESS_TEXT {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX_PROGRESS_TEXT - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_level_is_info_and_set_level_moves_it() {
        let level = LogLevel::default();
        assert!(!level.allows(LoggingLevel::Debug));
        assert!(level.allows(LoggingLevel::Info));
        level.set(LoggingLevel::Warning);
        assert!(!level.allows(LoggingLevel::Info));
        assert!(level.allows(LoggingLevel::Error));
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let long = "x".repeat(500);
        assert_eq!(shorten(&long).chars().count(), MAX_PROGRESS_TEXT);
        assert_eq!(first_line("\n  \nsecond\nthird"), "second");
    }
}
