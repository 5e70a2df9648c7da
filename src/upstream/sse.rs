//! Reading a streamed answer: Server-Sent Events framing, then the assembly of the events
//! into one [`ChatResponse`], whichever API style sent them.
//!
//! [`StreamParser::feed`] takes the body in whatever pieces the network delivers — a chunk may
//! end anywhere, even inside a UTF-8 character or between the `\r` and `\n` of a line end —
//! and reports each new piece of text as it completes. Framing follows the WHATWG EventSource
//! rules: lines end in LF, CRLF or CR; `data:` lines of one event are joined with `\n`; a blank
//! line ends an event; `:` lines are comments (keep-alives); `event:`, `id:` and `retry:` are
//! ignored (every style this reads repeats the event type inside its data).
//!
//! What an event *means* is the API style's business: an [`EventReader`] per style
//! (`upstream::style::{openai, gemini, anthropic}`) turns each event's data into additions to
//! one [`Assembly`] — text, tool-call pieces merged by index, `finish_reason`, usage, the model
//! — which every style shares, so a Gemini or Anthropic stream ends as the same
//! [`ChatResponse`] an OpenAI one does. An event that cannot be read is skipped and noted, not
//! fatal; an error event ends the stream with its message.
//!
//! The framing is written here rather than taken from `eventsource-stream`: it is ~60 lines,
//! and a push parser (bytes in, events out) is what the every-split tests drive directly.

use serde_json::{Value, json};

use crate::upstream::types::{ChatResponse, Usage};

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

/// A tool call being assembled.
#[derive(Debug, Default)]
struct ToolCall {
    index: usize,
    id: String,
    kind: String,
    name: String,
    arguments: String,
}

/// One piece of a tool call as a stream delivers it. Pieces with the same `index` are merged
/// (names and arguments concatenated); without an index, a piece joins the last call unless it
/// brings a new id.
#[derive(Debug, Default, Clone)]
pub struct ToolCallPart {
    pub index: Option<usize>,
    pub id: Option<String>,
    /// The call's type (`function` when absent).
    pub kind: Option<String>,
    pub name: Option<String>,
    /// A piece of the JSON arguments text.
    pub arguments: Option<String>,
}

/// An answer being assembled from stream events: what every API style's events add to.
#[derive(Debug, Default)]
pub struct Assembly {
    model: Option<String>,
    text: String,
    tool_calls: Vec<ToolCall>,
    /// The legacy `function_call` (name, arguments), when the model used it.
    function_call: Option<(String, String)>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
    started: bool,
    /// An event carried part of an answer (a stream without any is no answer at all).
    answered: bool,
    /// What was skipped, for the log: events that could not be read.
    skipped: Vec<String>,
}

impl Assembly {
    /// The model that serves the answer, from the first event that names one.
    pub fn model(&mut self, model: Option<String>) {
        if self.model.is_none() {
            self.model = model.filter(|m| !m.is_empty());
        }
    }

