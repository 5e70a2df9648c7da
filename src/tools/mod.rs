//! The MCP tools, one file each. Every tool reads the same way:
//! parse (check arguments) → decide (which model) → call and account ([`crate::pipeline`])
//! → present (a text block plus structured content). Only decide and present differ.

pub mod chat;
pub mod compare;
pub mod input;
pub mod list_models;
pub mod route_by_task;
pub mod usage;
pub mod vision;
