//! The `chat` tool.

use serde_json::{Value, json};

use crate::fake_upstream::GATEWAY_COST;
use crate::util::*;

#[tokio::test]
async fn chat_returns_answer_usage_and_catalog_cost() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call("chat", json!({"model": "gpt-4.1", "prompt": "hello there"}))
        .await;
    let v = expect_ok(&r);

    assert_eq!(v["content"], "echo: hello there", "{v:#}");
    assert_eq!(v["model"], "gpt-4.1");
    assert_eq!(v["requested_model"], "gpt-4.1");
    assert_eq!(v["finish_reason"], "stop");
    assert_standard_usage(&v);
    assert_eq!(v["cost_source"], "catalog");
    // 1000 × 1.40/1e6 + 2000 × 5.60/1e6
    assert_close(&v["cost_usd"], 0.0126);
    assert_close(&v["cost_usd"], catalog_cost(1.40, 5.60));
    assert!(
        v["latency_ms"].is_u64(),
        "latency_ms must be a non-negative integer: {v:#}"
    );
    assert!(
        v.get("tool_calls").is_none() || v["tool_calls"] == json!([]) || v["tool_calls"].is_null(),
        "tool_calls only when the model made some: {v:#}"
    );

    let req = &fake.chat_requests()[0];
    assert_eq!(req.authorization(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(req.body["model"], "gpt-4.1");
    assert_eq!(
        req.body["messages"],
        json!([{"role": "user", "content": "hello there"}])
    );
    assert_eq!(fake.chat_requests().len(), 1);
}

#[tokio::test]
async fn chat_resolves_aliases_before_sending_upstream() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "chat",
            json!({"model": "claude-sonnet-4-5", "prompt": "hi"}),
        )
        .await;
    let v = expect_ok(&r);

    assert_eq!(fake.only_chat_body()["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(v["requested_model"], "claude-sonnet-4-5-20250929");
    assert_eq!(v["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(v["cost_source"], "catalog");
    // 1000 × 3/1e6 + 2000 × 15/1e6
    assert_close(&v["cost_usd"], 0.033);
}

#[tokio::test]
async fn chat_sends_system_prompt_before_user_prompt() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "chat",
            json!({"model": "gpt-4o", "system": "Answer tersely.", "prompt": "What is 2+2?"}),
        )
        .await;
    let v = expect_ok(&r);
    assert_eq!(v["content"], "echo: What is 2+2?");

    let body = fake.only_chat_body();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "Answer tersely."},
            {"role": "user", "content": "What is 2+2?"}
        ])
    );
}

#[tokio::test]
async fn chat_passes_sampling_parameters_through() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "chat",
            json!({
                "model": "gpt-4.1-mini",
                "prompt": "list three colours",
                "temperature": 0.3,
                "max_tokens": 50,
                "top_p": 0.9,
                "frequency_penalty": 0.1,
                "presence_penalty": 0.2,
                "stop": ["END", "STOP"],
                "response_format": {"type": "json_object"}
            }),
        )
        .await;
    expect_ok(&r);

    let body = fake.only_chat_body();
    assert_param(&body["temperature"], 0.3);
    assert_eq!(body["max_tokens"], 50, "{body:#}");
    assert_param(&body["top_p"], 0.9);
    assert_param(&body["frequency_penalty"], 0.1);
    assert_param(&body["presence_penalty"], 0.2);
    assert_eq!(body["stop"], json!(["END", "STOP"]));
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
}

#[tokio::test]
async fn chat_accepts_stop_as_a_single_string() {
    let (fake, server) = start_with_fake().await;
    let r = server
        .call(
            "chat",
            json!({"model": "gpt-4.1", "prompt": "count", "stop": "END"}),
        )
        .await;
    expect_ok(&r);
    let stop = fake.only_chat_body()["stop"].clone();
    assert!(
        stop == json!("END") || stop == json!(["END"]),
        "stop should reach upstream as \"END\" or [\"END\"], got {stop}"
    );
}

