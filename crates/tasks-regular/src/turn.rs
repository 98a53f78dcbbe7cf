//! [`RegularTask`]: the agent turn. It streams the model's response, runs the tools it calls,
//! and loops until the model is done, keeping the history valid however the turn ends.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use turnkit_model::{ErrorKind, ModelClient, ResponseEvent};
use turnkit_protocol::{ContentItem, EventMsg, ResponseItem, Role, TaskKind, UserInput};
use turnkit_session_core::{
    CancellationToken, SessionTask, TaskContext, TaskResult, ToolOutput, TurnOverrides,
    TurnSnapshots,
};

use crate::compact::{self, AutoCompact};
use crate::ledger::{ABORTED_WHILE_RUNNING, Ledger};
use crate::prompt::{build_prompt, user_message, with_overrides};
use crate::{RegularConfig, TurnError};

/// A model turn: `Op::UserInput` with no turn running starts one, and input that arrives
/// while it runs is steered into it.
///
/// It records the user's input, then loops: take steered input, build the prompt from the
/// valid history and the session's tools, stream the response (text and reasoning as deltas
/// and whole items, a `token_count` after it, a `stream_error` per retry of the client), run
/// the tools it called, and go on while the model called tools or input is pending. It
/// returns the turn's last agent message.
///
/// Interrupted at any instant, it starts no new tool, lets running tools see the
/// cancellation, gives every call an output (its own, or one saying it was aborted), and
/// records a note that the user interrupted; the run does this when it stops within the
/// grace period, the abort hook otherwise, and both happen before `turn_aborted`.
#[derive(Debug, Default)]
pub struct RegularTask {
    config: RegularConfig,
    ledger: Ledger,
}

/// A function call of one response.
struct ToolCall {
    call_id: String,
    name: String,
    arguments: String,
}

/// What one response said, once complete.
#[derive(Default)]
struct Response {
    calls: Vec<ToolCall>,
    last_message: Option<String>,
    usage: Option<turnkit_model::TokenUsage>,
}

/// Why a response did not complete.
enum Stopped {
    Cancelled,
    Failed(turnkit_model::Error),
}

impl RegularTask {
    /// A turn with this configuration (a `RegularConfig` service of the session overrides it).
    pub fn new(config: RegularConfig) -> Self {
        Self {
            config,
            ledger: Ledger::default(),
        }
    }

    /// Runs the loop; `Ok(None)` in place of the message when it stopped for cancellation.
    async fn turn(
        &self,
        ctx: &Arc<TaskContext>,
        model: &dyn ModelClient,
        config: &RegularConfig,
        token: &CancellationToken,
    ) -> Result<Option<String>, TurnError> {
        let mut last_message = None;
        let mut compacted_for_overflow = false;
        let mut auto_compact = AutoCompact::new(model.info(), config);
        loop {
            if token.is_cancelled() {
                return Ok(None);
            }
            let steered = ctx.take_pending_input().await;
            if !steered.is_empty() {
                ctx.record_items([user_message(&steered, ctx.cwd())]);
            }
            // Built in place and shared with the model: the prompt's input shares the history's
            // items, so a request copies none of them (nor does a recording client).
            let prompt = Arc::new(with_overrides(
                ctx.with_history(|history| build_prompt(config, history, ctx.tools())),
                ctx.service::<TurnOverrides>(),
            ));
            self.ledger.next_response();
            let response = match self.sample(ctx, model, &prompt, token).await {
                Ok(response) => response,
                Err(Stopped::Cancelled) => return Ok(None),
                Err(Stopped::Failed(error)) => {
                    self.ledger.fail_open_calls(ctx);
                    if error.kind() == ErrorKind::ContextWindowExceeded
                        && !compacted_for_overflow
                        && compact::has_compactor(ctx)
                    {
                        compacted_for_overflow = true;
                        ctx.send_event(EventMsg::Warning {
                            message: "the conversation no longer fits the model's context window; compacting the history and trying once more".to_owned(),
                        });
                        if compact::run(ctx, token).await.is_err() {
                            return Ok(None);
                        }
                        continue;
                    }
                    return Err(error.into());
                }
            };
            if response.last_message.is_some() {
                last_message = response.last_message;
            }
            let called_tools = !response.calls.is_empty();
            if called_tools
                && self
                    .run_calls(ctx, config, response.calls, token)
                    .await
                    .is_err()
            {
                return Ok(None);
            }
            if !called_tools && !ctx.has_pending_input() {
                return Ok(last_message);
            }
            if let Some(due) = auto_compact.due(response.usage, &prompt)
                && compact::run_auto(ctx, token, &mut auto_compact, due)
                    .await
                    .is_err()
            {
                return Ok(None);
            }
        }
    }

