//! `list_models`: the models every provider serves now, merged with what the catalog knows
//! about them (family, context window, capabilities, prices), each with the provider a call
//! for it goes to. Providers' lists are fetched concurrently; one that cannot be reached
//! leaves its models listed from the catalog, with availability unknown, and the note says
//! which. Works offline from the catalog alone, and says so.

use std::collections::{HashMap, HashSet};

use rust_decimal::prelude::ToPrimitive;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::App;
use crate::catalog::ModelInfo;
use crate::error::{Error, invalid};
use crate::tools::input::reject_unknown;

pub const NAME: &str = "list_models";
pub const DESCRIPTION: &str = "Models with family, context window, capabilities, USD per 1M tokens in/out, \
and live availability.";

pub use crate::catalog::Capability;

/// The longest one provider's list is waited for: one that hangs is reported offline rather
/// than holding the whole listing for its request timeout (a local model server may be given
/// minutes for answers).
const LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Arguments of `list_models`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct Input {
    /// openai, anthropic, google, deepseek, qwen, xai, mistral.
    #[serde(default)]
    pub family: Option<String>,
    /// Required capability.
    #[serde(default)]
    pub capability: Option<Capability>,
    /// Max USD per 1M input tokens.
    #[serde(default)]
    pub max_input_price: Option<f64>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: Map<String, Value>,
}

/// One model.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModelRow {
    /// The name to call it by (`provider/model` when another provider would take the bare id).
    pub id: String,
    /// The provider a call for it goes to.
    pub provider: String,
    pub family: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    pub vision: bool,
    pub tools: bool,
    pub reasoning: bool,
    /// USD per 1M input tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_price: Option<f64>,
    /// USD per 1M output tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_price: Option<f64>,
    /// Seen in its provider's live list; absent when the list could not be fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
    /// Described by the catalog (capabilities and price are known).
    pub in_catalog: bool,
}

/// Output of `list_models`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub models: Vec<ModelRow>,
    /// Whether every provider's live list was fetched.
    pub live: bool,
    /// Where the data came from.
    pub note: String,
}

pub async fn execute(app: &App, input: Input) -> Result<Output, Error> {
    // parse
    reject_unknown::<Input>(NAME, &input.unknown)?;
    if let Some(p) = input.max_input_price.filter(|p| !p.is_finite() || *p < 0.0) {
        return Err(invalid(format!(
            "max_input_price must be a non-negative number of USD per 1M tokens, got {p}"
        )));
    }
    // call: every provider's list at once
    let lists = futures::future::join_all(app.providers.all().map(|p| async move {
        let listed = tokio::time::timeout(LIST_TIMEOUT, p.upstream.list_models()).await;
        let listed = listed.unwrap_or(Err(Error::Timeout {
            after: LIST_TIMEOUT,
        }));
        (p, listed)
    }))
    .await;
    let mut live: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut notes = Vec::new();
    let mut extra_rows = Vec::new();
    for (p, result) in &lists {
        let name = p.upstream.name();
        match result {
            Ok(list) => {
                let ids: Vec<String> = list.iter().map(|m| m.id.clone()).collect();
                if p.is_gateway() {
                    app.set_live_ids(ids.clone());
                }
                p.remember(Some(ids.clone()));
                notes.push(format!(
                    "{name}: live list from {} ({} models)",
                    p.upstream.base_url(),
                    list.len()
                ));
                live.insert(name, ids.into_iter().collect());
            }
            Err(e) => notes.push(format!(
                "{name}: offline, the live list could not be fetched ({e}); its models are \
                 listed from the catalog, availability unknown"
            )),
        }
    }
    // present (merge and filter)
    for (p, result) in &lists {
        let Ok(list) = result else { continue };
        let name = p.upstream.name();
        for m in list {
            // The name that reaches this provider: the bare id when it routes here.
            let routes_here = app.providers.resolve_now(&m.id).0.upstream.name() == name;
            let id = if routes_here {
                m.id.clone()
            } else {
                format!("{name}/{}", m.id)
            };
            let known = app.catalog.get(&m.id).is_some() && routes_here;
            if !known {
                extra_rows.push(live_only_row(&id, name, m.owned_by.as_deref()));
            }
        }
    }
    let mut rows: Vec<ModelRow> = app
        .catalog
        .models()
        .iter()
        .map(|m| {
            let (provider, upstream_id) = app.providers.resolve_now(&m.id);
            let name = provider.upstream.name();
            let available = live.get(name).map(|ids| ids.contains(upstream_id));
            catalog_row(m, name, available)
        })
        .collect();
    rows.extend(extra_rows);
    let live_ok = lists.iter().all(|(_, r)| r.is_ok());
    let note = format!(
        "{}; merged with the catalog ({}, updated {})",
        notes.join("; "),
        app.catalog.source,
        app.catalog.updated
    );
    rows.retain(|r| keep(r, &input));
    Ok(Output {
        models: rows,
        live: live_ok,
        note,
    })
}

fn keep(r: &ModelRow, input: &Input) -> bool {
    let family = input
        .family
        .as_deref()
        .is_none_or(|f| r.family.eq_ignore_ascii_case(f.trim()));
    let capability = match input.capability {
        None => true,
        Some(Capability::Vision) => r.vision,
        Some(Capability::Tools) => r.tools,
        Some(Capability::Reasoning) => r.reasoning,
    };
    let price = input
        .max_input_price
        .is_none_or(|max| r.input_price.is_some_and(|p| p <= max));
    family && capability && price
}

fn catalog_row(m: &ModelInfo, provider: &str, available: Option<bool>) -> ModelRow {
    ModelRow {
        id: m.id.clone(),
        provider: provider.to_owned(),
        family: m.family.clone(),
        context_window: m.context_window,
        vision: m.vision,
        tools: m.tools,
        reasoning: m.reasoning,
        input_price: m.price.and_then(|p| p.input.to_f64()),
        output_price: m.price.and_then(|p| p.output.to_f64()),
        available,
        in_catalog: true,
    }
}

fn live_only_row(id: &str, provider: &str, owned_by: Option<&str>) -> ModelRow {
    ModelRow {
        id: id.to_owned(),
        provider: provider.to_owned(),
        family: owned_by.unwrap_or("unknown").to_owned(),
        context_window: None,
        vision: false,
        tools: false,
        reasoning: false,
        input_price: None,
        output_price: None,
        available: Some(true),
        in_catalog: false,
    }
}

/// A compact table: one model per line.
pub fn text(out: &Output) -> String {
    let mut s = format!("{} models. {}\n", out.models.len(), out.note);
    s.push_str("id | provider | family | in/out $ per 1M | context | caps\n");
    for r in &out.models {
        let price = match (r.input_price, r.output_price) {
            (Some(i), Some(o)) => format!("{i}/{o}"),
            _ => "?".into(),
        };
        let caps: Vec<&str> = [
            (r.vision, "vision"),
            (r.tools, "tools"),
            (r.reasoning, "reasoning"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        let mark = match r.available {
            Some(false) => " (not listed live)",
            _ => "",
        };
        s.push_str(&format!(
            "{}{} | {} | {} | {} | {} | {}\n",
            r.id,
            mark,
            r.provider,
            r.family,
            price,
            r.context_window
                .map(|c| c.to_string())
                .unwrap_or_else(|| "?".into()),
            caps.join(",")
        ));
    }
    s
}
