//! Usage reports over the ledger: totals and a breakdown (by model, tool, day or task) for a
//! period, with the gateway's credit balance and the budgets, rendered as a table, CSV or
//! JSON. The `usage` tool and the `llm-router usage` CLI both use it:
//!
//! ```no_run
//! # async fn demo(app: &llm_router::App) -> Result<(), llm_router::Error> {
//! use llm_router::ledger::report;
//! let query = report::Query::parse(Some("7d"), None, Some("model"))?;
//! let r = report::usage(app, &query).await?;
//! let table: String = report::table(&r);
//! let csv: String = report::csv(&r);
//! let json: serde_json::Value = report::json(&r);
//! # Ok(()) }
//! ```
//!
//! Sums are exact ([`Decimal`]); table and CSV print exact decimals, JSON prints numbers.
//! A "call" is one ledger row: an upstream attempt (retries and fallbacks count separately)
//! or a cache hit.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};

use crate::App;
use crate::error::{Error, invalid};
use crate::ledger::period::{self, End};
use crate::ledger::store::Record;
use crate::ledger::{budget, context};
use crate::upstream::credits::dollars;

/// The period when `since` is not given.
pub const DEFAULT_SINCE: &str = "30d";

/// How to break the totals down: by the model that served (or, for failures, was asked),
/// the tool, the UTC day, or the `route_by_task` task (`-` for other tools).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    // (Plain comments: doc comments on variants would turn the schema's enum into a oneOf.)
    #[default]
    Model,
    Tool,
    Day,
    Task,
}

impl By {
    pub fn as_str(self) -> &'static str {
        match self {
            By::Model => "model",
            By::Tool => "tool",
            By::Day => "day",
            By::Task => "task",
        }
    }

    fn key(self, r: &Record) -> String {
        match self {
            By::Model => r
                .served_model
                .clone()
                .unwrap_or_else(|| r.requested_model.clone()),
            By::Tool => r.tool.clone(),
            By::Day => period::date(r.ts_ms),
            By::Task => r.task.clone().unwrap_or_else(|| "-".to_owned()),
        }
    }
}

impl std::str::FromStr for By {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "model" => Ok(By::Model),
            "tool" => Ok(By::Tool),
            "day" => Ok(By::Day),
            "task" => Ok(By::Task),
            other => Err(invalid(format!(
                "by: '{other}' is not a breakdown; give model, tool, day or task"
            ))),
        }
    }
}

/// A checked report request: `[since_ms, until_ms)` and the breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub since_ms: i64,
    pub until_ms: i64,
    pub by: By,
}

impl Query {
    /// From text, as the tool and the CLI take it: `since` (default 30d), `until` (default
    /// now), each "7d", "24h", "today", a date or an RFC 3339 time; `by` (default model).
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        by: Option<&str>,
    ) -> Result<Self, Error> {
        let now = period::now_ms();
        let since_ms = period::parse_time(since.unwrap_or(DEFAULT_SINCE), End::Since, now)
            .map_err(|e| invalid(format!("since: {e}")))?;
        let until_ms = match until {
            Some(u) => period::parse_time(u, End::Until, now)
                .map_err(|e| invalid(format!("until: {e}")))?,
            None => now + 1,
        };
        if since_ms >= until_ms {
            return Err(invalid(format!(
                "since ({}) must be before until ({})",
                period::rfc3339(since_ms),
                period::rfc3339(until_ms)
            )));
        }
        let by = by.map(str::parse).transpose()?.unwrap_or_default();
        Ok(Self {
            since_ms,
            until_ms,
            by,
        })
    }
}

fn money<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.to_f64().unwrap_or(0.0))
}

fn opt_money<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => money(d, s),
        None => s.serialize_none(),
    }
}

/// Totals of a set of ledger rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Totals {
    /// The group (absent on the overall totals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Upstream attempts plus cache hits.
    pub calls: u64,
    pub errors: u64,
    /// errors / calls.
    pub error_rate: f64,
    pub cache_hits: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(serialize_with = "money")]
    #[schemars(with = "f64")]
    pub cost_usd: Decimal,
    /// What cache hits would have cost.
    #[serde(serialize_with = "money")]
    #[schemars(with = "f64")]
    pub saved_usd: Decimal,
    /// Successful calls whose cost is unknown (not in cost_usd).
    pub unknown_cost_calls: u64,
}

