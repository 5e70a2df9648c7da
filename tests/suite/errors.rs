//! Error reporting, key handling and resilience.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::fake_upstream::FakeUpstream;
use crate::util::*;

/// Call `chat` with `model` against a fresh fake and expect an error naming
/// every needle.
async fn chat_error(model: &str, needles: &[&str]) -> String {
    let (_fake, server) = start_with_fake().await;
    let r = server
        .call("chat", json!({"model": model, "prompt": "hi"}))
        .await;
    expect_error(&r, needles)
}

#[tokio::test]
async fn missing_key_with_default_gateway_fails_fast_naming_the_variable() {
    // No AISA_API_KEY and no AISA_BASE_URL: the default gateway needs a key,
    // so the call must fail before touching the network.
    let server = ServerBuilder::new().start().await;
    let started = Instant::now();
    let r = server
        .call("chat", json!({"model": "gpt-4.1", "prompt": "hi"}))
        .await;
    expect_error(&r, &["AISA_API_KEY"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "should fail immediately, took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn missing_key_is_named_by_every_tool_that_calls_a_model() {
    let server = ServerBuilder::new().start().await;
    for (tool, args) in [
        (
            "vision",
            json!({"model": "gpt-4o", "prompt": "see", "images": ["https://example.com/a.png"]}),
        ),
        ("route_by_task", json!({"task": "code", "prompt": "hi"})),
    ] {
        let r = server.call(tool, args).await;
        expect_error(&r, &["AISA_API_KEY"]);
    }
    // compare_models: every model fails, so the call fails, and the reason
    // (in the text or the per-model errors) names the variable.
    let r = server
        .call(
            "compare_models",
            json!({"models": ["gpt-4.1", "gpt-4o"], "prompt": "hi"}),
        )
        .await;
    assert!(is_error(&r), "{}", dump(&r));
    assert!(dump(&r).contains("AISA_API_KEY"), "{}", dump(&r));
}

#[tokio::test]
async fn server_starts_and_lists_its_tools_without_a_key() {
    let server = ServerBuilder::new().start().await;
    let mut names: Vec<_> = server
        .tools()
        .await
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(names, TOOL_NAMES);
}

#[tokio::test]
async fn missing_key_with_custom_base_url_sends_no_authorization() {
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .env("AISA_BASE_URL", fake.base_url())
        .start()
        .await;
    let r = server
        .call("chat", json!({"model": "gpt-4.1", "prompt": "hi"}))
        .await;
    expect_error(&r, &["AISA_API_KEY"]);
    let chats = fake.chat_requests();
    assert!(
        !chats.is_empty(),
        "the request should reach the custom base URL"
    );
    for c in &chats {
        assert_eq!(
            c.authorization(),
            None,
            "no Authorization header without a key"
        );
    }
}

#[tokio::test]
async fn wrong_key_reports_401_and_names_the_variable() {
    let fake = FakeUpstream::start_expecting_key("sk-the-right-one").await;
    let server = Server::for_upstream(&fake).await;
    let r = server
        .call("chat", json!({"model": "gpt-4.1", "prompt": "hi"}))
        .await;
    let msg = expect_error(&r, &["AISA_API_KEY", "401"]);
    assert!(!msg.contains(KEY), "the key leaked into the error: {msg}");
}

#[tokio::test]
async fn insufficient_credits_402_is_explained() {
    chat_error("status-402", &["credits"]).await;
}

#[tokio::test]
async fn unknown_model_suggests_close_names() {
    let msg = chat_error("gpt-5x", &["unknown model", "did you mean", "gpt-5"]).await;
    assert!(
        msg.contains("gpt-5x"),
        "the bad name should be quoted: {msg}"
    );
}

#[tokio::test]
async fn unknown_model_without_close_match_is_still_named() {
    // No catalog id is close to this name, so there may be nothing to suggest;
    // the error must still say the model is unknown and name it.
    let msg = chat_error("missing-zzzz-qqqq-9000", &["unknown model"]).await;
    assert!(
        msg.contains("missing-zzzz-qqqq-9000"),
        "the bad name should be quoted: {msg}"
    );
}

#[tokio::test]
async fn unknown_model_suggestions_come_from_the_catalog() {
    let msg = chat_error("missing-gpt-4.1-mini", &["unknown model", "did you mean"]).await;
    assert!(msg.contains("gpt-4.1-mini"), "{msg}");
}

#[tokio::test]
async fn rate_limit_429_is_explained() {
    chat_error("status-429", &["rate limit"]).await;
}

#[tokio::test]
async fn upstream_500_reports_the_status() {
    chat_error("status-500", &["upstream", "500"]).await;
}

#[tokio::test]
async fn upstream_502_with_html_body_reports_the_status() {
    chat_error("status-502", &["upstream", "502"]).await;
}

#[tokio::test]
async fn upstream_503_reports_the_status() {
    chat_error("status-503", &["upstream", "503"]).await;
}

#[tokio::test]
async fn slow_upstream_times_out() {
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_TIMEOUT_SECS", "0.5")
        .start()
        .await;
    let started = Instant::now();
    let r = server
        .call("chat", json!({"model": "slow", "prompt": "hi"}))
        .await;
    let elapsed = started.elapsed();
    expect_error(&r, &["timed out"]);
    assert!(
        elapsed < Duration::from_millis(4500),
        "a 0.5 s timeout should not wait for the 5 s answer (took {elapsed:?})"
    );
}

#[tokio::test]
async fn unreachable_upstream_says_could_not_connect() {
    let server = ServerBuilder::new()
        .env(
            "AISA_BASE_URL",
            format!("http://127.0.0.1:{}/v1", closed_port()),
        )
        .env("AISA_API_KEY", KEY)
        .env("LLM_ROUTER_TIMEOUT_SECS", "5")
        .start()
        .await;
    let r = server
        .call("chat", json!({"model": "gpt-4.1", "prompt": "hi"}))
        .await;
    expect_error(&r, &["could not connect"]);
}

#[tokio::test]
async fn server_keeps_answering_after_errors() {
    let (_fake, server) = start_with_fake().await;
    for model in ["status-500", "gpt-5x", "status-502"] {
        let r = server
            .call("chat", json!({"model": model, "prompt": "hi"}))
            .await;
        assert!(is_error(&r), "{model}: {}", dump(&r));
    }
    let _ = server.try_call("no_such_tool", json!({})).await;
    let _ = server.try_call("chat", json!({"prompt": 42})).await;
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "gpt-4.1", "prompt": "still there?"}),
            )
            .await,
    );
    assert_eq!(v["content"], "echo: still there?");
}

