//! The shared call step: send one chat request upstream, then account for it.
//!
//! Every tool that calls a model goes through [`call`], so each answer carries the same
//! facts — the model that served it, tokens, cost with its source, latency — computed the same
//! way. Cancellation by the client drops the upstream request at once.
//!
//! A call runs in a [`Ctx`]: its cancellation token and, when the caller wants to see the
//! answer as it is written, a [`ProgressSink`]. With a sink the call streams from the upstream
//! and sends each new piece of text as [`Progress::Text`]; the final [`Answer`] is the same as
//! without one, plus `time_to_first_token_ms`. This is the library entry point for streaming:
//!
//! ```no_run
//! # async fn demo(app: &llm_router::App, request: llm_router::upstream::ChatRequest) {
//! use llm_router::pipeline::{self, Ctx, Progress};
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let printer = tokio::spawn(async move {
//!     while let Some(Progress::Text(t)) = rx.recv().await {
//!         eprint!("{t}");
//!     }
//! });
//! let ctx = Ctx::streaming(tokio_util::sync::CancellationToken::new(), tx);
//! let answer = pipeline::call(app, request, &[], &ctx).await;
//! drop(ctx); // closes the channel: the printer ends
//! let _ = printer.await;
//! # let _ = answer;
//! # }
//! ```

use std::time::Instant;

use rmcp::model::{CallToolResult, ContentBlock};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::ledger::{self, CostSource, Tokens};
use crate::routing::executor::{self, Attempt};
use crate::upstream::providers::Route;
use crate::upstream::sse::Delta;
use crate::upstream::{ChatRequest, ChatResponse};
use crate::{App, metrics};

/// What a call reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// New answer text, in order: all of it concatenated is the answer's `content`.
    Text(String),
    /// One line about the call's progress (e.g. `compare_models`: a model finished).
    Status(String),
}

/// Where a call sends its [`Progress`]. The receiver sees the channel close when the call's
/// [`Ctx`] (and every clone of it) is dropped.
pub type ProgressSink = mpsc::UnboundedSender<Progress>;

/// The context one call runs in.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    /// Cancelled when the caller gives up: the upstream request is dropped at once.
    pub ct: CancellationToken,
    /// Set when the caller wants progress: the call streams from the upstream.
    pub progress: Option<ProgressSink>,
}

impl Ctx {
    /// A call without progress: one whole response from the upstream.
    pub fn new(ct: CancellationToken) -> Self {
        Self { ct, progress: None }
    }

    /// A streamed call: text goes to `sink` as it arrives.
    pub fn streaming(ct: CancellationToken, sink: ProgressSink) -> Self {
        Self {
            ct,
            progress: Some(sink),
        }
    }

    /// The same cancellation, without progress (for calls whose text is not to be relayed,
    /// such as the concurrent calls of `compare_models`).
    pub fn quiet(&self) -> Self {
        Self::new(self.ct.clone())
    }

    /// Sends a status line, when the caller wants progress.
    pub fn status(&self, line: String) {
        if let Some(sink) = &self.progress {
            let _ = sink.send(Progress::Status(line));
        }
    }
}

/// One model's answer, with its accounting. The output of `chat` and `vision`, and part of
/// `route_by_task`'s.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Answer {
    /// The model that served the request, as the gateway reported it.
    pub model: String,
    /// The model id requested (after alias resolution).
    pub requested_model: String,
    /// The provider that served it (`aisa`, the gateway, unless the config adds others).
    pub provider: String,
    /// The answer text.
    pub content: String,
    /// Tool calls the model asked for (OpenAI format), when any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::array_of_objects")]
    pub tool_calls: Vec<Value>,
    /// Why generation stopped: stop, length, tool_calls, content_filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    pub usage: Tokens,
    /// Cost in USD; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// gateway (reported by the gateway), catalog (price × tokens) or unknown.
    pub cost_source: CostSource,
    /// The exact cost, for sums (`cost_usd` is its presentation).
    #[serde(skip)]
    pub cost_exact: Option<Decimal>,
    /// Every try and skip that led to this answer, in order (retries and fallbacks).
    pub attempts: Vec<Attempt>,
    /// Wall time of the upstream call in milliseconds.
    pub latency_ms: u64,
    /// When streamed: milliseconds from sending the request to the first token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_first_token_ms: Option<u64>,
    /// Served from the response cache (cost 0).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// Sent to a cheaper model to stay within budget (shown in `attempts` as a
    /// `skipped_budget` entry; not a field of its own, to keep `tools/list` small).
    #[serde(skip)]
    pub downgraded: Option<ledger::budget::Downgrade>,
}

