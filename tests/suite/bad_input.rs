//! The bad-input suite (issue 9): wrong types, missing and unknown fields, out-of-range
//! numbers, oversized prompts, bad images and files, and malformed JSON-RPC over HTTP. Each
//! gets a clear error naming what was wrong; the upstream is never called for them, and no
//! file outside the allowed directories is read.

use std::os::unix::fs::PermissionsExt;

use base64::Engine;
use serde_json::{Value, json};

use crate::fake_upstream::FakeUpstream;
use crate::faults::stateless_call;
use crate::http::{HttpServer, http};
use crate::util::*;

/// `(tool, arguments, words the error must contain)`.
type BadCase = (&'static str, Value, &'static [&'static str]);

fn argument_cases() -> Vec<BadCase> {
    let ten_mb = "x".repeat(10 * 1024 * 1024);
    let models = |n: usize| -> Vec<String> { (0..n).map(|i| format!("model-{i}")).collect() };
    vec![
        (
            "chat",
            json!({"prompt": 42}),
            &["argument `prompt`", "invalid type", "expected a string"],
        ),
        (
            "chat",
            json!({"model": ["gpt-4.1"], "prompt": "x"}),
            &["argument `model`", "invalid type"],
        ),
        ("chat", json!({"model": "gpt-4.1"}), &["prompt", "messages"]),
        (
            "chat",
            json!({"prompt": "x", "temprature": 0.2}),
            &["temprature"],
        ),
        ("chat", json!({"prompt": "   "}), &["prompt is empty"]),
        ("chat", json!({"messages": []}), &["messages is empty"]),
        (
            "chat",
            json!({"messages": [{"role": "wizard", "content": "x"}]}),
            &["wizard"],
        ),
        (
            "chat",
            json!({"messages": [{"role": "user"}]}),
            &["content is missing"],
        ),
        (
            "chat",
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            &["tool_call_id"],
        ),
        (
            "chat",
            json!({"messages": "hello"}),
            &["argument `messages`", "invalid type"],
        ),
        (
            "chat",
            json!({"prompt": "x", "temperature": "hot"}),
            &["argument `temperature`", "invalid type"],
        ),
        (
            "chat",
            json!({"prompt": "x", "fallback_models": "gpt-4o"}),
            &["argument `fallback_models`", "invalid type"],
        ),
        (
            "chat",
            json!({"prompt": "x", "cache": "yes"}),
            &["argument `cache`", "invalid type"],
        ),
        (
            "chat",
            json!({"prompt": "x", "messages": [{"role": "user", "content": "y"}]}),
            &["either prompt or messages"],
        ),
        (
            "chat",
            json!({"prompt": "x", "temperature": -1}),
            &["temperature"],
        ),
        (
            "chat",
            json!({"prompt": "x", "temperature": 1e308}),
            &["temperature"],
        ),
        (
            "chat",
            json!({"prompt": "x", "temperature": "NaN"}),
            &["argument `temperature`", "invalid type"],
        ),
        (
            "chat",
            json!({"prompt": "x", "max_tokens": -5}),
            &["argument `max_tokens`", "expected u32"],
        ),
        (
            "chat",
            json!({"prompt": "x", "max_tokens": 1e20}),
            &["expected u32"],
        ),
        (
            "chat",
            json!({"prompt": "x", "max_tokens": 0}),
            &["max_tokens"],
        ),
        ("chat", json!({"prompt": "x", "top_p": 2.5}), &["top_p"]),
        ("chat", json!({"prompt": "x", "stop": [1, 2]}), &["stop"]),
        (
            "chat",
            json!({"prompt": "x", "model": ""}),
            &["model is empty"],
        ),
        ("chat", json!({"prompt": ten_mb}), &["limit"]),
        (
            "compare_models",
            json!({"models": models(101), "prompt": "x"}),
            &["2 to 10"],
        ),
        (
            "compare_models",
            json!({"models": ["gpt-4.1"], "prompt": "x"}),
            &["2 to 10"],
        ),
        (
            "compare_models",
            json!({"models": ["gpt-4.1", "gpt-4.1"], "prompt": "x"}),
            &["twice"],
        ),
        (
            "compare_models",
            json!({"models": "gpt-4.1", "prompt": "x"}),
            &["argument `models`", "invalid type"],
        ),
        (
            "compare_models",
            json!({"models": ["gpt-4.1", "gpt-4o"], "prompt": 5}),
            &["argument `prompt`", "invalid type"],
        ),
        (
            "compare_models",
            json!({"models": ["gpt-4.1", "gpt-4o"], "prompt": "x", "temperature": "high"}),
            &["argument `temperature`", "invalid type"],
        ),
        ("compare_models", json!({"prompt": "x"}), &["models"]),
        (
            "route_by_task",
            json!({"task": "juggling", "prompt": "x"}),
            &["juggling"],
        ),
        (
            "route_by_task",
            json!({"task": 7, "prompt": "x"}),
            &["argument `task`", "invalid type"],
        ),
        (
            "route_by_task",
            json!({"task": "code", "prompt": ["x"]}),
            &["argument `prompt`", "invalid type"],
        ),
        (
            "route_by_task",
            json!({"task": "code", "prompt": "x", "dry_run": "no"}),
            &["argument `dry_run`", "invalid type"],
        ),
        (
            "list_models",
            json!({"family": 12}),
            &["argument `family`", "invalid type"],
        ),
        ("vision", json!({"prompt": "x", "images": []}), &["1 to 16"]),
        (
            "vision",
            json!({"prompt": "x", "images": vec!["https://example.com/a.png"; 17]}),
            &["1 to 16"],
        ),
        (
            "vision",
            json!({"prompt": "x", "images": ["data:image/png;base64,!!!not-base64"]}),
            &["base64"],
        ),
        (
            "vision",
            json!({"prompt": "x", "images": ["data:text/plain;base64,aGVsbG8="]}),
            &["text/plain"],
        ),
        (
            "vision",
            json!({"prompt": "x", "images": ["data:image/png,rawbytes"]}),
            &["data:image/png;base64"],
        ),
        (
            "vision",
            json!({"prompt": "x", "images": ["data:image/png;base64"]}),
            &["','"],
        ),
        (
            "vision",
            json!({"prompt": "x", "images": ["https://exa mple.com/a.png"]}),
            &["not a valid url"],
        ),
        (
            "vision",
            json!({"prompt": "x", "images": "https://example.com/a.png"}),
            &["argument `images`", "invalid type"],
        ),
        (
            "vision",
            json!({"prompt": 5, "images": ["https://example.com/a.png"]}),
            &["argument `prompt`", "invalid type"],
        ),
        (
            "vision",
            json!({"prompt": "x", "images": ["https://example.com/a.png"], "max_tokens": "lots"}),
            &["argument `max_tokens`", "invalid type"],
        ),
        (
            "vision",
            json!({"prompt": "x", "images": ["/etc/hostname"]}),
            &["reading local files is off"],
        ),
    ]
}

#[tokio::test]
async fn bad_tool_arguments_get_clear_errors_and_never_reach_the_upstream() {
    let (fake, server) = start_with_fake().await;
    let cases = argument_cases();
    let n = cases.len();
    let mut misses = Vec::new();
    for (tool, args, needles) in cases {
        let shown: String = args.to_string().chars().take(120).collect();
        let r = server.try_call(tool, args).await;
        let msg = match r {
            Ok(r) => {
                assert!(is_error(&r), "{tool} {shown} should fail: {}", dump(&r));
                text(&r)
            }
            // rmcp rejects some shapes before the tool runs: that must still be clear.
            Err(e) => e,
        };
        let lower = msg.to_lowercase();
        for n in needles {
            if !lower.contains(&n.to_lowercase()) {
                misses.push(format!("{tool} {shown}: expected {n:?} in {msg:?}"));
            }
        }
        assert!(
            msg.len() < 2000,
            "{tool} {shown}: a very long error: {} bytes",
            msg.len()
        );
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
    assert!(
        fake.chat_requests().is_empty(),
        "bad input reached the upstream: {:#?}",
        fake.chat_requests()
            .iter()
            .map(|r| r.body["model"].clone())
            .collect::<Vec<_>>()
    );
    // Still alive.
    expect_ok(&server.call("chat", json!({"prompt": "still here"})).await);
    eprintln!("{n} bad-argument cases passed");
}

#[tokio::test]
async fn bad_files_are_refused_and_nothing_outside_the_allowed_dirs_is_read() {
    let fake = FakeUpstream::start().await;
    let root = tempfile::tempdir().unwrap();
    let allowed = root.path().join("allowed");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&allowed).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // A real PNG outside the allowed dir, with a marker so a leak is visible upstream.
    let secret = outside.join("secret.png");
    let mut secret_bytes = TINY_PNG.to_vec();
    secret_bytes.extend_from_slice(b"OUTSIDE-SECRET-MARKER");
    std::fs::write(&secret, &secret_bytes).unwrap();
    let secret_b64 = base64::engine::general_purpose::STANDARD.encode(&secret_bytes);
    std::os::unix::fs::symlink(&secret, allowed.join("link.png")).unwrap();
    std::os::unix::fs::symlink(&outside, allowed.join("linkdir")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", allowed.join("zero.png")).unwrap();
    std::fs::write(allowed.join("notes.txt"), "just text, not an image").unwrap();
    std::fs::write(allowed.join("fake.png"), b"plain bytes, no image signature").unwrap();
    std::fs::create_dir(allowed.join("dir.png")).unwrap();
    // 50 MB (sparse) with a PNG signature.
    let big = std::fs::File::create(allowed.join("big.png")).unwrap();
    big.set_len(50 * 1024 * 1024).unwrap();
    std::fs::write(allowed.join("ok.png"), TINY_PNG).unwrap();
    let unreadable = allowed.join("unreadable.png");
    std::fs::write(&unreadable, TINY_PNG).unwrap();
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
    let fifo = allowed.join("fifo.png");
    let made_fifo = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());

    let server = ServerBuilder::new()
        .upstream(&fake)
        .arg("--allow-dir")
        .arg(allowed.display().to_string())
        .start()
        .await;
    let a = |name: &str| allowed.join(name).display().to_string();
    let mut cases: Vec<(String, &[&str])> = vec![
        (
            format!("{}/../outside/secret.png", allowed.display()),
            &["outside the allowed"],
        ),
        (a("link.png"), &["outside the allowed"]),
        (a("linkdir/secret.png"), &["outside the allowed"]),
        (a("zero.png"), &["outside the allowed"]),
        ("/dev/zero".to_owned(), &["outside the allowed"]),
        ("/etc/passwd".to_owned(), &["outside the allowed"]),
        (secret.display().to_string(), &["outside the allowed"]),
        (a("notes.txt"), &["not a png"]),
        (a("fake.png"), &["not a png"]),
        (a("dir.png"), &["not a regular file"]),
        (a("big.png"), &["limit"]),
        (a("missing.png"), &["cannot open"]),
        (
            format!("file://{}", a("../outside/secret.png")),
            &["outside the allowed"],
        ),
    ];
    if made_fifo {
        cases.push((fifo.display().to_string(), &["not a regular file"]));
    }
    // Root reads a mode-000 file anyway; the case only means something when we cannot.
    let unreadable_applies = std::fs::read(&unreadable).is_err();
    if unreadable_applies {
        cases.push((unreadable.display().to_string(), &["cannot"]));
    }
    for (path, needles) in &cases {
        let r = server
            .call("vision", json!({"prompt": "x", "images": [path]}))
            .await;
        assert!(is_error(&r), "{path} should be refused: {}", dump(&r));
        let msg = expect_error(&r, needles);
        assert!(!msg.contains(&secret_b64), "{msg}");
    }
    for req in fake.requests() {
        assert!(
            !req.body.to_string().contains("T1VUU0lERS")
                && !req.body.to_string().contains(&secret_b64),
            "a file outside the allowed dir reached the upstream"
        );
    }
    assert!(
        fake.chat_requests().is_empty(),
        "bad files reached the upstream"
    );
    // A good file in the same dir still works.
    expect_ok(
        &server
            .call("vision", json!({"prompt": "x", "images": [a("ok.png")]}))
            .await,
    );
    eprintln!(
        "{} bad-file cases passed (unreadable-file case {})",
        cases.len(),
        if unreadable_applies {
            "run"
        } else {
            "skipped: running as root"
        }
    );
}

/// A raw `POST /mcp` with this body (stateless protocol headers); returns status and body.
async fn raw_post(server: &HttpServer, body: Vec<u8>) -> (u16, String) {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut req = http().post(server.url("/mcp"));
    if let Some(method) = parsed["method"].as_str() {
        req = req.header("mcp-method", method);
    }
    if let Some(name) = parsed["params"]["name"].as_str() {
        req = req.header("mcp-name", name);
    }
    let resp = req
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .body(body)
        .send()
        .await;
    let resp = match resp {
        Ok(resp) => resp,
        // The server may refuse a body (and close) before the client finished sending it.
        Err(e) => return (0, e.to_string()),
    };
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn malformed_json_rpc_over_http_gets_clear_errors() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[]).await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"{this is not json".to_vec()),
        ("empty body", Vec::new()),
        ("JSON but not an object", b"42".to_vec()),
        (
            "batch request",
            json!([{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}},
                   {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta}}])
            .to_string()
            .into_bytes(),
        ),
        (
            "no method",
            json!({"jsonrpc": "2.0", "id": 1, "params": {"_meta": meta}}).to_string().into_bytes(),
        ),
        (
            "wrong jsonrpc version",
            json!({"jsonrpc": "1.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}})
                .to_string()
                .into_bytes(),
        ),
        (
            "unknown method",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/explode", "params": {"_meta": meta}})
                .to_string()
                .into_bytes(),
        ),
        (
            "arguments not an object",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "chat", "arguments": "hi", "_meta": meta}})
            .to_string()
            .into_bytes(),
        ),
        (
            "unknown tool",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "teleport", "arguments": {}, "_meta": meta}})
            .to_string()
            .into_bytes(),
        ),
    ];
    let n = cases.len();
    for (name, body) in cases {
        let (status, text) = raw_post(&server, body).await;
        // Either an HTTP 4xx, or a JSON-RPC error object in the answer.
        let clear = (400..500).contains(&status) || text.contains("\"error\"");
        assert!(clear, "{name}: status {status}, body {text:?}");
        assert!(!text.contains("panicked"), "{name}: {text}");
        eprintln!(
            "bad JSON-RPC {name:<24} → {status} {}",
            text.chars().take(160).collect::<String>()
        );
    }
    // An oversized body (a 10 MB prompt) is refused before it is read.
    let huge = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "chat", "arguments": {"prompt": "x".repeat(10 * 1024 * 1024)}, "_meta": meta}});
    let (status, _) = raw_post(&server, huge.to_string().into_bytes()).await;
    assert!(
        status == 413 || status == 0,
        "a 10 MB body over HTTP: {status}"
    );
    // The server still answers.
    let v = stateless_call(&server, 10, "chat", json!({"prompt": "alive"})).await;
    assert_eq!(
        v["result"]["structuredContent"]["content"], "echo: alive",
        "{v}"
    );
    assert!(
        fake.chat_requests().len() == 1,
        "only the last call reached upstream"
    );
    eprintln!("{} malformed-transport cases passed", n + 1);
}
