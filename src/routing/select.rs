//! Choosing the model chain for a task: [`decide`] ranks the catalog's models by the caller's
//! [`Prefer`]ence, drops those that break the [`Constraints`], puts the gateway's live models
//! first, and explains the choice — or, when nothing qualifies, names the constraints and the
//! nearest miss. The catalog is data (a config file may replace its routes), so nothing here
//! names a model.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::catalog::{Capability, Catalog, ModelInfo};
use crate::error::{Error, invalid};
use crate::ledger::{self, Tokens};
use crate::routing::Task;

// How to rank the models that meet the constraints. (A plain comment: a doc comment would be
// copied into the tool schemas.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Prefer {
    Cheap,
    Fast,
    #[default]
    Quality,
}

/// Hard limits: a model that breaks one is never chosen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// USD per 1M input tokens.
    pub max_input_price: Option<Decimal>,
    /// USD per 1M output tokens.
    pub max_output_price: Option<Decimal>,
    pub require: Vec<Capability>,
    /// Tokens; a model whose window the catalog does not state never meets it.
    pub min_context: Option<u64>,
}

/// Everything [`decide`] weighs besides the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub task: Task,
    pub constraints: &'a Constraints,
    pub prefer: Prefer,
    /// Estimated tokens of the prompt and of the answer, for the cost estimate and the
    /// context-window fit.
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    /// The gateway's live model ids; empty when unknown. Listed models go first.
    pub live: &'a [String],
}

/// A routing decision: the model to call, the ones to try after it, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub task: Task,
    pub chosen: String,
    pub fallbacks: Vec<String>,
    /// Why this model, as a sentence.
    pub reason: String,
    /// The chosen model's price × the estimated tokens; `None` when it has no price.
    pub estimated_cost: Option<Decimal>,
}

/// Chains are at least this long (chosen + fallbacks) when enough models qualify.
pub const MIN_CHAIN: usize = 3;
/// Skipped models named in a reason.
const SKIPS_SHOWN: usize = 3;

