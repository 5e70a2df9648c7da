//! The HTTP transports: Streamable HTTP at `/mcp` (rmcp's [`StreamableHttpService`], one
//! session per client), the legacy 2024-11-05 HTTP+SSE endpoints `/sse` + `/message`
//! ([`super::legacy_sse`]) and `GET /healthz`, all on one axum router.
//!
//! Security is on by default and applied in one middleware to every endpoint, so the
//! transports cannot disagree: the `Host` header must name an allowed host (DNS-rebinding
//! protection), a present `Origin` must be an allowed origin (403 otherwise), and when
//! `LLM_ROUTER_AUTH_TOKEN` is set every MCP endpoint wants `Authorization: Bearer <token>`
//! (401 otherwise). Request bodies are capped at [`MAX_BODY_BYTES`] (413). The server refuses
//! to bind a non-loopback address without a token unless told `--insecure-no-auth`.
//!
//! Shutdown (SIGINT/SIGTERM): stop accepting, wait up to [`DRAIN`] for in-flight MCP calls
//! to finish, then close every session (which ends the open SSE streams) and exit.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use futures::StreamExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::App;
use crate::server::Router;
use crate::server::legacy_sse::{self, LegacySse};

/// The largest request body any endpoint accepts.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// How often an idle SSE stream carries a keep-alive comment.
pub const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long shutdown waits for in-flight MCP calls before closing sessions anyway.
pub const DRAIN: Duration = Duration::from_secs(10);
/// How long shutdown waits for connections to close after the sessions are closed.
const CLOSE: Duration = Duration::from_secs(5);
/// Host names every server accepts in `Host` (ports are not checked).
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];
/// Origins every server accepts (browser pages served from this machine, any port).
const LOOPBACK_ORIGINS: [&str; 3] = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/// HTTP options as given on the command line and in the environment, unchecked.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The address to bind (`--http`); port 0 picks a free port.
    pub addr: SocketAddr,
    /// Extra allowed `Origin` values (`--allow-origin`), e.g. `https://app.example.com`.
    pub allow_origins: Vec<String>,
    /// Extra allowed `Host` names (`--allow-host`), e.g. `mcp.example.com`.
    pub allow_hosts: Vec<String>,
    /// `LLM_ROUTER_AUTH_TOKEN`: the Bearer token clients must send.
    pub auth_token: Option<SecretString>,
    /// `--insecure-no-auth`: allow a non-loopback address without a token.
    pub insecure_no_auth: bool,
}

/// The checks every request passes, shared by the middleware.
#[derive(Debug)]
struct Policy {
    hosts: Vec<String>,
    origins: Vec<AllowedOrigin>,
    token: Option<SecretString>,
}

impl HttpOptions {
    /// Checks the options: a non-loopback address needs a token (or the explicit opt-out),
    /// and every `--allow-origin` must be a `scheme://host[:port]` origin.
    fn check(&self) -> anyhow::Result<Policy> {
        let token = self
            .auth_token
            .as_ref()
            .filter(|t| !t.expose_secret().trim().is_empty())
            .cloned();
        if !self.addr.ip().is_loopback() && token.is_none() && !self.insecure_no_auth {
            anyhow::bail!(
                "--http {}: refusing to serve a non-loopback address without authentication; \
                 set LLM_ROUTER_AUTH_TOKEN (clients then send `Authorization: Bearer <token>`) \
                 or pass --insecure-no-auth",
                self.addr
            );
        }
        let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
        if !self.addr.ip().is_unspecified() {
            hosts.push(host_of_ip(self.addr.ip()));
        }
        hosts.extend(
            self.allow_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase()),
        );
        let mut origins: Vec<AllowedOrigin> = LOOPBACK_ORIGINS
            .iter()
            .filter_map(|o| AllowedOrigin::parse(o))
            .collect();
        for o in &self.allow_origins {
            origins.push(AllowedOrigin::parse(o).with_context(|| {
                format!(
                    "--allow-origin '{o}' is not an origin; expected scheme://host[:port], \
                     e.g. https://app.example.com"
                )
            })?);
        }
        Ok(Policy {
            hosts,
            origins,
            token,
        })
    }
}