impl Totals {
    fn add(&mut self, r: &Record) {
        self.calls += 1;
        if r.outcome != "ok" {
            self.errors += 1;
        } else if r.cost_usd.is_none() {
            self.unknown_cost_calls += 1;
        }
        if r.cached {
            self.cache_hits += 1;
        }
        self.prompt_tokens += r.tokens.prompt_tokens;
        self.completion_tokens += r.tokens.completion_tokens;
        self.total_tokens += r.tokens.total_tokens;
        self.cost_usd += r.cost_usd.unwrap_or_default();
        self.saved_usd += r.saved_usd.unwrap_or_default();
        self.error_rate = self.errors as f64 / self.calls as f64;
    }
}

/// The gateway's credit balance, or why there is none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Credits {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_money")]
    #[schemars(with = "Option<f64>")]
    pub available_usd: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_money")]
    #[schemars(with = "Option<f64>")]
    pub account_usd: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_money")]
    #[schemars(with = "Option<f64>")]
    pub key_remaining_usd: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_money")]
    #[schemars(with = "Option<f64>")]
    pub key_used_usd: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_unlimited: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// Why there is no balance (the gateway does not offer it, or the request failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One budget limit now.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct BudgetStatus {
    /// daily, monthly, session or per_call_max.
    pub name: String,
    #[serde(serialize_with = "money")]
    #[schemars(with = "f64")]
    pub limit_usd: Decimal,
    #[serde(serialize_with = "money")]
    #[schemars(with = "f64")]
    pub spent_usd: Decimal,
    #[serde(serialize_with = "money")]
    #[schemars(with = "f64")]
    pub remaining_usd: Decimal,
}

/// The period a report covers, and its breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Period {
    /// Start (inclusive), RFC 3339 UTC.
    pub since: String,
    /// End (exclusive).
    pub until: String,
    pub by: By,
}

/// The budgets now.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Budgets {
    /// refuse or downgrade.
    pub on_exceed: String,
    pub limits: Vec<BudgetStatus>,
}

/// A usage report. (Few top-level fields: the output schema lists each, and `tools/list`
/// must stay small.)
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Report {
    pub period: Period,
    pub totals: Totals,
    pub groups: Vec<Totals>,
    pub credits: Credits,
    /// Absent when no budget is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budgets>,
    /// The ledger file, or a note that it is disabled.
    pub ledger: String,
}

/// Totals and groups of `rows` (in ledger order). Groups are ordered by cost, dearest first
/// (days in date order).
pub fn aggregate(rows: &[Record], by: By) -> (Totals, Vec<Totals>) {
    let mut totals = Totals::default();
    let mut groups: BTreeMap<String, Totals> = BTreeMap::new();
    for r in rows {
        totals.add(r);
        let key = by.key(r);
        let g = groups.entry(key.clone()).or_insert_with(|| Totals {
            key: Some(key),
            ..Totals::default()
        });
        g.add(r);
    }
    let mut groups: Vec<Totals> = groups.into_values().collect();
    if by != By::Day {
        groups.sort_by(|a, b| {
            b.cost_usd
                .cmp(&a.cost_usd)
                .then(b.calls.cmp(&a.calls))
                .then_with(|| a.key.cmp(&b.key))
        });
    }
    (totals, groups)
}

