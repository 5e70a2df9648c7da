//! `route_by_task`: let the router pick the model for a kind of work — given, or classified
//! from the prompt with `task: "auto"` — within the caller's price, capability and context
//! constraints; explain the choice with the signals and an exact cost estimate; and (unless
//! `dry_run`) ask it. With `dry_run` an agent can use the decision to pick a sub-model itself.

use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::App;
use crate::catalog::Capability;
use crate::error::{Error, invalid};
use crate::pipeline::{self, Answer, Ctx};
use crate::routing::classify::{self, PromptText, Signals};
use crate::routing::{self, Constraints, Prefer, Query, Task};
use crate::tools::input::{Conversation, fallback_ids, reject_unknown};
use crate::upstream::ChatRequest;
use crate::upstream::types::{Sampling, WireMessage};

pub const NAME: &str = "route_by_task";
pub const DESCRIPTION: &str = "Pick a model for a task (auto: classify the prompt) within price and \
capability limits, explain why, then ask it. dry_run=true: the decision and cost estimate only, no call.";

/// Answer tokens assumed for the estimate when `max_tokens` is not given.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 1024;
/// The most images attached from a prompt (as the `vision` tool).
const MAX_IMAGES: usize = 16;

/// `task`: a task name, or `auto` to classify the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskChoice {
    Auto,
    Given(Task),
}

impl<'de> Deserialize<'de> for TaskChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if name == "auto" {
            return Ok(TaskChoice::Auto);
        }
        Task::from_name(&name)
            .map(TaskChoice::Given)
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "unknown task '{name}'; expected one of: {}",
                    task_names().join(", ")
                ))
            })
    }
}

fn task_names() -> Vec<&'static str> {
    std::iter::once("auto")
        .chain(Task::ALL.iter().map(|t| t.as_str()))
        .collect()
}

fn task_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": task_names()})
}

/// Arguments of `route_by_task`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The kind of work; auto classifies the prompt.
    #[schemars(schema_with = "task_schema")]
    pub task: TaskChoice,
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Max USD per 1M input tokens.
    #[serde(default)]
    pub max_input_price: Option<f64>,
    /// Max USD per 1M output tokens.
    #[serde(default)]
    pub max_output_price: Option<f64>,
    /// The model must have these.
    #[serde(default)]
    #[schemars(default = "no_default")]
    pub require: Vec<Capability>,
    /// Min context window, tokens.
    #[serde(default)]
    pub min_context: Option<u64>,
    /// quality (default), cheap or fast.
    #[serde(default)]
    pub prefer: Option<Prefer>,
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
    /// The task routed: as given, or as classified.
    // A plain string in the output schema: the input schema lists the tasks already, and
    // tools/list is kept small.
    #[schemars(with = "String")]
    pub task: Task,
    /// Why this model.
    pub reason: String,
    /// What the classifier saw.
    pub signals: Signals,
    /// Models to try next, in order, if the chosen one fails.
    pub fallback_chain: Vec<String>,
    /// The chosen model's price × the estimated tokens; absent when it has no price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_cost_usd: Option<f64>,
    pub dry_run: bool,
    #[serde(flatten)]
    pub answer: Option<Answer>,
}

