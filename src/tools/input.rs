//! Argument pieces shared by the tools: the conversation (`prompt`/`system`/`messages`) and
//! the check that rejects argument names a tool does not know (a typo such as `temprature`
//! should fail loudly, not be silently ignored).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::App;
use crate::error::{Error, invalid};
use crate::upstream::types::WireMessage;

// Who wrote a message. (Plain comments on these input types: a doc comment would be copied
// into every tool schema that embeds them.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

// One message of a conversation, in the OpenAI format.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "crate::schema::array_of_objects")]
    pub tool_calls: Option<Vec<Value>>,
}

/// The most text (prompt, system and message contents together) one call may send.
pub const MAX_CONVERSATION_BYTES: usize = 4 * 1024 * 1024;

/// The conversation to send: a single `prompt` or a full `messages` list, with an optional
/// `system` instruction.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct Conversation {
    /// The user message (or give messages).
    #[serde(default)]
    pub prompt: Option<String>,
    /// System instruction.
    #[serde(default)]
    pub system: Option<String>,
    /// [{role, content}] for multi-turn, instead of prompt.
    #[serde(default)]
    #[schemars(schema_with = "crate::schema::messages")]
    pub messages: Option<Vec<Message>>,
}

impl Conversation {
    /// Checks the conversation and converts it to wire messages.
    pub fn into_messages(self) -> Result<Vec<WireMessage>, Error> {
        let len = self.text_len();
        if len > MAX_CONVERSATION_BYTES {
            return Err(invalid(format!(
                "the conversation is {len} bytes; the limit is {} MB (about a million tokens, \
                 more than any model's context window): shorten the prompt or send a summary",
                MAX_CONVERSATION_BYTES / (1024 * 1024)
            )));
        }
        let mut out = Vec::new();
        if let Some(system) = self.system.filter(|s| !s.trim().is_empty()) {
            out.push(text_message(Role::System, system));
        }
        match (self.prompt, self.messages) {
            (Some(_), Some(_)) => {
                return Err(invalid("give either prompt or messages, not both"));
            }
            (None, None) => {
                return Err(invalid(
                    "nothing to send: give prompt (a string) or messages ([{role, content}])",
                ));
            }
            (Some(prompt), None) => {
                if prompt.trim().is_empty() {
                    return Err(invalid("prompt is empty"));
                }
                out.push(text_message(Role::User, prompt));
            }
            (None, Some(messages)) => {
                if messages.is_empty() {
                    return Err(invalid("messages is empty"));
                }
                for (i, m) in messages.into_iter().enumerate() {
                    out.push(wire(i, m)?);
                }
            }
        }
        Ok(out)
    }

    /// The text of the conversation, for estimates and classification.
    pub fn text_len(&self) -> usize {
        self.prompt.as_ref().map_or(0, String::len)
            + self.system.as_ref().map_or(0, String::len)
            + self.messages.as_ref().map_or(0, |ms| {
                ms.iter()
                    .map(|m| m.content.as_ref().map_or(0, String::len))
                    .sum()
            })
    }
}

fn text_message(role: Role, text: String) -> WireMessage {
    WireMessage {
        role: role.as_str(),
        content: Value::String(text),
        name: None,
        tool_call_id: None,
        tool_calls: None,
    }
}

fn wire(i: usize, m: Message) -> Result<WireMessage, Error> {
    let has_calls = m.tool_calls.as_ref().is_some_and(|c| !c.is_empty());
    match (&m.content, m.role) {
        (None, Role::Assistant) if has_calls => {}
        (None, _) => return Err(invalid(format!("messages[{i}]: content is missing"))),
        _ => {}
    }
    if m.role == Role::Tool && m.tool_call_id.is_none() {
        return Err(invalid(format!(
            "messages[{i}]: a tool message needs tool_call_id"
        )));
    }
    Ok(WireMessage {
        role: m.role.as_str(),
        content: m.content.map(Value::String).unwrap_or(Value::Null),
        name: m.name,
        tool_call_id: m.tool_call_id,
        tool_calls: m.tool_calls,
    })
}

/// Resolves the model name a tool was given (or the default) to the id sent upstream.
pub fn model_id(app: &App, model: Option<&str>, default: &str) -> Result<String, Error> {
    match model {
        Some(m) if m.trim().is_empty() => Err(invalid(
            "model is empty: give a model id such as gpt-4.1, or leave it out for the default",
        )),
        Some(m) => Ok(app.resolve_model(m)),
        None => Ok(default.to_owned()),
    }
}

/// Resolves `fallback_models` (aliases to ids), rejecting empty names. A call that gives
/// none gets the config file's `fallback_models`.
pub fn fallback_ids(app: &App, models: &[String]) -> Result<Vec<String>, Error> {
    if models.is_empty() {
        return Ok(app.config.default_fallbacks.clone());
    }
    models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if m.trim().is_empty() {
                Err(invalid(format!("fallback_models[{i}] is empty")))
            } else {
                Ok(app.resolve_model(m))
            }
        })
        .collect()
}

/// Fails when the arguments held names the tool `T` does not know; the message lists the
/// names it does know (from its schema, so the list cannot drift).
pub fn reject_unknown<T: JsonSchema>(
    tool: &str,
    unknown: &Map<String, Value>,
) -> Result<(), Error> {
    if unknown.is_empty() {
        return Ok(());
    }
    let schema = crate::schema::input::<T>();
    let known: Vec<&str> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let names: Vec<&str> = unknown.keys().map(String::as_str).collect();
    Err(invalid(format!(
        "{tool} does not take {}; its arguments are: {}",
        names.join(", "),
        known.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(v: Value) -> Conversation {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn prompt_and_system_become_two_messages() {
        let m = conv(json!({"prompt": "hi", "system": "be brief"}))
            .into_messages()
            .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].role, m[1].role), ("system", "user"));
    }

    #[test]
    fn bad_conversations_say_what_is_wrong() {
        let e = |v| conv(v).into_messages().unwrap_err().to_string();
        assert!(e(json!({})).contains("give prompt"));
        assert!(e(json!({"prompt": "a", "messages": []})).contains("not both"));
        assert!(e(json!({"messages": []})).contains("messages is empty"));
        assert!(e(json!({"prompt": "  "})).contains("prompt is empty"));
        assert!(e(json!({"messages": [{"role": "user"}]})).contains("messages[0]: content"));
        assert!(
            e(json!({"messages": [{"role": "tool", "content": "x"}]})).contains("tool_call_id")
        );
    }

    #[test]
    fn assistant_tool_calls_without_content_are_allowed() {
        let m = conv(json!({"messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "1", "content": "sunny"}
        ]}))
        .into_messages()
        .unwrap();
        assert_eq!(m[1].content, Value::Null);
    }
}
