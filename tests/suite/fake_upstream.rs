//! A fake OpenAI-compatible gateway (`/v1/chat/completions`, `/v1/models`,
//! `/v1/credits/balance` — AIsa's shape, or 404 after `set_credits(None)`).
//!
//! It binds `127.0.0.1:0`, records every request it receives (method, path,
//! headers, JSON body) and chooses its behaviour from the requested `model`:
//!
//! | model                 | behaviour                                                   |
//! |-----------------------|-------------------------------------------------------------|
//! | anything else         | 200, `echo: <last user text>`, usage 1000/2000/3000         |
//! | `gateway-cost`        | as above plus `usage.cost = 0.0123`                         |
//! | `gateway-cost-as:<id>`| as `gateway-cost`, answering with `"model": "<id>"`         |
//! | `no-usage`            | 200 without any `usage`                                     |
//! | `tool-caller`         | `content: null` + one `get_weather` tool call               |
//! | `served-as:<id>`      | 200 answering with `"model": "<id>"`                        |
//! | `status-402/429/500/502/503` | that status (429 old error shape, 502 HTML body)     |
//! | `gpt-5x`, `missing-*` | 404 `model_not_found`                                       |
//! | `slow`                | sleeps 5 s, then answers normally                           |
//! | `rendezvous-*`        | waits (up to 5 s) until two `rendezvous-*` requests are in  |
//! |                       | flight at once, then answers; 504 if the partner never came |
//! | `delay-<ms>`          | answers normally after ms (streamed: headers at once, then  |
//! |                       | the first chunk after ms)                                   |
//!
//! A request with `"stream": true` gets the same answer as an SSE stream of
//! `chat.completion.chunk`s: a keep-alive comment, a role chunk, the text in 3-character
//! pieces, tool calls as deltas, a finish chunk, a usage chunk (only when
//! `stream_options.include_usage` is set and the answer has usage) and `[DONE]`. Models that
//! only make sense streamed (non-streamed they answer normally):
//!
//! | model                 | stream                                                      |
//! |-----------------------|-------------------------------------------------------------|
//! | `drip-<ms>-<n>`       | n pieces `w0 `, `w1 `, … one every ms, then finish + usage  |
//! | `stall-before`        | the role chunk, then nothing (the connection stays open)    |
//! | `stall-after`         | `partial text` in 3 pieces, then nothing                    |
//! | `cut-before`          | the role chunk, then the body ends without `[DONE]`         |
//! | `cut-after`           | `partial text` in 3 pieces, then the end without `[DONE]`   |
//!
//! A stream whose client goes away before it ended is recorded as a disconnect
//! ([`FakeUpstream::wait_for_disconnect`]), at the moment the fake sees the connection close.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::util::KEY;

/// The prompt/completion token counts every successful fake answer reports.
pub const PROMPT_TOKENS: u64 = 1000;
pub const COMPLETION_TOKENS: u64 = 2000;
/// `usage.cost` reported by the `gateway-cost` model.
pub const GATEWAY_COST: f64 = 0.0123;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names are lower-case.
    pub headers: HashMap<String, String>,
    /// The JSON body (`Value::Null` when empty or not JSON).
    pub body: Value,
}

impl Recorded {
    pub fn authorization(&self) -> Option<&str> {
        self.headers.get("authorization").map(String::as_str)
    }
}

struct Inner {
    expected_key: String,
    requests: Mutex<Vec<Recorded>>,
    models_fail: AtomicBool,
    rendezvous: tokio::sync::Barrier,
    /// When clients went away from streams that had not ended.
    disconnects: Mutex<Vec<Instant>>,
    disconnected: Notify,
    /// The `GET /v1/credits/balance` body; `None` answers 404.
    credits: Mutex<Option<Value>>,
}

