//! llm-router: an MCP tool server that lets AI agents call other LLMs through one
//! OpenAI-compatible gateway (AIsa by default) and tells them, on every answer, which model
//! served it, the tokens, the cost in USD with its source, and the latency.
//!
//! The crate is laid out by responsibility:
//! - [`config`]: config file, environment and flags → a checked [`config::Config`];
//! - [`catalog`]: the embedded model catalog (prices, capabilities, aliases, task map);
//! - [`upstream`]: the HTTP client to each provider (the gateway and any the config adds),
//!   their API styles (OpenAI, …) and error mapping;
//! - [`routing`]: which model serves a request (task map today, the full engine later);
//! - [`ledger`]: cost arithmetic (exact decimals), the usage ledger, budgets, the response
//!   cache and usage reports;
//! - [`metrics`]: Prometheus metrics for `GET /metrics`;
//! - [`pipeline`]: the shared call step every tool uses (call → account);
//! - [`tools`]: one file per MCP tool (parse → decide → call → account → present);
//! - [`server`]: the rmcp handler and its transports;
//! - [`cli`]: the `llm-router` command line, built on the same tools;
//! - [`error`]: the one error type and its mapping to MCP results.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod pipeline;
pub mod routing;
pub mod schema;
pub mod server;
pub mod tools;
pub mod upstream;

pub use error::Error;

use std::sync::{Arc, RwLock};

/// Everything a tool call needs, built once per process and shared by every session.
#[derive(Debug)]
pub struct App {
    pub config: config::Config,
    pub catalog: catalog::Catalog,
    /// The upstreams: the gateway first, then the config file's `[[providers]]`.
    pub providers: upstream::providers::Providers,
    /// Per-model health, for skipping models that keep failing.
    pub cooldowns: routing::cooldown::Cooldowns,
    /// The usage ledger (a SQLite file, or in memory when disabled).
    pub ledger: ledger::store::Store,
    /// Answers to deterministic requests.
    pub cache: ledger::cache::Cache,
    /// Model ids from the last successful `GET /models`, for "did you mean" suggestions.
    live_ids: RwLock<Vec<String>>,
}

impl App {
    /// Builds the application from a checked config (which holds the catalog, with the config
    /// file applied), creates the pooled HTTP client and opens the usage ledger.
    pub fn new(config: config::Config) -> anyhow::Result<Arc<Self>> {
        let catalog = config.catalog.clone();
        let providers = upstream::providers::Providers::new(
            upstream::http_client(&config)?,
            upstream::ProviderSpec::gateway(&config),
            config.providers.clone(),
        );
        let ledger = match &config.ledger.path {
            Some(path) => ledger::store::Store::open(path).map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the usage ledger at {}: {e:#}. Set another path ([ledger] path \
                     or LLM_ROUTER_LEDGER_PATH) or disable it ([ledger] enabled = false or \
                     LLM_ROUTER_NO_LEDGER=1)",
                    path.display()
                )
            })?,
            None => ledger::store::Store::in_memory()?,
        };
        Ok(Arc::new(Self {
            ledger,
            cache: ledger::cache::Cache::new(config.cache),
            cooldowns: routing::cooldown::Cooldowns::new(config.cooldown),
            config,
            catalog,
            providers,
            live_ids: RwLock::new(Vec::new()),
        }))
    }

    /// The gateway (the default provider).
    pub fn gateway(&self) -> &upstream::Upstream {
        self.providers.gateway()
    }

    /// The catalog entry for a model name, which may be a provider address
    /// (`local/gpt-4.1` is priced and described as `gpt-4.1`).
    pub fn model_info(&self, name: &str) -> Option<&catalog::ModelInfo> {
        self.catalog.get(name).or_else(|| {
            let (_, bare) = self.providers.split_address(name)?;
            self.catalog.get(bare)
        })
    }

    /// A model name with its alias resolved to the catalog id, keeping a provider prefix
    /// (`local/claude-sonnet` → `local/claude-sonnet-4-5-20250929`).
    pub fn resolve_model(&self, name: &str) -> String {
        match self.providers.split_address(name.trim()) {
            Some((provider, bare)) => format!("{provider}/{}", self.catalog.resolve(bare).id),
            None => self.catalog.resolve(name).id,
        }
    }

    /// The model ids the gateway listed last time it was asked (empty if never).
    pub fn live_ids(&self) -> Vec<String> {
        self.live_ids.read().map(|v| v.clone()).unwrap_or_default()
    }

    /// Remembers the gateway's live model list.
    pub fn set_live_ids(&self, ids: Vec<String>) {
        if let Ok(mut guard) = self.live_ids.write() {
            *guard = ids;
        }
    }
}
