//! Encoding for the anthropic style: the common OpenAI-shaped request as a Messages request
//! body (see the parent module for what maps to what, and what is dropped or refused).

use serde_json::{Map, Value, json};

use super::DEFAULT_MAX_TOKENS;
use crate::error::{Error, invalid};
use crate::upstream::types::{ChatRequest, WireMessage};

/// The Messages request body for `model`.
pub(super) fn body(request: &ChatRequest, model: &str, stream: bool) -> Result<Value, Error> {
    let (system, messages) = conversation(&request.messages)?;
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    let max_tokens = request.sampling.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), json!(max_tokens));
    if let Some(system) = system {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), Value::Array(messages));
    if let Some(t) = request.sampling.temperature {
        if t > 1.0 {
            return Err(invalid(format!(
                "temperature {t} is above 1, the most the Anthropic API accepts (its range is \
                 0–1): use a value between 0 and 1 for this model"
            )));
        }
        body.insert("temperature".into(), json!(t));
    }
    let fine = &request.fine;
    if let Some(p) = fine.top_p {
        body.insert("top_p".into(), json!(p));
    }
    match &fine.stop {
        Some(Value::String(s)) => {
            body.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if !a.is_empty() => {
            body.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    if fine.frequency_penalty.is_some() || fine.presence_penalty.is_some() {
        tracing::debug!(
            gen_ai.request.model = model,
            "frequency_penalty/presence_penalty dropped: the Anthropic API has no such parameters"
        );
    }
    let f = &request.functions;
    if let Some(format) = &f.response_format {
        let kind = format.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "text" {
            return Err(invalid(format!(
                "response_format {format} is not supported by the Anthropic API: ask for JSON \
                 in the prompt instead, or use a model served in the openai style"
            )));
        }
    }
    let tools = tools(f.tools.as_ref(), "tools")?
        .into_iter()
        .chain(tools(f.functions.as_ref(), "functions")?)
        .collect::<Vec<_>>();
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = f.tool_choice.as_ref().or(f.function_call.as_ref()) {
        body.insert("tool_choice".into(), tool_choice(choice)?);
    }
    if stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    Ok(Value::Object(body))
}

/// The system text and the alternating user/assistant turns.
fn conversation(messages: &[WireMessage]) -> Result<(Option<String>, Vec<Value>), Error> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let (role, blocks) = match m.role {
            "system" | "developer" => {
                system.push(system_text(i, &m.content)?);
                continue;
            }
            "user" => ("user", blocks(i, &m.content)?),
            "assistant" => {
                let mut blocks = blocks(i, &m.content)?;
                for call in m.tool_calls.iter().flatten() {
                    blocks.push(tool_use(i, call)?);
                }
                ("assistant", blocks)
            }
            "tool" => ("user", vec![tool_result(i, m)?]),
            other => {
                return Err(invalid(format!(
                    "messages[{i}]: role '{other}' has no Anthropic equivalent (use system, \
                     user, assistant or tool)"
                )));
            }
        };
        if blocks.is_empty() {
            return Err(invalid(format!(
                "messages[{i}] ({role}) has no content; the Anthropic API does not accept \
                 empty messages"
            )));
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let system = system
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>();
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    let turns = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    Ok((system, turns))
}

/// A system message's text (text parts only: the API's `system` takes no images).
fn system_text(i: usize, content: &Value) -> Result<String, Error> {
    let mut text = String::new();
    for block in blocks(i, content)? {
        match block.get("text").and_then(Value::as_str) {
            Some(t) => text.push_str(t),
            None => {
                return Err(invalid(format!(
                    "messages[{i}]: a system message may hold only text for the Anthropic API"
                )));
            }
        }
    }
    Ok(text)
}

/// The content blocks of a message's `content`: a string, an array of OpenAI parts, or null.
/// Empty or blank text is left out (the API refuses text blocks without visible text).
fn blocks(i: usize, content: &Value) -> Result<Vec<Value>, Error> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({"type": "text", "text": s})]),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| {
                !p.get("text")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.trim().is_empty())
            })
            .map(|p| part(i, p))
            .collect(),
        other => Err(invalid(format!(
            "messages[{i}]: content must be a string or an array of parts, not {other}"
        ))),
    }
}

