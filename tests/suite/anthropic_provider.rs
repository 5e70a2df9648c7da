//! A `[[providers]]` entry of style `anthropic`: the real server, configured with a provider
//! that speaks Anthropic's Messages API, against a fake of that API.
//!
//! The fake (axum on 127.0.0.1:0) serves `POST /v1/messages` and `GET /v1/models`, checks the
//! `x-api-key` and `anthropic-version` headers (refusing with the API's own error body),
//! records every request, and answers from what it was sent: `echo: <last user text>` (plus
//! a note per image block it saw), a call of the first tool when tools are offered and the
//! last turn holds no tool result, and the API's error bodies for `status-400`/`status-429`.
//! Asked to stream, it sends the same answer as Messages events. The server is driven over
//! stdio by the raw JSON-RPC client ([`crate::raw`]), so a call streams (with
//! `_meta.progressToken`) or not.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use crate::fake_upstream::FakeUpstream;
use crate::raw::Raw;
use crate::util::{AISA_PRICES, TINY_PNG, assert_close, assert_mentions};

/// The provider's key: not the gateway's, and recognisable in a leak.
const ANTH_KEY: &str = "sk-ant-test-SECRET-9876543210";
/// The catalog model the config assigns to the provider.
const MODEL: &str = "claude-sonnet-4-5-20250929";
const PROVIDER: &str = "claude-direct";

// ---------------------------------------------------------------- the fake Messages API

#[derive(Default)]
struct Seen {
    /// (path, headers, body) of every request.
    requests: Vec<(String, HeaderMap, Value)>,
}

struct FakeAnthropic {
    base_url: String,
    seen: Arc<Mutex<Seen>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeAnthropic {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .route("/v1/models", get(models))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeAnthropic {
            base_url: format!("http://{addr}/v1"),
            seen,
            _task: task,
        }
    }

    fn bodies(&self) -> Vec<Value> {
        let seen = self.seen.lock().unwrap();
        seen.requests.iter().map(|(_, _, b)| b.clone()).collect()
    }

    fn last_body(&self) -> Value {
        self.bodies().pop().expect("the fake saw no request")
    }
}

fn error_body(status: u16, kind: &str, message: &str) -> Response {
    let body = json!({"type": "error", "error": {"type": kind, "message": message},
                      "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// The API's refusal unless the key and version headers are right.
fn check_headers(headers: &HeaderMap) -> Option<Response> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if key != Some(ANTH_KEY) {
        return Some(error_body(401, "authentication_error", "invalid x-api-key"));
    }
    if headers.get("authorization").is_some() {
        return Some(error_body(
            400,
            "invalid_request_error",
            "unexpected Authorization header",
        ));
    }
    let version = headers
        .get("anthropic-version")
        .and_then(|v| v.to_str().ok());
    if version != Some("2023-06-01") {
        return Some(error_body(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ));
    }
    None
}

async fn models(State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap) -> Response {
    seen.lock()
        .unwrap()
        .requests
        .push(("/v1/models".into(), headers.clone(), Value::Null));
    if let Some(refusal) = check_headers(&headers) {
        return refusal;
    }
    axum::Json(json!({"data": [
        {"type": "model", "id": MODEL, "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}
    ], "has_more": false}))
    .into_response()
}

async fn messages(
    State(seen): State<Arc<Mutex<Seen>>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    seen.lock()
        .unwrap()
        .requests
        .push(("/v1/messages".into(), headers.clone(), body.clone()));
    if let Some(refusal) = check_headers(&headers) {
        return refusal;
    }
    if body["max_tokens"].as_u64().is_none() {
        return error_body(400, "invalid_request_error", "max_tokens: Field required");
    }
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    match model.as_str() {
        "status-400" => {
            return error_body(
                400,
                "invalid_request_error",
                "prompt is too long: 250000 tokens > 200000 maximum",
            );
        }
        "status-429" => {
            return error_body(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            );
        }
        _ => {}
    }
    let (content, stop_reason) = answer(&body);
    let message = json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
        "model": model, "content": content, "stop_reason": stop_reason, "stop_sequence": null,
        "usage": {"input_tokens": 1000, "output_tokens": 2000}
    });
    if body["stream"] == true {
        let events = stream_events(&message);
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Body::from(events))
            .unwrap();
    }
    axum::Json(message).into_response()
}

