//! The `compare_models` tool.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::{Value, json};

use crate::util::*;

fn results(v: &Value) -> Vec<Value> {
    v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results array missing: {v:#}"))
        .clone()
}

#[tokio::test]
async fn compare_models_keeps_request_order_and_isolates_failures() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "compare_models",
            json!({"models": ["gpt-4.1", "status-500", "gpt-4o-mini"], "prompt": "hi"}),
        )
        .await;
    let v = expect_ok(&r);
    let res = results(&v);
    assert_eq!(res.len(), 3, "{v:#}");

    let order: Vec<_> = res.iter().map(|x| x["model"].as_str().unwrap()).collect();
    assert_eq!(order, ["gpt-4.1", "status-500", "gpt-4o-mini"]);

    assert_eq!(res[0]["ok"], true, "{v:#}");
    assert_eq!(res[0]["content"], "echo: hi");
    assert_eq!(res[0]["cost_source"], "catalog");
    assert_close(&res[0]["cost_usd"], catalog_cost(1.40, 5.60));
    assert_standard_usage(&res[0]);
    assert!(res[0]["latency_ms"].is_u64());

    assert_eq!(res[1]["ok"], false, "{v:#}");
    let err = res[1]["error"]
        .as_str()
        .expect("error message for failed model");
    assert_mentions(err, &["upstream", "500"]);
    assert!(res[1]["latency_ms"].is_u64());

    assert_eq!(res[2]["ok"], true, "{v:#}");
    assert_eq!(res[2]["content"], "echo: hi");
    assert_close(&res[2]["cost_usd"], catalog_cost(0.105, 0.42));

    let summary = &v["summary"];
    assert_eq!(summary["cheapest"], "gpt-4o-mini", "{summary:#}");
    assert_close(&summary["total_cost_usd"], 0.0126 + 0.000945);
    let fastest = summary["fastest"].as_str().expect("fastest");
    let ok_latencies: Vec<(String, u64)> = res
        .iter()
        .filter(|x| x["ok"] == true)
        .map(|x| {
            (
                x["model"].as_str().unwrap().to_owned(),
                x["latency_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    let min = ok_latencies.iter().map(|(_, l)| *l).min().unwrap();
    let quickest: Vec<_> = ok_latencies
        .iter()
        .filter(|(_, l)| *l == min)
        .map(|(m, _)| m.as_str())
        .collect();
    assert!(
        quickest.contains(&fastest),
        "fastest {fastest} is not among the successful models with the lowest latency {quickest:?}"
    );

    let sent: BTreeSet<_> = fake
        .chat_requests()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sent,
        BTreeSet::from(["gpt-4.1".into(), "status-500".into(), "gpt-4o-mini".into()])
    );
}

#[tokio::test]
async fn compare_models_total_cost_is_the_sum_of_known_costs() {
    let (_fake, server) = start_with_fake().await;
    let r = server
        .call(
            "compare_models",
            json!({"models": ["gateway-cost", "claude-sonnet-4-5", "no-usage"], "prompt": "hi"}),
        )
        .await;
    let v = expect_ok(&r);
    let res = results(&v);
    assert!(res.iter().all(|x| x["ok"] == true), "{v:#}");
    assert_eq!(res[0]["cost_source"], "gateway");
    assert_eq!(res[1]["cost_source"], "catalog");
    assert_eq!(res[2]["cost_source"], "unknown");
    assert!(res[2].get("cost_usd").is_none_or(Value::is_null), "{v:#}");

    let sum: f64 = res.iter().filter_map(|x| x["cost_usd"].as_f64()).sum();
    assert_close(&v["summary"]["total_cost_usd"], sum);
    assert_close(&v["summary"]["total_cost_usd"], 0.0123 + 0.033);
    assert_eq!(v["summary"]["cheapest"], "gateway-cost", "{v:#}");
}

#[tokio::test]
async fn compare_models_resolves_aliases_for_each_model() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "compare_models",
            json!({"models": ["claude-sonnet-4-5", "gpt-4.1"], "prompt": "hi"}),
        )
        .await;
    expect_ok(&r);
    let sent: BTreeSet<_> = fake
        .chat_requests()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        sent.contains("claude-sonnet-4-5-20250929"),
        "alias should be resolved upstream: {sent:?}"
    );
}

