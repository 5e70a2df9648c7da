//! A `[[providers]]` entry of style `gemini`, end to end: the real binary, configured by a
//! config file, talks to a fake Gemini-native upstream (Google's routes and shapes:
//! `models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, the `x-goog-api-key`
//! header, `{"error":{"code","message","status"}}` bodies).
//!
//! The server is driven over stdio by the raw JSON-RPC client ([`crate::raw`]), so each call
//! decides whether it carries a progress token (with one, the answer is streamed from upstream).

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use crate::raw::Raw;
use crate::util::{KEY, TINY_PNG, assert_close, assert_mentions, closed_port};

/// The provider's key. Recognisable so a leak is easy to spot.
const GKEY: &str = "AIza-test-GEMINI-SECRET-4242";

/// One request the fake saw.
#[derive(Debug, Clone)]
struct Seen {
    /// Path and query.
    uri: String,
    goog_key: Option<String>,
    authorization: Option<String>,
    body: Value,
}

/// A fake Gemini-native upstream at `http://127.0.0.1:PORT/v1beta`.
struct FakeGemini {
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGemini {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGemini {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1beta/models", get(models))
            .route("/v1beta/models/{call}", post(generate))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGemini {
            base_url: format!("http://{addr}/v1beta"),
            seen,
            task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The only generate request so far.
    fn only(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "{seen:#?}");
        seen[0].clone()
    }
}

fn google_error(status: StatusCode, canonical: &str, message: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": canonical}});
    (status, axum::Json(body)).into_response()
}

/// The refusal of a request without the right key, as Google answers it (400). The key is
/// taken in `x-goog-api-key` (Google) or as a Bearer token (the AIsa gateway's native route).
fn refusal(headers: &HeaderMap) -> Option<Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    match header("x-goog-api-key").or(bearer) {
        Some(k) if k == GKEY => None,
        _ => Some(google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        )),
    }
}

async fn models(headers: HeaderMap) -> Response {
    if let Some(r) = refusal(&headers) {
        return r;
    }
    axum::Json(json!({"models": [
        {"name": "models/gemini-test", "supportedGenerationMethods": ["generateContent", "countTokens"]},
        {"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]}
    ]}))
    .into_response()
}

async fn generate(
    State(seen): State<Arc<Mutex<Vec<Seen>>>>,
    UrlPath(call): UrlPath<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push(Seen {
        uri: uri.to_string(),
        goog_key: text("x-goog-api-key"),
        authorization: text("authorization"),
        body: body.clone(),
    });
    if let Some(r) = refusal(&headers) {
        return r;
    }
    let Some((model, method)) = call.split_once(':') else {
        return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no method in the path");
    };
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" if uri.query() == Some("alt=sse") => true,
        _ => return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown method"),
    };
    match model {
        "gemini-busy" => {
            return google_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
            );
        }
        // An error that quotes the key back (some upstreams do): it must be scrubbed.
        "gemini-leaky" => {
            let message = format!("Request for key {GKEY} contains an invalid argument.");
            return google_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", &message);
        }
        _ => {}
    }
    let parts = reply(&body);
    let usage = json!({"promptTokenCount": 1000, "candidatesTokenCount": 1500,
                       "thoughtsTokenCount": 500, "totalTokenCount": 3000});
    let version = format!("{model}-001");
    if !stream {
        let mut all = vec![json!({"text": "Thinking about it.", "thought": true})];
        all.extend(parts);
        return axum::Json(json!({
            "candidates": [{"content": {"role": "model", "parts": all}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage,
            "modelVersion": version,
        }))
        .into_response();
    }
    // The stream: a thought, the text in 4-character pieces, each other part on its own,
    // then an event with the finishReason and the usage.
    let event = |parts: Value, extra: Value| {
        let mut r = json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
                           "modelVersion": version});
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                if k == "finishReason" {
                    r["candidates"][0][k] = v;
                } else {
                    r[k] = v;
                }
            }
        }
        format!("data: {r}\r\n\r\n")
    };
    let mut sse = event(json!([{"text": "Thinking.", "thought": true}]), json!({}));
    for part in parts {
        match part["text"].as_str() {
            Some(t) => {
                let chars: Vec<char> = t.chars().collect();
                for piece in chars.chunks(4) {
                    let piece: String = piece.iter().collect();
                    sse.push_str(&event(json!([{"text": piece}]), json!({})));
                }
            }
            None => sse.push_str(&event(json!([part]), json!({}))),
        }
    }
    sse.push_str(&event(
        json!([{"text": ""}]),
        json!({"finishReason": "STOP", "usageMetadata": usage}),
    ));
    ([(header::CONTENT_TYPE, "text/event-stream")], sse).into_response()
}