pub struct FakeUpstream {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
    /// Starts a graceful shutdown: no new connections, idle keep-alive ones closed.
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeUpstream {
    /// A fake gateway that accepts `Authorization: Bearer <util::KEY>`.
    pub async fn start() -> Self {
        Self::start_expecting_key(KEY).await
    }

    /// A fake gateway that accepts only `Authorization: Bearer <key>`.
    pub async fn start_expecting_key(key: &str) -> Self {
        let inner = Arc::new(Inner {
            expected_key: key.to_owned(),
            requests: Mutex::new(Vec::new()),
            models_fail: AtomicBool::new(false),
            rendezvous: tokio::sync::Barrier::new(2),
            disconnects: Mutex::new(Vec::new()),
            disconnected: Notify::new(),
            credits: Mutex::new(Some(CREDITS.clone())),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1/models", get(list_models))
            .route("/v1/credits/balance", get(credits_balance))
            .fallback(fallback)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake upstream");
        let addr = listener.local_addr().expect("fake upstream address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("fake upstream serve");
        });
        FakeUpstream {
            addr,
            inner,
            task,
            stop: Mutex::new(Some(stop)),
        }
    }

    /// `http://127.0.0.1:PORT/v1`, suitable for `AISA_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Stops accepting connections and closes the idle keep-alive ones (requests in flight
    /// finish first), so a client's connection pool to the fake empties.
    pub fn close_connections(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
    }

    /// Make `GET /v1/models` answer 500 (to exercise the offline path).
    pub fn set_models_failing(&self, failing: bool) {
        self.inner.models_fail.store(failing, Ordering::SeqCst);
    }

    /// Set the `GET /v1/credits/balance` body, or `None` for a gateway without the route (404).
    pub fn set_credits(&self, body: Option<Value>) {
        *self.inner.credits.lock().unwrap() = body;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Every `POST /v1/chat/completions` received so far.
    pub fn chat_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/chat/completions")
            .collect()
    }

    /// The body of the only chat request received (panics unless exactly one).
    pub fn only_chat_body(&self) -> Value {
        let chats = self.chat_requests();
        assert_eq!(
            chats.len(),
            1,
            "expected exactly one chat request upstream, got {chats:#?}"
        );
        chats[0].body.clone()
    }

    /// The first moment a client went away from a stream that had not ended, waiting up to
    /// `within` for one.
    pub async fn wait_for_disconnect(&self, within: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.inner.disconnected.notified();
            if let Some(at) = self.inner.disconnects.lock().unwrap().first() {
                return Some(*at);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// How many streams their clients left before the end.
    pub fn disconnect_count(&self) -> usize {
        self.inner.disconnects.lock().unwrap().len()
    }

    /// Every `GET /v1/models` received so far.
    pub fn models_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path == "/v1/models")
            .collect()
    }
}

fn record(inner: &Inner, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = serde_json::from_slice(body).unwrap_or(Value::Null);
    inner.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        body,
    });
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {}", inner.expected_key);
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": {
            "code": "invalid_api_key",
            "message": "Invalid API key",
            "type": "authentication_error"
        }})),
    )
        .into_response()
}

fn json_status(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// Text of the last `user` message; for array content, its text parts.
fn last_user_text(body: &Value) -> String {
    let Some(messages) = body["messages"].as_array() else {
        return String::new();
    };
    let Some(last) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &last["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn completion(model: &str, message: Value, finish_reason: &str, usage: Option<Value>) -> Value {
    let mut v = json!({
        "id": "chatcmpl-fake-123",
        "object": "chat.completion",
        "created": 1_760_000_000u64,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish_reason
        }]
    });
    if let Some(usage) = usage {
        v["usage"] = usage;
    }
    v
}

fn standard_usage() -> Value {
    json!({
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS
    })
}

