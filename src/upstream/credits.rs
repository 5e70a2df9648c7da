//! `GET /credits/balance`: the gateway account's balance, for the `usage` report.
//!
//! AIsa answers `{currency, account_balance_micros_usd, available_balance_micros_usd,
//! api_key: {unlimited, remaining_micros_usd, used_micros_usd}, as_of}`, amounts in
//! micro-dollars. Other OpenAI-compatible gateways do not offer the route; a 404 is "not
//! offered", not an error. Amounts become exact decimals of dollars.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::Upstream;
use crate::error::Error;

/// The balance as the gateway sent it (every field optional).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreditsBalance {
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub account_balance_micros_usd: Option<i64>,
    #[serde(default)]
    pub available_balance_micros_usd: Option<i64>,
    #[serde(default)]
    pub api_key: Option<KeyCredits>,
    /// A time, as a string or a number, passed through as text.
    #[serde(default)]
    pub as_of: Option<Value>,
}

/// The API key's own allowance.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyCredits {
    #[serde(default)]
    pub unlimited: Option<bool>,
    #[serde(default)]
    pub remaining_micros_usd: Option<i64>,
    #[serde(default)]
    pub used_micros_usd: Option<i64>,
}

/// Micro-dollars as exact dollars.
pub fn dollars(micros: i64) -> Decimal {
    Decimal::new(micros, 6).normalize()
}

impl CreditsBalance {
    /// `as_of` as text, whatever JSON type it came as.
    pub fn as_of_text(&self) -> Option<String> {
        match &self.as_of {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        }
    }
}

impl Upstream {
    /// `GET /credits/balance`; `Ok(None)` when the gateway does not offer it (404).
    pub async fn credits(&self) -> Result<Option<CreditsBalance>, Error> {
        match self.get_json::<CreditsBalance>("/credits/balance").await {
            Ok(balance) => Ok(Some(balance)),
            Err(Error::UnknownModel { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_shape_parses_into_exact_dollars() {
        let b: CreditsBalance = serde_json::from_str(
            r#"{"currency":"USD","account_balance_micros_usd":12345678,
                "available_balance_micros_usd":12000000,
                "api_key":{"unlimited":false,"remaining_micros_usd":500000,"used_micros_usd":1},
                "as_of":"2026-04-10T12:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(
            dollars(b.account_balance_micros_usd.unwrap()).to_string(),
            "12.345678"
        );
        assert_eq!(
            dollars(b.available_balance_micros_usd.unwrap()).to_string(),
            "12"
        );
        let key = b.api_key.as_ref().unwrap();
        assert_eq!(
            dollars(key.used_micros_usd.unwrap()).to_string(),
            "0.000001"
        );
        assert_eq!(b.as_of_text().as_deref(), Some("2026-04-10T12:00:00Z"));
        let empty: CreditsBalance = serde_json::from_str("{}").unwrap();
        assert!(empty.available_balance_micros_usd.is_none() && empty.as_of_text().is_none());
    }
}
