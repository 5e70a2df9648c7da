//! `llm-router doctor`: checks a setup end to end and says, for each problem, how to fix it.
//!
//! Checks, in order: the config (file and environment) is valid; the API key is present (it
//! is never printed); the gateway answers `GET /models` (through the library's own upstream
//! client, so the same auth and error mapping as a tool call); the models it lists; the
//! account balance from `GET /credits/balance` when the gateway offers it ("not offered"
//! otherwise); and the usage ledger, which is not built yet and is reported as such.
//!
//! The balance request is made here, with its own small client: the library's upstream
//! client has no balance call yet (src/upstream is owned elsewhere). It should move there.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Args;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use rust_decimal::{Decimal, RoundingStrategy};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::output::{self, spin};
use super::{OutputArgs, Silent};
use crate::config::{Config, RawConfig, file};
use crate::{App, Error};

const EXAMPLES: &str = "\
Examples:
  llm-router doctor
  llm-router doctor --json | jq '.checks[] | select(.status == \"fail\")'

Exit code 0 when nothing failed, 2 when the config or key is the problem, 1 when the gateway is.";

const UNREACHABLE_FIX: &str = "set AISA_BASE_URL (or base_url in the config file) to the \
gateway's /v1 URL; check the network and any proxy";

/// The longest the balance request (or a reachability probe) may take.
const BALANCE_TIMEOUT: Duration = Duration::from_secs(20);

/// Flags of `doctor`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    pub(crate) out: OutputArgs,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Fail,
    /// Not checked, because an earlier check failed.
    Skip,
    /// A fact, neither good nor bad (e.g. "not offered").
    Info,
}

/// One line of the report.
#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
    /// A failure the user fixes in the config or environment (exit code 2), rather than one
    /// of the gateway (exit code 1).
    #[serde(skip)]
    local: bool,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            name,
            status,
            detail: detail.into(),
            fix: None,
            local: false,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    fn local(mut self) -> Self {
        self.local = true;
        self
    }
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Check>,
}

/// `llm-router doctor`.
pub(crate) async fn run(a: DoctorArgs, flag: Option<&Path>) -> anyhow::Result<()> {
    let checks = spin("checking", checks(flag)).await;
    let failed: Vec<&Check> = checks.iter().filter(|c| c.status == Status::Fail).collect();
    let code = match failed.iter().any(|c| c.local) {
        true => 2,
        false if failed.is_empty() => 0,
        false => 1,
    };
    let summary = match failed.len() {
        0 => "all checks passed".to_owned(),
        1 => "1 check failed".to_owned(),
        n => format!("{n} checks failed"),
    };
    if a.out.json {
        output::json(&Report {
            ok: failed.is_empty(),
            checks,
        })?;
    } else {
        output::stdout(&format!("{}\n{summary}\n", render(&checks)))?;
    }
    if code == 0 {
        return Ok(());
    }
    Err(Silent {
        code,
        message: summary,
    }
    .into())
}

fn render(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for c in checks {
        let mark = match c.status {
            Status::Ok => "✓",
            Status::Fail => "✗",
            Status::Skip | Status::Info => "–",
        };
        s.push_str(&format!("{mark} {:width$}  {}\n", c.name, c.detail));
        if let Some(fix) = &c.fix {
            s.push_str(&format!("  {:width$}  fix: {fix}\n", ""));
        }
    }
    s
}

