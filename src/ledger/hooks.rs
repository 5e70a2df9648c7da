//! Where the call pipeline meets the ledger, budgets and cache — three hooks, so the pipeline
//! and executor carry one line each:
//!
//! - [`before_call`] (start of `pipeline::call`): a cache hit is answered (and recorded) at
//!   once; otherwise the budget is checked, which may refuse or downgrade the request;
//! - [`record_attempt`] (the executor, after every upstream attempt): one ledger row,
//!   committed (by the store's writer thread, with concurrent calls' rows) before the
//!   attempt's result is used;
//! - [`Done::finish`] (end of `pipeline::call`): a fresh answer goes into the cache and
//!   carries the downgrade, if there was one (a `skipped_budget` attempt first).
//!
//! A ledger that cannot be written does not fail the call (the answer is already paid for);
//! it is logged at error level.

use std::time::Instant;

use rust_decimal::Decimal;

use crate::error::Error;
use crate::ledger::budget::{self, Downgrade};
use crate::ledger::store::Record;
use crate::ledger::{CostSource, Tokens, context, period};
use crate::pipeline::Answer;
use crate::routing::executor::Attempt;
use crate::upstream::ChatRequest;
use crate::{App, metrics};

/// The longest error text kept on a ledger row.
const MAX_ERROR_CHARS: usize = 1000;

/// What [`before_call`] decided.
#[derive(Debug)]
pub enum Before {
    /// Served from the cache: return this answer.
    Hit(Answer),
    /// Call upstream with this request and fallbacks (possibly downgraded), then pass the
    /// result to `done`.
    Call {
        request: ChatRequest,
        fallbacks: Vec<String>,
        done: Done,
    },
}

/// What [`Done::finish`] needs to know about the call.
#[derive(Debug)]
pub struct Done {
    cache_key: Option<String>,
    downgraded: Option<Downgrade>,
}

/// Cache lookup, then the budget check.
pub async fn before_call(
    app: &App,
    request: ChatRequest,
    fallbacks: &[String],
) -> Result<Before, Error> {
    let started = Instant::now();
    let mut cache_key = app.cache.key(&request, fallbacks);
    if let Some(answer) = cache_key.as_deref().and_then(|k| app.cache.get(k)) {
        return Ok(Before::Hit(serve_hit(app, answer, started).await));
    }
    let mut request = request;
    let mut fallbacks = fallbacks.to_vec();
    let already = context::current().is_some_and(|c| c.budget_checked());
    let downgraded = match already {
        true => None,
        false => budget::admit(app, &mut request, &mut fallbacks).await?,
    };
    if downgraded.is_some() {
        cache_key = app.cache.key(&request, &fallbacks);
    }
    Ok(Before::Call {
        request,
        fallbacks,
        done: Done {
            cache_key,
            downgraded,
        },
    })
}

impl Done {
    /// Caches a fresh answer and marks a downgrade on it.
    pub fn finish(self, app: &App, result: Result<Answer, Error>) -> Result<Answer, Error> {
        let mut answer = result?;
        if let Some(key) = self.cache_key {
            app.cache.put(key, &answer);
        }
        if let Some(d) = &self.downgraded {
            answer.attempts.insert(
                0,
                Attempt {
                    model: d.from.clone(),
                    outcome: "skipped_budget".to_owned(),
                    status: None,
                    latency_ms: 0,
                    waited_ms: 0,
                    error: Some(d.reason.clone()),
                },
            );
        }
        answer.downgraded = self.downgraded;
        Ok(answer)
    }
}

/// Turns a cached answer into this call's answer (cost 0, no attempts) and records the hit
/// with the cost it saved.
async fn serve_hit(app: &App, mut answer: Answer, started: Instant) -> Answer {
    let saved = answer.cost_exact;
    answer.cached = true;
    answer.cost_exact = Some(Decimal::ZERO);
    answer.cost_usd = Some(0.0);
    answer.cost_source = CostSource::Cache;
    answer.attempts = Vec::new();
    answer.downgraded = None;
    answer.time_to_first_token_ms = None;
    answer.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    metrics::cache_hit(
        app.catalog
            .get(&answer.requested_model)
            .map(|m| m.id.as_str()),
    );
    let mut row = base_row(&answer.requested_model, answer.latency_ms);
    row.served_model = Some(answer.model.clone());
    row.provider = Some(answer.provider.clone());
    row.cost_usd = Some(Decimal::ZERO);
    row.cost_source = Some(CostSource::Cache);
    row.saved_usd = saved;
    row.cached = true;
    write(app, row).await;
    tracing::info!(gen_ai.request.model = %answer.requested_model, "answered from the cache");
    answer
}

/// Records one upstream attempt of `model`.
pub async fn record_attempt(
    app: &App,
    model: &str,
    result: &Result<Answer, Error>,
    latency_ms: u64,
) {
    let mut row = base_row(model, latency_ms);
    row.provider = Some(
        app.providers
            .resolve_now(model)
            .0
            .upstream
            .name()
            .to_owned(),
    );
    match result {
        Ok(a) => {
            row.provider = Some(a.provider.clone());
            row.served_model = Some(a.model.clone());
            row.tokens = a.usage;
            row.cost_usd = a.cost_exact;
            row.cost_source = Some(a.cost_source);
        }
        Err(e) => {
            row.outcome = e.kind().to_owned();
            row.status = e.status_code();
            row.error = Some(e.to_string().chars().take(MAX_ERROR_CHARS).collect());
        }
    }
    write(app, row).await;
}

/// A row for `model` with the caller's context filled in.
fn base_row(model: &str, latency_ms: u64) -> Record {
    let ctx = context::current();
    Record {
        ts_ms: period::now_ms(),
        tool: ctx
            .as_ref()
            .map_or_else(|| "-".to_owned(), |c| c.tool.clone()),
        task: ctx.as_ref().and_then(|c| c.task()),
        requested_model: model.to_owned(),
        served_model: None,
        tokens: Tokens::default(),
        cost_usd: None,
        cost_source: None,
        saved_usd: None,
        latency_ms,
        outcome: "ok".to_owned(),
        status: None,
        error: None,
        cached: false,
        client: ctx.as_ref().and_then(|c| c.client.clone()),
        session: ctx.as_ref().and_then(|c| c.session.clone()),
        call_id: ctx.as_ref().map(|c| c.call_id.clone()),
        provider: None,
    }
}

async fn write(app: &App, row: Record) {
    if let Err(e) = app.ledger.record(row).await {
        tracing::error!(error = %e, "could not record the call in the usage ledger");
    }
}
