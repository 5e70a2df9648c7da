//! The MCP handler: one [`Router`] serves every transport. Each tool method is thin — open
//! a span with the tool name and request id, run the tool, and turn its error (if any) into
//! a tool result through [`crate::error`]. Transports live in submodules.
//!
//! When a request carries a progress token, `chat`, `vision` and `route_by_task` stream the
//! answer from the upstream and relay it as `notifications/progress` ([`progress`]);
//! `compare_models` sends a line as each model finishes. Without a token nothing streams.
//! `notifications/cancelled` cancels the request's token, which drops the upstream request.

mod args;
pub mod http;
pub mod legacy_sse;
pub mod progress;
mod security;
pub mod stdio;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, tool, tool_handler, tool_router};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::error::Error;
use crate::pipeline::present;
use crate::schema;
use crate::tools::{chat, compare, list_models, route_by_task, usage, vision};
use crate::{App, ledger, pipeline};
use args::Args;

/// What the server tells the agent at initialize (kept under 1 KB).
pub const INSTRUCTIONS: &str = "llm-router lets you call other LLMs (GPT, Claude, Gemini, DeepSeek, Qwen, 70+ via the AIsa gateway) as tools. \
Every answer reports the model that served it, tokens, cost_usd (with cost_source: gateway, catalog or unknown) and latency_ms.\n\
- chat: ask one model. vision: ask about images. compare_models: same prompt to 2-10 models side by side.\n\
- route_by_task: let the router pick (code, creative, fast, cheap, vision, reasoning, chinese, long_context, general); dry_run=true only explains the choice.\n\
- list_models: ids, capabilities and prices. usage: spend by model/tool/day/task, credits, budgets.\n\
Picking a model: cheap bulk work -> gemini-2.5-flash-lite or gpt-4o-mini; code and writing -> claude-sonnet-4-5; \
hard reasoning -> gpt-5; long documents -> gemini-2.5-pro (1M context); Chinese -> qwen3-max. \
Prefer cheap models for simple tasks, and check cost_usd when calling in loops.";

/// The MCP server: shared application state plus the tool router.
#[derive(Clone)]
pub struct Router {
    app: Arc<App>,
    tool_router: ToolRouter<Self>,
    /// This session's id in the usage ledger (and for the session budget).
    session: Arc<str>,
}

fn new_session_id() -> Arc<str> {
    uuid::Uuid::new_v4().simple().to_string().into()
}

impl Router {
    /// The handler for one session (stdio serves one per process).
    pub fn new(app: Arc<App>) -> Self {
        Self {
            app,
            tool_router: Self::tool_router(),
            session: new_session_id(),
        }
    }

    /// A copy of this handler for a new session: the same tools, a new session id.
    pub fn for_session(&self) -> Self {
        Self {
            session: new_session_id(),
            ..self.clone()
        }
    }