async fn chat_completions(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&inner, &method, &uri, &headers, &body);
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return json_status(
            400,
            json!({"error": {"code": "invalid_json", "message": "body is not JSON"}}),
        );
    };
    let model = req["model"].as_str().unwrap_or_default().to_owned();
    let echo = format!("echo: {}", last_user_text(&req));
    let answer = json!({"role": "assistant", "content": echo});
    let stream = req["stream"] == true;
    let include_usage = req["stream_options"]["include_usage"] == true;

    // How many chat requests for this model the fake has seen, this one included.
    let seen = inner
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions") && r.body["model"] == model.as_str())
        .count();
    if let Some(r) = failure_mode(&model, seen, &last_user_text(&req)) {
        return r;
    }
    if let Some(r) = fault_mode(&model, stream) {
        return r;
    }
    if let Some(r) = echo_key_mode(&model, stream, &headers) {
        return r;
    }
    if stream && let Some(script) = stream_mode(&model) {
        return stream_response(&inner, script);
    }
    if let Some(ms) = model.strip_prefix("delay-").and_then(|ms| ms.parse().ok()) {
        let completion = completion(&model, answer, "stop", Some(standard_usage()));
        let delay = Duration::from_millis(ms);
        if stream {
            let mut script = vec![Step::Sleep(delay)];
            script.extend(
                stream_blocks(&completion, include_usage)
                    .into_iter()
                    .map(Step::Send),
            );
            return stream_response(&inner, script);
        }
        tokio::time::sleep(delay).await;
        return axum::Json(completion).into_response();
    }
    match answer_for(&inner, &model, answer).await {
        Ok(completion) if stream => {
            let script = stream_blocks(&completion, include_usage)
                .into_iter()
                .map(Step::Send)
                .collect();
            stream_response(&inner, script)
        }
        Ok(completion) => axum::Json(completion).into_response(),
        Err(response) => response,
    }
}

/// The whole answer for `model`, or the error response its failure mode gives.
#[allow(clippy::result_large_err)] // the Err is the HTTP response itself, sent at once
async fn answer_for(inner: &Inner, model: &str, answer: Value) -> Result<Value, Response> {
    let model = model.to_owned();
    let ok = |v: Value| Ok::<Value, Response>(v);
    match model.as_str() {
        m if m == "gateway-cost" || m.starts_with("gateway-cost-as:") => {
            let served = m.strip_prefix("gateway-cost-as:").unwrap_or(m);
            let mut usage = standard_usage();
            usage["cost"] = json!(GATEWAY_COST);
            ok(completion(served, answer, "stop", Some(usage)))
        }
        "no-usage" => ok(completion(&model, answer, "stop", None)),
        "tool-caller" => {
            let message = json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": "call_abc123",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}
                }]
            });
            ok(completion(
                &model,
                message,
                "tool_calls",
                Some(standard_usage()),
            ))
        }
        "status-402" => Err(json_status(
            402,
            json!({"error": {
                "code": "insufficient_credits",
                "message": "Your account does not have enough credits",
                "type": "billing_error"
            }}),
        )),
        "status-429" => Err(json_status(
            429,
            json!({"error": {"code": "rate_limit_exceeded", "message": "Too many requests"}}),
        )),
        "status-500" => Err(json_status(
            500,
            json!({"error": {
                "type": "server_error",
                "code": "internal_error",
                "message": "Something broke inside the gateway",
                "request_id": "req_fake_500"
            }}),
        )),
        "status-502" => Err((
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>502 Bad Gateway</title></head>\
             <body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
        )
            .into_response()),
        "status-503" => Err(json_status(
            503,
            json!({"error": {
                "code": "service_unavailable",
                "message": "The service is temporarily unavailable"
            }}),
        )),
        m if m == "gpt-5x" || m.starts_with("missing-") => Err(json_status(
            404,
            json!({"error": {
                "code": "model_not_found",
                "message": format!("The model `{m}` does not exist")
            }}),
        )),
        m if m.starts_with("rendezvous-") => {
            match tokio::time::timeout(Duration::from_secs(5), inner.rendezvous.wait()).await {
                Ok(_) => ok(completion(m, answer, "stop", Some(standard_usage()))),
                Err(_) => Err(json_status(
                    504,
                    json!({"error": {"code": "no_partner",
                                     "message": "requests were not concurrent"}}),
                )),
            }
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            ok(completion(&model, answer, "stop", Some(standard_usage())))
        }
        m => {
            let served = m.strip_prefix("served-as:").unwrap_or(m);
            ok(completion(served, answer, "stop", Some(standard_usage())))
        }
    }
}

