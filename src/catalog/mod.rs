//! The model catalog: which models exist, what they accept, what they cost, the names users
//! type for them, and the default model chain for each task.
//!
//! The data lives in `data/catalog.toml` (with its source and date), embedded in the binary
//! at build time and parsed once at startup into [`Catalog`]. Parsing checks the data's own
//! consistency (aliases and task chains name real models), so a bad edit fails the tests rather
//! than a user's call.

mod suggest;

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::routing::Task;

/// The catalog file compiled into the binary.
pub const EMBEDDED: &str = include_str!("../../data/catalog.toml");

/// Price per 1M tokens in USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: Decimal,
    pub output: Decimal,
}

// A capability a model may have (the catalog's `vision`, `tools` and `reasoning` flags). (A
// plain comment: a doc comment would be copied into the tool schemas.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    Vision,
    Tools,
    Reasoning,
}

impl Capability {
    /// The name used in arguments and the catalog file.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Vision => "vision",
            Capability::Tools => "tools",
            Capability::Reasoning => "reasoning",
        }
    }
}

/// One model as the catalog knows it.
#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    pub id: String,
    pub family: String,
    pub context_window: Option<u64>,
    pub vision: bool,
    pub tools: bool,
    pub reasoning: bool,
    pub price: Option<Price>,
    /// Where the price comes from ("aisa", "litellm-list", …).
    pub price_source: Option<String>,
}

impl ModelInfo {
    /// Whether the catalog says the model has `cap`.
    pub fn has(&self, cap: Capability) -> bool {
        match cap {
            Capability::Vision => self.vision,
            Capability::Tools => self.tools,
            Capability::Reasoning => self.reasoning,
        }
    }
}

/// The default chain for one task: the first model is chosen, the rest are fallbacks.
#[derive(Debug, Clone)]
pub struct TaskRoute {
    pub models: Vec<String>,
    pub why: String,
}

/// A model name after alias resolution.
#[derive(Debug, Clone)]
pub struct Resolved<'a> {
    /// The id to send upstream.
    pub id: String,
    /// The catalog entry, when the catalog knows the model.
    pub info: Option<&'a ModelInfo>,
}

/// The parsed, checked catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub source: String,
    pub updated: String,
    pub default_model: String,
    pub default_vision_model: String,
    models: Vec<ModelInfo>,
    by_id: HashMap<String, usize>,
    aliases: BTreeMap<String, String>,
    tasks: BTreeMap<Task, TaskRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    source: String,
    updated: String,
    default_model: String,
    default_vision_model: String,
    models: Vec<RawModel>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    tasks: BTreeMap<Task, RawTask>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: String,
    family: String,
    context_window: Option<u64>,
    #[serde(default)]
    vision: bool,
    #[serde(default)]
    tools: bool,
    #[serde(default)]
    reasoning: bool,
    input_price: Option<Decimal>,
    output_price: Option<Decimal>,
    price_source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    models: Vec<String>,
    why: String,
}

impl Catalog {
    /// The catalog embedded in the binary.
    pub fn embedded() -> anyhow::Result<Self> {
        Self::parse(EMBEDDED).map_err(|e| anyhow::anyhow!("embedded catalog: {e}"))
    }

