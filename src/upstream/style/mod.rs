//! API styles: how one upstream's wire format maps to llm-router's common request and
//! answer shapes.
//!
//! llm-router speaks one language inside — the OpenAI chat-completions shape of
//! [`ChatRequest`] and [`ChatResponse`] — and each upstream speaks one of several. An
//! [`ApiStyle`] translates at the edge: it encodes a request (the path under the provider's
//! base URL and the JSON body), decodes a whole answer, reads a streamed one (an
//! [`EventReader`](crate::upstream::sse::EventReader) inside a [`StreamParser`]) and reads the
//! provider's model list. Everything else — the HTTP client, auth, timeouts, the body cap, error
//! statuses, key scrubbing — is the same for every style and lives in [`crate::upstream`], so
//! tools and routing never know which style served them.
//!
//! One module per style: [`openai`] (the AIsa gateway, OpenAI, Ollama, vLLM, llama.cpp),
//! [`gemini`] (Google's Gemini API, and the AIsa gateway's Gemini-native routes),
//! [`anthropic`] (Anthropic's Messages API, and the gateway's Anthropic-native route).

pub mod anthropic;
pub mod gemini;
pub mod openai;

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::upstream::sse::StreamParser;
use crate::upstream::types::{ChatRequest, ChatResponse, LiveModel};

/// A request as one style sends it.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The path under the provider's base URL, starting with `/`.
    pub path: String,
    pub body: Value,
}

/// One upstream wire format. Implementations are stateless; see the module docs.
pub trait ApiStyle: Send + Sync + std::fmt::Debug {
    /// The style's name in config and output (`openai`, …).
    fn name(&self) -> &'static str;

    /// The request for `model` (the provider's own id for it, which may differ from
    /// `request.model`, the name the caller used), whole or streamed.
    fn encode(&self, request: &ChatRequest, model: &str, stream: bool) -> Result<Encoded, Error>;

    /// A whole answer, in the common shape.
    fn decode(&self, body: &[u8]) -> Result<ChatResponse, serde_json::Error>;

    /// A parser for this style's stream.
    fn stream_parser(&self) -> StreamParser;

    /// Headers every request of this style carries (beyond auth and content type).
    fn headers(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// How this style's own API takes the key, when the provider does not say.
    fn default_auth(&self) -> Auth {
        Auth::Bearer
    }

    /// The path of the model list.
    fn models_path(&self) -> &'static str {
        "/models"
    }

    /// The model list, in the common shape.
    fn decode_models(&self, body: &[u8]) -> Result<Vec<LiveModel>, serde_json::Error>;
}

/// The styles llm-router speaks, as named in config (`style = "openai"`) and on `chat`
/// (`api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    #[default]
    #[serde(rename = "openai")]
    OpenAi,
    Gemini,
    Anthropic,
}

impl Style {
    /// Every style, for messages that list them.
    pub const ALL: &[Style] = &[Style::OpenAi, Style::Gemini, Style::Anthropic];

    /// The translation for this style.
    pub fn api(self) -> &'static dyn ApiStyle {
        match self {
            Style::OpenAi => &openai::OpenAi,
            Style::Gemini => &gemini::Gemini,
            Style::Anthropic => &anthropic::Anthropic,
        }
    }

    pub fn name(self) -> &'static str {
        self.api().name()
    }

    /// The style named `name`, or an error listing the styles there are.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|s| s.name() == name.trim())
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown API style '{name}'; the styles are {}",
                    names.join(", ")
                )
            })
    }
}

/// How a provider takes its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// `Authorization: Bearer KEY` (OpenAI, the AIsa gateway on every route).
    Bearer,
    /// `x-api-key: KEY` (Anthropic's own API).
    XApiKey,
    /// `x-goog-api-key: KEY` (Google's Gemini API).
    XGoogApiKey,
}

impl Auth {
    /// The header the key goes in, and the prefix before the key.
    pub fn header(self) -> (&'static str, &'static str) {
        match self {
            Auth::Bearer => ("authorization", "Bearer "),
            Auth::XApiKey => ("x-api-key", ""),
            Auth::XGoogApiKey => ("x-goog-api-key", ""),
        }
    }
}

/// The message of an error object some stream or body carried: `{"message": …}`,
/// `{"error": {"message": …}}`, or the object itself as text.
pub fn error_text(err: &Value) -> String {
    err.get("message")
        .or_else(|| err.get("error").and_then(|e| e.get("message")))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| err.to_string())
}