/// One step of a streamed response.
#[derive(Clone)]
enum Step {
    /// Send this SSE text.
    Send(String),
    /// Wait (the client may leave meanwhile).
    Sleep(Duration),
    /// Send nothing more and keep the connection open until the client leaves.
    Hang,
}

fn sse(data: &Value) -> String {
    format!("data: {data}\n\n")
}

fn chunk(model: &Value, delta: Value, finish_reason: Value) -> Value {
    json!({
        "id": "chatcmpl-fake-123",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000u64,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    })
}

/// `text` in pieces of `n` characters.
fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// The SSE text of a stream equivalent to the whole `completion`.
fn stream_blocks(completion: &Value, include_usage: bool) -> Vec<String> {
    let model = &completion["model"];
    let choice = &completion["choices"][0];
    let message = &choice["message"];
    let mut blocks = vec![
        ": keep-alive\n\n".to_owned(),
        sse(&chunk(
            model,
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )),
    ];
    if let Some(text) = message["content"].as_str() {
        for piece in pieces(text, 3) {
            blocks.push(sse(&chunk(model, json!({"content": piece}), Value::Null)));
        }
    }
    for (i, call) in message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let head = json!({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""}}]});
        blocks.push(sse(&chunk(model, head, Value::Null)));
        let args = call["function"]["arguments"].as_str().unwrap_or_default();
        for piece in pieces(args, 5) {
            let delta = json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]});
            blocks.push(sse(&chunk(model, delta, Value::Null)));
        }
    }
    blocks.push(sse(&chunk(
        model,
        json!({}),
        choice["finish_reason"].clone(),
    )));
    if include_usage && completion.get("usage").is_some() {
        blocks.push(sse(&json!({
            "id": "chatcmpl-fake-123",
            "object": "chat.completion.chunk",
            "created": 1_760_000_000u64,
            "model": model,
            "choices": [],
            "usage": completion["usage"]
        })));
    }
    blocks.push("data: [DONE]\n\n".to_owned());
    blocks
}

/// The script of the stream-only models, or `None` for the others.
fn stream_mode(model: &str) -> Option<Vec<Step>> {
    let name = json!(model);
    let m = &name;
    let role = Step::Send(sse(&chunk(m, json!({"role": "assistant"}), Value::Null)));
    let text = |t: &str| Step::Send(sse(&chunk(m, json!({"content": t}), Value::Null)));
    let partial = || vec![text("par"), text("tial"), text(" text")];
    let script = match model {
        "stall-before" => vec![role, Step::Hang],
        "stall-after" => [vec![role], partial(), vec![Step::Hang]].concat(),
        "cut-before" => vec![role],
        "cut-after" => [vec![role], partial()].concat(),
        other => {
            let rest = other.strip_prefix("drip-")?;
            let (ms, n) = rest.split_once('-')?;
            let (ms, n): (u64, usize) = (ms.parse().ok()?, n.parse().ok()?);
            let mut script = vec![role];
            for i in 0..n {
                script.push(Step::Sleep(Duration::from_millis(ms)));
                script.push(text(&format!("w{i} ")));
            }
            script.push(Step::Send(sse(&chunk(m, json!({}), json!("stop")))));
            let mut usage = chunk(m, json!({}), Value::Null);
            usage["choices"] = json!([]);
            usage["usage"] = standard_usage();
            script.push(Step::Send(sse(&usage)));
            script.push(Step::Send("data: [DONE]\n\n".to_owned()));
            script
        }
    };
    Some(script)
}

