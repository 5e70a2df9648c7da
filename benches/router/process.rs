//! Child processes under test: `llm-router serve --http 127.0.0.1:0` (its address read from
//! the `listening on http://ADDR` log line), and memory readings from `/proc/<pid>/status`.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};

/// How long the server may take to log its address.
const START_LIMIT: Duration = Duration::from_secs(30);

/// A running `llm-router serve --http`; killed when dropped.
pub struct HttpServer {
    child: Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub mcp_url: String,
}

impl HttpServer {
    /// Starts the server with `envs` and waits for its address. Its stderr (the logs, at the
    /// default level) is read and discarded by a thread, as a terminal or journal would.
    pub fn start(exe: &str, envs: &[(&str, String)]) -> anyhow::Result<Self> {
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--http", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // Only what is given: a developer's own AISA_API_KEY or RUST_LOG must not leak in.
        cmd.env_clear();
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().with_context(|| format!("cannot start {exe}"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("no stderr pipe"))?;
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            let mut tx = Some(tx);
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(sender) = &tx
                    && let Some(rest) = line.split("listening on http://").nth(1)
                {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let _ = sender.send(addr.to_owned());
                    tx = None;
                }
            }
        });
        let addr = match rx.recv_timeout(START_LIMIT) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                bail!("llm-router serve --http did not log its address (exit: {status:?})");
            }
        };
        Ok(Self {
            child,
            mcp_url: format!("http://{addr}/mcp"),
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`: resident now, in KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the most ever resident, in KiB.
    pub peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of `pid` (Linux only).
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status (Linux only)"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("/proc/{pid}/status has no {name}"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// CPU time (user + system, every thread) a process has used, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat (Linux only)"))?;
    // Fields after the command name (which may hold spaces, inside parentheses): state is
    // field 3, utime 14, stime 15, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("/proc/{pid}/stat is malformed"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("/proc/{pid}/stat has no field {}", i + 3))
    };
    let ticks = tick(14 - 3)? + tick(15 - 3)?;
    Ok(Duration::from_millis(ticks * 10))
}
