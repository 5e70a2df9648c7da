//! Budgets (refuse, downgrade, per session, across processes, compare_models' sum) and the
//! response cache.
//!
//! The fake answers every call with 1000 prompt + 2000 completion tokens, so a gpt-4.1 call
//! costs $0.0126 whatever its `max_tokens`; the budget's estimate, made before the call, uses
//! `max_tokens` (or 4096) at the output price.

use serde_json::json;

use crate::fake_upstream::FakeUpstream;
use crate::http::{HttpServer, http, mcp_client};
use crate::ledger::ledger_rows;
use crate::util::*;

#[tokio::test]
async fn per_call_limit_refuses_with_the_budget_and_the_estimate() {
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_BUDGET_PER_CALL_MAX_USD", "0.01")
        .start()
        .await;
    // No max_tokens: ("hi" is ~5 tokens × $1.40 + 4096 × $5.60) / 1M = $0.0229446 > $0.01.
    let e = server
        .call_expecting_error("chat", json!({"model": "gpt-4.1", "prompt": "hi"}))
        .await;
    assert_mentions(
        &e,
        &[
            "over budget",
            "per-call-max budget is $0.01",
            "could cost up to $0.022945 (gpt-4.1: ~5 prompt tokens + 4096 output tokens)",
            "4096 output tokens",
            "LLM_ROUTER_BUDGET_PER_CALL_MAX_USD",
            "max_tokens",
        ],
    );
    assert!(
        fake.chat_requests().is_empty(),
        "a refused call is not sent"
    );
    // 1000 × $5.60/1M = $0.0056 fits.
    expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "gpt-4.1", "prompt": "hi", "max_tokens": 1000}),
            )
            .await,
    );
    assert_eq!(
        ledger_rows(&server.ledger_path()).len(),
        1,
        "refusals are not attempts"
    );
}

#[tokio::test]
async fn downgrade_picks_the_cheapest_catalog_model_that_fits_and_says_so() {
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_BUDGET_PER_CALL_MAX_USD", "0.002")
        .env("LLM_ROUTER_BUDGET_ON_EXCEED", "downgrade")
        .start()
        .await;
    let r = server
        .call(
            "chat",
            json!({"model": "gpt-4.1", "prompt": "hi", "fallback_models": ["gpt-5"]}),
        )
        .await;
    let v = expect_ok(&r);
    // 4096 × $0.28/1M ≈ $0.00115: the catalog's lowest output price (gemini-2.5-flash-lite).
    assert_eq!(v["requested_model"], "gemini-2.5-flash-lite", "{v:#}");
    assert_eq!(fake.only_chat_body()["model"], "gemini-2.5-flash-lite");
    let first = &v["attempts"][0];
    assert_eq!(first["model"], "gpt-4.1");
    assert_eq!(first["outcome"], "skipped_budget");
    assert_mentions(
        first["error"].as_str().unwrap(),
        &["per-call-max", "$0.002"],
    );
    assert_mentions(&text(&r), &["downgraded from gpt-4.1"]);
    assert_eq!(
        v["attempts"].as_array().unwrap().len(),
        2,
        "no fallback to gpt-5"
    );

    // Nothing in the catalog fits $0.002 with 100k output tokens: refused, saying so.
    let e = server
        .call_expecting_error(
            "chat",
            json!({"model": "gpt-4.1", "prompt": "hi", "max_tokens": 100000}),
        )
        .await;
    assert_mentions(&e, &["over budget", "no catalog model"]);
}

