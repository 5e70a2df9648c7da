//! Tests of the Gemini style: request encoding, whole answers, a stream fed in every split,
//! and the model list.

use serde_json::json;

use super::*;
use crate::upstream::sse::testing::{self, Parsed, Summary};
use crate::upstream::types::{
    FineSampling, FunctionCalling, ResponseMessage, Sampling, WireMessage,
};

fn msg(role: &'static str, content: Value) -> WireMessage {
    WireMessage {
        role,
        content,
        name: None,
        tool_call_id: None,
        tool_calls: None,
    }
}

fn req(messages: Vec<WireMessage>) -> ChatRequest {
    ChatRequest::new("gemini-2.5-flash".into(), messages, Sampling::default())
}

fn encode(r: &ChatRequest) -> Encoded {
    Gemini.encode(r, "gemini-2.5-flash", false).unwrap()
}

fn encode_err(r: &ChatRequest) -> String {
    Gemini
        .encode(r, "gemini-2.5-flash", false)
        .unwrap_err()
        .to_string()
}

#[test]
fn text_and_system_prompt_are_encoded() {
    let r = req(vec![
        msg("system", json!("Be brief.")),
        msg("system", json!("Answer in French.")),
        msg("user", json!("Hi")),
    ]);
    let e = encode(&r);
    assert_eq!(e.path, "/models/gemini-2.5-flash:generateContent");
    assert_eq!(
        e.body,
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]}
        })
    );
    let s = Gemini.encode(&r, "models/gemini-2.5-pro", true).unwrap();
    assert_eq!(
        s.path,
        "/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    );
    assert_eq!(s.body, e.body, "the streamed body is the same");
}

#[test]
fn model_ids_that_would_break_the_path_are_refused() {
    let r = req(vec![msg("user", json!("Hi"))]);
    for bad in ["a/b", "x?alt=1", "", "a b"] {
        let e = Gemini.encode(&r, bad, false).unwrap_err().to_string();
        assert!(e.contains("gemini API style"), "{bad}: {e}");
    }
}

#[test]
fn multi_turn_maps_roles_and_merges_consecutive_turns() {
    let r = req(vec![
        msg("user", json!("one")),
        msg("user", json!("two")),
        msg("assistant", json!("three")),
        msg("user", json!("")),
        msg("user", json!("four")),
    ]);
    assert_eq!(
        encode(&r).body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
            {"role": "model", "parts": [{"text": "three"}]},
            {"role": "user", "parts": [{"text": "four"}]}
        ])
    );
    let only_system = req(vec![msg("system", json!("x"))]);
    assert!(encode_err(&only_system).contains("at least one user"));
}

#[test]
fn images_become_inline_data_or_file_data() {
    let r = req(vec![msg(
        "user",
        json!([
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.JPG?size=2"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/render"}}
        ]),
    )]);
    assert_eq!(
        encode(&r).body["contents"][0]["parts"],
        json!([
            {"text": "What is this?"},
            {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}},
            {"file_data": {"file_uri": "https://example.com/cat.JPG?size=2", "mime_type": "image/jpeg"}},
            {"file_data": {"file_uri": "https://example.com/render"}}
        ])
    );
    let bad = |part: Value| encode_err(&req(vec![msg("user", json!([part]))]));
    assert!(
        bad(json!({"type": "image_url", "image_url": {"url": "data:image/png,%89PNG"}}))
            .contains("base64")
    );
    assert!(
        bad(json!({"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}))
            .contains("https URL")
    );
    assert!(bad(json!({"type": "input_audio", "input_audio": {}})).contains("'input_audio'"));
}

fn weather_tools() -> FunctionCalling {
    FunctionCalling {
        tools: Some(json!([{
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "properties": {
                        "city": {"type": "string"},
                        "when": {"type": "object", "properties": {"day": {"type": "string"}}, "additionalProperties": false},
                        "additionalProperties": {"type": "string", "description": "a property named so is kept"}
                    },
                    "required": ["city"],
                    "additionalProperties": false
                }
            }
        }])),
        ..FunctionCalling::default()
    }
}

