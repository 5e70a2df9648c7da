//! The peer for `--peer litellm`: the LiteLLM proxy (`pip install 'litellm[proxy]'`) pointed at
//! the same fake upstream, measured with the same direct-vs-proxied method as llm-router.
//!
//! LiteLLM is an OpenAI-compatible HTTP proxy, not an MCP server, so its path is
//! `POST /v1/chat/completions` through the proxy; its overhead is that latency minus the
//! direct call's, at the same concurrency. The executable is `$LITELLM` or `litellm` on `PATH`.
//! It runs with its defaults (one worker process) and, like llm-router on loopback, without
//! client authentication.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use serde::Serialize;

use crate::fake_upstream::{FAST_MODEL, FakeUpstream, KEY};
use crate::load;
use crate::scenarios::{OverheadPoint, Plan, direct_call};

/// How long LiteLLM may take to start answering (it imports a lot of Python).
const START_LIMIT: Duration = Duration::from_secs(180);

/// The peer's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    pub name: String,
    pub version: String,
    pub command: String,
    /// `VmRSS` of the proxy process once it answered, before any load, in KiB.
    pub idle_rss_kib: u64,
    pub points: Vec<OverheadPoint>,
}

/// A running LiteLLM proxy; killed when dropped.
struct Proxy {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn executable() -> String {
    std::env::var("LITELLM").unwrap_or_else(|_| "litellm".to_owned())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Measures LiteLLM's overhead at each concurrency of the plan.
pub async fn litellm(
    plan: &Plan,
    client: &reqwest::Client,
    fake: &FakeUpstream,
) -> anyhow::Result<Peer> {
    let exe = executable();
    let version = Command::new(&exe).arg("--version").output().map_err(|e| {
        anyhow!(
            "cannot run '{exe}' ({e}); install it with `pip install 'litellm[proxy]'` \
                 or set LITELLM to its path"
        )
    })?;
    // It prints "LiteLLM: Current Version = 1.x.y".
    let version = String::from_utf8_lossy(&version.stdout)
        .split_whitespace()
        .last()
        .unwrap_or("(unknown version)")
        .to_owned();

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: {FAST_MODEL}\n    litellm_params:\n      \
             model: openai/{FAST_MODEL}\n      api_base: {}\n      api_key: {KEY}\n",
            fake.base_url()
        ),
    )?;
    let port = free_port()?;
    let log = dir.path().join("litellm.log");
    let args = [
        "--config".to_owned(),
        config.display().to_string(),
        "--host".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
    ];
    let command = format!("{exe} {}", args.join(" "));
    let child = Command::new(&exe)
        .args(&args)
        // The proxy would otherwise try to download the model price map at start.
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        // Like llm-router on loopback without LLM_ROUTER_AUTH_TOKEN: no client auth, so both
        // sides do the same work. (Recent LiteLLM refuses to start keyless without this.)
        .env(
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY",
            "true",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("cannot start {command}"))?;
    let mut proxy = Proxy { child, _dir: dir };

    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Some(status) = proxy.child.try_wait()? {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(20).collect();
            bail!(
                "LiteLLM exited ({status}) before it answered:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let ready = client
            .get(format!("{base}/health/liveliness"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        if started.elapsed() > START_LIMIT {
            bail!("LiteLLM did not answer on {base} within {START_LIMIT:?}");
        }
        // Polling a foreign process for readiness: it has no other way to say it is up.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "  LiteLLM {version} ready after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let idle_rss_kib = crate::process::memory(proxy.child.id())?.rss_kib;

    let budget = Duration::from_secs_f64(plan.seconds_per_point);
    let warmup = Duration::from_secs_f64(plan.warmup_secs);
    let mut points = Vec::new();
    for &c in &plan.concurrencies {
        let direct = direct_call(
            client,
            format!("{}/chat/completions", fake.base_url()),
            Some(KEY),
        );
        let direct = load::closed_loop(c, warmup, budget, direct, None).await;
        let proxied = direct_call(client, format!("{base}/v1/chat/completions"), None);
        let proxied = load::closed_loop(c, warmup, budget, proxied, Some(proxy.child.id())).await;
        eprintln!(
            "  LiteLLM c={c}: direct p50 {:.0} µs, proxied p50 {:.0} µs, {:.0} calls/s, {} errors",
            direct.summary.p50, proxied.summary.p50, proxied.calls_per_sec, proxied.errors
        );
        points.push(OverheadPoint {
            concurrency: c,
            direct,
            router: proxied,
        });
    }
    drop(proxy);
    Ok(Peer {
        name: "LiteLLM proxy".to_owned(),
        version,
        command,
        idle_rss_kib,
        points,
    })
}
