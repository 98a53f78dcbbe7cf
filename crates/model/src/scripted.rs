//! A deterministic model for tests and demos: [`ScriptedModel`] and its [`Gate`]s.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use turnkit_protocol::ResponseItem;

use crate::{
    Error, ModelClient, ModelInfo, Prompt, ResponseEvent, ResponseStream, Script, ScriptStep,
    ScriptedTurn,
};

/// A model that plays scripted responses, one [`ScriptedTurn`] per request, and records every
/// prompt it is given.
///
/// Clones share the script, the recorded prompts and the gates, so a test keeps one clone and
/// hands another (as `Arc<dyn ModelClient>`) to the code under test.
///
/// A [`ScriptStep::Gate`] holds the stream until the test calls [`Gate::release`]; the test
/// learns that the stream got there with [`Gate::reached`]. Cancelling the request ends a
/// held stream at once with `Err(Error::Cancelled)`.
///
/// # The JSON script format
///
/// [`ScriptedModel::from_json_str`] and [`ScriptedModel::from_json_file`] read a [`Script`]:
/// an optional `model_info` and a list of `turns`, each a list of `steps` tagged by `type`
/// (the variants of [`ScriptStep`] in snake case). Unknown fields are rejected, so a typo does
/// not silently change a test.
///
/// ```
/// use futures_util::StreamExt;
/// use tokio_util::sync::CancellationToken;
/// use turnkit_model::{ModelClient, Prompt, ResponseEvent, ScriptedModel};
/// use turnkit_protocol::ResponseItem;
///
/// let model = ScriptedModel::from_json_str(r#"{
///   "model_info": { "context_window": 128000, "auto_compact_token_limit": 100000 },
///   "turns": [
///     { "steps": [
///       { "type": "message", "text": "Let me look.", "deltas": ["Let me ", "look."] },
///       { "type": "function_call", "call_id": "call_1", "name": "shell",
///         "arguments": { "command": ["ls"] } },
///       { "type": "completed",
///         "usage": { "input_tokens": 120, "output_tokens": 30, "total_tokens": 150 } }
///     ] },
///     { "steps": [
///       { "type": "text_delta", "delta": "Two files" },
///       { "type": "gate", "name": "mid-answer" },
///       { "type": "message", "text": "Two files.", "deltas": ["."] }
///     ] },
///     { "steps": [
///       { "type": "error", "kind": "context_window_exceeded", "message": "too long" }
///     ] }
///   ]
/// }"#).unwrap();
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let prompt = Prompt::new("be brief", vec![ResponseItem::user_text("what is here?")]);
/// let events: Vec<_> = model.stream(&prompt, CancellationToken::new()).collect().await;
/// assert!(matches!(events[0], Ok(ResponseEvent::Created { .. })));
/// assert_eq!(events.len(), 6); // created, 2 deltas, message, call, completed
/// assert_eq!(model.prompts()[0].input, prompt.input);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct ScriptedModel {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    info: Mutex<ModelInfo>,
    turns: Mutex<VecDeque<ScriptedTurn>>,
    // Shared with the caller: recording a prompt copies no history.
    prompts: Mutex<Vec<Arc<Prompt>>>,
    gates: Mutex<HashMap<String, Gate>>,
}

impl ScriptedModel {
    /// A model that answers requests with these turns, in order.
    pub fn new(turns: impl IntoIterator<Item = ScriptedTurn>) -> Self {
        Self::from_script(Script {
            model_info: ModelInfo::default(),
            turns: turns.into_iter().collect(),
        })
    }

