//! The Anthropic Messages style: `POST /messages`, the key in `x-api-key`, every request
//! with `anthropic-version: 2023-06-01`, `GET /models`. Anthropic's own API
//! (`https://api.anthropic.com/v1`) and the AIsa gateway's Anthropic-native route speak it.
//!
//! Encoding (the `request` submodule) turns the common OpenAI-shaped request into a Messages
//! request: system messages become the top-level `system` text; every other message becomes a `user` or `assistant`
//! turn of content blocks (text; images as base64 from `data:` URIs or by URL; an assistant's
//! tool calls as `tool_use` blocks; a `tool` message as a `tool_result` block in a user
//! turn), consecutive turns of one role merged because the API requires them to alternate.
//! `max_tokens`, which the API requires, defaults to [`DEFAULT_MAX_TOKENS`]. Tools become
//! `{name, description, input_schema}`, `tool_choice` auto/none/required/a function becomes
//! `{type: auto|none|any|tool}`, `stop` becomes `stop_sequences`. What the API has no field
//! for: `frequency_penalty` and `presence_penalty` are dropped (noted in the debug log: they
//! only tune repetition, and refusing them would fail a fallback that lands here), while
//! `response_format` JSON modes and a `temperature` above 1 (the API's range is 0–1) are
//! refused, because dropping them would change what the caller gets back.
//!
//! Decoding reads the content blocks — text joined, `tool_use` as OpenAI tool calls with the
//! input as JSON text, `thinking` blocks left out (they are not the answer) — maps
//! `stop_reason` to OpenAI's words ([`finish_reason`]) and counts prompt tokens as
//! `input_tokens` plus the cache-creation and cache-read tokens (OpenAI's `prompt_tokens`
//! includes cached tokens too). The stream is read by [`EventsReader`].

mod request;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiStyle, Auth, Encoded};
use crate::error::Error;
use crate::upstream::sse::{Assembly, Delta, EventReader, StreamParser, ToolCallPart};
use crate::upstream::types::{ChatRequest, ChatResponse, LiveModel, ModelList, Usage};

/// `max_tokens` when the caller gave none: the Messages API requires the field. 4096 is
/// within every current Claude model's output limit and long enough for most answers.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The API version every request names (`anthropic-version`).
pub const API_VERSION: &str = "2023-06-01";

/// The Anthropic Messages style.
#[derive(Debug, Clone, Copy)]
pub struct Anthropic;

impl ApiStyle for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn encode(&self, request: &ChatRequest, model: &str, stream: bool) -> Result<Encoded, Error> {
        Ok(Encoded {
            path: "/messages".to_owned(),
            body: request::body(request, model, stream)?,
        })
    }

    fn decode(&self, body: &[u8]) -> Result<ChatResponse, serde_json::Error> {
        serde_json::from_slice::<MessageBody>(body).map(MessageBody::into_response)
    }

    fn stream_parser(&self) -> StreamParser {
        StreamParser::with_reader(Box::<EventsReader>::default())
    }

    fn headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("anthropic-version", API_VERSION)]
    }

    fn default_auth(&self) -> Auth {
        Auth::XApiKey
    }

    fn decode_models(&self, body: &[u8]) -> Result<Vec<LiveModel>, serde_json::Error> {
        // `{data: [{type, id, display_name, created_at}], has_more, first_id, last_id}`.
        serde_json::from_slice::<ModelList>(body).map(|l| l.data)
    }
}

/// Why generation stopped, in OpenAI's words; unknown reasons pass through as they are.
pub fn finish_reason(stop_reason: &str) -> String {
    match stop_reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        other => other,
    }
    .to_owned()
}

/// Anthropic's usage block.
#[derive(Debug, Default, Clone, Deserialize)]
struct AnthropicUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// All the prompt's tokens (fresh, written to the cache, read from it), when any is given.
    fn prompt_tokens(&self) -> Option<u64> {
        let parts = [
            self.input_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
        ];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum())
    }

    /// Adds what this report says to `usage` (later reports replace earlier counts).
    fn apply(&self, usage: &mut Usage) {
        if let Some(p) = self.prompt_tokens() {
            usage.prompt_tokens = Some(p);
        }
        if let Some(c) = self.output_tokens {
            usage.completion_tokens = Some(c);
        }
    }
}

/// A whole Messages answer, read tolerantly (or an error object sent with a 200).
#[derive(Debug, Default, Deserialize)]
struct MessageBody {
    #[serde(default)]
    model: Option<String>,
    /// Absent when the body is not a message at all (then the answer has no choices).
    #[serde(default)]
    content: Option<Vec<Value>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<Value>,
}