/// The content blocks and stop reason the fake answers `body` with.
fn answer(body: &Value) -> (Value, &'static str) {
    let turns = body["messages"].as_array().cloned().unwrap_or_default();
    let last = turns.last().cloned().unwrap_or(Value::Null);
    let blocks = last["content"].as_array().cloned().unwrap_or_default();
    if let Some(result) = blocks.iter().find(|b| b["type"] == "tool_result") {
        // The result must answer a tool_use of the assistant turn before it.
        let id = &result["tool_use_id"];
        let asked = turns.iter().rev().nth(1).is_some_and(|t| {
            t["role"] == "assistant"
                && t["content"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_use" && &b["id"] == id))
        });
        let text = if asked {
            format!(
                "It is {} in Paris.",
                result["content"].as_str().unwrap_or("?")
            )
        } else {
            format!("tool_result {id} answers no tool_use")
        };
        return (json!([{"type": "text", "text": text}]), "end_turn");
    }
    if body["tools"].is_array() {
        let tool = &body["tools"][0]["name"];
        return (
            json!([
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": tool,
                 "input": {"city": "Paris"}}
            ]),
            "tool_use",
        );
    }
    let mut text = String::from("echo:");
    for b in &blocks {
        match b["type"].as_str() {
            Some("text") => text = format!("echo: {}", b["text"].as_str().unwrap_or_default()),
            Some("image") => {
                let s = &b["source"];
                let what = match s["type"].as_str() {
                    Some("base64") => format!(
                        "base64 {} of {} bytes",
                        s["media_type"].as_str().unwrap_or("?"),
                        base64::engine::general_purpose::STANDARD
                            .decode(s["data"].as_str().unwrap_or_default())
                            .map_or(0, |d| d.len())
                    ),
                    _ => format!("url {}", s["url"].as_str().unwrap_or("?")),
                };
                text.push_str(&format!(" [image: {what}]"));
            }
            _ => {}
        }
    }
    (json!([{"type": "text", "text": text}]), "end_turn")
}

/// `message` as a Messages event stream (text in 4-character pieces, tool input in two).
fn stream_events(message: &Value) -> String {
    let mut out = String::new();
    let mut event = |data: Value| {
        out.push_str(&format!(
            "event: {}\ndata: {data}\n\n",
            data["type"].as_str().unwrap()
        ));
    };
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"] = json!({"input_tokens": 1000, "output_tokens": 1});
    event(json!({"type": "message_start", "message": start}));
    event(json!({"type": "ping"}));
    for (i, block) in message["content"].as_array().unwrap().iter().enumerate() {
        if block["type"] == "text" {
            event(json!({"type": "content_block_start", "index": i,
                         "content_block": {"type": "text", "text": ""}}));
            let chars: Vec<char> = block["text"].as_str().unwrap().chars().collect();
            for piece in chars.chunks(4) {
                let piece: String = piece.iter().collect();
                event(json!({"type": "content_block_delta", "index": i,
                             "delta": {"type": "text_delta", "text": piece}}));
            }
        } else {
            event(
                json!({"type": "content_block_start", "index": i, "content_block":
                {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}),
            );
            let input = block["input"].to_string();
            let (a, b) = input.split_at(input.len() / 2);
            for piece in [a, b] {
                event(json!({"type": "content_block_delta", "index": i,
                             "delta": {"type": "input_json_delta", "partial_json": piece}}));
            }
        }
        event(json!({"type": "content_block_stop", "index": i}));
    }
    event(json!({"type": "message_delta",
                 "delta": {"stop_reason": message["stop_reason"], "stop_sequence": null},
                 "usage": {"output_tokens": 2000}}));
    event(json!({"type": "message_stop"}));
    out
}

// ---------------------------------------------------------------- the server

/// `llm-router serve` with a config that declares the anthropic provider at `fake`; the
/// gateway is `gateway` (which must see no chat request).
async fn start(gateway: &FakeUpstream, fake: &FakeAnthropic) -> Raw {
    start_with_key(gateway, fake, ANTH_KEY).await
}

/// As [`start`], the provider's key variable set to `key`.
async fn start_with_key(gateway: &FakeUpstream, fake: &FakeAnthropic, key: &str) -> Raw {
    let envs = [("ANTHROPIC_TEST_KEY", key), ("RUST_LOG", "debug")];
    let (mut cmd, home) = crate::http::serve_command(gateway, &[], &envs);
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[providers]]
name = "{PROVIDER}"
base_url = "{}"
style = "anthropic"
api_key_env = "ANTHROPIC_TEST_KEY"
models = ["status-*"]

[[models]]
id = "{MODEL}"
provider = "{PROVIDER}"
"#,
            fake.base_url
        ),
    )
    .unwrap();
    cmd.env("LLM_ROUTER_CONFIG", &config);
    Raw::start(cmd, home).await
}

