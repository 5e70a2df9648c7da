//! The measurements: overhead (HTTP and stdio), throughput, fan-out, cold start and memory.
//! Each returns plain numbers plus the raw samples; `report` turns them into the table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use futures::FutureExt as _;
use serde::Serialize;
use serde_json::{Value, json};

use crate::fake_upstream::{ANSWER, FAST_MODEL, FakeUpstream};
use crate::load::{self, Call, Run, Summary};
use crate::mcp::{HttpSession, StdioSession, check_chat};
use crate::process::{self, HttpServer};

/// How long one `compare_models` model waits upstream.
pub const FANOUT_DELAY_MS: u64 = 200;
/// How long the memory scenario waits for every call to be held upstream.
const HOLD_LIMIT: Duration = Duration::from_secs(120);

/// Sizes of the run: `--quick` shrinks every one of them.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub quick: bool,
    pub warmup_secs: f64,
    pub seconds_per_point: f64,
    pub concurrencies: Vec<usize>,
    pub throughput_concurrency: usize,
    pub throughput_seconds: f64,
    pub cold_start_runs: usize,
    pub fanout_sizes: Vec<usize>,
    pub fanout_runs: usize,
    pub held_calls: usize,
    /// The memory variants: how many sessions the held calls are spread over, and whether
    /// they are streamed (sent with a progress token). One fresh server each.
    pub held: Vec<HeldVariant>,
}

/// One memory variant of the [`Plan`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HeldVariant {
    pub sessions: usize,
    pub streamed: bool,
}

/// The memory variants: streamed on one session per call (the target's case), then the same
/// without streaming, then non-streamed on few sessions (what the sessions themselves cost).
fn held_variants(calls: usize) -> Vec<HeldVariant> {
    vec![
        HeldVariant {
            sessions: calls,
            streamed: true,
        },
        HeldVariant {
            sessions: calls,
            streamed: false,
        },
        HeldVariant {
            sessions: 10,
            streamed: false,
        },
    ]
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                warmup_secs: 0.1,
                seconds_per_point: 0.3,
                concurrencies: vec![1, 16, 64],
                throughput_concurrency: 128,
                throughput_seconds: 0.5,
                cold_start_runs: 3,
                fanout_sizes: vec![2, 4, 8],
                fanout_runs: 1,
                held_calls: 100,
                held: held_variants(100),
            }
        } else {
            Self {
                quick,
                warmup_secs: 1.0,
                seconds_per_point: 5.0,
                concurrencies: vec![1, 16, 64],
                throughput_concurrency: 128,
                throughput_seconds: 10.0,
                cold_start_runs: 25,
                fanout_sizes: vec![2, 4, 8],
                fanout_runs: 5,
                held_calls: 1000,
                held: held_variants(1000),
            }
        }
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_secs)
    }

    fn budget(&self) -> Duration {
        Duration::from_secs_f64(self.seconds_per_point)
    }
}

