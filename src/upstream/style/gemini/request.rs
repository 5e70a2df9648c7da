//! Encoding a [`ChatRequest`] as a Gemini `GenerateContentRequest`.
//!
//! Messages become `contents` turns: `system` messages are collected into
//! `systemInstruction`, `assistant` becomes `model` (its `tool_calls` become `functionCall`
//! parts), and `tool` results become a `user` turn of `functionResponse` parts whose function
//! name is found from the earlier assistant call with the same id. Consecutive turns of one
//! role are merged (Gemini wants user and model turns to alternate). Image parts become
//! `inline_data` (a base64 `data:` URI) or `file_data` (a URL). Sampling goes in
//! `generationConfig`, tools in `tools[].functionDeclarations`, `tool_choice` (or the legacy
//! `function_call`) in `toolConfig.functionCallingConfig`.

use serde_json::{Map, Value, json};

use crate::error::{Error, invalid};
use crate::upstream::types::{ChatRequest, WireMessage};

/// The request body for Gemini.
pub(super) fn body(request: &ChatRequest) -> Result<Value, Error> {
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in request.messages.iter().enumerate() {
        let (role, parts) = match m.role {
            "system" | "developer" => {
                system.extend(parts(&m.content, i)?);
                continue;
            }
            "user" => ("user", parts(&m.content, i)?),
            "assistant" => ("model", assistant_parts(m, i)?),
            "tool" | "function" => ("user", vec![function_response(request, m, i)?]),
            other => {
                return Err(invalid(format!(
                    "messages[{i}]: role '{other}' has no equivalent in the gemini API style"
                )));
            }
        };
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => turns.push((role, parts)),
        }
    }
    if turns.is_empty() {
        return Err(invalid(
            "nothing to send: the gemini API style needs at least one user or assistant message with content",
        ));
    }
    let contents: Vec<Value> = turns
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect();
    let mut body = json!({ "contents": contents });
    if !system.is_empty() {
        body["systemInstruction"] = json!({ "parts": system });
    }
    let config = generation_config(request)?;
    if !config.is_empty() {
        body["generationConfig"] = Value::Object(config);
    }
    let declarations = declarations(request)?;
    if !declarations.is_empty() {
        body["tools"] = json!([{ "functionDeclarations": declarations }]);
    }
    if let Some(config) = tool_config(request)? {
        body["toolConfig"] = json!({ "functionCallingConfig": config });
    }
    Ok(body)
}

/// The parts of a message's content: a string, or an array of OpenAI content parts.
fn parts(content: &Value, i: usize) -> Result<Vec<Value>, Error> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![json!({ "text": s })]),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (j, item) in items.iter().enumerate() {
                if let Some(part) = content_part(item, i, j)? {
                    out.push(part);
                }
            }
            Ok(out)
        }
        _ => Err(invalid(format!(
            "messages[{i}].content must be a string or an array of parts"
        ))),
    }
}

/// One OpenAI content part as a Gemini part (`None` for empty text).
fn content_part(item: &Value, i: usize, j: usize) -> Result<Option<Value>, Error> {
    let at = format!("messages[{i}].content[{j}]");
    match item.get("type").and_then(Value::as_str) {
        Some("text") => {
            let text = item.get("text").and_then(Value::as_str).unwrap_or_default();
            Ok((!text.is_empty()).then(|| json!({ "text": text })))
        }
        Some("image_url") => {
            let url = match item.get("image_url") {
                Some(Value::String(s)) => s.as_str(),
                Some(obj) => obj.get("url").and_then(Value::as_str).unwrap_or_default(),
                None => "",
            };
            image(url, &at).map(Some)
        }
        Some(other) => Err(invalid(format!(
            "{at}: content parts of type '{other}' are not supported by the gemini API style (text and image_url are)"
        ))),
        None => Err(invalid(format!("{at}: a content part needs a type"))),
    }
}