    /// Streams one response: forwards its deltas, records its items as they complete.
    ///
    /// # Cancel safety
    ///
    /// Dropping it loses the partial text of a message, never a recorded item: each item is
    /// in the history (and its calls in the ledger) before the next event is read.
    async fn sample(
        &self,
        ctx: &Arc<TaskContext>,
        model: &dyn ModelClient,
        prompt: &Arc<turnkit_model::Prompt>,
        token: &CancellationToken,
    ) -> Result<Response, Stopped> {
        let mut stream = model.stream_shared(Arc::clone(prompt), token.clone());
        let mut response = Response::default();
        // One waiter for the whole stream: registering a new one per event costs more than
        // forwarding the event.
        let cancelled = token.cancelled();
        tokio::pin!(cancelled);
        loop {
            let event = tokio::select! {
                biased;
                () = &mut cancelled => return Err(Stopped::Cancelled),
                event = stream.next() => event,
            };
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(turnkit_model::Error::Cancelled)) => return Err(Stopped::Cancelled),
                Some(Err(error)) => return Err(Stopped::Failed(error)),
                None => return Err(Stopped::Failed(turnkit_model::Error::StreamEndedEarly)),
            };
            match event {
                ResponseEvent::Created { .. } => {}
                ResponseEvent::OutputTextDelta { delta } => {
                    ctx.send_event(EventMsg::AgentMessageDelta { delta });
                }
                ResponseEvent::ReasoningDelta { delta } => {
                    ctx.send_event(EventMsg::AgentReasoningDelta { delta });
                }
                ResponseEvent::OutputItemDone { item } => self.item_done(ctx, item, &mut response),
                ResponseEvent::Retrying {
                    attempt,
                    max_attempts,
                    message,
                    ..
                } => {
                    ctx.send_event(EventMsg::StreamError {
                        message: format!("reconnecting {attempt}/{max_attempts}: {message}"),
                    });
                }
                ResponseEvent::Completed { usage, .. } => {
                    if let Some(usage) = usage {
                        ctx.record_token_usage(usage, model.info().context_window);
                    }
                    response.usage = usage;
                    return Ok(response);
                }
            }
        }
    }

    /// Records a finished output item and tells the client about it.
    fn item_done(&self, ctx: &Arc<TaskContext>, item: ResponseItem, response: &mut Response) {
        match &item {
            ResponseItem::FunctionCall {
                call_id,
                name,
                arguments,
            } => {
                response.calls.push(ToolCall {
                    call_id: call_id.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                });
                let call_id = call_id.clone();
                self.ledger.issue(ctx, &call_id, item);
            }
            ResponseItem::Message {
                role: Role::Assistant,
                content,
            } => {
                let message = text_of(content);
                ctx.record_items([item]);
                ctx.send_event(EventMsg::AgentMessage {
                    message: message.clone(),
                });
                response.last_message = Some(message);
            }
            ResponseItem::Reasoning { summary, content } => {
                let text = if summary.is_empty() {
                    content.clone().unwrap_or_default()
                } else {
                    summary.join("\n\n")
                };
                ctx.record_items([item]);
                if !text.is_empty() {
                    ctx.send_event(EventMsg::AgentReasoning { text });
                }
            }
            _ => ctx.record_items([item]),
        }
    }

    /// Runs the calls of one response: side by side when the model may call tools in
    /// parallel and every tool called allows it, else one after the other. `Err` when the
    /// turn was cancelled.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the running calls (which kill what they started); the ledger still
    /// knows which calls ran, so the abort hook answers them.
    async fn run_calls(
        &self,
        ctx: &Arc<TaskContext>,
        config: &RegularConfig,
        calls: Vec<ToolCall>,
        token: &CancellationToken,
    ) -> Result<(), ()> {
        let tools = ctx.tools();
        let parallel = calls.len() > 1
            && config.get_parallel_tool_calls()
            && calls.iter().all(|call| {
                tools
                    .get(&call.name)
                    .is_some_and(|tool| tool.supports_parallel())
            });
        let changes_files = |call: &ToolCall| {
            tools
                .get(&call.name)
                .is_some_and(|tool| tool.can_change_files())
        };
        if parallel {
            if calls.iter().any(changes_files) {
                self.before_change(ctx, token).await?;
            }
            let mut running: FuturesUnordered<_> = calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    self.ledger.start(index);
                    async move { (index, self.call(ctx, call, token).await) }
                })
                .collect();
            while let Some((index, output)) = running.next().await {
                self.ledger.complete(ctx, index, output);
            }
        } else {
            for (index, call) in calls.iter().enumerate() {
                if token.is_cancelled() {
                    return Err(());
                }
                if changes_files(call) {
                    self.before_change(ctx, token).await?;
                }
                self.ledger.start(index);
                let output = self.call(ctx, call, token).await;
                self.ledger.complete(ctx, index, output);
            }
        }
        if token.is_cancelled() {
            Err(())
        } else {
            Ok(())
        }
    }

    /// Runs one call through the session's registry (which answers unknown tools and bad
    /// arguments itself); an output that arrives after the cancel says the call was aborted.
    async fn call(
        &self,
        ctx: &Arc<TaskContext>,
        call: &ToolCall,
        token: &CancellationToken,
    ) -> ToolOutput {
        let output = ctx
            .tools()
            .dispatch(
                Arc::clone(ctx),
                &call.call_id,
                &call.name,
                &call.arguments,
                token.child_token(),
            )
            .await;
        if !token.is_cancelled() {
            return output;
        }
        if output.text.is_empty() {
            ToolOutput::failure(ABORTED_WHILE_RUNNING)
        } else {
            ToolOutput::failure(format!(
                "{ABORTED_WHILE_RUNNING}; what it reported:\n{}",
                output.text
            ))
        }
    }

    /// Takes the turn's "before" snapshot through the session's [`TurnSnapshots`] service,
    /// once per turn, and waits for it. `Err` when the turn was cancelled meanwhile.
    async fn before_change(
        &self,
        ctx: &Arc<TaskContext>,
        token: &CancellationToken,
    ) -> Result<(), ()> {
        let Some(snapshots) = ctx.service::<Arc<dyn TurnSnapshots>>() else {
            return Ok(());
        };
        if self.ledger.request_snapshot() {
            return Ok(());
        }
        let result = tokio::select! {
            biased;
            () = token.cancelled() => return Err(()),
            result = snapshots.before_change(ctx) => result,
        };
        if let Err(error) = result {
            ctx.send_event(EventMsg::Warning {
                message: format!("the turn goes on without a snapshot to undo it: {error}"),
            });
        }
        Ok(())
    }

    /// Takes the turn's "after" snapshot when it took a "before" one and nobody did yet.
    async fn after_turn(&self, ctx: &Arc<TaskContext>) {
        if !self.ledger.claim_after_turn() {
            return;
        }
        let Some(snapshots) = ctx.service::<Arc<dyn TurnSnapshots>>() else {
            return;
        };
        if let Err(error) = snapshots.after_turn(ctx).await {
            ctx.send_event(EventMsg::Warning {
                message: format!("the turn's changes may not be undoable: {error}"),
            });
        }
    }
}

