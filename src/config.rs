//! Configuration: raw values from the environment and command-line flags, checked into a
//! [`Config`] before anything else uses them.
//!
//! Every error names the variable or flag and the bad value, so a user can fix it without
//! reading code. The API key is held as a [`SecretString`] from the moment it is read: its
//! `Debug` output is redacted and it is exposed only where the `Authorization` header is built.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::routing::cooldown::CooldownConfig;
use crate::routing::retry::RetryConfig;
use url::Url;

/// The AIsa gateway, used when `AISA_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "https://api.aisa.one/v1";
/// The request timeout when `LLM_ROUTER_TIMEOUT_SECS` is not set: long enough for reasoning
/// models, short enough that a dead upstream does not hang an agent forever.
pub const DEFAULT_TIMEOUT_SECS: f64 = 120.0;
/// The longest gap between two pieces of a streamed answer when
/// `LLM_ROUTER_STREAM_IDLE_SECS` is not set.
pub const DEFAULT_STREAM_IDLE_SECS: f64 = 60.0;
/// How often a streamed call says it is still waiting for the first token, when
/// `LLM_ROUTER_HEARTBEAT_MS` is not set.
pub const DEFAULT_HEARTBEAT_MS: u64 = 10_000;
/// How long establishing a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest local image `vision` will read.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

/// Configuration as given: strings from the environment and paths from flags, unchecked.
#[derive(Debug, Default, Clone)]
pub struct RawConfig {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub timeout_secs: Option<String>,
    /// `LLM_ROUTER_ALLOWED_DIRS`, a path list (`:`-separated on Unix).
    pub allowed_dirs_env: Option<OsString>,
    /// `--allow-dir` flags.
    pub allowed_dirs: Vec<PathBuf>,
    /// `LLM_ROUTER_STREAM_IDLE_SECS`.
    pub stream_idle_secs: Option<String>,
    /// `LLM_ROUTER_HEARTBEAT_MS`.
    pub heartbeat_ms: Option<String>,
}

/// Checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub api_key: Option<SecretString>,
    pub base_url: Url,
    /// True when `base_url` is the AIsa gateway, which always needs a key.
    pub is_default_gateway: bool,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Canonical directories from which `vision` may read local files.
    pub allowed_dirs: Vec<PathBuf>,
    pub max_image_bytes: u64,
    pub retry: RetryConfig,
    pub cooldown: CooldownConfig,
    /// A stream that sends nothing for this long is given up.
    pub stream_idle_timeout: Duration,
    /// While a streamed call waits for its first token, a progress notification this often.
    pub heartbeat: Duration,
}

/// A configuration value that cannot be used; the message names the variable and the value.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: &'static str,
    pub message: String,
}

fn config_error(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        message: message.into(),
    }
}

