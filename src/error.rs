//! The one error type of llm-router, and the one place it becomes an MCP result.
//!
//! Every failure a tool can meet — bad arguments, a missing key, an upstream status, a
//! timeout — is a variant here with a message that says what went wrong and what to do. Tools
//! return `Result<_, Error>`; [`Error::into_tool_result`] turns an error into a tool result with
//! `isError: true`, which the calling model sees and can act on. Protocol-level problems are
//! left to rmcp (`ErrorData`).

use std::time::Duration;

use rmcp::model::{CallToolResult, ContentBlock};

/// What went wrong in a tool call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller's arguments are wrong in a way the schema cannot express.
    #[error("invalid arguments: {0}")]
    InvalidArgument(String),

    /// No key is configured and the gateway needs one.
    #[error(
        "no API key: set AISA_API_KEY in the server's environment (for Claude Desktop, in the \
         \"env\" block of this server's entry in claude_desktop_config.json). Get a key at https://aisa.one"
    )]
    MissingApiKey,

    /// A provider from the config file names a key variable that is not set.
    #[error("provider '{provider}' needs a key and {env} is not set in the server's environment")]
    ProviderKeyMissing { provider: String, env: String },

    /// 401/403: the upstream refused the key.
    #[error(
        "{who} rejected the API key (HTTP {status}): {message}. Check {key_env} in the server's environment"
    )]
    Unauthorized {
        status: u16,
        message: String,
        /// "the gateway", or "provider 'name'".
        who: String,
        /// The variable the key came from.
        key_env: String,
    },

    /// 402: the account is out of credits.
    #[error(
        "the gateway account is out of credits (HTTP 402): {message}. Top up at https://aisa.one or use a cheaper model"
    )]
    OutOfCredits { message: String },

    /// 404: the gateway does not serve this model.
    #[error("unknown model '{model}' (HTTP 404): {message}{}", did_you_mean(.suggestions))]
    UnknownModel {
        model: String,
        message: String,
        suggestions: Vec<String>,
    },

    /// 429: rate limited.
    #[error("rate limited by the gateway (HTTP 429): {message}{}", retry_hint(.retry_after))]
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },

    /// 400/422: the gateway says the request is invalid (context too long shows up here).
    #[error("the gateway rejected the request (HTTP {status}): {message}")]
    BadRequest { status: u16, message: String },

    /// 5xx or any other status: the gateway or the provider behind it failed.
    #[error(
        "upstream error (HTTP {status}) from the gateway or the model's provider: {message}. Try again or use another model"
    )]
    Upstream { status: u16, message: String },

    /// No response within the configured timeout.
    #[error(
        "the request timed out after {:.1}s (to allow longer, raise [timeouts] in the config file or set LLM_ROUTER_TIMEOUT_SECS)",
        .after.as_secs_f64()
    )]
    Timeout { after: Duration },

    /// The gateway could not be reached at all.
    #[error(
        "could not connect to the gateway at {base_url}: {detail}. Check AISA_BASE_URL and the network"
    )]
    Connect { base_url: String, detail: String },

    /// The gateway answered with something we could not understand.
    #[error("the gateway sent a response llm-router could not read: {0}")]
    BadResponse(String),

    /// Every model tried failed; each model's error, in order.
    #[error("every model failed: {}", list_failures(.errors))]
    AllModelsFailed { errors: Vec<(String, String)> },

    /// A streamed answer broke off: it stalled, ended before `[DONE]`, or carried an error.
    /// Before the first token this is like a timeout (retried, then the fallbacks); after it
    /// nothing is retried — the caller has already been sent part of this model's answer.
    #[error("{}", stream_broken(.model, .reason, .partial, *.after_first_token))]
    StreamBroken {
        model: String,
        reason: String,
        /// The text that had arrived.
        partial: String,
        after_first_token: bool,
    },

    /// The caller cancelled the request.
    #[error("the request was cancelled")]
    Cancelled,

    /// A local file could not be used (vision images).
    #[error("{0}")]
    File(String),

    /// The call could exceed a configured budget (the message says which, what is spent and
    /// the estimate).
    #[error("over budget: {0}")]
    BudgetExceeded(String),

    /// The usage ledger could not be read.
    #[error("{0}. Check the ledger path ([ledger] in the config file or LLM_ROUTER_LEDGER_PATH)")]
    Ledger(String),
}

fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        ". Call list_models to see the models served".to_owned()
    } else {
        format!(". Did you mean: {}?", suggestions.join(", "))
    }
}

fn list_failures(errors: &[(String, String)]) -> String {
    errors
        .iter()
        .map(|(model, e)| format!("{model}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn stream_broken(model: &str, reason: &str, partial: &str, after_first_token: bool) -> String {
    if !after_first_token {
        return format!(
            "the stream from {model} broke off before the first token: {reason}. Try again or use another model"
        );
    }
    format!(
        "the stream from {model} broke off after {} characters: {reason}. Fallback models are \
         tried only before the first token, so none was tried. The partial answer was: {partial}",
        partial.chars().count()
    )
}

fn retry_hint(after: &Option<Duration>) -> String {
    match after {
        Some(d) => format!(". Retry after {}s", d.as_secs().max(1)),
        None => ". Wait a moment and retry, or use another model".to_owned(),
    }
}

impl Error {
    /// The HTTP status behind the error, when there was one.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { status, .. }
            | Error::BadRequest { status, .. }
            | Error::Upstream { status, .. } => Some(*status),
            Error::OutOfCredits { .. } => Some(402),
            Error::UnknownModel { .. } => Some(404),
            Error::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Whether trying the same request again later may succeed (used by the retry layer).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout { .. } | Error::Connect { .. } => true,
            Error::StreamBroken {
                after_first_token, ..
            } => !after_first_token,
            // 529: Anthropic's "overloaded", a 503 in all but number.
            Error::Upstream { status, .. } => matches!(status, 500 | 502 | 503 | 504 | 529),
            _ => false,
        }
    }

    /// How long the gateway asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short machine-readable kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "invalid_argument",
            Error::MissingApiKey | Error::ProviderKeyMissing { .. } => "missing_api_key",
            Error::Unauthorized { .. } => "unauthorized",
            Error::OutOfCredits { .. } => "out_of_credits",
            Error::UnknownModel { .. } => "unknown_model",
            Error::RateLimited { .. } => "rate_limited",
            Error::BadRequest { .. } => "bad_request",
            Error::Upstream { .. } => "upstream",
            Error::Timeout { .. } => "timeout",
            Error::Connect { .. } => "connect",
            Error::BadResponse(_) => "bad_response",
            Error::AllModelsFailed { .. } => "all_models_failed",
            Error::StreamBroken { .. } => "stream_broken",
            Error::Cancelled => "cancelled",
            Error::File(_) => "file",
            Error::BudgetExceeded(_) => "budget_exceeded",
            Error::Ledger(_) => "ledger",
        }
    }

    /// The MCP form of this error: a tool result with `isError: true` and the message as text.
    pub fn into_tool_result(self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(self.to_string())])
    }
}

/// Shorthand for an invalid-argument error.
pub fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_model_message_lists_suggestions() {
        let e = Error::UnknownModel {
            model: "gpt-5x".into(),
            message: "no such model".into(),
            suggestions: vec!["gpt-5".into(), "gpt-5-mini".into()],
        };
        assert_eq!(
            e.to_string(),
            "unknown model 'gpt-5x' (HTTP 404): no such model. Did you mean: gpt-5, gpt-5-mini?"
        );
    }

    #[test]
    fn retryable_statuses_are_the_transient_ones() {
        let up = |status| Error::Upstream {
            status,
            message: String::new(),
        };
        assert!(up(503).is_retryable());
        assert!(up(529).is_retryable());
        assert!(!up(501).is_retryable());
        assert!(!Error::MissingApiKey.is_retryable());
        assert!(
            Error::Timeout {
                after: Duration::from_secs(1)
            }
            .is_retryable()
        );
    }

    #[test]
    fn missing_key_names_the_variable() {
        assert!(Error::MissingApiKey.to_string().contains("AISA_API_KEY"));
    }
}
