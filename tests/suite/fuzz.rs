//! Bounded fuzzing on stable Rust (issue 9): a small seeded mutation fuzzer (xorshift, no
//! extra crates) drives the SSE parser, whole-response decoding and tool-argument decoding
//! with mutated seeds for `LLM_ROUTER_FUZZ_SECS` seconds per target (default 2; CI runs 60).
//! Properties: nothing panics, and the SSE parser gives the same answer whether a body is fed
//! whole or split into random pieces.

use std::time::{Duration, Instant};

use llm_router::upstream::ChatResponse;
use llm_router::upstream::sse::StreamParser;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"data: ",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"[DONE]",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"\"choices\"",
    b"\"delta\"",
    b"\"content\"",
    b"\"tool_calls\"",
    b"\"index\"",
    b"\"error\"",
    b"\"usage\"",
    b"\"finish_reason\"",
    b"event: x\n",
    b": c\n",
    b"\xff",
    b"\xc3",
    b"1e999",
    b"-1",
    b"18446744073709551616",
];

/// One mutation of `input`.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    match rng.below(5) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = rng.next() as u8;
        }
        1 if !input.is_empty() => {
            let i = rng.below(input.len());
            let n = rng.below(16).min(input.len() - i);
            input.drain(i..i + n);
        }
        2 => {
            let i = rng.below(input.len() + 1);
            let t = TOKENS[rng.below(TOKENS.len())];
            input.splice(i..i, t.iter().copied());
        }
        3 if !input.is_empty() => {
            let i = rng.below(input.len());
            let n = rng.below(32).min(input.len() - i);
            let copy = input[i..i + n].to_vec();
            let j = rng.below(input.len() + 1);
            input.splice(j..j, copy);
        }
        _ => input.truncate(rng.below(input.len() + 1)),
    }
}

/// Runs `target` on mutated seeds for the configured time; returns the executions.
fn fuzz(name: &str, seeds: &[&[u8]], mut target: impl FnMut(&[u8], &mut Rng)) -> u64 {
    let secs: f64 = std::env::var("LLM_ROUTER_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut runs = 0u64;
    while Instant::now() < until {
        for _ in 0..64 {
            let mut input = seeds[rng.below(seeds.len())].to_vec();
            for _ in 0..=rng.below(8) {
                mutate(&mut rng, &mut input);
            }
            target(&input, &mut rng);
            runs += 1;
        }
    }
    eprintln!("fuzz {name}: {runs} executions in {secs} s");
    assert!(runs > 0);
    runs
}

const SSE_SEEDS: &[&[u8]] = &[
    b": keep-alive\n\ndata: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hel\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7,\"cost\":0.1}}\n\ndata: [DONE]\n\n",
    b"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\r\n\r\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\r\n\r\ndata: [DONE]\r\n\r\n",
    b"data: {\"error\":{\"message\":\"boom\"}}\n\n",
    b"data: {\"choices\":[{\"delta\":{\"function_call\":{\"name\":\"g\",\"arguments\":\"{}\"}}}]}\n\n",
];

/// The parser's outcome on `body` fed in the given pieces, as comparable text.
fn parse(body: &[u8], cuts: &[usize]) -> String {
    let mut parser = StreamParser::new();
    let mut seen = String::new();
    let mut on = |d: llm_router::upstream::sse::Delta<'_>| seen.push_str(&format!("{d:?}"));
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
        if let Err(e) = parser.feed(&body[start..cut], &mut on) {
            return format!("error {e} after {}", parser.text());
        }
        start = cut;
        if parser.is_done() {
            break;
        }
    }
    let end = parser.finish(&mut on);
    format!("{:?} {:?}", end.map(|r| format!("{r:?}")), parser.text())
}

#[test]
fn fuzz_sse_parser_never_panics_and_ignores_chunk_boundaries() {
    fuzz("sse_parser", SSE_SEEDS, |body, rng| {
        let whole = parse(body, &[]);
        let mut cuts: Vec<usize> = (0..rng.below(6))
            .map(|_| rng.below(body.len() + 1))
            .collect();
        cuts.sort_unstable();
        let split = parse(body, &cuts);
        assert_eq!(
            whole,
            split,
            "body {:?} cut at {cuts:?}",
            String::from_utf8_lossy(body)
        );
    });
}

#[test]
fn fuzz_response_decoding_never_panics() {
    let seeds: &[&[u8]] = &[
        br#"{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"cost":0.5}}"#,
        br#"{"error":{"message":"bad","code":429}}"#,
        br#"{"choices":[{"message":{"content":[{"type":"text","text":"a"}]}}],"usage":{"prompt_tokens":1e30,"cost":"0.1"}}"#,
    ];
    fuzz("response_decoding", seeds, |body, _| {
        if let Ok(r) = serde_json::from_slice::<ChatResponse>(body) {
            if let Some(u) = &r.usage {
                let _ = u.tokens();
                let _ = u.gateway_cost();
            }
            for c in &r.choices {
                if let Some(m) = &c.message {
                    let _ = m.text();
                }
            }
        }
    });
}

#[test]
fn fuzz_tool_argument_decoding_never_panics() {
    use llm_router::tools::{chat, compare, route_by_task, vision};
    let seeds: &[&[u8]] = &[
        br#"{"model":"gpt-4.1","fallback_models":["a"],"prompt":"p","system":"s","temperature":0.5,"max_tokens":10,"top_p":1,"stop":["x"],"tools":[],"response_format":{"type":"json_object"}}"#,
        br#"{"messages":[{"role":"user","content":"x"},{"role":"tool","content":"r","tool_call_id":"c"}]}"#,
        br#"{"models":["a","b"],"prompt":"p","task":"code","dry_run":true}"#,
        br#"{"prompt":"p","images":["data:image/png;base64,AAAA"],"detail":"low"}"#,
    ];
    fuzz("tool_arguments", seeds, |body, _| {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        if let Ok(i) = serde_json::from_value::<chat::Input>(v.clone()) {
            let _ = i.sampling.check();
            let _ = i.fine.check();
            let _ = i.conversation.into_messages();
        }
        if let Ok(i) = serde_json::from_value::<compare::Input>(v.clone()) {
            let _ = i.conversation.into_messages();
        }
        let _ = serde_json::from_value::<route_by_task::Input>(v.clone());
        let _ = serde_json::from_value::<vision::Input>(v);
    });
}