/// An image: a base64 `data:` URI inline, a URL by reference.
fn image(url: &str, at: &str) -> Result<Value, Error> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| invalid(format!("{at}: a data: URI needs a ',' before its data")))?;
        let Some(mime) = meta.strip_suffix(";base64") else {
            return Err(invalid(format!(
                "{at}: the gemini API style takes base64 data: URIs only (data:<type>;base64,...)"
            )));
        };
        let mime = if mime.is_empty() {
            "application/octet-stream"
        } else {
            mime
        };
        return Ok(json!({ "inline_data": { "mime_type": mime, "data": data } }));
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(invalid(format!(
            "{at}: an image must be an https URL or a data: URI"
        )));
    }
    let mut file = json!({ "file_uri": url });
    if let Some(mime) = mime_from_extension(&lower) {
        file["mime_type"] = Value::String(mime.to_owned());
    }
    Ok(json!({ "file_data": file }))
}

/// The image type a URL's extension names, when it names one.
fn mime_from_extension(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => return None,
    })
}

/// An assistant message: its text, then a `functionCall` part per tool call.
fn assistant_parts(m: &WireMessage, i: usize) -> Result<Vec<Value>, Error> {
    let mut out = parts(&m.content, i)?;
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let at = format!("messages[{i}].tool_calls[{j}]");
        let f = call.get("function").unwrap_or(&Value::Null);
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid(format!("{at}.function.name is missing")))?;
        let args = match f.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                invalid(format!(
                    "{at}.function.arguments is not JSON ({e}); the gemini API style sends arguments as an object"
                ))
            })?,
            Some(v) => v.clone(),
        };
        if !args.is_object() {
            return Err(invalid(format!(
                "{at}.function.arguments must be a JSON object for the gemini API style"
            )));
        }
        let mut part = json!({ "functionCall": { "name": name, "args": args } });
        // Gemini's thought signature, kept on the call the way Google's own
        // OpenAI-compatible endpoint does, goes back with it.
        if let Some(sig) = call
            .pointer("/extra_content/google/thought_signature")
            .and_then(Value::as_str)
        {
            part["thoughtSignature"] = json!(sig);
        }
        out.push(part);
    }
    Ok(out)
}

/// A tool result as a `functionResponse` part: the name from the assistant call it answers,
/// the response the content parsed as a JSON object, or `{"content": text}`.
fn function_response(request: &ChatRequest, m: &WireMessage, i: usize) -> Result<Value, Error> {
    let name = match &m.tool_call_id {
        Some(id) => called_name(&request.messages[..i], id).or(m.name.as_deref()),
        None => m.name.as_deref(),
    };
    let Some(name) = name else {
        let id = m.tool_call_id.as_deref().unwrap_or_default();
        return Err(invalid(format!(
            "messages[{i}]: tool result for '{id}' answers no earlier assistant tool call with that id; \
             the gemini API style needs the function's name (give the assistant message with its tool_calls, or name)"
        )));
    };
    let text = match &m.content {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(_) => crate::upstream::types::ResponseMessage {
            content: Some(m.content.clone()),
            tool_calls: None,
            function_call: None,
        }
        .text(),
        other => other.to_string(),
    };
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "content": text }),
    };
    Ok(json!({ "functionResponse": { "name": name, "response": response } }))
}

/// The function name of the latest assistant tool call with this id.
fn called_name<'a>(earlier: &'a [WireMessage], id: &str) -> Option<&'a str> {
    earlier.iter().rev().find_map(|m| {
        m.tool_calls.iter().flatten().find_map(|c| {
            (c.get("id").and_then(Value::as_str) == Some(id))
                .then(|| c.get("function")?.get("name")?.as_str())
                .flatten()
        })
    })
}

