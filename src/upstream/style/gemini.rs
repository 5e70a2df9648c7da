//! The Gemini-native style: `POST /models/{model}:generateContent` (streamed:
//! `:streamGenerateContent?alt=sse`), `x-goog-api-key` auth on Google's own API (the AIsa
//! gateway serves the same routes with Bearer auth), `GET /models`.
//!
//! Encoding is in the `request` submodule. An answer is a `GenerateContentResponse`: the first candidate's
//! text parts are concatenated (parts marked `thought: true` are the model's reasoning and are
//! left out of the answer), its `functionCall` parts become OpenAI tool calls (`call_0`, … when
//! Gemini gives no id; arguments as JSON text), `finishReason` is put in OpenAI's words (STOP →
//! stop, or tool_calls when it called functions; MAX_TOKENS → length; SAFETY, RECITATION,
//! BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY → content_filter; anything else
//! lowercased), `modelVersion` is the model. `usageMetadata` gives the tokens: output tokens
//! are `candidatesTokenCount` **plus `thoughtsTokenCount`**, because Google bills thinking
//! tokens as output, so the catalog cost counts them too. A prompt blocked before any
//! candidate (`promptFeedback.blockReason`) is an error saying so and why.
//!
//! The stream is SSE whose every data event is a whole `GenerateContentResponse` carrying the
//! next piece; there is no `[DONE]`: the stream is complete once a candidate has a
//! `finishReason`.

mod request;

use serde::Deserialize;
use serde::de::Error as _;
use serde_json::{Value, json};

use super::{ApiStyle, Auth, Encoded};
use crate::error::{Error, invalid};
use crate::upstream::sse::{Assembly, Delta, EventReader, StreamParser, ToolCallPart};
use crate::upstream::types::{ChatRequest, ChatResponse, LiveModel, Usage};

/// The Gemini-native style.
#[derive(Debug, Clone, Copy)]
pub struct Gemini;

impl ApiStyle for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn encode(&self, request: &ChatRequest, model: &str, stream: bool) -> Result<Encoded, Error> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        if model.is_empty()
            || !model
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(format!(
                "'{model}' cannot be a model id for the gemini API style (it goes in the URL path: letters, digits, '-', '_', '.')"
            )));
        }
        let path = if stream {
            format!("/models/{model}:streamGenerateContent?alt=sse")
        } else {
            format!("/models/{model}:generateContent")
        };
        Ok(Encoded {
            path,
            body: request::body(request)?,
        })
    }

    fn decode(&self, body: &[u8]) -> Result<ChatResponse, serde_json::Error> {
        let r: Response = serde_json::from_slice(body)?;
        if let Some(err) = r.error {
            return Ok(ChatResponse {
                error: Some(err),
                ..ChatResponse::default()
            });
        }
        let model = r.model_version;
        let usage = r.usage_metadata.map(UsageMetadata::usage);
        let Some(candidate) = r.candidates.into_iter().next() else {
            if let Some(why) = r.prompt_feedback.as_ref().and_then(PromptFeedback::blocked) {
                return Ok(ChatResponse {
                    model,
                    usage,
                    error: Some(json!({ "message": why })),
                    ..ChatResponse::default()
                });
            }
            return Err(serde_json::Error::custom(
                "a Gemini response with neither candidates nor an error",
            ));
        };
        let mut text = String::new();
        let mut calls = Vec::new();
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            if part.thought {
                continue;
            }
            if let Some(t) = part.text {
                text.push_str(&t);
            }
            if let Some(f) = part.function_call {
                let mut call = json!({
                    "id": f.id.clone().unwrap_or_else(|| format!("call_{}", calls.len())),
                    "type": "function",
                    "function": {"name": f.name, "arguments": f.arguments()},
                });
                if let Some(sig) = part.thought_signature {
                    call["extra_content"] = json!({"google": {"thought_signature": sig}});
                }
                calls.push(call);
            }
        }
        let finish_reason = candidate
            .finish_reason
            .map(|r| finish_reason(&r, !calls.is_empty()));
        Ok(ChatResponse::answer(
            model,
            text,
            calls,
            None,
            finish_reason,
            usage,
        ))
    }

    fn stream_parser(&self) -> StreamParser {
        StreamParser::with_reader(Box::new(EventsReader::default()))
    }

    fn default_auth(&self) -> Auth {
        Auth::XGoogApiKey
    }

    fn models_path(&self) -> &'static str {
        "/models?pageSize=1000"
    }

    fn decode_models(&self, body: &[u8]) -> Result<Vec<LiveModel>, serde_json::Error> {
        let list: ModelList = serde_json::from_slice(body)?;
        Ok(list
            .models
            .into_iter()
            .filter(|m| {
                m.supported_generation_methods
                    .as_ref()
                    .is_none_or(|methods| methods.iter().any(|x| x == "generateContent"))
            })
            .map(|m| LiveModel {
                id: m.name.strip_prefix("models/").unwrap_or(&m.name).to_owned(),
                owned_by: None,
            })
            .collect())
    }
}

