//! The fallback executor: retries that honor Retry-After, fallback chains, which failures
//! fall back and which do not, context-length fallback, and cooldowns.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_upstream::FakeUpstream;
use crate::util::*;

fn outcomes(v: &Value) -> Vec<(String, String)> {
    v["attempts"]
        .as_array()
        .expect("attempts is an array")
        .iter()
        .map(|a| {
            (
                a["model"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(m, o)| (m.to_string(), o.to_string()))
        .collect()
}

fn requests_for(fake: &FakeUpstream, model: &str) -> usize {
    fake.chat_requests()
        .iter()
        .filter(|r| r.body["model"] == model)
        .count()
}

#[tokio::test]
async fn a_successful_call_records_one_ok_attempt() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call("chat", json!({"model": "gpt-4.1", "prompt": "hi"}))
            .await,
    );
    assert_eq!(outcomes(&v), pairs(&[("gpt-4.1", "ok")]));
    assert_eq!(v["attempts"][0]["waited_ms"], 0);
}

#[tokio::test]
async fn retry_after_seconds_is_honored_before_retrying() {
    let (fake, server) = start_with_fake().await;
    let started = Instant::now();
    let v = expect_ok(
        &server
            .call("chat", json!({"model": "retry-after-1", "prompt": "hi"}))
            .await,
    );
    let elapsed = started.elapsed();
    assert_eq!(
        outcomes(&v),
        pairs(&[("retry-after-1", "rate_limited"), ("retry-after-1", "ok")])
    );
    assert_eq!(v["attempts"][0]["status"], 429);
    assert_eq!(v["attempts"][1]["waited_ms"], 1000);
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    assert_eq!(requests_for(&fake, "retry-after-1"), 2);
}

#[tokio::test]
async fn retry_after_http_date_is_honored() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call("chat", json!({"model": "retry-after-date", "prompt": "hi"}))
            .await,
    );
    let waited = v["attempts"][1]["waited_ms"].as_u64().unwrap();
    // The date has one-second resolution and was set 2 s ahead.
    assert!((500..=2000).contains(&waited), "waited {waited} ms");
}

#[tokio::test]
async fn retry_after_beyond_the_cap_moves_to_the_next_model_without_waiting() {
    let (_fake, server) = start_with_fake().await;
    let started = Instant::now();
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "retry-after-long", "fallback_models": ["gpt-4.1"], "prompt": "hi"}),
            )
            .await,
    );
    assert_eq!(
        outcomes(&v),
        pairs(&[("retry-after-long", "rate_limited"), ("gpt-4.1", "ok")])
    );
    assert_eq!(v["model"], "gpt-4.1");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_500_is_retried_on_the_same_model() {
    let (fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call("chat", json!({"model": "flaky-500-1", "prompt": "hi"}))
            .await,
    );
    assert_eq!(
        outcomes(&v),
        pairs(&[("flaky-500-1", "upstream"), ("flaky-500-1", "ok")])
    );
    let waited = v["attempts"][1]["waited_ms"].as_u64().unwrap();
    assert!((375..=625).contains(&waited), "backoff {waited} ms");
    assert_eq!(requests_for(&fake, "flaky-500-1"), 2);
}

#[tokio::test]
async fn persistent_500s_are_retried_then_fall_back() {
    let (fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "flaky-503-99", "fallback_models": ["claude-sonnet-4-5"], "prompt": "hi"}),
            )
            .await,
    );
    assert_eq!(
        outcomes(&v),
        pairs(&[
            ("flaky-503-99", "upstream"),
            ("flaky-503-99", "upstream"),
            ("flaky-503-99", "upstream"),
            ("claude-sonnet-4-5-20250929", "ok"),
        ])
    );
    assert_eq!(v["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(requests_for(&fake, "flaky-503-99"), 3);
}

#[tokio::test]
async fn a_timeout_falls_back_to_the_next_model() {
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_TIMEOUT_SECS", "0.3")
        .start()
        .await;
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "slow", "fallback_models": ["gpt-4.1"], "prompt": "hi"}),
            )
            .await,
    );
    let o = outcomes(&v);
    assert!(
        o.iter().any(|(m, out)| m == "slow" && out == "timeout"),
        "{o:?}"
    );
    assert_eq!(o.last().unwrap(), &("gpt-4.1".to_owned(), "ok".to_owned()));
}