/// An SSE response that plays `script`; a client that leaves before the end is recorded.
fn stream_response(inner: &Arc<Inner>, script: Vec<Step>) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::convert::Infallible>>(4);
    let inner = inner.clone();
    tokio::spawn(async move {
        let left = |inner: &Inner| {
            inner.disconnects.lock().unwrap().push(Instant::now());
            inner.disconnected.notify_waiters();
        };
        for step in script {
            let gone = match step {
                Step::Send(text) => tx.send(Ok(Bytes::from(text))).await.is_err(),
                Step::Sleep(d) => tokio::select! {
                    _ = tx.closed() => true,
                    _ = tokio::time::sleep(d) => false,
                },
                Step::Hang => {
                    tx.closed().await;
                    true
                }
            };
            if gone {
                left(&inner);
                return;
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")],
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
        .into_response()
}

/// Failure modes for the routing tests, chosen by model name (and `seen`, the number of
/// requests for that model so far, this one included):
/// - `flaky-<status>-<n>`: the first n requests fail with that status, later ones answer;
/// - `retry-after-1`: the first request gets 429 with `Retry-After: 1`;
/// - `retry-after-date`: the first request gets 429 with `Retry-After` as an HTTP date 2 s ahead;
/// - `retry-after-long`: always 429 with `Retry-After: 120`;
/// - `status-400`, `status-401`: always that status;
/// - any model, when the prompt contains `too-long-for=<that model>`: a 400 context-length error.
fn failure_mode(model: &str, seen: usize, prompt: &str) -> Option<Response> {
    let rate_limited = |retry_after: String| {
        let mut r = json_status(
            429,
            json!({"error": {"code": "rate_limit_exceeded", "message": "Too many requests"}}),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, retry_after.parse().unwrap());
        r
    };
    if prompt.contains(&format!("too-long-for={model}")) {
        return Some(json_status(
            400,
            json!({"error": {
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
                "message": "This model's maximum context length is 128000 tokens"
            }}),
        ));
    }
    if let Some(rest) = model.strip_prefix("flaky-") {
        let (status, n) = rest.split_once('-')?;
        let (status, n): (u16, usize) = (status.parse().ok()?, n.parse().ok()?);
        return (seen <= n).then(|| {
            json_status(
                status,
                json!({"error": {"code": "flaky", "message": format!("failure {seen} of {n}")}}),
            )
        });
    }
    match model {
        "retry-after-1" if seen == 1 => Some(rate_limited("1".into())),
        "retry-after-date" if seen == 1 => Some(rate_limited(httpdate::fmt_http_date(
            std::time::SystemTime::now() + Duration::from_secs(2),
        ))),
        "retry-after-long" => Some(rate_limited("120".into())),
        "status-400" => Some(json_status(
            400,
            json!({"error": {"code": "invalid_request_error", "message": "temperature is invalid"}}),
        )),
        "status-401" => Some(json_status(
            401,
            json!({"error": {"code": "invalid_api_key", "message": "Invalid API key"}}),
        )),
        _ => None,
    }
}

/// Ids the fake's `GET /v1/models` lists.
pub const LIVE_MODEL_IDS: &[&str] = &[
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4o-mini",
    "claude-sonnet-4-5-20250929",
    "gemini-2.5-flash",
    "deepseek-v3.2",
    "kimi-k2",
];

async fn list_models(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&inner, &method, &uri, &headers, &body);
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    if inner.models_fail.load(Ordering::SeqCst) {
        return json_status(
            500,
            json!({"error": {"type": "server_error", "code": "internal_error",
                             "message": "models listing is down", "request_id": "req_models"}}),
        );
    }
    let data: Vec<Value> = LIVE_MODEL_IDS
        .iter()
        .map(|id| {
            let owner = match *id {
                i if i.starts_with("gpt") => "openai",
                i if i.starts_with("claude") => "anthropic",
                i if i.starts_with("gemini") => "google",
                i if i.starts_with("deepseek") => "deepseek",
                _ => "moonshot",
            };
            json!({"id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": owner})
        })
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

async fn fallback(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&inner, &method, &uri, &headers, &body);
    json_status(
        404,
        json!({"error": {"code": "not_found", "message": format!("no route for {method} {uri}")}}),
    )
}

/// The balance the fake reports by default (AIsa's documented shape, micro-dollars).
pub static CREDITS: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
    json!({
        "currency": "USD",
        "account_balance_micros_usd": 12_345_678,
        "available_balance_micros_usd": 12_000_000,
        "api_key": {"unlimited": false, "remaining_micros_usd": 4_500_000, "used_micros_usd": 250},
        "as_of": "2026-04-10T12:00:00Z"
    })
});

