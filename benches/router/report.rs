//! The results of one run: the JSON file (raw samples included) and the markdown tables
//! printed at the end, each measure beside its target.

use serde::Serialize;

use crate::load::{Run, Summary};
use crate::peer::Peer;
use crate::scenarios::{ColdStart, Fanout, Held, OverheadPoint, Plan};

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Results {
    pub machine: Machine,
    pub plan: Plan,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    pub cold_start: ColdStart,
    /// `VmRSS` of `serve --http` right after it logged its address, in KiB.
    pub http_idle_rss_kib: u64,
    pub http: Vec<OverheadPoint>,
    pub stdio: Run,
    pub throughput: Run,
    pub fanout: Vec<Fanout>,
    pub held: Vec<Held>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<Peer>,
    /// Why `--peer` gave no numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_error: Option<String>,
}

/// The machine the numbers come from.
#[derive(Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub rustc: String,
    /// `/proc/loadavg` (1, 5, 15 min) when the run started: other work on the machine.
    pub load_average: String,
}

impl Machine {
    pub fn probe() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let memory_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let rustc = std::process::Command::new("rustc")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Self {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            memory_gib: memory_kib / (1024.0 * 1024.0),
            kernel: format!("Linux {}", read("/proc/sys/kernel/osrelease").trim()),
            rustc,
            load_average: read("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1e3)
}

fn triple(s: &Summary) -> String {
    format!("{} / {} / {}", ms(s.p50), ms(s.p90), ms(s.p99))
}

/// Router percentile minus direct percentile, for p50, p90, p99 (µs).
fn overhead(p: &OverheadPoint) -> [f64; 3] {
    let (d, r) = (&p.direct.summary, &p.router.summary);
    [r.p50 - d.p50, r.p90 - d.p90, r.p99 - d.p99]
}

fn overhead_text(o: [f64; 3]) -> String {
    format!("{} / {} / {} ms", ms(o[0]), ms(o[1]), ms(o[2]))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

impl Results {
    /// Fails when a measure has no successful call at all, or (in quick mode, which CI runs)
    /// when any call failed: then the numbers describe a broken server, not a slow one.
    pub fn check(&self) -> anyhow::Result<()> {
        let runs = self
            .http
            .iter()
            .map(|p| ("HTTP", p.concurrency, &p.router))
            .chain([
                ("stdio", 1, &self.stdio),
                ("throughput", self.throughput.concurrency, &self.throughput),
            ]);
        for (what, c, run) in runs {
            if run.summary.count == 0 {
                anyhow::bail!(
                    "{what} at concurrency {c}: no call succeeded; first error: {}",
                    run.first_error.as_deref().unwrap_or("none")
                );
            }
            if self.plan.quick && run.errors > 0 {
                anyhow::bail!(
                    "{what} at concurrency {c}: {} calls failed; first error: {}",
                    run.errors,
                    run.first_error.as_deref().unwrap_or("none")
                );
            }
        }
        check_held(&self.held, self.plan.quick)
    }

    /// The markdown tables: measures against targets, then the latency detail (and the peer).
    pub fn markdown(&self) -> String {
        let mut t = String::new();
        t.push_str("| measure | measured | target | |\n|---|---|---|---|\n");
        let mut row = |m: String, v: String, target: &str, ok: Option<bool>| {
            let verdict = ok.map_or("", verdict);
            t.push_str(&format!("| {m} | {v} | {target} | {verdict} |\n"));
        };
        for p in &self.http {
            let o = overhead(p);
            let (target, ok) = if p.concurrency == 64 {
                (
                    "p50 ≤ 0.3 ms, p99 ≤ 1 ms",
                    Some(o[0] <= 300.0 && o[2] <= 1000.0),
                )
            } else {
                ("", None)
            };
            row(
                format!(
                    "overhead p50 / p90 / p99, HTTP, concurrency {}",
                    p.concurrency
                ),
                overhead_text(o),
                target,
                ok,
            );
        }
        if let Some(direct) = self.http.iter().find(|p| p.concurrency == 1) {
            let d = &direct.direct.summary;
            let s = &self.stdio.summary;
            row(
                "overhead p50 / p90 / p99, stdio, concurrency 1".to_owned(),
                overhead_text([s.p50 - d.p50, s.p90 - d.p90, s.p99 - d.p99]),
                "",
                None,
            );
        }
        let errors: usize = self.throughput.errors
            + self.stdio.errors
            + self.http.iter().map(|p| p.router.errors).sum::<usize>();
        row(
            format!(
                "throughput, HTTP, concurrency {} ({:.0} s)",
                self.throughput.concurrency, self.throughput.seconds
            ),
            format!(
                "{:.0} calls/s; errors: {errors} of all llm-router calls",
                self.throughput.calls_per_sec
            ),
            "≥ 5,000 calls/s",
            Some(self.throughput.calls_per_sec >= 5000.0 && errors == 0),
        );
        for f in &self.fanout {
            row(
                format!(
                    "fan-out, compare_models N = {}, median wall ÷ 200 ms",
                    f.models
                ),
                format!("{:.3}", f.ratio),
                if f.models == 8 { "≤ 1.05" } else { "" },
                (f.models == 8).then_some(f.ratio <= 1.05),
            );
        }
        let c = &self.cold_start;
        row(
            format!(
                "cold start, stdio: spawn → initialize response (median of {})",
                c.runs_ms.len()
            ),
            format!("{:.1} ms", c.median_ms),
            "≤ 20 ms",
            Some(c.median_ms <= 20.0),
        );
        row(
            "idle RSS, `serve --http` just started".to_owned(),
            format!("{:.1} MiB", mib(self.http_idle_rss_kib)),
            "≤ 15 MB",
            Some(mib(self.http_idle_rss_kib) <= 15.0),
        );
        row(
            "idle RSS, stdio after initialize".to_owned(),
            format!("{:.1} MiB", mib(c.idle_rss_kib)),
            "≤ 15 MB",
            Some(mib(c.idle_rss_kib) <= 15.0),
        );
        for (m, v, target, ok) in held_rows(&self.held) {
            row(m, v, target, ok);
        }
        if let Some(peer) = &self.peer {
            for (p, r) in peer.points.iter().zip(&self.http) {
                let (po, ro) = (overhead(p), overhead(r));
                let cpu = match (
                    p.router.server_cpu_us_per_call,
                    r.router.server_cpu_us_per_call,
                ) {
                    (Some(a), Some(b)) if b > 0.0 => format!("; CPU per call {:.1}×", a / b),
                    _ => String::new(),
                };
                row(
                    format!(
                        "peer: {} overhead ÷ llm-router's, concurrency {} (p50 / p99)",
                        peer.name, p.concurrency
                    ),
                    format!("{:.1}× / {:.1}×{cpu}", po[0] / ro[0], po[2] / ro[2]),
                    "",
                    None,
                );
            }
            row(
                format!("peer: {} idle RSS", peer.name),
                format!("{:.1} MiB", mib(peer.idle_rss_kib)),
                "",
                None,
            );
        } else if let Some(e) = &self.peer_error {
            row(
                "peer".to_owned(),
                // The first line says what failed; the last usually says why.
                format!(
                    "not measured: {} … {} (full text in the JSON file)",
                    e.lines().next().unwrap_or_default(),
                    e.lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or_default()
                ),
                "",
                None,
            );
        }
        t.push('\n');
        t.push_str(&self.detail());
        t
    }

    /// Raw latency percentiles per path, in milliseconds.
    fn detail(&self) -> String {
        let mut t = String::from(
            "| path | concurrency | direct p50 / p90 / p99 ms | through it p50 / p90 / p99 ms | calls/s through it | its CPU µs per call | bench's CPU µs per call | errors |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for p in &self.http {
            t.push_str(&detail_row(
                "llm-router, Streamable HTTP",
                Some(&p.direct),
                &p.router,
            ));
        }
        t.push_str(&detail_row(
            "llm-router, Streamable HTTP (throughput run)",
            None,
            &self.throughput,
        ));
        let direct_c1 = self.http.iter().find(|p| p.concurrency == 1);
        t.push_str(&detail_row(
            "llm-router, stdio",
            direct_c1.map(|p| &p.direct),
            &self.stdio,
        ));
        if let Some(peer) = &self.peer {
            let name = format!("{} {}", peer.name, peer.version);
            for p in &peer.points {
                t.push_str(&detail_row(&name, Some(&p.direct), &p.router));
            }
        }
        t
    }
}

/// One row of the latency detail table.
fn detail_row(path: &str, direct: Option<&Run>, through: &Run) -> String {
    let us = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |us| format!("{us:.0}"));
    let cpu = us(through.server_cpu_us_per_call);
    let bench_cpu = us(through.bench_cpu_us_per_call);
    format!(
        "| {path} | {} | {} | {} | {:.0} | {cpu} | {bench_cpu} | {} |\n",
        through.concurrency,
        direct.map_or_else(|| "—".to_owned(), |d| triple(&d.summary)),
        triple(&through.summary),
        through.calls_per_sec,
        through.errors
    )
}

/// Fails when a held call failed in quick mode (CI), or when a streamed variant did not
/// stream (then its row would measure the wrong thing).
pub fn check_held(held: &[Held], quick: bool) -> anyhow::Result<()> {
    if let Some(h) = held.iter().find(|h| h.errors > 0 && quick) {
        anyhow::bail!(
            "held calls: {} failed; first error: {}",
            h.errors,
            h.first_error.as_deref().unwrap_or("none")
        );
    }
    for h in held.iter().filter(|h| h.progress_token) {
        if h.streamed_upstream < h.calls - h.errors || h.progress_notifications == 0 {
            anyhow::bail!(
                "held streamed calls: {} of {} went upstream streamed and {} progress \
                 notifications came back",
                h.streamed_upstream,
                h.calls,
                h.progress_notifications
            );
        }
    }
    Ok(())
}

/// The memory rows: measure, measured, target, verdict.
fn held_rows(held: &[Held]) -> Vec<(String, String, &'static str, Option<bool>)> {
    held.iter()
        .map(|h| {
            let kind = if h.progress_token {
                "streamed (progress token)"
            } else {
                "non-streamed (no progress token)"
            };
            (
                format!(
                    "peak RSS, {} concurrent {kind} calls held open upstream, {} sessions",
                    h.calls, h.sessions
                ),
                format!(
                    "{:.1} MiB ({} held at once, {} errors)",
                    mib(h.peak_rss_kib),
                    h.held_at_once,
                    h.errors
                ),
                if h.progress_token {
                    "1,000 streams ≤ 150 MB"
                } else {
                    ""
                },
                (h.calls >= 1000 && h.progress_token).then_some(mib(h.peak_rss_kib) <= 150.0),
            )
        })
        .collect()
}

/// The memory table alone (`--memory-only`), with the RSS before and while held.
pub fn held_markdown(held: &[Held]) -> String {
    let mut t = String::from(
        "| measure | measured | idle RSS | RSS while held | target | |\n|---|---|---|---|---|---|\n",
    );
    for (h, (m, v, target, ok)) in held.iter().zip(held_rows(held)) {
        t.push_str(&format!(
            "| {m} | {v} | {:.1} MiB | {:.1} MiB | {target} | {} |\n",
            mib(h.idle_rss_kib),
            mib(h.rss_while_held_kib),
            ok.map_or("", verdict)
        ));
    }
    t
}