/// The answer's parts, from the request: a function result is reported, declared tools get
/// a `get_weather` call, an inline image is described, text is echoed.
fn reply(body: &Value) -> Vec<Value> {
    let last = body["contents"]
        .as_array()
        .and_then(|c| c.last())
        .cloned()
        .unwrap_or_default();
    let parts = last["parts"].as_array().cloned().unwrap_or_default();
    if let Some(r) = parts.iter().find_map(|p| p.get("functionResponse")) {
        return vec![
            json!({"text": format!("{} said {}", r["name"].as_str().unwrap_or("?"), r["response"])}),
        ];
    }
    if body.get("tools").is_some() {
        return vec![json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}})];
    }
    if let Some(img) = parts.iter().find_map(|p| p.get("inline_data")) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(img["data"].as_str().unwrap_or_default())
            .map(|b| b.len())
            .unwrap_or(0);
        let mime = img["mime_type"].as_str().unwrap_or("?");
        return vec![json!({"text": format!("I see a {mime} of {bytes} bytes")})];
    }
    let said: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
    vec![json!({"text": format!("Gemini heard: {said}")})]
}

fn config(dir: &Path, fake: &FakeGemini) -> String {
    let text = format!(
        r#"
[retry]
attempts = 1

[[providers]]
name = "gem"
base_url = "{}"
style = "gemini"
api_key_env = "GEMINI_TEST_KEY"
models = ["gemini-busy", "gemini-leaky"]

[[models]]
id = "gemini-test"
family = "google"
vision = true
tools = true
input_price = "0.30"
output_price = "2.50"
provider = "gem"
"#,
        fake.base_url
    );
    let path = dir.join("llm-router.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// `llm-router serve` with the gemini provider at `fake`, its key variable set to `key`.
async fn start(fake: &FakeGemini, key: &str) -> Raw {
    let home = tempfile::tempdir().unwrap();
    let config = config(home.path(), fake);
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-router"));
    cmd.arg("serve").env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("RUST_LOG", "debug")
        // The gateway is nowhere: every call here must go to the gemini provider.
        .env(
            "AISA_BASE_URL",
            format!("http://127.0.0.1:{}/v1", closed_port()),
        )
        .env("AISA_API_KEY", KEY)
        .env("GEMINI_TEST_KEY", key)
        .env("LLM_ROUTER_CONFIG", &config);
    Raw::start(cmd, home).await
}

/// Ends the server and checks the key never appeared in any result or in its log.
async fn finish(raw: Raw) {
    for r in raw.results() {
        assert!(
            !r.to_string().contains(GKEY),
            "the provider key is in a result: {r:#}"
        );
    }
    let log = raw.finish().await;
    assert!(
        !log.contains(GKEY),
        "the provider key is in the log:\n{log}"
    );
}

#[tokio::test]
async fn chat_round_trips_through_a_gemini_provider_with_its_cost() {
    let fake = FakeGemini::start().await;
    let mut raw = start(&fake, GKEY).await;
    let x = raw
        .call(
            "chat",
            json!({"model": "gemini-test", "prompt": "hello there", "system": "Be kind.", "temperature": 0.3}),
            None,
        )
        .await;
    let v = x.structured().clone();
    assert_eq!(v["content"], "Gemini heard: hello there", "{v:#}");
    assert_eq!(v["provider"], "gem", "{v:#}");
    assert_eq!(v["finish_reason"], "stop", "{v:#}");
    // Thinking tokens (500) count as output: 1500 + 500.
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 1000, "completion_tokens": 2000, "total_tokens": 3000}),
        "{v:#}"
    );
    assert_eq!(v["cost_source"], "catalog", "{v:#}");
    assert_close(&v["cost_usd"], 1000.0 * 0.30 / 1e6 + 2000.0 * 2.50 / 1e6);
    assert!(x.progress.is_empty(), "no token, no progress");

    let seen = fake.only();
    assert_eq!(seen.uri, "/v1beta/models/gemini-test:generateContent");
    assert_eq!(seen.goog_key.as_deref(), Some(GKEY));
    assert_eq!(
        seen.authorization, None,
        "Google's API takes the key in x-goog-api-key"
    );
    assert_eq!(
        seen.body["systemInstruction"],
        json!({"parts": [{"text": "Be kind."}]})
    );
    assert_eq!(
        seen.body["contents"],
        json!([{"role": "user", "parts": [{"text": "hello there"}]}])
    );
    assert_eq!(seen.body["generationConfig"]["temperature"], 0.3);
    finish(raw).await;
}

