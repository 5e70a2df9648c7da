//! The `route_by_task` tool: explicit tasks, `task: "auto"` (a table of prompts pinning the
//! classified task and the chosen model), constraints, `prefer`, cost estimates and dry runs.

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
    assert_mentions(
        &msg,
        &["auto", "code", "cheap", "reasoning", "long_context"],
    );
    assert!(fake.chat_requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// task: "auto"

/// A dry-run decision for `args` (with `dry_run: true` added).
async fn plan(server: &Server, mut args: Value) -> Value {
    args["dry_run"] = json!(true);
    expect_ok(&server.call("route_by_task", args).await)
}

const CODE: &str = "claude-sonnet-4-5-20250929";
const CHINESE: &str = "qwen3-max";
const FAST: &str = "gemini-2.5-flash";
const GENERAL: &str = "gpt-4.1";
const REASONING: &str = "gpt-5";
const CREATIVE: &str = "claude-sonnet-4-5-20250929";
const LONG: &str = "gemini-2.5-pro";
const VISION: &str = "gpt-4.1";

/// A long English report: ~40k estimated tokens of prose.
fn long_report() -> String {
    let paragraph = "The quarterly review covers revenue, hiring, churn and the roadmap. \
        Regional teams reported steady growth, with the northern office ahead of plan and the \
        southern office recovering after a slow start. ";
    format!(
        "Summarize the key decisions in this report:\n\n{}",
        paragraph.repeat(800)
    )
}

/// A long Chinese document: ~36k CJK characters.
fn long_chinese() -> String {
    format!(
        "请总结下面的文件：\n{}",
        "本季度公司收入稳定增长，各地区团队按计划推进项目，客户满意度持续提高。".repeat(1000)
    )
}

/// A long source file: a code request over ~40k estimated tokens.
fn long_code() -> String {
    let function = "fn add_one(values: &mut Vec<i64>) {\n    for v in values.iter_mut() {\n        \
                    *v += 1;\n    }\n}\n";
    format!(
        "Review this file for bugs:\n```rust\n{}```",
        function.repeat(2000)
    )
}

#[tokio::test]
async fn auto_classifies_a_table_of_prompts_and_pins_task_and_model() {
    let (fake, server) = start_with_fake().await;
    let report = long_report();
    let chinese_doc = long_chinese();
    let source = long_code();
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        // Code, in several languages, and stack traces.
        (
            "rust snippet",
            "fn main() {\n    let v = vec![1, 2, 3];\n    let w = v;\n    println!(\"{:?}\", v);\n}\nWhy doesn't this compile?",
            "code",
            CODE,
        ),
        (
            "python fence",
            "```python\ndef add(a, b):\n    return a + b\n```\nAdd type hints.",
            "code",
            CODE,
        ),
        (
            "javascript",
            "const total = items.reduce((sum, x) => sum + x.price, 0);\nconsole.log(total);\nWhy is total NaN?",
            "code",
            CODE,
        ),
        (
            "sql",
            "SELECT name, COUNT(*)\nFROM orders\nWHERE created_at > '2024-01-01'\nGROUP BY name;\nHow do I make this faster?",
            "code",
            CODE,
        ),
        (
            "go",
            "func main() {\n\tfmt.Println(\"hello\")\n}\nHow do I read a file here?",
            "code",
            CODE,
        ),
        (
            "python traceback",
            "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\n    main()\nZeroDivisionError: division by zero",
            "code",
            CODE,
        ),
        (
            "js stack trace",
            "TypeError: Cannot read properties of undefined (reading 'map')\n    at App (/src/App.js:12:19)\n    at renderWithHooks (/node_modules/react-dom.js:1:1)",
            "code",
            CODE,
        ),
        (
            "rust panic",
            "thread 'main' panicked at src/main.rs:4:5:\nindex out of bounds: the len is 3 but the index is 7",
            "code",
            CODE,
        ),
        ("ask for rust", "Write fizzbuzz in Rust", "code", CODE),
        (
            "ask for java",
            "How do I reverse a linked list in Java?",
            "code",
            CODE,
        ),
        (
            "inline code",
            "What does `os.path.join()` do in Python?",
            "code",
            CODE,
        ),
        ("code in chinese", "用Python写一个快速排序", "code", CODE),
        (
            "code in japanese",
            "Pythonでクイックソートを書いてください",
            "code",
            CODE,
        ),
        // Chinese and Japanese (Japanese is not routed to the chinese chain).
        (
            "chinese history",
            "请介绍一下北京的历史和文化",
            "chinese",
            CHINESE,
        ),
        ("chinese chat", "你好，今天天气怎么样？", "chinese", CHINESE),
        ("chinese poem", "写一首关于秋天的诗", "chinese", CHINESE),
        (
            "japanese short",
            "東京でおすすめのラーメン屋を教えてください。",
            "fast",
            FAST,
        ),
        (
            "japanese long",
            "日本の歴史について詳しく説明してください。特に江戸時代の文化と経済の発展について知りたいです。",
            "general",
            GENERAL,
        ),
        // Math and proofs.
        (
            "proof",
            "Prove that the square root of 2 is irrational.",
            "reasoning",
            REASONING,
        ),
        (
            "equation",
            "Solve 2x + 3 = 7 step by step.",
            "reasoning",
            REASONING,
        ),
        (
            "combinatorics",
            "How many ways can 8 rooks be placed on a chessboard so that none attack each other? Explain step by step.",
            "reasoning",
            REASONING,
        ),
        (
            "divisibility",
            "Show that for every integer n, n^3 - n is divisible by 6.",
            "reasoning",
            REASONING,
        ),
        (
            "chinese proof",
            "证明：对于任意正整数n，1+2+...+n = n(n+1)/2",
            "reasoning",
            REASONING,
        ),
        // One-liners.
        ("greeting", "hi", "fast", FAST),
        ("thanks", "thanks!", "fast", FAST),
        ("capital", "What's the capital of France?", "fast", FAST),
        ("spider", "How many legs does a spider have?", "fast", FAST),
        ("korean", "안녕하세요, 오늘 기분이 어때요?", "fast", FAST),
        // Creative and general.
        (
            "haiku",
            "Write a haiku about autumn leaves",
            "creative",
            CREATIVE,
        ),
        (
            "story",
            "Write a short story about a robot who learns to paint",
            "creative",
            CREATIVE,
        ),
        (
            "explain",
            "Explain how vaccines train the immune system.",
            "general",
            GENERAL,
        ),
        (
            "pros and cons",
            "What are the pros and cons of remote work for a small startup team?",
            "general",
            GENERAL,
        ),
        // Long documents, whatever their content.
        ("long report", &report, "long_context", LONG),
        ("long chinese", &chinese_doc, "long_context", LONG),
        ("long code", &source, "long_context", LONG),
        // Images.
        (
            "image url",
            "What is in this image? https://example.com/cat.png",
            "vision",
            VISION,
        ),
        (
            "data uri",
            "data:image/png;base64,iVBORw0KGgo= what's this?",
            "vision",
            VISION,
        ),
        ("screenshot", "Describe this screenshot", "vision", VISION),
        ("chinese image", "这张图片里有什么？", "vision", VISION),
    ];
    assert!(cases.len() >= 30);
    let mut wrong = Vec::new();
    for (label, prompt, task, model) in &cases {
        let v = plan(&server, json!({"task": "auto", "prompt": prompt})).await;
        let got = (
            v["task"].as_str().unwrap_or("?"),
            v["chosen_model"].as_str().unwrap_or("?"),
        );
        if got != (*task, *model) {
            wrong.push(format!(
                "{label}: expected {task}/{model}, got {}/{} — {}",
                got.0, got.1, v["reason"]
            ));
            continue;
        }
        // Every decision explains itself and shows what the classifier saw.
        let reason = v["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(&format!("Classified as {task}: ")),
            "{label}: {reason}"
        );
        assert!(reason.contains(*model), "{label}: {reason}");
        assert!(
            v["signals"]["approx_tokens"]
                .as_u64()
                .is_some_and(|t| t > 0),
            "{label}"
        );
        assert!(v["signals"]["cjk_ratio"].is_number(), "{label}");
        assert!(
            v["estimated_cost_usd"].as_f64().is_some_and(|c| c > 0.0),
            "{label}"
        );
        assert!(
            !v["fallback_chain"].as_array().unwrap().is_empty(),
            "{label}"
        );
    }
    assert!(wrong.is_empty(), "misrouted:\n{}", wrong.join("\n"));
    assert!(
        fake.requests().is_empty(),
        "dry runs must not reach the upstream"
    );
}