async fn credits_balance(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&inner, &method, &uri, &headers, &body);
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    let credits = inner.credits.lock().unwrap().clone();
    match credits {
        Some(body) => axum::Json(body).into_response(),
        None => json_status(
            404,
            json!({"error": {"code": "not_found", "message": "no route for GET /v1/credits/balance"}}),
        ),
    }
}

// ---- Fault modes for tests/suite/faults.rs (issue 9) -------------------------------------
//
// | model                   | behaviour                                                    |
// |-------------------------|--------------------------------------------------------------|
// | `fault-429-storm`       | always 429 without `Retry-After`                             |
// | `fault-504`             | always 504 with a JSON error                                 |
// | `fault-malformed-json`  | 200 `application/json`, a truncated JSON body                |
// | `fault-wrong-shape`     | 200 `application/json`, valid JSON that is not a completion  |
// | `fault-html-200`        | 200 `text/html`, an HTML page                                |
// | `fault-empty-200`       | 200 `application/json`, an empty body                        |
// | `fault-error-in-200`    | 200 `application/json`, `{"error": {...}}`                   |
// | `fault-no-choices`      | 200, a completion with `choices: []`                         |
// | `fault-huge`            | 200 `application/json`, a 40 MB body (past the 32 MB cap)    |
// | `fault-huge-sse`        | 200 `text/event-stream`, 40 MB of comment lines              |
// | `fault-text-plain`      | a valid completion (or stream) labelled `text/plain`         |
// | `fault-gzip`            | a gzip'd completion with `Content-Encoding: gzip`            |
// | `fault-redirect-loop`   | 307 to itself                                                |
// | `fault-sse-error`       | a stream whose second chunk is `{"error": {...}}`            |
// | `fault-sse-garbage`     | a stream with non-JSON `data:` lines among valid chunks      |
// | `fault-sse-binary`      | a stream of non-UTF-8 bytes, then a valid answer             |
// | `fault-sse-no-choices`  | a stream of chunks without `choices`, then `[DONE]`          |
// | `fault-sse-only-done`   | a stream that is just `data: [DONE]`                         |

/// A 40 MB body, sent in 1 MB pieces.
fn huge_body(content_type: &'static str, piece: &'static [u8]) -> Response {
    let chunk = Bytes::from(piece.repeat((1024 * 1024) / piece.len()));
    let body = futures::stream::iter(
        (0..40).map(move |_| Ok::<Bytes, std::convert::Infallible>(chunk.clone())),
    );
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(body),
    )
        .into_response()
}