#[tokio::test]
async fn concurrent_calls_on_one_session_all_answer() {
    let (fake, server) = start_with_fake().await;
    let calls = (0..6).map(|i| {
        server.call(
            "chat",
            json!({"model": "gpt-4.1-mini", "prompt": format!("question {i}")}),
        )
    });
    let results = futures::future::join_all(calls).await;
    for (i, r) in results.iter().enumerate() {
        let v = expect_ok(r);
        assert_eq!(v["content"], format!("echo: question {i}"));
    }
    assert_eq!(fake.chat_requests().len(), 6);
}

#[tokio::test]
async fn api_key_never_leaks_into_results_or_logs() {
    let fake = FakeUpstream::start().await;
    let images = tempfile::tempdir().unwrap();
    let png = images.path().join("pixel.png");
    std::fs::write(&png, TINY_PNG).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let outside_png = outside.path().join("pixel.png");
    std::fs::write(&outside_png, TINY_PNG).unwrap();

    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("RUST_LOG", "trace")
        .env("LLM_ROUTER_TIMEOUT_SECS", "0.5")
        .env("LLM_ROUTER_ALLOWED_DIRS", images.path().to_str().unwrap())
        .start()
        .await;

    let calls = [
        ("chat", json!({"model": "gpt-4.1", "prompt": "hi"})),
        ("chat", json!({"model": "tool-caller", "prompt": "weather"})),
        ("chat", json!({"model": "status-402", "prompt": "hi"})),
        ("chat", json!({"model": "status-429", "prompt": "hi"})),
        ("chat", json!({"model": "status-500", "prompt": "hi"})),
        ("chat", json!({"model": "status-502", "prompt": "hi"})),
        ("chat", json!({"model": "gpt-5x", "prompt": "hi"})),
        ("chat", json!({"model": "slow", "prompt": "hi"})),
        (
            "vision",
            json!({"model": "gpt-4o", "prompt": "see", "images": [png.to_str().unwrap()]}),
        ),
        (
            "vision",
            json!({"model": "gpt-4o", "prompt": "see", "images": [outside_png.to_str().unwrap()]}),
        ),
        (
            "compare_models",
            json!({"models": ["gpt-4.1", "status-503"], "prompt": "hi"}),
        ),
        ("list_models", json!({})),
        (
            "route_by_task",
            json!({"task": "fast", "prompt": "hi", "dry_run": true}),
        ),
        ("route_by_task", json!({"task": "code", "prompt": "hi"})),
    ];
    let mut outputs = String::new();
    for (tool, args) in calls {
        match server.try_call(tool, args).await {
            Ok(r) => outputs.push_str(&serde_json::to_string(&r).unwrap()),
            Err(e) => outputs.push_str(&e),
        }
        outputs.push('\n');
    }
    outputs.push_str(&serde_json::to_string(&server.tools_list_json().await).unwrap());

    let stderr = server.shutdown().await;
    // Sanity: the key really was used, and the log capture really works.
    assert!(
        fake.chat_requests()
            .iter()
            .any(|r| r.authorization() == Some(&format!("Bearer {KEY}"))),
        "the key should have been sent upstream"
    );
    assert!(!stderr.is_empty(), "expected trace logs on stderr");

    for secret in [KEY, "SECRET-0123456789"] {
        assert!(
            !outputs.contains(secret),
            "the API key leaked into a tool result:\n{outputs}"
        );
        let leaked: Vec<_> = stderr.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            leaked.is_empty(),
            "the API key leaked into stderr:\n{}",
            leaked.join("\n")
        );
    }
}