/// The environment every llm-router process gets.
pub fn router_env(fake: &FakeUpstream) -> Vec<(&'static str, String)> {
    vec![
        ("AISA_BASE_URL", fake.base_url()),
        ("AISA_API_KEY", crate::fake_upstream::KEY.to_owned()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        // The usage ledger is on by default, so it is on here too, in a scratch file.
        (
            "LLM_ROUTER_LEDGER_PATH",
            std::env::temp_dir()
                .join(format!("llm-router-bench-{}.db", std::process::id()))
                .display()
                .to_string(),
        ),
        // The server's default level unless `$LLM_ROUTER_BENCH_RUST_LOG` says otherwise (keep
        // `llm_router::server::http=info` in it: the bench reads the address from that log).
        (
            "RUST_LOG",
            std::env::var("LLM_ROUTER_BENCH_RUST_LOG").unwrap_or_else(|_| "info".into()),
        ),
    ]
}

/// The `chat` arguments every overhead call sends.
fn chat_args() -> Value {
    json!({"model": FAST_MODEL, "prompt": "hi"})
}

/// The body `chat_args` becomes upstream, sent directly for the baseline.
fn direct_body() -> Value {
    json!({"model": FAST_MODEL, "messages": [{"role": "user", "content": "hi"}]})
}

/// A call straight to an OpenAI-compatible `/chat/completions` (the fake, or a peer proxy).
pub fn direct_call(client: &reqwest::Client, url: String, key: Option<&'static str>) -> Call {
    let client = client.clone();
    let body = Arc::new(direct_body());
    Arc::new(move |_| {
        let client = client.clone();
        let url = url.clone();
        let body = body.clone();
        async move {
            let mut request = client.post(&url).json(&*body);
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let response = request.send().await?;
            let status = response.status();
            let bytes = response.bytes().await?;
            if !status.is_success() {
                bail!("HTTP {status}: {}", String::from_utf8_lossy(&bytes));
            }
            let v: Value = serde_json::from_slice(&bytes)?;
            if v["choices"][0]["message"]["content"] != ANSWER {
                bail!("unexpected completion: {v}");
            }
            Ok(())
        }
        .boxed()
    })
}

/// Opens `n` MCP sessions on `url`, a few at a time.
pub async fn open_sessions(
    client: &reqwest::Client,
    url: &str,
    n: usize,
) -> anyhow::Result<Vec<Arc<HttpSession>>> {
    let mut sessions = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(32) {
        let opens = (chunk_start..n.min(chunk_start + 32)).map(|_| HttpSession::open(client, url));
        for s in futures::future::join_all(opens).await {
            sessions.push(Arc::new(s?));
        }
    }
    Ok(sessions)
}

/// `tools/call chat` over HTTP, worker `i` on session `i % sessions`.
fn router_call(sessions: Vec<Arc<HttpSession>>) -> Call {
    let args = Arc::new(chat_args());
    Arc::new(move |i| {
        let session = sessions[i % sessions.len()].clone();
        let args = args.clone();
        async move { check_chat(&session.call_tool("chat", &args).await?) }.boxed()
    })
}

/// One concurrency level: the direct baseline, then the same load through llm-router.
#[derive(Debug, Clone, Serialize)]
pub struct OverheadPoint {
    pub concurrency: usize,
    pub direct: Run,
    pub router: Run,
}

/// Overhead over Streamable HTTP at each concurrency of the plan.
pub async fn http_overhead(
    plan: &Plan,
    client: &reqwest::Client,
    fake: &FakeUpstream,
    server: &HttpServer,
) -> anyhow::Result<Vec<OverheadPoint>> {
    let mut points = Vec::new();
    for &c in &plan.concurrencies {
        let direct = direct_call(
            client,
            format!("{}/chat/completions", fake.base_url()),
            Some(crate::fake_upstream::KEY),
        );
        let direct = load::closed_loop(c, plan.warmup(), plan.budget(), direct, None).await;
        let sessions = open_sessions(client, &server.mcp_url, c).await?;
        let router = load::closed_loop(
            c,
            plan.warmup(),
            plan.budget(),
            router_call(sessions),
            Some(server.pid()),
        )
        .await;
        eprintln!(
            "  HTTP c={c}: direct p50 {:.0} µs, router p50 {:.0} µs, {:.0} calls/s, {} errors",
            direct.summary.p50, router.summary.p50, router.calls_per_sec, router.errors
        );
        points.push(OverheadPoint {
            concurrency: c,
            direct,
            router,
        });
    }
    Ok(points)
}

/// Overhead over stdio at concurrency 1 (one child, calls one after another).
pub async fn stdio_overhead(plan: &Plan, exe: &str, fake: &FakeUpstream) -> anyhow::Result<Run> {
    let mut session = StdioSession::spawn(exe, &router_env(fake))?;
    let pid = session.pid();
    session.initialize().await?;
    session.initialized().await?;
    let session = Arc::new(tokio::sync::Mutex::new(session));
    let args = Arc::new(chat_args());
    let call: Call = Arc::new(move |_| {
        let session = session.clone();
        let args = args.clone();
        async move { check_chat(&session.lock().await.call_tool("chat", &args).await?) }.boxed()
    });
    Ok(load::closed_loop(1, plan.warmup(), plan.budget(), call, pid).await)
}

/// Calls per second at saturation over HTTP.
pub async fn throughput(
    plan: &Plan,
    client: &reqwest::Client,
    server: &HttpServer,
) -> anyhow::Result<Run> {
    let c = plan.throughput_concurrency;
    let sessions = open_sessions(client, &server.mcp_url, c).await?;
    let budget = Duration::from_secs_f64(plan.throughput_seconds);
    let call = router_call(sessions);
    Ok(load::closed_loop(c, plan.warmup(), budget, call, Some(server.pid())).await)
}

/// `compare_models` with `n` models that each take [`FANOUT_DELAY_MS`] upstream.
#[derive(Debug, Clone, Serialize)]
pub struct Fanout {
    pub models: usize,
    /// Wall time of each call, in milliseconds.
    pub wall_ms: Vec<f64>,
    /// Median wall time ÷ the upstream delay.
    pub ratio: f64,
}

pub async fn fanout(
    plan: &Plan,
    client: &reqwest::Client,
    server: &HttpServer,
) -> anyhow::Result<Vec<Fanout>> {
    let session = HttpSession::open(client, &server.mcp_url).await?;
    let mut out = Vec::new();
    for &n in &plan.fanout_sizes {
        let models: Vec<String> = (0..n)
            .map(|i| format!("delay-{FANOUT_DELAY_MS}-m{i}"))
            .collect();
        let args = json!({"models": models, "prompt": "hi"});
        let mut wall_ms = Vec::new();
        for _ in 0..plan.fanout_runs {
            let started = Instant::now();
            let result = session.call_tool("compare_models", &args).await?;
            wall_ms.push(started.elapsed().as_secs_f64() * 1e3);
            let results = result["structuredContent"]["results"]
                .as_array()
                .ok_or_else(|| anyhow!("compare_models without results: {result}"))?;
            if results.len() != n || results.iter().any(|r| r["ok"] != true) {
                bail!("compare_models did not answer for all {n} models: {result}");
            }
        }
        let median = Summary::of(&wall_ms).p50;
        out.push(Fanout {
            models: n,
            ratio: median / FANOUT_DELAY_MS as f64,
            wall_ms,
        });
    }
    Ok(out)
}

/// Process start to the `initialize` response over stdio, and the RSS once initialized.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    pub runs_ms: Vec<f64>,
    pub median_ms: f64,
    /// `VmRSS` of the last run after `initialize`, in KiB.
    pub idle_rss_kib: u64,
}