/// A gzip'd `{"model":"fault-gzip", … "content":"zipped" …}` completion.
const GZIPPED_COMPLETION: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x15, 0x8d, 0x41, 0x0e, 0xc2, 0x30,
    0x0c, 0x04, 0xff, 0xb2, 0xe7, 0x80, 0xe0, 0x9a, 0xaf, 0x20, 0x84, 0x42, 0xe2, 0xb6, 0x46, 0x69,
    0x1c, 0xd5, 0x46, 0xaa, 0x88, 0xfa, 0x77, 0xdc, 0xd3, 0xca, 0xda, 0xf1, 0xce, 0x00, 0x17, 0x44,
    0xec, 0x08, 0x90, 0xf7, 0x87, 0xb2, 0xf9, 0x91, 0x97, 0x64, 0xd7, 0x2c, 0x6b, 0xaf, 0x64, 0x2c,
    0xcd, 0xab, 0xbc, 0x51, 0x32, 0x72, 0xf0, 0x1e, 0xb0, 0x4a, 0xa1, 0xea, 0xd4, 0x94, 0xbe, 0xd5,
    0x2e, 0xf3, 0x8f, 0xfb, 0x09, 0x2c, 0xc2, 0x99, 0x14, 0xf1, 0x31, 0xc0, 0xad, 0xd0, 0x8e, 0x78,
    0x73, 0x94, 0x54, 0xd3, 0x4c, 0x88, 0x03, 0x9b, 0x54, 0x4f, 0x24, 0x55, 0x56, 0x4b, 0xcd, 0xce,
    0x1f, 0x69, 0x46, 0xed, 0x14, 0xfa, 0x46, 0xf7, 0xf5, 0x23, 0x60, 0xe2, 0xc6, 0xba, 0xbc, 0x5c,
    0xa7, 0x2e, 0x8e, 0x50, 0x93, 0x8e, 0xe3, 0x79, 0xfc, 0x01, 0x57, 0xf8, 0x8d, 0x95, 0xa7, 0x00,
    0x00, 0x00,
];

fn typed(status: u16, content_type: &'static str, body: impl Into<Body>) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, content_type)],
        body.into(),
    )
        .into_response()
}

/// An SSE response of these raw pieces, ended by the body's end.
fn raw_stream(pieces: Vec<Vec<u8>>) -> Response {
    let body = futures::stream::iter(
        pieces
            .into_iter()
            .map(|p| Ok::<Bytes, std::convert::Infallible>(Bytes::from(p))),
    );
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}

/// The fault modes above, or `None` for other models.
fn fault_mode(model: &str, stream: bool) -> Option<Response> {
    let m = json!(model);
    let text_chunk = |t: &str| sse(&chunk(&m, json!({"content": t}), Value::Null)).into_bytes();
    let finish = || sse(&chunk(&m, json!({}), json!("stop"))).into_bytes();
    let done = || b"data: [DONE]\n\n".to_vec();
    let answer = completion(
        model,
        json!({"role": "assistant", "content": "plain answer"}),
        "stop",
        Some(standard_usage()),
    );
    Some(match model {
        "fault-429-storm" => json_status(
            429,
            json!({"error": {"code": "rate_limit_exceeded", "message": "storm"}}),
        ),
        "fault-504" => json_status(
            504,
            json!({"error": {"code": "gateway_timeout", "message": "the model did not answer"}}),
        ),
        "fault-malformed-json" => typed(200, "application/json", r#"{"id": "x", "choices": [{"#),
        "fault-wrong-shape" => typed(
            200,
            "application/json",
            r#"{"choices": "not a list", "usage": {"prompt_tokens": "many"}}"#,
        ),
        "fault-html-200" => typed(
            200,
            "text/html",
            "<html><body><h1>Welcome to nginx!</h1></body></html>",
        ),
        "fault-empty-200" => typed(200, "application/json", ""),
        "fault-error-in-200" => json_status(
            200,
            json!({"error": {"message": "the model crashed while answering", "code": 500}}),
        ),
        "fault-no-choices" => json_status(200, {
            let mut a = answer;
            a["choices"] = json!([]);
            a
        }),
        "fault-huge" => huge_body("application/json", b"                "),
        "fault-huge-sse" => huge_body("text/event-stream", b": padding padding\n"),
        "fault-text-plain" if stream => typed(
            200,
            "text/plain",
            [text_chunk("plain answer"), finish(), done()].concat(),
        ),
        "fault-text-plain" => typed(200, "text/plain", answer.to_string()),
        "fault-gzip" => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            GZIPPED_COMPLETION,
        )
            .into_response(),
        "fault-redirect-loop" => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "/v1/chat/completions")],
        )
            .into_response(),
        "fault-sse-error" if stream => raw_stream(vec![
            text_chunk("par"),
            sse(&json!({"error": {"message": "overloaded mid-stream", "code": 529}})).into_bytes(),
        ]),
        "fault-sse-garbage" if stream => raw_stream(vec![
            b"data: {not json\n\n".to_vec(),
            text_chunk("plain "),
            b"event: weird\ndata: [1,2,\n\n".to_vec(),
            text_chunk("answer"),
            finish(),
            done(),
        ]),
        "fault-sse-binary" if stream => raw_stream(vec![
            vec![0xff, 0xfe, 0x00, 0x80, b'\n', b'\n'],
            b"data: \xc3\x28\n\n".to_vec(),
            text_chunk("plain answer"),
            finish(),
            done(),
        ]),
        "fault-sse-no-choices" if stream => raw_stream(vec![
            sse(&json!({"id": "x", "object": "chat.completion.chunk"})).into_bytes(),
            done(),
        ]),
        "fault-sse-only-done" if stream => raw_stream(vec![done()]),
        _ => return None,
    })
}

