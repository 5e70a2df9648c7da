//! The fault suite (issue 9): the upstream misbehaves in every way we could think of, and for
//! each fault the tool returns a clear error or a correct fallback result, within a bound (no
//! hang), without the server dying — the same server answers the next call.
//!
//! HTTP-level faults come from the `fault-*` models of the fake upstream; connection-level
//! faults (resets, silence, garbage instead of HTTP) from [`RawUpstream`], a bare TCP server
//! that answers each request with a scripted byte sequence chosen by the requested model.
//! Calls go over stdio through rmcp's client, which always sends a progress token, so they
//! take the streamed path; [`non_streamed_path_faults`] repeats the whole-response faults
//! over stateless HTTP without a token.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fake_upstream::FakeUpstream;
use crate::http::{HttpServer, SseReader, http};
use crate::util::*;

/// No single faulty call may take longer than this (the settings below bound them all).
const CALL_BOUND: Duration = Duration::from_secs(15);

/// Fast retries and short timeouts, so every fault resolves in seconds.
const FAST_CONFIG: &str = "\
[retry]
attempts = 2
base_delay_secs = 0.05
max_delay_secs = 3
jitter = 0.0

[timeouts]
connect_secs = 2
first_byte_secs = 2
total_secs = 3
stream_idle_secs = 1
";

/// Writes [`FAST_CONFIG`] into a temporary directory.
pub(crate) fn fast_config() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, FAST_CONFIG).expect("write config");
    (dir, path)
}

/// What a faulty call must produce.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// `isError: true`, the text mentioning every needle (case-insensitive).
    Error(&'static [&'static str]),
    /// Success served by this model, the answer containing this text.
    Served(&'static str, &'static str),
}

struct Case {
    name: &'static str,
    args: Value,
    expect: Expect,
}

fn case(name: &'static str, model: &str, expect: Expect) -> Case {
    Case {
        name,
        args: json!({"model": model, "prompt": "fault"}),
        expect,
    }
}

/// The same fault, with `gpt-4.1` as fallback: the fallback's answer must come back.
fn with_fallback(name: &'static str, model: &str) -> Case {
    Case {
        name,
        args: json!({"model": model, "prompt": "fault", "fallback_models": ["gpt-4.1"]}),
        expect: Expect::Served("gpt-4.1", "echo: fault"),
    }
}

fn check(name: &str, result: &Value, expect: Expect) {
    let is_error = result["isError"] == true;
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match expect {
        Expect::Error(needles) => {
            assert!(is_error, "{name}: expected an error, got {result:#}");
            let lower = text.to_lowercase();
            for n in needles {
                assert!(
                    lower.contains(&n.to_lowercase()),
                    "{name}: expected {n:?} in the error, got {text:?}"
                );
            }
            assert!(!text.to_lowercase().contains("panick"), "{name}: {text}");
        }
        Expect::Served(model, content) => {
            assert!(!is_error, "{name}: expected success, got {result:#}");
            let s = &result["structuredContent"];
            assert_eq!(s["model"], model, "{name}: {s:#}");
            assert!(
                s["content"].as_str().unwrap_or_default().contains(content),
                "{name}: {s:#}"
            );
        }
    }
}

/// Runs every case on one stdio server; after each, a plain call must still answer.
async fn run_cases(server: &Server, next_model: &str, cases: Vec<Case>) -> usize {
    let n = cases.len();
    for c in cases {
        let started = Instant::now();
        let r = tokio::time::timeout(CALL_BOUND, server.try_call("chat", c.args.clone()))
            .await
            .unwrap_or_else(|_| panic!("{}: no answer within {CALL_BOUND:?}", c.name))
            .unwrap_or_else(|e| panic!("{}: protocol error {e}", c.name));
        let v = serde_json::to_value(&r).unwrap();
        check(c.name, &v, c.expect);
        eprintln!(
            "fault {:<28} {:>6} ms: {}",
            c.name,
            started.elapsed().as_millis(),
            text(&r)
        );
        let next = server
            .call("chat", json!({"model": next_model, "prompt": "next"}))
            .await;
        assert!(
            !is_error(&next),
            "{}: the next call failed: {}",
            c.name,
            dump(&next)
        );
    }
    let log = server.stderr_so_far();
    assert!(!log.contains("panicked"), "a panic was logged:\n{log}");
    n
}

