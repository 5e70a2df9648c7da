//! The usage ledger and the `usage` tool: every upstream attempt and cache hit is a row,
//! committed before the tool returns (even a SIGKILL right after keeps it), two processes
//! writing at once lose nothing, and the report's totals are the exact sum of the rows.

use std::path::Path;
use std::process::Stdio;
use std::str::FromStr;
use std::time::Duration;

use futures::future::join_all;
use llm_router::ledger::store::{Record, Store};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::fake_upstream::FakeUpstream;
use crate::util::*;

/// Every row of the ledger at `path`, oldest first.
pub fn ledger_rows(path: &Path) -> Vec<Record> {
    Store::open(path)
        .expect("open the ledger")
        .rows(0, i64::MAX)
        .expect("read the ledger")
}

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// The exact sum of the rows' costs.
fn sum(rows: &[Record]) -> Decimal {
    rows.iter().filter_map(|r| r.cost_usd).sum()
}

#[tokio::test]
async fn every_attempt_is_a_row_successes_failures_retries_and_cache_hits() {
    let (fake, server) = start_with_fake().await;
    let ok = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "gpt-4.1", "prompt": "hi", "temperature": 0}),
            )
            .await,
    );
    let hit = expect_ok(
        &server
            .call(
                "chat",
                json!({"model": "gpt-4.1", "prompt": "hi", "temperature": 0}),
            )
            .await,
    );
    assert_eq!(hit["cached"], true, "{hit:#}");
    assert_eq!(
        ok.get("cached"),
        None,
        "a fresh answer is not marked: {ok:#}"
    );
    server
        .call_expecting_error("chat", json!({"model": "status-400", "prompt": "x"}))
        .await;
    // One retry: a failed attempt, then a successful one, in one tool call.
    expect_ok(
        &server
            .call("chat", json!({"model": "flaky-503-1", "prompt": "x"}))
            .await,
    );
    expect_ok(
        &server
            .call(
                "route_by_task",
                json!({"task": "cheap", "prompt": "x", "max_tokens": 10}),
            )
            .await,
    );
    assert_eq!(fake.chat_requests().len(), 5, "the cache hit sent nothing");

    let rows = ledger_rows(&server.ledger_path());
    let summary: Vec<(&str, &str, bool)> = rows
        .iter()
        .map(|r| (r.requested_model.as_str(), r.outcome.as_str(), r.cached))
        .collect();
    let routed = rows[5].requested_model.clone();
    assert_eq!(
        summary,
        [
            ("gpt-4.1", "ok", false),
            ("gpt-4.1", "ok", true),
            ("status-400", "bad_request", false),
            ("flaky-503-1", "upstream", false),
            ("flaky-503-1", "ok", false),
            (routed.as_str(), "ok", false),
        ]
    );
    let (first, hit_row, failed, retry) = (&rows[0], &rows[1], &rows[2], &rows[3]);
    assert_eq!(first.cost_usd, Some(d("0.0126")));
    assert_eq!(first.cost_source.map(|s| s.as_str()), Some("catalog"));
    assert_eq!(first.tokens.prompt_tokens, 1000);
    assert_eq!(first.served_model.as_deref(), Some("gpt-4.1"));
    assert_eq!(first.tool, "chat");
    assert!(
        first
            .client
            .as_deref()
            .is_some_and(|c| c.starts_with("rmcp")),
        "{first:?}"
    );
    assert_eq!(hit_row.cost_usd, Some(Decimal::ZERO));
    assert_eq!(
        hit_row.saved_usd,
        Some(d("0.0126")),
        "the hit saved the first call's cost"
    );
    assert_eq!(hit_row.tokens.total_tokens, 0, "a hit uses no tokens");
    assert_eq!((failed.status, failed.cost_usd), (Some(400), None));
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("temperature is invalid")
    );
    assert_eq!(retry.status, Some(503));
    assert_eq!(
        retry.call_id, rows[4].call_id,
        "a retry belongs to its tool call"
    );
    assert_ne!(rows[0].call_id, rows[1].call_id);
    assert_eq!(rows[5].tool, "route_by_task");
    assert_eq!(rows[5].task.as_deref(), Some("cheap"));
    assert!(rows[0].session.is_some());
    assert!(
        rows.iter().all(|r| r.session == rows[0].session),
        "one stdio session"
    );
    let log = server.shutdown().await;
    assert!(!log.contains("could not record"), "{log}");
}