#[tokio::test]
async fn auto_signals_say_what_was_seen() {
    let (_fake, server) = start_with_fake().await;
    let v = plan(
        &server,
        json!({"task": "auto", "prompt": "```python\nimport os\nprint(os.getcwd())\n```"}),
    )
    .await;
    let s = &v["signals"];
    assert_eq!(s["code_fence"], true, "{s:#}");
    assert_eq!(s["stack_trace"], false);
    assert_eq!(s["code_lines"], 2, "{s:#}");
    assert_eq!(s["code_terms"], json!(["python"]));
    assert_eq!(s["images"], 0);
    assert_eq!(s["cjk_ratio"], 0.0);

    let v = plan(&server, json!({"task": "auto", "prompt": "请介绍一下长城"})).await;
    assert_eq!(v["signals"]["cjk_ratio"], 1.0);
    assert_eq!(v["signals"]["cjk_language"], "zh");
    assert_mentions(v["reason"].as_str().unwrap(), &["Chinese text", "100%"]);

    // A given task is routed as given, and the signals are still reported.
    let v = plan(
        &server,
        json!({"task": "creative", "prompt": "Prove 1 + 1 = 2"}),
    )
    .await;
    assert_eq!(v["task"], "creative");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("Task creative (given).")
    );
    assert_eq!(
        v["signals"]["reasoning_cues"],
        json!(["prove", "math notation"])
    );
}