impl MessageBody {
    fn into_response(self) -> ChatResponse {
        if let Some(error) = self.error {
            return ChatResponse {
                model: self.model,
                error: Some(error),
                ..ChatResponse::default()
            };
        }
        let Some(content) = self.content else {
            return ChatResponse {
                model: self.model,
                ..ChatResponse::default()
            };
        };
        let mut text = String::new();
        let mut calls = Vec::new();
        for block in &content {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
                Some("tool_use") => calls.push(json!({
                    "id": block["id"].as_str().unwrap_or_default(),
                    "type": "function",
                    "function": {
                        "name": block["name"].as_str().unwrap_or_default(),
                        "arguments": block.get("input").unwrap_or(&json!({})).to_string(),
                    }
                })),
                // thinking, redacted_thinking, server tool blocks: not the answer's text.
                _ => {}
            }
        }
        let usage = self.usage.map(|u| {
            let mut usage = Usage::default();
            u.apply(&mut usage);
            usage
        });
        ChatResponse::answer(
            self.model,
            text,
            calls,
            None,
            self.stop_reason.as_deref().map(finish_reason),
            usage,
        )
    }
}

/// Reads the Messages stream: `message_start`, `content_block_start/delta/stop` per block,
/// `message_delta` (stop reason, output tokens), `message_stop`; `ping` is ignored and an
/// `error` event ends the stream with its message. Tool-use blocks become tool calls by their
/// content-block index.
#[derive(Debug, Default)]
pub struct EventsReader {
    /// The tool-use blocks open now, by index, and whether any input text has come for them.
    tool_blocks: Vec<(usize, bool)>,
}

impl EventReader for EventsReader {
    fn event(
        &mut self,
        data: &str,
        answer: &mut Assembly,
        on: &mut dyn FnMut(Delta<'_>),
    ) -> Result<(), String> {
        let Some(event) = answer.read::<Event>(data, "a Messages event") else {
            return Ok(());
        };
        match event.kind.as_str() {
            "message_start" => {
                let message = event.message.unwrap_or_default();
                answer.model(message.model);
                if let Some(u) = message.usage {
                    u.apply(answer.usage_mut());
                }
            }
            "content_block_start" => {
                let block = event.content_block.unwrap_or_default();
                let index = event.index.unwrap_or(0);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        answer.text(block["text"].as_str().unwrap_or_default(), on);
                    }
                    Some("tool_use") => {
                        self.tool_blocks.push((index, false));
                        let part = ToolCallPart {
                            index: Some(index),
                            id: block["id"].as_str().map(str::to_owned),
                            kind: Some("function".to_owned()),
                            name: block["name"].as_str().map(str::to_owned),
                            arguments: None,
                        };
                        answer.tool_call(part, on);
                    }
                    _ => {} // thinking and server tool blocks are not the answer
                }
            }
            "content_block_delta" => {
                let delta = event.delta.unwrap_or_default();
                let index = event.index.unwrap_or(0);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        answer.text(delta["text"].as_str().unwrap_or_default(), on)
                    }
                    Some("input_json_delta") => {
                        let json = delta["partial_json"].as_str().unwrap_or_default();
                        if let Some(open) = self.tool_blocks.iter_mut().find(|b| b.0 == index) {
                            open.1 |= !json.is_empty();
                        }
                        let part = ToolCallPart {
                            index: Some(index),
                            arguments: Some(json.to_owned()),
                            ..ToolCallPart::default()
                        };
                        answer.tool_call(part, on);
                    }
                    _ => {} // thinking_delta, signature_delta, citations_delta
                }
            }
            "content_block_stop" => {
                let index = event.index.unwrap_or(0);
                if let Some(at) = self.tool_blocks.iter().position(|b| b.0 == index) {
                    let (_, had_input) = self.tool_blocks.remove(at);
                    if !had_input {
                        // A call without arguments: `{}`, as a whole answer's `input` says.
                        let part = ToolCallPart {
                            index: Some(index),
                            arguments: Some("{}".to_owned()),
                            ..ToolCallPart::default()
                        };
                        answer.tool_call(part, on);
                    }
                }
            }
            "message_delta" => {
                let delta = event.delta.unwrap_or_default();
                if let Some(reason) = delta.get("stop_reason").and_then(Value::as_str) {
                    answer.finish_reason(finish_reason(reason));
                }
                if let Some(u) = event.usage {
                    u.apply(answer.usage_mut());
                }
            }
            "message_stop" => answer.done(),
            "error" => {
                let err = event.error.unwrap_or(Value::Null);
                let message = err.get("message").and_then(Value::as_str);
                let kind = err.get("type").and_then(Value::as_str);
                return Err(match (message, kind) {
                    (Some(m), Some(k)) => format!("{m} [{k}]"),
                    (Some(m), None) => m.to_owned(),
                    _ => super::error_text(&err),
                });
            }
            _ => {} // ping, and event types added after this was written
        }
        Ok(())
    }

    fn end_marker(&self) -> &'static str {
        "message_stop"
    }
}

/// One stream event, read tolerantly.
#[derive(Debug, Default, Deserialize)]
struct Event {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: Option<StartMessage>,
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    content_block: Option<Value>,
    #[serde(default)]
    delta: Option<Value>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<Value>,
}

/// The message of `message_start`.
#[derive(Debug, Default, Deserialize)]
struct StartMessage {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[cfg(test)]
mod tests;
