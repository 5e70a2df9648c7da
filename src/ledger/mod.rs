//! Accounting: what a call cost and where that number came from.
//!
//! Cost arithmetic is exact ([`rust_decimal::Decimal`]); it becomes a float only when it is
//! presented. The gateway does not reliably report a cost, so the rule is: the gateway's own
//! `usage.cost` when present, else catalog price × tokens, else "unknown" — never an invented
//! number.
//!
//! The rest of cost tracking lives in the submodules: [`store`] (the SQLite usage ledger),
//! [`hooks`] (where the call pipeline records attempts, checks budgets and uses the cache),
//! [`budget`], [`cache`], [`summary`] and [`report`] (the `usage` report and its
//! renderings), [`context`] (which tool and session is calling) and [`period`] (times and
//! periods).

pub mod budget;
pub mod cache;
pub mod context;
pub mod hooks;
pub mod period;
pub mod report;
pub mod store;
pub mod summary;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::Price;

/// Where a cost figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CostSource {
    /// The gateway reported it in `usage.cost`.
    Gateway,
    /// Computed from the catalog's price for the model and the token counts.
    Catalog,
    /// Neither was available.
    Unknown,
    /// Served from the response cache: no upstream call, cost 0.
    Cache,
}

impl CostSource {
    /// The name used in output and in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Gateway => "gateway",
            CostSource::Catalog => "catalog",
            CostSource::Unknown => "unknown",
            CostSource::Cache => "cache",
        }
    }
}

/// Token counts of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tokens {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// The cost of one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub usd: Option<Decimal>,
    pub source: CostSource,
}

impl Cost {
    /// The cost as a JSON-friendly float, if known.
    pub fn usd_f64(&self) -> Option<f64> {
        self.usd.and_then(|d| d.to_f64())
    }
}

const PER_MILLION: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// Prices a call. `tokens` is `None` when the response carried no usage at all.
pub fn cost_of(tokens: Option<Tokens>, gateway_usd: Option<Decimal>, price: Option<Price>) -> Cost {
    if let Some(usd) = gateway_usd {
        return Cost {
            usd: Some(usd),
            source: CostSource::Gateway,
        };
    }
    match (tokens, price) {
        (Some(t), Some(p)) => Cost {
            usd: Some(
                (Decimal::from(t.prompt_tokens) * p.input
                    + Decimal::from(t.completion_tokens) * p.output)
                    / PER_MILLION,
            ),
            source: CostSource::Catalog,
        },
        _ => Cost {
            usd: None,
            source: CostSource::Unknown,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    const TOKENS: Tokens = Tokens {
        prompt_tokens: 1000,
        completion_tokens: 2000,
        total_tokens: 3000,
    };

    #[test]
    fn catalog_cost_is_exact() {
        let price = Price {
            input: d("1.40"),
            output: d("5.60"),
        };
        let c = cost_of(Some(TOKENS), None, Some(price));
        assert_eq!(c.source, CostSource::Catalog);
        assert_eq!(c.usd, Some(d("0.0126")));
        // A price with four decimals, as DeepSeek's: still exact.
        let price = Price {
            input: d("0.4018"),
            output: d("1.2047"),
        };
        assert_eq!(
            cost_of(Some(TOKENS), None, Some(price)).usd,
            Some(d("0.0028112"))
        );
    }

    #[test]
    fn gateway_cost_wins_over_the_catalog() {
        let price = Price {
            input: d("1"),
            output: d("1"),
        };
        let c = cost_of(Some(TOKENS), Some(d("0.0123")), Some(price));
        assert_eq!((c.usd, c.source), (Some(d("0.0123")), CostSource::Gateway));
    }

    #[test]
    fn no_price_or_no_usage_means_unknown_not_zero() {
        assert_eq!(
            cost_of(Some(TOKENS), None, None).source,
            CostSource::Unknown
        );
        let price = Price {
            input: d("1"),
            output: d("1"),
        };
        let c = cost_of(None, None, Some(price));
        assert_eq!((c.usd, c.source), (None, CostSource::Unknown));
    }
}
