//! Metrics for `GET /metrics` (Prometheus text format), through the `metrics` facade.
//!
//! The recorder is installed only when serving HTTP ([`install`]); without one (stdio, CLI,
//! tests) every `record_*` call is a cheap no-op. What is recorded:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `llm_router_tool_calls_total` | counter | `tool`, `outcome` (ok or the error kind) |
//! | `llm_router_tool_duration_seconds` | histogram | `tool` |
//! | `llm_router_overhead_seconds` | histogram | `tool` — wall time minus upstream time |
//! | `llm_router_upstream_requests_total` | counter | `model`, `outcome` |
//! | `llm_router_upstream_duration_seconds` | histogram | `model` |
//! | `llm_router_tokens_total` | counter | `model`, `kind` (input, output) |
//! | `llm_router_cost_usd` | gauge (only grows) | `model` |
//! | `llm_router_active_sessions` | gauge | `transport` (streamable_http, legacy_sse) |
//! | `llm_router_cache_hits_total` | counter | `model` — answers served from the response cache |
//!
//! `model` is the catalog id, or `other` for names the catalog does not know, so arbitrary
//! model names from clients cannot grow the label set without bound. Overhead is recorded for
//! tools whose upstream calls run one after another (not `compare_models`, whose calls overlap):
//! it is the time the router itself adds, the number the benchmark measures from outside.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets (seconds) for the router's own overhead: sub-millisecond resolution.
const OVERHEAD_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25,
];
/// Buckets (seconds) for tool and upstream durations: LLM calls take 0.2 s to minutes.
const CALL_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Installs the process-wide Prometheus recorder and starts its upkeep task. Call once, from
/// inside the Tokio runtime.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("llm_router_overhead_seconds".into()),
            OVERHEAD_BUCKETS,
        )?
        .set_buckets(CALL_BUCKETS)?
        .install_recorder()?;
    metrics::describe_counter!(
        "llm_router_tool_calls_total",
        "MCP tool calls, by tool and outcome"
    );
    metrics::describe_histogram!(
        "llm_router_tool_duration_seconds",
        metrics::Unit::Seconds,
        "Wall time of MCP tool calls"
    );
    metrics::describe_histogram!(
        "llm_router_overhead_seconds",
        metrics::Unit::Seconds,
        "Time the router adds to a tool call beyond its upstream requests"
    );
    metrics::describe_counter!(
        "llm_router_upstream_requests_total",
        "Requests to the upstream gateway, by model and outcome"
    );
    metrics::describe_histogram!(
        "llm_router_upstream_duration_seconds",
        metrics::Unit::Seconds,
        "Latency of upstream requests"
    );
    metrics::describe_counter!("llm_router_tokens_total", "Tokens, by model and kind");
    metrics::describe_gauge!(
        "llm_router_cost_usd",
        "Spend in USD since start, by model (only grows)"
    );
    metrics::describe_gauge!(
        "llm_router_active_sessions",
        "Open MCP sessions, by transport"
    );
    metrics::describe_counter!(
        "llm_router_cache_hits_total",
        "Answers served from the response cache, by model"
    );
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

tokio::task_local! {
    /// Upstream time spent inside the current tool call.
    static UPSTREAM: Cell<Duration>;
}

/// Runs one tool call, then records its outcome, duration and overhead.
///
/// Built from combinators rather than as an `async fn`: an `async fn` that awaits a future
/// it was given keeps room for it twice, and the benchmark's heap profile found tool-call
/// futures of ~48 KB per call in flight, from such doubling at each wrapper.
pub fn tool_call<F, T, E>(
    tool: &'static str,
    overlapping_calls: bool,
    outcome: impl Fn(&Result<T, E>) -> &'static str,
    fut: F,
) -> impl Future<Output = Result<T, E>>
where
    F: Future<Output = Result<T, E>>,
{
    use futures::FutureExt as _;
    let started = Instant::now();
    let timed = fut.map(|r| (r, UPSTREAM.with(Cell::get)));
    UPSTREAM
        .scope(Cell::new(Duration::ZERO), timed)
        .map(move |(result, upstream)| {
            finish_tool_call(
                tool,
                overlapping_calls,
                &outcome,
                started,
                upstream,
                &result,
            );
            result
        })
}

