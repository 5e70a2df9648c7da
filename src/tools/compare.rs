//! `compare_models`: send the same conversation to 2–10 models at once and compare the
//! answers, latency and cost side by side. One model failing does not fail the call. When the
//! caller wants progress, a status line goes out as each model finishes; the answers
//! themselves are not streamed (interleaved text from ten models would help no one).

use futures::future::join_all;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::App;
use crate::error::{Error, invalid};
use crate::ledger::{CostSource, Tokens};
use crate::pipeline::{self, Answer, Ctx};
use crate::tools::input::{Conversation, reject_unknown};
use crate::upstream::ChatRequest;
use crate::upstream::types::Sampling;

pub const NAME: &str = "compare_models";
pub const DESCRIPTION: &str = "Send one prompt to 2–10 models at once; compare answers, latency and cost. \
Failures are reported per model.";

const MIN_MODELS: usize = 2;
const MAX_MODELS: usize = 10;

/// Arguments of `compare_models`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// 2–10 model ids or aliases.
    pub models: Vec<String>,
    #[serde(flatten)]
    pub conversation: Conversation,
    #[serde(flatten)]
    pub sampling: Sampling,
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: Map<String, Value>,
}

/// One model's outcome.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModelResult {
    /// The model as requested (after alias resolution).
    pub model: String,
    pub ok: bool,
    /// The model that actually served the request, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_model: Option<String>,
    /// The provider that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Tokens>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_source: Option<CostSource>,
    #[serde(skip)]
    pub cost_exact: Option<Decimal>,
}

/// Who won.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Summary {
    /// The model with the lowest latency among those that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fastest: Option<String>,
    /// The model with the lowest known cost among those that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cheapest: Option<String>,
    /// Sum of the known costs.
    pub total_cost_usd: f64,
}

/// Output of `compare_models`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub results: Vec<ModelResult>,
    pub summary: Summary,
}

pub async fn execute(app: &App, input: Input, ctx: &Ctx) -> Result<Output, Error> {
    // parse
    reject_unknown::<Input>(NAME, &input.unknown)?;
    input.sampling.check()?;
    if !(MIN_MODELS..=MAX_MODELS).contains(&input.models.len()) {
        return Err(invalid(format!(
            "models must list {MIN_MODELS} to {MAX_MODELS} models, got {}",
            input.models.len()
        )));
    }
    let messages = input.conversation.into_messages()?;
    // decide
    let mut ids: Vec<String> = Vec::with_capacity(input.models.len());
    for (i, m) in input.models.iter().enumerate() {
        if m.trim().is_empty() {
            return Err(invalid(format!("models[{i}] is empty")));
        }
        let id = app.resolve_model(m);
        if ids.contains(&id) {
            return Err(invalid(format!(
                "models[{i}]: '{m}' is listed twice (as {id}); each model once"
            )));
        }
        ids.push(id);
    }
    // call + account, concurrently (the budget counts the fan-out as one call)
    crate::ledger::budget::admit_all(app, &ids, &messages, &input.sampling).await?;
    let quiet = ctx.quiet();
    let calls = ids.iter().map(|id| {
        let request = ChatRequest::new(id.clone(), messages.clone(), input.sampling.clone());
        let quiet = &quiet;
        async move {
            let started = std::time::Instant::now();
            let outcome = pipeline::call(app, request, &[], quiet).await;
            let elapsed = started.elapsed();
            if !ctx.ct.is_cancelled() {
                ctx.status(finished(id, &outcome, elapsed));
            }
            (outcome, elapsed)
        }
    });
    let outcomes = join_all(calls).await;
    let results: Vec<ModelResult> = ids
        .into_iter()
        .zip(outcomes)
        .map(|(model, (outcome, elapsed))| match outcome {
            Ok(a) => success(model, a),
            Err(e) => ModelResult {
                model,
                ok: false,
                served_model: None,
                provider: None,
                content: None,
                error: Some(e.to_string()),
                latency_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                usage: None,
                cost_usd: None,
                cost_source: None,
                cost_exact: None,
            },
        })
        .collect();
    if ctx.ct.is_cancelled() {
        return Err(Error::Cancelled);
    }
    if !results.iter().any(|r| r.ok) {
        return Err(Error::AllModelsFailed {
            errors: results
                .iter()
                .map(|r| (r.model.clone(), r.error.clone().unwrap_or_default()))
                .collect(),
        });
    }
    let summary = summarise(&results);
    Ok(Output { results, summary })
}

