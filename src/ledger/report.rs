//! Usage reports over the ledger: totals and a breakdown (by model, tool, day, task or provider) for a
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
//! The data and its exact sums come from [`crate::ledger::summary`] (re-exported here);
//! table and CSV print exact decimals, JSON prints numbers.

use std::fmt::Write as _;

use rust_decimal::Decimal;

pub use crate::ledger::summary::{
    BudgetStatus, Budgets, By, Credits, DEFAULT_SINCE, Period, Query, Report, Totals, aggregate,
    usage,
};

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
    use crate::ledger::summary::tests::sample;
    use crate::upstream::credits::dollars;
    use std::str::FromStr;

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
}