    /// Parses and checks a catalog file. Errors name the entry at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawCatalog = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut models = Vec::with_capacity(raw.models.len());
        let mut by_id = HashMap::new();
        for (i, m) in raw.models.into_iter().enumerate() {
            let price = match (m.input_price, m.output_price) {
                (Some(input), Some(output)) => Some(Price { input, output }),
                (None, None) => None,
                _ => {
                    return Err(format!(
                        "models[{i}] ({}): give both input_price and output_price, or neither",
                        m.id
                    ));
                }
            };
            if by_id.insert(m.id.clone(), i).is_some() {
                return Err(format!("models[{i}]: duplicate id '{}'", m.id));
            }
            models.push(ModelInfo {
                id: m.id,
                family: m.family,
                context_window: m.context_window,
                vision: m.vision,
                tools: m.tools,
                reasoning: m.reasoning,
                price,
                price_source: m.price_source,
            });
        }
        let known = |id: &str| by_id.contains_key(id);
        for (alias, target) in &raw.aliases {
            if !known(target) {
                return Err(format!("aliases.{alias}: unknown model '{target}'"));
            }
        }
        for field in [&raw.default_model, &raw.default_vision_model] {
            if !known(field) {
                return Err(format!("default model '{field}' is not in the catalog"));
            }
        }
        let mut tasks = BTreeMap::new();
        for (task, route) in raw.tasks {
            if route.models.is_empty() {
                return Err(format!("tasks.{task}: the model chain is empty"));
            }
            for (i, id) in route.models.iter().enumerate() {
                if !known(id) {
                    return Err(format!("tasks.{task}.models[{i}]: unknown model '{id}'"));
                }
            }
            tasks.insert(
                task,
                TaskRoute {
                    models: route.models,
                    why: route.why,
                },
            );
        }
        if let Some(missing) = Task::ALL.iter().find(|t| !tasks.contains_key(t)) {
            return Err(format!("tasks.{missing}: no route for this task"));
        }
        Ok(Self {
            source: raw.source,
            updated: raw.updated,
            default_model: raw.default_model,
            default_vision_model: raw.default_vision_model,
            models,
            by_id,
            aliases: raw.aliases,
            tasks,
        })
    }

    /// Every catalog model, in file order.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }

    /// The catalog entry for an exact id.
    pub fn get(&self, id: &str) -> Option<&ModelInfo> {
        self.by_id.get(id).map(|&i| &self.models[i])
    }

    /// Resolves a name a user typed: an exact id, an alias, or (case-insensitively) either.
    /// A name the catalog does not know is passed through unchanged: the gateway serves more
    /// models than the catalog describes.
    pub fn resolve(&self, name: &str) -> Resolved<'_> {
        let name = name.trim();
        let lower = name.to_ascii_lowercase();
        let id = [name, lower.as_str()]
            .into_iter()
            .find_map(|n| {
                self.by_id
                    .contains_key(n)
                    .then(|| n.to_owned())
                    .or_else(|| self.aliases.get(n).cloned())
            })
            .unwrap_or_else(|| name.to_owned());
        let info = self.get(&id);
        Resolved { id, info }
    }

    /// Adds a model, or replaces the entry with the same id (config `[[models]]`).
    pub fn upsert(&mut self, info: ModelInfo) {
        match self.by_id.get(&info.id) {
            Some(&i) => self.models[i] = info,
            None => {
                self.by_id.insert(info.id.clone(), self.models.len());
                self.models.push(info);
            }
        }
    }

    /// Adds or replaces an alias; the caller has checked that `target` is a known id.
    pub fn set_alias(&mut self, alias: String, target: String) {
        self.aliases.insert(alias, target);
    }

    /// Replaces a task's chain; the caller has checked that its models are known ids.
    pub fn set_route(&mut self, task: Task, route: TaskRoute) {
        self.tasks.insert(task, route);
    }

    /// The default chain for a task.
    pub fn task_route(&self, task: Task) -> Option<&TaskRoute> {
        self.tasks.get(&task)
    }

    /// Up to three known names close to `name`, from the catalog ids, aliases and `extra`
    /// (e.g. the live model list), best first.
    pub fn suggest(&self, name: &str, extra: &[String]) -> Vec<String> {
        let candidates = self
            .models
            .iter()
            .map(|m| m.id.as_str())
            .chain(self.aliases.keys().map(String::as_str))
            .chain(extra.iter().map(String::as_str));
        suggest::closest(name, candidates, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::embedded().expect("embedded catalog parses")
    }

    #[test]
    fn embedded_catalog_is_consistent_and_priced() {
        let c = catalog();
        assert!(c.models().len() >= 17);
        let gpt = c.get("gpt-4.1").unwrap();
        assert_eq!(gpt.price.unwrap().input, Decimal::new(140, 2));
        assert_eq!(gpt.price.unwrap().output, Decimal::new(560, 2));
        assert_eq!(gpt.context_window, Some(1_047_576));
        assert!(!c.get("deepseek-v3.2").unwrap().vision);
        for t in Task::ALL {
            assert!(c.task_route(*t).is_some(), "{t}");
        }
    }

    #[test]
    fn aliases_resolve_to_dated_ids() {
        let c = catalog();
        assert_eq!(
            c.resolve("claude-sonnet-4-5").id,
            "claude-sonnet-4-5-20250929"
        );
        assert_eq!(c.resolve(" GPT-4.1 ").id, "gpt-4.1");
        assert_eq!(c.resolve("gpt-3.5-turbo").id, "gpt-4o-mini");
        let unknown = c.resolve("kimi-k2");
        assert_eq!(unknown.id, "kimi-k2");
        assert!(unknown.info.is_none());
    }

    #[test]
    fn suggestions_find_close_names() {
        let c = catalog();
        assert_eq!(c.suggest("gpt-5x", &[])[0], "gpt-5");
        assert!(
            c.suggest("claude-sonet-4-5", &[])
                .contains(&"claude-sonnet-4-5".to_owned())
        );
        assert!(
            c.suggest("kimi-k3", &["kimi-k2".into()])
                .contains(&"kimi-k2".to_owned())
        );
        assert!(c.suggest("zzzzzzzz", &[]).is_empty());
    }

    #[test]
    fn inconsistent_catalogs_are_rejected_with_the_entry_named() {
        let text = EMBEDDED.replace("\"gpt-4\" = \"gpt-4.1\"", "\"gpt-4\" = \"gpt-4.9\"");
        let e = Catalog::parse(&text).unwrap_err();
        assert_eq!(e, "aliases.gpt-4: unknown model 'gpt-4.9'");
    }
}
