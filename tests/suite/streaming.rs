//! Streaming and progress: the server driven over stdio by the raw JSON-RPC client
//! ([`crate::raw`]), so each test decides whether a request carries a progress token (rmcp's
//! client always sends one) and sees the messages in the exact order the server wrote them.
//! The last tests cancel over the HTTP transports.

use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::fake_upstream::FakeUpstream;
use crate::http::{DEADLINE, HttpServer, Legacy, mcp_client};
use crate::raw::{Exchange, Raw};
use crate::util::{KEY, TINY_PNG, assert_mentions};

/// Strictly increasing `progress` values, all for `token`.
fn assert_progress_well_formed(x: &Exchange, token: &str) {
    let mut last = 0.0;
    for (_, p) in &x.progress {
        assert_eq!(p["progressToken"], token, "{p:#}");
        let v = p["progress"].as_f64().expect("progress is a number");
        assert!(v > last, "progress must increase: {last} then {v}");
        last = v;
    }
}

/// Asserts that the fake saw its client (llm-router) close a stream within 100 ms of `since`.
async fn assert_upstream_closed_within_100_ms(fake: &FakeUpstream, since: Instant) {
    let closed_at = fake
        .wait_for_disconnect(Duration::from_secs(5))
        .await
        .expect("the upstream connection was never closed");
    let after = closed_at.saturating_duration_since(since);
    assert!(
        after < Duration::from_millis(100),
        "the upstream saw the connection close {after:?} after the cancel"
    );
}

fn drip_text(n: usize) -> String {
    (0..n).map(|i| format!("w{i} ")).collect()
}

#[tokio::test]
async fn chat_streams_text_as_progress_before_the_result() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(&fake, &[]).await;
    // 60 pieces, 10 ms apart: ~600 ms of streaming.
    let x = raw
        .call(
            "chat",
            json!({"model": "drip-10-60", "prompt": "go"}),
            Some("tok-1"),
        )
        .await;
    let v = x.structured();
    assert_eq!(v["content"], drip_text(60), "{v:#}");
    assert_progress_well_formed(&x, "tok-1");

    // The messages, concatenated, are the answer; batched (fewer than one per token).
    assert_eq!(x.streamed_text(), drip_text(60));
    let texts = x
        .messages()
        .into_iter()
        .filter(|(_, m)| m.is_some())
        .count();
    assert!(
        (2..60).contains(&texts),
        "expected the 60 pieces batched into a few notifications, got {texts}"
    );
    // Text arrived while the model was still writing, not all at the end.
    let first = x.progress[0].0;
    let lead = x.answered_at.duration_since(first);
    assert!(
        lead >= Duration::from_millis(200),
        "the first text came only {lead:?} before the result"
    );
    // Nothing for this call comes after its result.
    let late = raw.drain().await;
    assert!(late.is_empty(), "messages after the result: {late:#?}");

    let ttft = v["time_to_first_token_ms"]
        .as_u64()
        .expect("time_to_first_token_ms when streamed");
    assert!(ttft <= v["latency_ms"].as_u64().unwrap(), "{v:#}");
    let body = fake.only_chat_body();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    // Usage came from the final chunk.
    assert_eq!(v["usage"]["total_tokens"], 3000, "{v:#}");
    assert_eq!(
        v["cost_source"], "unknown",
        "drip-* is not in the catalog: {v:#}"
    );
}

/// The parts of an answer that must not depend on streaming (not the timings).
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    let obj = v.as_object_mut().unwrap();
    obj.remove("latency_ms");
    obj.remove("time_to_first_token_ms");
    for a in obj
        .get_mut("attempts")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        a.as_object_mut().unwrap().remove("latency_ms");
    }
    v
}

