//! A raw JSON-RPC client for `llm-router serve` over stdio, spoken to line by line, so each
//! test decides whether a request carries a progress token (rmcp's client always sends one)
//! and sees the messages in the exact order, and at the moments, the server wrote them.
//! Shared by the streaming tests and the provider tests, which start the server each their
//! own way and hand over the configured command.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::fake_upstream::FakeUpstream;
use crate::http::DEADLINE;

/// `llm-router serve` over stdio, initialized and ready for requests.
pub(crate) struct Raw {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    /// Every line the server wrote to stdout, parsed, with the moment it was read.
    lines: mpsc::UnboundedReceiver<(Instant, Value)>,
    log: Arc<Mutex<String>>,
    /// Copies stderr into `log`; ends when the process closes stderr.
    reader: tokio::task::JoinHandle<()>,
    next_id: u64,
    /// Every `tools/call` result so far, for leak checks.
    results: Vec<Value>,
    _home: tempfile::TempDir,
}

/// One `tools/call`: what came before its response, and the response.
pub(crate) struct Exchange {
    /// `notifications/progress` params, with arrival times, in order.
    pub(crate) progress: Vec<(Instant, Value)>,
    /// The call's `result`.
    pub(crate) result: Value,
    /// When the result arrived.
    pub(crate) answered_at: Instant,
}

impl Exchange {
    /// The structured result of a call that must have succeeded.
    pub(crate) fn structured(&self) -> &Value {
        assert_ne!(
            self.result["isError"], true,
            "tool failed: {:#}",
            self.result
        );
        &self.result["structuredContent"]
    }

    /// The text of a call that must have failed.
    pub(crate) fn error_text(&self) -> String {
        assert_eq!(
            self.result["isError"], true,
            "expected an error: {:#}",
            self.result
        );
        self.result["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The progress messages that carry text, concatenated.
    pub(crate) fn streamed_text(&self) -> String {
        self.progress
            .iter()
            .filter_map(|(_, p)| p["message"].as_str())
            .collect()
    }

    /// Each progress notification's arrival time and message (if it had one).
    pub(crate) fn messages(&self) -> Vec<(Instant, Option<String>)> {
        self.progress
            .iter()
            .map(|(t, p)| (*t, p["message"].as_str().map(str::to_owned)))
            .collect()
    }
}

impl Raw {
    /// `llm-router serve` pointed at `fake` with `envs` (see [`crate::http::serve_command`]).
    pub(crate) async fn serve(fake: &FakeUpstream, envs: &[(&str, &str)]) -> Raw {
        let (cmd, home) = crate::http::serve_command(fake, &[], envs);
        Raw::start(cmd, home).await
    }

    /// Spawns `cmd` (an already-configured `llm-router serve`; its stdio is piped here),
    /// keeping `home` alive as long as the server, and initializes the session.
    pub(crate) async fn start(mut cmd: tokio::process::Command, home: tempfile::TempDir) -> Raw {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn llm-router serve");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();

        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                if tx.send((Instant::now(), v)).is_err() {
                    break;
                }
            }
        });
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        let mut raw = Raw {
            child,
            stdin,
            lines,
            log,
            reader,
            next_id: 1,
            results: Vec::new(),
            _home: home,
        };
        raw.send(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw-stdio-test", "version": "0"}
            }}),
        )
        .await;
        let (_, init) = raw.next().await;
        assert_eq!(init["id"], 0, "{init:#}");
        raw.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        raw
    }

    /// Writes one message.
    pub(crate) async fn send(&mut self, msg: Value) {
        let mut line = serde_json::to_vec(&msg).unwrap();
        line.push(b'\n');
        self.stdin.write_all(&line).await.expect("write to server");
        self.stdin.flush().await.expect("flush to server");
    }

    /// The next message the server wrote, with the moment it was read.
    pub(crate) async fn next(&mut self) -> (Instant, Value) {
        match tokio::time::timeout(DEADLINE, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!("server closed stdout\n--- stderr ---\n{}", self.log()),
            Err(_) => panic!(
                "no message within {DEADLINE:?}\n--- stderr ---\n{}",
                self.log()
            ),
        }
    }

    /// Sends a `tools/call` (with `_meta.progressToken` when `token` is set); returns its id.
    pub(crate) async fn start_call(&mut self, tool: &str, args: Value, token: Option<&str>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut params = json!({"name": tool, "arguments": args});
        if let Some(token) = token {
            params["_meta"] = json!({"progressToken": token});
        }
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}))
            .await;
        id
    }

    /// Reads until the response to `id`, collecting the progress notifications before it.
    pub(crate) async fn finish_call(&mut self, id: u64) -> Exchange {
        let mut progress = Vec::new();
        loop {
            let (at, msg) = self.next().await;
            if msg["method"] == "notifications/progress" {
                progress.push((at, msg["params"].clone()));
            } else if msg["id"] == id {
                assert!(msg.get("error").is_none(), "protocol error: {msg:#}");
                self.results.push(msg["result"].clone());
                return Exchange {
                    progress,
                    result: msg["result"].clone(),
                    answered_at: at,
                };
            }
        }
    }

    /// A `tools/call` (streamed when `token` is set): its progress and result.
    pub(crate) async fn call(&mut self, tool: &str, args: Value, token: Option<&str>) -> Exchange {
        let id = self.start_call(tool, args, token).await;
        self.finish_call(id).await
    }

    /// Round-trips a ping; returns every message that came before its answer (so anything
    /// the server still had to say about earlier requests).
    pub(crate) async fn drain(&mut self) -> Vec<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "ping"}))
            .await;
        let mut before = Vec::new();
        loop {
            let (_, msg) = self.next().await;
            if msg["id"] == id && msg.get("method").is_none() {
                return before;
            }
            before.push(msg);
        }
    }

    /// The server's stderr so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Every `tools/call` result so far.
    pub(crate) fn results(&self) -> &[Value] {
        &self.results
    }

    /// Waits until the log contains `needle` (or panics after the deadline).
    pub(crate) async fn wait_for_log(&self, needle: &str) {
        let found = tokio::time::timeout(DEADLINE, async {
            while !self.log().contains(needle) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(found.is_ok(), "{needle:?} never logged:\n{}", self.log());
    }

    /// Closes stdin (the server's cue to shut down), waits for it to exit and returns its
    /// whole log.
    pub(crate) async fn finish(self) -> String {
        let Raw {
            mut child,
            stdin,
            log,
            reader,
            ..
        } = self;
        drop(stdin);
        if tokio::time::timeout(DEADLINE, child.wait()).await.is_err() {
            let _ = child.start_kill();
        }
        let _ = tokio::time::timeout(DEADLINE, reader).await;
        log.lock().unwrap().clone()
    }
}