    /// A model that plays this script.
    pub fn from_script(script: Script) -> Self {
        ScriptedModel {
            shared: Arc::new(Shared {
                info: Mutex::new(script.model_info),
                turns: Mutex::new(script.turns.into()),
                prompts: Mutex::new(Vec::new()),
                gates: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A model that plays the script in this JSON text (the format is in the type's docs).
    pub fn from_json_str(json: &str) -> Result<Self, Error> {
        let script: Script = serde_json::from_str(json).map_err(|source| Error::LoadScript {
            origin: "JSON text".to_owned(),
            source: Box::new(source),
        })?;
        Ok(Self::from_script(script))
    }

    /// A model that plays the script in this JSON file (the format is in the type's docs).
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::LoadScript {
            origin: origin.clone(),
            source: Box::new(source),
        })?;
        let script: Script = serde_json::from_str(&text).map_err(|source| Error::LoadScript {
            origin,
            source: Box::new(source),
        })?;
        Ok(Self::from_script(script))
    }

    /// The same model reporting other info (its clones too).
    pub fn with_info(self, info: ModelInfo) -> Self {
        *lock(&self.shared.info) = info;
        self
    }

    /// Appends a turn to the script.
    pub fn push_turn(&self, turn: ScriptedTurn) {
        lock(&self.shared.turns).push_back(turn);
    }

    /// Every prompt received so far, in order, as the model saw it (model-invisible items removed).
    pub fn prompts(&self) -> Vec<Prompt> {
        lock(&self.shared.prompts)
            .iter()
            .map(|prompt| as_seen(prompt))
            .collect()
    }

    /// The last prompt received, if any.
    pub fn last_prompt(&self) -> Option<Prompt> {
        lock(&self.shared.prompts)
            .last()
            .map(|prompt| as_seen(prompt))
    }

    /// How many requests were made.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.prompts).len()
    }

    /// How many scripted turns are still unplayed.
    pub fn remaining_turns(&self) -> usize {
        lock(&self.shared.turns).len()
    }

    /// The gate of this name, shared by every stream and by the test.
    pub fn gate(&self, name: &str) -> Gate {
        lock(&self.shared.gates)
            .entry(name.to_owned())
            .or_insert_with(Gate::new)
            .clone()
    }
}

/// A recorded prompt as the model saw it: the model-invisible items left out when it is read,
/// not when it is recorded, so a request costs no copy of the history.
fn as_seen(prompt: &Prompt) -> Prompt {
    Prompt {
        input: if prompt.input.iter().all(ResponseItem::is_model_visible) {
            prompt.input.clone()
        } else {
            prompt.model_visible_input().cloned().collect()
        },
        instructions: prompt.instructions.clone(),
        tools: prompt.tools.clone(),
        parallel_tool_calls: prompt.parallel_tool_calls,
        output_schema: prompt.output_schema.clone(),
    }
}

impl ModelClient for ScriptedModel {
    fn info(&self) -> ModelInfo {
        *lock(&self.shared.info)
    }

    fn stream(&self, prompt: &Prompt, cancellation: CancellationToken) -> ResponseStream {
        self.stream_shared(Arc::new(prompt.clone()), cancellation)
    }

    fn stream_shared(
        &self,
        prompt: Arc<Prompt>,
        cancellation: CancellationToken,
    ) -> ResponseStream {
        let request_number = {
            let mut prompts = lock(&self.shared.prompts);
            prompts.push(prompt);
            prompts.len()
        };
        let turn = lock(&self.shared.turns).pop_front();
        let player = Player {
            model: self.clone(),
            cancellation,
            response_id: format!("scripted-{request_number}"),
            steps: turn.map(|turn| turn.steps.into()),
            pending: VecDeque::new(),
            created_sent: false,
            finished: false,
        };
        Box::pin(futures_util::stream::unfold(
            player,
            |mut player| async move {
                let item = player.next().await?;
                Some((item, player))
            },
        ))
    }
}

/// A point where a scripted stream waits until the test lets it through.
///
/// Each [`release`](Gate::release) lets one stream pass; a release that comes before any
/// stream arrives is kept for the next one.
#[derive(Clone, Debug)]
pub struct Gate {
    passes: Arc<Semaphore>,
    arrivals: watch::Sender<usize>,
}

impl Gate {
    fn new() -> Self {
        Gate {
            passes: Arc::new(Semaphore::new(0)),
            arrivals: watch::Sender::new(0),
        }
    }

    /// Lets one stream waiting at this gate (now or later) go on.
    pub fn release(&self) {
        self.passes.add_permits(1);
    }

    /// How many times a stream arrived at this gate.
    pub fn arrivals(&self) -> usize {
        *self.arrivals.borrow()
    }

    /// Waits until a stream has arrived at this gate at least once.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future changes nothing.
    pub async fn reached(&self) {
        let mut arrivals = self.arrivals.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = arrivals.wait_for(|count| *count > 0).await;
    }

    async fn pass(&self, cancellation: &CancellationToken) -> Result<(), Error> {
        self.arrivals.send_modify(|count| *count += 1);
        tokio::select! {
            biased;
            () = cancellation.cancelled() => Err(Error::Cancelled),
            permit = self.passes.acquire() => {
                // The semaphore is never closed, so acquiring only waits.
                if let Ok(permit) = permit {
                    permit.forget();
                }
                Ok(())
            }
        }
    }
}

struct Player {
    model: ScriptedModel,
    cancellation: CancellationToken,
    response_id: String,
    /// `None` when the script had no turn left for this request.
    steps: Option<VecDeque<ScriptStep>>,
    pending: VecDeque<ResponseEvent>,
    created_sent: bool,
    finished: bool,
}

impl Player {
    async fn next(&mut self) -> Option<Result<ResponseEvent, Error>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if self.finished {
                return None;
            }
            if self.cancellation.is_cancelled() {
                return Some(Err(self.finish(Error::Cancelled)));
            }
            let Some(steps) = self.steps.as_mut() else {
                let message = format!(
                    "response {} has no scripted turn left to play; add a turn to the script",
                    self.response_id
                );
                return Some(Err(self.finish(Error::Script { message })));
            };
            let Some(step) = steps.pop_front() else {
                self.ensure_created();
                self.pending.push_back(ResponseEvent::Completed {
                    response_id: Some(self.response_id.clone()),
                    usage: None,
                    incomplete_reason: None,
                });
                self.finished = true;
                continue;
            };
            if let Err(error) = self.play(step).await {
                return Some(Err(self.finish(error)));
            }
        }
    }

