//! Reading a streamed chat completion: Server-Sent Events framing, then the assembly of
//! `chat.completion.chunk` deltas into one [`ChatResponse`].
//!
//! [`StreamParser::feed`] takes the body in whatever pieces the network delivers — a chunk may
//! end anywhere, even inside a UTF-8 character or between the `\r` and `\n` of a line end —
//! and reports each new piece of text as it completes. Framing follows the WHATWG EventSource
//! rules: lines end in LF, CRLF or CR; `data:` lines of one event are joined with `\n`; a blank
//! line ends an event; `:` lines are comments (keep-alives); `event:`, `id:` and `retry:` are
//! ignored. The data `[DONE]` ends the stream. Assembly follows OpenAI's chunk format: text
//! deltas are concatenated, tool-call deltas are merged by `index` into whole calls,
//! `finish_reason` and `usage` (sent in a final chunk with no choices when
//! `stream_options.include_usage` is set) are kept. A chunk that is not JSON is skipped and
//! noted, not fatal; a chunk carrying an `error` object ends the stream with that error.
//!
//! The framing is written here rather than taken from `eventsource-stream`: it is ~60 lines,
//! and a push parser (bytes in, events out) is what the every-split tests drive directly.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::upstream::types::{ChatResponse, Choice, ResponseMessage, Usage};

/// Something new in the answer, reported while the stream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta<'a> {
    /// More answer text.
    Text(&'a str),
    /// A piece of a tool call (not text, but the model has started answering).
    ToolCall,
}

/// SSE framing: bytes in, the data of each complete event out.
#[derive(Debug, Default)]
struct Framer {
    /// The bytes of the line not yet ended.
    line: Vec<u8>,
    /// The last byte seen was a `\r`: a `\n` right after it ends no new line.
    after_cr: bool,
    /// The `data` of the event being read (`None` until its first `data:` line).
    data: Option<String>,
    /// Lines that were not valid UTF-8 (decoded lossily).
    bad_utf8: usize,
}

