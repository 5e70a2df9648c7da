//! The load test (issue 9): 200 concurrent Streamable HTTP sessions make `chat` calls against
//! the fake upstream for a while. Every call must succeed; afterwards, once the clients have
//! closed their sessions, no session stays open (`llm_router_active_sessions` on `/metrics`
//! returns to 0), the server's file descriptors return to their idle count and its memory
//! stays near idle.
//!
//! The issue asks for 30 s; inside `cargo test` the default is [`DEFAULT_SECS`]. Set
//! `LLM_ROUTER_LOAD_SECS=30` (and `LLM_ROUTER_LOAD_SESSIONS`) for the full run:
//! `LLM_ROUTER_LOAD_SECS=30 cargo test --test tests load -- --nocapture`.
//! The fd and memory checks read `/proc/<pid>`, so they run on Linux only.

use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use crate::fake_upstream::FakeUpstream;
use crate::http::{DEADLINE, HttpServer, http, mcp_client};
use crate::util::{dump, is_error, structured};

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// How long the sessions make calls, unless `LLM_ROUTER_LOAD_SECS` says otherwise.
const DEFAULT_SECS: u64 = 5;
/// How many sessions at once, unless `LLM_ROUTER_LOAD_SESSIONS` says otherwise.
const DEFAULT_SESSIONS: usize = 200;
/// File descriptors the server may hold above its idle count once the load is over (the
/// ledger's WAL files, a log file, a pooled connection opened by the warm-up…).
const FD_SLACK: usize = 16;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Open file descriptors of `pid` (Linux), or `None` elsewhere.
fn fd_count(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

/// Resident memory of `pid` in KiB (Linux `VmRSS`), or `None` elsewhere.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `llm_router_active_sessions{transport="streamable_http"}` from `/metrics`.
async fn open_sessions(server: &HttpServer) -> Option<u64> {
    let text = http()
        .get(server.url("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(r#"llm_router_active_sessions{transport="streamable_http"} "#))
        .and_then(|v| v.parse().ok())
}

/// Samples every 100 ms until `ok` holds or `within` passes; the last value either way.
async fn poll_until<T, F, Fut>(within: Duration, mut sample: F, ok: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let v = sample().await;
        if ok(&v) || tokio::time::Instant::now() >= deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One session's calls: `chat` until `until`, then close it. Returns (calls, failures).
async fn session(client: Client, i: usize, until: Instant) -> (usize, Vec<String>) {
    let (mut calls, mut failures) = (0, Vec::new());
    loop {
        let prompt = format!("load {i}.{calls}");
        let args = json!({"model": "gpt-4.1", "prompt": prompt});
        let params =
            CallToolRequestParams::new("chat").with_arguments(args.as_object().unwrap().clone());
        calls += 1;
        match tokio::time::timeout(DEADLINE, client.call_tool(params)).await {
            Ok(Ok(r)) if !is_error(&r) => {
                let content = structured(&r)["content"].clone();
                if content != json!(format!("echo: {prompt}")) {
                    failures.push(format!("session {i}: wrong answer {content}"));
                }
            }
            Ok(Ok(r)) => failures.push(format!("session {i}: tool error {}", dump(&r))),
            Ok(Err(e)) => failures.push(format!("session {i}: protocol error {e}")),
            Err(_) => failures.push(format!("session {i}: no answer within {DEADLINE:?}")),
        }
        if Instant::now() >= until {
            break;
        }
    }
    if let Err(e) = client.cancel().await {
        failures.push(format!("session {i}: closing failed: {e}"));
    }
    (calls, failures)
}

/// A Streamable HTTP session on `server` over `http`.
async fn open(server: &HttpServer, http: reqwest::Client) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(server.url("/mcp"));
    let transport = StreamableHttpClientTransport::with_client(http, config);
    tokio::time::timeout(DEADLINE, ().serve(transport))
        .await
        .expect("initialize timed out")
        .expect("initialize over HTTP")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_sessions_under_load_lose_nothing_and_leak_nothing() {
    let secs = env_or("LLM_ROUTER_LOAD_SECS", DEFAULT_SECS);
    let sessions = env_or("LLM_ROUTER_LOAD_SESSIONS", DEFAULT_SESSIONS);
    let fake = FakeUpstream::start().await;
    // The default session limit (1000) is above 200; set it from the session count all the
    // same, so a larger LLM_ROUTER_LOAD_SESSIONS is not refused.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[http]\nmax_sessions = {}\n", sessions + 10),
    )
    .unwrap();
    let config = config.display().to_string();
    let server = HttpServer::start(&fake, &["--config", &config], &[]).await;
    let pid = server.pid();

    // Idle: after one warm-up session (lazy state such as the ledger is open), closed again.
    let warm = session(mcp_client(&server, None).await, usize::MAX, Instant::now()).await;
    assert!(warm.1.is_empty(), "{:?}", warm.1);
    let idle = poll_until(
        Duration::from_secs(20),
        || open_sessions(&server),
        |n| *n == Some(0),
    )
    .await;
    assert_eq!(idle, Some(0), "the warm-up session stayed open");
    let (idle_fds, idle_rss) = (fd_count(pid), rss_kib(pid));

    // Load: all sessions open first, then they call for `secs`.
    let opening = Instant::now();
    // One HTTP client (one TLS setup, one pool) under all sessions, as a gateway in front of
    // many agents would be; building 200 clients costs seconds in a debug build.
    let shared = http();
    let clients =
        futures::future::join_all((0..sessions).map(|_| open(&server, shared.clone()))).await;
    eprintln!(
        "load: {sessions} sessions opened in {:.1} s",
        opening.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let peak_rss = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = peak_rss.clone();
        tokio::spawn(async move {
            while let Some(kib) = rss_kib(pid) {
                peak.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let runs = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| session(c, i, until));
    let results = futures::future::join_all(runs).await;
    drop(shared);
    let elapsed = started.elapsed();
    let peak_fds = fd_count(pid).unwrap_or_default();
    sampler.abort();
    let calls: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
    eprintln!(
        "load: {sessions} sessions, {calls} calls in {:.1} s ({:.0} calls/s), {} failed",
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed, first ones: {:#?}\n--- server stderr (end) ---\n{}",
        failures.len(),
        &failures[..failures.len().min(10)],
        tail(&server.stderr())
    );
    assert_eq!(
        fake.chat_requests().len(),
        calls + 1,
        "one upstream call each"
    );

    // No session outlives its client.
    let open = poll_until(
        Duration::from_secs(20),
        || open_sessions(&server),
        |n| *n == Some(0),
    )
    .await;
    assert_eq!(
        open,
        Some(0),
        "sessions left open after every client closed"
    );

    // File descriptors: the pooled keep-alive connections to the upstream are not a leak
    // (they would expire after the pool's idle timeout); once the upstream closes them, the
    // server must be back at its idle count.
    let (Some(idle_fds), Some(idle_rss)) = (idle_fds, idle_rss) else {
        eprintln!("load: no /proc on this system; fd and memory checks skipped");
        return;
    };
    let pooled_fds = fd_count(pid).unwrap_or_default();
    fake.close_connections();
    let after_fds = poll_until(
        Duration::from_secs(20),
        || async { fd_count(pid).unwrap_or(usize::MAX) },
        |n| *n <= idle_fds + FD_SLACK,
    )
    .await;
    let after_rss = rss_kib(pid).unwrap_or(u64::MAX);
    let peak_rss = peak_rss.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "load: fds idle {idle_fds}, right after the calls {peak_fds}, sessions closed {pooled_fds}, \
         upstream pool closed {after_fds}"
    );
    eprintln!(
        "load: RSS idle {} MiB, peak {} MiB, after {} MiB",
        idle_rss / 1024,
        peak_rss / 1024,
        after_rss / 1024
    );
    assert!(
        after_fds <= idle_fds + FD_SLACK,
        "file descriptors leaked: {after_fds} open after the load, {idle_fds} when idle"
    );
    let bound = 4 * idle_rss + 64 * 1024;
    assert!(
        after_rss < bound,
        "memory did not come back near idle: {after_rss} KiB after, {idle_rss} KiB idle"
    );
    server.terminate_cleanly().await;
}

/// The last 40 lines of a log.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