pub async fn cold_start(plan: &Plan, exe: &str, fake: &FakeUpstream) -> anyhow::Result<ColdStart> {
    let env = router_env(fake);
    let mut runs_ms = Vec::new();
    let mut idle_rss_kib = 0;
    for _ in 0..plan.cold_start_runs {
        let started = Instant::now();
        let mut session = StdioSession::spawn(exe, &env)?;
        session.initialize().await?;
        runs_ms.push(started.elapsed().as_secs_f64() * 1e3);
        session.initialized().await?;
        if let Some(pid) = session.pid() {
            idle_rss_kib = process::memory(pid)?.rss_kib;
        }
    }
    Ok(ColdStart {
        median_ms: Summary::of(&runs_ms).p50,
        runs_ms,
        idle_rss_kib,
    })
}

/// Many calls held open at once by the upstream, on a fresh server.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub calls: usize,
    pub sessions: usize,
    /// Whether the calls carried a progress token (asked to be streamed).
    pub progress_token: bool,
    /// How many of the calls llm-router sent upstream as streamed requests.
    pub streamed_upstream: usize,
    /// Progress notifications the client received, over all calls.
    pub progress_notifications: usize,
    /// How many calls were held upstream at once when memory was read.
    pub held_at_once: usize,
    pub idle_rss_kib: u64,
    pub rss_while_held_kib: u64,
    /// `VmHWM` after every call finished.
    pub peak_rss_kib: u64,
    pub errors: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

pub async fn held_calls(
    exe: &str,
    client: &reqwest::Client,
    fake: &FakeUpstream,
    calls: usize,
    variant: HeldVariant,
) -> anyhow::Result<Held> {
    let HeldVariant { sessions, streamed } = variant;
    let server = HttpServer::start(exe, &router_env(fake))?;
    let idle_rss_kib = process::memory(server.pid())?.rss_kib;
    let sessions = open_sessions(client, &server.mcp_url, sessions).await?;
    let streamed_before = fake.streamed_requests();
    fake.arm_hold();
    let args = Arc::new(json!({"model": "hold-bench", "prompt": "hi"}));
    let tasks: Vec<_> = (0..calls)
        .map(|i| {
            let session = sessions[i % sessions.len()].clone();
            let args = args.clone();
            tokio::spawn(async move {
                let (result, notifications) =
                    session.call_tool_with("chat", &args, streamed).await?;
                check_chat(&result)?;
                anyhow::Ok(notifications)
            })
        })
        .collect();
    let held_at_once = fake.wait_held(calls, HOLD_LIMIT).await;
    let while_held = process::memory(server.pid())?;
    fake.release();
    let mut errors = 0;
    let mut first_error = None;
    let mut progress_notifications = 0;
    for t in tasks {
        match t.await.context("a held call's task failed")? {
            Ok(n) => progress_notifications += n,
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    let after = process::memory(server.pid())?;
    Ok(Held {
        calls,
        sessions: sessions.len(),
        progress_token: streamed,
        streamed_upstream: fake.streamed_requests() - streamed_before,
        progress_notifications,
        held_at_once,
        idle_rss_kib,
        rss_while_held_kib: while_held.rss_kib,
        peak_rss_kib: after.peak_kib,
        errors,
        first_error,
    })
}
