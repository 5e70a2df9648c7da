//! The OpenAI chat-completions style: `POST /chat/completions`, Bearer auth, `GET /models`.
//!
//! llm-router's own request and response types are this style's wire format, so encoding is
//! the request as it is (plus `stream` and `stream_options.include_usage` when streamed) and
//! decoding is reading it tolerantly. The stream is `chat.completion.chunk` events ending in
//! `[DONE]`: text deltas are concatenated, tool-call deltas are merged by `index` into whole
//! calls, `finish_reason` and `usage` (sent in a final chunk with no choices when
//! `stream_options.include_usage` is set) are kept, and a chunk carrying an `error` object
//! ends the stream with that error. Used for the AIsa gateway, OpenAI itself, and local
//! servers (Ollama, vLLM, llama.cpp server), which all speak it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiStyle, Encoded};
use crate::error::Error;
use crate::upstream::sse::{Assembly, Delta, EventReader, StreamParser, ToolCallPart};
use crate::upstream::types::{ChatRequest, ChatResponse, LiveModel, ModelList, Usage};

/// The OpenAI chat-completions style.
#[derive(Debug, Clone, Copy)]
pub struct OpenAi;

/// The body of a streamed request: the request plus `stream` and `stream_options`.
#[derive(Serialize)]
struct Streaming<'a> {
    #[serde(flatten)]
    request: &'a ChatRequest,
    stream: bool,
    stream_options: StreamOptions,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

impl ApiStyle for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn encode(&self, request: &ChatRequest, model: &str, stream: bool) -> Result<Encoded, Error> {
        let encode = |e: serde_json::Error| {
            Error::InvalidArgument(format!("the request could not be encoded: {e}"))
        };
        let mut body = if stream {
            serde_json::to_value(Streaming {
                request,
                stream: true,
                stream_options: StreamOptions {
                    include_usage: true,
                },
            })
        } else {
            serde_json::to_value(request)
        }
        .map_err(encode)?;
        body["model"] = Value::String(model.to_owned());
        Ok(Encoded {
            path: "/chat/completions".to_owned(),
            body,
        })
    }

    fn decode(&self, body: &[u8]) -> Result<ChatResponse, serde_json::Error> {
        serde_json::from_slice(body)
    }

    fn stream_parser(&self) -> StreamParser {
        StreamParser::with_reader(Box::new(ChunkReader))
    }

    fn decode_models(&self, body: &[u8]) -> Result<Vec<LiveModel>, serde_json::Error> {
        serde_json::from_slice::<ModelList>(body).map(|l| l.data)
    }
}

/// Reads `chat.completion.chunk` events.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChunkReader;

impl EventReader for ChunkReader {
    fn event(
        &mut self,
        data: &str,
        answer: &mut Assembly,
        on: &mut dyn FnMut(Delta<'_>),
    ) -> Result<(), String> {
        if data == "[DONE]" {
            answer.done();
            return Ok(());
        }
        let Some(chunk) = answer.read::<Chunk>(data, "a chunk") else {
            return Ok(());
        };
        if let Some(err) = chunk.error {
            return Err(super::error_text(&err));
        }
        answer.model(chunk.model);
        if let Some(usage) = chunk.usage {
            answer.usage(usage);
        }
        // llm-router asks for one choice; a gateway that sends more is read for the first.
        let Some(choice) = chunk
            .choices
            .into_iter()
            .find(|c| c.index.unwrap_or(0) == 0)
        else {
            return Ok(());
        };
        answer.answered();
        if let Some(reason) = choice.finish_reason {
            answer.finish_reason(reason);
        }
        let Some(delta) = choice.delta else {
            return Ok(());
        };
        if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
            answer.text(&text, on);
        }
        for call in delta.tool_calls.unwrap_or_default() {
            let f = call.function.unwrap_or_default();
            answer.tool_call(
                ToolCallPart {
                    index: call.index,
                    id: call.id,
                    kind: call.kind,
                    name: f.name,
                    arguments: f.arguments,
                },
                on,
            );
        }
        if let Some(f) = delta.function_call {
            answer.function_call(f.name.as_deref(), f.arguments.as_deref(), on);
        }
        Ok(())
    }

    fn end_marker(&self) -> &'static str {
        "[DONE]"
    }
}

/// One `chat.completion.chunk`, read tolerantly.
#[derive(Debug, Default, Deserialize)]
struct Chunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
    #[serde(default)]
    function_call: Option<FunctionDelta>,
}

#[derive(Debug, Default, Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Debug, Default, Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}