#[tokio::test]
async fn usage_totals_are_the_exact_sum_of_the_calls() {
    let (fake, server) = start_with_fake().await;
    let mut per_call = Vec::new();
    for args in [
        json!({"model": "gpt-4.1", "prompt": "a"}),
        json!({"model": "deepseek-v3.2", "prompt": "b"}),
        json!({"model": "gateway-cost", "prompt": "c"}),
        json!({"model": "gpt-4.1", "prompt": "d", "temperature": 0}),
        json!({"model": "gpt-4.1", "prompt": "d", "temperature": 0}),
    ] {
        per_call.push(expect_ok(&server.call("chat", args).await)["cost_usd"].clone());
    }
    server
        .call_expecting_error("chat", json!({"model": "status-400", "prompt": "e"}))
        .await;

    let r = server
        .call("usage", json!({"since": "1h", "by": "model"}))
        .await;
    let v = expect_ok(&r);
    let t = &v["totals"];
    assert_eq!(
        (&t["calls"], &t["errors"], &t["cache_hits"]),
        (&json!(6), &json!(1), &json!(1)),
        "{v:#}"
    );
    assert_close(&t["error_rate"], 1.0 / 6.0);
    assert_eq!(t["prompt_tokens"], 4000, "the cache hit used no tokens");
    // 0.0126 (gpt-4.1) + 0.0008043 (deepseek-v3.2: 1000 × 0.2009 + 2000 × 0.3017, per 1M)
    // + 0.0123 (gateway) + 0.0126 (the first temperature-0 call); the hit is free.
    let expected = d("0.0383043");
    let rows = ledger_rows(&server.ledger_path());
    assert_eq!(sum(&rows), expected, "the ledger's exact sum");
    let table = text(&r);
    let total = table.lines().find(|l| l.starts_with("TOTAL")).unwrap();
    assert!(
        total.split_whitespace().any(|c| c == "0.0383043"),
        "the table prints the exact total: {table}"
    );
    assert!(
        total.split_whitespace().any(|c| c == "0.0126"),
        "saved: {total}"
    );
    assert_close(&t["cost_usd"], 0.0383043);
    let answered: f64 = per_call.iter().map(|c| c.as_f64().unwrap()).sum();
    assert!(
        (answered - 0.0383043).abs() < 1e-12,
        "per-call costs: {per_call:?}"
    );
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups[0]["key"], "gpt-4.1", "dearest first: {v:#}");
    assert_eq!(groups[0]["calls"], 3);
    assert_close(&groups[0]["cost_usd"], 0.0252);
    assert_close(&groups[0]["saved_usd"], 0.0126);
    assert!(v.get("budget").is_none(), "no budget is set");
    assert!(
        v["ledger"]
            .as_str()
            .unwrap()
            .ends_with("llm-router/usage.db")
    );
    assert_eq!(v["credits"]["available_usd"], 12.0);
    assert_close(&v["credits"]["key_used_usd"], 0.00025);
    assert!(
        table.contains("credits: $12 available, $12.345678 account balance"),
        "{table}"
    );

    let by_day = expect_ok(&server.call("usage", json!({"by": "day"})).await);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(by_day["groups"][0]["key"], today.as_str(), "{by_day:#}");
    let by_tool = expect_ok(&server.call("usage", json!({"by": "tool"})).await);
    assert_eq!(by_tool["groups"][0]["key"], "chat");

    let e = server
        .call_expecting_error("usage", json!({"since": "a week ago"}))
        .await;
    assert_mentions(&e, &["since", "a week ago", "7d"]);
    let e = server
        .call_expecting_error("usage", json!({"by": "vendor"}))
        .await;
    assert_mentions(&e, &["vendor"]);
    let empty = expect_ok(
        &server
            .call(
                "usage",
                json!({"since": "2020-01-01", "until": "2020-01-31"}),
            )
            .await,
    );
    assert_eq!(empty["totals"]["calls"], 0);

    fake.set_credits(None);
    let r = server.call("usage", json!({})).await;
    let v = expect_ok(&r);
    assert!(v["credits"].get("available_usd").is_none());
    assert_mentions(
        v["credits"]["note"].as_str().unwrap(),
        &["404", "credits/balance"],
    );
    assert!(
        text(&r).contains("does not offer a balance"),
        "{}",
        text(&r)
    );
}