/// Serves MCP over HTTP until SIGINT/SIGTERM.
pub async fn serve(app: Arc<App>, opts: HttpOptions) -> anyhow::Result<()> {
    let policy = Arc::new(opts.check()?);
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
        policy.clone(),
        sessions.clone(),
        in_flight.clone(),
    );

    tracing::info!(
        base_url = app.upstream.base_url(),
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

/// The axum router: `/mcp`, `/sse`, `/message`, `/healthz`, behind the security middleware.
fn routes(
    app: Arc<App>,
    policy: Arc<Policy>,
    sessions: CancellationToken,
    in_flight: InFlight,
) -> axum::Router {
    let config = StreamableHttpServerConfig::default()
        .with_sse_keep_alive(Some(SSE_KEEP_ALIVE))
        .with_cancellation_token(sessions.child_token())
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        // The middleware already checked both; rmcp checks again with the same lists.
        .with_allowed_hosts(policy.hosts.iter().map(|h| h.trim_matches(['[', ']'])))
        .with_allowed_origins(policy.origins.iter().map(AllowedOrigin::to_rmcp));
    // Built once (tool router and schemas included); every session serves a clone.
    let handler = Router::new(app);
    let factory_handler = handler.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(factory_handler.clone()),
        LocalSessionManager::default().into(),
        config,
    );
    let legacy = LegacySse::new(handler, sessions, in_flight.clone(), SSE_KEEP_ALIVE);

    axum::Router::new()
        .nest_service("/mcp", mcp)
        .merge(legacy_sse::routes(legacy))
        .layer(middleware::from_fn_with_state(in_flight, track_calls))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(policy, guard))
}

/// Host, Origin, body size and (except for `/healthz`) Bearer token checks.
async fn guard(State(policy): State<Arc<Policy>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if !host_allowed(req.uri(), headers, &policy.hosts) {
        tracing::warn!(host = ?headers.get(header::HOST), "rejected: Host not allowed");
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: Host header is not allowed\n",
        )
            .into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN)
        && !origin
            .to_str()
            .ok()
            .and_then(Origin::parse)
            .is_some_and(|o| policy.origins.iter().any(|a| a.matches(&o)))
    {
        tracing::warn!(?origin, "rejected: Origin not allowed");
        return (StatusCode::FORBIDDEN, "Forbidden: Origin is not allowed\n").into_response();
    }
    let too_big = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    if too_big {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {MAX_BODY_BYTES} bytes\n"),
        )
            .into_response();
    }
    if let Some(token) = &policy.token
        && req.uri().path() != "/healthz"
    {
        let given = bearer(headers);
        let ok =
            given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(token.expose_secret().as_bytes())));
        if !ok {
            let challenge = if given.is_some() {
                r#"Bearer realm="llm-router", error="invalid_token""#
            } else {
                r#"Bearer realm="llm-router""#
            };
            tracing::warn!(
                path = req.uri().path(),
                "rejected: missing or wrong Bearer token"
            );
            return (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                )],
                "Unauthorized: send Authorization: Bearer <LLM_ROUTER_AUTH_TOKEN>\n",
            )
                .into_response();
        }
    }
    next.run(req).await
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

/// The token after `Bearer ` in `Authorization`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `Host` (or the HTTP/2 authority) names an allowed host; the port is not checked.
fn host_allowed(uri: &Uri, headers: &HeaderMap, allowed: &[String]) -> bool {
    let authority = match headers.get(header::HOST) {
        Some(h) => h
            .to_str()
            .ok()
            .and_then(|h| h.parse::<axum::http::uri::Authority>().ok()),
        None => uri.authority().cloned(),
    };
    let Some(authority) = authority else {
        return false;
    };
    let host = authority.host().to_ascii_lowercase();
    allowed.iter().any(|a| {
        a == &host
            || a.parse::<axum::http::uri::Authority>()
                .is_ok_and(|a| a.host() == host && a.port_u16() == authority.port_u16())
    })
}