pub async fn execute(app: &App, input: Input, ctx: &Ctx) -> Result<Output, Error> {
    // parse
    reject_unknown::<Input>(NAME, &input.unknown)?;
    input.sampling.check()?;
    let constraints = Constraints {
        max_input_price: price("max_input_price", input.max_input_price)?,
        max_output_price: price("max_output_price", input.max_output_price)?,
        require: input.require.clone(),
        min_context: input.min_context,
    };
    let mut messages = input.conversation.into_messages()?;
    let user_text = user_text(&messages);
    let prompt_tokens =
        classify::conversation_tokens(messages.iter().filter_map(|m| m.content.as_str()));
    let (output_tokens, output_basis) = match input.sampling.max_tokens {
        Some(n) => (u64::from(n), "max_tokens"),
        None => (DEFAULT_OUTPUT_TOKENS, "assumed; set max_tokens to bound it"),
    };
    // decide: classify, then choose under the constraints
    let class = classify::classify(PromptText {
        user: &user_text,
        approx_tokens: prompt_tokens,
    });
    let (task, task_note) = match input.task {
        TaskChoice::Auto => (
            class.task,
            format!("Classified as {}: {}.", class.task, class.why),
        ),
        TaskChoice::Given(t) => (t, format!("Task {t} (given).")),
    };
    crate::ledger::context::set_task(task.as_str());
    let live = app.live_ids();
    let decision = routing::decide(
        &app.catalog,
        &Query {
            task,
            constraints: &constraints,
            prefer: input.prefer.unwrap_or_default(),
            prompt_tokens,
            output_tokens,
            live: &live,
        },
    )?;
    let fallbacks = if input.fallback_models.is_empty() {
        decision.fallbacks
    } else {
        fallback_ids(app, &input.fallback_models)?
    };
    let mut reason = format!("{task_note} {}.", capitalized(&decision.reason));
    match decision.estimated_cost {
        Some(usd) => reason.push_str(&format!(
            " Estimated {} for ~{prompt_tokens} prompt tokens and {output_tokens} answer tokens \
             ({output_basis}).",
            dollars(usd)
        )),
        None => reason.push_str(" The model has no catalog price, so there is no estimate."),
    }
    if task == Task::Vision {
        reason.push_str(&attach_images(&mut messages));
    }
    let mut out = Output {
        chosen_model: decision.chosen.clone(),
        task,
        reason,
        signals: class.signals,
        fallback_chain: fallbacks,
        estimated_cost_usd: decision.estimated_cost.and_then(|d| d.to_f64()),
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

/// A price cap argument as an exact decimal.
fn price(name: &str, value: Option<f64>) -> Result<Option<Decimal>, Error> {
    let Some(v) = value else { return Ok(None) };
    let bad = || {
        invalid(format!(
            "{name} must be a non-negative number of USD per 1M tokens, got {v}"
        ))
    };
    if !v.is_finite() || v < 0.0 {
        return Err(bad());
    }
    // `f64`'s Display is the shortest text that reads back as the same number: 0.07 → "0.07".
    Decimal::from_str(&v.to_string())
        .map(Some)
        .map_err(|_| bad())
}

/// The user's turns, joined: what the classifier reads.
fn user_text(messages: &[WireMessage]) -> String {
    messages
        .iter()
        .filter(|m| m.role == "user")
        .filter_map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// For a vision route: attaches the image URLs and `data:image` URIs found in each user
/// message as image parts (the text stays as written). Returns a note for the reason.
fn attach_images(messages: &mut [WireMessage]) -> String {
    let mut attached = 0;
    for m in messages.iter_mut().filter(|m| m.role == "user") {
        let Some(text) = m.content.as_str() else {
            continue;
        };
        let urls = classify::attachable_images(text);
        if urls.is_empty() || attached >= MAX_IMAGES {
            continue;
        }
        let mut parts = vec![json!({"type": "text", "text": text})];
        for url in urls.into_iter().take(MAX_IMAGES - attached) {
            parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            attached += 1;
        }
        m.content = Value::Array(parts);
    }
    match attached {
        0 => " No image was attached: put an https image URL in the prompt, or use the vision \
              tool (it also reads local files)."
            .to_owned(),
        1 => " Attached 1 image from the prompt.".to_owned(),
        n => format!(" Attached {n} images from the prompt."),
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A cost for a sentence: six decimals, or "under $0.000001".
fn dollars(usd: Decimal) -> String {
    let rounded = usd.round_dp(6).normalize();
    if rounded.is_zero() && !usd.is_zero() {
        "under $0.000001".to_owned()
    } else {
        format!("${rounded}")
    }
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