#[tokio::test]
async fn compare_models_is_checked_as_the_sum_of_its_models() {
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_BUDGET_PER_CALL_MAX_USD", "0.03")
        .start()
        .await;
    // 1500 output tokens: gpt-4.1 $0.0084 and claude-sonnet-4-5 $0.0225 each fit $0.03;
    // together ($0.0309) they do not.
    let e = server
        .call_expecting_error(
            "compare_models",
            json!({"models": ["gpt-4.1", "claude-sonnet-4-5"], "prompt": "hi", "max_tokens": 1500}),
        )
        .await;
    assert_mentions(&e, &["over budget", "2 models", "$0.03"]);
    assert!(fake.chat_requests().is_empty());
    expect_ok(
        &server
            .call(
                "compare_models",
                json!({"models": ["gpt-4.1", "claude-sonnet-4-5"], "prompt": "hi", "max_tokens": 1000}),
            )
            .await,
    );
    assert_eq!(fake.chat_requests().len(), 2);
}

#[tokio::test]
async fn budgets_hold_across_processes_and_sessions() {
    let fake = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.db").display().to_string();
    let start = |envs: &[(&str, &str)]| {
        let mut b = ServerBuilder::new()
            .upstream(&fake)
            .env("LLM_ROUTER_LEDGER_PATH", path.clone());
        for (k, v) in envs {
            b = b.env(k, *v);
        }
        b.start()
    };
    let small = |p: &str| json!({"model": "gpt-4.1", "prompt": p, "max_tokens": 10});

    // Process A (no budget) spends $0.0252.
    let a = start(&[]).await;
    expect_ok(&a.call("chat", small("a1")).await);
    expect_ok(&a.call("chat", small("a2")).await);

    // Process B's daily budget sees A's spend in the shared ledger.
    let b = start(&[("LLM_ROUTER_BUDGET_DAILY_USD", "0.03")]).await;
    let e = b
        .call_expecting_error(
            "chat",
            json!({"model": "gpt-4.1", "prompt": "b1", "max_tokens": 1000}),
        )
        .await;
    assert_mentions(
        &e,
        &[
            "daily budget is $0.03",
            "$0.0252 is spent today (UTC)",
            "could cost up to $0.0056",
        ],
    );
    expect_ok(&b.call("chat", small("b2")).await);
    let usage = expect_ok(&b.call("usage", json!({})).await);
    let limit = &usage["budget"]["limits"][0];
    assert_eq!(limit["name"], "daily", "{usage:#}");
    assert_close(&limit["spent_usd"], 0.0378);
    assert_eq!(usage["budget"]["on_exceed"], "refuse");

    // A session budget counts this session only: C's second call fits, its third does not;
    // a new process (a new session) starts again at zero.
    let c = start(&[("LLM_ROUTER_BUDGET_SESSION_USD", "0.02")]).await;
    expect_ok(&c.call("chat", small("c1")).await);
    expect_ok(&c.call("chat", small("c2")).await);
    let e = c.call_expecting_error("chat", small("c3")).await;
    assert_mentions(
        &e,
        &[
            "session budget is $0.02",
            "$0.0252 is spent in this session",
        ],
    );
    let c2 = start(&[("LLM_ROUTER_BUDGET_SESSION_USD", "0.02")]).await;
    expect_ok(&c2.call("chat", small("c4")).await);
    assert_eq!(ledger_rows(dir.path().join("usage.db").as_path()).len(), 6);
}

