//! The HTTP client to one upstream provider: the AIsa gateway, or any provider the config
//! names (another gateway, a local Ollama or vLLM, Google's or Anthropic's own API).
//!
//! One pooled `reqwest` client for the process, shared by every provider; every request
//! carries the provider's key in the header its [`Auth`] names, when it has one. The key is
//! exposed only here, at the moment the header is built, and scrubbed from any upstream text
//! before that text reaches an error message. What differs between wire formats — paths,
//! bodies, stream events, model lists — is the [`style`] module's; everything else (timeouts,
//! the body cap, error statuses) is the same here for every style.
//!
//! [`Upstream::chat`] reads a whole response; [`Upstream::chat_stream`] asks for a stream
//! (for OpenAI's style: `stream: true`, usage in the last chunk) and reports text as it
//! arrives. A whole response
//! must come within the request timeout. A stream's first token must come within it too (so a
//! reasoning model may think as long as it would for a whole answer), and after that the
//! stream may run as long as it keeps sending: only a gap longer than the idle timeout ends it.

pub mod credits;
pub mod providers;
pub mod sse;
mod status;
pub mod style;
pub mod types;

use std::time::Duration;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::config::Config;
use crate::error::Error;
use sse::Delta;
use style::{Auth, Style};
pub use types::{ChatRequest, ChatResponse, LiveModel};

/// The most of one upstream response body llm-router reads.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

enum Capped {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads a body chunk by chunk, giving up once it passes `limit` bytes.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, Capped> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Capped::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The response's media type (`text/html` of `text/html; charset=utf-8`), if it has one.
fn content_type(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
}

/// Whether a response to a streamed request is read as an SSE stream: `text/event-stream`,
/// no content type, or `text/plain` (proxies mislabel streams so). JSON and anything else
/// (an HTML page, binary data) is read whole.
fn is_event_stream(headers: &reqwest::header::HeaderMap) -> bool {
    content_type(headers).is_none_or(|t| t == "text/event-stream" || t == "text/plain")
}

/// Whether a media type is JSON (`application/json`, `application/problem+json`, …).
fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

/// What an unreadable body held, for an error message: its error text, else its start when
/// it is text, else its size (a compressed or binary body is not repeated).
fn body_snippet(body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return "an empty body".to_owned();
    }
    let text = match std::str::from_utf8(body) {
        Ok(text) if !text.chars().any(|c| c.is_control() && !c.is_whitespace()) => text.trim(),
        _ => {
            let gzip = if body.starts_with(&[0x1f, 0x8b]) {
                ", gzip by its signature"
            } else {
                ""
            };
            return format!(
                "{} bytes that are not text (compressed or binary data{gzip})",
                body.len()
            );
        }
    };
    if let Some(message) = status::error_message(body) {
        return message;
    }
    let mut start: String = text.chars().take(200).collect();
    if start.len() < text.len() {
        start.push('…');
    }
    start
}

fn too_large() -> Error {
    Error::BadResponse(format!(
        "the response is larger than {} MB; llm-router stopped reading it",
        MAX_BODY_BYTES / (1024 * 1024)
    ))
}

/// The client to one provider.
#[derive(Debug)]
pub struct Upstream {
    /// The provider's name (`aisa` for the gateway).
    name: String,
    /// The style its routes speak unless a call asks for another.
    style: Style,
    auth: Auth,
    /// Where the key comes from, for messages (`AISA_API_KEY`).
    key_env: String,
    http: reqwest::Client,
    base_url: String,
    key: Option<SecretString>,
    /// The AIsa gateway needs a key; a custom base URL (Ollama, vLLM) may not.
    key_required: bool,
    timeout: Duration,
    /// How long to wait for the response headers (at most `timeout`).
    first_byte_timeout: Duration,
    /// The longest gap between two pieces of a stream.
    stream_idle: Duration,
}

/// The process's one pooled HTTP client, shared by every provider.
pub fn http_client(config: &Config) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .user_agent(concat!("llm-router/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout)
        // No client-wide total timeout: whole responses set one per request, streams
        // are bounded by the idle timeout instead.
        .pool_idle_timeout(Duration::from_secs(90))
        .build()?)
}

