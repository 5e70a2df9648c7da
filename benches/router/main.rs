//! The llm-router performance benchmark: `cargo bench --bench router [-- --quick]
//! [--memory-only] [--peer litellm] [--json PATH]`.
//!
//! It builds the release binary (cargo does, for a bench), starts a fast local fake upstream
//! ([`fake_upstream`]) and measures, against the real `llm-router` executable:
//! - overhead: `tools/call chat` through llm-router minus the same request sent straight to
//!   the fake, p50/p90/p99, at concurrency 1, 16 and 64 over Streamable HTTP and at 1 over stdio;
//! - throughput: calls per second over HTTP at saturation, and the error count;
//! - fan-out: `compare_models` with 2, 4 and 8 models whose upstream takes 200 ms;
//! - cold start: process start to the `initialize` response over stdio;
//! - memory: idle RSS, and peak RSS with 1,000 calls held open upstream at once, streamed
//!   (a progress token on each call) and not;
//! - with `--peer litellm`, the LiteLLM proxy's overhead on the same fake, at the same time.
//!
//! It prints markdown tables (measures beside their targets) on stdout, progress on stderr,
//! and writes every raw sample to a JSON file (`target/bench-router.json` by default).
//! `--quick` runs every measure briefly, to prove the benchmark works (CI); its numbers are
//! not meant to be read. `--memory-only` runs only the memory measures (to profile them).
//! The load generator is a raw JSON-RPC-over-HTTP client on `reqwest`.
//!
//! Environment: `LLM_ROUTER_BENCH_EXE` measures another build of the binary (one with symbols,
//! for `perf`); `LLM_ROUTER_BENCH_RUST_LOG` sets the server's `RUST_LOG` (default `info`).

mod fake_upstream;
mod load;
mod mcp;
mod peer;
mod process;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};

use crate::fake_upstream::FakeUpstream;
use crate::process::HttpServer;
use crate::report::{Machine, Results};
use crate::scenarios::Plan;

/// The executable under test, built by cargo in the bench's profile (release).
const EXE: &str = env!("CARGO_BIN_EXE_llm-router");

/// The executable to measure: `$LLM_ROUTER_BENCH_EXE` (another build, e.g. one with symbols
/// for a profiler), else the one cargo built.
fn exe() -> String {
    std::env::var("LLM_ROUTER_BENCH_EXE").unwrap_or_else(|_| EXE.to_owned())
}

/// Checked command-line arguments.
struct Args {
    quick: bool,
    /// Only the memory measures (for profiling them).
    memory_only: bool,
    peer: Option<String>,
    json: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        quick: false,
        memory_only: false,
        peer: None,
        json: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/bench-router.json"
        )),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => args.quick = true,
            "--memory-only" => args.memory_only = true,
            // cargo passes --bench to every bench binary.
            "--bench" => {}
            "--peer" => match it.next().as_deref() {
                Some("litellm") => args.peer = Some("litellm".to_owned()),
                other => bail!("--peer: the only peer is 'litellm', got {other:?}"),
            },
            "--json" => match it.next() {
                Some(p) => args.json = PathBuf::from(p),
                None => bail!("--json needs a file path"),
            },
            other => bail!(
                "unknown argument '{other}'; usage: cargo bench --bench router -- \
                 [--quick] [--memory-only] [--peer litellm] [--json PATH]"
            ),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let outcome = parse_args().and_then(|args| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(run(args))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench router: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::new(args.quick);
    let exe = exe();
    let exe = exe.as_str();
    let machine = Machine::probe();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    eprintln!(
        "bench router{}: {exe} on {} cores ({})",
        if plan.quick { " (quick)" } else { "" },
        machine.cores,
        machine.cpu
    );
    let fake = FakeUpstream::start()?;
    let client = reqwest::Client::builder().pool_idle_timeout(None).build()?;
    if args.memory_only {
        let held = held_calls(&plan, exe, &client, &fake).await?;
        if let Some(dir) = args.json.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&args.json, serde_json::to_vec(&held)?)
            .with_context(|| format!("cannot write {}", args.json.display()))?;
        println!("{}", report::held_markdown(&held));
        return report::check_held(&held, plan.quick);
    }

    eprintln!("cold start ({} runs)", plan.cold_start_runs);
    let cold_start = scenarios::cold_start(&plan, exe, &fake).await?;

    let server = HttpServer::start(exe, &scenarios::router_env(&fake))?;
    let http_idle_rss_kib = process::memory(server.pid())?.rss_kib;
    eprintln!("overhead over Streamable HTTP");
    let http = scenarios::http_overhead(&plan, &client, &fake, &server).await?;
    eprintln!("overhead over stdio");
    let stdio = scenarios::stdio_overhead(&plan, exe, &fake).await?;
    eprintln!("throughput");
    let throughput = scenarios::throughput(&plan, &client, &server).await?;
    eprintln!("fan-out");
    let fanout = scenarios::fanout(&plan, &client, &server).await?;
    drop(server);

    let held = held_calls(&plan, exe, &client, &fake).await?;

    let (peer, peer_error) = match args.peer.as_deref() {
        Some("litellm") => {
            eprintln!("peer: LiteLLM proxy");
            match peer::litellm(&plan, &client, &fake).await {
                Ok(p) => (Some(p), None),
                Err(e) => {
                    eprintln!("peer: LiteLLM not measured: {e:#}");
                    (None, Some(format!("{e:#}")))
                }
            }
        }
        _ => (None, None),
    };
    if fake.chat_requests() == 0 {
        bail!("the fake upstream received no chat request: nothing was measured");
    }

    let results = Results {
        machine,
        plan,
        started_unix,
        cold_start,
        http_idle_rss_kib,
        http,
        stdio,
        throughput,
        fanout,
        held,
        peer,
        peer_error,
    };
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.json, serde_json::to_vec(&results)?)
        .with_context(|| format!("cannot write {}", args.json.display()))?;
    let m = &results.machine;
    println!(
        "Machine: {} cores, {}, {:.0} GiB RAM, {}, {}; load average at start {}; \
         load generator and fake upstream on the same machine.\n",
        m.cores, m.cpu, m.memory_gib, m.kernel, m.rustc, m.load_average
    );
    if results.plan.quick {
        println!(
            "Quick mode: every measure ran briefly, to prove the benchmark works; \
             these numbers are not results.\n"
        );
    }
    println!("{}", results.markdown());
    println!("Raw results: {}", args.json.display());
    results.check()
}

/// Every memory variant of the plan, each on a fresh server.
async fn held_calls(
    plan: &Plan,
    exe: &str,
    client: &reqwest::Client,
    fake: &FakeUpstream,
) -> anyhow::Result<Vec<scenarios::Held>> {
    let mut held = Vec::new();
    for &variant in &plan.held {
        eprintln!(
            "memory: {} {} calls held on {} sessions",
            plan.held_calls,
            if variant.streamed {
                "streamed"
            } else {
                "non-streamed"
            },
            variant.sessions
        );
        held.push(scenarios::held_calls(exe, client, fake, plan.held_calls, variant).await?);
    }
    Ok(held)
}