/// Picks the model chain for `query.task`:
/// - the candidates are ranked — `prefer: quality` (the default): the task's chain from the
///   catalog, then every other model by estimated cost, highest first (price is the catalog's
///   only proxy for tier); `cheap` (and `task: cheap`): every model by estimated cost for this
///   prompt, lowest first; `fast`: the catalog's `fast` chain, then the task's chain, then by
///   cost, lowest first;
/// - models that break a constraint are dropped: price caps, required capabilities (plus the
///   task's own: `vision` needs vision, `reasoning` needs reasoning), `min_context`, and a
///   known context window too small for the prompt and answer;
/// - when the gateway's live list is known, the models it lists go before those it does not
///   (which are kept: the list may be incomplete);
/// - the first is chosen; the next ones (at least [`MIN_CHAIN`] in all, or the task chain's
///   length) are the fallbacks.
///
/// When no model qualifies, the error names the constraints and the nearest miss.
pub fn decide(catalog: &Catalog, q: &Query<'_>) -> Result<Decision, Error> {
    let route = catalog.task_route(q.task);
    let route_ids: Vec<&str> = match route {
        Some(r) => r.models.iter().map(String::as_str).collect(),
        None => vec![catalog.default_model.as_str()],
    };
    let extra = uncatalogued(catalog, &route_ids);
    let ranked = rank(catalog, &extra, q, &route_ids);
    // Each ranked model with what disqualifies it; unlisted models are kept but go after the
    // listed ones (the live list may be incomplete; a 404 costs one fast try).
    let judged: Vec<(&ModelInfo, Vec<Miss>, bool)> = ranked
        .into_iter()
        .map(|m| (m, misses(m, q), q.live.is_empty() || q.live.contains(&m.id)))
        .collect();
    let qualified = |live: bool| {
        judged
            .iter()
            .filter(move |(_, misses, listed)| misses.is_empty() && *listed == live)
            .map(|(m, _, _)| *m)
    };
    let len = route_ids.len().max(MIN_CHAIN);
    let chain: Vec<&ModelInfo> = qualified(true).chain(qualified(false)).take(len).collect();
    let Some(chosen) = chain.first().copied() else {
        return Err(no_model(catalog, q, &route_ids));
    };
    // The models ranked ahead of the chosen one, and why they were passed over.
    let skipped: Vec<(&str, Vec<Miss>)> = judged
        .iter()
        .take_while(|(m, _, _)| m.id != chosen.id)
        .map(|(m, misses, listed)| {
            let mut why = misses.clone();
            if !listed {
                why.push(Miss::NotLive);
            }
            (m.id.as_str(), why)
        })
        .collect();
    let estimated_cost = estimate(chosen, q);
    let listed = if q.live.is_empty() || !q.live.contains(&chosen.id) {
        ""
    } else {
        " (of the models the gateway lists)"
    };
    let why = match route {
        _ if q.task == Task::Cheap || q.prefer == Prefer::Cheap => {
            format!("the cheapest catalog model for this prompt that meets the constraints{listed}")
        }
        _ if q.prefer == Prefer::Fast
            && catalog
                .task_route(Task::Fast)
                .is_some_and(|r| r.models.contains(&chosen.id)) =>
        {
            "prefer fast: the catalog's low-latency models come first".to_owned()
        }
        Some(r) if route_ids.first() == Some(&chosen.id.as_str()) => r.why.clone(),
        Some(r) if route_ids.contains(&chosen.id.as_str()) => {
            format!("next in the task's chain ({})", r.why)
        }
        None => "the default model".to_owned(),
        Some(_) => format!(
            "the task's chain ({}) was passed over; this is the highest-priced model that \
             qualifies{listed}",
            route_ids.join(", ")
        ),
    };
    let mut reason = format!("chose {}{} — {why}", chosen.id, price_note(chosen));
    if !skipped.is_empty() {
        let shown: Vec<String> = skipped
            .iter()
            .take(SKIPS_SHOWN)
            .map(|(id, misses)| format!("{id} ({})", join(misses)))
            .collect();
        reason.push_str(&format!("; skipped {}", shown.join(", ")));
        if skipped.len() > SKIPS_SHOWN {
            reason.push_str(&format!(" and {} more", skipped.len() - SKIPS_SHOWN));
        }
    }
    Ok(Decision {
        task: q.task,
        chosen: chosen.id.clone(),
        fallbacks: chain[1..].iter().map(|m| m.id.clone()).collect(),
        reason,
        estimated_cost,
    })
}

/// Entries for the task chain's models the catalog does not describe: models a configured
/// provider serves (`qwen2.5-coder:7b` under a local provider) and `provider/model`
/// addresses, which take their catalog model's facts (`local/gpt-4.1` is gpt-4.1 served
/// elsewhere). Without them a chain that starts at a local model would silently skip it.
fn uncatalogued(catalog: &Catalog, route: &[&str]) -> Vec<ModelInfo> {
    route
        .iter()
        .filter(|id| catalog.get(id).is_none())
        .map(|id| {
            let bare = id.split_once('/').and_then(|(_, m)| catalog.get(m));
            match bare {
                Some(info) => ModelInfo {
                    id: (*id).to_owned(),
                    ..info.clone()
                },
                None => ModelInfo {
                    id: (*id).to_owned(),
                    family: "custom".to_owned(),
                    ..ModelInfo::default()
                },
            }
        })
        .collect()
}

