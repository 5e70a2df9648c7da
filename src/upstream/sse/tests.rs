//! Tests of the stream parser: a stream in the shape OpenAI sends, fed in every possible
//! split, plus the edge cases one at a time.

use super::testing::{self, Parsed, Summary};
use super::*;

/// A `chat.completion.chunk` stream in the shape OpenAI's API sends (hand-written after its
/// documented format; the machine that wrote it has no network): a role chunk, text with
/// multi-byte characters, two tool calls streamed as deltas, a finish chunk, the usage chunk
/// of `stream_options.include_usage`, and `[DONE]`. Mixed in: CRLF and lone-CR line ends, a
/// keep-alive comment, `event:`/`id:` lines, one event split over two `data:` lines, and one
/// malformed event.
const RECORDED: &str = concat!(
    ": keep-alive\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1760000000,\"model\":\"gpt-4.1-2025-04-14\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1760000000,\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Héllo\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\r\n\r\n",
    "event: message\r\nid: 7\r\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025-04-14\",\r\n",
    "data: \"choices\":[{\"index\":0,\"delta\":{\"content\":\", 世界\"},\"finish_reason\":null}]}\r\n\r\n",
    "data: {not json at all\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" 🎉\\n\"},\"finish_reason\":null}]}\r\r",
    ":\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":41,\"total_tokens\":60,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n",
    "data: [DONE]\n\n",
);

/// Feeds `parts` one after another to an OpenAI-stream parser, then ends the body.
fn parse(parts: &[&[u8]]) -> Parsed {
    testing::parse(StreamParser::new(), parts)
}

fn expected_recorded() -> Parsed {
    Parsed {
        deltas: "Héllo, 世界 🎉\n".into(),
        tool_deltas: 4,
        result: Ok(Summary {
            model: Some("gpt-4.1-2025-04-14".into()),
            text: "Héllo, 世界 🎉\n".into(),
            tool_calls: vec![
                json!({"id": "call_a", "type": "function",
                       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}),
                json!({"id": "call_b", "type": "function",
                       "function": {"name": "get_time", "arguments": "{}"}}),
            ],
            function_call: None,
            finish_reason: Some("tool_calls".into()),
            usage: Some((19, 41, 60)),
        }),
        skipped: 1,
    }
}

#[test]
fn a_recorded_stream_assembles_into_one_answer() {
    assert_eq!(parse(&[RECORDED.as_bytes()]), expected_recorded());
}

#[test]
fn every_split_of_the_recorded_stream_and_byte_by_byte_gives_the_same_answer() {
    testing::assert_every_split_gives(StreamParser::new, RECORDED.as_bytes(), &expected_recorded());
}

#[test]
fn every_three_way_split_near_line_ends_gives_the_same_answer() {
    // Splits on both sides of every CR and LF (where framing state carries over).
    let bytes = RECORDED.as_bytes();
    let expected = expected_recorded();
    let ends: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i] == b'\r' || bytes[i] == b'\n')
        .collect();
    for &i in &ends {
        for j in [i, i + 1] {
            let k = (j + 37).min(bytes.len());
            let got = parse(&[&bytes[..j], &bytes[j..k], &bytes[k..]]);
            assert_eq!(got, expected, "splits at {j} and {k}");
        }
    }
}

#[test]
fn a_stream_cut_before_done_is_an_error_carrying_the_partial_text() {
    let cut = RECORDED
        .find("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1-2025-04-14\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\"")
        .unwrap();
    let bytes = &RECORDED.as_bytes()[..cut];
    for i in 0..=bytes.len() {
        let got = parse(&[&bytes[..i], &bytes[i..]]);
        assert_eq!(got.deltas, "Héllo, 世界 🎉\n", "split at {i}");
        let (why, partial) = got.result.expect_err("a cut stream must fail");
        assert!(why.contains("[DONE]"), "{why}");
        assert_eq!(partial, "Héllo, 世界 🎉\n", "split at {i}");
    }
}

#[test]
fn a_stream_cut_mid_character_keeps_the_text_before_it() {
    let cut = RECORDED.find("界").unwrap() + 1; // inside the 3-byte character
    let got = parse(&[&RECORDED.as_bytes()[..cut]]);
    let (_, partial) = got.result.unwrap_err();
    assert_eq!(partial, "Héllo");
}

