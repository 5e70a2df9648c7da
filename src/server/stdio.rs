//! The stdio transport: what Claude Desktop and OpenClaw spawn. stdout carries the MCP
//! protocol and nothing else; logs go to stderr (set up in `main`).

use std::sync::Arc;

use rmcp::ServiceExt;

use crate::App;
use crate::server::Router;

/// Serves MCP on stdin/stdout until the client disconnects.
pub async fn serve(app: Arc<App>) -> anyhow::Result<()> {
    tracing::info!(
        base_url = app.gateway().base_url(),
        "llm-router serving MCP on stdio"
    );
    let service = Router::new(app).serve(rmcp::transport::stdio()).await?;
    let reason = service.waiting().await?;
    tracing::info!(?reason, "client disconnected");
    Ok(())
}