#[tokio::test]
async fn deterministic_calls_are_answered_from_the_cache() {
    let (fake, server) = start_with_fake().await;
    let ask = |args| server.call("chat", args);
    let zero = json!({"model": "gpt-4.1", "prompt": "same", "temperature": 0});
    let first = expect_ok(&ask(zero.clone()).await);
    let r = ask(zero.clone()).await;
    let hit = expect_ok(&r);
    assert_eq!(hit["cached"], true);
    assert_eq!(hit["cost_usd"], 0.0);
    assert_eq!(hit["cost_source"], "cache");
    assert_eq!(hit["content"], first["content"]);
    assert_eq!(hit["attempts"], json!([]), "no upstream attempt");
    assert_mentions(&text(&r), &["from the cache"]);
    assert_eq!(fake.chat_requests().len(), 1);

    // Another prompt, another parameter, or a non-zero temperature is a new request.
    expect_ok(&ask(json!({"model": "gpt-4.1", "prompt": "other", "temperature": 0})).await);
    expect_ok(
        &ask(json!({"model": "gpt-4.1", "prompt": "same", "temperature": 0, "max_tokens": 9}))
            .await,
    );
    let warm = json!({"model": "gpt-4.1", "prompt": "same", "temperature": 0.7});
    expect_ok(&ask(warm.clone()).await);
    expect_ok(&ask(warm).await);
    assert_eq!(fake.chat_requests().len(), 5);

    // cache: true opts in at any temperature; cache: false opts out at 0.
    let opted = json!({"model": "gpt-4.1", "prompt": "opt", "temperature": 0.9, "cache": true});
    expect_ok(&ask(opted.clone()).await);
    assert_eq!(expect_ok(&ask(opted).await)["cached"], true);
    let out = json!({"model": "gpt-4.1", "prompt": "same", "temperature": 0, "cache": false});
    assert_eq!(expect_ok(&ask(out).await).get("cached"), None);
    assert_eq!(fake.chat_requests().len(), 7);
    assert!(
        fake.chat_requests()
            .iter()
            .all(|r| r.body.get("cache").is_none()),
        "cache is not sent upstream"
    );

    // compare_models' per-model calls use the cache too.
    let cmp = json!({"models": ["gpt-4.1", "deepseek-v3.2"], "prompt": "same", "temperature": 0});
    expect_ok(&server.call("compare_models", cmp.clone()).await);
    let again = expect_ok(&server.call("compare_models", cmp).await);
    assert_eq!(
        fake.chat_requests().len(),
        8,
        "only deepseek-v3.2 was asked, once"
    );
    assert_eq!(again["results"][1]["cost_source"], "cache");
    assert_eq!(again["summary"]["total_cost_usd"], 0.0);
}

#[tokio::test]
async fn cache_settings_apply_and_hits_are_counted_in_metrics_over_http() {
    let fake = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[cache]\nmax_entries = 1\nttl_secs = 3600\n").unwrap();
    let config = config.display().to_string();
    let ledger = dir.path().join("usage.db");
    let ledger_env = ledger.display().to_string();
    let server = HttpServer::start(
        &fake,
        &["--config", &config],
        &[("LLM_ROUTER_LEDGER_PATH", &ledger_env)],
    )
    .await;
    let client = mcp_client(&server, None).await;
    let ask = async |prompt: &str| {
        let args = json!({"model": "gpt-4.1", "prompt": prompt, "temperature": 0});
        let params = rmcp::model::CallToolRequestParams::new("chat")
            .with_arguments(args.as_object().unwrap().clone());
        let r = client.call_tool(params).await.expect("tools/call");
        expect_ok(&r).get("cached").cloned()
    };
    assert_eq!(ask("one").await, None);
    assert_eq!(ask("one").await, Some(json!(true)));
    assert_eq!(
        ask("two").await,
        None,
        "evicts one: the cache holds 1 entry"
    );
    assert_eq!(ask("one").await, None);
    assert_eq!(fake.chat_requests().len(), 3);
    let text = http()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l == r#"llm_router_cache_hits_total{model="gpt-4.1"} 1"#),
        "{text}"
    );
    // Each HTTP session has its own id in the ledger (the session budget counts per session).
    let other = mcp_client(&server, None).await;
    let args = json!({"model": "gpt-4.1", "prompt": "three"});
    let params = rmcp::model::CallToolRequestParams::new("chat")
        .with_arguments(args.as_object().unwrap().clone());
    expect_ok(&other.call_tool(params).await.expect("tools/call"));
    let rows = ledger_rows(&ledger);
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0].session, rows[3].session);
    assert_ne!(rows[0].session, rows[4].session);
    let _ = client.cancel().await;
    let _ = other.cancel().await;
}
