//! Turning an upstream failure into an [`Error`]: HTTP statuses with their (many) body
//! shapes, and transport failures (timeouts, refused connections).
//!
//! Error bodies are read tolerantly: `{"error":{"type","code","message","request_id"}}`,
//! the older `{"error":{"code","message"}}`, `{"error":"text"}`, `{"message":…}` or
//! `{"detail":…}`, and non-JSON bodies such as an HTML error page.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::error::Error;

/// The longest upstream message we repeat to the caller.
const MAX_MESSAGE_CHARS: usize = 300;

/// Maps a non-success HTTP response to an error. `model` is the model requested.
pub fn from_status(status: StatusCode, headers: &HeaderMap, body: &[u8], model: &str) -> Error {
    let message = error_message(body).unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("no details given")
            .to_owned()
    });
    let code = status.as_u16();
    match code {
        401 | 403 => Error::Unauthorized {
            status: code,
            message,
            who: "the gateway".to_owned(),
            key_env: "AISA_API_KEY".to_owned(),
        },
        402 => Error::OutOfCredits { message },
        404 => Error::UnknownModel {
            model: model.to_owned(),
            message,
            suggestions: Vec::new(),
        },
        429 => Error::RateLimited {
            message,
            retry_after: retry_after(headers),
        },
        400 | 413 | 422 => Error::BadRequest {
            status: code,
            message,
        },
        _ => Error::Upstream {
            status: code,
            message,
        },
    }
}

/// Maps a transport-level failure (no HTTP status) to an error.
pub fn from_transport(e: &reqwest::Error, timeout: Duration, base_url: &str) -> Error {
    if e.is_timeout() {
        return Error::Timeout { after: timeout };
    }
    if e.is_connect() {
        return Error::Connect {
            base_url: base_url.to_owned(),
            detail: root_cause(e),
        };
    }
    if e.is_decode() || e.is_body() {
        return Error::BadResponse(root_cause(e));
    }
    Error::Connect {
        base_url: base_url.to_owned(),
        detail: root_cause(e),
    }
}

/// The innermost cause, which is the informative one ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The human message inside an error body, if any can be found.
pub fn error_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let message = match serde_json::from_str::<Value>(text) {
        Ok(json) => json_message(&json)?,
        Err(_) if text.starts_with('<') => html_title(text)
            .map(|t| format!("an HTML page titled '{t}'"))
            .unwrap_or_else(|| "an HTML page instead of JSON".to_owned()),
        Err(_) => text.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    Some(truncate(&message))
}

fn json_message(json: &Value) -> Option<String> {
    let err = json.get("error").unwrap_or(json);
    if let Some(s) = err.as_str() {
        return Some(s.to_owned());
    }
    let message = ["message", "detail", "msg"]
        .iter()
        .find_map(|k| err.get(k).and_then(Value::as_str))
        .map(str::to_owned);
    // Google's errors carry a numeric `code` (the HTTP status again) and the informative
    // canonical `status` (INVALID_ARGUMENT, RESOURCE_EXHAUSTED): prefer the latter.
    let google = err.get("status").and_then(Value::as_str).map(str::to_owned);
    let code = google.or_else(|| {
        ["code", "type"].iter().find_map(|k| match err.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    });
    match (message, code) {
        (Some(m), Some(c)) => Some(format!("{m} [{c}]")),
        (Some(m), None) => Some(m),
        (None, Some(c)) => Some(c),
        (None, None) => None,
    }
}

fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title = html.get(start..end)?.trim();
    (!title.is_empty()).then(|| title.to_owned())
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_MESSAGE_CHARS {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX_MESSAGE_CHARS).collect();
    out.push('…');
    out
}

/// `Retry-After`: delay seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?;
    crate::routing::retry::parse_retry_after(v, std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_body_shape_yields_its_message() {
        let full = br#"{"error":{"type":"api_error","code":"upstream_error","message":"provider down","request_id":"r1"}}"#;
        assert_eq!(
            error_message(full).unwrap(),
            "provider down [upstream_error]"
        );
        let older = br#"{"error":{"code":"rate_limit_exceeded","message":"slow down"}}"#;
        assert_eq!(
            error_message(older).unwrap(),
            "slow down [rate_limit_exceeded]"
        );
        let google =
            br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#;
        assert_eq!(
            error_message(google).unwrap(),
            "Quota exceeded [RESOURCE_EXHAUSTED]"
        );
        assert_eq!(error_message(br#"{"error":"nope"}"#).unwrap(), "nope");
        assert_eq!(error_message(br#"{"detail":"bad"}"#).unwrap(), "bad");
        assert_eq!(
            error_message(b"<html><head><title>502 Bad Gateway</title></head></html>").unwrap(),
            "an HTML page titled '502 Bad Gateway'"
        );
        assert_eq!(
            error_message(b"  upstream\n connect   error ").unwrap(),
            "upstream connect error"
        );
        assert_eq!(error_message(b""), None);
        assert!(
            error_message("x".repeat(1000).as_bytes())
                .unwrap()
                .ends_with('…')
        );
    }

    #[test]
    fn statuses_map_to_their_errors() {
        let h = HeaderMap::new();
        let e = |s: u16| from_status(StatusCode::from_u16(s).unwrap(), &h, b"", "m");
        assert!(matches!(e(401), Error::Unauthorized { status: 401, .. }));
        assert!(matches!(e(402), Error::OutOfCredits { .. }));
        assert!(matches!(e(404), Error::UnknownModel { .. }));
        assert!(matches!(e(422), Error::BadRequest { status: 422, .. }));
        assert!(matches!(e(503), Error::Upstream { status: 503, .. }));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        let e = from_status(StatusCode::TOO_MANY_REQUESTS, &h, b"", "m");
        assert!(matches!(e, Error::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 7));
    }
}
