//! The closed-loop load generator and the statistics of its samples.
//!
//! `concurrency` workers each send one call, wait for its answer, and send the next, until
//! the time budget is spent. A short untimed warm-up comes first (connections, sessions and
//! caches are then hot). Latency is measured per call at the client, from just before the
//! request is built to the end of the response body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Serialize;

/// One call by worker `i`: `Ok` when the answer was right.
pub type Call = Arc<dyn Fn(usize) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub concurrency: usize,
    /// Wall time of the timed part, in seconds.
    pub seconds: f64,
    /// Successful calls per second over the timed part.
    pub calls_per_sec: f64,
    pub errors: usize,
    /// CPU time the server process used per successful call during the timed part, in
    /// microseconds (10 ms resolution over the whole run), when a server was watched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_call: Option<f64>,
    /// The same for the benchmark's own process (load generator and fake upstream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench_cpu_us_per_call: Option<f64>,
    /// The first error seen, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    pub summary: Summary,
    /// Every successful call's latency in microseconds, in completion order per worker.
    pub latencies_us: Vec<f64>,
}

/// Percentiles of a set of latencies, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub mean: f64,
    pub max: f64,
}

impl Summary {
    /// Nearest-rank percentiles of `samples`.
    pub fn of(samples: &[f64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[i.clamp(1, sorted.len()) - 1]
        };
        Self {
            count: sorted.len(),
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
            max: sorted[sorted.len() - 1],
        }
    }
}

/// Runs `call` with `concurrency` workers: `warmup` untimed, then `budget` timed; reads the
/// CPU time of `server` (a process id), if given, around the timed part.
pub async fn closed_loop(
    concurrency: usize,
    warmup: Duration,
    budget: Duration,
    call: Call,
    server: Option<u32>,
) -> Run {
    let warm_until = Instant::now() + warmup;
    let warm: Vec<_> = (0..concurrency)
        .map(|i| {
            let call = call.clone();
            tokio::spawn(async move {
                while Instant::now() < warm_until {
                    let _ = call(i).await;
                }
            })
        })
        .collect();
    for w in warm {
        let _ = w.await;
    }

    let cpu_before = server.and_then(|pid| crate::process::cpu_time(pid).ok());
    let own_before = crate::process::cpu_time(std::process::id()).ok();
    let started = Instant::now();
    let deadline = started + budget;
    let workers: Vec<_> = (0..concurrency)
        .map(|i| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                let mut first_error = None;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match call(i).await {
                        Ok(()) => latencies.push(t.elapsed().as_secs_f64() * 1e6),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
                (latencies, errors, first_error)
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for w in workers {
        match w.await {
            Ok((l, e, f)) => {
                latencies_us.extend(l);
                errors += e;
                if first_error.is_none() {
                    first_error = f;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("worker failed: {e}"));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_after = server.and_then(|pid| crate::process::cpu_time(pid).ok());
    let own_after = crate::process::cpu_time(std::process::id()).ok();
    let per_call = |before: Option<Duration>, after: Option<Duration>| match (before, after) {
        (Some(b), Some(a)) if !latencies_us.is_empty() => {
            Some(a.saturating_sub(b).as_secs_f64() * 1e6 / latencies_us.len() as f64)
        }
        _ => None,
    };
    let server_cpu_us_per_call = per_call(cpu_before, cpu_after);
    let bench_cpu_us_per_call = per_call(own_before, own_after);
    Run {
        concurrency,
        seconds,
        calls_per_sec: latencies_us.len() as f64 / seconds,
        errors,
        server_cpu_us_per_call,
        bench_cpu_us_per_call,
        first_error,
        summary: Summary::of(&latencies_us),
        latencies_us,
    }
}
