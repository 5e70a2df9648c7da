//! `usage`: what llm-router has spent — calls, tokens, cost, errors and cache savings for a
//! period, broken down by model, tool, day, task or provider — with the gateway's credit balance and
//! the budgets. It reads the usage ledger ([`crate::ledger::report`]); no model is called.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::App;
use crate::error::Error;
use crate::ledger::report::{self, By, Query, Report};
use crate::tools::input::reject_unknown;

pub const NAME: &str = "usage";
pub const DESCRIPTION: &str =
    "Spend, tokens, errors and cache savings by model/tool/day/task; credits; budgets.";

/// Arguments of `usage`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// e.g. 24h, 7d, today, 2026-04-01. Default 30d.
    #[serde(default)]
    pub since: Option<String>,
    /// End; default now.
    #[serde(default)]
    pub until: Option<String>,
    /// Default model.
    #[serde(default)]
    pub by: Option<By>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: Map<String, Value>,
}

/// Output of `usage`.
pub type Output = Report;

pub async fn execute(app: &App, input: Input) -> Result<Report, Error> {
    reject_unknown::<Input>(NAME, &input.unknown)?;
    let by = input.by.map(By::as_str);
    let query = Query::parse(input.since.as_deref(), input.until.as_deref(), by)?;
    report::usage(app, &query).await
}

/// The report as a table.
pub fn text(out: &Report) -> String {
    report::table(out)
}
