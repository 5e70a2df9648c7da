//! `list_models`: the models the gateway serves now, merged with what the catalog knows about
//! them (family, context window, capabilities, prices). Works offline from the catalog alone,
//! and says so.

use std::collections::HashSet;

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
    pub id: String,
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
    /// Seen in the gateway's live list; absent when the list could not be fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
    /// Described by the catalog (capabilities and price are known).
    pub in_catalog: bool,
}

/// Output of `list_models`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub models: Vec<ModelRow>,
    /// Whether the gateway's live list was fetched.
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
    // call
    let live = app.gateway().list_models().await;
    // present (merge and filter)
    let (mut rows, live_ok, note) = match live {
        Ok(list) => {
            let ids: Vec<String> = list.iter().map(|m| m.id.clone()).collect();
            app.set_live_ids(ids.clone());
            let live_set: HashSet<&str> = ids.iter().map(String::as_str).collect();
            let mut rows: Vec<ModelRow> = app
                .catalog
                .models()
                .iter()
                .map(|m| catalog_row(m, Some(live_set.contains(m.id.as_str()))))
                .collect();
            for m in &list {
                if app.catalog.get(&m.id).is_none() {
                    rows.push(live_only_row(&m.id, m.owned_by.as_deref()));
                }
            }
            let note = format!(
                "live list from {} ({} models) merged with the catalog ({}, updated {})",
                app.gateway().base_url(),
                list.len(),
                app.catalog.source,
                app.catalog.updated
            );
            (rows, true, note)
        }
        Err(e) => {
            let rows = app
                .catalog
                .models()
                .iter()
                .map(|m| catalog_row(m, None))
                .collect();
            let note = format!(
                "offline: the live list could not be fetched ({e}); showing the catalog only \
                 (updated {}), availability unknown",
                app.catalog.updated
            );
            (rows, false, note)
        }
    };
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

fn catalog_row(m: &ModelInfo, available: Option<bool>) -> ModelRow {
    ModelRow {
        id: m.id.clone(),
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

fn live_only_row(id: &str, owned_by: Option<&str>) -> ModelRow {
    ModelRow {
        id: id.to_owned(),
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
    s.push_str("id | family | in/out $ per 1M | context | caps\n");
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
            "{}{} | {} | {} | {} | {}\n",
            r.id,
            mark,
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
