//! The agent turn through the facade alone, as a new user writes it: a scripted model, a tool
//! of their own registered on the builder, and a turn that calls it.

#![cfg(all(feature = "regular", feature = "testkit"))]

use std::sync::Arc;

use turnkit::model::{ModelClient, ScriptedModel, ScriptedTurn};
use turnkit::testkit::TestSession;
use turnkit::{
    CancellationToken, EventMsg, Op, ResponseItem, TaskContext, Tool, ToolOutput, ToolSpec,
    UserInput, parse_arguments,
};

/// A downstream tool: says how many words a text has.
struct CountWords;

#[derive(serde::Deserialize)]
struct CountWordsArguments {
    text: String,
}

#[turnkit::async_trait]
impl Tool for CountWords {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "count_words",
            "Counts the words of a text.",
            turnkit::serde_json::json!({
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
        arguments: turnkit::serde_json::Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        match parse_arguments::<CountWordsArguments>("count_words", arguments) {
            Ok(arguments) => {
                ToolOutput::success(arguments.text.split_whitespace().count().to_string())
            }
            Err(output) => output,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_downstream_tool_registered_on_the_builder_is_offered_and_called() {
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call(
            "call-1",
            "count_words",
            turnkit::serde_json::json!({ "text": "one two three" }),
        ),
        ScriptedTurn::new().message("Three words."),
    ]);
    let builder = turnkit::builder()
        .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
        .tool(CountWords);
    let mut session = TestSession::from_builder(builder).build();

    let events = session
        .run(Op::UserInput {
            items: vec![UserInput::text("how many words in 'one two three'?")],
        })
        .await;

    assert_eq!(
        events.last().map(|event| &event.msg),
        Some(&EventMsg::TaskComplete {
            last_agent_message: Some("Three words.".into())
        })
    );
    let prompts = model.prompts();
    assert!(
        prompts[0]
            .tools
            .iter()
            .any(|tool| tool.name == "count_words")
    );
    assert!(
        prompts[1]
            .input
            .contains(&ResponseItem::FunctionCallOutput {
                call_id: "call-1".into(),
                output: "3".into(),
                success: Some(true),
            })
    );
}

/// A downstream tool that reads the session's history in place, without copying it.
struct HistoryLength;

#[turnkit::async_trait]
impl Tool for HistoryLength {
    fn spec(&self) -> ToolSpec {
        ToolSpec::function(
            "history_length",
            "Says how many items the conversation has.",
            turnkit::serde_json::json!({ "type": "object" }),
        )
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        _call_id: &str,
        _arguments: turnkit::serde_json::Value,
        _cancellation_token: CancellationToken,
    ) -> ToolOutput {
        ToolOutput::success(ctx.with_history(turnkit::ItemList::len).to_string())
    }
}

#[tokio::test(start_paused = true)]
async fn a_tool_reads_the_history_in_place_and_each_request_sends_all_of_it() {
    let model = ScriptedModel::new([
        ScriptedTurn::new().function_call(
            "call-1",
            "history_length",
            turnkit::serde_json::json!({}),
        ),
        ScriptedTurn::new().message("Two items."),
    ]);
    let builder = turnkit::builder()
        .service(Arc::new(model.clone()) as Arc<dyn ModelClient>)
        .tool(HistoryLength);
    let mut session = TestSession::from_builder(builder).build();

    session
        .run(Op::UserInput {
            items: vec![UserInput::text("how long is this conversation?")],
        })
        .await;

    // The question and the call were in the history when the tool ran.
    let output = ResponseItem::FunctionCallOutput {
        call_id: "call-1".into(),
        output: "2".into(),
        success: Some(true),
    };
    let prompts = model.prompts();
    assert_eq!(prompts.len(), 2);
    assert_eq!(
        prompts[0].input,
        vec![ResponseItem::user_text("how long is this conversation?")]
    );
    assert_eq!(prompts[1].input.len(), 3);
    assert_eq!(
        prompts[1].input.to_vec()[..1],
        prompts[0].input.to_vec()[..]
    );
    assert_eq!(prompts[1].input[2], output);
}
