//! Budgets: refuse (or downgrade) a call before it is sent when it could push spend past a
//! limit.
//!
//! Limits (`[budget]`, or `LLM_ROUTER_BUDGET_*`): `daily_usd` (the UTC day), `monthly_usd`
//! (the UTC month), `session_usd` (one MCP session), `per_call_max_usd` (one tool call).
//! Spend is read from the ledger, so the limits hold across every process that shares it.
//!
//! Before a call, its worst case is estimated: prompt tokens from the text (one token per
//! [`BYTES_PER_TOKEN`] bytes — an over-estimate for English — plus [`IMAGE_TOKENS`] per image
//! and the tool definitions), plus `max_tokens` (or [`DEFAULT_OUTPUT_TOKENS`] when the call
//! gives none) at the model's output price. With fallbacks, the dearest model of the chain
//! counts; for `compare_models`, the sum over its models. A call is over budget when spend
//! plus the estimate exceeds a limit, or the limit is already used up. Then
//! `on_exceed = "refuse"` fails the call with [`Error::BudgetExceeded`], saying the limit,
//! what is spent and the estimate; `"downgrade"` sends it instead to the cheapest catalog
//! model that fits (able to take its images and tools) and says so on the answer.
//! `compare_models` is never downgraded: a comparison of substitutes is not the one asked for.
//!
//! Limits: a model without a price is estimated at $0; calls in flight at the same moment
//! are not yet in the ledger, so concurrent calls can overshoot a limit by their estimates.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::App;
use crate::catalog::{Catalog, ModelInfo};
use crate::error::Error;
use crate::ledger::{context, period};
use crate::upstream::ChatRequest;
use crate::upstream::types::{Sampling, WireMessage};

/// Output tokens assumed when a call gives no `max_tokens`.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 4096;
/// Prompt tokens assumed per image.
pub const IMAGE_TOKENS: u64 = 1000;
/// Bytes of text per estimated prompt token.
pub const BYTES_PER_TOKEN: u64 = 3;
/// Tokens added per message for roles and separators.
const MESSAGE_OVERHEAD: u64 = 4;

const PER_MILLION: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// What to do with a call that would exceed a budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExceed {
    /// Fail the call with a clear error.
    #[default]
    Refuse,
    /// Use the cheapest catalog model that fits instead.
    Downgrade,
}

/// `[budget]`, checked. No limit set means no checks (and no ledger reads).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetConfig {
    pub daily_usd: Option<Decimal>,
    pub monthly_usd: Option<Decimal>,
    pub session_usd: Option<Decimal>,
    pub per_call_max_usd: Option<Decimal>,
    pub on_exceed: OnExceed,
}

impl BudgetConfig {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.daily_usd.is_some()
            || self.monthly_usd.is_some()
            || self.session_usd.is_some()
            || self.per_call_max_usd.is_some()
    }
}

/// A downgrade made to stay within budget, reported on the answer (its text, and a
/// `skipped_budget` entry first in its `attempts`).
#[derive(Debug, Clone, PartialEq)]
pub struct Downgrade {
    /// The model the call asked for.
    pub from: String,
    /// Which budget, and the estimates.
    pub reason: String,
}

/// One limit and what counts against it.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// `daily`, `monthly`, `session` or `per_call_max`.
    pub name: &'static str,
    pub limit: Decimal,
    /// Spend in the limit's period (zero for the per-call limit).
    pub spent: Decimal,
}

impl Limit {
    fn period(&self) -> &'static str {
        match self.name {
            "daily" => "today (UTC)",
            "monthly" => "this month (UTC)",
            "session" => "in this session",
            _ => "",
        }
    }

    fn key(&self) -> String {
        format!(
            "[budget] {}_usd (or LLM_ROUTER_BUDGET_{}_USD)",
            self.name,
            self.name.to_ascii_uppercase()
        )
    }

    /// Whether a call estimated at `estimate` fits.
    fn fits(&self, estimate: Decimal) -> bool {
        if self.name == "per_call_max" {
            return estimate <= self.limit;
        }
        self.spent < self.limit && self.spent + estimate <= self.limit
    }

    /// What is left, never negative.
    pub fn remaining(&self) -> Decimal {
        (self.limit - self.spent).max(Decimal::ZERO)
    }
}