#[async_trait]
impl SessionTask for RegularTask {
    fn kind(&self) -> TaskKind {
        TaskKind::REGULAR
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        if !input.is_empty() {
            ctx.record_items([user_message(&input, ctx.cwd())]);
        }
        let Some(model) = ctx.service::<Arc<dyn ModelClient>>() else {
            return Err(TurnError::NoModelClient.into());
        };
        let config = ctx
            .service::<RegularConfig>()
            .unwrap_or_else(|| self.config.clone());
        let outcome = self
            .turn(&ctx, model.as_ref(), &config, &cancellation_token)
            .await;
        if cancellation_token.is_cancelled() {
            // The abort hook takes the "after" snapshot; the run only settles the history,
            // which must be complete before `turn_aborted`.
            self.ledger.close_interrupted(&ctx);
            return Ok(None);
        }
        self.after_turn(&ctx).await;
        Ok(outcome?)
    }

    async fn abort(&self, ctx: Arc<TaskContext>) {
        self.ledger.close_interrupted(&ctx);
        self.after_turn(&ctx).await;
    }
}

/// The text of a message's text parts, joined.
fn text_of(content: &[ContentItem]) -> String {
    let mut text = String::new();
    for part in content {
        if let ContentItem::OutputText { text: piece } | ContentItem::InputText { text: piece } =
            part
        {
            text.push_str(piece);
        }
    }
    text
}