/// What one provider is: where, how it is spoken to, and its limits.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub name: String,
    pub base_url: String,
    pub style: Style,
    pub auth: Auth,
    pub key: Option<SecretString>,
    /// The variable the key came from, for messages.
    pub key_env: String,
    pub key_required: bool,
    pub timeout: Duration,
    pub first_byte_timeout: Duration,
    pub stream_idle: Duration,
}

/// The name of the default provider: the gateway of `AISA_BASE_URL` / `base_url`.
pub const GATEWAY: &str = "aisa";

impl ProviderSpec {
    /// The default provider: the AIsa gateway (or what `AISA_BASE_URL` points at).
    pub fn gateway(config: &Config) -> Self {
        Self {
            name: GATEWAY.to_owned(),
            base_url: config.base_url.as_str().to_owned(),
            style: Style::OpenAi,
            auth: Auth::Bearer,
            key: config.api_key.clone(),
            key_env: "AISA_API_KEY".to_owned(),
            key_required: config.is_default_gateway,
            timeout: config.timeout,
            first_byte_timeout: config.first_byte_timeout,
            stream_idle: config.stream_idle_timeout,
        }
    }
}

impl Upstream {
    /// The client to one provider, on a shared pooled HTTP client.
    pub fn with_client(http: reqwest::Client, spec: ProviderSpec) -> Self {
        Self {
            name: spec.name,
            style: spec.style,
            auth: spec.auth,
            key_env: spec.key_env,
            http,
            base_url: spec.base_url.trim_end_matches('/').to_owned(),
            key: spec.key,
            key_required: spec.key_required,
            timeout: spec.timeout,
            first_byte_timeout: spec.first_byte_timeout.min(spec.timeout),
            stream_idle: spec.stream_idle,
        }
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The style its routes speak by default.
    pub fn style(&self) -> Style {
        self.style
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A whole answer from `model` (the provider's id for it), in `style`.
    pub async fn chat(
        &self,
        request: &ChatRequest,
        model: &str,
        style: Style,
    ) -> Result<ChatResponse, Error> {
        let api = style.api();
        let encoded = api.encode(request, model, false)?;
        let builder = self
            .http
            .post(format!("{}{}", self.base_url, encoded.path))
            .timeout(self.timeout)
            .json(&encoded.body);
        let body = self.send(builder, &request.model, style).await?;
        let response = api.decode(&body).map_err(|e| self.undecodable(&e, &body))?;
        self.check_answer(response)
    }

    /// The error for a success body that is not what the style sends.
    fn undecodable(&self, e: &serde_json::Error, body: &[u8]) -> Error {
        let snippet = body_snippet(body);
        Error::BadResponse(self.scrub(format!("{e}; the body was: {snippet}")))
    }

    /// Fails on a 200 that carries an error object or no choices.
    fn check_answer(&self, response: ChatResponse) -> Result<ChatResponse, Error> {
        if let Some(err) = &response.error {
            // A 200 that carries an error object: treat it as the gateway's failure.
            let message = status::error_message(err.to_string().as_bytes())
                .unwrap_or_else(|| "an error object without a message".to_owned());
            return Err(Error::Upstream {
                status: 200,
                message: self.scrub(message),
            });
        }
        if response.choices.is_empty() {
            return Err(Error::BadResponse(
                "the response has no choices (no answer from the model)".to_owned(),
            ));
        }
        Ok(response)
    }

    /// `POST /chat/completions` with `stream: true` (and usage asked for in the last chunk):
    /// calls `on` for each new piece of the answer as it arrives and returns the whole answer,
    /// assembled into the shape [`Self::chat`] returns.
    ///
    /// Fails like [`Self::chat`] until the stream starts, and with [`Error::Timeout`] when no
    /// token comes within the request timeout. After that, a stream that sends nothing for
    /// longer than the idle timeout (at most that long before the first token, too), ends
    /// before `[DONE]`, or carries an error object fails with [`Error::StreamBroken`], which
    /// says whether any answer had arrived. Dropping the future drops the connection.
    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
        model: &str,
        style: Style,
        on: &mut (dyn FnMut(Delta<'_>) + Send),
    ) -> Result<ChatResponse, Error> {
        let api = style.api();
        let encoded = api.encode(request, model, true)?;
        let url = format!("{}{}", self.base_url, encoded.path);
        let builder = self.authorize(self.http.post(url).json(&encoded.body), style)?;
        let timed_out = || Error::Timeout {
            after: self.timeout,
        };
        let first_token_by = Instant::now() + self.timeout;
        let mut response = self.send_for_headers(builder).await?;
        let status = response.status();
        if !status.is_success() || !is_event_stream(response.headers()) {
            // An error status, a gateway that ignored `stream: true` and sent one JSON body, or
            // something else entirely (an HTML page from a proxy or captive portal).
            let headers = response.headers().clone();
            let body = tokio::time::timeout(self.timeout, self.read_body(response))
                .await
                .map_err(|_| timed_out())??;
            if !status.is_success() {
                return Err(self.status_error(status, &headers, &body, &request.model));
            }
            let answer = api.decode(&body).map_err(|e| {
                let snippet = body_snippet(&body);
                let text = match content_type(&headers) {
                    Some(t) if !is_json(&t) => format!(
                        "asked for an event stream, the gateway answered with `{t}` \
                         (not an event stream, not JSON): {snippet}"
                    ),
                    _ => format!("{e}; the body was: {snippet}"),
                };
                Error::BadResponse(self.scrub(text))
            })?;
            let answer = self.check_answer(answer)?;
            if let Some(message) = answer.choices.first().and_then(|c| c.message.as_ref()) {
                let text = message.text();
                if !text.is_empty() {
                    on(Delta::Text(&text));
                }
            }
            return Ok(answer);
        }

        let mut parser = api.stream_parser();
        let mut read = 0usize;
        loop {
            // Until the first token the stream may be silent as long as a whole answer may
            // take (a reasoning model thinks first); after it, no gap may pass the idle limit.
            let first_token_left = first_token_by.saturating_duration_since(Instant::now());
            let waiting_first = !parser.started() && first_token_left > self.stream_idle;
            let limit = if waiting_first {
                first_token_left
            } else {
                self.stream_idle
            };
            let chunk = match tokio::time::timeout(limit, response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    let why = format!("the connection failed: {e}");
                    return Err(self.broken(&parser, request, why));
                }
                Err(_) if waiting_first => return Err(timed_out()),
                Err(_) => {
                    let why = format!(
                        "it stalled: nothing arrived for {:.1}s (LLM_ROUTER_STREAM_IDLE_SECS or [timeouts] stream_idle_secs sets this limit)",
                        self.stream_idle.as_secs_f64()
                    );
                    return Err(self.broken(&parser, request, why));
                }
            };
            read += chunk.len();
            if read > MAX_BODY_BYTES {
                return Err(too_large());
            }
            if let Err(message) = parser.feed(&chunk, on) {
                let why = format!("the gateway sent an error mid-stream: {message}");
                return Err(self.broken(&parser, request, why));
            }
            if parser.is_done() {
                break;
            }
        }
        // The skipped parts are upstream text: scrubbed like any other before they are logged.
        let skipped: Vec<String> = parser
            .skipped()
            .into_iter()
            .map(|n| self.scrub(n))
            .collect();
        if !skipped.is_empty() {
            tracing::warn!(
                gen_ai.request.model = %request.model,
                skipped = ?skipped,
                "skipped malformed parts of the stream"
            );
        }
        let answer = parser
            .finish(on)
            .map_err(|why| self.broken(&parser, request, why))?;
        self.check_answer(answer)
    }

    /// The error for a stream that broke off, with the text that had arrived.
    fn broken(&self, parser: &sse::StreamParser, request: &ChatRequest, why: String) -> Error {
        Error::StreamBroken {
            model: request.model.clone(),
            reason: self.scrub(why),
            partial: self.scrub(parser.text().to_owned()),
            after_first_token: parser.started(),
        }
    }

    /// The ids the provider serves now (`GET /models` in its style).
    pub async fn list_models(&self) -> Result<Vec<LiveModel>, Error> {
        let api = self.style.api();
        let builder = self
            .http
            .get(format!("{}{}", self.base_url, api.models_path()))
            .timeout(self.timeout);
        let body = self.send(builder, "", self.style).await?;
        api.decode_models(&body)
            .map_err(|e| self.undecodable(&e, &body))
    }

    /// A GET of `path` under the base URL, read as JSON (the gateway's extra routes).
    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let builder = self
            .http
            .get(format!("{}{path}", self.base_url))
            .timeout(self.timeout);
        let body = self.send(builder, "", self.style).await?;
        serde_json::from_slice(&body).map_err(|e| self.undecodable(&e, &body))
    }

    /// Sends a request with auth (and `style`'s headers) and maps every failure to an
    /// [`Error`]; the success body.
    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        model: &str,
        style: Style,
    ) -> Result<Vec<u8>, Error> {
        let builder = self.authorize(builder, style)?;
        let response = self.send_for_headers(builder).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = self.read_body(response).await?;
        if !status.is_success() {
            return Err(self.status_error(status, &headers, &body, model));
        }
        Ok(body)
    }

    /// Sends a request and waits for its response headers, at most the first-byte timeout.
    async fn send_for_headers(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        tokio::time::timeout(self.first_byte_timeout, builder.send())
            .await
            .map_err(|_| Error::Timeout {
                after: self.first_byte_timeout,
            })?
            .map_err(|e| status::from_transport(&e, self.timeout, &self.base_url))
    }

    /// Adds the key in the provider's auth header, and the headers `style` needs (or fails
    /// when the provider needs a key and there is none).
    fn authorize(
        &self,
        mut builder: reqwest::RequestBuilder,
        style: Style,
    ) -> Result<reqwest::RequestBuilder, Error> {
        for (name, value) in style.api().headers() {
            builder = builder.header(*name, *value);
        }
        Ok(match &self.key {
            Some(key) => {
                let (header, prefix) = self.auth.header();
                let mut value = HeaderValue::from_str(&format!("{prefix}{}", key.expose_secret()))
                    .map_err(|_| {
                        Error::InvalidArgument(format!(
                            "{} contains characters that cannot go in an HTTP header",
                            self.key_env
                        ))
                    })?;
                value.set_sensitive(true);
                builder.header(header, value)
            }
            None if self.key_required && self.name == GATEWAY => return Err(Error::MissingApiKey),
            None if self.key_required => {
                return Err(Error::ProviderKeyMissing {
                    provider: self.name.clone(),
                    env: self.key_env.clone(),
                });
            }
            None => builder,
        })
    }

    /// Reads a whole body, capped at [`MAX_BODY_BYTES`].
    async fn read_body(&self, response: reqwest::Response) -> Result<Vec<u8>, Error> {
        read_capped(response, MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                Capped::Transport(e) => status::from_transport(&e, self.timeout, &self.base_url),
                Capped::TooLarge => too_large(),
            })
    }

