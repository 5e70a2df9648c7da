//! `route_by_task`: let the router pick the model for a kind of work, explain the choice, and
//! (unless `dry_run`) ask it. With `dry_run` an agent can use the decision to pick a sub-model
//! itself.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::App;
use crate::error::Error;
use crate::pipeline::{self, Answer, Ctx};
use crate::routing::{self, Task};
use crate::tools::input::{Conversation, fallback_ids, reject_unknown};
use crate::upstream::ChatRequest;
use crate::upstream::types::Sampling;

pub const NAME: &str = "route_by_task";
pub const DESCRIPTION: &str = "Pick a model for a task, then ask it. dry_run=true returns only the decision \
(chosen_model, reason, fallback_chain): no call, no cost.";

/// Arguments of `route_by_task`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The kind of work.
    pub task: Task,
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Models to try in order if the chosen one fails (default: the task's chain).
    #[serde(default)]
    pub fallback_models: Vec<String>,
    /// Only decide; do not call the model.
    #[serde(default)]
    #[schemars(default = "no_default")]
    pub dry_run: bool,
    #[serde(flatten)]
    pub sampling: Sampling,
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: Map<String, Value>,
}

/// Leaves `default` out of the schema (the description says it).
fn no_default() -> Option<bool> {
    None
}

/// Output of `route_by_task`: the decision, then the answer when the model was called.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub chosen_model: String,
    pub task: Task,
    /// Why this model.
    pub reason: String,
    /// Models to try next, in order, if the chosen one fails.
    pub fallback_chain: Vec<String>,
    pub dry_run: bool,
    #[serde(flatten)]
    pub answer: Option<Answer>,
}

pub async fn execute(app: &App, input: Input, ctx: &Ctx) -> Result<Output, Error> {
    // parse
    reject_unknown::<Input>(NAME, &input.unknown)?;
    input.sampling.check()?;
    let messages = input.conversation.into_messages()?;
    // decide
    let decision = routing::decide(&app.catalog, input.task);
    let fallbacks = if input.fallback_models.is_empty() {
        decision.fallbacks
    } else {
        fallback_ids(app, &input.fallback_models)?
    };
    let mut out = Output {
        chosen_model: decision.chosen.clone(),
        task: decision.task,
        reason: decision.reason,
        fallback_chain: fallbacks,
        dry_run: input.dry_run,
        answer: None,
    };
    if input.dry_run {
        return Ok(out);
    }
    // call + account
    let request = ChatRequest::new(decision.chosen, messages, input.sampling);
    out.answer = Some(pipeline::call(app, request, &out.fallback_chain, ctx).await?);
    Ok(out)
}

/// The decision, then the answer.
pub fn text(out: &Output) -> String {
    let mut s = format!(
        "{}\nfallbacks: {}",
        out.reason,
        if out.fallback_chain.is_empty() {
            "none".to_owned()
        } else {
            out.fallback_chain.join(" → ")
        }
    );
    match &out.answer {
        Some(a) => {
            s.push_str("\n\n");
            s.push_str(&a.to_text());
        }
        None => s.push_str("\n(dry run: no model was called)"),
    }
    s
}
