//! Which provider serves a model: the registry of upstreams and the one place a model name
//! becomes (provider, the provider's id for the model, API style).
//!
//! The AIsa gateway is always there, as provider [`GATEWAY`]; the config file may add more
//! (`[[providers]]`: another gateway, a local Ollama, Google's or Anthropic's own API). A name
//! is routed by the first rule that applies:
//! 1. `provider/model`, when `provider` is a provider's name: that provider, `model` as its id
//!    (`local/llama3.2:3b`, or `aisa/gpt-4.1` to force the gateway);
//! 2. a provider that serves the name: its `models` list (ids, or globs with `*`), the catalog
//!    entries that name it (`[[models]] provider = …`), or — with `discover = true` — its own
//!    `/models` list, fetched on first need and kept for [`DISCOVERY_TTL`]; providers are
//!    asked in config order;
//! 3. otherwise the gateway.
//!
//! The call's `api` (on `chat`) may ask for another style on the same provider — the AIsa
//! gateway serves the Gemini-native and Anthropic-native routes beside the OpenAI one.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::style::Style;
use super::{GATEWAY, ProviderSpec, Upstream};

/// How long a discovered model list is trusted.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(300);
/// After a failed discovery, how long before asking again.
const DISCOVERY_RETRY: Duration = Duration::from_secs(30);
/// The most a route waits for a provider's model list.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Which models a provider serves, as configured.
#[derive(Debug, Clone, Default)]
pub struct Serves {
    /// Exact ids.
    pub ids: Vec<String>,
    /// Patterns with `*` (any run of characters).
    pub globs: Vec<String>,
    /// Whatever the provider's own model list says.
    pub discover: bool,
}