#[tokio::test]
async fn without_a_progress_token_nothing_streams_and_the_answer_is_the_same() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(&fake, &[]).await;
    let cases = [
        json!({"model": "gpt-4.1", "prompt": "hello"}),
        json!({"model": "gateway-cost-as:gpt-4.1-2025-04-14", "prompt": "priced"}),
        json!({"model": "tool-caller", "prompt": "weather?",
               "tools": [{"type": "function", "function": {"name": "get_weather"}}]}),
        json!({"model": "no-usage", "prompt": "x"}),
    ];
    for (i, args) in cases.iter().enumerate() {
        let plain = raw.call("chat", args.clone(), None).await;
        assert!(plain.progress.is_empty(), "no token, no progress");
        let p = plain.structured();
        assert!(p.get("time_to_first_token_ms").is_none(), "{p:#}");
        let sent = fake.chat_requests().last().unwrap().body.clone();
        assert!(sent.get("stream").is_none(), "{sent:#}");
        assert!(sent.get("stream_options").is_none(), "{sent:#}");

        let token = format!("t{i}");
        let streamed = raw.call("chat", args.clone(), Some(&token)).await;
        let s = streamed.structured();
        assert!(s["time_to_first_token_ms"].is_u64(), "{s:#}");
        assert_eq!(fake.chat_requests().last().unwrap().body["stream"], true);
        assert_eq!(comparable(p), comparable(s), "case {args}");
        assert_eq!(streamed.streamed_text(), s["content"].as_str().unwrap());
        let text = |x: &Exchange| x.result["content"][0]["text"].as_str().unwrap().to_owned();
        assert!(
            text(&streamed).contains("(first token "),
            "{}",
            text(&streamed)
        );
        assert!(!text(&plain).contains("first token"), "{}", text(&plain));
    }
    // The tool call was assembled from its deltas exactly as the whole response had it.
    let last_tool = raw
        .call("chat", cases[2].clone(), Some("tool"))
        .await
        .structured()
        .clone();
    assert_eq!(last_tool["finish_reason"], "tool_calls");
    assert_eq!(
        last_tool["tool_calls"][0]["function"],
        json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
    );
}

#[tokio::test]
async fn cancelling_mid_stream_closes_the_upstream_connection_within_100_ms() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(&fake, &[]).await;
    // 1000 pieces, 20 ms apart: 20 s unless cancelled.
    let id = raw
        .start_call(
            "chat",
            json!({"model": "drip-20-1000", "prompt": "long"}),
            Some("c"),
        )
        .await;
    // Wait until text is flowing.
    loop {
        let (_, msg) = raw.next().await;
        assert_ne!(msg["id"], id, "the call ended early: {msg:#}");
        if msg["method"] == "notifications/progress" && msg["params"]["message"].is_string() {
            break;
        }
    }
    let cancelled_at = Instant::now();
    raw.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": id, "reason": "user pressed stop"}}),
    )
    .await;
    assert_upstream_closed_within_100_ms(&fake, cancelled_at).await;
    raw.wait_for_log("call cancelled by the client").await;
    let log = raw.log();
    assert!(log.contains("outcome=\"cancelled\""), "{log}");
    assert!(log.contains("drip-20-1000"), "{log}");
    assert!(log.contains("upstream call cancelled"), "{log}");
    // No result is sent for a cancelled request, and the session goes on.
    let later = raw.drain().await;
    assert!(
        later.iter().all(|m| m["id"] != id),
        "a result for the cancelled call: {later:#?}"
    );
    let after_cancel = raw
        .call(
            "chat",
            json!({"model": "gpt-4.1", "prompt": "still here"}),
            Some("n"),
        )
        .await;
    assert_eq!(after_cancel.structured()["content"], "echo: still here");
    assert_eq!(fake.disconnect_count(), 1);
}