    async fn play(&mut self, step: ScriptStep) -> Result<(), Error> {
        match step {
            ScriptStep::Created { response_id } => {
                if let Some(response_id) = response_id.clone() {
                    self.response_id = response_id;
                }
                self.created_sent = true;
                self.pending
                    .push_back(ResponseEvent::Created { response_id });
            }
            ScriptStep::TextDelta { delta } => {
                self.ensure_created();
                self.pending
                    .push_back(ResponseEvent::OutputTextDelta { delta });
            }
            ScriptStep::ReasoningDelta { delta } => {
                self.ensure_created();
                self.pending
                    .push_back(ResponseEvent::ReasoningDelta { delta });
            }
            ScriptStep::Message { text, deltas } => self.message(text, deltas),
            ScriptStep::Reasoning { text } => self.reasoning(text),
            ScriptStep::FunctionCall {
                call_id,
                name,
                arguments,
            } => {
                self.function_call(call_id, name, arguments);
            }
            ScriptStep::Item { item } => {
                self.ensure_created();
                self.pending
                    .push_back(ResponseEvent::OutputItemDone { item });
            }
            ScriptStep::Completed { usage } => {
                self.ensure_created();
                self.pending.push_back(ResponseEvent::Completed {
                    response_id: Some(self.response_id.clone()),
                    usage,
                    incomplete_reason: None,
                });
                self.finished = true;
            }
            ScriptStep::Retrying {
                attempt,
                max_attempts,
                delay_ms,
                message,
            } => {
                self.pending.push_back(ResponseEvent::Retrying {
                    attempt,
                    max_attempts,
                    delay_ms,
                    message,
                });
            }
            ScriptStep::Error { kind, message } => return Err(Error::from_kind(kind, message)),
            // `next` hands out every queued event before it plays a step, so nothing the script
            // produced earlier is held back while these wait.
            ScriptStep::Gate { name } => self.model.gate(&name).pass(&self.cancellation).await?,
            ScriptStep::Sleep { ms } => {
                tokio::select! {
                    biased;
                    () = self.cancellation.cancelled() => return Err(Error::Cancelled),
                    () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                }
            }
        }
        Ok(())
    }

    fn message(&mut self, text: String, deltas: Option<Vec<String>>) {
        self.ensure_created();
        let deltas = deltas.unwrap_or_else(|| vec![text.clone()]);
        self.pending.extend(
            deltas
                .into_iter()
                .filter(|delta| !delta.is_empty())
                .map(|delta| ResponseEvent::OutputTextDelta { delta }),
        );
        self.pending.push_back(ResponseEvent::OutputItemDone {
            item: ResponseItem::assistant_text(text),
        });
    }

    fn reasoning(&mut self, text: String) {
        self.ensure_created();
        self.pending.push_back(ResponseEvent::ReasoningDelta {
            delta: text.clone(),
        });
        self.pending.push_back(ResponseEvent::OutputItemDone {
            item: ResponseItem::Reasoning {
                summary: vec![text],
                content: None,
            },
        });
    }

    fn function_call(&mut self, call_id: String, name: String, arguments: serde_json::Value) {
        self.ensure_created();
        let arguments = match arguments {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        self.pending.push_back(ResponseEvent::OutputItemDone {
            item: ResponseItem::FunctionCall {
                call_id,
                name,
                arguments,
            },
        });
    }

    fn ensure_created(&mut self) {
        if !self.created_sent {
            self.created_sent = true;
            self.pending.push_back(ResponseEvent::Created {
                response_id: Some(self.response_id.clone()),
            });
        }
    }

    fn finish(&mut self, error: Error) -> Error {
        self.finished = true;
        self.pending.clear();
        self.steps = Some(VecDeque::new());
        error
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