/// Builds the report for `query`: the ledger's rows, the gateway's balance (one
/// `GET /credits/balance`), and the budgets (with the current session's spend when called
/// from a tool).
pub async fn usage(app: &App, query: &Query) -> Result<Report, Error> {
    let (since, until) = (query.since_ms, query.until_ms);
    let rows = app
        .ledger
        .blocking(move |s| s.rows(since, until))
        .await
        .map_err(|e| Error::Ledger(format!("cannot read the usage ledger: {e}")))?;
    let (totals, groups) = aggregate(&rows, query.by);
    let session = context::current().and_then(|c| c.session.clone());
    let limits = budget::limits(app, session)
        .await?
        .into_iter()
        .map(|l| BudgetStatus {
            name: l.name.to_owned(),
            limit_usd: l.limit,
            spent_usd: l.spent,
            remaining_usd: l.remaining(),
        })
        .collect::<Vec<_>>();
    let budget = (!limits.is_empty()).then(|| Budgets {
        on_exceed: match app.config.budget.on_exceed {
            budget::OnExceed::Refuse => "refuse",
            budget::OnExceed::Downgrade => "downgrade",
        }
        .to_owned(),
        limits,
    });
    Ok(Report {
        period: Period {
            since: period::rfc3339(since),
            until: period::rfc3339(until),
            by: query.by,
        },
        totals,
        groups,
        credits: credits(app).await,
        budget,
        ledger: match app.ledger.path() {
            Some(p) => p.display().to_string(),
            None => "disabled (in memory: this process's calls only)".to_owned(),
        },
    })
}

/// How long the report waits for the gateway's balance.
const CREDITS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn credits(app: &App) -> Credits {
    let answer = tokio::time::timeout(CREDITS_TIMEOUT, app.upstream.credits())
        .await
        .unwrap_or(Err(Error::Timeout {
            after: CREDITS_TIMEOUT,
        }));
    match answer {
        Ok(Some(b)) => {
            let key = b.api_key.clone().unwrap_or_default();
            Credits {
                available_usd: b.available_balance_micros_usd.map(dollars),
                account_usd: b.account_balance_micros_usd.map(dollars),
                key_remaining_usd: key.remaining_micros_usd.map(dollars),
                key_used_usd: key.used_micros_usd.map(dollars),
                key_unlimited: key.unlimited,
                as_of: b.as_of_text(),
                note: match b.currency.as_deref() {
                    Some(c) if !c.eq_ignore_ascii_case("usd") => {
                        Some(format!("the gateway reports currency {c}"))
                    }
                    _ => None,
                },
            }
        }
        Ok(None) => Credits {
            note: Some(
                "the gateway does not offer a balance (GET /credits/balance answered 404)"
                    .to_owned(),
            ),
            ..Credits::default()
        },
        Err(e) => Credits {
            note: Some(format!("could not read the balance: {e}")),
            ..Credits::default()
        },
    }
}

/// Exact money text: `0.0126`, `0`.
fn exact(d: Decimal) -> String {
    d.normalize().to_string()
}

const COLUMNS: [&str; 9] = [
    "calls",
    "errors",
    "error %",
    "cached",
    "in tokens",
    "out tokens",
    "cost USD",
    "saved USD",
    "unknown cost",
];

fn cells(t: &Totals) -> [String; 9] {
    [
        t.calls.to_string(),
        t.errors.to_string(),
        format!("{:.1}", t.error_rate * 100.0),
        t.cache_hits.to_string(),
        t.prompt_tokens.to_string(),
        t.completion_tokens.to_string(),
        exact(t.cost_usd),
        exact(t.saved_usd),
        t.unknown_cost_calls.to_string(),
    ]
}

/// The report as an aligned text table, then the credits, budgets and ledger lines.
pub fn table(r: &Report) -> String {
    let mut rows: Vec<(String, [String; 9])> = r
        .groups
        .iter()
        .map(|g| (g.key.clone().unwrap_or_default(), cells(g)))
        .collect();
    rows.push(("TOTAL".to_owned(), cells(&r.totals)));
    let first = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .chain([r.period.by.as_str().len()])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|(_, c)| c[i].len())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let p = &r.period;
    let mut s = format!("usage {} → {}, by {}\n", p.since, p.until, p.by.as_str());
    let line = |s: &mut String, key: &str, cols: &[&str]| {
        let _ = write!(s, "{key:<first$}");
        for (c, w) in cols.iter().zip(&widths) {
            let _ = write!(s, "  {c:>w$}");
        }
        s.push('\n');
    };
    line(&mut s, r.period.by.as_str(), &COLUMNS);
    for (key, c) in &rows {
        let cols: Vec<&str> = c.iter().map(String::as_str).collect();
        line(&mut s, key, &cols);
    }
    if r.totals.calls == 0 {
        s.push_str("(no calls in this period)\n");
    }
    s.push_str(&credits_line(&r.credits));
    for (b, on_exceed) in r
        .budget
        .iter()
        .flat_map(|b| b.limits.iter().map(|l| (l, &b.on_exceed)))
    {
        let _ = writeln!(
            s,
            "budget {}: ${} — ${} spent, ${} left (on_exceed = {on_exceed})",
            b.name,
            exact(b.limit_usd),
            exact(b.spent_usd),
            exact(b.remaining_usd),
        );
    }
    let _ = writeln!(s, "ledger: {}", r.ledger);
    s
}

