//! The `list_models` tool.

use serde_json::{Value, json};

use crate::fake_upstream::FakeUpstream;
use crate::util::*;

fn models(v: &Value) -> Vec<Value> {
    v["models"]
        .as_array()
        .unwrap_or_else(|| panic!("models array missing: {v:#}"))
        .clone()
}

fn find<'a>(models: &'a [Value], id: &str) -> Option<&'a Value> {
    models.iter().find(|m| m["id"] == id)
}

fn ids(models: &[Value]) -> Vec<String> {
    models
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_models_merges_the_live_list_with_the_catalog() {
    let (fake, server) = start_with_fake().await;
    let v = expect_ok(&server.call("list_models", json!({})).await);
    assert_eq!(v["live"], true, "{v:#}");
    assert!(v["note"].is_string(), "note is a string: {v:#}");
    let ms = models(&v);

    let kimi = find(&ms, "kimi-k2").unwrap_or_else(|| panic!("kimi-k2 missing: {:?}", ids(&ms)));
    assert_eq!(kimi["in_catalog"], false);
    assert_eq!(kimi["available"], true);

    let gpt41 = find(&ms, "gpt-4.1").expect("gpt-4.1 listed");
    assert_eq!(gpt41["available"], true);
    assert_eq!(gpt41["in_catalog"], true);
    assert_eq!(gpt41["family"], "openai");
    assert_close(&gpt41["input_price"], 1.40);
    assert_close(&gpt41["output_price"], 5.60);
    for flag in ["vision", "tools", "reasoning"] {
        assert!(gpt41[flag].is_boolean(), "{flag} must be a bool: {gpt41:#}");
    }

    // A catalog model the gateway did not list is still shown, not available.
    let opus = find(&ms, "claude-opus-4-1-20250805").expect("catalog models are listed");
    assert_eq!(opus["in_catalog"], true);
    assert_ne!(opus["available"], true, "{opus:#}");

    for (id, input, output) in AISA_PRICES {
        let m = find(&ms, id).unwrap_or_else(|| panic!("catalog model {id} missing"));
        assert_close(&m["input_price"], *input);
        assert_close(&m["output_price"], *output);
    }

    let listing = fake.models_requests();
    assert!(!listing.is_empty(), "GET /v1/models was not called");
    assert_eq!(
        listing[0].authorization(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn list_models_filters_by_vision_capability() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call("list_models", json!({"capability": "vision"}))
            .await,
    );
    let ms = models(&v);
    assert!(!ms.is_empty());
    for m in &ms {
        assert_eq!(m["vision"], true, "{m:#}");
        assert_ne!(
            m["family"], "deepseek",
            "deepseek models have no vision: {m:#}"
        );
    }
    assert!(find(&ms, "gpt-4o").is_some(), "{:?}", ids(&ms));
    assert!(find(&ms, "deepseek-v3.2").is_none());
}

#[tokio::test]
async fn list_models_filters_by_reasoning_and_tools_capability() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call("list_models", json!({"capability": "reasoning"}))
            .await,
    );
    let ms = models(&v);
    assert!(find(&ms, "deepseek-r1").is_some(), "{:?}", ids(&ms));
    assert!(ms.iter().all(|m| m["reasoning"] == true), "{v:#}");

    let v = expect_ok(
        &server
            .call("list_models", json!({"capability": "tools"}))
            .await,
    );
    let ms = models(&v);
    assert!(!ms.is_empty());
    assert!(ms.iter().all(|m| m["tools"] == true), "{v:#}");
}