    /// More answer text.
    pub fn text(&mut self, text: &str, on: &mut dyn FnMut(Delta<'_>)) {
        self.answered = true;
        if text.is_empty() {
            return;
        }
        self.started = true;
        self.text.push_str(text);
        on(Delta::Text(text));
    }

    /// A piece of a tool call.
    pub fn tool_call(&mut self, part: ToolCallPart, on: &mut dyn FnMut(Delta<'_>)) {
        self.answered = true;
        self.started = true;
        self.merge_tool_call(part);
        on(Delta::ToolCall);
    }

    /// A piece of a legacy `function_call`.
    pub fn function_call(
        &mut self,
        name: Option<&str>,
        arguments: Option<&str>,
        on: &mut dyn FnMut(Delta<'_>),
    ) {
        self.answered = true;
        self.started = true;
        let (n, a) = self.function_call.get_or_insert_default();
        n.push_str(name.unwrap_or_default());
        a.push_str(arguments.unwrap_or_default());
        on(Delta::ToolCall);
    }

    /// Why generation stopped, in OpenAI's words (stop, length, tool_calls, content_filter).
    pub fn finish_reason(&mut self, reason: String) {
        self.answered = true;
        self.finish_reason = Some(reason);
    }

    /// An event belongs to the answer without adding to it (e.g. a role-only delta).
    pub fn answered(&mut self) {
        self.answered = true;
    }

    /// Token usage; a later report replaces an earlier one.
    pub fn usage(&mut self, usage: Usage) {
        self.usage = Some(usage);
    }

    /// Merges usage fields into what was reported before (styles that report input tokens
    /// first and output tokens last).
    pub fn usage_mut(&mut self) -> &mut Usage {
        self.usage.get_or_insert_default()
    }

    /// The stream said it is over: nothing after this is read.
    pub fn done(&mut self) {
        self.done = true;
    }

    /// The event's data as `T`, or `None` after noting that it is not a `what` (an event that
    /// cannot be read is skipped, not fatal).
    pub fn read<T: serde::de::DeserializeOwned>(&mut self, data: &str, what: &str) -> Option<T> {
        match serde_json::from_str(data) {
            Ok(v) => Some(v),
            Err(e) => {
                self.skip(format_args!("not {what} ({e})"), data);
                None
            }
        }
    }

    /// Notes an event that could not be read (kept for the log).
    pub fn skip(&mut self, why: impl std::fmt::Display, data: &str) {
        let mut snippet: String = data.chars().take(80).collect();
        if snippet.len() < data.len() {
            snippet.push('…');
        }
        self.skipped.push(format!("{why}: {snippet}"));
    }

    /// Merges one tool-call piece: by `index`, or — for gateways that leave it out — into the
    /// last call unless the piece brings a new id.
    fn merge_tool_call(&mut self, d: ToolCallPart) {
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
        call.name.push_str(d.name.as_deref().unwrap_or_default());
        call.arguments
            .push_str(d.arguments.as_deref().unwrap_or_default());
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
        ChatResponse::answer(
            self.model.take(),
            std::mem::take(&mut self.text),
            tool_calls,
            function_call,
            self.finish_reason.take(),
            self.usage.take(),
        )
    }
}

/// What one API style's stream events mean: reads the data of one event into the
/// [`Assembly`]. An `Err` is an error the upstream sent mid-stream (its message).
pub trait EventReader: Send + std::fmt::Debug {
    fn event(
        &mut self,
        data: &str,
        answer: &mut Assembly,
        on: &mut dyn FnMut(Delta<'_>),
    ) -> Result<(), String>;

    /// What the stream sends when it is complete, for the error when it stops short.
    fn end_marker(&self) -> &'static str;
}

/// Reads a streamed answer; see the module docs.
#[derive(Debug)]
pub struct StreamParser {
    framer: Framer,
    answer: Assembly,
    reader: Box<dyn EventReader>,
}

impl Default for StreamParser {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamParser {
    /// A parser for OpenAI's `chat.completion.chunk` stream.
    pub fn new() -> Self {
        Self::with_reader(Box::new(crate::upstream::style::openai::ChunkReader))
    }

    /// A parser for the stream `reader` understands.
    pub fn with_reader(reader: Box<dyn EventReader>) -> Self {
        Self {
            framer: Framer::default(),
            answer: Assembly::default(),
            reader,
        }
    }

    /// Feeds the next piece of the body, calling `on` for each new piece of the answer.
    /// An error event ends the stream: its text is returned as `Err`.
    pub fn feed(&mut self, bytes: &[u8], on: &mut dyn FnMut(Delta<'_>)) -> Result<(), String> {
        let mut events = Vec::new();
        self.framer.push(bytes, &mut events);
        self.events(events, on)
    }

    /// The body ended. The answer, or — when the stream stopped before its end marker and
    /// before any `finish_reason` — why it is incomplete (the partial text is in
    /// [`Self::text`]).
    pub fn finish(&mut self, on: &mut dyn FnMut(Delta<'_>)) -> Result<ChatResponse, String> {
        let mut events = Vec::new();
        self.framer.finish(&mut events);
        self.events(events, on)?;
        if !self.answer.done && self.answer.finish_reason.is_none() {
            return Err(format!(
                "the stream ended before {} (the connection closed mid-answer)",
                self.reader.end_marker()
            ));
        }
        if !self.answer.answered {
            return Err("the stream carried no choices (no answer from the model)".into());
        }
        Ok(self.answer.response())
    }

    /// The stream said it is over: nothing more will come.
    pub fn is_done(&self) -> bool {
        self.answer.done
    }

    /// The model has started answering (text or a tool call).
    pub fn started(&self) -> bool {
        self.answer.started
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        &self.answer.text
    }

    /// Notes on what was skipped (events that could not be read, lines not in UTF-8).
    pub fn skipped(&self) -> Vec<String> {
        let mut notes = self.answer.skipped.clone();
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
            if self.answer.done {
                break;
            }
            let data = data.trim();
            if !data.is_empty() {
                self.reader.event(data, &mut self.answer, on)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod testing;
