//! `llm-router usage`: what the calls through llm-router cost, from the usage ledger — the
//! same report as the `usage` tool ([`crate::ledger::report`]), as a table, CSV or JSON.

use std::path::Path;

use clap::Args;
use clap::builder::PossibleValuesParser;

use super::app;
use super::output;
use crate::ledger::report;

const EXAMPLES: &str = "\
Examples:
  llm-router usage                          # the last 30 days, by model
  llm-router usage --since 7d --by model
  llm-router usage --since today --by tool --json
  llm-router usage --since 2026-11-01 --until 2026-12-01 --by day --csv > november.csv";

/// `llm-router usage` arguments.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub(crate) struct UsageArgs {
    /// Start of the period: 24h, 7d, 2w, today, a date (2026-11-01) or an RFC 3339 time
    /// (default 30d).
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,

    /// End of the period, in the same forms (default: now).
    #[arg(long, value_name = "WHEN")]
    until: Option<String>,

    /// The breakdown.
    #[arg(long, value_name = "BY", default_value = "model",
          value_parser = PossibleValuesParser::new(["model", "tool", "day", "task"]))]
    by: String,

    /// Print CSV (for spreadsheets) instead of a table.
    #[arg(long, conflicts_with = "json")]
    csv: bool,

    #[command(flatten)]
    pub(crate) out: super::OutputArgs,
}

/// Prints the report.
pub(crate) async fn run(a: UsageArgs, flag: Option<&Path>) -> anyhow::Result<()> {
    let app = app(flag, Vec::new())?;
    let query = report::Query::parse(a.since.as_deref(), a.until.as_deref(), Some(&a.by))?;
    let r = report::usage(&app, &query).await?;
    if a.out.json {
        return output::json(&report::json(&r));
    }
    let text = if a.csv {
        report::csv(&r)
    } else {
        report::table(&r)
    };
    output::stdout(&text)?;
    Ok(())
}