impl Serves {
    fn listed(&self, model: &str) -> bool {
        self.ids.iter().any(|id| id == model) || self.globs.iter().any(|g| glob(g, model))
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*`: the whole text was the prefix
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// One provider: its client and what it serves.
#[derive(Debug)]
pub struct Provider {
    pub upstream: Upstream,
    pub serves: Serves,
    /// The discovered model list and when it was fetched (or when fetching failed).
    live: RwLock<Option<(Instant, Option<Vec<String>>)>>,
}

/// Where one call goes.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    pub provider: &'a Upstream,
    /// The provider's id for the model.
    pub model: &'a str,
    pub style: Style,
}

/// The providers, the gateway first.
#[derive(Debug)]
pub struct Providers {
    list: Vec<Provider>,
}

impl Providers {
    /// The gateway plus the configured providers, sharing one HTTP client.
    pub fn new(
        http: reqwest::Client,
        gateway: ProviderSpec,
        configured: Vec<(ProviderSpec, Serves)>,
    ) -> Self {
        let mut list = vec![Provider {
            upstream: Upstream::with_client(http.clone(), gateway),
            serves: Serves::default(),
            live: RwLock::new(None),
        }];
        for (spec, serves) in configured {
            list.push(Provider {
                upstream: Upstream::with_client(http.clone(), spec),
                serves,
                live: RwLock::new(None),
            });
        }
        Self { list }
    }

    /// The gateway.
    pub fn gateway(&self) -> &Upstream {
        &self.list[0].upstream
    }

    /// Every provider, the gateway first.
    pub fn all(&self) -> impl Iterator<Item = &Provider> {
        self.list.iter()
    }

    /// The provider named `name`.
    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.list.iter().find(|p| p.upstream.name() == name)
    }

    /// Whether more than the gateway is configured.
    pub fn is_multi(&self) -> bool {
        self.list.len() > 1
    }

    /// Where a call for `name` goes (see the module docs); `api` overrides the style.
    pub async fn route<'a>(&'a self, name: &'a str, api: Option<Style>) -> Route<'a> {
        let (provider, model) = self.resolve(name).await;
        Route {
            provider: &provider.upstream,
            model,
            style: api.unwrap_or(provider.upstream.style()),
        }
    }

    /// The provider and its model id for `name`, without fetching anything: rules 1 and 2
    /// with discovered lists as they are now. For listings and plans.
    pub fn resolve_now<'a>(&'a self, name: &'a str) -> (&'a Provider, &'a str) {
        if let Some(hit) = self.addressed(name) {
            return hit;
        }
        let found = self.list[1..].iter().find(|p| {
            p.serves.listed(name) || (p.serves.discover && p.discovered(name) == Some(true))
        });
        (found.unwrap_or(&self.list[0]), name)
    }

    async fn resolve<'a>(&'a self, name: &'a str) -> (&'a Provider, &'a str) {
        if let Some(hit) = self.addressed(name) {
            return hit;
        }
        for p in &self.list[1..] {
            if p.serves.listed(name) {
                return (p, name);
            }
            if p.serves.discover && p.lists(name).await {
                return (p, name);
            }
        }
        (&self.list[0], name)
    }

    /// A `provider/model` address split into the provider's name and the model, when the
    /// prefix is a provider.
    pub fn split_address<'a>(&self, name: &'a str) -> Option<(&'a str, &'a str)> {
        let (prefix, rest) = name.split_once('/')?;
        (self.get(prefix).is_some() && !rest.is_empty()).then_some((prefix, rest))
    }

    /// Rule 1: `provider/model`.
    fn addressed<'a>(&'a self, name: &'a str) -> Option<(&'a Provider, &'a str)> {
        let (prefix, rest) = name.split_once('/')?;
        let p = self.get(prefix)?;
        (!rest.is_empty()).then_some((p, rest))
    }
}

impl Provider {
    /// Whether the discovered list (as it is now, fetched or not) has `model`.
    fn discovered(&self, model: &str) -> Option<bool> {
        let guard = self.live.read().ok()?;
        let (_, ids) = guard.as_ref()?;
        Some(ids.as_ref()?.iter().any(|id| id == model))
    }

    /// Whether the provider's own model list has `model`, fetching the list when it is
    /// missing or stale (on the hot path: no copy of the list).
    async fn lists(&self, model: &str) -> bool {
        if let Some(fresh) = self.fresh(|ids| ids.iter().any(|id| id == model)) {
            return fresh;
        }
        self.discover().await.iter().any(|id| id == model)
    }

    /// `f` of the discovered list when it is fresh (a failed fetch counts as an empty list
    /// until it is retried); `None` when it is missing or stale.
    fn fresh<T>(&self, f: impl FnOnce(&[String]) -> T) -> Option<T> {
        let guard = self.live.read().ok()?;
        let (at, ids) = guard.as_ref()?;
        let age = Instant::now().duration_since(*at);
        match ids {
            Some(ids) if age < DISCOVERY_TTL => Some(f(ids)),
            None if age < DISCOVERY_RETRY => Some(f(&[])),
            _ => None,
        }
    }

    /// The provider's model list, fetched when it is missing or stale.
    pub async fn discover(&self) -> Vec<String> {
        if let Some(ids) = self.fresh(<[String]>::to_vec) {
            return ids;
        }
        let fetched = tokio::time::timeout(DISCOVERY_TIMEOUT, self.upstream.list_models()).await;
        let ids = match fetched {
            Ok(Ok(models)) => Some(models.into_iter().map(|m| m.id).collect::<Vec<_>>()),
            Ok(Err(e)) => {
                tracing::warn!(provider = self.upstream.name(), error = %e, "model discovery failed");
                None
            }
            Err(_) => {
                tracing::warn!(provider = self.upstream.name(), "model discovery timed out");
                None
            }
        };
        self.remember(ids.clone());
        ids.unwrap_or_default()
    }

    /// Keeps a model list just read (by discovery or by `list_models`).
    pub fn remember(&self, ids: Option<Vec<String>>) {
        if let Ok(mut guard) = self.live.write() {
            *guard = Some((Instant::now(), ids));
        }
    }

    /// Whether this is the gateway.
    pub fn is_gateway(&self) -> bool {
        self.upstream.name() == GATEWAY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_runs_of_characters() {
        assert!(glob("llama*", "llama3.2:3b"));
        assert!(glob("*:7b", "qwen2.5-coder:7b"));
        assert!(glob("qwen*coder*", "qwen2.5-coder:7b"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(!glob("llama*", "codellama"));
        assert!(glob("*", "anything"));
        assert!(!glob("a*b*c", "acb"));
    }
}