/// Runs every check; never fails (a failure is a line of the report).
async fn checks(flag: Option<&Path>) -> Vec<Check> {
    let mut out = Vec::new();
    let (config_check, config) = config(flag);
    out.push(config_check);
    let Some(config) = config else {
        for name in ["key", "gateway", "models", "balance"] {
            out.push(Check::new(
                name,
                Status::Skip,
                "not checked: the configuration is invalid",
            ));
        }
        out.push(ledger());
        return out;
    };
    let base_url = config.base_url.as_str().trim_end_matches('/').to_owned();
    let mut key = key(&config);
    let app = match App::new(config.clone()) {
        Ok(app) => app,
        Err(e) => {
            out.push(key);
            out.push(Check::new(
                "gateway",
                Status::Fail,
                format!("cannot build the HTTP client: {e:#}"),
            ));
            out.push(ledger());
            return out;
        }
    };
    let started = Instant::now();
    let listed = app.upstream.list_models().await;
    let ms = started.elapsed().as_millis();
    let (gateway, models, reachable) = match listed {
        Ok(list) => {
            let ids: Vec<String> = list.iter().map(|m| m.id.clone()).collect();
            let known = app.catalog.models().len();
            let in_catalog = app
                .catalog
                .models()
                .iter()
                .filter(|m| ids.contains(&m.id))
                .count();
            app.set_live_ids(ids);
            let gateway = Check::new(
                "gateway",
                Status::Ok,
                format!("{base_url} answered in {ms} ms"),
            );
            let models = if list.is_empty() {
                Check::new("models", Status::Fail, "the gateway lists no models")
                    .fix("check that AISA_BASE_URL points at an OpenAI-compatible /v1 endpoint")
            } else {
                Check::new(
                    "models",
                    Status::Ok,
                    format!(
                        "{} listed by the gateway; {in_catalog} of the catalog's {known} among them",
                        list.len()
                    ),
                )
            };
            (gateway, models, true)
        }
        Err(Error::MissingApiKey) => {
            // The library will not call the AIsa gateway without a key; whether it answers at
            // all is still worth knowing.
            let gateway = match get(&config, &format!("{base_url}/models"), false).await {
                Ok(r) => Check::new(
                    "gateway",
                    Status::Ok,
                    format!(
                        "{base_url} answered in {} ms (HTTP {} without a key)",
                        started.elapsed().as_millis(),
                        r.status().as_u16()
                    ),
                ),
                Err(e) => Check::new(
                    "gateway",
                    Status::Fail,
                    format!("{base_url}: {}", causes(&e)),
                )
                .fix(UNREACHABLE_FIX),
            };
            (
                gateway,
                Check::new("models", Status::Skip, "not listed: no API key to send"),
                false,
            )
        }
        Err(e @ (Error::Connect { .. } | Error::Timeout { .. })) => (
            Check::new("gateway", Status::Fail, format!("{e}")).fix(UNREACHABLE_FIX),
            Check::new(
                "models",
                Status::Skip,
                "not listed: the gateway is unreachable",
            ),
            false,
        ),
        Err(Error::Unauthorized { status, message }) => {
            key = Check::new(
                "key",
                Status::Fail,
                format!("the gateway rejected AISA_API_KEY (HTTP {status}): {message}"),
            )
            .fix("set AISA_API_KEY to a valid key (https://aisa.one)")
            .local();
            (
                Check::new(
                    "gateway",
                    Status::Ok,
                    format!("{base_url} answered in {ms} ms"),
                ),
                Check::new("models", Status::Skip, "not listed: the key was rejected"),
                true,
            )
        }
        Err(e) => (
            Check::new(
                "gateway",
                Status::Ok,
                format!("{base_url} answered in {ms} ms"),
            ),
            Check::new("models", Status::Fail, format!("GET /models failed: {e}"))
                .fix("try again later; if it persists, check AISA_BASE_URL"),
            true,
        ),
    };
    out.push(key);
    out.push(gateway);
    out.push(models);
    out.push(if reachable {
        balance(&config, &base_url).await
    } else {
        Check::new(
            "balance",
            Status::Skip,
            "not asked: the gateway was not reached",
        )
    });
    out.push(ledger());
    out
}