#[tokio::test]
async fn a_gemini_answer_streams_as_progress() {
    let fake = FakeGemini::start().await;
    let mut raw = start(&fake, GKEY).await;
    let x = raw
        .call(
            "chat",
            json!({"model": "gem/gemini-test", "prompt": "stream me a reply"}),
            Some("g-1"),
        )
        .await;
    let v = x.structured().clone();
    assert_eq!(v["content"], "Gemini heard: stream me a reply", "{v:#}");
    assert_eq!(v["provider"], "gem", "{v:#}");
    assert!(!x.progress.is_empty(), "a streamed call reports progress");
    assert_eq!(x.streamed_text(), "Gemini heard: stream me a reply");
    assert!(v["time_to_first_token_ms"].is_u64(), "{v:#}");
    assert_eq!(v["usage"]["completion_tokens"], 2000, "{v:#}");
    assert_eq!(v["cost_source"], "catalog", "{v:#}");
    assert_eq!(
        fake.only().uri,
        "/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
    );
    finish(raw).await;
}

#[tokio::test]
async fn vision_sends_an_image_inline_to_gemini() {
    let fake = FakeGemini::start().await;
    let mut raw = start(&fake, GKEY).await;
    let uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(TINY_PNG)
    );
    let x = raw
        .call(
            "vision",
            json!({"model": "gemini-test", "prompt": "What is it?", "images": [uri]}),
            None,
        )
        .await;
    let v = x.structured().clone();
    assert_eq!(
        v["content"],
        format!("I see a image/png of {} bytes", TINY_PNG.len()),
        "{v:#}"
    );
    assert_eq!(v["provider"], "gem");
    let parts = fake.only().body["contents"][0]["parts"].clone();
    assert_eq!(parts[0], json!({"text": "What is it?"}));
    assert_eq!(parts[1]["inline_data"]["mime_type"], "image/png");
    finish(raw).await;
}

#[tokio::test]
async fn a_tool_call_round_trips_through_gemini() {
    let fake = FakeGemini::start().await;
    let mut raw = start(&fake, GKEY).await;
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }}]);
    let first = raw
        .call(
            "chat",
            json!({"model": "gemini-test", "prompt": "Weather in Paris?", "tools": tools, "tool_choice": "auto"}),
            None,
        )
        .await;
    let v = first.structured().clone();
    assert_eq!(v["finish_reason"], "tool_calls", "{v:#}");
    let calls = v["tool_calls"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        calls,
        vec![json!({"id": "call_0", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}})],
        "{v:#}"
    );
    let sent = fake.only().body;
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );

    // The agent runs the tool and sends the result back (streamed, this time).
    let second = raw
        .call(
            "chat",
            json!({"model": "gemini-test", "tools": tools, "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "tool_calls": calls},
                {"role": "tool", "tool_call_id": "call_0", "content": "{\"temp_c\": 21}"}
            ]}),
            Some("g-2"),
        )
        .await;
    let v = second.structured().clone();
    assert_eq!(v["content"], "get_weather said {\"temp_c\":21}", "{v:#}");
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}]}
        ])
    );
    finish(raw).await;
}

