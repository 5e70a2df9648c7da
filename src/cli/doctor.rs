//! `llm-router doctor`: checks a setup end to end and says, for each problem, how to fix it.
//!
//! Checks, in order: the config (file and environment) is valid; the API key is present (it
//! is never printed); the gateway answers `GET /models` (through the library's own upstream
//! client, so the same auth and error mapping as a tool call); the models it lists; the
//! account balance from `GET /credits/balance` when the gateway offers it ("not offered"
//! otherwise); and the usage ledger, which is opened (created if missing) to prove it is writable.
//!
//! The balance request and a keyless reachability probe are in [`gateway`], with a client of
//! their own: the library's upstream client has no balance call yet.

mod gateway;

use std::path::Path;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::output::{self, spin};
use super::{OutputArgs, Silent};
use crate::config::{Config, RawConfig, file};
use crate::{App, Error};
use gateway::{balance, causes, get};

const EXAMPLES: &str = "\
Examples:
  llm-router doctor
  llm-router doctor --json | jq '.checks[] | select(.status == \"fail\")'

Exit code 0 when nothing failed, 2 when the config or key is the problem, 1 when the gateway is.";

const UNREACHABLE_FIX: &str = "set AISA_BASE_URL (or base_url in the config file) to the \
gateway's /v1 URL; check the network and any proxy";

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
        out.push(ledger(None));
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
                format!("cannot start: {e:#}"),
            ));
            out.push(ledger(Some(&config)));
            return out;
        }
    };
    let started = Instant::now();
    let listed = app.gateway().list_models().await;
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
        Err(Error::Unauthorized {
            status, message, ..
        }) => {
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
        balance(&app).await
    } else {
        Check::new(
            "balance",
            Status::Skip,
            "not asked: the gateway was not reached",
        )
    });
    for p in app.providers.all().filter(|p| !p.is_gateway()) {
        out.push(provider(&p.upstream).await);
    }
    out.push(ledger(Some(&config)));
    out
}

/// One configured provider: reachable, key accepted, how many models it lists.
async fn provider(upstream: &crate::upstream::Upstream) -> Check {
    let name = upstream.name();
    let url = upstream.base_url();
    let style = upstream.style().name();
    let started = Instant::now();
    let listed = upstream.list_models().await;
    let ms = started.elapsed().as_millis();
    match listed {
        Ok(list) => Check::new(
            "provider",
            Status::Ok,
            format!(
                "{name} ({style}) at {url}: {} models listed in {ms} ms",
                list.len()
            ),
        ),
        Err(e @ Error::ProviderKeyMissing { .. }) => Check::new(
            "provider",
            Status::Fail,
            format!("{name} ({style}) at {url}: {e}"),
        )
        .fix(
            "export the variable its api_key_env names, or remove api_key_env for a keyless server",
        )
        .local(),
        Err(e @ Error::Unauthorized { .. }) => Check::new(
            "provider",
            Status::Fail,
            format!("{name} ({style}) at {url}: {e}"),
        )
        .local(),
        Err(e) => Check::new(
            "provider",
            Status::Fail,
            format!("{name} ({style}) at {url}: {e}"),
        )
        .fix(format!(
            "check that {name} is running and that its base_url (with /v1 or the style's version \
             path) is right"
        )),
    }
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

/// The usage ledger: opened (created if missing) and counted, which proves it is writable.
fn ledger(config: Option<&crate::config::Config>) -> Check {
    let Some(config) = config else {
        return Check::new(
            "ledger",
            Status::Skip,
            "not checked: the configuration is invalid",
        );
    };
    let Some(path) = &config.ledger.path else {
        return Check::new(
            "ledger",
            Status::Info,
            "disabled: usage and budgets see only the running process",
        );
    };
    match crate::ledger::store::Store::open(path).and_then(|s| Ok(s.count()?)) {
        Ok(rows) => Check::new(
            "ledger",
            Status::Ok,
            format!("{} ({rows} rows)", path.display()),
        ),
        Err(e) => Check::new(
            "ledger",
            Status::Fail,
            format!("cannot open {}: {e:#}", path.display()),
        )
        .fix("set [ledger] path or LLM_ROUTER_LEDGER_PATH to a writable file, or disable it with LLM_ROUTER_NO_LEDGER=1")
        .local(),
    }
}