/// An IP address as it appears in a `Host` header.
fn host_of_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// A request's `Origin`, normalised (RFC 6454: scheme, host, port).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(s: &str) -> Option<Self> {
        let url = url::Url::parse(s.trim()).ok()?;
        Some(Self {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }
}

/// An allowed origin: an exact origin, or `scheme://host:*` for any port.
#[derive(Debug, Clone)]
struct AllowedOrigin {
    scheme: String,
    host: String,
    /// `None` for any port.
    port: Option<u16>,
}

impl AllowedOrigin {
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim().trim_end_matches('/');
        if let Some(base) = s.strip_suffix(":*") {
            let o = Origin::parse(base)?;
            return Some(Self {
                scheme: o.scheme,
                host: o.host,
                port: None,
            });
        }
        let o = Origin::parse(s)?;
        // An origin has no path: `https://x.example/app` is a mistake worth reporting.
        let url = url::Url::parse(s).ok()?;
        if url.path() != "/" || url.query().is_some() {
            return None;
        }
        Some(Self {
            scheme: o.scheme,
            host: o.host,
            port: Some(o.port),
        })
    }

    fn matches(&self, o: &Origin) -> bool {
        self.scheme == o.scheme && self.host == o.host && self.port.is_none_or(|p| p == o.port)
    }

    /// The same origin in rmcp's `allowed_origins` syntax.
    fn to_rmcp(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{p}", self.scheme, self.host),
            None => format!("{}://{}:*", self.scheme, self.host),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(addr: &str) -> HttpOptions {
        HttpOptions {
            addr: addr.parse().unwrap(),
            allow_origins: vec![],
            allow_hosts: vec![],
            auth_token: None,
            insecure_no_auth: false,
        }
    }

    #[test]
    fn non_loopback_needs_a_token_or_the_opt_out() {
        let e = opts("0.0.0.0:8787").check().unwrap_err().to_string();
        assert!(e.contains("LLM_ROUTER_AUTH_TOKEN"), "{e}");
        let mut o = opts("0.0.0.0:8787");
        o.auth_token = Some(SecretString::from("t".to_owned()));
        assert!(o.check().is_ok());
        let mut o = opts("0.0.0.0:8787");
        o.insecure_no_auth = true;
        assert!(o.check().is_ok());
        assert!(opts("127.0.0.1:0").check().is_ok());
        assert!(opts("[::1]:0").check().is_ok());
    }

    #[test]
    fn origins_match_scheme_host_and_port() {
        let mut o = opts("127.0.0.1:0");
        o.allow_origins = vec!["https://app.example.com".into()];
        let p = o.check().unwrap();
        let ok = |s: &str| {
            let origin = Origin::parse(s).unwrap();
            p.origins.iter().any(|a| a.matches(&origin))
        };
        assert!(ok("https://app.example.com"));
        assert!(ok("https://app.example.com:443"));
        assert!(!ok("https://app.example.com:8443"));
        assert!(!ok("http://app.example.com"));
        assert!(!ok("https://evil.example"));
        assert!(ok("http://localhost:6274"));
        assert!(ok("http://127.0.0.1:3000"));
        assert!(!ok("https://localhost.evil.example"));

        let mut o = opts("127.0.0.1:0");
        o.allow_origins = vec!["app.example.com/x".into()];
        assert!(
            o.check()
                .unwrap_err()
                .to_string()
                .contains("--allow-origin")
        );
    }

    #[test]
    fn hosts_are_checked_without_port_unless_one_is_given() {
        let allowed: Vec<String> =
            vec!["localhost".into(), "[::1]".into(), "a.example:8443".into()];
        let check = |host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            host_allowed(&Uri::from_static("/mcp"), &h, &allowed)
        };
        assert!(check("localhost:8787"));
        assert!(check("LOCALHOST"));
        assert!(check("[::1]:1"));
        assert!(check("a.example:8443"));
        assert!(!check("a.example:443"));
        assert!(!check("evil.example"));
        assert!(!check("localhost.evil.example:8787"));
    }

    #[test]
    fn bearer_is_case_insensitive_in_the_scheme_only() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }
}
