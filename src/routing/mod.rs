//! Routing: which model serves a request.
//!
//! [`classify`] turns a prompt into a [`Task`] without calling a model; [`decide`] picks the
//! model chain for a task from the catalog (its task map, prices and capability flags) under
//! the caller's [`Constraints`] and [`Prefer`]ence; [`executor`] runs a chain with [`retry`]
//! and [`cooldown`].

pub mod classify;
pub mod cooldown;
pub mod executor;
pub mod retry;
mod select;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use select::{Constraints, Decision, MIN_CHAIN, Prefer, Query, decide, estimate};

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

    /// The task with this name, if any.
    pub fn from_name(name: &str) -> Option<Task> {
        Task::ALL.iter().copied().find(|t| t.as_str() == name)
    }

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