#[test]
fn tools_and_tool_choice_are_encoded() {
    let mut r = req(vec![msg("user", json!("Weather in Paris?"))]);
    r.functions = weather_tools();
    r.functions.tool_choice = Some(json!("required"));
    let body = encode(&r).body;
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [{
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "when": {"type": "object", "properties": {"day": {"type": "string"}}},
                    "additionalProperties": {"type": "string", "description": "a property named so is kept"}
                },
                "required": ["city"]
            }
        }]}])
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
    let choice = |c: Value| {
        let mut r = r.clone();
        r.functions.tool_choice = Some(c);
        Gemini
            .encode(&r, "m", false)
            .map(|e| e.body["toolConfig"].clone())
    };
    assert_eq!(
        choice(json!("auto")).unwrap(),
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    assert_eq!(
        choice(json!("none")).unwrap(),
        json!({"functionCallingConfig": {"mode": "NONE"}})
    );
    assert_eq!(
        choice(json!({"type": "function", "function": {"name": "get_weather"}})).unwrap(),
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
    assert!(
        choice(json!("sometimes"))
            .unwrap_err()
            .to_string()
            .contains("tool_choice 'sometimes'")
    );

    let mut web = r.clone();
    web.functions.tools = Some(json!([{"type": "web_search"}]));
    assert!(encode_err(&web).contains("'web_search'"));
}

#[test]
fn legacy_functions_are_mapped_like_tools() {
    let mut r = req(vec![msg("user", json!("Weather?"))]);
    r.functions.functions =
        Some(json!([{"name": "get_weather", "parameters": {"type": "object"}}]));
    r.functions.function_call = Some(json!({"name": "get_weather"}));
    let body = encode(&r).body;
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "object"}}]}])
    );
    assert_eq!(
        body["toolConfig"]["functionCallingConfig"],
        json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]})
    );
}

#[test]
fn tool_results_become_function_responses_named_by_their_call() {
    let mut assistant = msg("assistant", Value::Null);
    assistant.tool_calls = Some(vec![
        json!({"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}),
        json!({"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": ""},
               "extra_content": {"google": {"thought_signature": "c2ln"}}}),
    ]);
    let mut t0 = msg("tool", json!("{\"temp_c\": 21}"));
    t0.tool_call_id = Some("call_0".into());
    let mut t1 = msg("tool", json!("noon"));
    t1.tool_call_id = Some("call_1".into());
    let r = req(vec![
        msg("user", json!("Weather and time?")),
        assistant,
        t0,
        t1,
    ]);
    assert_eq!(
        encode(&r).body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather and time?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}}, "thoughtSignature": "c2ln"}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}},
                {"functionResponse": {"name": "get_time", "response": {"content": "noon"}}}
            ]}
        ])
    );

    let mut orphan = msg("tool", json!("x"));
    orphan.tool_call_id = Some("call_9".into());
    let e = encode_err(&req(vec![msg("user", json!("q")), orphan]));
    assert!(e.contains("'call_9'") && e.contains("gemini"), "{e}");

    let mut bad_args = msg("assistant", Value::Null);
    bad_args.tool_calls = Some(vec![
        json!({"id": "c", "function": {"name": "f", "arguments": "{not json"}}),
    ]);
    assert!(
        encode_err(&req(vec![msg("user", json!("q")), bad_args])).contains("arguments is not JSON")
    );
}

#[test]
fn sampling_stop_and_json_output_go_in_generation_config() {
    let mut r = req(vec![msg("user", json!("Hi"))]);
    r.sampling = Sampling {
        temperature: Some(0.2),
        max_tokens: Some(64),
    };
    r.fine = FineSampling {
        top_p: Some(0.9),
        frequency_penalty: Some(0.5),
        presence_penalty: Some(-0.5),
        stop: Some(json!("END")),
        cache: None,
    };
    r.functions.response_format = Some(json!({"type": "json_object"}));
    assert_eq!(
        encode(&r).body["generationConfig"],
        json!({
            "temperature": 0.2, "maxOutputTokens": 64, "topP": 0.9,
            "presencePenalty": -0.5, "frequencyPenalty": 0.5,
            "stopSequences": ["END"], "responseMimeType": "application/json"
        })
    );
    r.fine.stop = Some(json!(["a", "b"]));
    r.functions.response_format = Some(
        json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "additionalProperties": false}}}),
    );
    let c = encode(&r).body["generationConfig"].clone();
    assert_eq!(c["stopSequences"], json!(["a", "b"]));
    assert_eq!(c["responseSchema"], json!({"type": "object"}));
    r.functions.response_format = Some(json!({"type": "grammar"}));
    assert!(encode_err(&r).contains("'grammar'"));
    assert!(
        encode(&req(vec![msg("user", json!("Hi"))]))
            .body
            .get("generationConfig")
            .is_none()
    );
}