#[tokio::test]
async fn two_processes_writing_at_once_lose_no_rows() {
    const CALLS: usize = 25;
    let fake = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared/usage.db");
    let start = || {
        ServerBuilder::new()
            .upstream(&fake)
            .env("LLM_ROUTER_LEDGER_PATH", path.display().to_string())
            .start()
    };
    let (a, b) = tokio::join!(start(), start());
    let (ra, rb) = tokio::join!(burst(&a, "a", CALLS), burst(&b, "b", CALLS));
    for r in ra.iter().chain(&rb) {
        expect_ok(r);
    }
    let rows = ledger_rows(&path);
    assert_eq!(rows.len(), 2 * CALLS, "every call of both processes");
    let sessions: std::collections::BTreeSet<_> = rows.iter().map(|r| r.session.clone()).collect();
    assert_eq!(sessions.len(), 2, "one session per process");
    assert_eq!(sum(&rows), d("0.0126") * Decimal::from(2 * CALLS));
    for server in [a, b] {
        let log = server.shutdown().await;
        assert!(!log.contains("could not record"), "{log}");
    }
}

/// `n` chat calls at once on `server`.
async fn burst(server: &Server, name: &str, n: usize) -> Vec<rmcp::model::CallToolResult> {
    let calls = (0..n).map(|i| {
        server.call(
            "chat",
            json!({"model": "gpt-4.1", "prompt": format!("{name} {i}")}),
        )
    });
    join_all(calls).await
}

/// Reads JSON-RPC lines from the server until the response with `id`.
async fn response(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    id: u64,
) -> Value {
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the server answered in time")
            .expect("read stdout")
            .expect("the server closed stdout");
        let v: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
        if v["id"] == id {
            return v;
        }
    }
}

#[tokio::test]
async fn a_row_survives_sigkill_right_after_the_tool_returns() {
    let fake = FakeUpstream::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-router"));
    cmd.arg("serve").env_clear();
    if let Some(p) = std::env::var_os("PATH") {
        cmd.env("PATH", p);
    }
    let mut child = cmd
        .env("HOME", home.path())
        .env("AISA_BASE_URL", fake.base_url())
        .env("AISA_API_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn llm-router serve");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = async |v: Value| {
        stdin
            .write_all(format!("{v}\n").as_bytes())
            .await
            .expect("write stdin");
        stdin.flush().await.expect("flush stdin");
    };
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "sigkill-test", "version": "1.0"}}}),
    )
    .await;
    response(&mut lines, 1).await;
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "chat", "arguments": {"model": "gpt-4.1", "prompt": "remember me"}}}),
    )
    .await;
    let answer = response(&mut lines, 2).await;
    child.start_kill().expect("SIGKILL");
    let status = child.wait().await.expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed, not exited: {status:?}");
    assert_eq!(
        answer["result"]["structuredContent"]["model"], "gpt-4.1",
        "{answer:#}"
    );

    let rows = ledger_rows(&home.path().join(".local/share/llm-router/usage.db"));
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].cost_usd, Some(d("0.0126")));
    assert_eq!(rows[0].client.as_deref(), Some("sigkill-test 1.0"));
}

#[tokio::test]
async fn no_ledger_writes_no_file_but_still_reports_this_process() {
    let fake = FakeUpstream::start().await;
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_NO_LEDGER", "1")
        .start()
        .await;
    expect_ok(
        &server
            .call("chat", json!({"model": "gpt-4.1", "prompt": "hi"}))
            .await,
    );
    let v = expect_ok(&server.call("usage", json!({})).await);
    assert_eq!(v["totals"]["calls"], 1);
    assert_mentions(v["ledger"].as_str().unwrap(), &["disabled"]);
    assert!(!server.ledger_path().exists());
    assert!(
        !server.ledger_path().parent().unwrap().exists(),
        "nothing created under the data directory"
    );
}

#[test]
fn a_ledger_that_cannot_be_opened_stops_the_server_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    let blocker = home.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_llm-router"))
        .arg("serve")
        .env_clear()
        .env("HOME", home.path())
        .env("LLM_ROUTER_LEDGER_PATH", blocker.join("usage.db"))
        .stdin(Stdio::null())
        .output()
        .expect("run llm-router serve");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_mentions(
        &stderr,
        &[
            "cannot open the usage ledger",
            "a-file/usage.db",
            "LLM_ROUTER_NO_LEDGER=1",
        ],
    );
}
