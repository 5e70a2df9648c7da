//! Spawning `llm-router serve` as a child process and talking MCP to it.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;

use crate::fake_upstream::FakeUpstream;

/// The server's tools, sorted by name.
pub const TOOL_NAMES: [&str; 6] = [
    "chat",
    "compare_models",
    "list_models",
    "route_by_task",
    "usage",
    "vision",
];

/// The fake API key. Recognisable so a leak is easy to spot.
pub const KEY: &str = "sk-test-SECRET-0123456789";

/// How long any single MCP request may take before the test gives up.
const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// Floating-point tolerance for costs.
pub const EPS: f64 = 1e-9;

/// Builds the environment and arguments for one server process.
///
/// The inherited environment is cleared (a developer's real `AISA_API_KEY`,
/// proxies or `RUST_LOG` never reach the server); only `PATH` is kept, and
/// `HOME`/`XDG_CONFIG_HOME`/`XDG_DATA_HOME` point at a fresh temporary directory (so the
/// usage ledger is written there: see [`Server::ledger_path`]).
pub struct ServerBuilder {
    envs: Vec<(String, String)>,
    args: Vec<String>,
}

impl ServerBuilder {
    pub fn new() -> Self {
        ServerBuilder {
            envs: vec![("RUST_LOG".into(), "debug".into())],
            args: Vec::new(),
        }
    }

    /// Point the server at `fake` with the right key.
    pub fn upstream(self, fake: &FakeUpstream) -> Self {
        self.env("AISA_BASE_URL", fake.base_url())
            .env("AISA_API_KEY", KEY)
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        let value = value.into();
        self.envs.retain(|(k, _)| k != key);
        self.envs.push((key.to_owned(), value));
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub async fn start(self) -> Server {
        let home = tempfile::tempdir().expect("temp HOME");
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-router"));
        cmd.arg("serve").args(&self.args).env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("XDG_DATA_HOME", home.path().join(".local/share"));
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.kill_on_drop(true);

        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn llm-router serve");
        let stderr = stderr.expect("stderr is piped");

        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr_task = tokio::spawn(async move {
            let mut stderr = stderr;
            let mut chunk = [0u8; 8192];
            loop {
                match stderr.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
        });

        let client = match tokio::time::timeout(CALL_DEADLINE, ().serve(transport)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "MCP initialize failed: {e}\n--- server stderr ---\n{}",
                String::from_utf8_lossy(&log.lock().unwrap())
            ),
            Err(_) => panic!("MCP initialize timed out"),
        };
        Server {
            client,
            log,
            stderr_task,
            _home: home,
        }
    }
}

/// A running `llm-router serve` with an initialized MCP client session.
pub struct Server {
    pub client: RunningService<RoleClient, ()>,
    log: Arc<Mutex<Vec<u8>>>,
    stderr_task: JoinHandle<()>,
    _home: tempfile::TempDir,
}

impl Server {
    /// A server pointed at `fake` with the right key.
    pub async fn for_upstream(fake: &FakeUpstream) -> Server {
        ServerBuilder::new().upstream(fake).start().await
    }

    /// Call a tool; a protocol-level (JSON-RPC) error panics.
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        match self.try_call(tool, args).await {
            Ok(r) => r,
            Err(e) => panic!(
                "tools/call {tool} failed at the protocol level: {e}\n--- server stderr ---\n{}",
                self.stderr_so_far()
            ),
        }
    }

    /// Call a tool, returning a protocol-level error as `Err(message)`.
    pub async fn try_call(&self, tool: &str, args: Value) -> Result<CallToolResult, String> {
        let Value::Object(args) = args else {
            panic!("tool arguments must be a JSON object");
        };
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
        match tokio::time::timeout(CALL_DEADLINE, self.client.call_tool(params)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => panic!("tools/call {tool} did not answer within {CALL_DEADLINE:?}"),
        }
    }

    /// Call a tool that is expected to fail; the contract says failures,
    /// including invalid arguments, come back as `isError: true` results.
    /// Returns the error text.
    pub async fn call_expecting_error(&self, tool: &str, args: Value) -> String {
        match self.try_call(tool, args.clone()).await {
            Ok(r) => {
                assert!(
                    is_error(&r),
                    "{tool} {args} should fail but succeeded: {}",
                    dump(&r)
                );
                text(&r)
            }
            Err(e) => panic!(
                "{tool} {args} should fail with an isError result, \
                 not a protocol-level error: {e}"
            ),
        }
    }

    pub async fn tools(&self) -> Vec<Tool> {
        tokio::time::timeout(CALL_DEADLINE, self.client.list_all_tools())
            .await
            .expect("tools/list timed out")
            .expect("tools/list failed")
    }

    /// The raw `tools/list` result as JSON.
    pub async fn tools_list_json(&self) -> Value {
        let result = tokio::time::timeout(CALL_DEADLINE, self.client.list_tools(None))
            .await
            .expect("tools/list timed out")
            .expect("tools/list failed");
        serde_json::to_value(result).expect("serialize tools/list")
    }

    /// The default usage ledger of this server (unless `LLM_ROUTER_LEDGER_PATH` moved it).
    pub fn ledger_path(&self) -> std::path::PathBuf {
        self._home.path().join(".local/share/llm-router/usage.db")
    }

