//! The gateway checks of `doctor`: the account balance (through the library's
//! `Upstream::credits`, amounts in micros of USD) and a reachability probe that needs no key,
//! which uses a small client of its own because the library's client always sends the key
//! when it has one. The key is sent as a sensitive header and never appears in a message:
//! transport errors name the URL, not the headers.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use rust_decimal::{Decimal, RoundingStrategy};
use secrecy::ExposeSecret;

use super::{Check, Status};
use crate::config::Config;
use crate::upstream::credits::CreditsBalance;

/// The longest one of these requests may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// `GET url` with a small client of its own, with the key (`with_key`) or without.
pub(super) async fn get(
    config: &Config,
    url: &str,
    with_key: bool,
) -> reqwest::Result<reqwest::Response> {
    let client = reqwest::Client::builder()
        .user_agent(concat!("llm-router/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout)
        .timeout(TIMEOUT.min(config.timeout))
        .build()?;
    let mut request = client.get(url);
    if with_key
        && let Some(key) = &config.api_key
        && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
    {
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    // A transport error names the URL, never the headers.
    request.send().await
}

/// An error and its causes, one after another (reqwest's own message omits the cause).
pub(super) fn causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    s
}

/// The balance line, from the library's own `GET /credits/balance` call.
pub(super) async fn balance(app: &crate::App) -> Check {
    match app.gateway().credits().await {
        Ok(Some(b)) => describe(&b),
        Ok(None) => Check::new(
            "balance",
            Status::Info,
            "not offered by this gateway (GET /credits/balance: HTTP 404)",
        ),
        Err(e @ crate::Error::Unauthorized { .. }) => {
            Check::new("balance", Status::Fail, format!("the gateway refused: {e}"))
                .fix("check AISA_API_KEY")
        }
        Err(e) => Check::new(
            "balance",
            Status::Fail,
            format!("GET /credits/balance failed: {e}"),
        )
        .fix("try again later"),
    }
}

/// The balance line: available credit (account, and the key's own limit when it has one).
fn describe(b: &CreditsBalance) -> Check {
    let currency = b.currency.as_deref().unwrap_or("USD");
    let Some(available) = b
        .available_balance_micros_usd
        .or(b.account_balance_micros_usd)
    else {
        return Check::new(
            "balance",
            Status::Info,
            "the gateway reported no balance figure",
        );
    };
    let mut detail = format!("{} {currency} available", money(available));
    if let Some(k) = &b.api_key {
        if k.unlimited == Some(true) {
            detail.push_str("; this key has no spending limit");
        } else if let Some(left) = k.remaining_micros_usd {
            detail.push_str(&format!("; this key may spend {} more", money(left)));
        }
    }
    if available <= 0 {
        return Check::new("balance", Status::Fail, detail)
            .fix("top up at https://aisa.one (calls fail with HTTP 402 until then)");
    }
    Check::new("balance", Status::Ok, detail)
}

/// Micros of a dollar as money: cents, cut towards zero (never more than there is), or
/// every digit for amounts under a cent.
fn money(micros: i64) -> String {
    let d = Decimal::new(micros, 6);
    if d.abs() < Decimal::new(1, 2) && !d.is_zero() {
        format!("${}", d.normalize())
    } else {
        let cents = d.round_dp_with_strategy(2, RoundingStrategy::ToZero);
        format!("${cents:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_are_read_from_micros_exactly() {
        assert_eq!(money(12_345_678), "$12.34");
        assert_eq!(money(-1_999_999), "$-1.99");
        assert_eq!(money(0), "$0.00");
        assert_eq!(money(4_200), "$0.0042");
        let b: CreditsBalance = serde_json::from_value(serde_json::json!({
            "currency": "USD",
            "account_balance_micros_usd": 20_000_000,
            "available_balance_micros_usd": 12_500_000,
            "api_key": {"unlimited": false, "remaining_micros_usd": 3_000_000}
        }))
        .unwrap();
        let c = describe(&b);
        assert_eq!(c.status, Status::Ok);
        assert_eq!(
            c.detail,
            "$12.50 USD available; this key may spend $3.00 more"
        );
        let empty: CreditsBalance =
            serde_json::from_value(serde_json::json!({"available_balance_micros_usd": 0})).unwrap();
        assert_eq!(describe(&empty).status, Status::Fail);
    }
}