#[tokio::test]
async fn http_level_faults_give_clear_errors_or_fallbacks() {
    use Expect::*;
    let fake = FakeUpstream::start().await;
    let (_dir, config) = fast_config();
    let server = ServerBuilder::new()
        .upstream(&fake)
        .env("LLM_ROUTER_CONFIG", config.display().to_string())
        .start()
        .await;
    let cases = vec![
        case(
            "429, Retry-After seconds",
            "retry-after-1",
            Served("retry-after-1", "echo"),
        ),
        case(
            "429, Retry-After date",
            "retry-after-date",
            Served("retry-after-date", "echo"),
        ),
        case(
            "429, Retry-After too long",
            "retry-after-long",
            Error(&["rate limit"]),
        ),
        with_fallback("429 Retry-After too long → fallback", "retry-after-long"),
        case(
            "429 without Retry-After",
            "status-429",
            Error(&["rate limit"]),
        ),
        case("429 storm", "fault-429-storm", Error(&["rate limit"])),
        with_fallback("429 storm → fallback", "fault-429-storm"),
        case("500", "status-500", Error(&["500"])),
        case("502 HTML page", "status-502", Error(&["502"])),
        case("503", "status-503", Error(&["503"])),
        case("504", "fault-504", Error(&["504"])),
        with_fallback("503 → fallback", "status-503"),
        case(
            "flaky 500 then ok",
            "flaky-500-1",
            Served("flaky-500-1", "echo"),
        ),
        case(
            "malformed JSON",
            "fault-malformed-json",
            Error(&["response"]),
        ),
        case(
            "JSON of the wrong shape",
            "fault-wrong-shape",
            Error(&["response"]),
        ),
        case(
            "HTML page with 200",
            "fault-html-200",
            Error(&[
                "answered with `text/html`",
                "not an event stream",
                "HTML page",
            ]),
        ),
        case("empty 200", "fault-empty-200", Error(&["response"])),
        case(
            "200 with an error object",
            "fault-error-in-200",
            Error(&["crashed"]),
        ),
        case(
            "200 with no choices",
            "fault-no-choices",
            Error(&["no choices"]),
        ),
        case(
            "40 MB JSON body",
            "fault-huge",
            Error(&["larger than 32 MB"]),
        ),
        case(
            "40 MB event stream",
            "fault-huge-sse",
            Error(&["larger than 32 MB"]),
        ),
        case(
            "text/plain content type",
            "fault-text-plain",
            Served("fault-text-plain", "plain answer"),
        ),
        case("gzip'd body", "fault-gzip", Error(&["response"])),
        case("redirect loop", "fault-redirect-loop", Error(&["redirect"])),
        case(
            "error event mid-stream",
            "fault-sse-error",
            Error(&["overloaded mid-stream"]),
        ),
        case(
            "garbage among chunks",
            "fault-sse-garbage",
            Served("fault-sse-garbage", "plain answer"),
        ),
        case(
            "non-UTF-8 bytes in stream",
            "fault-sse-binary",
            Served("fault-sse-binary", "plain answer"),
        ),
        case(
            "chunks without choices",
            "fault-sse-no-choices",
            Error(&["no choices"]),
        ),
        case(
            "stream of only [DONE]",
            "fault-sse-only-done",
            Error(&["no choices"]),
        ),
        case(
            "stream cut before [DONE]",
            "cut-after",
            Error(&["before [DONE]", "partial text"]),
        ),
        with_fallback("stream cut before any token → fallback", "cut-before"),
        case(
            "stream stalls mid-answer",
            "stall-after",
            Error(&["stalled"]),
        ),
        case(
            "slow drip within the idle limit",
            "drip-300-4",
            Served("drip-300-4", "w3"),
        ),
        case(
            "slow drip past the idle limit",
            "drip-1500-3",
            Error(&["stalled"]),
        ),
        case(
            "no first token in time",
            "stall-before",
            Error(&["timed out"]),
        ),
        with_fallback("no first token → fallback", "stall-before"),
        case("whole answer too slow", "slow", Error(&["timed out"])),
        Case {
            name: "context length exceeded (400)",
            args: json!({"model": "gpt-4o-mini", "prompt": "too-long-for=gpt-4o-mini"}),
            expect: Error(&["context"]),
        },
    ];
    let n = run_cases(&server, "gpt-4.1", cases).await;
    eprintln!("{n} HTTP-level fault cases passed");
}

/// A bare TCP upstream that answers by model name (see [`script_for`]).
pub(crate) struct RawUpstream {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawUpstream {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind raw");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve_raw(sock));
            }
        });
        RawUpstream { addr, task }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// Reads one request (headers and a `Content-Length` body); returns its body.
async fn read_request(sock: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = sock.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf[end + 4..end + 4 + len].to_vec());
        }
    }
}

enum RawStep {
    Write(Vec<u8>),
    Sleep(Duration),
    /// Close with a TCP reset.
    Reset,
    /// Say nothing until the client leaves.
    Hang,
}