#[tokio::test]
async fn cancelling_before_the_first_token_closes_the_upstream_connection_within_100_ms() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(&fake, &[("LLM_ROUTER_HEARTBEAT_MS", "50")]).await;
    let id = raw
        .start_call(
            "chat",
            json!({"model": "stall-before", "prompt": "x"}),
            Some("h"),
        )
        .await;
    // A heartbeat says the call is waiting on the upstream (the stream has started).
    let (_, msg) = raw.next().await;
    assert_eq!(msg["method"], "notifications/progress", "{msg:#}");
    assert!(msg["params"].get("message").is_none(), "{msg:#}");
    while fake.chat_requests().is_empty() {
        tokio::task::yield_now().await;
    }
    let cancelled_at = Instant::now();
    raw.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": id}}),
    )
    .await;
    assert_upstream_closed_within_100_ms(&fake, cancelled_at).await;
    raw.wait_for_log("call cancelled by the client").await;
}

#[tokio::test]
async fn heartbeats_go_out_while_waiting_for_the_first_token_only() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(&fake, &[("LLM_ROUTER_HEARTBEAT_MS", "50")]).await;
    let x = raw
        .call(
            "chat",
            json!({"model": "delay-600", "prompt": "wait"}),
            Some("hb"),
        )
        .await;
    assert_progress_well_formed(&x, "hb");
    let messages = x.messages();
    let first_text = messages
        .iter()
        .position(|(_, m)| m.is_some())
        .expect("text arrived");
    assert!(
        first_text >= 3,
        "expected heartbeats every 50 ms during the 600 ms wait, got {first_text}"
    );
    assert!(
        messages[first_text..].iter().all(|(_, m)| m.is_some()),
        "no heartbeat after the first token: {messages:?}"
    );
    let v = x.structured();
    assert_eq!(x.streamed_text(), v["content"].as_str().unwrap());
    let ttft = v["time_to_first_token_ms"].as_u64().unwrap();
    assert!(
        ttft >= 600,
        "the first token came after the fake's 600 ms: {ttft}"
    );
}

#[tokio::test]
async fn a_stream_that_stalls_mid_answer_fails_clearly_without_fallback() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(&fake, &[("LLM_ROUTER_STREAM_IDLE_SECS", "0.3")]).await;
    let started = Instant::now();
    let x = raw
        .call(
            "chat",
            json!({"model": "stall-after", "fallback_models": ["gpt-4.1"], "prompt": "x"}),
            Some("s"),
        )
        .await;
    let elapsed = started.elapsed();
    let text = x.error_text();
    assert_mentions(
        &text,
        &[
            "stall-after",
            "stalled",
            "0.3s",
            "LLM_ROUTER_STREAM_IDLE_SECS",
            "none was tried",
            "partial text",
        ],
    );
    assert_eq!(x.streamed_text(), "partial text");
    // No retry, no fallback: the client already had part of this model's answer.
    let models: Vec<Value> = fake
        .chat_requests()
        .iter()
        .map(|r| r.body["model"].clone())
        .collect();
    assert_eq!(models, ["stall-after"]);
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    // The result can reach the client a moment before the fake sees the socket close.
    assert!(
        fake.wait_for_disconnect(Duration::from_secs(5))
            .await
            .is_some(),
        "the stalled stream was dropped"
    );
    assert_eq!(fake.disconnect_count(), 1);
}

#[tokio::test]
async fn no_first_token_within_the_request_timeout_falls_back() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(
        &fake,
        &[
            ("LLM_ROUTER_TIMEOUT_SECS", "0.3"),
            ("LLM_ROUTER_STREAM_IDLE_SECS", "0.1"),
        ],
    )
    .await;
    let x = raw
        .call(
            "chat",
            json!({"model": "stall-before", "fallback_models": ["gpt-4.1"], "prompt": "fb"}),
            Some("f"),
        )
        .await;
    let v = x.structured();
    assert_eq!(v["content"], "echo: fb");
    assert_eq!(v["model"], "gpt-4.1");
    let attempts = v["attempts"].as_array().unwrap();
    let (last, failed) = attempts.split_last().unwrap();
    assert!(!failed.is_empty(), "{v:#}");
    for a in failed {
        assert_eq!(a["model"], "stall-before", "{v:#}");
        assert_eq!(a["outcome"], "timeout", "{v:#}");
        // The whole request timeout, not the shorter idle limit, before the first token.
        assert!(a["latency_ms"].as_u64().unwrap() >= 300, "{v:#}");
        assert_mentions(
            a["error"].as_str().unwrap(),
            &["timed out", "LLM_ROUTER_TIMEOUT_SECS"],
        );
    }
    assert_eq!(last["outcome"], "ok");
    assert_eq!(
        x.streamed_text(),
        "echo: fb",
        "only the answer that won was streamed"
    );
}

