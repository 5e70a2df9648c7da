//! The usage report's data: which rows (a period), how to group them (by model, tool, day
//! or task), their exact totals, and the gateway's balance and the budgets beside them.
//! [`crate::ledger::report`] renders it; see there for how to use both.
//!
//! Sums are exact ([`Decimal`]); money is written to JSON as numbers. A "call" is one ledger
//! row: an upstream attempt (retries and fallbacks count separately) or a cache hit.

use std::collections::BTreeMap;

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
/// the tool, the UTC day, the `route_by_task` task (`-` for other tools), or the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum By {
    // (Plain comments: doc comments on variants would turn the schema's enum into a oneOf.)
    #[default]
    Model,
    Tool,
    Day,
    Task,
    Provider,
}

impl By {
    pub fn as_str(self) -> &'static str {
        match self {
            By::Model => "model",
            By::Tool => "tool",
            By::Day => "day",
            By::Task => "task",
            By::Provider => "provider",
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
            By::Provider => r
                .provider
                .clone()
                .unwrap_or_else(|| crate::upstream::GATEWAY.to_owned()),
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
            "provider" => Ok(By::Provider),
            other => Err(invalid(format!(
                "by: '{other}' is not a breakdown; give model, tool, day, task or provider"
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
    let answer = tokio::time::timeout(CREDITS_TIMEOUT, app.gateway().credits())
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ledger::Tokens;
    use std::str::FromStr;

    pub(crate) fn row(
        ts_ms: i64,
        model: &str,
        tool: &str,
        cost: Option<&str>,
        outcome: &str,
    ) -> Record {
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
            provider: None,
        }
    }

    pub(crate) fn sample() -> Vec<Record> {
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
        assert!(
            e.to_string().contains("model, tool, day, task or provider"),
            "{e}"
        );
    }
}
