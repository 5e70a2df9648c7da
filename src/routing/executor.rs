//! The one fallback executor: every tool that calls a model goes through [`run`].
//!
//! It walks an ordered chain of models. Each model is tried up to `retry.attempts` times on
//! retryable failures (429, 500/502/503/504, timeouts, connection errors), waiting with
//! backoff or as `Retry-After` says; then the next model is tried. Failures that would fail
//! the same way everywhere (400/401/402/403) stop at once — except a context-length error,
//! which moves to the next model with a larger context window, and 404 (unknown model), which
//! moves to the next model. Models in cooldown are skipped (unless every model is). Every try
//! and skip is recorded as an [`Attempt`] on the answer.
//!
//! A streamed call follows the same rules until its first token. After it, a failure (the
//! stream stalls or breaks off) ends the call: the caller has already been sent part of that
//! model's answer, so neither a retry nor a fallback would be honest.
//! [`Error::StreamBroken`] says so and carries the partial text. A cancelled call is recorded
//! as an attempt with outcome `cancelled` and logged.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;

use crate::App;
use crate::error::Error;
use crate::pipeline::{self, Answer, Ctx};
use crate::routing::retry::Next;
use crate::upstream::ChatRequest;

/// One try of one model (or a skip).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Attempt {
    pub model: String,
    /// ok, skipped_cooldown, skipped_context, skipped_budget, or the error kind (timeout,
    /// rate_limited, stream_broken, cancelled, …).
    pub outcome: String,
    /// The HTTP status, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// How long the router waited before this try (backoff or Retry-After).
    pub waited_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether a 400/422 says the prompt does not fit the model's context window.
pub fn is_context_length(e: &Error) -> bool {
    let Error::BadRequest { message, .. } = e else {
        return false;
    };
    let m = message.to_ascii_lowercase();
    [
        "context_length",
        "context length",
        "context window",
        "maximum context",
        "too many tokens",
        "prompt is too long",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// Runs `request` against `chain` (the first model, then the fallbacks) and returns the first
/// answer, with every attempt recorded on it.
pub async fn run(
    app: &App,
    chain: &[String],
    request: ChatRequest,
    ctx: &Ctx,
) -> Result<Answer, Error> {
    let retry = app.config.retry;
    let cooldowns = &app.cooldowns;
    let now = Instant::now();
    let all_cooling = chain.iter().all(|m| cooldowns.remaining(m, now).is_some());
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut failures: Vec<(String, Error)> = Vec::new();
    // After a context-length error: the window the next model must exceed.
    let mut needs_context_above: Option<u64> = None;

    for model in chain {
        let window = app.model_info(model).and_then(|m| m.context_window);
        let skip = |outcome: &str, why: String| Attempt {
            model: model.clone(),
            outcome: outcome.to_owned(),
            status: None,
            latency_ms: 0,
            waited_ms: 0,
            error: Some(why),
        };
        if let (Some(need), Some(w)) = (needs_context_above, window)
            && w <= need
        {
            attempts.push(skip(
                "skipped_context",
                format!("its {w}-token context window is too small"),
            ));
            continue;
        }
        if !all_cooling && let Some(left) = cooldowns.remaining(model, Instant::now()) {
            attempts.push(skip(
                "skipped_cooldown",
                format!(
                    "cooling down after repeated failures ({}s left)",
                    left.as_secs()
                ),
            ));
            continue;
        }

        let mut waited = Duration::ZERO;
        let mut try_no = 0;
        loop {
            try_no += 1;
            let mut req = request.clone();
            req.model.clone_from(model);
            let started = Instant::now();
            let result = pipeline::call_once(app, req, ctx).await;
            let latency_ms = ms(started.elapsed());
            crate::ledger::hooks::record_attempt(app, model, &result, latency_ms).await;
            let e = match result {
                Ok(mut answer) => {
                    cooldowns.success(model);
                    attempts.push(Attempt {
                        model: model.clone(),
                        outcome: "ok".to_owned(),
                        status: None,
                        latency_ms,
                        waited_ms: ms(waited),
                        error: None,
                    });
                    answer.attempts = attempts;
                    return Ok(answer);
                }
                Err(e) => e,
            };
            attempts.push(Attempt {
                model: model.clone(),
                outcome: e.kind().to_owned(),
                status: e.status_code(),
                latency_ms,
                waited_ms: ms(waited),
                error: Some(e.to_string()),
            });
            if matches!(e, Error::Cancelled) {
                tracing::info!(
                    gen_ai.request.model = %model,
                    outcome = "cancelled",
                    attempts = attempts.len(),
                    "call cancelled by the client"
                );
                return Err(e);
            }
            if e.is_retryable() {
                let cooled = cooldowns.failure(model, Instant::now());
                match retry.next(try_no, e.retry_after()) {
                    Next::RetryAfter(wait) if !cooled => {
                        tracing::info!(
                            gen_ai.request.model = %model,
                            try_no,
                            wait_ms = ms(wait),
                            error.type = e.kind(),
                            "retrying"
                        );
                        tokio::select! {
                            biased;
                            _ = ctx.ct.cancelled() => return Err(Error::Cancelled),
                            _ = tokio::time::sleep(wait) => {}
                        }
                        waited = wait;
                        continue;
                    }
                    _ => {
                        failures.push((model.clone(), e));
                        break;
                    }
                }
            }
            if is_context_length(&e) {
                needs_context_above = window.or(needs_context_above);
                failures.push((model.clone(), e));
                break;
            }
            if matches!(e, Error::UnknownModel { .. }) {
                failures.push((model.clone(), e));
                break;
            }
            if let Error::StreamBroken { partial, .. } = &e {
                tracing::info!(
                    gen_ai.request.model = %model,
                    partial_chars = partial.chars().count(),
                    "the stream broke off after its first token: no retry, no fallback"
                );
            }
            // 400/401/402/403 and local errors: every model would fail the same way. A stream
            // that broke off after its first token: the caller has part of this answer.
            return Err(e);
        }
        if let Some((_, e)) = failures.last() {
            tracing::info!(gen_ai.request.model = %model, error.type = e.kind(), "falling back");
        }
    }

    match failures.len() {
        0 => Err(Error::AllModelsFailed {
            errors: attempts
                .into_iter()
                .map(|a| (a.model, a.error.unwrap_or_default()))
                .collect(),
        }),
        1 if attempts.iter().all(|a| a.model == failures[0].0) => Err(failures.remove(0).1),
        _ => Err(Error::AllModelsFailed {
            errors: failures
                .into_iter()
                .map(|(m, e)| (m, e.to_string()))
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_length_errors_are_recognised() {
        let e = |m: &str| Error::BadRequest {
            status: 400,
            message: m.to_owned(),
        };
        assert!(is_context_length(&e(
            "This model's maximum context length is 128000 tokens [context_length_exceeded]"
        )));
        assert!(is_context_length(&e("prompt is too long: 250000 tokens")));
        assert!(!is_context_length(&e("temperature must be <= 2")));
        assert!(!is_context_length(&Error::Upstream {
            status: 500,
            message: "context length".into()
        }));
    }
}
