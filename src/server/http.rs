//! The HTTP transports: Streamable HTTP at `/mcp` (rmcp's [`StreamableHttpService`], one
//! session per client; `2026-07-28` requests are served statelessly), the legacy 2024-11-05
//! HTTP+SSE endpoints `/sse` + `/message` ([`super::legacy_sse`]), and the operational
//! endpoints `GET /healthz` (liveness), `GET /readyz` (readiness; `?check=upstream` also asks
//! the gateway) and `GET /metrics` (Prometheus text), all on one axum router behind the
//! security middleware (`server/security.rs`).
//!
//! Limits: request bodies (413), concurrent sessions across both transports (503 for a new
//! one past the limit), and idle sessions, which are closed after `session_idle`.
//!
//! Shutdown (SIGINT/SIGTERM): stop accepting, wait up to [`DRAIN`] for in-flight MCP calls
//! to finish, then close every session (which ends the open SSE streams) and exit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use futures::StreamExt;
use metrics_exporter_prometheus::PrometheusHandle;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::App;
use crate::server::Router;
use crate::server::legacy_sse::{self, LegacySse};
use crate::server::security::{self, AllowedOrigin, Policy};

/// How often an idle SSE stream carries a keep-alive comment.
pub const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long shutdown waits for in-flight MCP calls before closing sessions anyway.
pub const DRAIN: Duration = Duration::from_secs(10);
/// How long shutdown waits for connections to close after the sessions are closed.
const CLOSE: Duration = Duration::from_secs(5);
/// How long `/readyz?check=upstream` waits for the gateway.
const READY_CHECK: Duration = Duration::from_secs(5);

/// HTTP options: the checked `[http]` config with the command-line flags merged in.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The address to bind; port 0 picks a free port.
    pub addr: std::net::SocketAddr,
    /// Extra allowed `Origin` values, e.g. `https://app.example.com`.
    pub allow_origins: Vec<String>,
    /// Extra allowed `Host` names, e.g. `mcp.example.com`.
    pub allow_hosts: Vec<String>,
    /// The Bearer token clients must send.
    pub auth_token: Option<SecretString>,
    /// `--insecure-no-auth`: allow a non-loopback address without a token.
    pub insecure_no_auth: bool,
    /// The largest request body (413 above it).
    pub max_body_bytes: u64,
    /// Open sessions (both transports together) before new ones get 503.
    pub max_sessions: u32,
    /// A session with no request for this long is closed.
    pub session_idle: Duration,
}

impl HttpOptions {
    /// The options from the checked `[http]` config (flags already merged in).
    pub fn new(config: crate::config::HttpConfig, insecure_no_auth: bool) -> Self {
        Self {
            addr: config.addr,
            allow_origins: config.allow_origins,
            allow_hosts: config.allow_hosts,
            auth_token: config.auth_token,
            insecure_no_auth,
            max_body_bytes: config.max_body_bytes,
            max_sessions: config.max_sessions,
            session_idle: config.session_idle,
        }
    }
}

/// Serves MCP over HTTP until SIGINT/SIGTERM.
pub async fn serve(app: Arc<App>, opts: HttpOptions) -> anyhow::Result<()> {
    let policy = Arc::new(Policy::new(&opts)?);
    let metrics = crate::metrics::install().context("cannot start the metrics recorder")?;
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .with_context(|| format!("--http {}: cannot bind", opts.addr))?;
    let addr = listener.local_addr()?;
    if addr.ip().is_unspecified() && opts.allow_hosts.is_empty() {
        tracing::warn!(
            "listening on every interface, but only Host values {:?} are accepted; \
             add --allow-host NAME for the names clients use",
            policy.hosts
        );
    }

    let sessions = CancellationToken::new();
    let in_flight = InFlight::default();
    let router = routes(
        app.clone(),
        &opts,
        policy.clone(),
        metrics,
        sessions.clone(),
        in_flight.clone(),
    );

    tracing::info!(
        base_url = app.gateway().base_url(),
        auth = policy.token.is_some(),
        "listening on http://{addr} (Streamable HTTP at /mcp, legacy SSE at /sse)"
    );

    let stop = CancellationToken::new();
    // An MCP answer goes out as an SSE stream in several small writes; with Nagle's algorithm
    // on, each write after the first waits for the client's delayed ACK (~40 ms per call).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let server =
        axum::serve(listener, router).with_graceful_shutdown(stop.clone().cancelled_owned());
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => return result.context("HTTP server failed"),
        () = shutdown_signal() => {}
    }

    tracing::info!(
        in_flight = in_flight.count(),
        "shutting down: no longer accepting connections"
    );
    stop.cancel();
    if tokio::time::timeout(DRAIN, in_flight.idle()).await.is_err() {
        tracing::warn!(
            in_flight = in_flight.count(),
            "calls still running after {DRAIN:?}; closing their sessions"
        );
    }
    sessions.cancel();
    match tokio::time::timeout(CLOSE, server).await {
        Ok(result) => result.context("HTTP server failed")?,
        Err(_) => tracing::warn!("connections still open after {CLOSE:?}; exiting anyway"),
    }
    tracing::info!("shut down");
    Ok(())
}

