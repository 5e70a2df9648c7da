//! `chat`: ask one model, get its answer with the model served, tokens, cost and latency.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::App;
use crate::error::{Error, invalid};
use crate::pipeline::{self, Answer, Ctx};
use crate::tools::input::{Conversation, fallback_ids, model_id, reject_unknown};
use crate::upstream::ChatRequest;
use crate::upstream::style::Style;
use crate::upstream::types::{FineSampling, FunctionCalling, Sampling};

pub const NAME: &str = "chat";
pub const DESCRIPTION: &str = "Ask another LLM (GPT, Claude, Gemini, DeepSeek, Qwen…). \
Returns the answer with the model served, tokens, cost_usd, cost_source, latency_ms.";

/// Arguments of `chat`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// Model id or alias, e.g. gpt-4.1, claude-sonnet-4-5 Default gpt-4.1-mini.
    #[serde(default)]
    pub model: Option<String>,
    /// Models to try in order if model fails.
    #[serde(default)]
    pub fallback_models: Vec<String>,
    /// Wire format: openai (default), or gemini/anthropic for the native route.
    #[serde(default)]
    pub api: Option<String>,
    #[serde(flatten)]
    pub conversation: Conversation,
    #[serde(flatten)]
    pub sampling: Sampling,
    #[serde(flatten)]
    pub fine: FineSampling,
    #[serde(flatten)]
    pub functions: FunctionCalling,
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: Map<String, Value>,
}

/// Output of `chat`.
pub type Output = Answer;

pub async fn execute(app: &App, input: Input, ctx: &Ctx) -> Result<Answer, Error> {
    // parse
    reject_unknown::<Input>(NAME, &input.unknown)?;
    input.sampling.check()?;
    input.fine.check()?;
    let api = input
        .api
        .as_deref()
        .map(|a| Style::parse(a).map_err(|m| invalid(format!("api: {m}"))))
        .transpose()?;
    let messages = input.conversation.into_messages()?;
    // decide
    let model = model_id(app, input.model.as_deref(), &app.catalog.default_model)?;
    let fallbacks = fallback_ids(app, &input.fallback_models)?;
    // call + account
    let request = ChatRequest {
        model,
        messages,
        sampling: input.sampling,
        fine: input.fine,
        functions: input.functions,
        api,
    };
    pipeline::call(app, request, &fallbacks, ctx).await
}