fn decode(body: Value) -> ChatResponse {
    Gemini.decode(body.to_string().as_bytes()).unwrap()
}

fn message(r: &ChatResponse) -> &ResponseMessage {
    r.choices[0].message.as_ref().unwrap()
}

#[test]
fn a_text_answer_decodes_without_its_thoughts() {
    let r = decode(json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Let me think about greetings.", "thought": true},
                {"text": "Hello"}, {"text": ", world"}
            ]},
            "finishReason": "STOP", "index": 0,
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]
        }],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 20, "totalTokenCount": 35},
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "r1"
    }));
    assert_eq!(message(&r).text(), "Hello, world");
    assert!(message(&r).tool_calls.is_none());
    assert_eq!(r.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(r.model.as_deref(), Some("gemini-2.5-flash-001"));
    let t = r.usage.unwrap().tokens();
    assert_eq!(
        (t.prompt_tokens, t.completion_tokens, t.total_tokens),
        (10, 25, 35),
        "thinking tokens are output tokens"
    );
}

#[test]
fn function_calls_decode_as_tool_calls() {
    let r = decode(json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
                {"functionCall": {"name": "get_time"}}
            ]},
            "finishReason": "STOP"
        }]
    }));
    assert_eq!(
        message(&r).tool_calls.as_ref().unwrap(),
        &vec![
            json!({"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                   "extra_content": {"google": {"thought_signature": "c2ln"}}}),
            json!({"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}),
        ]
    );
    assert_eq!(r.choices[0].finish_reason.as_deref(), Some("tool_calls"));
    assert!(r.usage.is_none());
}

#[test]
fn finish_reasons_are_put_in_openai_words() {
    let reason = |r: &str| {
        let d = decode(
            json!({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": r}]}),
        );
        d.choices[0].finish_reason.clone().unwrap()
    };
    assert_eq!(reason("MAX_TOKENS"), "length");
    for r in [
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
    ] {
        assert_eq!(reason(r), "content_filter", "{r}");
    }
    assert_eq!(reason("MALFORMED_FUNCTION_CALL"), "malformed_function_call");
}

#[test]
fn a_safety_stop_without_content_is_an_empty_filtered_answer() {
    let r = decode(
        json!({"candidates": [{"finishReason": "SAFETY", "safetyRatings": [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]}]}),
    );
    assert_eq!(message(&r).text(), "");
    assert_eq!(
        r.choices[0].finish_reason.as_deref(),
        Some("content_filter")
    );
}

#[test]
fn a_blocked_prompt_is_an_error_saying_why() {
    let r = decode(json!({
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}
    }));
    assert!(r.choices.is_empty());
    let e = super::super::error_text(r.error.as_ref().unwrap());
    assert!(
        e.contains("blocked the prompt") && e.contains("SAFETY"),
        "{e}"
    );
    let r =
        decode(json!({"promptFeedback": {"blockReason": "OTHER", "blockReasonMessage": "policy"}}));
    assert!(super::super::error_text(r.error.as_ref().unwrap()).contains("OTHER: policy"));
}

#[test]
fn an_error_object_in_a_200_is_kept_and_nothing_is_an_error() {
    let r = decode(
        json!({"error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}}),
    );
    assert!(r.choices.is_empty());
    assert_eq!(r.error.unwrap()["status"], "INVALID_ARGUMENT");
    assert!(
        Gemini
            .decode(b"{}")
            .unwrap_err()
            .to_string()
            .contains("neither candidates")
    );
    assert!(Gemini.decode(b"[1]").is_err());
}

#[test]
fn the_model_list_drops_the_prefix_and_non_generating_models() {
    let body = json!({"models": [
        {"name": "models/gemini-2.5-pro", "displayName": "Gemini 2.5 Pro", "supportedGenerationMethods": ["generateContent", "countTokens"]},
        {"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]},
        {"name": "models/gemini-2.5-flash"}
    ], "nextPageToken": "x"});
    let ids: Vec<String> = Gemini
        .decode_models(body.to_string().as_bytes())
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["gemini-2.5-pro", "gemini-2.5-flash"]);
    assert_eq!(Gemini.models_path(), "/models?pageSize=1000");
    assert_eq!(Gemini.default_auth(), Auth::XGoogApiKey);
}

/// A `streamGenerateContent?alt=sse` stream in the shape Google's Gemini API documents
/// (hand-written after its public docs; the machine that wrote it has no network): CRLF line
/// ends, each event a whole GenerateContentResponse — a thought summary (left out of the
/// answer), text with multi-byte characters, a function call, a malformed event, and a final
/// event with the finishReason and the usage. No `[DONE]`.
const RECORDED: &str = concat!(
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"**Planning** the answer\",\"thought\": true}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 12,\"totalTokenCount\": 40,\"thoughtsTokenCount\": 28},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r-1\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Héllo\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 12,\"candidatesTokenCount\": 2,\"totalTokenCount\": 42,\"thoughtsTokenCount\": 28},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r-1\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \", 世界 🎉\\n\"}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n",
    "data: {not json\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"city\": \"Paris\"}}}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 12,\"candidatesTokenCount\": 20,\"totalTokenCount\": 60,\"thoughtsTokenCount\": 28},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r-1\"}\r\n\r\n",
);

/// Feeds `parts` one after another to a Gemini-stream parser, then ends the body.
fn parse(parts: &[&[u8]]) -> Parsed {
    testing::parse(Gemini.stream_parser(), parts)
}

fn expected() -> Parsed {
    Parsed {
        deltas: "Héllo, 世界 🎉\n".into(),
        // The one functionCall part.
        tool_deltas: 1,
        result: Ok(Summary {
            model: Some("gemini-2.5-flash".into()),
            text: "Héllo, 世界 🎉\n".into(),
            tool_calls: vec![json!({"id": "call_0", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}})],
            function_call: None,
            finish_reason: Some("tool_calls".into()),
            usage: Some((12, 48, 60)),
        }),
        // The `{not json` event.
        skipped: 1,
    }
}

#[test]
fn every_split_of_the_recorded_stream_gives_the_same_answer() {
    testing::assert_every_split_gives(|| Gemini.stream_parser(), RECORDED.as_bytes(), &expected());
}

#[test]
fn a_stream_cut_before_its_finish_reason_is_an_error_carrying_the_partial_text() {
    let cut = RECORDED
        .find("data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\"")
        .unwrap();
    let bytes = &RECORDED.as_bytes()[..cut];
    for i in 0..=bytes.len() {
        let got = parse(&[&bytes[..i], &bytes[i..]]);
        let (why, partial) = got.result.expect_err("a cut stream must fail");
        assert!(why.contains("a finishReason"), "{why}");
        assert_eq!(partial, "Héllo, 世界 🎉\n", "split at {i}");
    }
}

#[test]
fn an_error_event_mid_stream_ends_it_with_its_message() {
    let s = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Part\"}],\"role\": \"model\"}}]}\r\n\r\n",
        "data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\r\n\r\n",
    );
    let got = parse(&[s.as_bytes()]);
    assert_eq!(
        got.result,
        Err(("The model is overloaded.".into(), "Part".into()))
    );
}

#[test]
fn a_blocked_prompt_in_a_stream_is_an_error_saying_why() {
    let s = "data: {\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\"},\"usageMetadata\": {\"promptTokenCount\": 5}}\r\n\r\n";
    let (why, partial) = parse(&[s.as_bytes()]).result.unwrap_err();
    assert!(
        why.contains("blocked the prompt") && why.contains("PROHIBITED_CONTENT"),
        "{why}"
    );
    assert_eq!(partial, "");
}

#[test]
fn a_streamed_safety_stop_is_a_filtered_answer() {
    let s = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Sure, \"}]}}]}\r\n\r\n",
        "data: {\"candidates\": [{\"finishReason\": \"SAFETY\"}]}\r\n\r\n",
    );
    let a = parse(&[s.as_bytes()]).result.unwrap();
    assert_eq!(
        (
            a.text.as_str(),
            a.tool_calls.len(),
            a.finish_reason.as_deref()
        ),
        ("Sure, ", 0, Some("content_filter"))
    );
}
