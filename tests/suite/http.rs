//! The HTTP transports: `llm-router serve --http 127.0.0.1:0` as a child process, its port
//! read from the `listening on http://…` log line. Streamable HTTP is driven by rmcp's
//! client; the legacy HTTP+SSE endpoints, the security checks and `/healthz` by raw HTTP.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::fake_upstream::FakeUpstream;
use crate::util::{KEY, TOOL_NAMES, expect_ok};

/// How long the server may take to start, and any request to answer.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// The token the authenticated servers expect.
pub const TOKEN: &str = "router-token-0123456789";
/// A JSON-RPC initialize for protocol `version`.
pub(crate) fn initialize(id: u64, version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": {"name": "raw-test-client", "version": "0"}
    }})
}

/// A running `llm-router serve --http 127.0.0.1:0`.
pub(crate) struct HttpServer {
    child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`
    base: String,
    log: Arc<Mutex<String>>,
    /// Copies stderr into `log`; ends when the process closes stderr.
    reader: tokio::task::JoinHandle<()>,
    _home: tempfile::TempDir,
}

/// Spawns `llm-router serve <args>` with a clean environment plus `envs`, pointed at `fake`.
/// `llm-router serve <args>` with a clean environment (a temp HOME, `RUST_LOG=info`) plus
/// `envs`, pointed at `fake`; stdio is the caller's to set.
pub(crate) fn serve_command(
    fake: &FakeUpstream,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (tokio::process::Command, tempfile::TempDir) {
    let home = tempfile::tempdir().expect("temp HOME");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-router"));
    cmd.arg("serve").args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", home.path())
        .env("RUST_LOG", "info")
        .env("AISA_BASE_URL", fake.base_url())
        .env("AISA_API_KEY", KEY)
        .envs(envs.iter().copied())
        .kill_on_drop(true);
    (cmd, home)
}

/// Spawns `llm-router serve <args>` with its stderr piped (for the log) and no stdio MCP.
fn spawn(
    fake: &FakeUpstream,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (tokio::process::Child, tempfile::TempDir) {
    let (mut cmd, home) = serve_command(fake, args, envs);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    (cmd.spawn().expect("spawn llm-router serve --http"), home)
}

/// Calls `chat` on gpt-4.1 with `prompt` and returns the structured result.
pub(crate) async fn chat(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    prompt: &str,
) -> Value {
    let args = json!({"model": "gpt-4.1", "prompt": prompt});
    let params =
        CallToolRequestParams::new("chat").with_arguments(args.as_object().unwrap().clone());
    let r = tokio::time::timeout(DEADLINE, client.call_tool(params))
        .await
        .expect("chat timed out")
        .expect("chat over HTTP");
    expect_ok(&r)
}

impl HttpServer {
    pub(crate) async fn start(
        fake: &FakeUpstream,
        extra_args: &[&str],
        envs: &[(&str, &str)],
    ) -> Self {
        let mut args = vec!["--http", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        let (mut child, home) = spawn(fake, &args, envs);
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let reader = tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match tokio::time::timeout(DEADLINE, rx).await {
            Ok(Ok(addr)) => addr,
            _ => panic!(
                "server did not log its address\n--- stderr ---\n{}",
                log.lock().unwrap()
            ),
        };
        HttpServer {
            child,
            base: format!("http://{addr}"),
            log,
            reader,
            _home: home,
        }
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("server is running")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn stderr(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (up to [`DEADLINE`]) until the server has logged `needle`; whether it did.
    pub(crate) async fn logged(&self, needle: &str) -> bool {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while !self.stderr().contains(needle) {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Sends SIGTERM, asserts a successful exit and returns everything logged.
    pub(crate) async fn terminate_cleanly(self) -> String {
        let (status, log) = self.terminate().await;
        assert!(status.success(), "exit status {status}\n{log}");
        log
    }

    /// Sends SIGTERM and waits for the process to exit.
    async fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().expect("server is running");
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("server did not exit after SIGTERM")
            .expect("wait for server");
        let _ = tokio::time::timeout(DEADLINE, &mut self.reader).await;
        (status, self.stderr())
    }
}

/// An HTTP client that never goes through a proxy from the environment.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(DEADLINE)
        .build()
        .expect("reqwest client")
}

/// An rmcp Streamable HTTP client session on `server`, optionally with a Bearer token.
pub(crate) async fn mcp_client(
    server: &HttpServer,
    token: Option<&str>,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(server.url("/mcp"));
    if let Some(t) = token {
        config = config.auth_header(t);
    }
    let transport = StreamableHttpClientTransport::with_client(http(), config);
    match tokio::time::timeout(DEADLINE, ().serve(transport)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => panic!(
            "initialize over HTTP failed: {e}\n--- stderr ---\n{}",
            server.stderr()
        ),
        Err(_) => panic!("initialize over HTTP timed out"),
    }
}

/// A raw `POST /mcp` initialize with optional extra headers.
pub async fn raw_initialize(server: &HttpServer, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = http()
        .post(server.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&initialize(1, "2025-06-18"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("POST /mcp")
}

#[tokio::test]
async fn streamable_http_initialize_list_tools_and_chat() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[]).await;
    let client = mcp_client(&server, None).await;

    let info = client.peer_info().expect("server info after initialize");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("llm-router")
    );

    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, TOOL_NAMES);

    let v = chat(&client, "hello over http").await;
    assert_eq!(v["content"], "echo: hello over http", "{v:#}");
    assert_eq!(v["model"], "gpt-4.1");
    assert_eq!(fake.chat_requests().len(), 1);
    assert_eq!(
        fake.chat_requests()[0].authorization(),
        Some(format!("Bearer {KEY}").as_str())
    );

    let _ = client.cancel().await;
    let log = server.terminate_cleanly().await;
    assert!(log.contains("shut down"), "{log}");
}

#[tokio::test]
async fn healthz_answers_ok_without_calling_upstream() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[("LLM_ROUTER_AUTH_TOKEN", TOKEN)]).await;
    let resp = http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn a_set_token_is_required_on_every_mcp_endpoint() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[("LLM_ROUTER_AUTH_TOKEN", TOKEN)]).await;

    let missing = raw_initialize(&server, &[]).await;
    assert_eq!(missing.status(), 401);
    let challenge = missing.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");

    let wrong = raw_initialize(&server, &[("authorization", "Bearer not-the-token")]).await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    for path in ["/sse", "/message?sessionId=x"] {
        let resp = http().get(server.url(path)).send().await.expect("request");
        assert_eq!(resp.status(), 401, "{path}");
    }
    let log = server.stderr();
    assert!(
        !log.contains(TOKEN),
        "the token must never be logged:\n{log}"
    );

    let client = mcp_client(&server, Some(TOKEN)).await;
    assert_eq!(
        client.list_all_tools().await.expect("tools/list").len(),
        TOOL_NAMES.len()
    );
    let _ = client.cancel().await;
}

#[tokio::test]
async fn a_foreign_origin_or_host_is_forbidden() {
    let fake = FakeUpstream::start().await;
    let server =
        HttpServer::start(&fake, &["--allow-origin", "https://app.example.com"], &[]).await;

    let foreign = raw_initialize(&server, &[("origin", "https://evil.example")]).await;
    assert_eq!(foreign.status(), 403);
    for path in ["/sse", "/healthz"] {
        let resp = http()
            .get(server.url(path))
            .header("origin", "https://evil.example")
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 403, "{path}");
    }
    let rebinding = raw_initialize(&server, &[("host", "evil.example")]).await;
    assert_eq!(rebinding.status(), 403);

    let allowed = raw_initialize(&server, &[("origin", "https://app.example.com")]).await;
    assert_eq!(allowed.status(), 200);
    let local = raw_initialize(&server, &[("origin", "http://localhost:6274")]).await;
    assert_eq!(local.status(), 200);
}

/// POSTs `total` bytes of JSON-ish body to `path` over a raw connection (with
/// `Content-Length`, or chunked) and returns the status line's code. The body is written
/// concurrently with reading the answer, because the server answers 413 without reading
/// the rest, and a client that insists on writing first sees only a broken pipe.
async fn post_oversize(server: &HttpServer, path: &str, chunked: bool, total: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = server.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {total}")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{framing}\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            if chunked {
                wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                wr.write_all(&chunk).await?;
                wr.write_all(b"\r\n").await?;
            } else {
                wr.write_all(&chunk).await?;
            }
            sent += chunk.len();
        }
        if chunked {
            wr.write_all(b"0\r\n\r\n").await?;
        }
        std::io::Result::Ok(wr)
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let n = tokio::time::timeout(DEADLINE, rd.read(&mut buf))
            .await
            .expect("answer timed out")
            .expect("read answer");
        assert!(n > 0, "connection closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    writer.abort();
    let line = String::from_utf8_lossy(&answer);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {line}"))
}

#[tokio::test]
async fn an_oversize_body_gets_413() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[]).await;
    let five_mb = 5 << 20;
    for path in ["/mcp", "/message?sessionId=x"] {
        for chunked in [false, true] {
            let code = post_oversize(&server, path, chunked, five_mb).await;
            assert_eq!(code, 413, "{path} chunked={chunked}");
        }
    }
}

/// Reads `event:`/`data:` pairs from an SSE response body.
pub(crate) struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buf: String,
}

impl SseReader {
    pub(crate) fn new(resp: reqwest::Response) -> Self {
        Self {
            body: resp.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event with a name or data (keep-alive comments are skipped).
    pub(crate) async fn next(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = String::from("message");
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if !data.is_empty() {
                    return (event, data.join("\n"));
                }
                continue;
            }
            let chunk = tokio::time::timeout(DEADLINE, self.body.next())
                .await
                .expect("SSE event timed out")
                .expect("SSE stream ended")
                .expect("SSE stream failed");
            self.buf
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// Reads (and drops) events until the server ends the stream; false if it is still open
    /// after `within`.
    pub async fn ends_within(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, async {
            while let Some(Ok(_)) = self.body.next().await {}
        })
        .await
        .is_ok()
    }

    /// The next `message` event answering request `id`.
    pub(crate) async fn response(&mut self, id: u64) -> Value {
        loop {
            let (event, data) = self.next().await;
            assert_eq!(event, "message", "unexpected event {event}: {data}");
            let v: Value = serde_json::from_str(&data).expect("message is JSON");
            if v["id"] == id {
                return v;
            }
        }
    }
}

/// A legacy HTTP+SSE (2024-11-05) session: the event stream, and the endpoint its messages
/// are posted to.
pub(crate) struct Legacy {
    pub sse: SseReader,
    pub endpoint: String,
    client: reqwest::Client,
    base: String,
}

impl Legacy {
    /// `GET /sse`: checks it is an event stream whose first event is `endpoint`.
    pub(crate) async fn open(server: &HttpServer) -> Self {
        let client = http();
        let resp = client
            .get(server.url("/sse"))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("GET /sse");
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let mut sse = SseReader::new(resp);
        let (event, endpoint) = sse.next().await;
        assert_eq!(event, "endpoint");
        Legacy {
            sse,
            endpoint,
            client,
            base: server.url(""),
        }
    }

    /// Posts one JSON-RPC message to the session's endpoint; the HTTP status.
    pub(crate) async fn post(&self, msg: Value) -> reqwest::StatusCode {
        self.client
            .post(format!("{}{}", self.base, self.endpoint))
            .json(&msg)
            .send()
            .await
            .expect("POST /message")
            .status()
    }

    /// `initialize` (2024-11-05) and `notifications/initialized`; the initialize response.
    pub(crate) async fn initialize(&mut self) -> Value {
        assert_eq!(self.post(initialize(1, "2024-11-05")).await, 202);
        let init = self.sse.response(1).await;
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(self.post(initialized).await, 202);
        init
    }
}

#[tokio::test]
async fn legacy_sse_endpoint_then_initialize_list_and_chat() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[]).await;
    let client = http();
    let mut legacy = Legacy::open(&server).await;
    let endpoint = legacy.endpoint.clone();
    assert!(endpoint.starts_with("/message?sessionId="), "{endpoint}");
    let init = legacy.initialize().await;
    assert_eq!(init["result"]["protocolVersion"], "2024-11-05", "{init:#}");
    assert_eq!(init["result"]["serverInfo"]["name"], "llm-router");
    let Legacy { mut sse, .. } = legacy;
    let post = |msg: Value| {
        let req = client.post(server.url(&endpoint)).json(&msg);
        async move { req.send().await.expect("POST /message").status() }
    };

    assert_eq!(
        post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).await,
        202
    );
    let list = sse.response(2).await;
    assert_eq!(
        list["result"]["tools"].as_array().map(Vec::len),
        Some(TOOL_NAMES.len()),
        "{list:#}"
    );

    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "chat", "arguments": {"model": "gpt-4.1", "prompt": "hello over sse"}
    }});
    assert_eq!(post(call).await, 202);
    let answer = sse.response(3).await;
    assert_eq!(answer["result"]["isError"], false, "{answer:#}");
    assert_eq!(
        answer["result"]["structuredContent"]["content"],
        "echo: hello over sse"
    );
    assert_eq!(fake.chat_requests().len(), 1);

    let unknown = client
        .post(server.url("/message?sessionId=nope"))
        .json(&json!({"jsonrpc": "2.0", "id": 4, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let garbage = client
        .post(server.url(&endpoint))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);

    // Shutdown ends the stream, which removes the session.
    let log = server.terminate_cleanly().await;
    assert!(log.contains("legacy SSE session closed"), "{log}");
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_call_finish() {
    let fake = FakeUpstream::start().await;
    let server = HttpServer::start(&fake, &[], &[]).await;
    let client = mcp_client(&server, None).await;

    let args = json!({"model": "slow", "prompt": "take your time"});
    let params =
        CallToolRequestParams::new("chat").with_arguments(args.as_object().unwrap().clone());
    let call = tokio::spawn(async move {
        let r = client.call_tool(params).await;
        (r, client)
    });
    // The call is in flight once the fake has seen it.
    let seen = tokio::time::timeout(DEADLINE, async {
        while fake.chat_requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(seen.is_ok(), "the call never reached the upstream");

    server.terminate_cleanly().await;
    let (result, _client) = call.await.expect("call task");
    let r = result.expect("the in-flight call must be answered before shutdown");
    assert_eq!(expect_ok(&r)["content"], "echo: take your time");
}

#[tokio::test]
async fn refuses_a_non_loopback_address_without_a_token() {
    let fake = FakeUpstream::start().await;
    let (mut child, _home) = spawn(&fake, &["--http", "0.0.0.0:0"], &[]);
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().unwrap();
    tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut stderr)
        .await
        .unwrap();
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("server should exit")
        .unwrap();
    assert!(!status.success(), "must refuse to start:\n{stderr}");
    assert!(stderr.contains("LLM_ROUTER_AUTH_TOKEN"), "{stderr}");
    assert!(stderr.contains("--insecure-no-auth"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}