#[tokio::test]
async fn compare_models_sends_system_and_parameters_to_every_model() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "compare_models",
            json!({
                "models": ["gpt-4.1", "gemini-2.5-flash"],
                "system": "Be brief.",
                "prompt": "Define entropy.",
                "temperature": 0.4,
                "max_tokens": 64
            }),
        )
        .await;
    expect_ok(&r);
    let chats = fake.chat_requests();
    assert_eq!(chats.len(), 2);
    for c in &chats {
        assert_eq!(
            c.body["messages"],
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Define entropy."}
            ])
        );
        assert_param(&c.body["temperature"], 0.4);
        assert_eq!(c.body["max_tokens"], 64);
    }
}

#[tokio::test]
async fn compare_models_accepts_a_message_history() {
    let (_fake, server) = start_with_fake().await;
    let r = server
        .call(
            "compare_models",
            json!({
                "models": ["gpt-4.1", "gpt-4o"],
                "messages": [
                    {"role": "user", "content": "first"},
                    {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": "second"}
                ]
            }),
        )
        .await;
    let v = expect_ok(&r);
    for x in results(&v) {
        assert_eq!(x["content"], "echo: second");
    }
}

#[tokio::test]
async fn compare_models_fails_when_every_model_fails() {
    let (_fake, server) = start_with_fake().await;
    let r = server
        .call(
            "compare_models",
            json!({"models": ["status-500", "status-503"], "prompt": "hi"}),
        )
        .await;
    assert!(is_error(&r), "all models failed: {}", dump(&r));
    assert!(!text(&r).is_empty());
}

#[tokio::test]
async fn compare_models_one_slow_model_times_out_alone() {
    let fake = crate::fake_upstream::FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_TIMEOUT_SECS", "0.5")
        .start()
        .await;
    let started = Instant::now();
    let r = server
        .call(
            "compare_models",
            json!({"models": ["slow", "gpt-4.1"], "prompt": "hi"}),
        )
        .await;
    let elapsed = started.elapsed();
    let v = expect_ok(&r);
    let res = results(&v);
    assert_eq!(res[0]["ok"], false);
    assert_mentions(res[0]["error"].as_str().unwrap_or_default(), &["timed out"]);
    assert_eq!(res[1]["ok"], true);
    assert_eq!(v["summary"]["fastest"], "gpt-4.1");
    assert!(
        elapsed.as_secs_f64() < 4.5,
        "the 0.5 s timeout should cut the slow model short, took {elapsed:?}"
    );
}

#[tokio::test]
async fn compare_models_calls_the_models_concurrently() {
    // Each `rendezvous-*` request is held by the fake until its partner
    // arrives, so only concurrent calls can both succeed.
    let fake = crate::fake_upstream::FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_TIMEOUT_SECS", "8")
        .start()
        .await;
    let r = server
        .call(
            "compare_models",
            json!({"models": ["rendezvous-a", "rendezvous-b"], "prompt": "hi"}),
        )
        .await;
    let v = expect_ok(&r);
    for x in results(&v) {
        assert_eq!(x["ok"], true, "models were not called concurrently: {v:#}");
    }
}

#[tokio::test]
async fn compare_models_needs_at_least_two_models() {
    let (fake, server) = start_with_fake().await;
    let msg = server
        .call_expecting_error(
            "compare_models",
            json!({"models": ["gpt-4.1"], "prompt": "hi"}),
        )
        .await;
    assert!(!msg.is_empty());
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn compare_models_accepts_at_most_ten_models() {
    let (fake, server) = start_with_fake().await;
    let eleven: Vec<String> = (0..11).map(|i| format!("model-{i}")).collect();
    let msg = server
        .call_expecting_error("compare_models", json!({"models": eleven, "prompt": "hi"}))
        .await;
    assert!(!msg.is_empty());
    assert!(fake.chat_requests().is_empty());

    let ten: Vec<String> = (0..10).map(|i| format!("model-{i}")).collect();
    let v = expect_ok(
        &server
            .call("compare_models", json!({"models": ten, "prompt": "hi"}))
            .await,
    );
    let res = results(&v);
    assert_eq!(res.len(), 10);
    for (i, x) in res.iter().enumerate() {
        assert_eq!(x["model"], format!("model-{i}"));
        assert_eq!(x["ok"], true);
    }
    assert_eq!(fake.chat_requests().len(), 10);
}
