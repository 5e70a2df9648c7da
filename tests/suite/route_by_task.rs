//! The `route_by_task` tool.

use serde_json::{Value, json};

use crate::util::*;

const TASKS: &[&str] = &[
    "code",
    "creative",
    "fast",
    "cheap",
    "vision",
    "reasoning",
    "chinese",
    "long_context",
    "general",
];

/// Check the routing fields every answer carries; returns the chosen model.
fn check_plan(v: &Value, task: &str) -> String {
    let chosen = v["chosen_model"]
        .as_str()
        .unwrap_or_else(|| panic!("chosen_model missing: {v:#}"))
        .to_owned();
    assert!(!chosen.is_empty());
    assert_eq!(v["task"], task, "{v:#}");
    assert!(
        v["reason"].as_str().is_some_and(|r| !r.trim().is_empty()),
        "reason must be a non-empty string: {v:#}"
    );
    let chain = v["fallback_chain"]
        .as_array()
        .unwrap_or_else(|| panic!("fallback_chain missing: {v:#}"));
    assert!(
        !chain.is_empty(),
        "fallback_chain is empty for {task}: {v:#}"
    );
    for m in chain {
        let m = m.as_str().expect("fallback ids are strings");
        assert!(!m.is_empty());
        assert_ne!(
            m, chosen,
            "fallback_chain must not include the chosen model"
        );
    }
    chosen
}

async fn ids_with(server: &Server, args: Value) -> Vec<String> {
    let v = expect_ok(&server.call("list_models", args).await);
    v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn route_by_task_dry_run_explains_without_calling_the_model() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "route_by_task",
            json!({"task": "code", "prompt": "Write fizzbuzz in Rust", "dry_run": true}),
        )
        .await;
    let v = expect_ok(&r);
    check_plan(&v, "code");
    assert!(
        fake.chat_requests().is_empty(),
        "dry_run must not send a chat request: {:#?}",
        fake.chat_requests()
    );
}

#[tokio::test]
async fn route_by_task_cheap_picks_the_cheapest_catalog_model() {
    let (fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call(
                "route_by_task",
                json!({"task": "cheap", "prompt": "hi", "dry_run": true}),
            )
            .await,
    );
    let chosen = check_plan(&v, "cheap");
    assert_eq!(chosen, "gemini-2.5-flash-lite");
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn route_by_task_code_answers_through_the_chosen_model() {
    let (fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call(
                "route_by_task",
                json!({"task": "code", "prompt": "write fizzbuzz", "temperature": 0.1, "max_tokens": 300}),
            )
            .await,
    );
    let chosen = check_plan(&v, "code");
    assert_eq!(v["content"], "echo: write fizzbuzz", "{v:#}");
    assert_eq!(v["model"], chosen);
    assert_standard_usage(&v);
    assert_eq!(v["cost_source"], "catalog");
    assert!(v["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "{v:#}");
    assert!(v["latency_ms"].is_u64());

    let body = fake.only_chat_body();
    assert_eq!(body["model"], chosen);
    assert_param(&body["temperature"], 0.1);
    assert_eq!(body["max_tokens"], 300);
}

#[tokio::test]
async fn route_by_task_passes_system_and_messages_through() {
    let (fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call(
                "route_by_task",
                json!({
                    "task": "general",
                    "system": "Be kind.",
                    "messages": [
                        {"role": "user", "content": "hello"},
                        {"role": "assistant", "content": "hi!"},
                        {"role": "user", "content": "how are you?"}
                    ]
                }),
            )
            .await,
    );
    assert_eq!(v["content"], "echo: how are you?");
    let sent = fake.only_chat_body()["messages"].clone();
    let sent = sent.as_array().unwrap();
    assert_eq!(sent[0], json!({"role": "system", "content": "Be kind."}));
    assert_eq!(sent.last().unwrap()["content"], "how are you?");
    assert_eq!(sent.len(), 4, "{sent:#?}");
}

#[tokio::test]
async fn route_by_task_has_a_plan_for_every_task() {
    let (fake, server) = start_with_fake().await;
    let vision_models = ids_with(&server, json!({"capability": "vision"})).await;
    let reasoning_models = ids_with(&server, json!({"capability": "reasoning"})).await;
    for task in TASKS {
        let v = expect_ok(
            &server
                .call(
                    "route_by_task",
                    json!({"task": task, "prompt": "hi", "dry_run": true}),
                )
                .await,
        );
        let chosen = check_plan(&v, task);
        if *task == "vision" {
            assert!(
                vision_models.contains(&chosen),
                "vision task routed to {chosen}, which is not vision-capable"
            );
        }
        if *task == "reasoning" {
            assert!(
                reasoning_models.contains(&chosen),
                "reasoning task routed to {chosen}, which is not a reasoning model"
            );
        }
    }
    assert!(fake.chat_requests().is_empty());
}

#[tokio::test]
async fn route_by_task_rejects_unknown_tasks_listing_valid_ones() {
    let (fake, server) = start_with_fake().await;
    let msg = server
        .call_expecting_error("route_by_task", json!({"task": "juggling", "prompt": "hi"}))
        .await;
    assert_mentions(&msg, &["code", "cheap", "reasoning", "long_context"]);
    assert!(fake.chat_requests().is_empty());
}