#[tokio::test]
async fn chat_omits_unset_parameters_upstream() {
    let (fake, server) = start_with_fake().await;
    expect_ok(
        &server
            .call("chat", json!({"model": "gpt-4.1", "prompt": "x"}))
            .await,
    );
    let body = fake.only_chat_body();
    for key in [
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "stop",
        "response_format",
        "tools",
        "tool_choice",
    ] {
        assert!(
            body.get(key).is_none_or(Value::is_null),
            "{key} was not given and should not be sent: {body:#}"
        );
    }
    // rmcp's client puts a progress token on every request, so this call streams (a call
    // without one is in streaming.rs).
    assert_eq!(body["stream"], json!(true), "{body:#}");
    assert_eq!(
        body["stream_options"],
        json!({"include_usage": true}),
        "{body:#}"
    );
}

#[tokio::test]
async fn chat_passes_tools_and_tool_choice_through() {
    let (fake, server) = start_with_fake().await;
    let tools = json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"]
            }
        }
    }]);
    let tool_choice = json!({"type": "function", "function": {"name": "get_weather"}});
    let r = server
        .call(
            "chat",
            json!({
                "model": "gpt-4.1",
                "prompt": "weather in Paris?",
                "tools": tools,
                "tool_choice": tool_choice
            }),
        )
        .await;
    expect_ok(&r);

    let body = fake.only_chat_body();
    assert_eq!(body["tools"], tools);
    assert_eq!(body["tool_choice"], tool_choice);
}

#[tokio::test]
async fn chat_passes_legacy_functions_and_function_call_through() {
    let (fake, server) = start_with_fake().await;
    let functions = json!([{
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}
    }]);
    let r = server
        .call(
            "chat",
            json!({
                "model": "gpt-4.1",
                "prompt": "weather?",
                "functions": functions,
                "function_call": "auto"
            }),
        )
        .await;
    expect_ok(&r);
    let body = fake.only_chat_body();
    assert_eq!(body["functions"], functions);
    assert_eq!(body["function_call"], "auto");
}

#[tokio::test]
async fn chat_returns_tool_calls_from_the_model() {
    let (_fake, server) = start_with_fake().await;
    let r = server
        .call(
            "chat",
            json!({"model": "tool-caller", "prompt": "weather in Paris?"}),
        )
        .await;
    let v = expect_ok(&r);

    assert_eq!(v["finish_reason"], "tool_calls");
    let calls = v["tool_calls"]
        .as_array()
        .unwrap_or_else(|| panic!("tool_calls missing: {v:#}"));
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["id"], "call_abc123");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(
        calls[0]["function"]["arguments"]
            .as_str()
            .expect("arguments is a JSON string"),
    )
    .expect("arguments parse as JSON");
    assert_eq!(args, json!({"city": "Paris"}));
    // `content` is a string in the contract; with a null upstream content it
    // should come back as an empty string.
    assert!(
        v["content"].as_str().is_some_and(str::is_empty),
        "content should be an empty string when the model only called tools: {v:#}"
    );
}

#[tokio::test]
async fn chat_forwards_a_full_message_history() {
    let (fake, server) = start_with_fake().await;
    let messages = json!([
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}
        }]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "18C and sunny"},
        {"role": "user", "content": "And should I take an umbrella?"}
    ]);
    let r = server
        .call("chat", json!({"model": "gpt-4.1", "messages": messages}))
        .await;
    let v = expect_ok(&r);
    assert_eq!(v["content"], "echo: And should I take an umbrella?");

    let sent = fake.only_chat_body()["messages"].clone();
    let sent = sent.as_array().expect("messages array");
    assert_eq!(sent.len(), 5, "{sent:#?}");
    let roles: Vec<_> = sent.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
    assert_eq!(sent[2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(sent[2]["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(sent[3]["tool_call_id"], "call_1");
    assert_eq!(sent[3]["content"], "18C and sunny");
    assert_eq!(sent[4]["content"], "And should I take an umbrella?");
}

#[tokio::test]
async fn chat_reports_gateway_cost_when_upstream_provides_it() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call("chat", json!({"model": "gateway-cost", "prompt": "hi"}))
            .await,
    );
    assert_eq!(v["cost_source"], "gateway");
    assert_close(&v["cost_usd"], GATEWAY_COST);
}

#[tokio::test]
async fn chat_prefers_gateway_cost_over_catalog_price() {
    let (_fake, server) = start_with_fake().await;
    // The fake answers as gpt-4.1 (a catalog model) but also reports
    // usage.cost: the gateway's figure wins.
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "gateway-cost-as:gpt-4.1", "prompt": "hi"}),
            )
            .await,
    );
    assert_eq!(v["model"], "gpt-4.1");
    assert_eq!(v["cost_source"], "gateway");
    assert_close(&v["cost_usd"], GATEWAY_COST);
}

