//! Wire types of the OpenAI-compatible chat API, as llm-router sends and reads them.
//!
//! Requests are typed; responses are read tolerantly — every field optional, unknown fields
//! ignored, `usage` accepted in OpenAI (`prompt_tokens`) or Anthropic (`input_tokens`) naming —
//! because the gateway fronts many providers and not all of them fill every field.

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, invalid};
use crate::ledger::Tokens;

/// Sampling parameters every tool that calls a model takes. Serialized as-is into the
/// upstream request; absent fields are not sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Sampling {
    /// 0–2; lower is more deterministic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Max tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// The finer sampling controls, taken by `chat` only (tool definitions cost the agent context
/// on every turn, so the other tools keep to [`Sampling`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct FineSampling {
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// A string or up to 4 strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::string_or_string_array")]
    pub stop: Option<Value>,
    /// Reuse an identical answer (default: temperature 0).
    #[serde(default, skip_serializing)]
    pub cache: Option<bool>,
}

fn range(name: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<(), Error> {
    match v {
        Some(x) if !(lo..=hi).contains(&x) => Err(invalid(format!(
            "{name} must be between {lo} and {hi}, got {x}"
        ))),
        _ => Ok(()),
    }
}

impl Sampling {
    /// Checks ranges the gateway would otherwise reject with a less helpful message.
    pub fn check(&self) -> Result<(), Error> {
        range("temperature", self.temperature, 0.0, 2.0)?;
        if self.max_tokens == Some(0) {
            return Err(invalid("max_tokens must be at least 1"));
        }
        Ok(())
    }
}

impl FineSampling {
    /// Checks ranges, as [`Sampling::check`].
    pub fn check(&self) -> Result<(), Error> {
        range("top_p", self.top_p, 0.0, 1.0)?;
        range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?;
        range("presence_penalty", self.presence_penalty, -2.0, 2.0)?;
        match &self.stop {
            None | Some(Value::String(_)) => Ok(()),
            Some(Value::Array(a)) if a.len() <= 4 && a.iter().all(Value::is_string) => Ok(()),
            Some(_) => Err(invalid(
                "stop must be a string or an array of up to 4 strings",
            )),
        }
    }
}

/// Function-calling and output-format pass-through (chat only). Values are forwarded
/// unchanged in the OpenAI format.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct FunctionCalling {
    /// OpenAI-format tool definitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::array_of_objects")]
    pub tools: Option<Value>,
    /// auto, none, required, or a function choice object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::string_or_object")]
    pub tool_choice: Option<Value>,
    /// Legacy; prefer tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::array_of_objects")]
    pub functions: Option<Value>,
    /// Legacy; prefer tool_choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::string_or_object")]
    pub function_call: Option<Value>,
    /// e.g. {"type":"json_object"}.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::object")]
    pub response_format: Option<Value>,
}

/// One message as sent upstream. `content` is a string, an array of parts, or null (an
/// assistant message that only calls tools).
#[derive(Debug, Clone, Serialize)]
pub struct WireMessage {
    pub role: &'static str,
    pub content: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<Value>>,
}

/// `POST /chat/completions` body.
#[derive(Debug, Clone, Serialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<WireMessage>,
    #[serde(flatten)]
    pub sampling: Sampling,
    #[serde(flatten)]
    pub fine: FineSampling,
    #[serde(flatten)]
    pub functions: FunctionCalling,
    /// The API style to use instead of the provider's own (the gateway serves several).
    #[serde(skip)]
    pub api: Option<crate::upstream::style::Style>,
}

impl ChatRequest {
    /// A plain request: model, messages and the common sampling parameters.
    pub fn new(model: String, messages: Vec<WireMessage>, sampling: Sampling) -> Self {
        Self {
            model,
            messages,
            sampling,
            fine: FineSampling::default(),
            functions: FunctionCalling::default(),
            api: None,
        }
    }
}

/// `POST /chat/completions` response, read tolerantly.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatResponse {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Some gateways answer 200 with an error object inside.
    #[serde(default)]
    pub error: Option<Value>,
}

impl ChatResponse {
    /// An answer with one choice: the shape every API style's answer is translated into.
    pub fn answer(
        model: Option<String>,
        text: String,
        tool_calls: Vec<Value>,
        function_call: Option<Value>,
        finish_reason: Option<String>,
        usage: Option<Usage>,
    ) -> Self {
        Self {
            model,
            choices: vec![Choice {
                message: Some(ResponseMessage {
                    content: Some(Value::String(text)),
                    tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                    function_call,
                }),
                finish_reason,
            }],
            usage,
            error: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub message: Option<ResponseMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponseMessage {
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
    #[serde(default)]
    pub function_call: Option<Value>,
}

impl ResponseMessage {
    /// The text of the message: a string, or the text parts of an array joined.
    pub fn text(&self) -> String {
        match &self.content {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Usage {
    #[serde(default, alias = "input_tokens")]
    pub prompt_tokens: Option<u64>,
    #[serde(default, alias = "output_tokens")]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub total_tokens: Option<u64>,
    /// The gateway's own cost in USD, when it reports one.
    #[serde(default)]
    pub cost: Option<serde_json::Number>,
}

impl Usage {
    /// Token counts, with the total derived when the upstream left it out.
    pub fn tokens(&self) -> Tokens {
        let prompt = self.prompt_tokens.unwrap_or(0);
        let completion = self.completion_tokens.unwrap_or(0);
        Tokens {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: self.total_tokens.unwrap_or(prompt + completion),
        }
    }

    /// `usage.cost` as an exact decimal (from its decimal text, not through a float).
    pub fn gateway_cost(&self) -> Option<Decimal> {
        let n = self.cost.as_ref()?;
        let text = n.to_string();
        Decimal::from_str_exact(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .ok()
            .filter(|d| !d.is_sign_negative())
    }
}

/// `GET /models` response.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelList {
    #[serde(default)]
    pub data: Vec<LiveModel>,
}

/// One entry of the live model list.
#[derive(Debug, Clone, Deserialize)]
pub struct LiveModel {
    pub id: String,
    #[serde(default)]
    pub owned_by: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_with_missing_and_extra_fields() {
        let r: ChatResponse = serde_json::from_str(
            r#"{"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}],"usage":{"input_tokens":3,"output_tokens":4},"surprise":1}"#,
        )
        .unwrap();
        assert_eq!(r.choices[0].message.as_ref().unwrap().text(), "ab");
        let t = r.usage.unwrap().tokens();
        assert_eq!(
            (t.prompt_tokens, t.completion_tokens, t.total_tokens),
            (3, 4, 7)
        );
        let empty: ChatResponse = serde_json::from_str("{}").unwrap();
        assert!(empty.choices.is_empty());
    }

    #[test]
    fn gateway_cost_is_read_exactly() {
        let u: Usage = serde_json::from_str(r#"{"cost":0.0123}"#).unwrap();
        assert_eq!(u.gateway_cost().unwrap().to_string(), "0.0123");
        let u: Usage = serde_json::from_str(r#"{"cost":1e-5}"#).unwrap();
        assert_eq!(u.gateway_cost().unwrap().to_string(), "0.00001");
    }

    #[test]
    fn sampling_ranges_are_checked() {
        let s = Sampling {
            temperature: Some(3.0),
            ..Default::default()
        };
        assert_eq!(
            s.check().unwrap_err().to_string(),
            "invalid arguments: temperature must be between 0 and 2, got 3"
        );
        let s = FineSampling {
            stop: Some(serde_json::json!([1])),
            ..Default::default()
        };
        assert!(s.check().is_err());
    }
}