#[tokio::test]
async fn api_key_never_leaks_when_it_is_rejected() {
    let fake = FakeUpstream::start_expecting_key("sk-the-right-one").await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("RUST_LOG", "trace")
        .start()
        .await;
    let mut outputs = String::new();
    for (tool, args) in [
        ("chat", json!({"model": "gpt-4.1", "prompt": "hi"})),
        ("list_models", json!({})),
        (
            "compare_models",
            json!({"models": ["gpt-4.1", "gpt-4o"], "prompt": "hi"}),
        ),
    ] {
        match server.try_call(tool, args).await {
            Ok(r) => outputs.push_str(&serde_json::to_string(&r).unwrap()),
            Err(e) => outputs.push_str(&e),
        }
    }
    let stderr = server.shutdown().await;
    for secret in [KEY, "SECRET-0123456789"] {
        assert!(
            !outputs.contains(secret),
            "key leaked into results:\n{outputs}"
        );
        assert!(
            !stderr.contains(secret),
            "key leaked into stderr:\n{}",
            stderr
                .lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[tokio::test]
async fn server_exits_cleanly_when_the_client_disconnects() {
    let (_fake, server) = start_with_fake().await;
    let started = Instant::now();
    let _ = server.shutdown().await;
    // rmcp's child-process transport waits up to 3 s for a graceful exit
    // after closing stdin before it escalates to SIGTERM.
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "server should exit promptly on stdin EOF, took {:?}",
        started.elapsed()
    );
}
