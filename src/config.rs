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
mod tests {
    use super::*;
    use rust_decimal::Decimal;

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
    fn with_file(text: &str) -> Result<Config, ConfigError> {
        let raw = file::parse(text).map_err(|m| config_error("(parse)", m))?;
        RawConfig {
            file: Some((Location::Flag("/etc/llm-router/test.toml".into()), raw)),
            ..Default::default()
        }
        .check()
    }

    fn err(text: &str) -> String {
        with_file(text).unwrap_err().to_string()
    }

    #[test]
    fn the_examples_commented_providers_are_valid_once_uncommented() {
        let start = file::EXAMPLE
            .find("# --- providers example ---")
            .expect("the example has a providers block");
        let end = file::EXAMPLE
            .find("# --- end providers example ---")
            .expect("the block ends");
        let block: String = file::EXAMPLE[start..end]
            .lines()
            .skip(1)
            .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
            .collect::<Vec<_>>()
            .join("\n");
        let c = with_file(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        let names: Vec<(&str, &str)> = c
            .providers
            .iter()
            .map(|(p, _)| (p.name.as_str(), p.style.name()))
            .collect();
        assert_eq!(names, [("local", "openai"), ("google", "gemini")]);
        let (google, serves) = &c.providers[1];
        assert_eq!(google.auth, crate::upstream::style::Auth::XGoogApiKey);
        assert!(serves.discover && google.key_required);
        let (local, serves) = &c.providers[0];
        assert!(!local.key_required);
        assert!(
            serves.ids.contains(&"llama3.2:3b".to_owned()),
            "from [[models]] provider"
        );
        assert_eq!(local.timeout, Duration::from_secs(300));
    }

    #[test]
    fn the_example_config_is_valid_and_applied() {
        let c = with_file(file::EXAMPLE).unwrap();
        let code = c.catalog.task_route(crate::routing::Task::Code).unwrap();
        assert_eq!(
            code.models,
            ["claude-sonnet-4-5-20250929", "gpt-4.1", "deepseek-v3.2"]
        );
        assert_eq!(c.catalog.resolve("sonnet").id, "claude-sonnet-4-5-20250929");
        let kimi = c.catalog.get("kimi-k2").unwrap();
        assert_eq!(kimi.price.unwrap().input, Decimal::new(60, 2));
        assert_eq!(kimi.price_source.as_deref(), Some("my contract, 2026-11"));
        let gpt = c.catalog.get("gpt-4.1").unwrap();
        assert_eq!(gpt.price.unwrap().input, Decimal::new(120, 2));
        assert_eq!(gpt.price.unwrap().output, Decimal::new(560, 2), "untouched");
        assert_eq!(gpt.context_window, Some(1_047_576), "untouched");
        assert_eq!(
            c.default_fallbacks,
            ["claude-haiku-4-5-20251001", "gemini-2.5-flash"]
        );
        assert_eq!(c.first_byte_timeout, Duration::from_secs(60));
        assert_eq!(c.http.max_sessions, 1000);
        assert_eq!(c.retry, RetryConfig::default());
        assert_eq!(c.budget.daily_usd, Some(Decimal::from(5)));
        assert_eq!(c.budget.monthly_usd, Some(Decimal::from(50)));
        assert_eq!(c.budget.per_call_max_usd, Some(Decimal::new(5, 1)));
        assert_eq!(c.budget.session_usd, None);
        assert_eq!(c.cache.max_entries, 256);
        assert!(c.ledger.path.is_some() || std::env::var_os("HOME").is_none());
    }

    #[test]
    fn unknown_models_name_the_key_path_and_suggest() {
        let e = err("[routes]\ncode = [\"gpt-4.1\", \"gpt-5x\"]\n");
        assert!(
            e.starts_with(
                "/etc/llm-router/test.toml: routes.code[1]: unknown model 'gpt-5x' (did you mean gpt-5"
            ),
            "{e}"
        );
        assert!(err("default_model = \"nope-model\"").contains("default_model: unknown model"));
        assert!(
            err("fallback_models = [\"\"]").contains("fallback_models[0]: the model name is empty")
        );
        assert!(err("[aliases]\nfast = \"gpt-9\"").contains("aliases.fast: unknown model 'gpt-9'"));
        assert!(err("[aliases]\n\"gpt-4.1\" = \"gpt-4o\"").contains("is a model id"));
        assert!(err("[routes]\ncode = []").contains("routes.code: the chain is empty"));
        assert!(
            err("[routes]\ncheap = [\"gpt-4o-mini\"]").contains("routes.cheap: the cheap task")
        );
        assert!(err("default_vision_model = \"deepseek-v3.2\"").contains("does not accept images"));
    }

    #[test]
    fn declared_models_can_be_routed_to() {
        let c = with_file(
            "[[models]]\nid = \"llama3.2\"\ninput_price = 0\noutput_price = 0\n\
             [routes]\nfast = [\"llama3.2\", \"gpt-4.1-mini\"]\n",
        )
        .unwrap();
        let m = c.catalog.get("llama3.2").unwrap();
        assert_eq!(m.family, "custom");
        assert_eq!(m.price.unwrap().output, Decimal::ZERO);
        assert_eq!(m.price_source.as_deref(), Some("config"));
        assert!(err("[[models]]\nid = \"x\"\ninput_price = 1\n").contains("give both"));
        assert!(
            err("[[models]]\nid = \"x\"\ninput_price = -1\noutput_price = 1\n")
                .contains("models[0].input_price: -1 is negative")
        );
    }

    #[test]
    fn out_of_range_numbers_name_the_key() {
        assert!(err("[retry]\nattempts = 0").contains("retry.attempts: 0 is out of range"));
        assert!(err("[retry]\njitter = 2.0").contains("retry.jitter: 2 is not a fraction"));
        assert!(
            err("[retry]\nbase_delay_secs = 5\nmax_delay_secs = 1")
                .contains("retry.max_delay_secs")
        );
        assert!(err("[timeouts]\ntotal_secs = -1").contains("timeouts.total_secs: -1"));
        assert!(err("[http]\naddr = \"localhost\"").contains("http.addr: 'localhost'"));
        assert!(err("[http]\nmax_sessions = 0").contains("http.max_sessions"));
        assert!(err("[vision]\nallowed_dirs = [\"/no/such/dir\"]").contains("vision.allowed_dirs"));
    }

    #[test]
    fn the_key_is_never_read_from_the_file() {
        let e = err("api_key = \"sk-in-a-file\"");
        assert!(
            e.contains("api_key: the API key is never read from the config file"),
            "{e}"
        );
        assert!(!e.contains("sk-in-a-file"));
    }

    #[test]
    fn environment_variables_win_over_the_file() {
        let raw = file::parse("base_url = \"http://file.example/v1\"\n[timeouts]\ntotal_secs = 5")
            .unwrap();
        let c = RawConfig {
            base_url: Some("http://env.example/v1".into()),
            timeout_secs: Some("7".into()),
            file: Some((Location::Flag("/x.toml".into()), raw.clone())),
            ..Default::default()
        }
        .check()
        .unwrap();
        assert_eq!(c.base_url.as_str(), "http://env.example/v1");
        assert_eq!(c.timeout, Duration::from_secs(7));
        let c = RawConfig {
            file: Some((Location::Flag("/x.toml".into()), raw)),
            ..Default::default()
        }
        .check()
        .unwrap();
        assert_eq!(c.base_url.as_str(), "http://file.example/v1");
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(
            c.first_byte_timeout,
            Duration::from_secs(5),
            "capped by the total"
        );
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("images")).unwrap();
        std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[vision]\nallowed_dirs = [\"images\"]\n[http]\nauth_token_file = \"token\"\n",
        )
        .unwrap();
        let c = RawConfig::load(Some(&path)).unwrap().check().unwrap();
        assert_eq!(
            c.allowed_dirs,
            [std::fs::canonicalize(dir.path().join("images")).unwrap()]
        );
        use secrecy::ExposeSecret;
        assert_eq!(c.http.auth_token.unwrap().expose_secret(), "s3cret");
    }

    #[test]
    fn a_named_file_must_exist() {
        let e = RawConfig::load(Some(Path::new("/no/such/llm-router.toml"))).unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with(
                "/no/such/llm-router.toml: (the config file, from --config) cannot read it"
            ),
            "{e}"
        );
    }
}
