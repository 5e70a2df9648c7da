//! The checks behind [`super::RawConfig::check`], one function per part of the config: each
//! turns raw values into checked ones or a [`ConfigError`] naming the key path and the value.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::{
    ConfigError, DEFAULT_BASE_URL, DEFAULT_HTTP_ADDR, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_SESSIONS,
    DEFAULT_SESSION_IDLE, HttpConfig, RawFile, config_error, file,
};
use crate::catalog::{Catalog, ModelInfo, Price, TaskRoute};
use crate::routing::cooldown::CooldownConfig;
use crate::routing::retry::RetryConfig;
use crate::upstream::ProviderSpec;
use crate::upstream::providers::Serves;

pub(super) fn check_base_url(key: &str, given: &str) -> Result<(Url, bool), ConfigError> {
    let base_url = given.trim().trim_end_matches('/').to_owned();
    let parsed = Url::parse(&base_url).map_err(|e| {
        config_error(
            key,
            format!("'{base_url}' is not a URL ({e}); expected e.g. {DEFAULT_BASE_URL}"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(config_error(
            key,
            format!("'{base_url}' must start with http:// or https://"),
        ));
    }
    Ok((parsed, base_url == DEFAULT_BASE_URL))
}

/// A number of seconds from an environment variable.
pub(super) fn parse_secs(key: &str, s: &str) -> Result<Duration, ConfigError> {
    s.trim().parse::<f64>().ok().and_then(secs).ok_or_else(|| {
        config_error(
            key,
            format!("'{s}' is not a number of seconds between 0 and 86400"),
        )
    })
}

/// A number of seconds from the file, or the default.
pub(super) fn secs_in_file(
    key: &str,
    value: Option<f64>,
    default: f64,
) -> Result<Duration, ConfigError> {
    match value {
        None => secs(default).ok_or_else(|| config_error(key, "bad default")),
        Some(v) => secs(v).ok_or_else(|| {
            config_error(
                key,
                format!("{v} is not a number of seconds between 0 and 86400"),
            )
        }),
    }
}

pub(super) fn secs(v: f64) -> Option<Duration> {
    (v.is_finite() && v > 0.0 && v <= 86_400.0).then(|| Duration::from_secs_f64(v))
}

pub(super) fn check_dirs(dirs: Vec<PathBuf>, key: &str) -> Result<Vec<PathBuf>, ConfigError> {
    dirs.into_iter()
        .map(|d| {
            let canonical = std::fs::canonicalize(&d)
                .map_err(|e| config_error(key, format!("'{}' cannot be used: {e}", d.display())))?;
            if !canonical.is_dir() {
                return Err(config_error(
                    key,
                    format!("'{}' is not a directory", d.display()),
                ));
            }
            Ok(canonical)
        })
        .collect()
}

pub(super) fn check_retry(raw: file::RawRetry) -> Result<RetryConfig, ConfigError> {
    let d = RetryConfig::default();
    let attempts = match raw.attempts {
        Some(n @ 1..=10) => n,
        Some(n) => {
            return Err(config_error(
                "retry.attempts",
                format!("{n} is out of range; give 1 (no retry) to 10"),
            ));
        }
        None => d.attempts,
    };
    let base_delay = match raw.base_delay_secs {
        Some(v) if v.is_finite() && (0.0..=60.0).contains(&v) => Duration::from_secs_f64(v),
        Some(v) => {
            return Err(config_error(
                "retry.base_delay_secs",
                format!("{v} is not a delay between 0 and 60 seconds"),
            ));
        }
        None => d.base_delay,
    };
    let max_delay = secs_in_file(
        "retry.max_delay_secs",
        raw.max_delay_secs,
        d.max_delay.as_secs_f64(),
    )?;
    if max_delay < base_delay {
        return Err(config_error(
            "retry.max_delay_secs",
            format!(
                "{} s is shorter than retry.base_delay_secs ({} s)",
                max_delay.as_secs_f64(),
                base_delay.as_secs_f64()
            ),
        ));
    }
    let jitter = match raw.jitter {
        Some(j) if j.is_finite() && (0.0..=1.0).contains(&j) => j,
        Some(j) => {
            return Err(config_error(
                "retry.jitter",
                format!("{j} is not a fraction between 0 and 1 (0.25 = ±25%)"),
            ));
        }
        None => d.jitter,
    };
    Ok(RetryConfig {
        attempts,
        base_delay,
        max_delay,
        jitter,
    })
}

pub(super) fn check_cooldown(raw: file::RawCooldown) -> Result<CooldownConfig, ConfigError> {
    let d = CooldownConfig::default();
    Ok(CooldownConfig {
        threshold: raw.threshold.unwrap_or(d.threshold),
        window: secs_in_file(
            "cooldown.window_secs",
            raw.window_secs,
            d.window.as_secs_f64(),
        )?,
        period: secs_in_file(
            "cooldown.period_secs",
            raw.period_secs,
            d.period.as_secs_f64(),
        )?,
    })
}

/// The embedded catalog with the file's models, aliases, defaults and routes applied, and the
/// default fallbacks resolved. Every model name must be known (catalog or `[[models]]`).
pub(super) fn check_catalog(
    file: &RawFile,
    providers: &[(ProviderSpec, Serves)],
) -> Result<(Catalog, Vec<String>), ConfigError> {
    let mut catalog =
        Catalog::embedded().map_err(|e| config_error("(embedded catalog)", e.to_string()))?;
    for (i, m) in file.models.iter().enumerate() {
        let key = format!("models[{i}]");
        let id = m.id.trim();
        if id.is_empty() {
            return Err(config_error(format!("{key}.id"), "is empty"));
        }
        let known = catalog.get(id).cloned();
        let is_new = known.is_none();
        let mut info = known.unwrap_or_else(|| ModelInfo {
            id: id.to_owned(),
            family: "custom".to_owned(),
            ..ModelInfo::default()
        });
        if let Some(f) = &m.family {
            info.family = f.clone();
        }
        if m.context_window.is_some() {
            info.context_window = m.context_window;
        }
        info.vision = m.vision.unwrap_or(info.vision);
        info.tools = m.tools.unwrap_or(info.tools);
        info.reasoning = m.reasoning.unwrap_or(info.reasoning);
        for (name, p) in [
            ("input_price", m.input_price),
            ("output_price", m.output_price),
        ] {
            if p.is_some_and(|p| p.is_sign_negative()) {
                return Err(config_error(
                    format!("{key}.{name}"),
                    format!(
                        "{} is negative; prices are USD per 1M tokens",
                        p.unwrap_or_default()
                    ),
                ));
            }
        }
        info.price = match (info.price, m.input_price, m.output_price) {
            (_, Some(input), Some(output)) => Some(Price { input, output }),
            (Some(old), Some(input), None) => Some(Price { input, ..old }),
            (Some(old), None, Some(output)) => Some(Price { output, ..old }),
            (old, None, None) => old,
            (None, _, _) => {
                return Err(config_error(
                    &key,
                    format!("'{id}' has no catalog price: give both input_price and output_price"),
                ));
            }
        };
        if m.input_price.is_some() || m.output_price.is_some() || is_new {
            info.price_source = Some(
                m.price_source
                    .clone()
                    .unwrap_or_else(|| "config".to_owned()),
            );
        }
        catalog.upsert(info);
    }

    let known = |catalog: &Catalog, key: &str, name: &str| -> Result<String, ConfigError> {
        let resolved = catalog.resolve(name);
        if name.trim().is_empty() {
            return Err(config_error(key, "the model name is empty"));
        }
        if resolved.info.is_some() {
            return Ok(resolved.id);
        }
        if super::providers::served_by_provider(providers, name.trim()) {
            return Ok(name.trim().to_owned());
        }
        let suggestions = catalog.suggest(name, &[]);
        let hint = match suggestions.as_slice() {
            [] => String::new(),
            s => format!(" (did you mean {}?)", s.join(", ")),
        };
        Err(config_error(
            key,
            format!(
                "unknown model '{name}'{hint}; to use a model the catalog does not list, \
                 declare it under [[models]], list it under a [[providers]] entry, or address \
                 it as provider/model"
            ),
        ))
    };

    for (alias, target) in &file.aliases {
        let id = known(&catalog, &format!("aliases.{alias}"), target)?;
        if catalog.get(alias).is_some() {
            return Err(config_error(
                format!("aliases.{alias}"),
                format!("'{alias}' is a model id; an alias cannot replace it"),
            ));
        }
        catalog.set_alias(alias.trim().to_owned(), id);
    }
    if let Some(m) = &file.default_model {
        catalog.default_model = known(&catalog, "default_model", m)?;
    }
    if let Some(m) = &file.default_vision_model {
        let id = known(&catalog, "default_vision_model", m)?;
        if catalog.get(&id).is_some_and(|info| !info.vision) {
            return Err(config_error(
                "default_vision_model",
                format!("'{m}' does not accept images (its catalog entry has vision = false)"),
            ));
        }
        catalog.default_vision_model = id;
    }
    for (task, chain) in &file.routes {
        if *task == crate::routing::Task::Cheap {
            return Err(config_error(
                "routes.cheap",
                "the cheap task has no fixed chain: route_by_task picks the cheapest model for \
                 each prompt from the prices; change prices under [[models]] instead",
            ));
        }
        if chain.is_empty() {
            return Err(config_error(
                format!("routes.{task}"),
                "the chain is empty; remove the key to keep the built-in chain",
            ));
        }
        let models = chain
            .iter()
            .enumerate()
            .map(|(i, m)| known(&catalog, &format!("routes.{task}[{i}]"), m))
            .collect::<Result<Vec<_>, _>>()?;
        catalog.set_route(
            *task,
            TaskRoute {
                models,
                why: "set in the config file".to_owned(),
            },
        );
    }
    let fallbacks = file
        .fallback_models
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| known(&catalog, &format!("fallback_models[{i}]"), m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((catalog, fallbacks))
}

pub(super) fn check_http(
    raw: file::RawHttp,
    auth_token: Option<SecretString>,
) -> Result<HttpConfig, ConfigError> {
    let addr_text = raw.addr.as_deref().unwrap_or(DEFAULT_HTTP_ADDR);
    let addr = addr_text.trim().parse::<SocketAddr>().map_err(|_| {
        config_error(
            "http.addr",
            format!("'{addr_text}' is not an IP:port address, e.g. {DEFAULT_HTTP_ADDR}"),
        )
    })?;
    let max_body_bytes = match raw.max_body_bytes {
        Some(n) if n < 1024 => {
            return Err(config_error(
                "http.max_body_bytes",
                format!("{n} is too small for an MCP request; give at least 1024"),
            ));
        }
        Some(n) => n,
        None => DEFAULT_MAX_BODY_BYTES,
    };
    let max_sessions = match raw.max_sessions {
        Some(0) => {
            return Err(config_error(
                "http.max_sessions",
                "0 would refuse every client; give at least 1",
            ));
        }
        Some(n) => n,
        None => DEFAULT_MAX_SESSIONS,
    };
    let session_idle = secs_in_file(
        "http.session_idle_secs",
        raw.session_idle_secs,
        DEFAULT_SESSION_IDLE.as_secs_f64(),
    )?;
    Ok(HttpConfig {
        addr,
        allow_origins: raw.allow_origins,
        allow_hosts: raw.allow_hosts,
        auth_token,
        max_body_bytes,
        max_sessions,
        session_idle,
    })
}
