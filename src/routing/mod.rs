//! Routing: which model serves a request.
//!
//! [`decide`] picks a model chain for a task from the catalog's task map; [`executor`] runs a
//! chain with [`retry`] and [`cooldown`]. Prompt classification and price/capability
//! constraints grow here behind the same seam, so tools do not change.

pub mod cooldown;
pub mod executor;
pub mod retry;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;

// The kinds of work `route_by_task` knows how to route. (A plain comment: a doc comment would
// be copied into the tool schemas.)
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Code,
    Creative,
    Fast,
    Cheap,
    Vision,
    Reasoning,
    Chinese,
    LongContext,
    General,
}

impl Task {
    /// Every task, in a stable order.
    pub const ALL: &'static [Task] = &[
        Task::Code,
        Task::Creative,
        Task::Fast,
        Task::Cheap,
        Task::Vision,
        Task::Reasoning,
        Task::Chinese,
        Task::LongContext,
        Task::General,
    ];

    /// The name used in arguments and the catalog file.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Code => "code",
            Task::Creative => "creative",
            Task::Fast => "fast",
            Task::Cheap => "cheap",
            Task::Vision => "vision",
            Task::Reasoning => "reasoning",
            Task::Chinese => "chinese",
            Task::LongContext => "long_context",
            Task::General => "general",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A routing decision: the model to call, the ones to try after it, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub task: Task,
    pub chosen: String,
    pub fallbacks: Vec<String>,
    pub reason: String,
}

/// Picks the model for a task from the catalog's task map.
pub fn decide(catalog: &Catalog, task: Task) -> Decision {
    // The catalog guarantees a non-empty chain for every task (checked at parse time); the
    // default model is the fallback should that ever not hold.
    let (chain, why) = match catalog.task_route(task) {
        Some(route) => (route.models.clone(), route.why.as_str()),
        None => (vec![catalog.default_model.clone()], "the default model"),
    };
    let mut chain = chain.into_iter();
    let chosen = chain
        .next()
        .unwrap_or_else(|| catalog.default_model.clone());
    let price = catalog
        .get(&chosen)
        .and_then(|m| m.price)
        .map(|p| format!(" (${} in / ${} out per 1M tokens)", p.input, p.output))
        .unwrap_or_default();
    Decision {
        task,
        reason: format!("task '{task}': chose {chosen}{price} — {why}"),
        chosen,
        fallbacks: chain.collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_a_decision_with_a_reason() {
        let catalog = Catalog::embedded().unwrap();
        for &task in Task::ALL {
            let d = decide(&catalog, task);
            assert!(catalog.get(&d.chosen).is_some(), "{task}");
            assert!(d.reason.contains(&d.chosen));
            assert!(!d.fallbacks.contains(&d.chosen));
        }
    }

    #[test]
    fn cheap_picks_the_cheapest_catalog_model() {
        let catalog = Catalog::embedded().unwrap();
        let cheapest = catalog
            .models()
            .iter()
            .filter_map(|m| m.price.map(|p| (p.input + p.output, &m.id)))
            .min()
            .unwrap()
            .1;
        assert_eq!(&decide(&catalog, Task::Cheap).chosen, cheapest);
    }

    #[test]
    fn vision_chain_only_has_vision_models() {
        let catalog = Catalog::embedded().unwrap();
        let d = decide(&catalog, Task::Vision);
        for id in std::iter::once(&d.chosen).chain(&d.fallbacks) {
            assert!(catalog.get(id).unwrap().vision, "{id}");
        }
    }
}