fn catalog_cost() -> f64 {
    let (_, input, output) = AISA_PRICES.iter().find(|(m, _, _)| *m == MODEL).unwrap();
    1000.0 * input / 1e6 + 2000.0 * output / 1e6
}

/// Checks the answer's accounting: the provider, tokens and the catalog price.
fn assert_served_by_the_provider(v: &Value) {
    assert_eq!(v["provider"], PROVIDER, "{v:#}");
    assert_eq!(v["model"], MODEL, "{v:#}");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 1000, "completion_tokens": 2000, "total_tokens": 3000}),
        "{v:#}"
    );
    assert_eq!(v["cost_source"], "catalog", "{v:#}");
    assert_close(&v["cost_usd"], catalog_cost());
}

async fn setup() -> (FakeUpstream, FakeAnthropic, Raw) {
    let gateway = FakeUpstream::start().await;
    let fake = FakeAnthropic::start().await;
    let raw = start(&gateway, &fake).await;
    (gateway, fake, raw)
}

// ---------------------------------------------------------------- the tests

#[tokio::test]
async fn chat_round_trips_through_the_anthropic_provider_whole_and_streamed() {
    let (gateway, fake, mut raw) = setup().await;

    // Whole (no progress token).
    let x = raw
        .call(
            "chat",
            json!({"model": MODEL, "prompt": "Bonjour, 世界", "system": "Be brief.",
                   "temperature": 0.2, "stop": ["END"]}),
            None,
        )
        .await;
    let v = x.structured();
    assert_eq!(v["content"], "echo: Bonjour, 世界", "{v:#}");
    assert_eq!(v["finish_reason"], "stop", "{v:#}");
    assert_served_by_the_provider(v);
    assert!(x.progress.is_empty());
    let body = fake.last_body();
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(
        body["max_tokens"], 4096,
        "the API requires max_tokens: {body:#}"
    );
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert!(body.get("stream").is_none(), "{body:#}");
    assert!(body.get("stop").is_none(), "{body:#}");

    // Streamed: the text arrives as progress, the result is the same answer.
    let x = raw
        .call(
            "chat",
            json!({"model": MODEL, "prompt": "stream this, please", "max_tokens": 300}),
            Some("tok-a"),
        )
        .await;
    let v = x.structured();
    assert_eq!(v["content"], "echo: stream this, please", "{v:#}");
    assert_eq!(x.streamed_text(), "echo: stream this, please");
    assert!(
        x.progress
            .iter()
            .all(|(_, p)| p["progressToken"] == "tok-a"),
        "{:#?}",
        x.progress
    );
    assert!(v["time_to_first_token_ms"].is_u64(), "{v:#}");
    assert_served_by_the_provider(v);
    let body = fake.last_body();
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 300);

    assert!(gateway.chat_requests().is_empty(), "the gateway was asked");
    let seen = fake.seen.lock().unwrap();
    for (path, headers, _) in &seen.requests {
        assert_eq!(path, "/v1/messages");
        assert_eq!(headers["x-api-key"], ANTH_KEY);
        assert_eq!(headers["anthropic-version"], "2023-06-01");
    }
}

