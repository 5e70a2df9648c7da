//! Raw JSON-RPC MCP clients for load generation: Streamable HTTP with `reqwest` (one POST per
//! request, the answer read from the SSE or JSON body) and stdio (newline-delimited JSON on
//! the child's stdin/stdout).
//!
//! rmcp's own client would work too, but a raw client costs the load generator less per call
//! on a 2-core machine where it competes with the server for CPU, and it is closer to what a
//! non-Rust agent sends.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::fake_upstream::ANSWER;

/// The protocol version the clients ask for.
const PROTOCOL: &str = "2025-06-18";

/// The `initialize` request every client sends first.
pub fn initialize_request(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "llm-router-bench", "version": "0"}
        }
    })
}

fn initialized_notification() -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
}

/// A `tools/call`; with `progress`, it carries `_meta.progressToken` (the request id), which
/// makes llm-router stream from the upstream and relay the text as progress notifications.
fn tool_call_request(id: u64, tool: &str, arguments: &Value, progress: bool) -> Value {
    let mut params = json!({"name": tool, "arguments": arguments});
    if progress {
        params["_meta"] = json!({"progressToken": id});
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

/// The `result` of a JSON-RPC response, or why there is none (a JSON-RPC error or a tool
/// result with `isError`).
fn tool_result(response: Value) -> anyhow::Result<Value> {
    if let Some(error) = response.get("error") {
        bail!("JSON-RPC error: {error}");
    }
    let result = response
        .get("result")
        .cloned()
        .ok_or_else(|| anyhow!("a response without result: {response}"))?;
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        bail!("tool error: {}", result["content"]);
    }
    Ok(result)
}

/// Checks a `chat` result carries the fake upstream's answer.
pub fn check_chat(result: &Value) -> anyhow::Result<()> {
    match result["structuredContent"]["content"].as_str() {
        Some(ANSWER) => Ok(()),
        _ => bail!("unexpected chat result: {result}"),
    }
}

/// One MCP session over Streamable HTTP.
pub struct HttpSession {
    client: reqwest::Client,
    url: String,
    session_id: String,
    next_id: AtomicU64,
}

impl HttpSession {
    /// `initialize` + `notifications/initialized` against `url` (`http://…/mcp`).
    pub async fn open(client: &reqwest::Client, url: &str) -> anyhow::Result<Self> {
        let response = client
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize_request(0))
            .send()
            .await
            .context("initialize")?;
        let session_id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| {
                anyhow!(
                    "initialize answered {} without a session id",
                    response.status()
                )
            })?;
        let session = Self {
            client: client.clone(),
            url: url.to_owned(),
            session_id,
            next_id: AtomicU64::new(1),
        };
        session.read_response(response, 0).await?;
        let ack = session.post(&initialized_notification()).await?;
        if !ack.status().is_success() {
            bail!("notifications/initialized answered {}", ack.status());
        }
        Ok(session)
    }

    async fn post(&self, body: &Value) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.session_id)
            .header("mcp-protocol-version", PROTOCOL)
            .json(body)
            .send()
            .await?)
    }

    /// Reads the JSON-RPC response with `id` from a POST's body (SSE or JSON), and counts the
    /// `notifications/progress` messages before it.
    async fn read_response(
        &self,
        response: reqwest::Response,
        id: u64,
    ) -> anyhow::Result<(Value, usize)> {
        let status = response.status();
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        if !is_sse {
            return Ok((serde_json::from_slice(&body)?, 0));
        }
        let text = std::str::from_utf8(&body)?;
        let mut progress = 0;
        for line in text.lines() {
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let data = data.trim_start();
            if data.is_empty() {
                continue;
            }
            let message: Value = serde_json::from_str(data)?;
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                return Ok((message, progress));
            }
            if message.get("method").and_then(Value::as_str) == Some("notifications/progress") {
                progress += 1;
            }
        }
        bail!("the SSE body had no response with id {id}: {text}")
    }

    /// `tools/call`; the result, or an error for a JSON-RPC error or `isError`.
    pub async fn call_tool(&self, tool: &str, arguments: &Value) -> anyhow::Result<Value> {
        Ok(self.call_tool_with(tool, arguments, false).await?.0)
    }

    /// `tools/call`, with a progress token when `progress` (a streamed call); the result and
    /// how many progress notifications came before it.
    pub async fn call_tool_with(
        &self,
        tool: &str,
        arguments: &Value,
        progress: bool,
    ) -> anyhow::Result<(Value, usize)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = tool_call_request(id, tool, arguments, progress);
        let (response, notifications) = self.read_response(self.post(&request).await?, id).await?;
        Ok((tool_result(response)?, notifications))
    }
}

/// One `llm-router serve` child spoken to over stdio.
pub struct StdioSession {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
    line: String,
}

impl StdioSession {
    /// Spawns the server (stderr is discarded) and returns it before any request.
    pub fn spawn(exe: &str, envs: &[(&str, String)]) -> anyhow::Result<Self> {
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        // Only what is given: a developer's own AISA_API_KEY or RUST_LOG must not leak in.
        cmd.env_clear();
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().with_context(|| format!("cannot start {exe}"))?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            next_id: 1,
            line: String::new(),
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(message)?;
        line.push(b'\n');
        self.stdin.write_all(&line).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Reads lines until the response with `id` (notifications are skipped).
    async fn receive(&mut self, id: u64) -> anyhow::Result<Value> {
        loop {
            self.line.clear();
            if self.stdout.read_line(&mut self.line).await? == 0 {
                bail!("the server closed stdout");
            }
            let message: Value = serde_json::from_str(self.line.trim_end())?;
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                return Ok(message);
            }
        }
    }

    /// Sends `initialize` and waits for its response (the end of a cold start).
    pub async fn initialize(&mut self) -> anyhow::Result<()> {
        self.send(&initialize_request(0)).await?;
        let response = self.receive(0).await?;
        if response.get("result").is_none() {
            bail!("initialize failed: {response}");
        }
        Ok(())
    }

    /// Sends `notifications/initialized`, after which tools can be called.
    pub async fn initialized(&mut self) -> anyhow::Result<()> {
        self.send(&initialized_notification()).await
    }

    /// `tools/call`; the result, or an error for a JSON-RPC error or `isError`.
    pub async fn call_tool(&mut self, tool: &str, arguments: &Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&tool_call_request(id, tool, arguments, false))
            .await?;
        tool_result(self.receive(id).await?)
    }
}