fn ok_answer(model: &str, stream: bool) -> Vec<RawStep> {
    use RawStep::*;
    if stream {
        let body = format!(
            "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
            json!({"model": model, "choices": [{"index": 0, "delta": {"content": "raw ok"}}]}),
            json!({"model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        );
        vec![Write(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )]
    } else {
        let body = json!({"model": model, "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "raw ok"}, "finish_reason": "stop"}]})
        .to_string();
        vec![Write(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )]
    }
}

/// The bytes `model` gets:
/// - `raw-reset-headers`: half a status line and header, then a reset;
/// - `raw-reset-body`: headers promising 1000 bytes, 20 of them, then a reset;
/// - `raw-short-body`: headers promising 1000 bytes, 20 of them, then a clean close;
/// - `raw-close`: the connection closed without a byte;
/// - `raw-silent`: nothing at all until the client leaves (slow headers);
/// - `raw-slow-headers`: one header byte a second;
/// - `raw-garbage`: bytes that are not HTTP;
/// - `raw-reset-stream`: an event-stream that sends one chunk, then a reset;
/// - anything else: a valid answer (`raw ok`).
fn script_for(model: &str, stream: bool) -> Vec<RawStep> {
    use RawStep::*;
    let w = |s: &str| Write(s.as_bytes().to_vec());
    match model {
        "raw-reset-headers" => vec![w("HTTP/1.1 200 OK\r\nContent-Ty"), Reset],
        "raw-reset-body" => vec![
            w("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"),
            w(r#"{"id": "x", "choices""#),
            Reset,
        ],
        "raw-short-body" => vec![
            w("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"),
            w(r#"{"id": "x", "choices""#),
        ],
        "raw-close" => vec![],
        "raw-silent" => vec![Hang],
        "raw-slow-headers" => {
            let mut steps = Vec::new();
            for b in "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n".bytes() {
                steps.push(Write(vec![b]));
                steps.push(Sleep(Duration::from_millis(500)));
            }
            steps
        }
        "raw-garbage" => vec![w("SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 not http\r\n\r\n")],
        "raw-reset-stream" => vec![
            w(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
            ),
            {
                let data = format!(
                    "data: {}\n\n",
                    json!({"choices": [{"index": 0, "delta": {"content": "half"}}]})
                );
                Write(format!("{:x}\r\n{data}\r\n", data.len()).into_bytes())
            },
            Sleep(Duration::from_millis(100)),
            Reset,
        ],
        other => ok_answer(other, stream),
    }
}

async fn serve_raw(mut sock: TcpStream) {
    while let Some(body) = read_request(&mut sock).await {
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let model = req["model"].as_str().unwrap_or_default().to_owned();
        let script = script_for(&model, req["stream"] == true);
        let keep_alive =
            matches!(script.as_slice(), [RawStep::Write(_)]) && !model.starts_with("raw-");
        if script.is_empty() {
            return;
        }
        for step in script {
            match step {
                RawStep::Write(bytes) => {
                    if sock.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                RawStep::Sleep(d) => tokio::time::sleep(d).await,
                RawStep::Reset => {
                    // Linger 0 makes the close a TCP reset (blocking on drop is moot then).
                    #[allow(deprecated)]
                    let _ = sock.set_linger(Some(Duration::ZERO));
                    return;
                }
                RawStep::Hang => {
                    let mut sink = [0u8; 1024];
                    while matches!(sock.read(&mut sink).await, Ok(n) if n > 0) {}
                    return;
                }
            }
        }
        if !keep_alive {
            return;
        }
    }
}

#[tokio::test]
async fn connection_level_faults_give_clear_errors() {
    use Expect::*;
    let raw = RawUpstream::start().await;
    let (_dir, config) = fast_config();
    let server = ServerBuilder::new()
        .env("AISA_BASE_URL", raw.base_url())
        .env("AISA_API_KEY", KEY)
        .env("LLM_ROUTER_CONFIG", config.display().to_string())
        .start()
        .await;
    let cases = vec![
        case(
            "reset mid-headers",
            "raw-reset-headers",
            Error(&["could not connect"]),
        ),
        case("reset mid-body", "raw-reset-body", Error(&[])),
        case(
            "body shorter than Content-Length",
            "raw-short-body",
            Error(&[]),
        ),
        case(
            "closed without a byte",
            "raw-close",
            Error(&["could not connect"]),
        ),
        case("headers never come", "raw-silent", Error(&["timed out"])),
        case(
            "headers drip past the timeout",
            "raw-slow-headers",
            Error(&["timed out"]),
        ),
        case(
            "not HTTP at all",
            "raw-garbage",
            Error(&["could not connect"]),
        ),
        case("reset mid-stream", "raw-reset-stream", Error(&["half"])),
        Case {
            name: "reset mid-headers → fallback",
            args: json!({"model": "raw-reset-headers", "prompt": "x", "fallback_models": ["gpt-4.1"]}),
            expect: Served("gpt-4.1", "raw ok"),
        },
    ];
    let n = run_cases(&server, "gpt-4.1", cases).await;
    eprintln!("{n} connection-level fault cases passed");
}

/// A server whose base URL cannot work: each call fails clearly and quickly, and the next one
/// fails the same way (the server stays up).
async fn bad_base_url(base_url: &str, needles: &'static [&'static str]) {
    let (_dir, config) = fast_config();
    let server = ServerBuilder::new()
        .env("AISA_BASE_URL", base_url)
        .env("AISA_API_KEY", KEY)
        .env("LLM_ROUTER_CONFIG", config.display().to_string())
        .start()
        .await;
    for i in 0..2 {
        let started = Instant::now();
        let r = server
            .call("chat", json!({"model": "gpt-4.1", "prompt": "x"}))
            .await;
        let v = serde_json::to_value(&r).unwrap();
        check(base_url, &v, Expect::Error(needles));
        assert!(
            started.elapsed() < CALL_BOUND,
            "call {i} to {base_url} took {:?}",
            started.elapsed()
        );
        assert!(!text(&r).contains(KEY));
    }
}

#[tokio::test]
async fn connection_refused_is_clear() {
    bad_base_url(
        &format!("http://127.0.0.1:{}/v1", closed_port()),
        &["could not connect"],
    )
    .await;
}

#[tokio::test]
async fn dns_failure_is_clear() {
    bad_base_url("http://no-such-host.invalid/v1", &["could not connect"]).await;
}

#[tokio::test]
async fn tls_failure_is_clear() {
    // An https:// URL pointing at a plain-HTTP listener: the TLS handshake fails.
    let fake = FakeUpstream::start().await;
    let url = fake.base_url().replace("http://", "https://");
    bad_base_url(&url, &["could not connect"]).await;
}

/// A stateless `tools/call` over Streamable HTTP without a progress token (the whole-response
/// path); returns the JSON-RPC response.
pub(crate) async fn stateless_call(server: &HttpServer, id: u64, tool: &str, args: Value) -> Value {
    let resp = http()
        .post(server.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .json(
            &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                "name": tool, "arguments": args,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {}
                }
            }}),
        )
        .send()
        .await
        .expect("POST /mcp");
    let is_sse = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if is_sse {
        SseReader::new(resp).response(id).await
    } else {
        resp.json().await.expect("JSON-RPC response")
    }
}

#[tokio::test]
async fn non_streamed_path_faults() {
    use Expect::*;
    let fake = FakeUpstream::start().await;
    let (_dir, config) = fast_config();
    let config = config.display().to_string();
    let server = HttpServer::start(&fake, &[], &[("LLM_ROUTER_CONFIG", &config)]).await;
    let cases = vec![
        case("500", "status-500", Error(&["500"])),
        case("429 storm", "fault-429-storm", Error(&["rate limit"])),
        case(
            "malformed JSON",
            "fault-malformed-json",
            Error(&["response"]),
        ),
        case(
            "JSON of the wrong shape",
            "fault-wrong-shape",
            Error(&["response"]),
        ),
        case("HTML page with 200", "fault-html-200", Error(&["response"])),
        case("empty 200", "fault-empty-200", Error(&["response"])),
        case(
            "200 with an error object",
            "fault-error-in-200",
            Error(&["crashed"]),
        ),
        case(
            "200 with no choices",
            "fault-no-choices",
            Error(&["no choices"]),
        ),
        case(
            "40 MB JSON body",
            "fault-huge",
            Error(&["larger than 32 MB"]),
        ),
        case(
            "text/plain content type",
            "fault-text-plain",
            Served("fault-text-plain", "plain answer"),
        ),
        case("gzip'd body", "fault-gzip", Error(&["response"])),
        case("redirect loop", "fault-redirect-loop", Error(&["redirect"])),
        case("whole answer too slow", "slow", Error(&["timed out"])),
        with_fallback("500 → fallback", "status-500"),
    ];
    for (i, c) in cases.into_iter().enumerate() {
        let started = Instant::now();
        let v = tokio::time::timeout(
            CALL_BOUND,
            stateless_call(&server, i as u64 + 1, "chat", c.args.clone()),
        )
        .await
        .unwrap_or_else(|_| panic!("{}: no answer within {CALL_BOUND:?}", c.name));
        check(c.name, &v["result"], c.expect);
        eprintln!(
            "plain fault {:<26} {:>6} ms",
            c.name,
            started.elapsed().as_millis()
        );
        let next = stateless_call(
            &server,
            1000 + i as u64,
            "chat",
            json!({"model": "gpt-4.1", "prompt": "next"}),
        )
        .await;
        assert_eq!(
            next["result"]["structuredContent"]["content"], "echo: next",
            "{}: {next}",
            c.name
        );
    }
    assert!(!server.stderr().contains("panicked"));
}