/// A Gemini `finishReason` in OpenAI's words.
fn finish_reason(reason: &str, called: bool) -> String {
    match reason {
        "STOP" if called => "tool_calls",
        "STOP" => "stop",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        other => return other.to_ascii_lowercase(),
    }
    .to_owned()
}

/// Reads `streamGenerateContent?alt=sse` events.
#[derive(Debug, Default)]
pub struct EventsReader {
    /// Function calls seen so far (each arrives whole, in one part).
    calls: usize,
}

impl EventReader for EventsReader {
    fn event(
        &mut self,
        data: &str,
        answer: &mut Assembly,
        on: &mut dyn FnMut(Delta<'_>),
    ) -> Result<(), String> {
        let Some(r) = answer.read::<Response>(data, "a GenerateContentResponse") else {
            return Ok(());
        };
        if let Some(err) = r.error {
            return Err(super::error_text(&err));
        }
        answer.model(r.model_version);
        if let Some(usage) = r.usage_metadata {
            answer.usage(usage.usage());
        }
        let Some(candidate) = r.candidates.into_iter().next() else {
            if let Some(why) = r.prompt_feedback.as_ref().and_then(PromptFeedback::blocked) {
                return Err(why);
            }
            return Ok(());
        };
        answer.answered();
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            if part.thought {
                continue;
            }
            if let Some(t) = part.text.filter(|t| !t.is_empty()) {
                answer.text(&t, on);
            }
            if let Some(f) = part.function_call {
                let index = self.calls;
                self.calls += 1;
                answer.tool_call(
                    ToolCallPart {
                        index: Some(index),
                        id: Some(f.id.clone().unwrap_or_else(|| format!("call_{index}"))),
                        kind: Some("function".to_owned()),
                        arguments: Some(f.arguments()),
                        name: Some(f.name),
                    },
                    on,
                );
            }
        }
        if let Some(reason) = candidate.finish_reason {
            answer.finish_reason(finish_reason(&reason, self.calls > 0));
        }
        Ok(())
    }

    fn end_marker(&self) -> &'static str {
        "a finishReason"
    }
}

/// A `GenerateContentResponse` (whole, or one stream event), read tolerantly.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    model_version: Option<String>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thought: bool,
    #[serde(default)]
    thought_signature: Option<String>,
    #[serde(default)]
    function_call: Option<FunctionCall>,
}

#[derive(Debug, Default, Deserialize)]
struct FunctionCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    args: Option<Value>,
}

impl FunctionCall {
    /// The arguments as JSON text (`{}` when there are none).
    fn arguments(&self) -> String {
        match &self.args {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(v) => v.to_string(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: Option<u64>,
    #[serde(default)]
    candidates_token_count: Option<u64>,
    #[serde(default)]
    thoughts_token_count: Option<u64>,
    #[serde(default)]
    total_token_count: Option<u64>,
}

impl UsageMetadata {
    /// In the common shape; thinking tokens count as output (Google bills them so).
    fn usage(self) -> Usage {
        let output = match (self.candidates_token_count, self.thoughts_token_count) {
            (None, None) => None,
            (c, t) => Some(c.unwrap_or(0) + t.unwrap_or(0)),
        };
        Usage {
            prompt_tokens: self.prompt_token_count,
            completion_tokens: output,
            total_tokens: self.total_token_count,
            cost: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
    #[serde(default)]
    block_reason_message: Option<String>,
}

impl PromptFeedback {
    /// Why the prompt was blocked, when it was.
    fn blocked(&self) -> Option<String> {
        let reason = self.block_reason.as_deref()?;
        let detail = self
            .block_reason_message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        Some(format!(
            "Gemini blocked the prompt and generated nothing (blockReason {reason}{detail}); rephrase it or use another model"
        ))
    }
}

/// `GET /models`.
#[derive(Debug, Default, Deserialize)]
struct ModelList {
    #[serde(default)]
    models: Vec<ModelEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelEntry {
    name: String,
    #[serde(default)]
    supported_generation_methods: Option<Vec<String>>,
}

#[cfg(test)]
mod tests;
