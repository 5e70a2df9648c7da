//! Running the HTTP server in production: readiness, Prometheus metrics, the session limit,
//! idle session expiry, many sessions at once, and stateless (2026-07-28) requests.

use std::time::Duration;

use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use crate::fake_upstream::FakeUpstream;
use crate::http::{HttpServer, SseReader, TOKEN, chat, http, mcp_client, raw_initialize};
use crate::util::{KEY, TOOL_NAMES, closed_port};

/// A config file in a temp dir; keep the dir alive while the server runs.
fn config(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

/// Polls `check` every 100 ms until it holds or `within` passes.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn readyz_reports_the_catalog_and_on_request_the_upstream() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[("LLM_ROUTER_AUTH_TOKEN", TOKEN)]).await;

    // No token needed for the probe; no upstream call unless asked.
    let resp = http().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "ready");
    assert!(v["catalog_models"].as_u64().unwrap() >= 20, "{v}");
    assert!(fake.requests().is_empty());

    let resp = http()
        .get(server.url("/readyz?check=upstream"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["upstream"].as_str().unwrap().starts_with("reachable"),
        "{v}"
    );
    assert_eq!(fake.models_requests().len(), 1);
}

#[tokio::test]
async fn readyz_is_503_when_the_upstream_is_down() {
    let fake = FakeUpstream::start().await;
    let dead = format!("http://127.0.0.1:{}/v1", closed_port());
    let server = HttpServer::start(&fake, &[], &[("AISA_BASE_URL", &dead)]).await;
    let resp = http()
        .get(server.url("/readyz?check=upstream"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "not ready");
    assert!(
        v["upstream"].as_str().unwrap().contains("unreachable"),
        "{v}"
    );
    assert!(!v.to_string().contains(KEY));
}

#[tokio::test]
async fn metrics_count_calls_tokens_cost_and_sessions_behind_the_token() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[("LLM_ROUTER_AUTH_TOKEN", TOKEN)]).await;

    let resp = http().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(
        resp.status(),
        401,
        "metrics are behind the same token as /mcp"
    );

    let client = mcp_client(&server, Some(TOKEN)).await;
    chat(&client, "one").await;
    chat(&client, "two").await;
    let args = json!({"model": "status-401", "prompt": "x"});
    let params =
        CallToolRequestParams::new("chat").with_arguments(args.as_object().unwrap().clone());
    client
        .call_tool(params)
        .await
        .expect("a tool error, not a protocol error");

    let resp = http()
        .get(server.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(
        has(r#"llm_router_tool_calls_total{tool="chat",outcome="ok"} 2"#),
        "{text}"
    );
    assert!(
        has(r#"llm_router_tool_calls_total{tool="chat",outcome="unauthorized"} 1"#),
        "{text}"
    );
    assert!(
        has(r#"llm_router_tokens_total{model="gpt-4.1",kind="input"} 2000"#),
        "{text}"
    );
    assert!(
        has(r#"llm_router_tokens_total{model="gpt-4.1",kind="output"} 4000"#),
        "{text}"
    );
    // The unknown model name is not a label of its own.
    assert!(
        has(
            r#"llm_router_upstream_requests_total{model="other",provider="aisa",outcome="unauthorized"} 1"#
        ),
        "{text}"
    );
    assert!(!text.contains("status-401"));
    // 2 × (1000 × 1.40 + 2000 × 5.60) / 1e6
    let cost: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix(r#"llm_router_cost_usd{model="gpt-4.1"} "#))
        .expect("cost gauge")
        .parse()
        .unwrap();
    assert!((cost - 0.0252).abs() < 1e-9, "{cost}");
    assert!(
        has(r#"llm_router_active_sessions{transport="streamable_http"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"llm_router_overhead_seconds_bucket{tool="chat",le="0.001"}"#));
    assert!(text.contains(
        r#"llm_router_upstream_duration_seconds_count{model="gpt-4.1",provider="aisa"} 2"#
    ));
    assert!(!text.contains(KEY) && !text.contains(TOKEN));
    let _ = client.cancel().await;
}

#[tokio::test]
async fn past_max_sessions_a_new_session_gets_503_until_one_closes() {
    let fake = FakeUpstream::start().await;
    let (_dir, path) = config("[http]\nmax_sessions = 2\n");
    let server = HttpServer::start(&fake, &["--config", &path], &[]).await;
    let first = mcp_client(&server, None).await;
    let second = mcp_client(&server, None).await;

    let resp = raw_initialize(&server, &[]).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    assert!(resp.text().await.unwrap().contains("http.max_sessions"));
    let resp = http().get(server.url("/sse")).send().await.unwrap();
    assert_eq!(
        resp.status(),
        503,
        "legacy sessions count against the same limit"
    );

    // Existing sessions keep working.
    chat(&second, "still here").await;

    // Closing one (DELETE) frees a place.
    first.cancel().await.expect("close the first session");
    assert!(
        eventually(Duration::from_secs(10), || async {
            raw_initialize(&server, &[]).await.status() == 200
        })
        .await,
        "a new session is accepted once one closed\n{}",
        server.stderr()
    );
    let _ = second.cancel().await;
}

#[tokio::test]
async fn idle_sessions_are_closed_after_session_idle_secs() {
    let fake = FakeUpstream::start().await;
    let (_dir, path) = config("[http]\nsession_idle_secs = 1\n");
    let server = HttpServer::start(&fake, &["--config", &path], &[]).await;

    // Streamable HTTP: the session id stops being accepted.
    let resp = raw_initialize(&server, &[]).await;
    assert_eq!(resp.status(), 200);
    let session = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    drop(resp);
    // Watch the count on /metrics: a request in the session would keep it alive.
    let open_sessions = || async {
        let text = http()
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| {
                l.strip_prefix(r#"llm_router_active_sessions{transport="streamable_http"} "#)
            })
            .map(str::to_owned)
    };
    assert_eq!(open_sessions().await.as_deref(), Some("1"));
    assert!(
        eventually(Duration::from_secs(15), || async {
            open_sessions().await.as_deref() == Some("0")
        })
        .await,
        "the idle session was not closed\n{}",
        server.stderr()
    );
    let resp = http()
        .post(server.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "the expired session id is refused");

    // Legacy SSE: the server ends the idle stream.
    let resp = http().get(server.url("/sse")).send().await.unwrap();
    let mut sse = SseReader::new(resp);
    let (event, _) = sse.next().await;
    assert_eq!(event, "endpoint");
    assert!(sse.ends_within(Duration::from_secs(15)).await);
    assert!(server.stderr().contains("closing idle legacy SSE session"));
}

#[tokio::test]
async fn forty_sessions_at_once_each_get_their_answer() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[]).await;
    let runs = (0..40).map(|i| {
        let server = &server;
        async move {
            let client = mcp_client(server, None).await;
            let v = chat(&client, &format!("session {i}")).await;
            let _ = client.cancel().await;
            v["content"].as_str().unwrap().to_owned()
        }
    });
    let answers = futures::future::join_all(runs).await;
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(
            a,
            &format!("echo: session {i}"),
            "each session got its own answer"
        );
    }
    assert_eq!(fake.chat_requests().len(), 40);
}

#[tokio::test]
async fn a_stateless_2026_07_28_request_needs_no_session() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[]).await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let resp = http()
        .post(server.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .json(
            &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"_meta": meta}}),
        )
        .send()
        .await
        .unwrap();
    let status = resp.status();
    if status != 200 {
        panic!(
            "{status}: {}\n{}",
            resp.text().await.unwrap(),
            server.stderr()
        );
    }
    assert!(
        resp.headers().get("mcp-session-id").is_none(),
        "no session is created"
    );
    let is_sse = resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream");
    let v: Value = if is_sse {
        SseReader::new(resp).response(7).await
    } else {
        resp.json().await.unwrap()
    };
    let mut names: Vec<String> = v["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, TOOL_NAMES);

    // And a stateless tools/call reaches the upstream.
    let resp = http()
        .post(server.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "chat")
        .json(
            &json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {
                "name": "chat", "arguments": {"model": "gpt-4.1", "prompt": "stateless"},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {}
                }
            }}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let is_sse = resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream");
    let v: Value = if is_sse {
        SseReader::new(resp).response(8).await
    } else {
        resp.json().await.unwrap()
    };
    assert_eq!(
        v["result"]["structuredContent"]["content"], "echo: stateless",
        "{v}"
    );
}