fn credits_line(c: &Credits) -> String {
    let mut parts = Vec::new();
    if let Some(a) = c.available_usd {
        parts.push(format!("${} available", exact(a)));
    }
    if let Some(a) = c.account_usd {
        parts.push(format!("${} account balance", exact(a)));
    }
    match (c.key_unlimited, c.key_remaining_usd) {
        (Some(true), _) => parts.push("key unlimited".to_owned()),
        (_, Some(k)) => parts.push(format!("${} left on this key", exact(k))),
        _ => {}
    }
    if let Some(u) = c.key_used_usd {
        parts.push(format!("${} used by this key", exact(u)));
    }
    let mut s = match parts.is_empty() {
        true => "credits: unknown".to_owned(),
        false => format!("credits: {}", parts.join(", ")),
    };
    if let Some(t) = &c.as_of {
        let _ = write!(s, " (as of {t})");
    }
    if let Some(n) = &c.note {
        let _ = write!(s, " — {n}");
    }
    s.push('\n');
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The breakdown as CSV (RFC 4180): a header, then one line per group; exact decimals.
pub fn csv(r: &Report) -> String {
    let mut s = format!(
        "{},calls,errors,error_rate,cache_hits,prompt_tokens,completion_tokens,total_tokens,\
         cost_usd,saved_usd,unknown_cost_calls\r\n",
        r.period.by.as_str()
    );
    for g in &r.groups {
        let _ = write!(
            s,
            "{},{},{},{:.4},{},{},{},{},{},{},{}\r\n",
            csv_field(g.key.as_deref().unwrap_or_default()),
            g.calls,
            g.errors,
            g.error_rate,
            g.cache_hits,
            g.prompt_tokens,
            g.completion_tokens,
            g.total_tokens,
            exact(g.cost_usd),
            exact(g.saved_usd),
            g.unknown_cost_calls
        );
    }
    s
}

/// The report as JSON (money as numbers).
pub fn json(r: &Report) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Tokens;
    use std::str::FromStr;

    fn row(ts_ms: i64, model: &str, tool: &str, cost: Option<&str>, outcome: &str) -> Record {
        Record {
            ts_ms,
            tool: tool.into(),
            task: (tool == "route_by_task").then(|| "code".to_owned()),
            requested_model: model.into(),
            served_model: (outcome == "ok").then(|| model.to_owned()),
            tokens: Tokens {
                prompt_tokens: 1,
                completion_tokens: 2,
                total_tokens: 3,
            },
            cost_usd: cost.map(|c| Decimal::from_str(c).unwrap()),
            cost_source: None,
            saved_usd: None,
            latency_ms: 1,
            outcome: outcome.into(),
            status: None,
            error: None,
            cached: false,
            client: None,
            session: None,
            call_id: None,
        }
    }

    fn sample() -> Vec<Record> {
        let day = 86_400_000;
        let mut hit = row(2 * day, "gpt-4.1", "chat", Some("0"), "ok");
        hit.cached = true;
        hit.saved_usd = Some(Decimal::from_str("0.0126").unwrap());
        vec![
            row(0, "gpt-4.1", "chat", Some("0.1"), "ok"),
            row(day, "deepseek-v3.2", "route_by_task", Some("0.2"), "ok"),
            row(day + 1, "gpt-4.1", "chat", None, "timeout"),
            row(day + 2, "no-price", "chat", None, "ok"),
            hit,
        ]
    }

    #[test]
    fn totals_are_exact_and_count_errors_hits_and_unknown_costs() {
        let (t, groups) = aggregate(&sample(), By::Model);
        assert_eq!(t.cost_usd.to_string(), "0.3", "0.1 + 0.2, exactly");
        assert_eq!(t.saved_usd.to_string(), "0.0126");
        assert_eq!(
            (t.calls, t.errors, t.cache_hits, t.unknown_cost_calls),
            (5, 1, 1, 1)
        );
        assert_eq!(t.error_rate, 0.2);
        assert_eq!(t.prompt_tokens, 5);
        let keys: Vec<_> = groups.iter().map(|g| g.key.clone().unwrap()).collect();
        assert_eq!(
            keys,
            ["deepseek-v3.2", "gpt-4.1", "no-price"],
            "dearest first"
        );
        assert_eq!(groups[1].calls, 3);
    }

    #[test]
    fn breakdowns_by_tool_day_and_task() {
        let keys = |by| {
            aggregate(&sample(), by)
                .1
                .into_iter()
                .map(|g| (g.key.unwrap(), g.calls))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(By::Tool),
            [("route_by_task".into(), 1), ("chat".into(), 4)]
        );
        assert_eq!(
            keys(By::Day),
            [
                ("1970-01-01".into(), 1),
                ("1970-01-02".into(), 3),
                ("1970-01-03".into(), 1)
            ]
        );
        assert_eq!(keys(By::Task), [("code".into(), 1), ("-".into(), 4)]);
    }

    fn report() -> Report {
        let (totals, groups) = aggregate(&sample(), By::Model);
        Report {
            period: Period {
                since: "1970-01-01T00:00:00Z".into(),
                until: "1970-01-04T00:00:00Z".into(),
                by: By::Model,
            },
            totals,
            groups,
            credits: Credits {
                available_usd: Some(dollars(12_345_678)),
                ..Credits::default()
            },
            budget: Some(Budgets {
                on_exceed: "refuse".into(),
                limits: vec![BudgetStatus {
                    name: "daily".into(),
                    limit_usd: Decimal::from(5),
                    spent_usd: Decimal::from_str("0.3").unwrap(),
                    remaining_usd: Decimal::from_str("4.7").unwrap(),
                }],
            }),
            ledger: "/tmp/usage.db".into(),
        }
    }

    #[test]
    fn renderings() {
        let r = report();
        let t = table(&r);
        assert!(t.contains("by model"), "{t}");
        let total = t.lines().find(|l| l.starts_with("TOTAL")).unwrap();
        assert!(
            total.contains(" 0.3 ") && total.contains("0.0126"),
            "{total}"
        );
        assert!(t.contains("credits: $12.345678 available"), "{t}");
        assert!(
            t.contains("budget daily: $5 — $0.3 spent, $4.7 left"),
            "{t}"
        );
        let c = csv(&r);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 4, "{c}");
        assert!(lines[0].starts_with("model,calls,errors,error_rate"), "{c}");
        assert_eq!(lines[2], "gpt-4.1,3,1,0.3333,1,3,6,9,0.1,0.0126,0");
        let j = json(&r);
        assert_eq!(j["totals"]["cost_usd"], 0.3);
        assert_eq!(j["credits"]["available_usd"], 12.345678);
        assert_eq!(j["period"]["by"], "model");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn queries_are_checked() {
        let q = Query::parse(Some("7d"), None, Some("day")).unwrap();
        assert_eq!(q.by, By::Day);
        assert!(q.until_ms - q.since_ms >= 7 * 86_400_000);
        let e = Query::parse(Some("2026-04-02"), Some("2026-04-01"), None).unwrap_err();
        assert!(e.to_string().contains("must be before"), "{e}");
        let e = Query::parse(Some("a week"), None, None).unwrap_err();
        assert!(e.to_string().contains("since: 'a week'"), "{e}");
        let e = Query::parse(None, None, Some("vendor")).unwrap_err();
        assert!(e.to_string().contains("model, tool, day or task"), "{e}");
    }
}