#[tokio::test]
async fn a_401_does_not_fall_back() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "chat",
            json!({"model": "status-401", "fallback_models": ["gpt-4.1"], "prompt": "hi"}),
        )
        .await;
    expect_error(&r, &["401", "AISA_API_KEY"]);
    assert_eq!(requests_for(&fake, "status-401"), 1, "401 is not retried");
    assert_eq!(requests_for(&fake, "gpt-4.1"), 0, "401 does not fall back");
}

#[tokio::test]
async fn a_plain_400_does_not_fall_back() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "chat",
            json!({"model": "status-400", "fallback_models": ["gpt-4.1"], "prompt": "hi"}),
        )
        .await;
    expect_error(&r, &["400", "temperature is invalid"]);
    assert_eq!(requests_for(&fake, "gpt-4.1"), 0);
}

#[tokio::test]
async fn an_unknown_model_falls_back() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "gpt-5x", "fallback_models": ["gpt-5"], "prompt": "hi"}),
            )
            .await,
    );
    assert_eq!(
        outcomes(&v),
        pairs(&[("gpt-5x", "unknown_model"), ("gpt-5", "ok")])
    );
}

#[tokio::test]
async fn a_context_length_error_falls_back_to_a_larger_window() {
    let (fake, server) = start_with_fake().await;
    // gpt-4o (128k) refuses; gpt-4o-mini (128k) cannot fit either and is skipped unasked;
    // gpt-4.1 (1M) answers.
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({
                    "model": "gpt-4o",
                    "fallback_models": ["gpt-4o-mini", "gpt-4.1"],
                    "prompt": "a long document … too-long-for=gpt-4o"
                }),
            )
            .await,
    );
    assert_eq!(
        outcomes(&v),
        pairs(&[
            ("gpt-4o", "bad_request"),
            ("gpt-4o-mini", "skipped_context"),
            ("gpt-4.1", "ok"),
        ])
    );
    assert_eq!(requests_for(&fake, "gpt-4o-mini"), 0);
}

#[tokio::test]
async fn every_model_failing_lists_each_error() {
    let (_fake, server) = start_with_fake().await;
    let r = server
        .call(
            "chat",
            json!({"model": "gpt-5x", "fallback_models": ["missing-gpt-4.1"], "prompt": "hi"}),
        )
        .await;
    let msg = expect_error(&r, &["every model failed", "gpt-5x", "missing-gpt-4.1"]);
    assert!(msg.contains("404"), "{msg}");
}

#[tokio::test]
async fn a_model_that_keeps_failing_is_skipped_during_its_cooldown() {
    let (fake, server) = start_with_fake().await;
    // Three retryable failures in a row put the model in cooldown.
    let r = server
        .call("chat", json!({"model": "flaky-503-99", "prompt": "hi"}))
        .await;
    expect_error(&r, &["503"]);
    assert_eq!(requests_for(&fake, "flaky-503-99"), 3);

    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "flaky-503-99", "fallback_models": ["gpt-4.1"], "prompt": "hi"}),
            )
            .await,
    );
    assert_eq!(
        outcomes(&v),
        pairs(&[("flaky-503-99", "skipped_cooldown"), ("gpt-4.1", "ok")])
    );
    assert_eq!(
        requests_for(&fake, "flaky-503-99"),
        3,
        "skipped, not called"
    );
}

#[tokio::test]
async fn route_by_task_uses_given_fallbacks_and_records_attempts() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call(
                "route_by_task",
                json!({"task": "code", "fallback_models": ["gpt-4.1"], "prompt": "fn main() {}"}),
            )
            .await,
    );
    assert_eq!(v["fallback_chain"], json!(["gpt-4.1"]));
    assert_eq!(outcomes(&v), pairs(&[("claude-sonnet-4-5-20250929", "ok")]));
}

#[tokio::test]
async fn vision_rejects_a_fallback_that_takes_no_images() {
    let (_fake, server) = start_with_fake().await;
    let r = server
        .call(
            "vision",
            json!({
                "prompt": "what is this?",
                "images": ["https://example.com/cat.png"],
                "fallback_models": ["deepseek-v3.2"]
            }),
        )
        .await;
    expect_error(&r, &["deepseek-v3.2 does not accept images"]);
}