    /// What the server has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    /// Close the session (stdin EOF), wait for the process to exit and
    /// return everything it wrote to stderr.
    pub async fn shutdown(self) -> String {
        let Server {
            client,
            log,
            stderr_task,
            _home,
        } = self;
        let _ = tokio::time::timeout(Duration::from_secs(20), client.cancel()).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), stderr_task).await;
        String::from_utf8_lossy(&log.lock().unwrap()).into_owned()
    }
}

/// Start a fake upstream and a server pointed at it.
pub async fn start_with_fake() -> (FakeUpstream, Server) {
    let fake = FakeUpstream::start().await;
    let server = Server::for_upstream(&fake).await;
    (fake, server)
}

pub fn is_error(r: &CallToolResult) -> bool {
    r.is_error == Some(true)
}

/// The whole result as pretty JSON, for assertion messages.
pub fn dump(r: &CallToolResult) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|_| format!("{r:?}"))
}

/// All text content blocks, joined by newlines.
pub fn text(r: &CallToolResult) -> String {
    let v = serde_json::to_value(r).expect("serialize result");
    v["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The structured content (panics if absent).
pub fn structured(r: &CallToolResult) -> Value {
    r.structured_content
        .clone()
        .unwrap_or_else(|| panic!("result has no structuredContent: {}", dump(r)))
}

/// Assert success with structured content plus exactly one text block, and
/// return the structured content.
pub fn expect_ok(r: &CallToolResult) -> Value {
    assert!(!is_error(r), "tool call failed: {}", dump(r));
    let v = serde_json::to_value(r).expect("serialize result");
    let blocks = v["content"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        blocks.len(),
        1,
        "expected exactly one content block: {}",
        dump(r)
    );
    assert_eq!(
        blocks[0]["type"],
        "text",
        "content block is not text: {}",
        dump(r)
    );
    assert!(
        !blocks[0]["text"].as_str().unwrap_or_default().is_empty(),
        "text block is empty: {}",
        dump(r)
    );
    structured(r)
}

/// Assert `isError: true` and that the text mentions every needle
/// (case-insensitively); returns the text.
pub fn expect_error(r: &CallToolResult, needles: &[&str]) -> String {
    assert!(is_error(r), "expected isError: true, got {}", dump(r));
    let t = text(r);
    assert_mentions(&t, needles);
    t
}

/// Case-insensitive "contains all of".
pub fn assert_mentions(haystack: &str, needles: &[&str]) {
    let lower = haystack.to_lowercase();
    for needle in needles {
        assert!(
            lower.contains(&needle.to_lowercase()),
            "expected {needle:?} in error message, got: {haystack:?}"
        );
    }
}

pub fn assert_close(actual: &Value, expected: f64) {
    let a = actual
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number close to {expected}, got {actual}"));
    assert!(
        (a - expected).abs() < EPS,
        "expected {expected}, got {a} (diff {})",
        (a - expected).abs()
    );
}

/// Tolerance for pass-through of sampling parameters (the server may hold
/// them as f32).
pub fn assert_param(actual: &Value, expected: f64) {
    let a = actual
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number close to {expected}, got {actual}"));
    assert!((a - expected).abs() < 1e-6, "expected {expected}, got {a}");
}

/// Catalog cost of the fake's standard 1000/2000-token answer.
pub fn catalog_cost(input_per_m: f64, output_per_m: f64) -> f64 {
    crate::fake_upstream::PROMPT_TOKENS as f64 * input_per_m / 1e6
        + crate::fake_upstream::COMPLETION_TOKENS as f64 * output_per_m / 1e6
}

/// Assert the standard usage block of the fake's answers.
pub fn assert_standard_usage(v: &Value) {
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 1000, "completion_tokens": 2000, "total_tokens": 3000}),
        "usage in {v:#}"
    );
}

/// A port on 127.0.0.1 with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// A valid 1×1 RGBA PNG.
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0x7a, 0x5e, 0xab, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

/// The start of a JPEG (SOI + JFIF APP0 header), enough for content sniffing.
pub const JPEG_HEAD: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xff, 0xd9,
];

/// AIsa's price table (USD per 1M tokens in/out, pricing guide 2026-04-17, from
/// shared/reference/aisa-gateway.md): the oracle the catalog's prices are checked against.
pub const AISA_PRICES: &[(&str, f64, f64)] = &[
    ("gpt-4.1", 1.40, 5.60),
    ("gpt-4.1-mini", 0.28, 1.12),
    ("gpt-4o", 1.75, 7.00),
    ("gpt-4o-mini", 0.105, 0.42),
    ("gpt-5", 0.875, 7.00),
    ("gpt-5-mini", 0.175, 1.40),
    ("claude-sonnet-4-5-20250929", 3.0, 15.0),
    ("claude-opus-4-1-20250805", 15.0, 75.0),
    ("claude-haiku-4-5-20251001", 1.0, 5.0),
    ("gemini-2.5-pro", 0.875, 7.0),
    ("gemini-2.5-flash", 0.21, 1.75),
    ("gemini-2.5-flash-lite", 0.07, 0.28),
    ("deepseek-v3.1", 0.4018, 1.2047),
    ("deepseek-v3.2", 0.2009, 0.3017),
    ("deepseek-r1", 0.4018, 1.6058),
    ("qwen3-max", 0.72, 3.60),
    ("qwen-plus-2025-12-01", 0.28, 0.84),
];