#[tokio::test]
async fn gemini_errors_are_clear_and_never_carry_the_key() {
    let fake = FakeGemini::start().await;
    let mut raw = start(&fake, GKEY).await;
    let busy = raw
        .call(
            "chat",
            json!({"model": "gemini-busy", "prompt": "hi"}),
            None,
        )
        .await
        .error_text();
    assert_mentions(
        &busy,
        &["Resource has been exhausted", "RESOURCE_EXHAUSTED"],
    );
    let leaky = raw
        .call(
            "chat",
            json!({"model": "gemini-leaky", "prompt": "hi"}),
            Some("g-3"),
        )
        .await
        .error_text();
    assert_mentions(
        &leaky,
        &[
            "contains an invalid argument",
            "INVALID_ARGUMENT",
            "[redacted]",
        ],
    );
    finish(raw).await;

    // A wrong key: Google's own refusal, in its words.
    let mut raw = start(&fake, "AIza-wrong-key").await;
    let wrong = raw
        .call(
            "chat",
            json!({"model": "gemini-test", "prompt": "hi"}),
            None,
        )
        .await
        .error_text();
    assert_mentions(&wrong, &["API key not valid"]);
    assert!(!wrong.contains("AIza-wrong-key"), "{wrong}");
    finish(raw).await;
}

#[tokio::test]
async fn a_route_chain_falls_back_from_a_failing_openai_provider_to_a_gemini_one() {
    let fake = FakeGemini::start().await;
    let local = crate::fake_upstream::FakeUpstream::start_expecting_key("local-key-77").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = format!(
        r#"
[retry]
attempts = 1

[[providers]]
name = "local"
base_url = "{}"
api_key_env = "LOCAL_TEST_KEY"
models = ["status-*"]

[[providers]]
name = "gem"
base_url = "{}"
style = "gemini"
api_key_env = "GEMINI_TEST_KEY"

[[models]]
id = "gemini-test"
family = "google"
input_price = "0.30"
output_price = "2.50"
provider = "gem"

[routes]
code = ["status-503", "gemini-test"]
"#,
        local.base_url(),
        fake.base_url
    );
    std::fs::write(&path, text).unwrap();
    let server = crate::util::ServerBuilder::new()
        .env(
            "AISA_BASE_URL",
            format!("http://127.0.0.1:{}/v1", closed_port()),
        )
        .env("LLM_ROUTER_CONFIG", path.display().to_string())
        .env("LOCAL_TEST_KEY", "local-key-77")
        .env("GEMINI_TEST_KEY", GKEY)
        .start()
        .await;
    let r = server
        .call(
            "route_by_task",
            json!({"task": "code", "prompt": "sort a list"}),
        )
        .await;
    let v = crate::util::expect_ok(&r);
    assert_eq!(v["provider"], "gem", "{v:#}");
    assert_eq!(v["content"], "Gemini heard: sort a list", "{v:#}");
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["model"], "status-503", "{v:#}");
    assert_eq!(attempts[0]["status"], 503, "{v:#}");
    assert_eq!(attempts.last().unwrap()["model"], "gemini-test", "{v:#}");
    assert_eq!(attempts.last().unwrap()["outcome"], "ok", "{v:#}");
    assert_eq!(local.chat_requests().len(), 1);
    assert_eq!(fake.seen().len(), 1);
    let log = server.shutdown().await;
    assert!(
        !log.contains(GKEY) && !log.contains("local-key-77"),
        "a key was logged"
    );
}

#[tokio::test]
async fn chat_api_gemini_takes_the_gateways_native_route() {
    // The fake stands in for the gateway: its Gemini route takes the gateway key as Bearer.
    let fake = FakeGemini::start().await;
    let server = crate::util::ServerBuilder::new()
        .env("AISA_BASE_URL", fake.base_url.clone())
        .env("AISA_API_KEY", GKEY)
        .start()
        .await;
    let r = server
        .call(
            "chat",
            json!({"model": "gemini-2.5-flash", "api": "gemini", "prompt": "hi"}),
        )
        .await;
    let v = crate::util::expect_ok(&r);
    assert_eq!(v["provider"], "aisa", "{v:#}");
    assert_eq!(v["content"], "Gemini heard: hi", "{v:#}");
    assert_eq!(v["cost_source"], "catalog", "{v:#}");
    let seen = fake.only();
    assert!(
        seen.uri
            .starts_with("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
            || seen.uri == "/v1beta/models/gemini-2.5-flash:generateContent",
        "{}",
        seen.uri
    );
    assert_eq!(
        seen.authorization.as_deref(),
        Some(&*format!("Bearer {GKEY}"))
    );
    assert_eq!(seen.goog_key, None, "the gateway takes its key as Bearer");
    server.shutdown().await;
}
