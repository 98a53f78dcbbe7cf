//! Which model answers a turn: a scripted one from a file, or an OpenAI-compatible server.

use std::sync::Arc;

use anyhow::Context;
use turnkit::SessionBuilder;
use turnkit::model::{ModelClient, ScriptedModel};
use turnkit::model_openai::{DEFAULT_BASE_URL, OpenAiClient, OpenAiConfig, WireApi};
use turnkit::tasks_regular::{DEFAULT_MAX_PARALLEL_SUBAGENTS, SubagentTool};

use crate::args::{ModelArgs, WireApiArg};

/// The model used when neither `--model` nor the environment names one.
pub(crate) const DEFAULT_MODEL: &str = "gpt-5";

/// The model a session talks to, and the tools that come with the flags; clones share the
/// client (a scripted model's turns too).
#[derive(Clone)]
pub(crate) struct Model {
    client: Arc<dyn ModelClient>,
    subagents: bool,
}

impl Model {
    /// The model the flags and the environment describe; see [`model_client`].
    pub(crate) fn from_args(args: &ModelArgs) -> anyhow::Result<Self> {
        Ok(Model {
            client: model_client(args)?,
            subagents: args.subagents,
        })
    }

    /// Registers the model client, and the `subagent` tool when asked for.
    pub(crate) fn install(self, builder: SessionBuilder) -> SessionBuilder {
        let builder = builder.service(self.client);
        if self.subagents {
            builder.tool(SubagentTool::new(DEFAULT_MAX_PARALLEL_SUBAGENTS))
        } else {
            builder
        }
    }
}

/// Builds the model client the flags and the environment describe.
///
/// A missing API key for OpenAI's own endpoint is an error here, before any session starts,
/// so a user never waits for a request that can only fail.
fn model_client(args: &ModelArgs) -> anyhow::Result<Arc<dyn ModelClient>> {
    if let Some(path) = &args.scripted {
        let model = ScriptedModel::from_json_file(path)
            .with_context(|| format!("cannot play the scripted model in {}", path.display()))?;
        return Ok(Arc::new(model));
    }
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    let model = args
        .model
        .clone()
        .or_else(|| env("TURNKIT_MODEL"))
        .or_else(|| env("OPENAI_MODEL"))
        .unwrap_or_else(|| DEFAULT_MODEL.to_owned());
    let mut config = OpenAiConfig::from_lookup(|name| match name {
        "TURNKIT_MODEL" => Some(model.clone()),
        _ => env(name),
    })
    .context("the model settings in the environment are not valid")?;
    if let Some(base_url) = &args.base_url {
        config.base_url.clone_from(base_url);
    }
    config.wire_api = match args.api {
        WireApiArg::Responses => WireApi::Responses,
        WireApiArg::Chat => WireApi::ChatCompletions,
    };
    let default_endpoint = config.base_url.trim_end_matches('/') == DEFAULT_BASE_URL;
    if default_endpoint && config.api_key.is_none() {
        return Err(anyhow::Error::new(crate::Usage).context(
            "OPENAI_API_KEY is not set, and OpenAI's API needs it\n\
             hint: export OPENAI_API_KEY=..., or use a local server with \
             --base-url http://localhost:11434/v1 --api chat (Ollama), \
             or try it offline with `turnkit demo` or `--scripted FILE`",
        ));
    }
    let client = OpenAiClient::new(config).context("cannot set up the model client")?;
    Ok(Arc::new(client))
}