impl Framer {
    /// Splits `bytes` into lines and pushes the data of every event they complete.
    fn push(&mut self, bytes: &[u8], events: &mut Vec<String>) {
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    self.end_line(events);
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(b);
                }
            }
        }
    }

    /// The body ended: a last line without its line end, and a last event without its blank
    /// line, still count (servers that close right after `data: [DONE]` exist).
    fn finish(&mut self, events: &mut Vec<String>) {
        if !self.line.is_empty() {
            self.end_line(events);
        }
        if let Some(data) = self.data.take() {
            events.push(data);
        }
    }

    fn end_line(&mut self, events: &mut Vec<String>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                events.push(data);
            }
            return;
        }
        let line = match String::from_utf8(line) {
            Ok(s) => s,
            Err(e) => {
                self.bad_utf8 += 1;
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        if line.starts_with(':') {
            return; // a comment: keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
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

/// A tool call being assembled.
#[derive(Debug, Default)]
struct ToolCall {
    index: usize,
    id: String,
    kind: String,
    name: String,
    arguments: String,
}

/// Reads a streamed chat completion; see the module docs.
#[derive(Debug, Default)]
pub struct StreamParser {
    framer: Framer,
    model: Option<String>,
    text: String,
    tool_calls: Vec<ToolCall>,
    /// The legacy `function_call` (name, arguments), when the model used it.
    function_call: Option<(String, String)>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
    started: bool,
    /// A chunk carried a choice (a stream without any is no answer at all).
    saw_choice: bool,
    /// What was skipped, for the log: events that were not chunks.
    skipped: Vec<String>,
}

impl StreamParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of the body, calling `on` for each new piece of the answer.
    /// An `error` object in a chunk ends the stream: its text is returned as `Err`.
    pub fn feed(&mut self, bytes: &[u8], on: &mut dyn FnMut(Delta<'_>)) -> Result<(), String> {
        let mut events = Vec::new();
        self.framer.push(bytes, &mut events);
        self.events(events, on)
    }

    /// The body ended. The answer, or — when the stream stopped before `[DONE]` and before
    /// any `finish_reason` — why it is incomplete (the partial text is in [`Self::text`]).
    pub fn finish(&mut self, on: &mut dyn FnMut(Delta<'_>)) -> Result<ChatResponse, String> {
        let mut events = Vec::new();
        self.framer.finish(&mut events);
        self.events(events, on)?;
        if !self.done && self.finish_reason.is_none() {
            return Err("the stream ended before [DONE] (the connection closed mid-answer)".into());
        }
        if !self.saw_choice {
            return Err("the stream carried no choices (no answer from the model)".into());
        }
        Ok(self.response())
    }

    /// `[DONE]` was read: nothing more will come.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The model has started answering (text or a tool call).
    pub fn started(&self) -> bool {
        self.started
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Notes on what was skipped (events that were not chunks, lines not in UTF-8).
    pub fn skipped(&self) -> Vec<String> {
        let mut notes = self.skipped.clone();
        if self.framer.bad_utf8 > 0 {
            notes.push(format!(
                "{} line(s) were not UTF-8 (decoded lossily)",
                self.framer.bad_utf8
            ));
        }
        notes
    }

    fn events(&mut self, events: Vec<String>, on: &mut dyn FnMut(Delta<'_>)) -> Result<(), String> {
        for data in events {
            if self.done {
                break;
            }
            self.event(&data, on)?;
        }
        Ok(())
    }

    fn event(&mut self, data: &str, on: &mut dyn FnMut(Delta<'_>)) -> Result<(), String> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Chunk = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                let mut snippet: String = data.chars().take(80).collect();
                if snippet.len() < data.len() {
                    snippet.push('…');
                }
                self.skipped.push(format!("not a chunk ({e}): {snippet}"));
                return Ok(());
            }
        };
        if let Some(err) = chunk.error {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| err.to_string());
            return Err(message);
        }
        if self.model.is_none() {
            self.model = chunk.model.filter(|m| !m.is_empty());
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        // llm-router asks for one choice; a gateway that sends more is read for the first.
        let Some(choice) = chunk
            .choices
            .into_iter()
            .find(|c| c.index.unwrap_or(0) == 0)
        else {
            return Ok(());
        };
        self.saw_choice = true;
        if let Some(reason) = choice.finish_reason {
            self.finish_reason = Some(reason);
        }
        let Some(delta) = choice.delta else {
            return Ok(());
        };
        if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
            self.started = true;
            self.text.push_str(&text);
            on(Delta::Text(&text));
        }
        for call in delta.tool_calls.unwrap_or_default() {
            self.started = true;
            self.tool_call(call);
            on(Delta::ToolCall);
        }
        if let Some(f) = delta.function_call {
            self.started = true;
            let (name, args) = self.function_call.get_or_insert_default();
            name.push_str(f.name.as_deref().unwrap_or_default());
            args.push_str(f.arguments.as_deref().unwrap_or_default());
            on(Delta::ToolCall);
        }
        Ok(())
    }

    /// Merges one tool-call delta: by `index`, or — for gateways that leave it out — into the
    /// last call unless the delta brings a new id.
    fn tool_call(&mut self, d: ToolCallDelta) {
        let position = match d.index {
            Some(i) => self.tool_calls.iter().position(|c| c.index == i),
            None => match (&d.id, self.tool_calls.last()) {
                (Some(id), Some(last)) if !last.id.is_empty() && &last.id != id => None,
                (_, Some(_)) => Some(self.tool_calls.len() - 1),
                (_, None) => None,
            },
        };
        let position = position.unwrap_or_else(|| {
            let index = d.index.unwrap_or(self.tool_calls.len());
            self.tool_calls.push(ToolCall {
                index,
                ..ToolCall::default()
            });
            self.tool_calls.len() - 1
        });
        let call = &mut self.tool_calls[position];
        if let Some(id) = d.id.filter(|s| !s.is_empty()) {
            call.id = id;
        }
        if let Some(kind) = d.kind.filter(|s| !s.is_empty()) {
            call.kind = kind;
        }
        if let Some(f) = d.function {
            call.name.push_str(f.name.as_deref().unwrap_or_default());
            call.arguments
                .push_str(f.arguments.as_deref().unwrap_or_default());
        }
    }

    /// The assembled answer, in the shape of a non-streamed response.
    fn response(&mut self) -> ChatResponse {
        let mut calls = std::mem::take(&mut self.tool_calls);
        calls.sort_by_key(|c| c.index);
        let tool_calls: Vec<Value> = calls
            .into_iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "type": if c.kind.is_empty() { "function".to_owned() } else { c.kind },
                    "function": {"name": c.name, "arguments": c.arguments}
                })
            })
            .collect();
        let function_call = self
            .function_call
            .take()
            .map(|(name, arguments)| json!({"name": name, "arguments": arguments}));
        ChatResponse {
            model: self.model.take(),
            choices: vec![Choice {
                message: Some(ResponseMessage {
                    content: Some(Value::String(std::mem::take(&mut self.text))),
                    tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                    function_call,
                }),
                finish_reason: self.finish_reason.take(),
            }],
            usage: self.usage.take(),
            error: None,
        }
    }
}

#[cfg(test)]
mod tests;
