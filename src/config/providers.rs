//! `[[providers]]`: upstreams beside the AIsa gateway, raw and checked.
//!
//! Each entry names a provider, where it is (`base_url`), the API style it speaks (`openai`,
//! the default, or another [`Style`]), where its key comes from (`api_key_env`, the *name* of
//! an environment variable — the key itself never goes in the file), how it takes the key
//! (`auth`, by default what the style's own API uses), its own timeouts, and which models it
//! serves: `models` (ids, or globs with `*`), `[[models]]` entries with `provider = …`, and
//! `discover = true` for "whatever its `/models` lists". See [`crate::upstream::providers`] for
//! how a model name finds its provider.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::check::{check_base_url, secs_in_file};
use super::{ConfigError, RawFile, config_error};
use crate::upstream::providers::Serves;
use crate::upstream::style::{Auth, Style};
use crate::upstream::{GATEWAY, ProviderSpec};

/// One `[[providers]]` entry as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub name: String,
    pub base_url: String,
    /// openai (default), gemini, anthropic.
    pub style: Option<String>,
    /// The environment variable holding the key; none: requests go without a key.
    pub api_key_env: Option<String>,
    /// bearer, x-api-key, x-goog-api-key (default: what the style's own API takes).
    pub auth: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub discover: bool,
    pub timeout_secs: Option<f64>,
    pub first_byte_secs: Option<f64>,
    pub stream_idle_secs: Option<f64>,
}

/// The defaults a provider inherits from the gateway's settings.
pub(super) struct Inherited {
    pub timeout: Duration,
    pub first_byte: Duration,
    pub stream_idle: Duration,
}

/// Checks every `[[providers]]` entry (and the `provider` of `[[models]]` entries) into the
/// specs the upstream registry is built from; `key` reads an environment variable.
pub(super) fn check(
    file: &RawFile,
    inherited: &Inherited,
    key: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(ProviderSpec, Serves)>, ConfigError> {
    let mut out: Vec<(ProviderSpec, Serves)> = Vec::new();
    for (i, raw) in file.providers.iter().enumerate() {
        let at = |field: &str| format!("providers[{i}].{field}");
        let name = raw.name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(config_error(
                at("name"),
                format!(
                    "'{name}' is not a provider name: use letters, digits, '-', '_' or '.' \
                     (it is how models are addressed, as name/model)"
                ),
            ));
        }
        if name == GATEWAY {
            return Err(config_error(
                at("name"),
                format!(
                    "'{GATEWAY}' is the built-in gateway provider; set base_url (or \
                     AISA_BASE_URL) to move it, or pick another name"
                ),
            ));
        }
        if out.iter().any(|(spec, _)| spec.name == name) {
            return Err(config_error(
                at("name"),
                format!("'{name}' is defined twice"),
            ));
        }
        let (url, _) = check_base_url(&at("base_url"), &raw.base_url)?;
        let style = match &raw.style {
            Some(s) => Style::parse(s).map_err(|m| config_error(at("style"), m))?,
            None => Style::OpenAi,
        };
        let auth = match raw.auth.as_deref().map(str::trim) {
            None => style.api().default_auth(),
            Some("bearer") => Auth::Bearer,
            Some("x-api-key") => Auth::XApiKey,
            Some("x-goog-api-key") => Auth::XGoogApiKey,
            Some(other) => {
                return Err(config_error(
                    at("auth"),
                    format!("unknown auth '{other}'; use bearer, x-api-key or x-goog-api-key"),
                ));
            }
        };
        let key_env = match raw.api_key_env.as_deref().map(str::trim) {
            Some(v) if v.is_empty() || v.contains(['=', '\0']) => {
                return Err(config_error(
                    at("api_key_env"),
                    format!("'{v}' is not an environment variable name"),
                ));
            }
            Some(v) if v.starts_with("sk-") || v.len() > 64 => {
                return Err(config_error(
                    at("api_key_env"),
                    "this looks like a key, not the name of the variable that holds it; put \
                     the key in the environment and its variable's name here",
                ));
            }
            other => other.map(str::to_owned),
        };
        let mut serves = Serves {
            discover: raw.discover,
            ..Serves::default()
        };
        for (j, m) in raw.models.iter().enumerate() {
            let m = m.trim();
            if m.is_empty() {
                return Err(config_error(
                    format!("providers[{i}].models[{j}]"),
                    "is empty",
                ));
            }
            if m.contains('*') {
                serves.globs.push(m.to_owned());
            } else {
                serves.ids.push(m.to_owned());
            }
        }
        let timeout = secs_in_file(
            &at("timeout_secs"),
            raw.timeout_secs,
            inherited.timeout.as_secs_f64(),
        )?;
        let first_byte = secs_in_file(
            &at("first_byte_secs"),
            raw.first_byte_secs,
            inherited.first_byte.min(timeout).as_secs_f64(),
        )?;
        let stream_idle = secs_in_file(
            &at("stream_idle_secs"),
            raw.stream_idle_secs,
            inherited.stream_idle.as_secs_f64(),
        )?;
        out.push((
            ProviderSpec {
                name: name.to_owned(),
                base_url: url.as_str().to_owned(),
                style,
                auth,
                key: key_env
                    .as_deref()
                    .and_then(key)
                    .map(|k| SecretString::from(k.trim().to_owned())),
                key_required: key_env.is_some(),
                key_env: key_env.unwrap_or_else(|| format!("providers[{i}].api_key_env")),
                timeout,
                first_byte_timeout: first_byte.min(timeout),
                stream_idle,
            },
            serves,
        ));
    }
    for (i, m) in file.models.iter().enumerate() {
        let Some(provider) = m.provider.as_deref().map(str::trim) else {
            continue;
        };
        if provider == GATEWAY {
            continue;
        }
        let Some((_, serves)) = out.iter_mut().find(|(spec, _)| spec.name == provider) else {
            let names: Vec<_> = std::iter::once(GATEWAY)
                .chain(file.providers.iter().map(|p| p.name.trim()))
                .collect();
            return Err(config_error(
                format!("models[{i}].provider"),
                format!(
                    "unknown provider '{provider}'; the providers are {}",
                    names.join(", ")
                ),
            ));
        };
        serves.ids.push(m.id.trim().to_owned());
    }
    Ok(out)
}

/// Whether a model name is served by a configured provider without a catalog entry: addressed
/// as `provider/model`, or listed (or matched by a glob) under a provider.
pub(super) fn served_by_provider(providers: &[(ProviderSpec, Serves)], name: &str) -> bool {
    if let Some((prefix, rest)) = name.split_once('/')
        && !rest.is_empty()
        && (prefix == GATEWAY || providers.iter().any(|(spec, _)| spec.name == prefix))
    {
        return true;
    }
    providers.iter().any(|(_, serves)| {
        serves.ids.iter().any(|id| id == name)
            || serves
                .globs
                .iter()
                .any(|g| crate::upstream::providers::glob(g, name))
    })
}