impl RawConfig {
    /// Reads the variables llm-router understands from the process environment.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            api_key: var("AISA_API_KEY"),
            base_url: var("AISA_BASE_URL"),
            timeout_secs: var("LLM_ROUTER_TIMEOUT_SECS"),
            allowed_dirs_env: std::env::var_os("LLM_ROUTER_ALLOWED_DIRS").filter(|v| !v.is_empty()),
            allowed_dirs: Vec::new(),
            stream_idle_secs: var("LLM_ROUTER_STREAM_IDLE_SECS"),
            heartbeat_ms: var("LLM_ROUTER_HEARTBEAT_MS"),
        }
    }

    /// Checks every value and returns the configuration the rest of the program uses.
    pub fn check(self) -> Result<Config, ConfigError> {
        let base_url = match self.base_url.as_deref() {
            None => DEFAULT_BASE_URL.to_owned(),
            Some(s) => s.trim().trim_end_matches('/').to_owned(),
        };
        let parsed = Url::parse(&base_url).map_err(|e| {
            config_error(
                "AISA_BASE_URL",
                format!("'{base_url}' is not a URL ({e}); expected e.g. {DEFAULT_BASE_URL}"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(config_error(
                "AISA_BASE_URL",
                format!("'{base_url}' must start with http:// or https://"),
            ));
        }
        let is_default_gateway = base_url == DEFAULT_BASE_URL;

        let timeout_secs = match self.timeout_secs.as_deref() {
            None => DEFAULT_TIMEOUT_SECS,
            Some(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t > 0.0 && *t <= 86_400.0)
                .ok_or_else(|| {
                    config_error(
                        "LLM_ROUTER_TIMEOUT_SECS",
                        format!("'{s}' is not a number of seconds between 0 and 86400"),
                    )
                })?,
        };

        let stream_idle_secs = match self.stream_idle_secs.as_deref() {
            None => DEFAULT_STREAM_IDLE_SECS,
            Some(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t > 0.0 && *t <= 86_400.0)
                .ok_or_else(|| {
                    config_error(
                        "LLM_ROUTER_STREAM_IDLE_SECS",
                        format!("'{s}' is not a number of seconds between 0 and 86400"),
                    )
                })?,
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
        let allowed_dirs = dirs
            .into_iter()
            .map(|d| {
                let canonical = std::fs::canonicalize(&d).map_err(|e| {
                    config_error(
                        "LLM_ROUTER_ALLOWED_DIRS/--allow-dir",
                        format!("'{}' cannot be used: {e}", d.display()),
                    )
                })?;
                if !canonical.is_dir() {
                    return Err(config_error(
                        "LLM_ROUTER_ALLOWED_DIRS/--allow-dir",
                        format!("'{}' is not a directory", d.display()),
                    ));
                }
                Ok(canonical)
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Config {
            api_key: self
                .api_key
                .map(|k| SecretString::from(k.trim().to_owned())),
            base_url: parsed,
            is_default_gateway,
            timeout: Duration::from_secs_f64(timeout_secs),
            connect_timeout: CONNECT_TIMEOUT,
            allowed_dirs,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            retry: RetryConfig::default(),
            cooldown: CooldownConfig::default(),
            stream_idle_timeout: Duration::from_secs_f64(stream_idle_secs),
            heartbeat: Duration::from_millis(heartbeat_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_point_at_the_aisa_gateway() {
        let c = RawConfig::default().check().unwrap();
        assert_eq!(c.base_url.as_str(), "https://api.aisa.one/v1");
        assert!(c.is_default_gateway);
        assert!(c.api_key.is_none());
        assert_eq!(c.timeout, Duration::from_secs(120));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = RawConfig {
            base_url: Some("not a url".into()),
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(
            e.to_string().starts_with("AISA_BASE_URL: 'not a url'"),
            "{e}"
        );

        let e = RawConfig {
            timeout_secs: Some("-3".into()),
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(
            e.to_string().starts_with("LLM_ROUTER_TIMEOUT_SECS: '-3'"),
            "{e}"
        );

        let e = RawConfig {
            allowed_dirs: vec!["/definitely/not/here".into()],
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("/definitely/not/here"), "{e}");
    }

    #[test]
    fn trailing_slash_and_fractional_timeout_are_accepted() {
        let c = RawConfig {
            base_url: Some("http://127.0.0.1:11434/v1/".into()),
            timeout_secs: Some("0.5".into()),
            ..Default::default()
        }
        .check()
        .unwrap();
        assert_eq!(c.base_url.as_str(), "http://127.0.0.1:11434/v1");
        assert!(!c.is_default_gateway);
        assert_eq!(c.timeout, Duration::from_millis(500));
    }

    #[test]
    fn the_key_is_redacted_in_debug_output() {
        let c = RawConfig {
            api_key: Some("sk-very-secret".into()),
            ..Default::default()
        }
        .check()
        .unwrap();
        assert!(!format!("{c:?}").contains("sk-very-secret"));
    }
}