/// Records one finished tool call.
fn finish_tool_call<T, E>(
    tool: &'static str,
    overlapping_calls: bool,
    outcome: &impl Fn(&Result<T, E>) -> &'static str,
    started: Instant,
    upstream: Duration,
    result: &Result<T, E>,
) {
    let wall = started.elapsed();
    metrics::counter!("llm_router_tool_calls_total", "tool" => tool, "outcome" => outcome(result))
        .increment(1);
    metrics::histogram!("llm_router_tool_duration_seconds", "tool" => tool)
        .record(wall.as_secs_f64());
    if !overlapping_calls && upstream > Duration::ZERO {
        metrics::histogram!("llm_router_overhead_seconds", "tool" => tool)
            .record(wall.saturating_sub(upstream).as_secs_f64());
    }
}

/// What one upstream request did.
pub struct Upstream<'a> {
    /// The catalog id, or `None` for a name the catalog does not know.
    pub model: Option<&'a str>,
    /// The provider the request went to.
    pub provider: &'a str,
    /// `ok` or the error kind.
    pub outcome: &'static str,
    pub elapsed: Duration,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// Records one upstream request and adds its time to the enclosing tool call's.
pub fn upstream(u: Upstream<'_>) {
    let _ = UPSTREAM.try_with(|t| t.set(t.get() + u.elapsed));
    let model = u.model.unwrap_or("other").to_owned();
    let provider = u.provider.to_owned();
    metrics::counter!("llm_router_upstream_requests_total", "model" => model.clone(), "provider" => provider.clone(), "outcome" => u.outcome)
        .increment(1);
    metrics::histogram!("llm_router_upstream_duration_seconds", "model" => model.clone(), "provider" => provider)
        .record(u.elapsed.as_secs_f64());
    if u.input_tokens > 0 {
        metrics::counter!("llm_router_tokens_total", "model" => model.clone(), "kind" => "input")
            .increment(u.input_tokens);
    }
    if u.output_tokens > 0 {
        metrics::counter!("llm_router_tokens_total", "model" => model.clone(), "kind" => "output")
            .increment(u.output_tokens);
    }
    if let Some(usd) = u.cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
        metrics::gauge!("llm_router_cost_usd", "model" => model).increment(usd);
    }
}

/// Counts one answer served from the response cache (`model`: the catalog id, or `None`).
pub fn cache_hit(model: Option<&str>) {
    let model = model.unwrap_or("other").to_owned();
    metrics::counter!("llm_router_cache_hits_total", "model" => model).increment(1);
}

/// Sets the number of open sessions of one transport (sampled at scrape time).
pub fn active_sessions(transport: &'static str, n: usize) {
    metrics::gauge!("llm_router_active_sessions", "transport" => transport).set(n as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn upstream_time_accumulates_inside_a_tool_call_only() {
        // Outside a tool call: no panic, nothing to add to.
        upstream(Upstream {
            model: None,
            provider: "aisa",
            outcome: "ok",
            elapsed: Duration::from_millis(5),
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: None,
        });
        let seen = UPSTREAM
            .scope(Cell::new(Duration::ZERO), async {
                for _ in 0..3 {
                    upstream(Upstream {
                        model: Some("gpt-4.1"),
                        provider: "aisa",
                        outcome: "ok",
                        elapsed: Duration::from_millis(10),
                        input_tokens: 1,
                        output_tokens: 2,
                        cost_usd: Some(0.5),
                    });
                }
                UPSTREAM.with(Cell::get)
            })
            .await;
        assert_eq!(seen, Duration::from_millis(30));
    }
}
