//! The API key never leaves the process (issue 9, item 4), even when the upstream repeats it
//! back: the fake's `echo-key-*` models put the request's `Authorization` value into error
//! bodies, HTML pages, unreadable JSON and a stream that breaks off. The recognizable fake key
//! ([`KEY`]) must appear in no tool result (stdio, streamed and whole-response; Streamable
//! HTTP, session and stateless; legacy HTTP+SSE), no log line at `RUST_LOG=trace`, no ledger byte, and not in
//! the output of `llm-router config check` or `doctor`.

use std::path::Path;

use serde_json::{Value, json};

use crate::fake_upstream::FakeUpstream;
use crate::faults::stateless_call;
use crate::http::{HttpServer, mcp_client};
use crate::util::*;

/// The parts of the key a leak would show (whole, or without its `sk-test-` prefix).
const SECRETS: [&str; 2] = [KEY, "SECRET-0123456789"];

/// The echoing models, each with a phrase of the upstream's text the answer must carry
/// (proof that the echoed text really reached the router and was scrubbed, not dropped).
const ECHOES: [(&str, &str); 6] = [
    ("echo-key-401", "was rejected"),
    ("echo-key-500", "crashed handling"),
    ("echo-key-bad-json", "EOF while parsing"),
    ("echo-key-html", "HTML page"),
    ("echo-key-stream", "upstream failed for"),
    ("echo-key-garbage", "garbled but whole"),
];

/// Panics with the offending lines if any secret appears in `text`.
fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        let leaked: Vec<&str> = text.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            leaked.is_empty(),
            "the API key leaked into {what}:\n{}",
            leaked.join("\n")
        );
    }
}

/// Every byte of the ledger's files (the database, its WAL and shared memory).
fn ledger_bytes(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(bytes) = std::fs::read(&name) {
            all.extend_from_slice(&bytes);
        }
    }
    all
}

fn assert_ledger_clean(path: &Path) {
    let bytes = ledger_bytes(path);
    let hay = String::from_utf8_lossy(&bytes);
    // Sanity: the ledger was written, and holds the echoing calls.
    assert!(
        hay.contains("echo-key-401"),
        "the ledger at {} does not hold the calls ({} bytes)",
        path.display(),
        bytes.len()
    );
    for secret in SECRETS {
        assert!(!hay.contains(secret), "the API key leaked into the ledger");
    }
}

/// The tool calls that make the upstream repeat the key.
fn echo_calls() -> Vec<(&'static str, Value)> {
    let mut calls: Vec<(&str, Value)> = ECHOES
        .iter()
        .map(|(model, _)| ("chat", json!({"model": model, "prompt": "leak?"})))
        .collect();
    calls.push((
        "chat",
        json!({"model": "echo-key-500", "prompt": "leak?",
               "fallback_models": ["echo-key-html", "echo-key-stream", "gpt-4.1"]}),
    ));
    calls.push((
        "compare_models",
        json!({"models": ["echo-key-401", "echo-key-stream", "gpt-4.1"], "prompt": "leak?"}),
    ));
    calls
}

/// Every echoed phrase appears in `outputs` (lower-cased comparison).
fn assert_echoes_arrived(outputs: &str) {
    let lower = outputs.to_lowercase();
    for (model, phrase) in ECHOES {
        assert!(
            lower.contains(&phrase.to_lowercase()),
            "{model}: expected {phrase:?} from the upstream in the answers:\n{outputs}"
        );
    }
}

#[tokio::test]
async fn key_echoed_by_the_upstream_stays_out_of_stdio_results_logs_and_ledger() {
    let fake = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("usage.db");
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("RUST_LOG", "trace")
        .env("LLM_ROUTER_LEDGER_PATH", ledger.to_str().unwrap())
        .start()
        .await;
    let mut outputs = String::new();
    for (tool, args) in echo_calls() {
        // rmcp's client sends a progress token: these take the streamed path.
        match server.try_call(tool, args).await {
            Ok(r) => outputs.push_str(&serde_json::to_string(&r).unwrap()),
            Err(e) => outputs.push_str(&e),
        }
        outputs.push('\n');
    }
    let stderr = server.shutdown().await;
    assert!(
        fake.chat_requests()
            .iter()
            .filter(|r| r.body["model"] == "echo-key-stream")
            .any(|r| r.body["stream"] == true),
        "chat calls over stdio should have been streamed"
    );
    assert_echoes_arrived(&outputs);
    assert!(stderr.contains("TRACE"), "expected trace logs");
    assert!(
        stderr.contains("skipped malformed parts of the stream"),
        "the garbage line holding the key should have been logged (scrubbed)"
    );
    assert_clean("a stdio tool result", &outputs);
    assert_clean("stderr at trace level", &stderr);
    assert_ledger_clean(&ledger);
}