#[tokio::test]
async fn list_models_filters_by_max_input_price() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call("list_models", json!({"max_input_price": 0.2}))
            .await,
    );
    let ms = models(&v);
    for m in &ms {
        let price = m["input_price"]
            .as_f64()
            .unwrap_or_else(|| panic!("price filter returned a model without a price: {m:#}"));
        assert!(price <= 0.2 + EPS, "{m:#}");
    }
    let got = ids(&ms);
    for cheap in ["gemini-2.5-flash-lite", "gpt-4o-mini", "gpt-5-mini"] {
        assert!(
            got.iter().any(|id| id == cheap),
            "{cheap} missing from {got:?}"
        );
    }
    for pricey in ["gpt-4.1", "claude-sonnet-4-5-20250929", "deepseek-v3.2"] {
        assert!(
            !got.iter().any(|id| id == pricey),
            "{pricey} should be filtered out"
        );
    }
}

#[tokio::test]
async fn list_models_filters_by_family() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call("list_models", json!({"family": "anthropic"}))
            .await,
    );
    let ms = models(&v);
    assert!(
        find(&ms, "claude-sonnet-4-5-20250929").is_some(),
        "{:?}",
        ids(&ms)
    );
    assert!(find(&ms, "claude-haiku-4-5-20251001").is_some());
    for m in &ms {
        assert_eq!(m["family"], "anthropic", "{m:#}");
    }
}

#[tokio::test]
async fn list_models_combines_filters() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call(
                "list_models",
                json!({"family": "google", "capability": "vision", "max_input_price": 0.5}),
            )
            .await,
    );
    let got = ids(&models(&v));
    assert!(got.iter().any(|id| id == "gemini-2.5-flash"), "{got:?}");
    assert!(
        got.iter().any(|id| id == "gemini-2.5-flash-lite"),
        "{got:?}"
    );
    assert!(!got.iter().any(|id| id == "gemini-2.5-pro"), "{got:?}");
    assert!(got.iter().all(|id| id.starts_with("gemini")), "{got:?}");
}

#[tokio::test]
async fn list_models_falls_back_to_the_catalog_when_the_gateway_fails() {
    let fake = FakeUpstream::start().await;
    fake.set_models_failing(true);
    let server = Server::for_upstream(&fake).await;
    let v = expect_ok(&server.call("list_models", json!({})).await);
    assert_eq!(v["live"], false, "{v:#}");
    let note = v["note"].as_str().expect("note string").to_lowercase();
    assert!(
        note.contains("offline") || note.contains("catalog"),
        "note should say the list is catalog-only: {note}"
    );
    let ms = models(&v);
    for (id, _, _) in AISA_PRICES {
        let m = find(&ms, id).unwrap_or_else(|| panic!("catalog model {id} missing offline"));
        assert_eq!(m["in_catalog"], true);
        assert_ne!(
            m["available"], true,
            "nothing is known available offline: {m:#}"
        );
    }
    assert!(find(&ms, "kimi-k2").is_none());
    assert!(!fake.models_requests().is_empty());
}

#[tokio::test]
async fn list_models_works_when_the_gateway_is_unreachable() {
    let server = ServerBuilder::new()
        .env(
            "AISA_BASE_URL",
            format!("http://127.0.0.1:{}/v1", closed_port()),
        )
        .env("AISA_API_KEY", KEY)
        .start()
        .await;
    let v = expect_ok(&server.call("list_models", json!({})).await);
    assert_eq!(v["live"], false);
    let ms = models(&v);
    for (id, _, _) in AISA_PRICES {
        assert!(find(&ms, id).is_some(), "catalog model {id} missing: {v:#}");
    }
    assert!(ms.iter().all(|m| m["in_catalog"] == true), "{v:#}");
}

#[tokio::test]
async fn list_models_filters_apply_offline_too() {
    let fake = FakeUpstream::start().await;
    fake.set_models_failing(true);
    let server = Server::for_upstream(&fake).await;
    let v = expect_ok(
        &server
            .call("list_models", json!({"family": "deepseek"}))
            .await,
    );
    let ms = models(&v);
    for id in ["deepseek-r1", "deepseek-v3.1", "deepseek-v3.2"] {
        assert!(find(&ms, id).is_some(), "{id} missing: {:?}", ids(&ms));
    }
    assert!(ms.iter().all(|m| m["family"] == "deepseek"), "{v:#}");
}