#[test]
fn a_finish_reason_without_done_is_a_complete_answer() {
    let s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n\
             data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    let got = parse(&[s.as_bytes()]);
    let summary = got.result.unwrap();
    assert_eq!(summary.text, "hi");
    assert_eq!(summary.finish_reason.as_deref(), Some("stop"));
    assert_eq!(summary.usage, None);
}

#[test]
fn a_last_event_without_its_blank_line_still_counts() {
    let s = "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\ndata: [DONE]";
    let got = parse(&[s.as_bytes()]);
    assert_eq!(got.result.unwrap().text, "ok");
}

#[test]
fn nothing_after_done_is_read() {
    let s = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n\
             data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n";
    let mut p = StreamParser::new();
    let mut seen = String::new();
    p.feed(s.as_bytes(), &mut |d| {
        if let Delta::Text(t) = d {
            seen.push_str(t);
        }
    })
    .unwrap();
    assert!(p.is_done());
    assert_eq!(seen, "a");
}

#[test]
fn an_error_object_mid_stream_ends_it_with_the_message() {
    let s = "data: {\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\n\
             data: {\"error\":{\"message\":\"upstream provider overloaded\",\"type\":\"server_error\"}}\n\n";
    let mut p = StreamParser::new();
    let err = p.feed(s.as_bytes(), &mut |_| {}).unwrap_err();
    assert_eq!(err, "upstream provider overloaded");
    assert_eq!(p.text(), "par");
    assert!(p.started());
}

#[test]
fn only_comments_is_not_started_and_not_done() {
    let mut p = StreamParser::new();
    p.feed(b": ping\n\n: ping\n\n", &mut |_| {}).unwrap();
    assert!(!p.started());
    assert!(!p.is_done());
    assert!(p.finish(&mut |_| {}).is_err());
}

#[test]
fn legacy_function_call_deltas_assemble() {
    let s = "data: {\"choices\":[{\"delta\":{\"function_call\":{\"name\":\"lookup\",\"arguments\":\"\"}}}]}\n\n\
             data: {\"choices\":[{\"delta\":{\"function_call\":{\"arguments\":\"{\\\"q\\\":1}\"}}}]}\n\n\
             data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"function_call\"}]}\n\ndata: [DONE]\n\n";
    let got = parse(&[s.as_bytes()]);
    assert_eq!(got.tool_deltas, 2);
    let summary = got.result.unwrap();
    assert_eq!(
        summary.function_call,
        Some(json!({"name": "lookup", "arguments": "{\"q\":1}"}))
    );
}

#[test]
fn tool_call_deltas_without_an_index_are_merged_by_id() {
    let s = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"c1\",\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\"\"}}]}}]}\n\n\
             data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n\
             data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"c2\",\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]}}]}\n\n\
             data: [DONE]\n\n";
    let calls = parse(&[s.as_bytes()]).result.unwrap().tool_calls;
    assert_eq!(
        calls,
        vec![
            json!({"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}}),
            json!({"id": "c2", "type": "function", "function": {"name": "b", "arguments": "{}"}}),
        ]
    );
}

#[test]
fn gateway_cost_and_anthropic_usage_names_are_read_from_the_usage_chunk() {
    let s = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n\
             data: {\"choices\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":4,\"cost\":0.0123}}\n\n\
             data: [DONE]\n\n";
    let mut p = StreamParser::new();
    p.feed(s.as_bytes(), &mut |_| {}).unwrap();
    let r = p.finish(&mut |_| {}).unwrap();
    let usage = r.usage.unwrap();
    assert_eq!(usage.tokens().total_tokens, 7);
    assert_eq!(usage.gateway_cost().unwrap().to_string(), "0.0123");
}

#[test]
fn invalid_utf8_is_decoded_lossily_and_noted() {
    let mut bytes = b"data: {\"choices\":[{\"delta\":{\"content\":\"a".to_vec();
    bytes.push(0xff);
    bytes.extend_from_slice(b"b\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    let mut p = StreamParser::new();
    p.feed(&bytes, &mut |_| {}).unwrap();
    assert_eq!(p.text(), "a\u{fffd}b");
    assert_eq!(p.skipped().len(), 1);
}