#[tokio::test]
async fn auto_uses_the_whole_conversation_for_size_and_the_user_turns_for_content() {
    let (_fake, server) = start_with_fake().await;
    // A long system prompt makes the conversation long; the user turn alone is chit-chat.
    let v = plan(
        &server,
        json!({"task": "auto", "system": "background ".repeat(12_000), "prompt": "hi"}),
    )
    .await;
    assert_eq!(v["task"], "long_context", "{v:#}");
    // Code in an earlier user turn counts.
    let v = plan(
        &server,
        json!({"task": "auto", "messages": [
            {"role": "user", "content": "fn main() {\n    let x: i32 = \"5\";\n}"},
            {"role": "assistant", "content": "That is a type error."},
            {"role": "user", "content": "how do I fix it?"}
        ]}),
    )
    .await;
    assert_eq!(v["task"], "code", "{v:#}");
}

#[tokio::test]
async fn auto_vision_attaches_the_image_urls_of_the_prompt() {
    let (fake, server) = start_with_fake().await;
    let prompt = "What is in this image? https://example.com/cat.png";
    let v = expect_ok(
        &server
            .call("route_by_task", json!({"task": "auto", "prompt": prompt}))
            .await,
    );
    assert_eq!(v["task"], "vision");
    assert_eq!(v["content"], format!("echo: {prompt}"));
    assert_mentions(v["reason"].as_str().unwrap(), &["attached 1 image"]);
    let body = fake.only_chat_body();
    assert_eq!(body["model"], VISION);
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type": "text", "text": prompt},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        ])
    );
}

#[tokio::test]
async fn auto_code_answers_through_the_classified_model() {
    let (fake, server) = start_with_fake().await;
    let prompt = "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nNameError: name 'x' is not defined";
    let v = expect_ok(
        &server
            .call("route_by_task", json!({"task": "auto", "prompt": prompt}))
            .await,
    );
    assert_eq!(
        (v["task"].as_str(), v["chosen_model"].as_str()),
        (Some("code"), Some(CODE))
    );
    assert_eq!(v["model"], CODE);
    assert_eq!(v["dry_run"], false);
    assert_standard_usage(&v);
    assert_eq!(fake.only_chat_body()["model"], CODE);
    // The answer's cost is the real one; the estimate was made before the call.
    assert!(v["cost_usd"].as_f64().is_some() && v["estimated_cost_usd"].as_f64().is_some());
}

// ---------------------------------------------------------------------------------------------
// Constraints and preferences

fn price_of(id: &str) -> (f64, f64) {
    AISA_PRICES
        .iter()
        .find(|(m, _, _)| *m == id)
        .map(|(_, i, o)| (*i, *o))
        .unwrap_or_else(|| panic!("{id} is not in the AIsa price table"))
}