/// The axum router: `/mcp`, `/sse`, `/message`, `/healthz`, `/readyz`, `/metrics`, behind
/// the security middleware.
fn routes(
    app: Arc<App>,
    opts: &HttpOptions,
    policy: Arc<Policy>,
    metrics: PrometheusHandle,
    sessions: CancellationToken,
    in_flight: InFlight,
) -> axum::Router {
    let max_body = usize::try_from(opts.max_body_bytes).unwrap_or(usize::MAX);
    let config = StreamableHttpServerConfig::default()
        .with_sse_keep_alive(Some(SSE_KEEP_ALIVE))
        .with_cancellation_token(sessions.child_token())
        .with_max_request_body_bytes(max_body)
        // The middleware already checked both; rmcp checks again with the same lists.
        .with_allowed_hosts(policy.hosts.iter().map(|h| h.trim_matches(['[', ']'])))
        .with_allowed_origins(policy.origins.iter().map(AllowedOrigin::to_rmcp));
    let mut manager = LocalSessionManager::default();
    manager.session_config.keep_alive = Some(opts.session_idle);
    let manager = Arc::new(manager);
    // Built once (tool router and schemas included); every session serves a clone.
    let handler = Router::new(app.clone());
    let factory_handler = handler.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(factory_handler.for_session()),
        manager.clone(),
        config,
    );
    let legacy = LegacySse::new(
        handler,
        sessions,
        in_flight.clone(),
        SSE_KEEP_ALIVE,
        opts.session_idle,
    );
    let ops = Ops {
        app,
        metrics,
        sessions: Sessions {
            mcp: manager,
            legacy: legacy.clone(),
            max: usize::try_from(opts.max_sessions).unwrap_or(usize::MAX),
        },
    };

    axum::Router::new()
        .nest_service("/mcp", mcp)
        .merge(legacy_sse::routes(legacy))
        .layer(middleware::from_fn_with_state(in_flight, track_calls))
        .layer(middleware::from_fn_with_state(ops.clone(), limit_sessions))
        .route("/healthz", get(|| async { "ok" }))
        .merge(
            axum::Router::new()
                .route("/readyz", get(readyz))
                .route("/metrics", get(metrics_text))
                .with_state(ops),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(policy, security::guard))
}

/// The open sessions of both transports.
#[derive(Clone)]
struct Sessions {
    mcp: Arc<LocalSessionManager>,
    legacy: LegacySse,
    max: usize,
}

impl Sessions {
    /// (Streamable HTTP, legacy SSE) sessions open now.
    async fn count(&self) -> (usize, usize) {
        (
            self.mcp.sessions.read().await.len(),
            self.legacy.session_count(),
        )
    }
}

/// State of the operational endpoints and the session limit.
#[derive(Clone)]
struct Ops {
    app: Arc<App>,
    metrics: PrometheusHandle,
    sessions: Sessions,
}