#[tokio::test]
async fn a_stream_cut_before_done_is_an_error_with_the_partial_text_or_a_fallback() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(&fake, &[]).await;
    let x = raw
        .call(
            "chat",
            json!({"model": "cut-after", "fallback_models": ["gpt-4.1"], "prompt": "x"}),
            Some("a"),
        )
        .await;
    assert_mentions(
        &x.error_text(),
        &[
            "cut-after",
            "[DONE]",
            "after 12 characters",
            "partial text",
            "none was tried",
        ],
    );
    assert_eq!(fake.chat_requests().len(), 1);

    let y = raw
        .call(
            "chat",
            json!({"model": "cut-before", "fallback_models": ["gpt-4.1"], "prompt": "y"}),
            Some("b"),
        )
        .await;
    let v = y.structured();
    assert_eq!(v["content"], "echo: y");
    assert_eq!(v["attempts"][0]["outcome"], "stream_broken", "{v:#}");
}

#[tokio::test]
async fn compare_models_reports_each_model_as_it_finishes() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(&fake, &[("LLM_ROUTER_HEARTBEAT_MS", "10000")]).await;
    let x = raw
        .call(
            "compare_models",
            json!({"models": ["gpt-4.1", "delay-700", "status-400"], "prompt": "hi"}),
            Some("cmp"),
        )
        .await;
    assert_progress_well_formed(&x, "cmp");
    let lines: Vec<String> = x.messages().into_iter().filter_map(|(_, m)| m).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let gpt = lines
        .iter()
        .position(|l| l.starts_with("gpt-4.1 done in "))
        .expect("gpt-4.1 line");
    assert!(lines[gpt].ends_with(", $0.012600"), "{}", lines[gpt]);
    let delayed = lines
        .iter()
        .position(|l| l.starts_with("delay-700 done in ") && l.ends_with(", cost unknown"))
        .expect("delay-700 line");
    let failed = lines
        .iter()
        .position(|l| l.starts_with("status-400 failed after ") && l.ends_with(": bad_request"))
        .expect("status-400 line");
    assert_eq!(delayed, 2, "the slow model finishes last: {lines:?}");
    assert!(gpt < delayed && failed < delayed);
    // The fast model's line came long before the result.
    let at = |i: usize| {
        x.progress
            .iter()
            .filter(|(_, p)| p["message"].is_string())
            .nth(i)
            .unwrap()
            .0
    };
    let lead = x.answered_at.duration_since(at(gpt));
    assert!(
        lead >= Duration::from_millis(300),
        "gpt-4.1's line came {lead:?} before the result"
    );
    // The answers themselves were not streamed upstream.
    assert!(
        fake.chat_requests()
            .iter()
            .all(|r| r.body.get("stream").is_none())
    );
    assert_eq!(x.structured()["results"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn route_by_task_and_vision_stream_too() {
    let fake = FakeUpstream::start().await;
    let mut raw = Raw::serve(&fake, &[]).await;
    let r = raw
        .call(
            "route_by_task",
            json!({"task": "fast", "prompt": "quick one"}),
            Some("r"),
        )
        .await;
    let v = r.structured();
    assert_eq!(v["content"], "echo: quick one", "{v:#}");
    assert_eq!(r.streamed_text(), "echo: quick one");
    assert!(v["time_to_first_token_ms"].is_u64(), "{v:#}");
    assert_eq!(fake.chat_requests().last().unwrap().body["stream"], true);

    let png = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(TINY_PNG)
    );
    let x = raw
        .call(
            "vision",
            json!({"model": "gpt-4.1", "prompt": "what is this", "images": [png]}),
            Some("v"),
        )
        .await;
    let v = x.structured();
    assert_eq!(v["content"], "echo: what is this", "{v:#}");
    assert_eq!(x.streamed_text(), "echo: what is this");
    assert_eq!(fake.chat_requests().last().unwrap().body["stream"], true);

    let dry = raw
        .call(
            "route_by_task",
            json!({"task": "code", "prompt": "x", "dry_run": true}),
            Some("d"),
        )
        .await;
    assert!(dry.streamed_text().is_empty());
    assert_eq!(fake.chat_requests().len(), 2, "a dry run calls no model");
}

#[tokio::test]
async fn bad_streaming_settings_name_the_variable() {
    let fake = FakeUpstream::start().await;
    for (var, value) in [
        ("LLM_ROUTER_STREAM_IDLE_SECS", "soon"),
        ("LLM_ROUTER_STREAM_IDLE_SECS", "0"),
        ("LLM_ROUTER_HEARTBEAT_MS", "5"),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-router"))
            .arg("serve")
            .env_clear()
            .env("AISA_BASE_URL", fake.base_url())
            .env("AISA_API_KEY", KEY)
            .env(var, value)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run llm-router");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{var}={value} must be refused");
        assert!(stderr.contains(&format!("{var}: '{value}'")), "{stderr}");
    }
}

