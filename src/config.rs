//! Configuration: the config file, the environment and command-line flags, checked into a
//! [`Config`] before anything else uses them.
//!
//! The order of precedence is flag > environment variable > config file > built-in default.
//! [`RawConfig`] holds everything as given; [`RawConfig::check`] turns it into a [`Config`] or a
//! [`ConfigError`] that names the variable or key path and the bad value
//! (`routes.code[1]: unknown model 'gpt-5x' (did you mean gpt-5?)`), so a user can fix it
//! without reading code. The API key is held as a [`SecretString`] from the moment it is read:
//! its `Debug` output is redacted and it is exposed only where the `Authorization` header is
//! built. It is never read from the config file.

mod check;
pub mod file;
pub mod providers;
pub mod usage;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::catalog::Catalog;
use crate::routing::cooldown::CooldownConfig;
use crate::routing::retry::RetryConfig;
use check::{
    check_base_url, check_catalog, check_cooldown, check_dirs, check_http, check_retry, parse_secs,
    secs_in_file,
};
pub use file::{Location, RawFile};

/// The AIsa gateway, used when neither `AISA_BASE_URL` nor the file's `base_url` is set.
pub const DEFAULT_BASE_URL: &str = "https://api.aisa.one/v1";
/// The request timeout by default: long enough for reasoning models, short enough that a
/// dead upstream does not hang an agent forever.
pub const DEFAULT_TIMEOUT_SECS: f64 = 120.0;
/// How long establishing a connection may take by default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest gap between two pieces of a streamed answer by default.
pub const DEFAULT_STREAM_IDLE_SECS: f64 = 60.0;
/// How often a streamed call says it is still waiting for the first token, by default.
pub const DEFAULT_HEARTBEAT_MS: u64 = 10_000;
/// The largest local image `vision` will read by default.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;
/// The HTTP address `serve --http` binds when neither the flag nor the file gives one.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8787";
/// The largest HTTP request body by default.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
/// Concurrent MCP sessions over HTTP by default.
pub const DEFAULT_MAX_SESSIONS: u32 = 1000;
/// An HTTP session with no request for this long is closed by default.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// Configuration as given: strings from the environment, paths from flags and the parsed
/// config file, unchecked.
#[derive(Debug, Default, Clone)]
pub struct RawConfig {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub timeout_secs: Option<String>,
    /// `LLM_ROUTER_ALLOWED_DIRS`, a path list (`:`-separated on Unix).
    pub allowed_dirs_env: Option<OsString>,
    /// `--allow-dir` flags.
    pub allowed_dirs: Vec<PathBuf>,
    /// `LLM_ROUTER_AUTH_TOKEN`.
    pub auth_token: Option<String>,
    /// `LLM_ROUTER_STREAM_IDLE_SECS`.
    pub stream_idle_secs: Option<String>,
    /// `LLM_ROUTER_HEARTBEAT_MS`.
    pub heartbeat_ms: Option<String>,
    /// The config file and where it was found, when there is one.
    pub file: Option<(Location, RawFile)>,
    /// `LLM_ROUTER_LEDGER_PATH`, `LLM_ROUTER_NO_LEDGER`, `LLM_ROUTER_BUDGET_*`.
    pub usage_env: usage::UsageEnv,
    /// `--no-ledger`.
    pub no_ledger: bool,
}

/// Checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub api_key: Option<SecretString>,
    pub base_url: Url,
    /// True when `base_url` is the AIsa gateway, which always needs a key.
    pub is_default_gateway: bool,
    /// The whole upstream call.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Until the upstream's response headers arrive (defaults to `timeout`).
    pub first_byte_timeout: Duration,
    /// Canonical directories from which `vision` may read local files.
    pub allowed_dirs: Vec<PathBuf>,
    pub max_image_bytes: u64,
    pub retry: RetryConfig,
    pub cooldown: CooldownConfig,
    /// Fallbacks for `chat` and `vision` calls that give none (resolved ids).
    pub default_fallbacks: Vec<String>,
    /// The embedded catalog with the config file's models, prices, aliases and routes applied.
    pub catalog: Catalog,
    pub http: HttpConfig,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    /// A stream that sends nothing for this long (once tokens flow) is given up.
    pub stream_idle_timeout: Duration,
    /// While a streamed call waits for its first token, a progress notification this often.
    pub heartbeat: Duration,
    /// Where the usage ledger lives (`path: None`: in memory only).
    pub ledger: usage::LedgerConfig,
    pub budget: crate::ledger::budget::BudgetConfig,
    pub cache: crate::ledger::cache::CacheConfig,
    /// The providers beside the gateway, in config order, with their keys read.
    pub providers: Vec<(
        crate::upstream::ProviderSpec,
        crate::upstream::providers::Serves,
    )>,
}

