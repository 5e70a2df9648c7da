//! The cost-tracking part of the configuration: `[ledger]`, `[budget]` and `[cache]` in the
//! config file, and their environment variables (which win over the file):
//!
//! | variable | overrides |
//! |---|---|
//! | `LLM_ROUTER_LEDGER_PATH` | `ledger.path` |
//! | `LLM_ROUTER_NO_LEDGER` (`1`/`true`) | `ledger.enabled = false` (the `--no-ledger` flag) |
//! | `LLM_ROUTER_BUDGET_DAILY_USD`, `…_MONTHLY_USD`, `…_SESSION_USD`, `…_PER_CALL_MAX_USD` | `budget.*_usd` |
//! | `LLM_ROUTER_BUDGET_ON_EXCEED` (`refuse`/`downgrade`) | `budget.on_exceed` |
//!
//! The ledger defaults to `$XDG_DATA_HOME/llm-router/usage.db` (`~/.local/share/…`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::{ConfigError, config_error, file};
use crate::ledger::budget::{BudgetConfig, OnExceed};
use crate::ledger::cache::{CacheConfig, DEFAULT_MAX_ENTRIES, DEFAULT_TTL};

/// The ledger file's name under the data directory.
pub const LEDGER_FILE: &str = "llm-router/usage.db";
/// The most cache entries allowed (a guard against a typo eating memory).
const MAX_CACHE_ENTRIES: usize = 1_000_000;

/// `[ledger]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLedger {
    /// false: record nothing on disk (budgets then see this process only).
    pub enabled: Option<bool>,
    /// The SQLite file; relative paths are relative to the config file.
    pub path: Option<PathBuf>,
}

/// `[budget]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub daily_usd: Option<Decimal>,
    pub monthly_usd: Option<Decimal>,
    pub session_usd: Option<Decimal>,
    pub per_call_max_usd: Option<Decimal>,
    pub on_exceed: Option<OnExceed>,
}

/// `[cache]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub enabled: Option<bool>,
    pub max_entries: Option<usize>,
    pub ttl_secs: Option<f64>,
}

/// The environment variables of this part, as given.
#[derive(Debug, Default, Clone)]
pub struct UsageEnv {
    pub ledger_path: Option<String>,
    pub no_ledger: Option<String>,
    /// `(variable, value)` for each budget variable that is set.
    pub budget: Vec<(&'static str, String)>,
}

const BUDGET_VARS: [&str; 5] = [
    "LLM_ROUTER_BUDGET_DAILY_USD",
    "LLM_ROUTER_BUDGET_MONTHLY_USD",
    "LLM_ROUTER_BUDGET_SESSION_USD",
    "LLM_ROUTER_BUDGET_PER_CALL_MAX_USD",
    "LLM_ROUTER_BUDGET_ON_EXCEED",
];

impl UsageEnv {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            ledger_path: var("LLM_ROUTER_LEDGER_PATH"),
            no_ledger: var("LLM_ROUTER_NO_LEDGER"),
            budget: BUDGET_VARS
                .iter()
                .filter_map(|k| var(k).map(|v| (*k, v)))
                .collect(),
        }
    }
}

/// Where the ledger lives; `path: None` means in memory (disabled on disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    pub path: Option<PathBuf>,
}

/// The checked `[ledger]`, `[budget]` and `[cache]`.
pub struct Checked {
    pub ledger: LedgerConfig,
    pub budget: BudgetConfig,
    pub cache: CacheConfig,
}