#[tokio::test]
async fn chat_cost_is_unknown_for_models_outside_the_catalog() {
    let (fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "brand-new-model-7b", "prompt": "hi"}),
            )
            .await,
    );
    // Unknown names are forwarded upstream as-is.
    assert_eq!(fake.only_chat_body()["model"], "brand-new-model-7b");
    assert_eq!(v["requested_model"], "brand-new-model-7b");
    assert_eq!(v["model"], "brand-new-model-7b");
    assert_eq!(v["content"], "echo: hi");
    assert_eq!(v["cost_source"], "unknown");
    assert!(
        v.get("cost_usd").is_none_or(Value::is_null),
        "cost_usd must be absent when unknown: {v:#}"
    );
    assert_standard_usage(&v);
}

#[tokio::test]
async fn chat_without_usage_has_unknown_cost() {
    let (_fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call("chat", json!({"model": "no-usage", "prompt": "hi"}))
            .await,
    );
    assert_eq!(v["content"], "echo: hi");
    assert_eq!(v["cost_source"], "unknown");
    assert!(
        v.get("cost_usd").is_none_or(Value::is_null),
        "cost_usd must be absent when unknown: {v:#}"
    );
}

#[tokio::test]
async fn chat_reports_the_model_as_served_and_prices_it() {
    let (fake, server) = start_with_fake().await;
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "served-as:gpt-4o-mini", "prompt": "hi"}),
            )
            .await,
    );
    assert_eq!(fake.only_chat_body()["model"], "served-as:gpt-4o-mini");
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["requested_model"], "served-as:gpt-4o-mini");
    assert_eq!(v["cost_source"], "catalog");
    // Priced as the served model: 1000 × 0.105/1e6 + 2000 × 0.42/1e6
    assert_close(&v["cost_usd"], 0.000945);
}

#[tokio::test]
async fn chat_prices_the_served_model_rather_than_the_requested_one() {
    let (_fake, server) = start_with_fake().await;
    // Asked for an alias of an Anthropic model, but the gateway says it
    // served claude-opus: the served model's price applies.
    let v = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "served-as:claude-opus-4-1-20250805", "prompt": "hi"}),
            )
            .await,
    );
    assert_eq!(v["model"], "claude-opus-4-1-20250805");
    assert_eq!(v["cost_source"], "catalog");
    assert_close(&v["cost_usd"], catalog_cost(15.0, 75.0));
}

#[tokio::test]
async fn chat_uses_a_default_model_when_none_is_given() {
    let (fake, server) = start_with_fake().await;
    let v = expect_ok(&server.call("chat", json!({"prompt": "hi"})).await);
    let sent = fake.only_chat_body()["model"].clone();
    let sent = sent.as_str().expect("model sent upstream");
    assert!(!sent.is_empty());
    assert_eq!(v["requested_model"], sent);
    assert_eq!(v["content"], "echo: hi");
    assert_eq!(
        v["cost_source"], "catalog",
        "the default model should be a catalog model: {v:#}"
    );
}

#[tokio::test]
async fn chat_requires_a_prompt_or_messages() {
    let (fake, server) = start_with_fake().await;
    let msg = server
        .call_expecting_error("chat", json!({"model": "gpt-4.1"}))
        .await;
    assert!(!msg.is_empty());
    assert!(
        fake.chat_requests().is_empty(),
        "nothing should be sent upstream without a prompt"
    );
}

#[tokio::test]
async fn chat_catalog_costs_match_the_price_table() {
    let (_fake, server) = start_with_fake().await;
    let table = AISA_PRICES;
    for (model, input, output) in table {
        let r = server
            .call("chat", json!({"model": model, "prompt": "hi"}))
            .await;
        let v = expect_ok(&r);
        assert_eq!(v["cost_source"], "catalog", "{model}: {v:#}");
        let got = v["cost_usd"].as_f64().unwrap_or(f64::NAN);
        let want = catalog_cost(*input, *output);
        assert!(
            (got - want).abs() < EPS,
            "{model}: expected cost {want}, got {got}"
        );
    }
}