impl Answer {
    /// One line of facts: model, tokens, cost and its source, latency.
    pub fn facts(&self) -> String {
        let cost = match self.cost_usd {
            Some(usd) => format!("${usd:.6} ({})", source_name(self.cost_source)),
            None => "cost unknown".to_owned(),
        };
        let first = match self.time_to_first_token_ms {
            Some(ms) => format!(" (first token {ms} ms)"),
            None => String::new(),
        };
        format!(
            "{} · {} in + {} out tokens · {} · {} ms{first}",
            self.model,
            self.usage.prompt_tokens,
            self.usage.completion_tokens,
            cost,
            self.latency_ms
        )
    }

    /// The text block shown to the agent: the answer, any tool calls, then the facts line.
    pub fn to_text(&self) -> String {
        let mut text = self.content.clone();
        for call in &self.tool_calls {
            let f = call.get("function").unwrap_or(call);
            let name = f.get("name").and_then(Value::as_str).unwrap_or("?");
            let args = f.get("arguments").and_then(Value::as_str).unwrap_or("{}");
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!("[tool call] {name}({args})"));
        }
        text.push_str("\n\n— ");
        text.push_str(&self.facts());
        if self.cached {
            text.push_str(" · from the cache");
        }
        if let Some(d) = &self.downgraded {
            text.push_str(&format!("\n(downgraded from {}: {})", d.from, d.reason));
        }
        text
    }
}

/// The name of a cost source as it appears in output.
pub fn source_name(s: CostSource) -> &'static str {
    match s {
        CostSource::Gateway => "gateway",
        CostSource::Catalog => "catalog",
        CostSource::Unknown => "unknown",
        CostSource::Cache => "cache",
    }
}

/// Calls `request.model`, then `fallbacks` in order if it fails, through the fallback
/// executor (retries, cooldowns); the answer records every attempt. With a progress sink in
/// `ctx` the call streams, and fallbacks apply only to failures before the first token.
/// Deterministic requests may be answered from the cache, and budgets may refuse or
/// downgrade the call first ([`ledger::hooks`]).
pub async fn call(
    app: &App,
    request: ChatRequest,
    fallbacks: &[String],
    ctx: &Ctx,
) -> Result<Answer, Error> {
    let (request, fallbacks, done) =
        match ledger::hooks::before_call(app, request, fallbacks).await? {
            ledger::hooks::Before::Hit(answer) => return Ok(answer),
            ledger::hooks::Before::Call {
                request,
                fallbacks,
                done,
            } => (request, fallbacks, done),
        };
    let mut chain = Vec::with_capacity(1 + fallbacks.len());
    chain.push(request.model.clone());
    for m in &fallbacks {
        if !chain.contains(m) {
            chain.push(m.clone());
        }
    }
    done.finish(app, executor::run(app, &chain, request, ctx).await)
}

/// Sends `request` upstream once — streamed when `ctx` has a progress sink — and accounts
/// for the answer.
pub async fn call_once(app: &App, request: ChatRequest, ctx: &Ctx) -> Result<Answer, Error> {
    let started = Instant::now();
    let route = app.providers.route(&request.model, request.api).await;
    let (result, first_token) = send(route, &request, ctx).await;
    let elapsed = started.elapsed();
    let ms = |t: Instant| u64::try_from(t.duration_since(started).as_millis()).unwrap_or(u64::MAX);
    let latency_ms = ms(Instant::now());
    let info = app
        .model_info(&request.model)
        .or_else(|| app.catalog.get(route.model));
    let metric_model = info.map(|m| m.id.as_str());
    if let Err(e) = &result {
        metrics::upstream(metrics::Upstream {
            model: metric_model,
            provider: route.provider.name(),
            outcome: e.kind(),
            elapsed,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: None,
        });
    }
    let response = match result {
        Ok(r) => r,
        Err(Error::UnknownModel { model, message, .. }) => {
            let suggestions = app.catalog.suggest(&model, &app.live_ids());
            return Err(Error::UnknownModel {
                model,
                message,
                suggestions,
            });
        }
        Err(Error::Cancelled) => {
            tracing::info!(
                gen_ai.request.model = %request.model,
                latency_ms,
                "upstream call cancelled: the request was dropped"
            );
            return Err(Error::Cancelled);
        }
        Err(e) => {
            tracing::warn!(
                gen_ai.request.model = %request.model,
                provider = route.provider.name(),
                error.type = e.kind(),
                latency_ms,
                "upstream call failed"
            );
            return Err(e);
        }
    };

    let served = response
        .model
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| request.model.clone());
    let choice = response.choices.into_iter().next().unwrap_or_default();
    let message = choice.message.unwrap_or_default();
    let mut tool_calls = message.tool_calls.clone().unwrap_or_default();
    if let Some(fc) = &message.function_call {
        tool_calls.push(serde_json::json!({"type": "function", "function": fc}));
    }
    // Price the model that actually served the request; fall back to the one requested
    // (a gateway may report a dated variant the catalog does not list).
    let price = app
        .catalog
        .resolve(&served)
        .info
        .or(info)
        .and_then(|m| m.price);
    let usage = response.usage.as_ref();
    let cost = ledger::cost_of(
        usage.map(|u| u.tokens()),
        usage.and_then(|u| u.gateway_cost()),
        price,
    );
    let answer = Answer {
        content: message.text(),
        provider: route.provider.name().to_owned(),
        model: served,
        requested_model: request.model,
        tool_calls,
        finish_reason: choice.finish_reason,
        usage: usage.map(|u| u.tokens()).unwrap_or_default(),
        cost_usd: cost.usd_f64(),
        cost_source: cost.source,
        cost_exact: cost.usd,
        attempts: Vec::new(),
        latency_ms,
        time_to_first_token_ms: first_token.map(ms),
        cached: false,
        downgraded: None,
    };
    metrics::upstream(metrics::Upstream {
        model: metric_model,
        provider: &answer.provider,
        outcome: "ok",
        elapsed,
        input_tokens: answer.usage.prompt_tokens,
        output_tokens: answer.usage.completion_tokens,
        cost_usd: answer.cost_usd,
    });
    tracing::info!(
        gen_ai.request.model = %answer.requested_model,
        gen_ai.response.model = %answer.model,
        provider = %answer.provider,
        gen_ai.usage.input_tokens = answer.usage.prompt_tokens,
        gen_ai.usage.output_tokens = answer.usage.completion_tokens,
        cost_usd = answer.cost_usd,
        cost_source = source_name(answer.cost_source),
        latency_ms,
        time_to_first_token_ms = answer.time_to_first_token_ms,
        "upstream call done"
    );
    Ok(answer)
}

