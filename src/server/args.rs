//! [`Args`]: the tool-argument extractor. It decodes like rmcp's `Parameters`, but a wrong
//! JSON type names the argument. The tool inputs share pieces through `#[serde(flatten)]`,
//! and serde loses the field name through a flatten: `{"prompt": 5}` would say only
//! "invalid type: integer `5`, expected a string". When decoding fails, the arguments are
//! decoded again one at a time, then each left out in turn, to find the one at fault, and
//! the message names it: "argument `prompt`: invalid type: …". (serde checks required
//! arguments before a flattened part, so an argument alone cannot always show its error.)

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::JsonObject;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A tool's decoded arguments.
pub struct Args<P>(pub P);

impl<S, P: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Args<P> {
    fn from_context_part(context: &mut ToolCallContext<S>) -> Result<Self, rmcp::ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        decode(arguments).map(Args).map_err(|message| {
            rmcp::ErrorData::invalid_params(
                format!("failed to deserialize parameters: {message}"),
                None,
            )
        })
    }
}

/// Decodes `arguments` as `P`; the error names the argument at fault when one can be found.
pub fn decode<P: DeserializeOwned>(arguments: JsonObject) -> Result<P, String> {
    let value = Value::Object(arguments);
    let error = match P::deserialize(&value) {
        Ok(p) => return Ok(p),
        Err(e) => e.to_string(),
    };
    if is_missing_field(&error) {
        return Err(error);
    }
    let Value::Object(arguments) = value else {
        return Err(error);
    };
    Err(match culprit::<P>(&arguments, &error) {
        Some(name) => format!("argument `{name}`: {error}"),
        None => error,
    })
}

/// The argument that makes decoding fail with `error`: the first that fails decoded on its
/// own, else the first without which the rest decode (or fail differently, not for a
/// missing required argument). `None` when neither finds one.
fn culprit<P: DeserializeOwned>(arguments: &JsonObject, error: &str) -> Option<String> {
    let fails = |v: Value| match P::deserialize(&v) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    };
    for (name, v) in arguments {
        let alone = Value::Object(JsonObject::from_iter([(name.clone(), v.clone())]));
        if fails(alone).is_some_and(|e| !is_missing_field(&e)) {
            return Some(name.clone());
        }
    }
    for name in arguments.keys() {
        let mut rest = arguments.clone();
        rest.remove(name);
        match fails(Value::Object(rest)) {
            None => return Some(name.clone()),
            Some(e) if e != error && !is_missing_field(&e) => return Some(name.clone()),
            Some(_) => {}
        }
    }
    None
}

/// serde's "missing field `x`" (with or without a position).
fn is_missing_field(message: &str) -> bool {
    message.starts_with("missing field")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Shared {
        #[serde(default)]
        prompt: Option<String>,
        #[serde(default)]
        temperature: Option<f32>,
    }

    #[derive(Debug, Deserialize)]
    struct Input {
        task: String,
        #[serde(flatten)]
        shared: Shared,
    }

    fn err(v: Value) -> String {
        let Value::Object(o) = v else { unreachable!() };
        decode::<Input>(o).unwrap_err()
    }

    #[test]
    fn a_wrong_type_inside_a_flatten_names_the_argument() {
        let e = err(json!({"task": "code", "prompt": 5}));
        assert!(e.starts_with("argument `prompt`: invalid type"), "{e}");
        let e = err(json!({"task": "code", "prompt": "x", "temperature": "hot"}));
        assert!(e.starts_with("argument `temperature`: invalid type"), "{e}");
        let e = err(json!({"task": 7, "prompt": "x"}));
        assert!(e.starts_with("argument `task`: invalid type"), "{e}");
    }

    #[derive(Debug, Deserialize)]
    struct Required {
        #[allow(dead_code)]
        models: Vec<String>,
        #[serde(flatten)]
        #[allow(dead_code)]
        shared: Shared,
    }

    #[test]
    fn a_wrong_type_next_to_a_required_argument_is_found_by_leaving_it_out() {
        let Value::Object(o) = json!({"models": ["a", "b"], "prompt": 5}) else {
            unreachable!()
        };
        let e = decode::<Required>(o).unwrap_err();
        assert!(e.starts_with("argument `prompt`: invalid type"), "{e}");
    }

    #[test]
    fn a_missing_argument_keeps_serdes_message() {
        assert_eq!(err(json!({"prompt": "x"})), "missing field `task`");
    }

    #[test]
    fn good_arguments_decode() {
        let Value::Object(o) = json!({"task": "code", "temperature": 0.5}) else {
            unreachable!()
        };
        let input: Input = decode(o).unwrap();
        assert_eq!(input.task, "code");
        assert_eq!(input.shared.temperature, Some(0.5));
        assert!(input.shared.prompt.is_none());
    }
}
