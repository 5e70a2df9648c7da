//! Integration tests for the `llm-router` MCP server.
//!
//! Every test starts its own fake OpenAI-compatible upstream (an axum server on
//! an ephemeral loopback port) and its own `llm-router serve` child process,
//! then talks to it over stdio through rmcp's client, exactly as an MCP host
//! would. Everything lives in this one test binary so cargo links it once.

#[path = "suite/util.rs"]
mod util;

#[path = "suite/fake_upstream.rs"]
mod fake_upstream;

#[path = "suite/raw.rs"]
mod raw;

#[path = "suite/chat.rs"]
mod chat;

#[path = "suite/vision.rs"]
mod vision;

#[path = "suite/compare.rs"]
mod compare;

#[path = "suite/list_models.rs"]
mod list_models;

#[path = "suite/route_by_task.rs"]
mod route_by_task;

#[path = "suite/errors.rs"]
mod errors;

#[path = "suite/schemas.rs"]
mod schemas;

#[path = "suite/http.rs"]
mod http;

#[path = "suite/fallback.rs"]
mod fallback;

#[path = "suite/config.rs"]
mod config;

#[path = "suite/bad_input.rs"]
mod bad_input;
#[path = "suite/faults.rs"]
mod faults;
#[path = "suite/fuzz.rs"]
mod fuzz;
#[path = "suite/http_ops.rs"]
mod http_ops;
#[path = "suite/load.rs"]
mod load;
#[path = "suite/secrets.rs"]
mod secrets;
#[path = "suite/streaming.rs"]
mod streaming;

#[path = "suite/ledger.rs"]
mod ledger;

#[path = "suite/budget.rs"]
mod budget;
#[path = "suite/cli.rs"]
mod cli;

#[path = "suite/skill.rs"]
mod skill;

#[path = "suite/anthropic_provider.rs"]
mod anthropic_provider;
#[path = "suite/gemini_provider.rs"]
mod gemini_provider;
#[path = "suite/providers.rs"]
mod providers;
