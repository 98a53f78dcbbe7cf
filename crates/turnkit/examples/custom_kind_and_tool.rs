//! A downstream task kind and a downstream tool, registered next to turnkit's own.
//!
//! Run it with `cargo run -p turnkit --example custom_kind_and_tool`. It needs only the
//! `turnkit` crate (and tokio): the facade re-exports `async_trait` and `serde_json`.
//!
//! - `CountWords` is a task kind of its own, started with `Op::Custom { name: "count_words" }`;
//!   the session gives it the same lifecycle as a built-in kind (`task_started`, one terminal
//!   event, interrupt and abort handling).
//! - `WordCount` is a tool: every agent turn offers it to the model next to `shell` and
//!   `apply_patch`, and runs it when the model calls it. A scripted model plays the turn here,
//!   so the example runs offline; swap in `turnkit::model_openai::OpenAiClient` for a real one.

use std::sync::Arc;

use turnkit::model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit::serde_json::{self, json};
use turnkit::{
    CancellationToken, EventMsg, Op, SessionTask, TaskContext, TaskKind, TaskRegistration,
    TaskResult, Tool, ToolOutput, ToolSpec, UserInput,
};

const COUNT_WORDS: TaskKind = TaskKind::from_static("count_words");

/// A task kind: counts the words of its payload and says so as an agent message.
struct CountWords(String);

#[turnkit::async_trait]
impl SessionTask for CountWords {
    fn kind(&self) -> TaskKind {
        COUNT_WORDS
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        if cancellation_token.is_cancelled() {
            return Ok(None);
        }
        let words = self.0.split_whitespace().count();
        ctx.send_event(EventMsg::AgentMessage {
            message: format!("{words} words"),
        });
        Ok(Some(words.to_string()))
    }
}

/// A tool: the model calls `word_count { "text": ... }` and reads the count.
struct WordCount;

#[turnkit::async_trait]
impl Tool for WordCount {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "word_count",
            "Counts the words of a text.",
            json!({
                "type": "object",
                "properties": { "text": { "type": "string" } },
                "required": ["text"]
            }),
        )
    }

    async fn call(
        &self,
        _ctx: Arc<TaskContext>,
        _call_id: &str,
        arguments: serde_json::Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        match arguments.get("text").and_then(serde_json::Value::as_str) {
            Some(text) => ToolOutput::success(text.split_whitespace().count().to_string()),
            // The model reads this and can correct its call; a tool never panics on input.
            None => ToolOutput::failure("word_count needs a `text` string"),
        }
    }
}

/// Shows each event of one operation until its terminal event.
async fn run(session: &mut turnkit::Session, op: Op) -> Result<(), Box<dyn std::error::Error>> {
    let id = session.submit(op)?;
    let mut started = false;
    while let Some(event) = session.next_event().await {
        println!("{}", serde_json::to_string(&event)?);
        if event.id != id {
            continue;
        }
        match event.msg {
            EventMsg::TaskStarted { .. } => started = true,
            // An error before `task_started` is the session refusing the operation (a kind
            // this build lacks); no terminal event follows.
            EventMsg::Error { message } if !started => return Err(message.into()),
            msg if msg.is_terminal() => break,
            _ => {}
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call(
            "call-1",
            "word_count",
            json!({ "text": "one two three" }),
        ),
        ScriptedTurn::new().message("The text has three words."),
    ]);
    let project = tempfile::tempdir()?;
    let mut session = turnkit::builder()
        .cwd(project.path())
        .service(Arc::new(model) as Arc<dyn ModelClient>)
        .tool(WordCount)
        .task(TaskRegistration::new(COUNT_WORDS, |op| match op {
            Op::Custom { payload, .. } => Ok(Arc::new(CountWords(
                payload.as_str().unwrap_or_default().to_owned(),
            ))),
            _ => Err("count_words takes a string payload".into()),
        }))
        .build()?;

    run(
        &mut session,
        Op::Custom {
            name: COUNT_WORDS.to_string(),
            payload: "four words right here".into(),
        },
    )
    .await?;
    run(
        &mut session,
        Op::UserInput {
            items: vec![UserInput::text("How many words are in 'one two three'?")],
        },
    )
    .await?;
    Ok(())
}