/// One OpenAI content part as an Anthropic block.
fn part(i: usize, p: &Value) -> Result<Value, Error> {
    match p.get("type").and_then(Value::as_str) {
        Some("text") => match p.get("text").and_then(Value::as_str) {
            Some(text) => Ok(json!({"type": "text", "text": text})),
            None => Err(invalid(format!("messages[{i}]: a text part has no text"))),
        },
        Some("image_url") => {
            let url = p
                .get("image_url")
                .and_then(|u| u.get("url").or(Some(u)))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("messages[{i}]: an image_url part has no url")))?;
            image(i, url)
        }
        other => Err(invalid(format!(
            "messages[{i}]: content part type {} is not supported by the anthropic style \
             (text and image_url are)",
            other.map_or_else(|| "(none)".to_owned(), |t| format!("'{t}'"))
        ))),
    }
}

/// An image block: inline base64 for a `data:` URI, by URL otherwise.
fn image(i: usize, url: &str) -> Result<Value, Error> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    };
    match rest.split_once(',') {
        Some((meta, data)) if meta.ends_with(";base64") => {
            let media_type = meta.trim_end_matches(";base64");
            let media_type = media_type.split(';').next().unwrap_or_default();
            if media_type.is_empty() {
                return Err(invalid(format!(
                    "messages[{i}]: the image's data URI names no media type"
                )));
            }
            Ok(json!({"type": "image", "source":
                {"type": "base64", "media_type": media_type, "data": data}}))
        }
        _ => Err(invalid(format!(
            "messages[{i}]: an image data URI must be base64 (data:<type>;base64,…)"
        ))),
    }
}

/// An OpenAI tool call of an assistant message as a `tool_use` block.
fn tool_use(i: usize, call: &Value) -> Result<Value, Error> {
    let f = call.get("function").unwrap_or(call);
    let text = |key: &str| f.get(key).and_then(Value::as_str);
    let name = text("name")
        .ok_or_else(|| invalid(format!("messages[{i}]: a tool call has no function name")))?;
    let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
    let input = match text("arguments").map(str::trim) {
        None | Some("") => json!({}),
        Some(args) => serde_json::from_str::<Value>(args).map_err(|e| {
            invalid(format!(
                "messages[{i}]: the arguments of tool call '{name}' are not JSON ({e})"
            ))
        })?,
    };
    if !input.is_object() {
        return Err(invalid(format!(
            "messages[{i}]: the arguments of tool call '{name}' must be a JSON object for the \
             Anthropic API"
        )));
    }
    Ok(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
}

/// A `tool` message as a `tool_result` block.
fn tool_result(i: usize, m: &WireMessage) -> Result<Value, Error> {
    let id = m
        .tool_call_id
        .as_deref()
        .ok_or_else(|| invalid(format!("messages[{i}]: a tool message needs tool_call_id")))?;
    let content = match &m.content {
        Value::String(s) => Value::String(s.clone()),
        other => Value::Array(blocks(i, other)?),
    };
    Ok(json!({"type": "tool_result", "tool_use_id": id, "content": content}))
}

/// OpenAI tool (or legacy function) definitions as Anthropic tools.
fn tools(defs: Option<&Value>, field: &str) -> Result<Vec<Value>, Error> {
    let Some(defs) = defs else {
        return Ok(Vec::new());
    };
    let Some(defs) = defs.as_array() else {
        return Err(invalid(format!("{field} must be an array")));
    };
    defs.iter()
        .enumerate()
        .map(|(i, def)| {
            let kind = def.get("type").and_then(Value::as_str);
            if field == "tools" && kind.is_some_and(|k| k != "function") {
                return Err(invalid(format!(
                    "{field}[{i}]: tool type '{}' is not supported by the anthropic style (only \
                     function tools are)",
                    kind.unwrap_or_default()
                )));
            }
            let f = def.get("function").unwrap_or(def);
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("{field}[{i}]: the function has no name")))?;
            let mut tool = json!({
                "name": name,
                "input_schema": f.get("parameters").cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            });
            if let Some(d) = f.get("description").and_then(Value::as_str) {
                tool["description"] = json!(d);
            }
            Ok(tool)
        })
        .collect()
}

/// `tool_choice` (or legacy `function_call`) in Anthropic's shape.
fn tool_choice(choice: &Value) -> Result<Value, Error> {
    let named = |v: &Value| {
        v.get("function")
            .unwrap_or(v)
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match choice {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(json!({"type": "auto"})),
            "none" => Ok(json!({"type": "none"})),
            "required" | "any" => Ok(json!({"type": "any"})),
            other => Err(invalid(format!(
                "tool_choice '{other}' is not one of auto, none, required"
            ))),
        },
        other => match named(other) {
            Some(name) => Ok(json!({"type": "tool", "name": name})),
            None => Err(invalid(format!(
                "tool_choice {other} names no function (use {{\"type\":\"function\",\
                 \"function\":{{\"name\":…}}}})"
            ))),
        },
    }
}