    /// Runs one tool call inside a span — in a pipeline context, with progress relayed when
    /// the request asks for it — logs its outcome, and maps its error to a tool result.
    async fn run<F>(
        &self,
        tool: &'static str,
        ctx: &RequestContext<RoleServer>,
        work: impl FnOnce(pipeline::Ctx) -> F,
    ) -> CallToolResult
    where
        F: Future<Output = Result<CallToolResult, Error>>,
    {
        let span = tracing::info_span!("tool", gen_ai.tool.name = tool, mcp.request.id = %ctx.id);
        let client = ctx.peer.peer_info().map(|p| {
            let c = &p.client_info;
            format!("{} {}", c.name, c.version)
        });
        let call = ledger::context::CallContext::new(tool, client, Some(self.session.to_string()));
        async move {
            let started = Instant::now();
            let outcome = |r: &Result<CallToolResult, Error>| match r {
                Ok(_) => "ok",
                Err(e) => e.kind(),
            };
            let result = crate::metrics::tool_call(
                tool,
                tool == compare::NAME,
                outcome,
                ledger::context::scope(call, self.with_progress(ctx, work)),
            )
            .await;
            let ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(r) => {
                    // Debug: each upstream call already logs an info line (the benchmark's
                    // profile showed per-call log lines are ~12% of the server's CPU).
                    tracing::debug!(duration_ms = ms, "tool call ok");
                    r
                }
                Err(e) => {
                    tracing::info!(duration_ms = ms, error.type = e.kind(), "tool call failed");
                    e.into_tool_result()
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Runs `work` in a pipeline context. When the request carries a progress token, the
    /// context has a progress sink and what the call reports goes out as progress
    /// notifications; this returns only after the last one was sent.
    async fn with_progress<T, Fut>(
        &self,
        ctx: &RequestContext<RoleServer>,
        work: impl FnOnce(pipeline::Ctx) -> Fut,
    ) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        let Some(token) = ctx.meta.get_progress_token() else {
            return work(pipeline::Ctx::new(ctx.ct.clone())).await;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        // `work` owns the only sender: the relay ends when the call is over.
        let call = work(pipeline::Ctx::streaming(ctx.ct.clone(), tx));
        let relay = progress::Relay::new(ctx.peer.clone(), token, ctx.ct.clone());
        let (result, ()) = tokio::join!(call, relay.run(rx, self.app.config.heartbeat));
        result
    }
}

#[tool_router]
impl Router {
    #[tool(
        name = "chat",
        description = chat::DESCRIPTION,
        input_schema = schema::input::<chat::Input>(),
        output_schema = schema::output::<chat::Output>(),
        annotations(read_only_hint = true)
    )]
    async fn chat(
        &self,
        Args(input): Args<chat::Input>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.run(chat::NAME, &ctx, |c| async move {
            let out = chat::execute(&self.app, input, &c).await?;
            present(out.to_text(), &out)
        })
        .await
    }

    #[tool(
        name = "vision",
        description = vision::DESCRIPTION,
        input_schema = schema::input::<vision::Input>(),
        output_schema = schema::output::<pipeline::Answer>(),
        annotations(read_only_hint = true)
    )]
    async fn vision(
        &self,
        Args(input): Args<vision::Input>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.run(vision::NAME, &ctx, |c| async move {
            let out = vision::execute(&self.app, input, &c).await?;
            present(out.to_text(), &out)
        })
        .await
    }

    #[tool(
        name = "compare_models",
        description = compare::DESCRIPTION,
        input_schema = schema::input::<compare::Input>(),
        output_schema = schema::output::<compare::Output>(),
        annotations(read_only_hint = true)
    )]
    async fn compare_models(
        &self,
        Args(input): Args<compare::Input>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.run(compare::NAME, &ctx, |c| async move {
            let out = compare::execute(&self.app, input, &c).await?;
            present(compare::text(&out), &out)
        })
        .await
    }

    #[tool(
        name = "list_models",
        description = list_models::DESCRIPTION,
        input_schema = schema::input::<list_models::Input>(),
        output_schema = schema::output::<list_models::Output>(),
        annotations(read_only_hint = true)
    )]
    async fn list_models(
        &self,
        Args(input): Args<list_models::Input>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.run(list_models::NAME, &ctx, |_| async move {
            let out = list_models::execute(&self.app, input).await?;
            present(list_models::text(&out), &out)
        })
        .await
    }

    #[tool(
        name = "route_by_task",
        description = route_by_task::DESCRIPTION,
        input_schema = schema::input::<route_by_task::Input>(),
        output_schema = schema::output::<route_by_task::Output>(),
        annotations(read_only_hint = true)
    )]
    async fn route_by_task(
        &self,
        Args(input): Args<route_by_task::Input>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.run(route_by_task::NAME, &ctx, |c| async move {
            let out = route_by_task::execute(&self.app, input, &c).await?;
            present(route_by_task::text(&out), &out)
        })
        .await
    }

    #[tool(
        name = "usage",
        description = usage::DESCRIPTION,
        input_schema = schema::input::<usage::Input>(),
        output_schema = schema::output::<usage::Output>(),
        annotations(read_only_hint = true)
    )]
    async fn usage(
        &self,
        Args(input): Args<usage::Input>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.run(usage::NAME, &ctx, |_| async move {
            let out = usage::execute(&self.app, input).await?;
            present(usage::text(&out), &out)
        })
        .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Router {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("llm-router", env!("CARGO_PKG_VERSION"))
                    .with_title("LLM Router"),
            )
            .with_instructions(INSTRUCTIONS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_fit_in_one_kilobyte() {
        assert!(INSTRUCTIONS.len() <= 1024, "{} bytes", INSTRUCTIONS.len());
    }
}
