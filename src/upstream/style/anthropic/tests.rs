//! Tests of the anthropic style: request encoding, answer decoding, the stream (a recorded
//! one fed in every split, cut short, with an error event) and the model list.

use super::*;
use crate::upstream::sse::testing::{self, Parsed, Summary};
use crate::upstream::types::{FineSampling, FunctionCalling, Sampling, WireMessage};

fn msg(role: &'static str, content: Value) -> WireMessage {
    WireMessage {
        role,
        content,
        name: None,
        tool_call_id: None,
        tool_calls: None,
    }
}

fn request(messages: Vec<WireMessage>) -> ChatRequest {
    ChatRequest::new("claude-sonnet-4-5".into(), messages, Sampling::default())
}

fn encode(r: &ChatRequest) -> Value {
    let e = Anthropic
        .encode(r, "claude-sonnet-4-5-20250929", false)
        .unwrap();
    assert_eq!(e.path, "/messages");
    e.body
}

fn encode_err(r: &ChatRequest) -> String {
    Anthropic.encode(r, "m", false).unwrap_err().to_string()
}

#[test]
fn a_plain_prompt_is_one_user_turn_with_the_default_max_tokens() {
    let body = encode(&request(vec![msg("user", json!("Hello"))]));
    assert_eq!(
        body,
        json!({
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": DEFAULT_MAX_TOKENS,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
        })
    );
    let streamed = Anthropic.encode(&request(vec![msg("user", json!("Hi"))]), "m", true);
    assert_eq!(streamed.unwrap().body["stream"], true);
}

#[test]
fn system_messages_go_to_the_system_field() {
    let body = encode(&request(vec![
        msg("system", json!("Be brief.")),
        msg("user", json!("Hi")),
        msg(
            "system",
            json!([{"type": "text", "text": "Answer in French."}]),
        ),
    ]));
    assert_eq!(body["system"], "Be brief.\n\nAnswer in French.");
    assert_eq!(body["messages"].as_array().unwrap().len(), 1);
    let image_in_system = request(vec![
        msg(
            "system",
            json!([{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]),
        ),
        msg("user", json!("Hi")),
    ]);
    assert!(encode_err(&image_in_system).contains("only text"));
}

#[test]
fn a_multi_turn_conversation_alternates_and_merges_same_role_turns() {
    let body = encode(&request(vec![
        msg("user", json!("one")),
        msg("user", json!("two")),
        msg("assistant", json!("three")),
        msg("user", json!("four")),
    ]));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "three"}]},
            {"role": "user", "content": [{"type": "text", "text": "four"}]},
        ])
    );
    let empty = request(vec![msg("user", json!("  "))]);
    assert!(
        encode_err(&empty).contains("no content"),
        "{}",
        encode_err(&empty)
    );
}

