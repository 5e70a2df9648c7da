//! Portable JSON schemas for tool inputs and outputs.
//!
//! MCP clients differ in what JSON Schema they accept: several fail on `$ref`/`$defs`, strict
//! ones reject `"null"` in type arrays, and some providers reject a top-level `oneOf`. So every
//! schema llm-router publishes is generated with subschemas inlined and then normalised here:
//! nullable types lose their `null` (an absent field already means "none"), `anyOf [X, null]`
//! becomes `X`, numeric `format` noise is dropped. Tests assert the result.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

/// The portable input schema of a tool's argument type. Property descriptions are kept (the
/// calling model reads them); the type's own doc comment is not (the tool description says it).
pub fn input<T: JsonSchema>() -> Arc<JsonObject> {
    let mut schema = generate::<T>(SchemaSettings::draft2020_12());
    schema.remove("description");
    Arc::new(schema)
}

/// The portable output schema of a tool's result type (what `Serialize` writes). Clients use
/// output schemas to validate results, not to prompt the model, and every byte of
/// `tools/list` costs the agent context on every turn; so an output schema names and types
/// each top-level field, but does not expand nested objects (they are `{"type":"object"}`,
/// arrays of them `{"type":"array","items":{"type":"object"}}`), and carries no descriptions
/// or `required` lists.
pub fn output<T: JsonSchema>() -> Arc<JsonObject> {
    let mut value = Value::Object(generate::<T>(
        SchemaSettings::draft2020_12().for_serialize(),
    ));
    strip_descriptions(&mut value);
    if let Some(Value::Object(props)) = value.get_mut("properties") {
        props.values_mut().for_each(collapse_nested);
    }
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(Map::new()),
    }
}

/// Replaces a nested object schema by its bare type (see [`output`]).
fn collapse_nested(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    if map.contains_key("properties") {
        *schema = serde_json::json!({"type": "object"});
    } else if let Some(Value::Object(items)) = map.get_mut("items")
        && items.contains_key("properties")
    {
        *items = Map::from_iter([("type".to_owned(), Value::String("object".into()))]);
    }
}

fn strip_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if matches!(map.get("description"), Some(Value::String(_))) {
                map.remove("description");
            }
            if matches!(map.get("required"), Some(Value::Array(_))) {
                map.remove("required");
            }
            // `minimum: 0` is schemars marking unsigned integers: noise in an output.
            if map.get("minimum") == Some(&Value::from(0)) {
                map.remove("minimum");
            }
            map.values_mut().for_each(strip_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

fn generate<T: JsonSchema>(settings: SchemaSettings) -> JsonObject {
    let settings = settings.with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    normalise(&mut value);
    let mut object = match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    object.remove("title");
    object.remove("$defs");
    object
        .entry("type")
        .or_insert_with(|| Value::String("object".into()));
    object
}

/// Rewrites a schema in place into the portable subset described in the module docs.
pub fn normalise(value: &mut Value) {
    match value {
        Value::Object(map) => {
            strip_null_type(map);
            collapse_nullable_any_of(map);
            consts_to_enum(map);
            if matches!(map.get("format"), Some(Value::String(f)) if is_numeric_format(f)) {
                map.remove("format");
            }
            // A null or empty-list default says nothing an absent field does not.
            if matches!(map.get("default"), Some(Value::Null))
                || map
                    .get("default")
                    .is_some_and(|d| d.as_array().is_some_and(Vec::is_empty))
            {
                map.remove("default");
            }
            map.remove("nullable");
            // schemars marks skip_serializing fields writeOnly; clients do not need it.
            map.remove("writeOnly");
            for (key, child) in map.iter_mut() {
                // `properties` maps names to schemas; `enum`/`const`/`examples` hold data.
                if !matches!(key.as_str(), "enum" | "const" | "examples" | "default") {
                    normalise(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

fn strip_null_type(map: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
}

fn collapse_nullable_any_of(map: &mut Map<String, Value>) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = map.get_mut(key) else {
            continue;
        };
        branches.retain(|b| b.get("type") != Some(&Value::String("null".into())));
        if branches.len() == 1
            && let Some(Value::Object(only)) = branches.pop()
        {
            map.remove(key);
            for (k, v) in only {
                map.entry(k).or_insert(v);
            }
        }
    }
}

/// `oneOf: [{const: a}, {const: b}]` (what schemars writes for a documented enum) becomes
/// the shorter, more widely understood `enum: [a, b]`.
fn consts_to_enum(map: &mut Map<String, Value>) {
    let Some(Value::Array(branches)) = map.get("oneOf") else {
        return;
    };
    let consts: Option<Vec<Value>> = branches
        .iter()
        .map(|b| {
            let o = b.as_object()?;
            let only_const = o
                .keys()
                .all(|k| matches!(k.as_str(), "const" | "type" | "description"));
            only_const.then(|| o.get("const").cloned()).flatten()
        })
        .collect();
    if let Some(values) = consts.filter(|v| v.iter().all(Value::is_string)) {
        map.remove("oneOf");
        map.insert("type".into(), Value::String("string".into()));
        map.insert("enum".into(), Value::Array(values));
    }
}

fn is_numeric_format(f: &str) -> bool {
    matches!(
        f,
        "uint"
            | "uint8"
            | "uint16"
            | "uint32"
            | "uint64"
            | "int"
            | "int8"
            | "int16"
            | "int32"
            | "int64"
            | "float"
            | "double"
    )
}

/// Schema for `messages`: documents `role` and `content`, the fields nearly every call uses.
/// The other OpenAI message fields (`name`, `tool_call_id`, `tool_calls`) are accepted too;
/// spelling them out in three tools would cost ~500 bytes of every agent's context.
pub fn messages(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "role": {"type": "string", "enum": ["system", "user", "assistant", "tool"]},
                "content": {"type": "string"}
            },
            "required": ["role"]
        }
    })
}

/// Schema for `stop`: a string or an array of strings.
pub fn string_or_string_array(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": ["string", "array"], "items": {"type": "string"}})
}

/// Schema for `tool_choice`-like values: a string or an object.
pub fn string_or_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": ["string", "object"]})
}

/// Schema for pass-through arrays of objects (tool definitions, tool calls).
pub fn array_of_objects(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": {"type": "object"}})
}

/// Schema for pass-through objects.
pub fn object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object"})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nullable_types_and_any_of_null_are_flattened() {
        let mut v = json!({
            "properties": {
                "a": {"type": ["string", "null"], "format": "uint32"},
                "b": {"anyOf": [{"type": "string", "enum": ["x", "y"]}, {"type": "null"}], "description": "d"},
                "c": {"type": "integer", "enum": [1, null], "default": null}
            }
        });
        normalise(&mut v);
        assert_eq!(
            v,
            json!({
                "properties": {
                    "a": {"type": "string"},
                    "b": {"type": "string", "enum": ["x", "y"], "description": "d"},
                    "c": {"type": "integer", "enum": [1]}
                }
            })
        );
    }
}