/// Money for messages: exact, but at most 6 decimals for estimates.
pub fn usd(d: Decimal) -> String {
    format!("${}", d.round_dp(6).normalize())
}

/// The limits configured, with current spend read from the ledger.
pub async fn limits(app: &App, session: Option<String>) -> Result<Vec<Limit>, Error> {
    let b = app.config.budget.clone();
    if !b.is_set() {
        return Ok(Vec::new());
    }
    let now = period::now_ms();
    let (day, month) = (period::day_start(now), period::month_start(now));
    let spent = app
        .ledger
        .blocking(move |s| {
            let day = b.daily_usd.map(|_| s.spent(day, None)).transpose()?;
            let month = b.monthly_usd.map(|_| s.spent(month, None)).transpose()?;
            let session = match (&b.session_usd, &session) {
                (Some(_), Some(id)) => Some(s.spent(0, Some(id))?),
                _ => None,
            };
            Ok((day, month, session))
        })
        .await
        .map_err(|e| Error::Ledger(format!("cannot read spend for the budget: {e}")))?;
    let b = &app.config.budget;
    let mut out = Vec::new();
    let mut push = |name, limit: Option<Decimal>, spent: Option<Decimal>| {
        if let (Some(limit), Some(spent)) = (limit, spent) {
            out.push(Limit { name, limit, spent });
        }
    };
    push("daily", b.daily_usd, spent.0);
    push("monthly", b.monthly_usd, spent.1);
    push("session", b.session_usd, spent.2);
    push("per_call_max", b.per_call_max_usd, Some(Decimal::ZERO));
    Ok(out)
}

/// Estimated prompt tokens of a conversation (and its tool definitions).
pub fn prompt_tokens(messages: &[WireMessage], tools: &[Option<&Value>]) -> u64 {
    let text = |s: &str| (s.len() as u64).div_ceil(BYTES_PER_TOKEN);
    let mut n = 0;
    for m in messages {
        n += MESSAGE_OVERHEAD;
        match &m.content {
            Value::String(s) => n += text(s),
            Value::Array(parts) => {
                for p in parts {
                    n += match p.get("type").and_then(Value::as_str) {
                        Some("image_url") => IMAGE_TOKENS,
                        _ => text(p.get("text").and_then(Value::as_str).unwrap_or_default()),
                    };
                }
            }
            _ => {}
        }
        if let Some(calls) = &m.tool_calls {
            n += text(&Value::from(calls.clone()).to_string());
        }
    }
    for t in tools.iter().flatten() {
        n += text(&t.to_string());
    }
    n
}

/// Worst-case cost of `prompt` + `output` tokens on `model`; `None` without a price.
pub fn worst_case(model: Option<&ModelInfo>, prompt: u64, output: u64) -> Option<Decimal> {
    let p = model?.price?;
    Some((Decimal::from(prompt) * p.input + Decimal::from(output) * p.output) / PER_MILLION)
}

fn output_tokens(sampling: &Sampling) -> u64 {
    sampling.max_tokens.map_or(DEFAULT_OUTPUT_TOKENS, u64::from)
}

fn has_images(messages: &[WireMessage]) -> bool {
    messages.iter().any(|m| {
        m.content.as_array().is_some_and(|parts| {
            parts
                .iter()
                .any(|p| p.get("type").and_then(Value::as_str) == Some("image_url"))
        })
    })
}

