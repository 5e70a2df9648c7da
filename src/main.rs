//! The `llm-router` command: `serve` runs the MCP server over stdio (what Claude Desktop and
//! OpenClaw spawn); `models` prints the catalog. `main` only sets up logging and maps errors
//! to exit codes; `run` does the work.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use llm_router::App;
use llm_router::config::RawConfig;
use tracing_subscriber::EnvFilter;

/// An MCP tool server that lets AI agents call 70+ LLMs through the AIsa gateway, with
/// honest usage, cost and latency on every answer.
#[derive(Parser)]
#[command(name = "llm-router", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over stdio (for Claude Desktop, OpenClaw and other MCP clients).
    ///
    /// Environment: AISA_API_KEY (the gateway key), AISA_BASE_URL (default
    /// https://api.aisa.one/v1; any OpenAI-compatible URL), LLM_ROUTER_TIMEOUT_SECS (default
    /// 120), LLM_ROUTER_ALLOWED_DIRS (dirs vision may read images from), RUST_LOG (log level;
    /// logs go to stderr).
    Serve {
        /// A directory from which the vision tool may read local images (repeatable).
        #[arg(long = "allow-dir", value_name = "DIR")]
        allow_dir: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llm-router: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Cli::parse())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llm-router: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { allow_dir } => {
            let mut raw = RawConfig::from_env();
            raw.allowed_dirs = allow_dir;
            let app = App::new(raw.check()?)?;
            llm_router::server::stdio::serve(app).await
        }
    }
}

/// Logs go to stderr (stdout is the MCP channel), without colour codes, at `RUST_LOG` or
/// `info`.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