fn chain_of(v: &Value) -> Vec<String> {
    std::iter::once(&v["chosen_model"])
        .chain(v["fallback_chain"].as_array().unwrap())
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn price_caps_keep_every_model_of_the_chain_under_them() {
    let (fake, server) = start_with_fake().await;
    let v = plan(
        &server,
        json!({"task": "code", "prompt": "hi", "max_input_price": 0.5}),
    )
    .await;
    assert_eq!(v["chosen_model"], "deepseek-v3.2", "{v:#}");
    assert_mentions(
        v["reason"].as_str().unwrap(),
        &["skipped claude-sonnet-4-5-20250929 (input $3.00 > $0.5 per 1M)"],
    );
    for id in chain_of(&v) {
        assert!(price_of(&id).0 <= 0.5, "{id} is over the input cap");
    }
    let v = plan(
        &server,
        json!({"task": "creative", "prompt": "hi", "max_output_price": 1}),
    )
    .await;
    assert_eq!(v["chosen_model"], "qwen-plus-2025-12-01", "{v:#}");
    for id in chain_of(&v) {
        assert!(price_of(&id).1 <= 1.0, "{id} is over the output cap");
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn require_and_min_context_filter_by_catalog_capabilities() {
    let (_fake, server) = start_with_fake().await;
    let vision_models = ids_with(&server, json!({"capability": "vision"})).await;
    // list_models taught the server the live list; start a fresh one for plain catalog order.
    let (_fake, server) = start_with_fake().await;
    let v = plan(
        &server,
        json!({"task": "chinese", "prompt": "你好", "require": ["vision"]}),
    )
    .await;
    for id in chain_of(&v) {
        assert!(vision_models.contains(&id), "{id} does not take images");
    }
    // The reasoning chain minus deepseek-r1, which has no tool calling.
    let v = plan(
        &server,
        json!({"task": "auto", "prompt": "Prove that there are infinitely many primes.", "require": ["tools"]}),
    )
    .await;
    assert_eq!(v["task"], "reasoning");
    assert_eq!(v["chosen_model"], REASONING);
    assert!(!chain_of(&v).contains(&"deepseek-r1".to_owned()), "{v:#}");
    // 500k tokens of context: claude-sonnet (200k) is skipped, gpt-4.1 (1M) chosen.
    let v = plan(
        &server,
        json!({"task": "code", "prompt": "hi", "min_context": 500_000}),
    )
    .await;
    assert_eq!(v["chosen_model"], "gpt-4.1");
    assert_mentions(
        v["reason"].as_str().unwrap(),
        &["context window 200000 < min_context 500000"],
    );
}

#[tokio::test]
async fn prefer_cheap_and_task_cheap_pick_the_cheapest_model_for_this_prompt() {
    let (fake, server) = start_with_fake().await;
    for args in [
        json!({"task": "cheap", "prompt": "hi"}),
        json!({"task": "code", "prompt": "hi", "prefer": "cheap"}),
        json!({"task": "vision", "prompt": "hi", "prefer": "cheap"}),
    ] {
        let v = plan(&server, args.clone()).await;
        assert_eq!(v["chosen_model"], "gemini-2.5-flash-lite", "{args}: {v:#}");
    }
    // Once the live list is known, the cheapest *listed* model wins. For a short prompt with the
    // default 1024 answer tokens deepseek-v3.2 (0.2009/0.3017) beats gpt-4o-mini (0.105/0.42);
    // for a long prompt with a 10-token answer gpt-4o-mini wins.
    ids_with(&server, json!({})).await;
    let v = plan(&server, json!({"task": "cheap", "prompt": "hi"})).await;
    assert_eq!(chain_of(&v)[..2], ["deepseek-v3.2", "gpt-4o-mini"], "{v:#}");
    assert_mentions(
        v["reason"].as_str().unwrap(),
        &["gemini-2.5-flash-lite (not in the gateway's live model list)"],
    );
    let long = "lorem ipsum dolor sit amet ".repeat(2000);
    let v = plan(
        &server,
        json!({"task": "cheap", "prompt": long, "max_tokens": 10}),
    )
    .await;
    assert_eq!(v["chosen_model"], "gpt-4o-mini", "{v:#}");
    assert_eq!(fake.chat_requests().len(), 0);
}

#[tokio::test]
async fn prefer_fast_puts_the_low_latency_chain_first() {
    let (_fake, server) = start_with_fake().await;
    let v = plan(
        &server,
        json!({"task": "code", "prompt": "hi", "prefer": "fast"}),
    )
    .await;
    assert_eq!(
        chain_of(&v),
        [
            "gemini-2.5-flash",
            "gpt-4.1-mini",
            "claude-haiku-4-5-20251001"
        ]
    );
    let v = plan(
        &server,
        json!({"task": "code", "prompt": "hi", "prefer": "quality"}),
    )
    .await;
    assert_eq!(v["chosen_model"], CODE);
}

#[tokio::test]
async fn impossible_constraints_fail_naming_them_and_the_nearest_miss() {
    let (fake, server) = start_with_fake().await;
    let msg = server
        .call_expecting_error(
            "route_by_task",
            json!({"task": "vision", "prompt": "hi", "max_input_price": 0.01, "require": ["tools"]}),
        )
        .await;
    assert_mentions(
        &msg,
        &[
            "no catalog model meets the constraints",
            "max_input_price $0.01",
            "require [tools]",
            "task vision (needs vision)",
            "nearest miss: gemini-2.5-flash-lite",
            "input $0.07 > $0.01 per 1M",
        ],
    );
    let msg = server
        .call_expecting_error(
            "route_by_task",
            json!({"task": "code", "prompt": "hi", "min_context": 5_000_000}),
        )
        .await;
    // The nearest miss has the largest stated window (the Gemini models' 1,048,576), not a
    // window the catalog does not state.
    assert_mentions(
        &msg,
        &[
            "min_context 5000000",
            "nearest miss: gemini-",
            "context window 1048576 < min_context 5000000",
        ],
    );
    // Bad values are named.
    let msg = server
        .call_expecting_error(
            "route_by_task",
            json!({"task": "code", "prompt": "hi", "max_output_price": -1}),
        )
        .await;
    assert_mentions(&msg, &["max_output_price must be a non-negative number"]);
    let msg = server
        .call_expecting_error(
            "route_by_task",
            json!({"task": "code", "prompt": "hi", "require": ["telepathy"]}),
        )
        .await;
    assert_mentions(&msg, &["telepathy", "vision", "tools", "reasoning"]);
    let msg = server
        .call_expecting_error(
            "route_by_task",
            json!({"task": "code", "prompt": "hi", "prefer": "slow"}),
        )
        .await;
    assert_mentions(&msg, &["slow", "cheap", "fast", "quality"]);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_cost_estimate_is_price_times_estimated_tokens() {
    let (_fake, server) = start_with_fake().await;
    // "hi": 1 token + 3 for the message + 3 for the reply = 7 prompt tokens; 1024 answer tokens
    // assumed without max_tokens. gemini-2.5-flash-lite: $0.07 in, $0.28 out per 1M.
    let v = plan(&server, json!({"task": "cheap", "prompt": "hi"})).await;
    assert_eq!(v["signals"]["approx_tokens"], 7);
    assert_close(&v["estimated_cost_usd"], (7.0 * 0.07 + 1024.0 * 0.28) / 1e6);
    assert_mentions(
        v["reason"].as_str().unwrap(),
        &["~7 prompt tokens and 1024 answer tokens (assumed; set max_tokens to bound it)"],
    );
    let v = plan(
        &server,
        json!({"task": "cheap", "prompt": "hi", "max_tokens": 100}),
    )
    .await;
    assert_close(&v["estimated_cost_usd"], (7.0 * 0.07 + 100.0 * 0.28) / 1e6);
    assert_mentions(
        v["reason"].as_str().unwrap(),
        &["100 answer tokens (max_tokens)"],
    );
}

#[tokio::test]
async fn dry_run_makes_no_upstream_request_of_any_kind() {
    let (fake, server) = start_with_fake().await;
    for task in ["auto", "code", "cheap", "vision"] {
        let v = plan(
            &server,
            json!({"task": task, "prompt": "Look at https://example.com/a.png", "prefer": "cheap"}),
        )
        .await;
        assert_eq!(v["dry_run"], true);
        assert!(
            v.get("content").is_none() && v.get("usage").is_none(),
            "{v:#}"
        );
    }
    assert_eq!(fake.requests().len(), 0, "{:#?}", fake.requests());
    // The same request without dry_run makes exactly one.
    server
        .call("route_by_task", json!({"task": "auto", "prompt": "hi"}))
        .await;
    assert_eq!(fake.chat_requests().len(), 1);
}