/// The upstream exchange itself, until the answer or cancellation: whole, or streamed to
/// `ctx.progress`. Also returns when the first token arrived, when streamed.
async fn send(
    route: Route<'_>,
    request: &ChatRequest,
    ctx: &Ctx,
) -> (Result<ChatResponse, Error>, Option<Instant>) {
    let Some(sink) = &ctx.progress else {
        let result = tokio::select! {
            biased;
            _ = ctx.ct.cancelled() => Err(Error::Cancelled),
            r = route.provider.chat(request, route.model, route.style) => r,
        };
        return (result, None);
    };
    let mut first_token = None;
    let mut on = |d: Delta<'_>| {
        first_token.get_or_insert_with(Instant::now);
        if let Delta::Text(text) = d {
            let _ = sink.send(Progress::Text(text.to_owned()));
        }
    };
    let result = tokio::select! {
        biased;
        _ = ctx.ct.cancelled() => Err(Error::Cancelled),
        r = route.provider.chat_stream(request, route.model, route.style, &mut on) => r,
    };
    (result, first_token)
}

/// A successful tool result: a short human-readable text block plus the structured value.
pub fn present<T: Serialize>(text: String, value: &T) -> Result<CallToolResult, Error> {
    let structured = serde_json::to_value(value)
        .map_err(|e| Error::BadResponse(format!("could not encode the result: {e}")))?;
    // Not `CallToolResult::structured`, which would encode the value as text only for us to
    // replace that text (the benchmark's profile found the wasted encoding).
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tool call in flight holds its future; the benchmark's heap profile found ~48 KB
    /// per `chat` call because each wrapper (`metrics::tool_call`, the ledger context) was an
    /// `async fn` that kept room for the future it wrapped twice. The wrappers must add next
    /// to nothing.
    #[test]
    fn wrapping_a_tool_call_does_not_multiply_its_future() {
        let config = crate::config::RawConfig {
            no_ledger: true,
            ..Default::default()
        }
        .check()
        .unwrap();
        let app = App::new(config).unwrap();
        let ctx = Ctx::default();
        let input = || -> crate::tools::chat::Input {
            serde_json::from_value(serde_json::json!({"prompt": "hi"})).unwrap()
        };
        let work = async {
            let out = crate::tools::chat::execute(&app, input(), &ctx).await?;
            present(out.to_text(), &out)
        };
        let bare = std::mem::size_of_val(&work);
        let scoped =
            ledger::context::scope(ledger::context::CallContext::new("chat", None, None), work);
        let wrapped = crate::metrics::tool_call("chat", false, |_| "ok", scoped);
        let size = std::mem::size_of_val(&wrapped);
        assert!(
            size < bare + 512,
            "the wrapped future is {size} bytes for a {bare}-byte call"
        );
    }
}