#[tokio::test]
async fn vision_sends_inline_and_url_images_as_image_blocks() {
    let (_gateway, fake, mut raw) = setup().await;
    let data = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(TINY_PNG)
    );
    let url = "https://example.com/cat.jpg";
    let x = raw
        .call(
            "vision",
            json!({"model": MODEL, "prompt": "what is it?", "images": [data, url]}),
            Some("v"),
        )
        .await;
    let v = x.structured();
    assert_eq!(
        v["content"],
        format!(
            "echo: what is it? [image: base64 image/png of {} bytes] [image: url {url}]",
            TINY_PNG.len()
        ),
        "{v:#}"
    );
    assert_served_by_the_provider(v);
    let content = &fake.last_body()["messages"][0]["content"];
    assert_eq!(content[1]["source"]["type"], "base64", "{content:#}");
    assert_eq!(content[2]["source"], json!({"type": "url", "url": url}));
}

#[tokio::test]
async fn a_tool_call_round_trips() {
    let (_gateway, fake, mut raw) = setup().await;
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    for token in [None, Some("t")] {
        let x = raw
            .call(
                "chat",
                json!({"model": MODEL, "prompt": format!("weather in Paris? {token:?}"),
                       "tools": tools, "tool_choice": "required"}),
                token,
            )
            .await;
        let v = x.structured();
        assert_eq!(v["finish_reason"], "tool_calls", "{v:#}");
        assert_eq!(
            v["tool_calls"],
            json!([{"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]),
            "{v:#}"
        );
        let body = fake.last_body();
        assert_eq!(body["tool_choice"], json!({"type": "any"}));
        assert_eq!(
            body["tools"][0]["input_schema"]["properties"]["city"]["type"],
            "string"
        );
    }

    // The caller runs the tool and sends its result back.
    let x = raw
        .call(
            "chat",
            json!({"model": MODEL, "tools": tools, "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": "Let me look.", "tool_calls": [
                    {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "18°C"}
            ]}),
            Some("t2"),
        )
        .await;
    let v = x.structured();
    assert_eq!(v["content"], "It is 18°C in Paris.", "{v:#}");
    assert_eq!(v["finish_reason"], "stop");
    let body = fake.last_body();
    assert_eq!(
        body["messages"][1]["content"][1]["input"],
        json!({"city": "Paris"})
    );
    assert_eq!(body["messages"][2]["role"], "user");
}

#[tokio::test]
async fn upstream_errors_name_the_upstream_message_and_the_key_never_shows() {
    let (_gateway, _fake, mut raw) = setup().await;
    let x = raw
        .call("chat", json!({"model": "status-400", "prompt": "x"}), None)
        .await;
    let e = x.error_text();
    assert_mentions(&e, &["prompt is too long", "invalid_request_error"]);

    let x = raw
        .call(
            "chat",
            json!({"model": "status-429", "prompt": "y"}),
            Some("r"),
        )
        .await;
    let e = x.error_text();
    assert_mentions(&e, &["per-minute rate limit", "rate_limit_error"]);

    let log = raw.log();
    assert!(log.contains("status-429"), "the log saw the calls: {log}");
    for t in [e, log] {
        assert!(!t.contains(ANTH_KEY), "the key leaked: {t}");
    }
}

#[tokio::test]
async fn a_wrong_key_is_refused_with_the_providers_message_and_never_shown() {
    let gateway = FakeUpstream::start().await;
    let fake = FakeAnthropic::start().await;
    let wrong = "sk-ant-WRONG-key-000111";
    let mut raw = start_with_key(&gateway, &fake, wrong).await;
    let x = raw
        .call("chat", json!({"model": MODEL, "prompt": "z"}), None)
        .await;
    let e = x.error_text();
    assert_mentions(&e, &["invalid x-api-key", PROVIDER, "ANTHROPIC_TEST_KEY"]);
    let sent = fake.seen.lock().unwrap().requests[0].1.clone();
    assert_eq!(sent["x-api-key"], wrong, "the key went in x-api-key");
    for t in [x.result.to_string(), raw.log()] {
        assert!(!t.contains(wrong), "the key leaked: {t}");
    }
}