#[tokio::test]
async fn key_echoed_by_the_upstream_stays_out_of_http_responses_and_logs() {
    let fake = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("usage.db");
    let server = HttpServer::start(
        &fake,
        &[],
        &[
            ("RUST_LOG", "trace"),
            ("LLM_ROUTER_LEDGER_PATH", ledger.to_str().unwrap()),
        ],
    )
    .await;
    let mut outputs = String::new();
    // In a session (streamed: the client sends a progress token) …
    let client = mcp_client(&server, None).await;
    for (tool, args) in echo_calls() {
        let params = rmcp::model::CallToolRequestParams::new(tool)
            .with_arguments(args.as_object().unwrap().clone());
        match client.call_tool(params).await {
            Ok(r) => outputs.push_str(&serde_json::to_string(&r).unwrap()),
            Err(e) => outputs.push_str(&e.to_string()),
        }
        outputs.push('\n');
    }
    let _ = client.cancel().await;
    // … and stateless, without a token (the whole-response path), raw JSON-RPC as sent.
    let mut whole = String::new();
    for (i, (tool, args)) in echo_calls().into_iter().enumerate() {
        let v = stateless_call(&server, 100 + i as u64, tool, args).await;
        whole.push_str(&v.to_string());
        whole.push('\n');
    }
    let log = server.terminate_cleanly().await;
    assert_echoes_arrived(&outputs);
    assert_echoes_arrived(&whole);
    assert_clean("a Streamable HTTP result", &outputs);
    assert_clean("a stateless HTTP response", &whole);
    assert!(log.contains("TRACE"), "expected trace logs");
    assert_clean("the HTTP server's stderr at trace level", &log);
    assert_ledger_clean(&ledger);
}

#[tokio::test]
async fn key_echoed_by_the_upstream_stays_out_of_the_legacy_sse_transport() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[("RUST_LOG", "trace")]).await;
    let mut legacy = crate::http::Legacy::open(&server).await;
    legacy.initialize().await;
    // Everything the client receives on the stream, progress included (some calls carry a
    // token, the others take the whole-response path).
    let mut outputs = String::new();
    for (i, (tool, args)) in echo_calls().into_iter().enumerate() {
        let id = 10 + i as u64;
        let mut params = json!({"name": tool, "arguments": args});
        if i % 2 == 0 {
            params["_meta"] = json!({"progressToken": format!("t{id}")});
        }
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        assert_eq!(legacy.post(call).await, 202);
        loop {
            let (_, data) = legacy.sse.next().await;
            outputs.push_str(&data);
            outputs.push('\n');
            let v: Value = serde_json::from_str(&data).expect("a JSON-RPC message");
            if v["id"] == id {
                break;
            }
        }
    }
    let log = server.terminate_cleanly().await;
    assert_echoes_arrived(&outputs);
    assert_clean("the legacy SSE stream", &outputs);
    assert_clean("the HTTP server's stderr at trace level", &log);
}

/// `llm-router ARGS` with a clean environment, the key set and `RUST_LOG=trace`; returns
/// stdout and stderr together.
async fn cli(fake: &FakeUpstream, args: &[&str], home: &Path) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-router"));
    cmd.args(args).env_clear().env("HOME", home);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    let out = cmd
        .env("AISA_BASE_URL", fake.base_url())
        .env("AISA_API_KEY", KEY)
        .env("RUST_LOG", "trace")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), out)
        .await
        .expect("the command did not finish")
        .expect("run llm-router");
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn key_stays_out_of_config_check_and_doctor() {
    let fake = FakeUpstream::start().await;
    let home = tempfile::tempdir().unwrap();
    let good = home.path().join("good.toml");
    std::fs::write(&good, "[retry]\nattempts = 2\n").unwrap();
    // A key pasted into the config file is refused; the refusal must not repeat it.
    let pasted = home.path().join("pasted.toml");
    std::fs::write(&pasted, format!("api_key = \"{KEY}\"\n")).unwrap();
    let wrong = FakeUpstream::start_expecting_key("sk-the-right-one").await;

    let runs = [
        (
            &fake,
            vec!["config", "check", "--config", good.to_str().unwrap()],
        ),
        (
            &fake,
            vec![
                "config",
                "check",
                "--json",
                "--config",
                good.to_str().unwrap(),
            ],
        ),
        (
            &fake,
            vec!["config", "check", "--config", pasted.to_str().unwrap()],
        ),
        (&fake, vec!["doctor"]),
        (&fake, vec!["doctor", "--json"]),
        (&wrong, vec!["doctor"]),
    ];
    for (upstream, args) in runs {
        let out = cli(upstream, &args, home.path()).await;
        assert!(!out.trim().is_empty(), "{args:?} printed nothing");
        assert_clean(&format!("`llm-router {}`", args.join(" ")), &out);
        if args.contains(&"doctor") {
            assert!(out.contains("AISA_API_KEY"), "{args:?}: {out}");
        }
        if args.iter().any(|a| a.ends_with("pasted.toml")) {
            assert!(out.contains("api_key"), "the refusal names the key: {out}");
        }
    }
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.authorization() == Some(&format!("Bearer {KEY}"))),
        "doctor should have used the key"
    );
}