/// Every catalog model once (and the task chain's uncatalogued ones, `extra`), in the order
/// of the query's preference (see [`decide`]).
fn rank<'c>(
    catalog: &'c Catalog,
    extra: &'c [ModelInfo],
    q: &Query<'_>,
    route: &[&str],
) -> Vec<&'c ModelInfo> {
    let by_cost = |descending: bool| -> Vec<&'c ModelInfo> {
        let mut all: Vec<(Option<Decimal>, &ModelInfo)> = catalog
            .models()
            .iter()
            .map(|m| (estimate(m, q), m))
            .collect();
        // Unpriced models go last either way; ties keep catalog order (the sort is stable).
        all.sort_by(|(a, _), (b, _)| match (a, b) {
            (Some(a), Some(b)) if descending => b.cmp(a),
            (Some(a), Some(b)) => a.cmp(b),
            (a, b) => b.is_some().cmp(&a.is_some()),
        });
        all.into_iter().map(|(_, m)| m).collect()
    };
    let ids = |ids: &[&str]| -> Vec<&'c ModelInfo> {
        ids.iter()
            .filter_map(|id| {
                catalog
                    .get(id)
                    .or_else(|| extra.iter().find(|m| m.id == *id))
            })
            .collect()
    };
    let ordered: Vec<&ModelInfo> = if q.task == Task::Cheap || q.prefer == Prefer::Cheap {
        by_cost(false)
    } else if q.prefer == Prefer::Fast {
        let fast: Vec<&str> = catalog
            .task_route(Task::Fast)
            .map(|r| r.models.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut v = ids(&fast);
        v.extend(ids(route));
        v.extend(by_cost(false));
        v
    } else {
        let mut v = ids(route);
        v.extend(by_cost(true));
        v
    };
    let mut seen = std::collections::HashSet::new();
    ordered.into_iter().filter(|m| seen.insert(&m.id)).collect()
}

/// The estimated cost of the query on model `m`, exact.
pub fn estimate(m: &ModelInfo, q: &Query<'_>) -> Option<Decimal> {
    let tokens = Tokens {
        prompt_tokens: q.prompt_tokens,
        completion_tokens: q.output_tokens,
        total_tokens: q.prompt_tokens.saturating_add(q.output_tokens),
    };
    ledger::cost_of(Some(tokens), None, m.price).usd
}

/// Why a model does not qualify.
#[derive(Debug, Clone, PartialEq)]
enum Miss {
    InputPrice {
        price: Option<Decimal>,
        max: Decimal,
    },
    OutputPrice {
        price: Option<Decimal>,
        max: Decimal,
    },
    Lacks {
        cap: Capability,
        for_task: Option<Task>,
    },
    MinContext {
        window: Option<u64>,
        min: u64,
    },
    TooSmall {
        window: u64,
        need: u64,
    },
    NotLive,
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Miss::InputPrice {
                price: Some(p),
                max,
            } => {
                write!(f, "input ${p} > ${max} per 1M")
            }
            Miss::OutputPrice {
                price: Some(p),
                max,
            } => {
                write!(f, "output ${p} > ${max} per 1M")
            }
            Miss::InputPrice { price: None, .. } | Miss::OutputPrice { price: None, .. } => {
                f.write_str("no price in the catalog")
            }
            Miss::Lacks {
                cap,
                for_task: None,
            } => write!(f, "no {cap}", cap = cap.as_str()),
            Miss::Lacks {
                cap,
                for_task: Some(t),
            } => write!(f, "no {} (task {t} needs it)", cap.as_str()),
            Miss::MinContext {
                window: Some(w),
                min,
            } => {
                write!(f, "context window {w} < min_context {min}")
            }
            Miss::MinContext { window: None, .. } => {
                f.write_str("context window not stated in the catalog")
            }
            Miss::TooSmall { window, need } => write!(
                f,
                "context window {window} too small for ~{need} tokens (prompt + answer)"
            ),
            Miss::NotLive => f.write_str("not in the gateway's live model list"),
        }
    }
}