/// The progress line for one model: "gpt-4.1 done in 812 ms, $0.002100".
fn finished(model: &str, outcome: &Result<Answer, Error>, elapsed: std::time::Duration) -> String {
    match outcome {
        Ok(a) => {
            let cost = match a.cost_usd {
                Some(usd) => format!("${usd:.6}"),
                None => "cost unknown".to_owned(),
            };
            format!("{model} done in {} ms, {cost}", a.latency_ms)
        }
        Err(e) => format!(
            "{model} failed after {} ms: {}",
            elapsed.as_millis(),
            e.kind()
        ),
    }
}

fn success(model: String, a: Answer) -> ModelResult {
    ModelResult {
        model,
        ok: true,
        served_model: Some(a.model),
        provider: Some(a.provider),
        content: Some(a.content),
        error: None,
        latency_ms: a.latency_ms,
        usage: Some(a.usage),
        cost_usd: a.cost_usd,
        cost_source: Some(a.cost_source),
        cost_exact: a.cost_exact,
    }
}

fn summarise(results: &[ModelResult]) -> Summary {
    let ok: Vec<&ModelResult> = results.iter().filter(|r| r.ok).collect();
    let fastest = ok
        .iter()
        .min_by_key(|r| r.latency_ms)
        .map(|r| r.model.clone());
    let cheapest = ok
        .iter()
        .filter_map(|r| r.cost_exact.map(|c| (c, r)))
        .min_by_key(|(c, _)| *c)
        .map(|(_, r)| r.model.clone());
    let total: Decimal = results.iter().filter_map(|r| r.cost_exact).sum();
    Summary {
        fastest,
        cheapest,
        total_cost_usd: total.to_f64().unwrap_or(0.0),
    }
}

/// A table of the results, then each answer in full.
pub fn text(out: &Output) -> String {
    let mut s = String::from("model | ok | latency | tokens in/out | cost\n");
    for r in &out.results {
        let tokens = r
            .usage
            .map(|u| format!("{}/{}", u.prompt_tokens, u.completion_tokens))
            .unwrap_or_else(|| "-".into());
        let cost = r
            .cost_usd
            .map(|c| format!("${c:.6}"))
            .unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "{} | {} | {} ms | {} | {}\n",
            r.model,
            if r.ok { "yes" } else { "no" },
            r.latency_ms,
            tokens,
            cost
        ));
    }
    let sum = &out.summary;
    s.push_str(&format!(
        "fastest: {} · cheapest: {} · total ${:.6}\n",
        sum.fastest.as_deref().unwrap_or("-"),
        sum.cheapest.as_deref().unwrap_or("-"),
        sum.total_cost_usd
    ));
    for r in &out.results {
        s.push_str(&format!("\n## {}\n", r.model));
        match (&r.content, &r.error) {
            (Some(c), _) => s.push_str(c),
            (None, Some(e)) => s.push_str(&format!("(failed) {e}")),
            _ => {}
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(model: &str, ok: bool, latency_ms: u64, cost: Option<&str>) -> ModelResult {
        let exact = cost.map(|c| c.parse::<Decimal>().unwrap());
        ModelResult {
            model: model.into(),
            ok,
            served_model: None,
            provider: None,
            content: None,
            error: None,
            latency_ms,
            usage: None,
            cost_usd: exact.and_then(|d| d.to_f64()),
            cost_source: None,
            cost_exact: exact,
        }
    }

    #[test]
    fn summary_ignores_failures_and_unknown_costs() {
        let s = summarise(&[
            r("a", true, 300, Some("0.0000644")),
            r("b", true, 100, None),
            r("c", false, 5, None),
            r("d", true, 200, Some("0.00001694")),
        ]);
        assert_eq!(s.fastest.as_deref(), Some("b"));
        assert_eq!(s.cheapest.as_deref(), Some("d"));
        // Summed exactly, then presented: no 8.133999999999999e-05.
        assert_eq!(s.total_cost_usd, 0.00008134);
    }
}