    /// The error for a non-success status, with the key scrubbed from the gateway's text.
    fn status_error(
        &self,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        model: &str,
    ) -> Error {
        let mut error = status::from_status(status, headers, body, model);
        self.scrub_error(&mut error);
        if let Error::Unauthorized {
            message,
            who,
            key_env,
            ..
        } = &mut error
        {
            if self.name != GATEWAY {
                *who = format!("provider '{}'", self.name);
            }
            key_env.clone_from(&self.key_env);
            if self.key.is_none() {
                // A custom base URL refused a keyless request: say what is missing.
                message.push_str(&format!(" (no key was sent: {} is not set)", self.key_env));
            }
        }
        error
    }

    /// Removes the key from text that came from upstream.
    fn scrub(&self, text: String) -> String {
        match &self.key {
            Some(key) if !key.expose_secret().is_empty() && text.contains(key.expose_secret()) => {
                text.replace(key.expose_secret(), "[redacted]")
            }
            _ => text,
        }
    }

    fn scrub_error(&self, error: &mut Error) {
        match error {
            Error::Unauthorized { message, .. }
            | Error::OutOfCredits { message }
            | Error::UnknownModel { message, .. }
            | Error::RateLimited { message, .. }
            | Error::BadRequest { message, .. }
            | Error::Upstream { message, .. } => *message = self.scrub(std::mem::take(message)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

    fn typed(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(t).unwrap());
        h
    }

    #[test]
    fn only_event_streams_plain_text_or_untyped_bodies_are_read_as_streams() {
        assert!(is_event_stream(&HeaderMap::new()));
        assert!(is_event_stream(&typed("text/event-stream; charset=utf-8")));
        assert!(is_event_stream(&typed("Text/Plain")));
        assert!(!is_event_stream(&typed("text/html; charset=utf-8")));
        assert!(!is_event_stream(&typed("application/json")));
        assert!(!is_event_stream(&typed("application/octet-stream")));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/html"));
    }
}