#[test]
fn images_become_base64_or_url_sources() {
    let body = encode(&request(vec![msg(
        "user",
        json!([
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        ]),
    )]));
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        ])
    );
    let not_base64 = request(vec![msg(
        "user",
        json!([{"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}]),
    )]);
    assert!(encode_err(&not_base64).contains("base64"));
    let audio = request(vec![msg("user", json!([{"type": "input_audio"}]))]);
    assert!(encode_err(&audio).contains("'input_audio'"));
}

#[test]
fn tools_and_tool_choice_are_translated() {
    let mut r = request(vec![msg("user", json!("weather?"))]);
    r.functions = FunctionCalling {
        tools: Some(json!([{"type": "function", "function": {
            "name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}, {"type": "function", "function": {"name": "now"}}])),
        tool_choice: Some(json!("required")),
        ..FunctionCalling::default()
    };
    let body = encode(&r);
    assert_eq!(
        body["tools"],
        json!([
            {"name": "get_weather", "description": "Weather for a city",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        ])
    );
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
    for (choice, expected) in [
        (json!("auto"), json!({"type": "auto"})),
        (json!("none"), json!({"type": "none"})),
        (
            json!({"type": "function", "function": {"name": "now"}}),
            json!({"type": "tool", "name": "now"}),
        ),
    ] {
        r.functions.tool_choice = Some(choice);
        assert_eq!(encode(&r)["tool_choice"], expected);
    }
    r.functions.tool_choice = Some(json!("sometimes"));
    assert!(encode_err(&r).contains("'sometimes'"));
    r.functions.tool_choice = None;
    r.functions.tools = Some(json!([{"type": "web_search"}]));
    assert!(encode_err(&r).contains("'web_search'"));
}

#[test]
fn tool_calls_and_results_in_the_conversation() {
    let mut assistant = msg("assistant", Value::Null);
    assistant.tool_calls = Some(vec![
        json!({"id": "toolu_1", "type": "function",
               "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}),
        json!({"id": "toolu_2", "type": "function", "function": {"name": "now", "arguments": ""}}),
    ]);
    let mut result1 = msg("tool", json!("18°C"));
    result1.tool_call_id = Some("toolu_1".into());
    let mut result2 = msg("tool", json!("noon"));
    result2.tool_call_id = Some("toolu_2".into());
    let body = encode(&request(vec![
        msg("user", json!("weather and time?")),
        assistant,
        result1,
        result2,
    ]));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "weather and time?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "noon"},
            ]},
        ])
    );
    let mut bad = msg("assistant", Value::Null);
    bad.tool_calls = Some(vec![
        json!({"id": "t", "function": {"name": "f", "arguments": "{oops"}}),
    ]);
    let e = encode_err(&request(vec![msg("user", json!("x")), bad]));
    assert!(e.contains("not JSON") && e.contains("'f'"), "{e}");
}

#[test]
fn sampling_and_stop_are_sent_penalties_dropped_and_what_cannot_be_honoured_refused() {
    let mut r = request(vec![msg("user", json!("x"))]);
    r.sampling = Sampling {
        temperature: Some(0.3),
        max_tokens: Some(77),
    };
    r.fine = FineSampling {
        top_p: Some(0.9),
        frequency_penalty: Some(0.5),
        presence_penalty: Some(0.1),
        stop: Some(json!("END")),
        cache: None,
    };
    let body = encode(&r);
    assert_eq!(body["temperature"], 0.3);
    assert_eq!(body["max_tokens"], 77);
    assert_eq!(body["top_p"], 0.9);
    assert_eq!(body["stop_sequences"], json!(["END"]));
    for dropped in ["frequency_penalty", "presence_penalty", "stop"] {
        assert!(body.get(dropped).is_none(), "{dropped} in {body}");
    }
    r.fine.stop = Some(json!(["a", "b"]));
    assert_eq!(encode(&r)["stop_sequences"], json!(["a", "b"]));

    r.sampling.temperature = Some(1.5);
    assert!(encode_err(&r).contains("temperature 1.5"));
    r.sampling.temperature = None;
    r.functions.response_format = Some(json!({"type": "json_object"}));
    assert!(encode_err(&r).contains("response_format"));
    r.functions.response_format = Some(json!({"type": "text"}));
    assert!(encode(&r).get("response_format").is_none());
}

fn decode(body: Value) -> ChatResponse {
    Anthropic.decode(body.to_string().as_bytes()).unwrap()
}

#[test]
fn a_text_answer_decodes_with_usage_and_model() {
    // The example response of the Messages API docs, plus cache counts.
    let r = decode(json!({
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "thinking", "thinking": "hmm", "signature": "x"},
                    {"type": "text", "text": "Hi! My name is Claude."}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 2095, "output_tokens": 503,
                  "cache_creation_input_tokens": 100, "cache_read_input_tokens": 5}
    }));
    assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    let choice = &r.choices[0];
    assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
    let message = choice.message.as_ref().unwrap();
    assert_eq!(message.text(), "Hi! My name is Claude.");
    assert!(message.tool_calls.is_none());
    let t = r.usage.unwrap().tokens();
    assert_eq!(
        (t.prompt_tokens, t.completion_tokens, t.total_tokens),
        (2200, 503, 2703)
    );
}

#[test]
fn tool_use_blocks_become_openai_tool_calls() {
    let r = decode(json!({
        "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_01B", "name": "now", "input": {}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 20}
    }));
    let choice = &r.choices[0];
    assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
    let message = choice.message.as_ref().unwrap();
    assert_eq!(message.text(), "Let me check.");
    assert_eq!(
        message.tool_calls.as_ref().unwrap(),
        &vec![
            json!({"id": "toolu_01A", "type": "function",
                   "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}),
            json!({"id": "toolu_01B", "type": "function",
                   "function": {"name": "now", "arguments": "{}"}}),
        ]
    );
}

#[test]
fn stop_reasons_map_to_openai_words() {
    for (stop, expected) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
    ] {
        let r = decode(json!({"content": [], "stop_reason": stop}));
        assert_eq!(
            r.choices[0].finish_reason.as_deref(),
            Some(expected),
            "{stop}"
        );
    }
    // A refusal may come with no text at all: still an answer, flagged content_filter.
    let r = decode(
        json!({"content": [], "stop_reason": "refusal", "usage": {"input_tokens": 5, "output_tokens": 0}}),
    );
    assert_eq!(r.choices[0].message.as_ref().unwrap().text(), "");
    assert_eq!(
        r.choices[0].finish_reason.as_deref(),
        Some("content_filter")
    );
}

#[test]
fn an_error_object_in_a_200_is_kept_as_the_error_and_a_non_message_has_no_choices() {
    let r = decode(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    assert!(r.choices.is_empty());
    assert_eq!(
        r.error,
        Some(json!({"type": "overloaded_error", "message": "Overloaded"}))
    );
    assert_eq!(
        crate::upstream::status::error_message(r.error.unwrap().to_string().as_bytes()).unwrap(),
        "Overloaded [overloaded_error]"
    );
    assert!(decode(json!({"id": "x"})).choices.is_empty());
}

#[test]
fn the_style_error_body_gives_its_message_and_type() {
    let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":"req_011"}"#;
    assert_eq!(
        crate::upstream::status::error_message(body).unwrap(),
        "max_tokens: Field required [invalid_request_error]"
    );
}

#[test]
fn the_model_list_decodes() {
    let body = br#"{"data":[{"type":"model","id":"claude-sonnet-4-5-20250929","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"},{"type":"model","id":"claude-haiku-4-5-20251001","display_name":"Claude Haiku 4.5","created_at":"2025-10-01T00:00:00Z"}],"has_more":false,"first_id":"claude-sonnet-4-5-20250929","last_id":"claude-haiku-4-5-20251001"}"#;
    let ids: Vec<String> = Anthropic
        .decode_models(body)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        ids,
        ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"]
    );
    assert_eq!(Anthropic.models_path(), "/models");
    assert_eq!(Anthropic.headers(), &[("anthropic-version", "2023-06-01")]);
    assert_eq!(Anthropic.default_auth(), Auth::XApiKey);
    assert_eq!(
        super::super::Style::parse("anthropic"),
        Ok(super::super::Style::Anthropic)
    );
}

/// A Messages stream, hand-written after the shape Anthropic's streaming docs document (the
/// machine that wrote it has no network): `message_start` with the input tokens, a thinking
/// block (ignored), a `ping`, a text block with multi-byte characters, a tool-use block whose
/// input arrives as `input_json_delta` pieces, a second tool-use block with no input,
/// `message_delta` with the stop reason and output tokens, `message_stop`. Mixed in: CRLF
/// line ends, a keep-alive comment, and one malformed event.
const RECORDED: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"The user wants weather.\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: ping\r\n",
    "data: {\"type\": \"ping\"}\r\n\r\n",
    ": keep-alive\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay, checking Sán\"}}\n\n",
    "event: content_block_delta\r\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\" Francisco 🌉 世界:\"}}\r\n\r\n",
    "data: {not json\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"San Fra\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ncisco, CA\\\"}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"get_time\",\"input\":{}}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":3}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

const TEXT: &str = "Okay, checking Sán Francisco 🌉 世界:";

/// Feeds `parts` one after another to an Anthropic-stream parser, then ends the body.
fn parse(parts: &[&[u8]]) -> Parsed {
    testing::parse(Anthropic.stream_parser(), parts)
}

fn expected_recorded() -> Parsed {
    Parsed {
        deltas: TEXT.into(),
        // get_weather: start + 3 input pieces; get_time: start + the `{}` at its stop.
        tool_deltas: 6,
        result: Ok(Summary {
            model: Some("claude-sonnet-4-5-20250929".into()),
            text: TEXT.into(),
            tool_calls: vec![
                json!({"id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                       "function": {"name": "get_weather",
                                    "arguments": "{\"location\": \"San Francisco, CA\"}"}}),
                json!({"id": "toolu_02", "type": "function",
                       "function": {"name": "get_time", "arguments": "{}"}}),
            ],
            function_call: None,
            finish_reason: Some("tool_calls".into()),
            usage: Some((472, 89, 561)),
        }),
        skipped: 1,
    }
}

#[test]
fn the_recorded_stream_assembles_into_one_answer() {
    assert_eq!(parse(&[RECORDED.as_bytes()]), expected_recorded());
}

#[test]
fn every_split_of_the_recorded_stream_gives_the_same_answer() {
    testing::assert_every_split_gives(
        || Anthropic.stream_parser(),
        RECORDED.as_bytes(),
        &expected_recorded(),
    );
}

#[test]
fn a_stream_cut_before_its_end_is_an_error_carrying_the_partial_text() {
    let cut = RECORDED
        .find("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}")
        .unwrap();
    let bytes = &RECORDED.as_bytes()[..cut];
    for i in 0..=bytes.len() {
        let got = parse(&[&bytes[..i], &bytes[i..]]);
        assert_eq!(got.deltas, TEXT, "split at {i}");
        let (why, partial) = got.result.expect_err("a cut stream must fail");
        assert!(why.contains("message_stop"), "{why}");
        assert_eq!(partial, TEXT, "split at {i}");
    }
}

#[test]
fn an_error_event_mid_stream_ends_it_with_its_message() {
    let s = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"par\"}}\n\n",
        "event: error\n",
        "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let mut p = Anthropic.stream_parser();
    let err = p.feed(s.as_bytes(), &mut |_| {}).unwrap_err();
    assert_eq!(err, "Overloaded [overloaded_error]");
    assert_eq!(p.text(), "par");
    assert!(p.started());
}

#[test]
fn a_stream_with_only_a_stop_reason_is_an_empty_answer_and_nothing_after_message_stop_is_read() {
    let s = concat!(
        "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"refusal\"},\"usage\":{\"output_tokens\":0}}\n\n",
        "data: {\"type\":\"message_stop\"}\n\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"late\"}}\n\n",
    );
    let got = parse(&[s.as_bytes()]);
    let summary = got.result.unwrap();
    assert_eq!(summary.text, "");
    assert_eq!(summary.finish_reason.as_deref(), Some("content_filter"));
    assert_eq!(summary.usage, Some((5, 0, 5)));
}
