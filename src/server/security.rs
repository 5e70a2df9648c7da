//! HTTP security, applied in one middleware ([`guard`]) in front of every endpoint so the
//! transports cannot disagree.
//!
//! The `Host` header must name an allowed host (DNS-rebinding protection); a present `Origin`
//! must be an allowed origin (403 otherwise); when a token is set (`LLM_ROUTER_AUTH_TOKEN` or
//! `http.auth_token_file`) every endpoint but the probes wants `Authorization: Bearer <token>`,
//! compared in constant time (401 with `WWW-Authenticate: Bearer` otherwise); a declared body
//! over the limit gets 413 before it is read. [`Policy::new`] refuses a non-loopback address
//! without a token unless `--insecure-no-auth` is given.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::server::http::HttpOptions;

/// Host names every server accepts in `Host` (ports are not checked).
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];
/// Origins every server accepts (browser pages served from this machine, any port).
const LOOPBACK_ORIGINS: [&str; 3] = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];
/// Paths that answer without a token (liveness and readiness probes; they reveal nothing).
const PROBES: [&str; 2] = ["/healthz", "/readyz"];

/// The checks every request passes, shared by the middleware.
#[derive(Debug)]
pub(super) struct Policy {
    pub(super) hosts: Vec<String>,
    pub(super) origins: Vec<AllowedOrigin>,
    pub(super) token: Option<SecretString>,
    pub(super) max_body_bytes: u64,
}

impl Policy {
    /// Checks the options: a non-loopback address needs a token (or the explicit opt-out),
    /// and every `--allow-origin` must be a `scheme://host[:port]` origin.
    pub(super) fn new(opts: &HttpOptions) -> anyhow::Result<Self> {
        let token = opts
            .auth_token
            .as_ref()
            .filter(|t| !t.expose_secret().trim().is_empty())
            .cloned();
        if !opts.addr.ip().is_loopback() && token.is_none() && !opts.insecure_no_auth {
            anyhow::bail!(
                "--http {}: refusing to serve a non-loopback address without authentication; \
                 set LLM_ROUTER_AUTH_TOKEN (clients then send `Authorization: Bearer <token>`) \
                 or pass --insecure-no-auth",
                opts.addr
            );
        }
        let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
        if !opts.addr.ip().is_unspecified() {
            hosts.push(host_of_ip(opts.addr.ip()));
        }
        hosts.extend(
            opts.allow_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase()),
        );
        let mut origins: Vec<AllowedOrigin> = LOOPBACK_ORIGINS
            .iter()
            .filter_map(|o| AllowedOrigin::parse(o))
            .collect();
        for o in &opts.allow_origins {
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
            max_body_bytes: opts.max_body_bytes,
        })
    }
}

/// Host, Origin, body size and (except for the probes `/healthz` and `/readyz`) Bearer
/// token checks.
pub(super) async fn guard(State(policy): State<Arc<Policy>>, req: Request, next: Next) -> Response {
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
        .is_some_and(|n| n > policy.max_body_bytes);
    if too_big {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {} bytes\n", policy.max_body_bytes),
        )
            .into_response();
    }
    if let Some(token) = &policy.token
        && !PROBES.contains(&req.uri().path())
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
pub(super) struct AllowedOrigin {
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
    pub(super) fn to_rmcp(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{p}", self.scheme, self.host),
            None => format!("{}://{}:*", self.scheme, self.host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(addr: &str) -> HttpOptions {
        let mut config = crate::config::RawConfig::default().check().unwrap().http;
        config.addr = addr.parse().unwrap();
        HttpOptions::new(config, false)
    }

    impl HttpOptions {
        fn check(&self) -> anyhow::Result<Policy> {
            Policy::new(self)
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
