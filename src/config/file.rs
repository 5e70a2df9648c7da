//! The config file: where it is, and its raw TOML form.
//!
//! Every field is optional; a missing file at the default path is not an error (env vars and
//! built-in defaults still apply). The structs here only mirror the file: they reject unknown
//! keys (`deny_unknown_fields`) so a typo fails loudly instead of being ignored, and hold
//! values as written. Checking them (ranges, model names, paths) is `config::RawConfig::check`'s
//! job, which names the key path of anything wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::routing::Task;

/// A commented example config, printed by `llm-router config example`. A test checks that it
/// loads and passes `check`, so it cannot drift from what the code accepts.
pub const EXAMPLE: &str = include_str!("../../data/config.example.toml");

/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "LLM_ROUTER_CONFIG";

/// Where the config file was found and why.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// `--config PATH`.
    Flag(PathBuf),
    /// `LLM_ROUTER_CONFIG`.
    Env(PathBuf),
    /// `$XDG_CONFIG_HOME/llm-router/config.toml` (or `~/.config/…`).
    Default(PathBuf),
}

impl Location {
    pub fn path(&self) -> &Path {
        match self {
            Self::Flag(p) | Self::Env(p) | Self::Default(p) => p,
        }
    }

    /// How the path was chosen, for messages.
    pub fn origin(&self) -> &'static str {
        match self {
            Self::Flag(_) => "--config",
            Self::Env(_) => CONFIG_ENV,
            Self::Default(_) => "the default path",
        }
    }
}

/// `$XDG_CONFIG_HOME`, else `$HOME/.config`.
pub fn config_home() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config")
}

/// `$XDG_DATA_HOME`, else `$HOME/.local/share`.
pub fn data_home() -> Option<PathBuf> {
    xdg_dir("XDG_DATA_HOME", ".local/share")
}

fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    let from_var = std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    from_var.or_else(|| {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(fallback))
    })
}

/// The config file to read: the flag, else the env var, else the default path.
pub fn locate(flag: Option<&Path>) -> Option<Location> {
    if let Some(p) = flag {
        return Some(Location::Flag(p.to_owned()));
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some(Location::Env(PathBuf::from(p)));
    }
    config_home().map(|d| Location::Default(d.join("llm-router").join("config.toml")))
}

/// The config file as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// The gateway URL (`AISA_BASE_URL` wins when set).
    pub base_url: Option<String>,
    /// Present only to give a clear error: the key is never read from the file.
    pub api_key: Option<toml::Value>,
    /// The model `chat` uses when none is given.
    pub default_model: Option<String>,
    /// The model `vision` uses when none is given.
    pub default_vision_model: Option<String>,
    /// Fallbacks for `chat` and `vision` when the call gives none.
    pub fallback_models: Option<Vec<String>>,
    /// Task → ordered model chain; replaces the catalog's chain for that task.
    #[serde(default)]
    pub routes: BTreeMap<Task, Vec<String>>,
    /// Extra names for models.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Extra models, or overrides of catalog entries (prices, context window, capabilities).
    #[serde(default)]
    pub models: Vec<RawModel>,
    pub retry: Option<RawRetry>,
    pub cooldown: Option<RawCooldown>,
    pub timeouts: Option<RawTimeouts>,
    pub vision: Option<RawVision>,
    pub http: Option<RawHttp>,
    pub ledger: Option<super::usage::RawLedger>,
    pub budget: Option<super::usage::RawBudget>,
    pub cache: Option<super::usage::RawCache>,
    /// Upstreams beside the AIsa gateway.
    #[serde(default)]
    pub providers: Vec<super::providers::RawProvider>,
}

/// One `[[models]]` entry.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub id: String,
    pub family: Option<String>,
    pub context_window: Option<u64>,
    pub vision: Option<bool>,
    pub tools: Option<bool>,
    pub reasoning: Option<bool>,
    /// USD per 1M input tokens (a number or a decimal string).
    pub input_price: Option<Decimal>,
    /// USD per 1M output tokens.
    pub output_price: Option<Decimal>,
    /// Where the price comes from (default: "config").
    pub price_source: Option<String>,
    /// The `[[providers]]` entry that serves it (default: whichever provider lists it, else
    /// the gateway).
    pub provider: Option<String>,
}

/// `[retry]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub attempts: Option<u32>,
    pub base_delay_secs: Option<f64>,
    pub max_delay_secs: Option<f64>,
    pub jitter: Option<f64>,
}

/// `[cooldown]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCooldown {
    pub threshold: Option<u32>,
    pub window_secs: Option<f64>,
    pub period_secs: Option<f64>,
}

/// `[timeouts]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub connect_secs: Option<f64>,
    pub first_byte_secs: Option<f64>,
    pub total_secs: Option<f64>,
    /// The longest gap between two pieces of a streamed answer.
    pub stream_idle_secs: Option<f64>,
}

/// `[vision]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVision {
    /// Directories local images may be read from; relative paths are relative to the file.
    #[serde(default)]
    pub allowed_dirs: Vec<PathBuf>,
    pub max_image_bytes: Option<u64>,
}

/// `[http]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// The address `serve --http` binds when the flag gives none.
    pub addr: Option<String>,
    #[serde(default)]
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// A file holding the Bearer token (`LLM_ROUTER_AUTH_TOKEN` wins when set).
    pub auth_token_file: Option<PathBuf>,
    pub max_body_bytes: Option<u64>,
    pub max_sessions: Option<u32>,
    pub session_idle_secs: Option<f64>,
}

/// Reads and parses a config file. The error text names the file, line and key.
pub fn read(path: &Path) -> Result<RawFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    parse(&text)
}

/// Parses config text.
pub fn parse(text: &str) -> Result<RawFile, String> {
    toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_a_valid_config() {
        let raw = parse("").unwrap();
        assert!(raw.routes.is_empty() && raw.models.is_empty() && raw.retry.is_none());
    }

    #[test]
    fn typos_are_rejected_with_the_key_and_line() {
        let e = parse("[retry]\nattempts = 2\nbase_delay = 1\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("unknown field `base_delay`"), "{e}");
        assert!(
            e.contains("base_delay_secs"),
            "the valid names are listed: {e}"
        );
    }

    #[test]
    fn unknown_tasks_are_rejected() {
        let e = parse("[routes]\ncodeing = [\"gpt-4.1\"]\n").unwrap_err();
        assert!(e.contains("codeing"), "{e}");
    }

    #[test]
    fn prices_may_be_numbers_or_strings() {
        let raw =
            parse("[[models]]\nid = \"a\"\ninput_price = 0.15\noutput_price = \"0.60\"\n").unwrap();
        assert_eq!(raw.models[0].input_price, Some(Decimal::new(15, 2)));
        assert_eq!(raw.models[0].output_price, Some(Decimal::new(60, 2)));
    }
}