/// Settings for `serve --http` (flags may still override the address and lists).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    pub allow_origins: Vec<String>,
    pub allow_hosts: Vec<String>,
    /// The Bearer token clients must send, when set.
    pub auth_token: Option<SecretString>,
    pub max_body_bytes: u64,
    pub max_sessions: u32,
    pub session_idle: Duration,
}

/// A configuration value that cannot be used; the message names the variable or key path and
/// the value, and the file when it came from one.
#[derive(Debug)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    /// The variable or key path; empty for an error about the file as a whole.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

fn config_error(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: None,
        key: key.into(),
        message: message.into(),
    }
}

impl RawConfig {
    /// Reads the variables llm-router understands from the process environment (no file).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            api_key: var("AISA_API_KEY"),
            base_url: var("AISA_BASE_URL"),
            timeout_secs: var("LLM_ROUTER_TIMEOUT_SECS"),
            allowed_dirs_env: std::env::var_os("LLM_ROUTER_ALLOWED_DIRS").filter(|v| !v.is_empty()),
            allowed_dirs: Vec::new(),
            auth_token: var("LLM_ROUTER_AUTH_TOKEN"),
            stream_idle_secs: var("LLM_ROUTER_STREAM_IDLE_SECS"),
            heartbeat_ms: var("LLM_ROUTER_HEARTBEAT_MS"),
            file: None,
            usage_env: usage::UsageEnv::from_env(),
            no_ledger: false,
        }
    }

    /// The environment plus the config file: `flag` (`--config`), else `LLM_ROUTER_CONFIG`,
    /// else the default path if a file is there. A file named explicitly must exist.
    pub fn load(flag: Option<&Path>) -> Result<Self, ConfigError> {
        let mut raw = Self::from_env();
        if let Some(location) = file::locate(flag) {
            let path = location.path().to_owned();
            let exists = path.try_exists().unwrap_or(true);
            if exists || !matches!(location, Location::Default(_)) {
                let parsed = file::read(&path).map_err(|message| ConfigError {
                    file: Some(path.clone()),
                    key: String::new(),
                    message: format!("(the config file, from {}) {message}", location.origin()),
                })?;
                raw.file = Some((location, parsed));
            }
        }
        Ok(raw)
    }

    /// Checks every value and returns the configuration the rest of the program uses.
    pub fn check(self) -> Result<Config, ConfigError> {
        let file_path = self.file.as_ref().map(|(l, _)| l.path().to_owned());
        let in_file = |e: ConfigError| ConfigError {
            file: file_path.clone(),
            ..e
        };
        let (file, file_dir) = match &self.file {
            Some((loc, f)) => (f.clone(), loc.path().parent().map(Path::to_owned)),
            None => (RawFile::default(), None),
        };
        if file.api_key.is_some() {
            return Err(in_file(config_error(
                "api_key",
                "the API key is never read from the config file (files get shared and \
                 committed); remove it and set AISA_API_KEY in the environment",
            )));
        }

        let (base_url_key, base_url) = match (self.base_url.as_deref(), file.base_url.as_deref()) {
            (Some(s), _) => ("AISA_BASE_URL", s),
            (None, Some(s)) => ("base_url", s),
            (None, None) => ("AISA_BASE_URL", DEFAULT_BASE_URL),
        };
        let wrap = |e: ConfigError| if e.key == "base_url" { in_file(e) } else { e };
        let (parsed, is_default_gateway) = check_base_url(base_url_key, base_url).map_err(wrap)?;

        let timeouts = file.timeouts.clone().unwrap_or_default();
        let total = match self.timeout_secs.as_deref() {
            Some(s) => parse_secs("LLM_ROUTER_TIMEOUT_SECS", s)?,
            None => secs_in_file(
                "timeouts.total_secs",
                timeouts.total_secs,
                DEFAULT_TIMEOUT_SECS,
            )
            .map_err(in_file)?,
        };
        let connect = secs_in_file(
            "timeouts.connect_secs",
            timeouts.connect_secs,
            CONNECT_TIMEOUT.as_secs_f64(),
        )
        .map_err(in_file)?;
        let first_byte = secs_in_file(
            "timeouts.first_byte_secs",
            timeouts.first_byte_secs,
            total.as_secs_f64(),
        )
        .map_err(in_file)?;

        let stream_idle_timeout = match self.stream_idle_secs.as_deref() {
            Some(s) => parse_secs("LLM_ROUTER_STREAM_IDLE_SECS", s)?,
            None => secs_in_file(
                "timeouts.stream_idle_secs",
                timeouts.stream_idle_secs,
                DEFAULT_STREAM_IDLE_SECS,
            )
            .map_err(in_file)?,
        };
        let heartbeat_ms = match self.heartbeat_ms.as_deref() {
            None => DEFAULT_HEARTBEAT_MS,
            Some(s) => s
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| (10..=3_600_000).contains(ms))
                .ok_or_else(|| {
                    config_error(
                        "LLM_ROUTER_HEARTBEAT_MS",
                        format!("'{s}' is not a number of milliseconds between 10 and 3600000"),
                    )
                })?,
        };

        let mut dirs = self.allowed_dirs;
        if let Some(list) = &self.allowed_dirs_env {
            dirs.extend(std::env::split_paths(list).filter(|p| !p.as_os_str().is_empty()));
        }
        let allowed_dirs = check_dirs(dirs, "LLM_ROUTER_ALLOWED_DIRS/--allow-dir")?;
        let vision = file.vision.clone().unwrap_or_default();
        let file_dirs = vision
            .allowed_dirs
            .iter()
            .map(|d| match &file_dir {
                Some(base) if d.is_relative() => base.join(d),
                _ => d.clone(),
            })
            .collect();
        let mut allowed_dirs = allowed_dirs;
        for d in check_dirs(file_dirs, "vision.allowed_dirs").map_err(in_file)? {
            if !allowed_dirs.contains(&d) {
                allowed_dirs.push(d);
            }
        }
        let max_image_bytes = match vision.max_image_bytes {
            Some(0) => {
                return Err(in_file(config_error(
                    "vision.max_image_bytes",
                    "0 would refuse every image; give a size in bytes, e.g. 20971520",
                )));
            }
            Some(n) => n,
            None => DEFAULT_MAX_IMAGE_BYTES,
        };

        let retry = check_retry(file.retry.clone().unwrap_or_default()).map_err(in_file)?;
        let cooldown =
            check_cooldown(file.cooldown.clone().unwrap_or_default()).map_err(in_file)?;
        let providers = providers::check(
            &file,
            &providers::Inherited {
                timeout: total,
                first_byte: first_byte.min(total),
                stream_idle: stream_idle_timeout,
            },
            &|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()),
        )
        .map_err(in_file)?;
        let (catalog, default_fallbacks) = check_catalog(&file, &providers).map_err(in_file)?;

        let auth_token = match (
            &self.auth_token,
            file.http.as_ref().and_then(|h| h.auth_token_file.as_ref()),
        ) {
            (Some(t), _) => Some(SecretString::from(t.trim().to_owned())),
            (None, Some(path)) => {
                let path = match &file_dir {
                    Some(base) if path.is_relative() => base.join(path),
                    _ => path.clone(),
                };
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    in_file(config_error(
                        "http.auth_token_file",
                        format!("cannot read '{}': {e}", path.display()),
                    ))
                })?;
                let token = text.trim().to_owned();
                if token.is_empty() {
                    return Err(in_file(config_error(
                        "http.auth_token_file",
                        format!("'{}' is empty", path.display()),
                    )));
                }
                Some(SecretString::from(token))
            }
            (None, None) => None,
        };
        let http =
            check_http(file.http.clone().unwrap_or_default(), auth_token).map_err(in_file)?;
        let usage = usage::check(
            &file,
            &self.usage_env,
            self.no_ledger,
            file_path.as_deref(),
            file_dir.as_deref(),
        )?;

        Ok(Config {
            api_key: self
                .api_key
                .map(|k| SecretString::from(k.trim().to_owned())),
            base_url: parsed,
            is_default_gateway,
            timeout: total,
            connect_timeout: connect,
            first_byte_timeout: first_byte.min(total),
            allowed_dirs,
            max_image_bytes,
            retry,
            cooldown,
            default_fallbacks,
            catalog,
            http,
            file: file_path,
            stream_idle_timeout,
            heartbeat: Duration::from_millis(heartbeat_ms),
            ledger: usage.ledger,
            budget: usage.budget,
            cache: usage.cache,
            providers,
        })
    }
}

#[cfg(test)]
mod tests;