/// The config check, and the config to use for the rest (the environment alone when the
/// file is broken, so the other checks still run).
fn config(flag: Option<&Path>) -> (Check, Option<Config>) {
    let fix = "correct the key named above; `llm-router config example` shows every key";
    let raw = match RawConfig::load(flag) {
        Ok(raw) => raw,
        Err(e) => {
            let check = Check::new("config", Status::Fail, e.to_string())
                .fix(fix)
                .local();
            return (check, RawConfig::from_env().check().ok());
        }
    };
    let file = raw
        .file
        .as_ref()
        .map(|(l, _)| l.path().display().to_string());
    match raw.check() {
        Ok(config) => {
            let detail = match file {
                Some(path) => format!("{path} is valid"),
                None => {
                    let default = file::locate(flag)
                        .map(|l| format!(" at {}", l.path().display()))
                        .unwrap_or_default();
                    format!("no config file{default}; built-in defaults and the environment apply")
                }
            };
            (Check::new("config", Status::Ok, detail), Some(config))
        }
        Err(e) => {
            let check = Check::new("config", Status::Fail, e.to_string())
                .fix(fix)
                .local();
            (check, RawConfig::from_env().check().ok())
        }
    }
}

/// Whether a key is set. Its value is never printed, not even in part.
fn key(config: &Config) -> Check {
    match (&config.api_key, config.is_default_gateway) {
        (Some(_), _) => Check::new("key", Status::Ok, "AISA_API_KEY is set (not shown)"),
        (None, true) => Check::new("key", Status::Fail, "AISA_API_KEY is not set")
            .fix(
                "export AISA_API_KEY=… (get a key at https://aisa.one); for Claude Desktop or \
                 OpenClaw, put it in the \"env\" block of the llm-router server entry",
            )
            .local(),
        (None, false) => Check::new(
            "key",
            Status::Info,
            "AISA_API_KEY is not set (optional: the base URL is not the AIsa gateway)",
        ),
    }
}

fn ledger() -> Check {
    Check::new(
        "ledger",
        Status::Info,
        "not built yet: usage is not recorded across calls",
    )
}

/// `GET /credits/balance`, as AIsa documents it (amounts in micros of USD).
#[derive(Debug, Deserialize)]
struct Balance {
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    available_balance_micros_usd: Option<i64>,
    #[serde(default)]
    account_balance_micros_usd: Option<i64>,
    #[serde(default)]
    api_key: Option<KeyBalance>,
}

#[derive(Debug, Deserialize)]
struct KeyBalance {
    #[serde(default)]
    unlimited: Option<bool>,
    #[serde(default)]
    remaining_micros_usd: Option<i64>,
}

/// `GET url` with a small client of its own, with the key (`with_key`) or without.
async fn get(config: &Config, url: &str, with_key: bool) -> reqwest::Result<reqwest::Response> {
    let client = reqwest::Client::builder()
        .user_agent(concat!("llm-router/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout)
        .timeout(BALANCE_TIMEOUT.min(config.timeout))
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
fn causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    s
}

async fn balance(config: &Config, base_url: &str) -> Check {
    let response = match get(config, &format!("{base_url}/credits/balance"), true).await {
        Ok(r) => r,
        Err(e) => {
            return Check::new(
                "balance",
                Status::Fail,
                format!("GET /credits/balance failed: {e}"),
            )
            .fix("try again later");
        }
    };
    let status = response.status().as_u16();
    match status {
        200..=299 => {}
        404 | 405 | 501 => {
            return Check::new(
                "balance",
                Status::Info,
                format!("not offered by this gateway (GET /credits/balance: HTTP {status})"),
            );
        }
        401 | 403 => {
            return Check::new(
                "balance",
                Status::Fail,
                format!("the gateway refused the balance request (HTTP {status})"),
            )
            .fix("check AISA_API_KEY");
        }
        _ => {
            return Check::new(
                "balance",
                Status::Fail,
                format!("GET /credits/balance answered HTTP {status}"),
            )
            .fix("try again later");
        }
    }
    let Ok(body) = response.json::<Balance>().await else {
        return Check::new(
            "balance",
            Status::Info,
            "the gateway answered GET /credits/balance in a shape llm-router does not read",
        );
    };
    describe(&body)
}

/// The balance line: available credit (account, and the key's own limit when it has one).
fn describe(b: &Balance) -> Check {
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
        let b: Balance = serde_json::from_value(serde_json::json!({
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
        let empty: Balance =
            serde_json::from_value(serde_json::json!({"available_balance_micros_usd": 0})).unwrap();
        assert_eq!(describe(&empty).status, Status::Fail);
    }
}