/// `generationConfig`: sampling, stop sequences, JSON output.
fn generation_config(request: &ChatRequest) -> Result<Map<String, Value>, Error> {
    let mut c = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            c.insert(k.to_owned(), v);
        }
    };
    put("temperature", request.sampling.temperature.map(Value::from));
    put(
        "maxOutputTokens",
        request.sampling.max_tokens.map(Value::from),
    );
    put("topP", request.fine.top_p.map(Value::from));
    put(
        "presencePenalty",
        request.fine.presence_penalty.map(Value::from),
    );
    put(
        "frequencyPenalty",
        request.fine.frequency_penalty.map(Value::from),
    );
    put(
        "stopSequences",
        match &request.fine.stop {
            Some(Value::String(s)) => Some(json!([s])),
            Some(Value::Array(a)) if !a.is_empty() => Some(Value::Array(a.clone())),
            _ => None,
        },
    );
    if let Some(format) = &request.functions.response_format {
        match format.get("type").and_then(Value::as_str) {
            Some("text") | None => {}
            Some("json_object") => put("responseMimeType", Some(json!("application/json"))),
            Some("json_schema") => {
                put("responseMimeType", Some(json!("application/json")));
                let schema = format
                    .get("json_schema")
                    .and_then(|s| s.get("schema"))
                    .ok_or_else(|| invalid("response_format.json_schema.schema is missing"))?;
                put("responseSchema", Some(schema_subset(schema)));
            }
            Some(other) => {
                return Err(invalid(format!(
                    "response_format type '{other}' is not supported by the gemini API style (text, json_object, json_schema are)"
                )));
            }
        }
    }
    Ok(c)
}

/// `tools` (OpenAI format) or the legacy `functions`, as function declarations.
fn declarations(request: &ChatRequest) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let f = &request.functions;
    for (field, list) in [("tools", &f.tools), ("functions", &f.functions)] {
        let Some(list) = list else { continue };
        let items = list
            .as_array()
            .ok_or_else(|| invalid(format!("{field} must be an array")))?;
        for (i, item) in items.iter().enumerate() {
            let function = if field == "tools" {
                match item.get("type").and_then(Value::as_str) {
                    Some("function") | None => item.get("function").unwrap_or(&Value::Null),
                    Some(other) => {
                        return Err(invalid(format!(
                            "tools[{i}]: tools of type '{other}' are not supported by the gemini API style (function is)"
                        )));
                    }
                }
            } else {
                item
            };
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid(format!("{field}[{i}]: the function needs a name")))?;
            let mut d = json!({ "name": name });
            if let Some(desc) = function.get("description").and_then(Value::as_str) {
                d["description"] = json!(desc);
            }
            if let Some(params) = function.get("parameters").filter(|p| !p.is_null()) {
                d["parameters"] = schema_subset(params);
            }
            out.push(d);
        }
    }
    Ok(out)
}

/// A JSON Schema without the keywords Gemini's schema subset rejects (`$schema`,
/// `additionalProperties`, `strict`, `$id`, `$comment`), at every level.
fn schema_subset(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        match k.as_str() {
            "$schema" | "additionalProperties" | "strict" | "$id" | "$comment" => {}
            "properties" => {
                let props = v
                    .as_object()
                    .map(|p| {
                        p.iter()
                            .map(|(name, s)| (name.clone(), schema_subset(s)))
                            .collect::<Map<_, _>>()
                    })
                    .map(Value::Object)
                    .unwrap_or_else(|| v.clone());
                out.insert(k.clone(), props);
            }
            "items" => {
                out.insert(k.clone(), schema_subset(v));
            }
            "anyOf" => {
                let list = v
                    .as_array()
                    .map(|a| Value::Array(a.iter().map(schema_subset).collect()))
                    .unwrap_or_else(|| v.clone());
                out.insert(k.clone(), list);
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// `functionCallingConfig` from `tool_choice` (or the legacy `function_call`).
fn tool_config(request: &ChatRequest) -> Result<Option<Value>, Error> {
    let f = &request.functions;
    let (field, choice) = match (&f.tool_choice, &f.function_call) {
        (Some(c), _) => ("tool_choice", c),
        (None, Some(c)) => ("function_call", c),
        (None, None) => return Ok(None),
    };
    let config = match choice {
        Value::String(s) => match s.as_str() {
            "auto" => json!({ "mode": "AUTO" }),
            "none" => json!({ "mode": "NONE" }),
            "required" | "any" => json!({ "mode": "ANY" }),
            other => {
                return Err(invalid(format!(
                    "{field} '{other}' is not one the gemini API style knows (auto, none, required, or a function)"
                )));
            }
        },
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| o.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(format!(
                        "{field} must name a function: {{\"type\":\"function\",\"function\":{{\"name\":...}}}}"
                    ))
                })?;
            json!({ "mode": "ANY", "allowedFunctionNames": [name] })
        }
        _ => {
            return Err(invalid(format!("{field} must be a string or an object")));
        }
    };
    Ok(Some(config))
}