/// Checks this part of the configuration. `no_ledger` is the `--no-ledger` flag; `file_path`
/// and `file_dir` locate the config file (for error messages and relative paths).
pub fn check(
    raw: &file::RawFile,
    env: &UsageEnv,
    no_ledger: bool,
    file_path: Option<&Path>,
    file_dir: Option<&Path>,
) -> Result<Checked, ConfigError> {
    let in_file = |e: ConfigError| ConfigError {
        file: file_path.map(Path::to_owned),
        ..e
    };
    let ledger = raw.ledger.clone().unwrap_or_default();
    let disabled = match env.no_ledger.as_deref().map(str::trim) {
        Some("1" | "true" | "yes") => true,
        Some("0" | "false" | "no") => false,
        Some(other) => {
            return Err(config_error(
                "LLM_ROUTER_NO_LEDGER",
                format!("'{other}' is not a boolean; give 1 or 0"),
            ));
        }
        None => false,
    } || no_ledger
        || ledger.enabled == Some(false);
    let path = match (&env.ledger_path, &ledger.path) {
        _ if disabled => None,
        (Some(p), _) => Some(PathBuf::from(p)),
        (None, Some(p)) => Some(match file_dir {
            Some(base) if p.is_relative() => base.join(p),
            _ => p.clone(),
        }),
        (None, None) => file::data_home().map(|d| d.join(LEDGER_FILE)),
    };

    let b = raw.budget.clone().unwrap_or_default();
    let mut budget = BudgetConfig {
        daily_usd: b.daily_usd,
        monthly_usd: b.monthly_usd,
        session_usd: b.session_usd,
        per_call_max_usd: b.per_call_max_usd,
        on_exceed: b.on_exceed.unwrap_or_default(),
    };
    for (key, value) in [
        ("budget.daily_usd", budget.daily_usd),
        ("budget.monthly_usd", budget.monthly_usd),
        ("budget.session_usd", budget.session_usd),
        ("budget.per_call_max_usd", budget.per_call_max_usd),
    ] {
        if let Some(v) = value.filter(|v| v.is_sign_negative()) {
            return Err(in_file(config_error(
                key,
                format!("{v} is negative; give a limit in USD such as 5 or 0.50"),
            )));
        }
    }
    for (var, value) in &env.budget {
        let v = value.trim();
        if *var == "LLM_ROUTER_BUDGET_ON_EXCEED" {
            budget.on_exceed = match v {
                "refuse" => OnExceed::Refuse,
                "downgrade" => OnExceed::Downgrade,
                _ => {
                    return Err(config_error(
                        *var,
                        format!("'{v}' is not refuse or downgrade"),
                    ));
                }
            };
            continue;
        }
        let usd = Decimal::from_str(v)
            .ok()
            .filter(|d| !d.is_sign_negative())
            .ok_or_else(|| {
                config_error(
                    *var,
                    format!("'{v}' is not an amount in USD such as 5 or 0.50"),
                )
            })?;
        let slot = match *var {
            "LLM_ROUTER_BUDGET_DAILY_USD" => &mut budget.daily_usd,
            "LLM_ROUTER_BUDGET_MONTHLY_USD" => &mut budget.monthly_usd,
            "LLM_ROUTER_BUDGET_SESSION_USD" => &mut budget.session_usd,
            _ => &mut budget.per_call_max_usd,
        };
        *slot = Some(usd);
    }

    let c = raw.cache.clone().unwrap_or_default();
    let max_entries = match c.max_entries {
        Some(n) if n > MAX_CACHE_ENTRIES => {
            return Err(in_file(config_error(
                "cache.max_entries",
                format!(
                    "{n} is too many; give at most {MAX_CACHE_ENTRIES} (0 turns the cache off)"
                ),
            )));
        }
        Some(n) => n,
        None => DEFAULT_MAX_ENTRIES,
    };
    let ttl = match c.ttl_secs {
        None => DEFAULT_TTL,
        Some(v) if v.is_finite() && v > 0.0 && v <= 30.0 * 86_400.0 => Duration::from_secs_f64(v),
        Some(v) => {
            return Err(in_file(config_error(
                "cache.ttl_secs",
                format!("{v} is not a number of seconds between 0 and 2592000 (30 days)"),
            )));
        }
    };
    let cache = CacheConfig {
        max_entries: if c.enabled == Some(false) {
            0
        } else {
            max_entries
        },
        ttl,
    };
    Ok(Checked {
        ledger: LedgerConfig { path },
        budget,
        cache,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(text: &str, env: UsageEnv) -> Result<Checked, ConfigError> {
        let raw = file::parse(text).map_err(|m| config_error("(parse)", m))?;
        check(
            &raw,
            &env,
            false,
            Some(Path::new("/etc/llm-router/c.toml")),
            Some(Path::new("/etc/llm-router")),
        )
    }

    fn err(text: &str) -> String {
        checked(text, UsageEnv::default())
            .err()
            .unwrap()
            .to_string()
    }

    #[test]
    fn file_values_are_applied_and_env_wins() {
        let text = "[ledger]\npath = \"data/usage.db\"\n[budget]\ndaily_usd = 5\n\
                    monthly_usd = \"50.25\"\non_exceed = \"downgrade\"\n\
                    [cache]\nmax_entries = 10\nttl_secs = 60\n";
        let c = checked(text, UsageEnv::default()).unwrap();
        assert_eq!(
            c.ledger.path.as_deref(),
            Some(Path::new("/etc/llm-router/data/usage.db"))
        );
        assert_eq!(c.budget.daily_usd, Some(Decimal::from(5)));
        assert_eq!(c.budget.monthly_usd, Some(Decimal::new(5025, 2)));
        assert_eq!(c.budget.on_exceed, OnExceed::Downgrade);
        assert_eq!(c.cache.max_entries, 10);
        assert_eq!(c.cache.ttl, Duration::from_secs(60));

        let env = UsageEnv {
            ledger_path: Some("/tmp/x.db".into()),
            no_ledger: None,
            budget: vec![
                ("LLM_ROUTER_BUDGET_DAILY_USD", "0.5".into()),
                ("LLM_ROUTER_BUDGET_ON_EXCEED", "refuse".into()),
            ],
        };
        let c = checked(text, env).unwrap();
        assert_eq!(c.ledger.path.as_deref(), Some(Path::new("/tmp/x.db")));
        assert_eq!(c.budget.daily_usd, Some(Decimal::new(5, 1)));
        assert_eq!(c.budget.on_exceed, OnExceed::Refuse);
    }

    #[test]
    fn the_ledger_can_be_disabled_three_ways() {
        let off = |text: &str, env: Option<&str>, flag: bool| {
            let raw = file::parse(text).unwrap();
            let env = UsageEnv {
                no_ledger: env.map(str::to_owned),
                ..UsageEnv::default()
            };
            check(&raw, &env, flag, None, None)
                .unwrap()
                .ledger
                .path
                .is_none()
        };
        assert!(off("[ledger]\nenabled = false", None, false));
        assert!(off("", Some("1"), false));
        assert!(off("", None, true));
        assert!(!off("[ledger]\npath = \"/x.db\"", Some("0"), false));
    }

    #[test]
    fn bad_values_name_the_key() {
        assert!(err("[budget]\ndaily_usd = -1").contains("budget.daily_usd: -1 is negative"));
        assert!(err("[budget]\non_exceed = \"warn\"").contains("unknown variant `warn`"));
        assert!(err("[budget]\ndaily = 1").contains("unknown field `daily`"));
        assert!(err("[cache]\nttl_secs = 0").contains("cache.ttl_secs"));
        assert!(err("[cache]\nmax_entries = 99999999").contains("cache.max_entries"));
        let env = UsageEnv {
            budget: vec![("LLM_ROUTER_BUDGET_SESSION_USD", "five".into())],
            ..UsageEnv::default()
        };
        let e = checked("", env).err().unwrap().to_string();
        assert!(
            e.starts_with("LLM_ROUTER_BUDGET_SESSION_USD: 'five'"),
            "{e}"
        );
    }

    #[test]
    fn the_cache_can_be_turned_off() {
        let c = checked("[cache]\nenabled = false", UsageEnv::default()).unwrap();
        assert_eq!(c.cache.max_entries, 0);
    }
}