// ---- Upstreams that repeat the caller's key (the secrets tests) ---------------------------
//
// | model                  | behaviour (`<auth>` is the request's `Authorization` value)   |
// |------------------------|----------------------------------------------------------------|
// | `echo-key-401`         | 401 JSON, `"message": "key <auth> was rejected"`               |
// | `echo-key-500`         | 500 `text/plain`, `crashed handling Authorization: <auth>`     |
// | `echo-key-bad-json`    | 200 `application/json`, an unreadable body holding `<auth>`    |
// | `echo-key-html`        | 200 `text/html`, a page holding `<auth>`                       |
// | `echo-key-stream`      | streamed: a chunk, a garbage line holding `<auth>`, then an    |
// |                        | error event holding it; not streamed: a 200 with that `error`  |
// | `echo-key-garbage`     | streamed: `garbled but whole`, a garbage line holding `<auth>` |
// |                        | among the chunks, `[DONE]`; not streamed: that answer alone    |

/// The modes above, or `None` for other models.
fn echo_key_mode(model: &str, stream: bool, headers: &HeaderMap) -> Option<Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let m = json!(model);
    let error = json!({"error": {"message": format!("upstream failed for {auth}"), "code": 500}});
    Some(match model {
        "echo-key-401" => json_status(
            401,
            json!({"error": {"code": "invalid_api_key",
                             "message": format!("key {auth} was rejected")}}),
        ),
        "echo-key-500" => typed(
            500,
            "text/plain",
            format!("crashed handling Authorization: {auth}"),
        ),
        "echo-key-bad-json" => typed(
            200,
            "application/json",
            format!(r#"{{"id": "x", "auth": "{auth}", "choices": [{{"#),
        ),
        "echo-key-html" => typed(
            200,
            "text/html",
            format!("<html><body><h1>Hello</h1><p>{auth}</p></body></html>"),
        ),
        "echo-key-stream" if stream => raw_stream(vec![
            sse(&chunk(&m, json!({"content": "par"}), Value::Null)).into_bytes(),
            format!("data: {{not json {auth}\n\n").into_bytes(),
            sse(&error).into_bytes(),
        ]),
        "echo-key-stream" => json_status(200, error),
        "echo-key-garbage" if stream => raw_stream(vec![
            sse(&chunk(&m, json!({"content": "garbled "}), Value::Null)).into_bytes(),
            format!("data: {{\"not a chunk\": \"{auth}\"\n\n").into_bytes(),
            sse(&chunk(&m, json!({"content": "but whole"}), Value::Null)).into_bytes(),
            sse(&chunk(&m, json!({}), json!("stop"))).into_bytes(),
            b"data: [DONE]\n\n".to_vec(),
        ]),
        "echo-key-garbage" => json_status(
            200,
            completion(
                model,
                json!({"role": "assistant", "content": "garbled but whole"}),
                "stop",
                Some(standard_usage()),
            ),
        ),
        _ => return None,
    })
}