/// The first limit a call estimated at `estimate` does not fit.
fn first_exceeded(limits: &[Limit], estimate: Decimal) -> Option<&Limit> {
    limits.iter().find(|l| !l.fits(estimate))
}

fn refusal(limit: &Limit, estimate: Decimal, detail: &str, extra: &str) -> Error {
    let spent = match limit.name {
        "per_call_max" => String::new(),
        _ => format!("; {} is spent {}", usd(limit.spent), limit.period()),
    };
    Error::BudgetExceeded(format!(
        "the {} budget is {}{spent}, and this call could cost up to {} ({detail}){extra}. \
         Raise {}, set a lower max_tokens, or use a cheaper model",
        limit.name.replace('_', "-"),
        usd(limit.limit),
        usd(estimate),
        limit.key()
    ))
}

/// Checks one call (`request.model`, then `fallbacks`) against the budgets. Over budget, it
/// refuses, or (with `on_exceed = "downgrade"`) rewrites the request to the cheapest catalog
/// model that fits, clears the fallbacks, and returns what it did.
pub async fn admit(
    app: &App,
    request: &mut ChatRequest,
    fallbacks: &mut Vec<String>,
) -> Result<Option<Downgrade>, Error> {
    if !app.config.budget.is_set() {
        return Ok(None);
    }
    let session = context::current().and_then(|c| c.session.clone());
    let limits = limits(app, session).await?;
    let tools = [
        request.functions.tools.as_ref(),
        request.functions.functions.as_ref(),
    ];
    let prompt = prompt_tokens(&request.messages, &tools);
    let output = output_tokens(&request.sampling);
    let catalog = &app.catalog;
    let estimate_of = |id: &str| worst_case(app.model_info(id), prompt, output);
    // The dearest model of the chain is the worst case.
    let (model, estimate) = std::iter::once(&request.model)
        .chain(fallbacks.iter())
        .map(|m| (m.clone(), estimate_of(m).unwrap_or_default()))
        .max_by_key(|(_, e)| *e)
        .unwrap_or_else(|| (request.model.clone(), Decimal::ZERO));
    let Some(limit) = first_exceeded(&limits, estimate) else {
        return Ok(None);
    };
    let detail = format!("{model}: ~{prompt} prompt tokens + {output} output tokens");
    if app.config.budget.on_exceed == OnExceed::Refuse {
        return Err(refusal(limit, estimate, &detail, ""));
    }
    let needs_vision = has_images(&request.messages);
    let needs_tools = tools.iter().any(Option::is_some);
    let cheapest = cheapest_fitting(catalog, &limits, prompt, output, needs_vision, needs_tools);
    let Some((id, cheap)) = cheapest else {
        return Err(refusal(
            limit,
            estimate,
            &detail,
            "; no catalog model able to take this request fits either",
        ));
    };
    let reason = format!(
        "the {} budget ({}, {} left) does not fit {model} (up to {}); {id} costs up to {}",
        limit.name.replace('_', "-"),
        usd(limit.limit),
        usd(limit.remaining()),
        usd(estimate),
        usd(cheap)
    );
    tracing::info!(gen_ai.request.model = %request.model, downgraded_to = %id, %reason, "budget downgrade");
    let from = std::mem::replace(&mut request.model, id);
    fallbacks.clear();
    Ok(Some(Downgrade { from, reason }))
}

/// The cheapest priced catalog model that can take the request and fits every limit.
fn cheapest_fitting(
    catalog: &Catalog,
    limits: &[Limit],
    prompt: u64,
    output: u64,
    needs_vision: bool,
    needs_tools: bool,
) -> Option<(String, Decimal)> {
    catalog
        .models()
        .iter()
        .filter(|m| (!needs_vision || m.vision) && (!needs_tools || m.tools))
        .filter(|m| m.context_window.is_none_or(|w| w >= prompt + output))
        .filter_map(|m| Some((m.id.clone(), worst_case(Some(m), prompt, output)?)))
        .filter(|(_, e)| first_exceeded(limits, *e).is_none())
        .min_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
}