/// Refuses a new session (an `initialize` on `/mcp`, or `GET /sse`) once `max_sessions` are
/// open. Requests in existing sessions, and stateless requests, always pass.
async fn limit_sessions(State(ops): State<Ops>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let opens_sse = req.method() == Method::GET && path == "/sse";
    let may_open_mcp = req.method() == Method::POST
        && path == "/mcp"
        && !req.headers().contains_key("mcp-session-id");
    if !opens_sse && !may_open_mcp {
        return next.run(req).await;
    }
    let (mcp, legacy) = ops.sessions.count().await;
    if mcp + legacy < ops.sessions.max {
        return next.run(req).await;
    }
    if may_open_mcp {
        // Only an `initialize` opens a session; read the (size-capped) body to tell.
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return (StatusCode::BAD_REQUEST, "unreadable request body\n").into_response();
        };
        let is_initialize = serde_json::from_slice::<Value>(&bytes)
            .is_ok_and(|v| v.get("method").and_then(Value::as_str) == Some("initialize"));
        if !is_initialize {
            return next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
        }
    }
    tracing::warn!(
        open = mcp + legacy,
        max = ops.sessions.max,
        "rejected: too many sessions"
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
        format!(
            "Service Unavailable: {} MCP sessions are open, the most this server allows \
             (http.max_sessions); close unused sessions or retry later\n",
            ops.sessions.max
        ),
    )
        .into_response()
}

#[derive(Deserialize)]
struct ReadyQuery {
    check: Option<String>,
}

/// Readiness: the catalog is loaded (always, once serving), and with `?check=upstream` the
/// gateway answers `GET /models` within 5 s. 200 when ready, 503 otherwise; a JSON body
/// says what was checked.
async fn readyz(State(ops): State<Ops>, Query(q): Query<ReadyQuery>) -> Response {
    let mut body = json!({
        "status": "ready",
        "catalog_models": ops.app.catalog.models().len(),
        "upstream": "not checked (add ?check=upstream)",
    });
    let mut status = StatusCode::OK;
    if q.check.as_deref() == Some("upstream") {
        let checked = tokio::time::timeout(READY_CHECK, ops.app.gateway().list_models()).await;
        body["upstream"] = match checked {
            Ok(Ok(models)) => json!(format!("reachable ({} models listed)", models.len())),
            Ok(Err(e)) => {
                status = StatusCode::SERVICE_UNAVAILABLE;
                json!(format!("unreachable: {e}"))
            }
            Err(_) => {
                status = StatusCode::SERVICE_UNAVAILABLE;
                json!(format!("unreachable: no answer within {READY_CHECK:?}"))
            }
        };
        if status != StatusCode::OK {
            body["status"] = json!("not ready");
        }
    }
    (status, axum::Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text format (behind the same token as `/mcp`).
async fn metrics_text(State(ops): State<Ops>) -> Response {
    let (mcp, legacy) = ops.sessions.count().await;
    crate::metrics::active_sessions("streamable_http", mcp);
    crate::metrics::active_sessions("legacy_sse", legacy);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        ops.metrics.render(),
    )
        .into_response()
}

/// Counts a `POST` until its response body (for `/mcp`, the SSE stream carrying the answer)
/// has been sent or dropped, so shutdown can wait for it.
async fn track_calls(State(in_flight): State<InFlight>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || req.uri().path() != "/mcp" {
        return next.run(req).await;
    }
    let ticket = in_flight.enter();
    let response = next.run(req).await;
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held = &ticket;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

/// The number of MCP calls in progress, and a way to wait until there are none.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<InFlightInner>);

#[derive(Debug, Default)]
struct InFlightInner {
    count: AtomicUsize,
    idle: Notify,
}

/// Held while one call is in progress.
#[derive(Debug)]
pub struct Ticket(InFlight);

impl InFlight {
    pub fn enter(&self) -> Ticket {
        self.0.count.fetch_add(1, Ordering::SeqCst);
        Ticket(self.clone())
    }

    pub fn count(&self) -> usize {
        self.0.count.load(Ordering::SeqCst)
    }

    /// Resolves once no call is in progress.
    pub async fn idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.0.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.0.idle.notify_waiters();
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT"),
        () = term => tracing::info!("received SIGTERM"),
    }
}
