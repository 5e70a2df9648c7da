//! Portability of the tool schemas advertised in `tools/list`, and agreement
//! between each tool's `outputSchema` and what it actually returns.

use serde_json::{Map, Value, json};

use crate::util::*;

async fn tool_schemas() -> Vec<Value> {
    let server = ServerBuilder::new().start().await;
    server
        .tools()
        .await
        .into_iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect()
}

/// Walk every JSON object under `v`, calling `f(path, object)`.
fn walk<'a>(v: &'a Value, path: String, f: &mut dyn FnMut(&str, &'a Map<String, Value>)) {
    match v {
        Value::Object(map) => {
            f(&path, map);
            for (k, child) in map {
                walk(child, format!("{path}/{k}"), f);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, format!("{path}/{i}"), f);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn lists_exactly_the_tools_with_descriptions() {
    let tools = tool_schemas().await;
    let mut names: Vec<_> = tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, TOOL_NAMES);
    for t in &tools {
        assert!(
            t["description"]
                .as_str()
                .is_some_and(|d| !d.trim().is_empty()),
            "tool {} has no description",
            t["name"]
        );
    }
}

#[tokio::test]
async fn schemas_have_no_refs_or_defs() {
    for t in tool_schemas().await {
        let mut bad = Vec::new();
        walk(
            &t,
            t["name"].as_str().unwrap().to_owned(),
            &mut |path, map| {
                for key in ["$ref", "$defs", "definitions"] {
                    if map.contains_key(key) {
                        bad.push(format!("{path}/{key}"));
                    }
                }
            },
        );
        assert!(bad.is_empty(), "non-portable schema keys: {bad:?}");
    }
}

#[tokio::test]
async fn input_schemas_are_plain_objects_without_top_level_combinators() {
    for t in tool_schemas().await {
        let schema = &t["inputSchema"];
        assert_eq!(schema["type"], "object", "{}: {schema:#}", t["name"]);
        for key in ["oneOf", "anyOf", "allOf", "not", "if", "then", "else"] {
            assert!(
                schema.get(key).is_none(),
                "{} inputSchema has top-level {key}",
                t["name"]
            );
        }
        assert!(
            schema["properties"].is_object(),
            "{} inputSchema has no properties",
            t["name"]
        );
    }
}

#[tokio::test]
async fn schema_types_never_include_null() {
    for t in tool_schemas().await {
        let mut bad = Vec::new();
        walk(
            &t,
            t["name"].as_str().unwrap().to_owned(),
            &mut |path, map| {
                if let Some(Value::Array(types)) = map.get("type")
                    && types.iter().any(|ty| ty == "null")
                {
                    bad.push(format!("{path}: {types:?}"));
                }
            },
        );
        assert!(bad.is_empty(), "nullable type arrays: {bad:#?}");
    }
}

#[tokio::test]
async fn every_tool_has_an_object_output_schema() {
    for t in tool_schemas().await {
        let out = &t["outputSchema"];
        assert!(out.is_object(), "{} has no outputSchema", t["name"]);
        assert_eq!(out["type"], "object", "{}: {out:#}", t["name"]);
        assert!(
            out["properties"].is_object(),
            "{} outputSchema lists no properties",
            t["name"]
        );
    }
}

#[tokio::test]
async fn every_input_property_has_a_description() {
    for t in tool_schemas().await {
        let props = t["inputSchema"]["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(!props.is_empty(), "{} takes no arguments?", t["name"]);
        for (name, prop) in props {
            assert!(
                prop["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty()),
                "{}.{name} has no description: {prop}",
                t["name"]
            );
        }
    }
}

#[tokio::test]
async fn required_inputs_match_the_contract() {
    let tools = tool_schemas().await;
    let required = |name: &str| -> Vec<String> {
        let t = tools.iter().find(|t| t["name"] == name).unwrap();
        let mut r: Vec<String> = t["inputSchema"]["required"]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        r.sort();
        r
    };
    // prompt-or-messages tools cannot mark either as required.
    assert!(required("chat").is_empty(), "{:?}", required("chat"));
    assert!(required("list_models").is_empty());
    let vision = required("vision");
    assert!(vision.contains(&"prompt".to_owned()), "{vision:?}");
    assert!(vision.contains(&"images".to_owned()), "{vision:?}");
    assert!(required("compare_models").contains(&"models".to_owned()));
    assert!(required("route_by_task").contains(&"task".to_owned()));
}

/// Every agent pays for tools/list in its context on every turn. The budget is ours: 8 KiB
/// for the first five tools, 9 KiB since `usage` made six (about 2,300 tokens).
#[tokio::test]
async fn tools_list_fits_in_9_kib() {
    let server = ServerBuilder::new().start().await;
    let list = server.tools_list_json().await;
    let bytes = serde_json::to_vec(&list).unwrap();
    assert!(
        bytes.len() < 9 * 1024,
        "tools/list is {} bytes, over the 9 KiB budget",
        bytes.len()
    );
}

// ---------------------------------------------------------------------------
// A small JSON-schema checker: type, properties, required, items, enum.
// Enough to catch structured results that a validating MCP client (which
// checks structuredContent against outputSchema) would reject.

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn conform(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    match schema.get("type") {
        Some(Value::String(ty)) if !type_matches(ty, v) => {
            errors.push(format!("{path}: expected {ty}, got {v}"));
            return;
        }
        Some(Value::Array(tys))
            if !tys
                .iter()
                .any(|t| type_matches(t.as_str().unwrap_or(""), v)) =>
        {
            errors.push(format!("{path}: expected one of {tys:?}, got {v}"));
            return;
        }
        _ => {}
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(v)
    {
        errors.push(format!("{path}: {v} not in enum {allowed:?}"));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = schema.get(key) {
            let ok = options.iter().any(|o| {
                let mut e = Vec::new();
                conform(o, v, path, &mut e);
                e.is_empty()
            });
            if !ok {
                errors.push(format!("{path}: {v} matches none of {key}"));
            }
        }
    }
    if let Value::Object(obj) = v {
        if let Some(Value::Array(req)) = schema.get("required") {
            for r in req {
                let r = r.as_str().unwrap_or_default();
                if !obj.contains_key(r) {
                    errors.push(format!("{path}: required property {r} missing"));
                }
            }
        }
        if let Some(Value::Object(props)) = schema.get("properties") {
            for (k, child) in obj {
                if let Some(s) = props.get(k) {
                    conform(s, child, &format!("{path}.{k}"), errors);
                } else if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                    errors.push(format!("{path}: unexpected property {k}"));
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (v, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conform(item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
}

#[tokio::test]
async fn structured_results_conform_to_output_schemas() {
    let (_fake, server) = start_with_fake().await;
    let tools = server.tools().await;
    let schema_of = |name: &str| -> Value {
        let t = tools.iter().find(|t| t.name == name).unwrap();
        Value::Object(
            t.output_schema
                .as_ref()
                .map(|s| (**s).clone())
                .unwrap_or_default(),
        )
    };
    let cases = [
        ("chat", json!({"model": "gpt-4.1", "prompt": "hi"})),
        ("chat", json!({"model": "tool-caller", "prompt": "hi"})),
        ("chat", json!({"model": "no-usage", "prompt": "hi"})),
        ("chat", json!({"model": "gateway-cost", "prompt": "hi"})),
        (
            "vision",
            json!({"model": "gpt-4o", "prompt": "hi", "images": ["https://example.com/a.png"]}),
        ),
        (
            "compare_models",
            json!({"models": ["gpt-4.1", "status-500", "no-usage"], "prompt": "hi"}),
        ),
        ("list_models", json!({})),
        (
            "route_by_task",
            json!({"task": "cheap", "prompt": "hi", "dry_run": true}),
        ),
        ("route_by_task", json!({"task": "code", "prompt": "hi"})),
    ];
    let mut errors = Vec::new();
    for (tool, args) in cases {
        let r = server.call(tool, args.clone()).await;
        let v = expect_ok(&r);
        conform(&schema_of(tool), &v, &format!("{tool} {args}"), &mut errors);
    }
    assert!(
        errors.is_empty(),
        "schema mismatches:\n{}",
        errors.join("\n")
    );
}