/// Checks `compare_models`' fan-out as one call: the sum of the models' estimates. Never
/// downgrades. Marks the budget as checked so the per-model calls do not check again.
pub async fn admit_all(
    app: &App,
    models: &[String],
    messages: &[WireMessage],
    sampling: &Sampling,
) -> Result<(), Error> {
    if !app.config.budget.is_set() {
        return Ok(());
    }
    let session = context::current().and_then(|c| c.session.clone());
    let limits = limits(app, session).await?;
    let prompt = prompt_tokens(messages, &[]);
    let output = output_tokens(sampling);
    let estimate: Decimal = models
        .iter()
        .filter_map(|m| worst_case(app.model_info(m), prompt, output))
        .sum();
    if let Some(limit) = first_exceeded(&limits, estimate) {
        let detail = format!(
            "{} models × (~{prompt} prompt tokens + {output} output tokens)",
            models.len()
        );
        let extra = match app.config.budget.on_exceed {
            OnExceed::Downgrade => "; compare_models is never downgraded",
            OnExceed::Refuse => "",
        };
        return Err(refusal(limit, estimate, &detail, extra));
    }
    context::mark_budget_checked();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn message(content: Value) -> WireMessage {
        WireMessage {
            role: "user",
            content,
            name: None,
            tool_call_id: None,
            tool_calls: None,
        }
    }

    #[test]
    fn prompt_estimates_count_text_images_and_tools() {
        assert_eq!(prompt_tokens(&[message(json!("abcdefg"))], &[]), 4 + 3);
        let parts = json!([
            {"type": "text", "text": "abc"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
        ]);
        assert_eq!(prompt_tokens(&[message(parts)], &[]), 4 + 1 + IMAGE_TOKENS);
        let tools = json!([{"type": "function"}]); // 21 bytes of JSON
        assert_eq!(prompt_tokens(&[message(json!(""))], &[Some(&tools)]), 4 + 7);
    }

    #[test]
    fn worst_case_is_exact() {
        let gpt = ModelInfo {
            price: Some(crate::catalog::Price {
                input: d("1.40"),
                output: d("5.60"),
            }),
            ..ModelInfo::default()
        };
        assert_eq!(worst_case(Some(&gpt), 1000, 4096), Some(d("0.0243376")));
        assert_eq!(worst_case(Some(&ModelInfo::default()), 1, 1), None);
        assert_eq!(worst_case(None, 1, 1), None);
    }

    #[test]
    fn limits_fit_until_spend_plus_estimate_passes_them() {
        let daily = Limit {
            name: "daily",
            limit: d("1"),
            spent: d("0.9"),
        };
        assert!(daily.fits(d("0.1")));
        assert!(!daily.fits(d("0.1000001")));
        let used_up = Limit {
            spent: d("1"),
            ..daily.clone()
        };
        assert!(
            !used_up.fits(Decimal::ZERO),
            "a used-up budget refuses even free calls"
        );
        let per_call = Limit {
            name: "per_call_max",
            limit: d("0.01"),
            spent: Decimal::ZERO,
        };
        assert!(per_call.fits(d("0.01")) && !per_call.fits(d("0.02")));
    }

    #[test]
    fn refusals_name_the_budget_spend_and_estimate() {
        let limit = Limit {
            name: "daily",
            limit: d("5"),
            spent: d("4.98"),
        };
        let e = refusal(&limit, d("0.0345123456"), "gpt-4.1: ~10 prompt tokens", "").to_string();
        assert!(e.contains("the daily budget is $5"), "{e}");
        assert!(e.contains("$4.98 is spent today (UTC)"), "{e}");
        assert!(e.contains("could cost up to $0.034512"), "{e}");
        assert!(e.contains("LLM_ROUTER_BUDGET_DAILY_USD"), "{e}");
    }
}