#[tokio::test]
async fn cancelling_over_streamable_http_closes_the_upstream_connection_within_100_ms() {
    use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
    use rmcp::service::PeerRequestOptions;

    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[]).await;
    let client = mcp_client(&server, None).await;
    let args = json!({"model": "drip-20-1000", "prompt": "long"});
    let params =
        CallToolRequestParams::new("chat").with_arguments(args.as_object().unwrap().clone());
    let handle = client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("send tools/call");
    let streaming = tokio::time::timeout(DEADLINE, async {
        while fake.chat_requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(streaming.is_ok(), "the call never reached the upstream");
    let cancelled_at = Instant::now();
    handle
        .cancel(Some("user pressed stop".into()))
        .await
        .expect("send notifications/cancelled");
    assert_upstream_closed_within_100_ms(&fake, cancelled_at).await;
    // The log line comes after the upstream connection is dropped; wait for it rather than
    // racing the shutdown.
    let logged = server.logged("call cancelled by the client").await;
    let _ = client.cancel().await;
    let log = server.terminate_cleanly().await;
    assert!(logged, "{log}");
}

#[tokio::test]
async fn closing_a_legacy_sse_stream_cancels_its_calls_within_100_ms() {
    // The legacy transport answers on the SSE stream only: once the client closes it, no
    // result can reach the client, so the session ends and its calls are cancelled.
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[]).await;
    let mut legacy = Legacy::open(&server).await;
    legacy.initialize().await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "chat",
        "arguments": {"model": "drip-20-1000", "prompt": "long"},
        "_meta": {"progressToken": "legacy"}
    }});
    assert_eq!(legacy.post(call).await, 202);
    let Legacy { mut sse, .. } = legacy;
    loop {
        let (_, data) = sse.next().await;
        let msg: Value = serde_json::from_str(&data).unwrap();
        assert_ne!(msg["id"], 2, "the call ended early: {msg:#}");
        if msg["method"] == "notifications/progress" && msg["params"]["message"].is_string() {
            break;
        }
    }
    let closed_by_client = Instant::now();
    drop(sse);
    assert_upstream_closed_within_100_ms(&fake, closed_by_client).await;
    let log = server.terminate_cleanly().await;
    assert!(log.contains("legacy SSE session closed"), "{log}");
    assert!(log.contains("call cancelled by the client"), "{log}");
}