fn join(misses: &[Miss]) -> String {
    misses
        .iter()
        .map(Miss::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The capabilities the task itself needs.
fn task_needs(task: Task) -> Option<Capability> {
    match task {
        Task::Vision => Some(Capability::Vision),
        Task::Reasoning => Some(Capability::Reasoning),
        _ => None,
    }
}

/// Every constraint `m` breaks, in a fixed order.
fn misses(m: &ModelInfo, q: &Query<'_>) -> Vec<Miss> {
    let c = q.constraints;
    let mut out = Vec::new();
    if let Some(max) = c.max_input_price {
        let price = m.price.map(|p| p.input);
        if price.is_none_or(|p| p > max) {
            out.push(Miss::InputPrice { price, max });
        }
    }
    if let Some(max) = c.max_output_price {
        let price = m.price.map(|p| p.output);
        if price.is_none_or(|p| p > max) {
            out.push(Miss::OutputPrice { price, max });
        }
    }
    let implied = task_needs(q.task).filter(|cap| !c.require.contains(cap));
    for &cap in &c.require {
        if !m.has(cap) {
            out.push(Miss::Lacks {
                cap,
                for_task: None,
            });
        }
    }
    if let Some(cap) = implied
        && !m.has(cap)
    {
        out.push(Miss::Lacks {
            cap,
            for_task: Some(q.task),
        });
    }
    if let Some(min) = c.min_context
        && m.context_window.is_none_or(|w| w < min)
    {
        out.push(Miss::MinContext {
            window: m.context_window,
            min,
        });
    }
    let need = q.prompt_tokens.saturating_add(q.output_tokens);
    if let Some(window) = m.context_window
        && window < need
    {
        out.push(Miss::TooSmall { window, need });
    }
    out
}

/// How far a model is from qualifying: the relative overshoot of each price and context
/// miss, 1 for each other miss, and far for a price or window the catalog does not state
/// (nothing says it is near). Only compares near misses; never shown.
fn distance(misses: &[Miss]) -> f64 {
    const UNSTATED: f64 = 1e9;
    let ratio = |over: Decimal, limit: Decimal| -> f64 {
        if limit.is_zero() {
            return 1.0;
        }
        ((over - limit) / limit).to_f64().unwrap_or(1.0)
    };
    misses
        .iter()
        .map(|m| match m {
            Miss::InputPrice {
                price: Some(p),
                max,
            }
            | Miss::OutputPrice {
                price: Some(p),
                max,
            } => ratio(*p, *max),
            Miss::MinContext {
                window: Some(w),
                min,
            } => ratio(Decimal::from(*min), Decimal::from(*w)),
            Miss::InputPrice { price: None, .. }
            | Miss::OutputPrice { price: None, .. }
            | Miss::MinContext { window: None, .. } => UNSTATED,
            _ => 1.0,
        })
        .sum()
}

/// " ($1.40 in / $5.60 out per 1M tokens)", or "" for an unpriced model.
fn price_note(m: &ModelInfo) -> String {
    m.price
        .map(|p| format!(" (${} in / ${} out per 1M tokens)", p.input, p.output))
        .unwrap_or_default()
}

/// The error when no model qualifies: the constraints, and the model that misses fewest.
fn no_model(catalog: &Catalog, q: &Query<'_>, route: &[&str]) -> Error {
    let c = q.constraints;
    let mut asked = Vec::new();
    if let Some(p) = c.max_input_price {
        asked.push(format!("max_input_price ${p}"));
    }
    if let Some(p) = c.max_output_price {
        asked.push(format!("max_output_price ${p}"));
    }
    if !c.require.is_empty() {
        let caps: Vec<&str> = c.require.iter().map(|c| c.as_str()).collect();
        asked.push(format!("require [{}]", caps.join(", ")));
    }
    if let Some(cap) = task_needs(q.task) {
        asked.push(format!("task {} (needs {})", q.task, cap.as_str()));
    }
    if let Some(min) = c.min_context {
        asked.push(format!("min_context {min}"));
    }
    let need = q.prompt_tokens.saturating_add(q.output_tokens);
    let some_too_small = catalog
        .models()
        .iter()
        .any(|m| m.context_window.is_some_and(|w| w < need));
    if some_too_small {
        asked.push(format!("room for ~{need} tokens (prompt + answer)"));
    }
    let nearest = catalog
        .models()
        .iter()
        .map(|m| (misses(m, q), m))
        .min_by(|(a, am), (b, bm)| {
            let in_route = |m: &ModelInfo| route.iter().position(|id| *id == m.id);
            (a.len(), distance(a))
                .partial_cmp(&(b.len(), distance(b)))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| in_route(am).is_none().cmp(&in_route(bm).is_none()))
                .then_with(|| estimate(am, q).cmp(&estimate(bm, q)))
        });
    let nearest = match nearest {
        Some((misses, m)) => format!(
            "; nearest miss: {}{} — {}",
            m.id,
            price_note(m),
            join(&misses)
        ),
        None => String::new(),
    };
    invalid(format!(
        "no catalog model meets the constraints: {}{nearest}. Relax a constraint, or call \
         list_models to see prices and capabilities",
        asked.join(", ")
    ))
}

#[cfg(test)]
mod tests;
